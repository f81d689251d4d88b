"""Tests for the CSV and JSON exports: round trips, atomicity and mode."""

import datetime
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from strongroom.server.interchange.bundle import (
    ImportBundle,
    ImportedField,
    ImportedList,
    ImportedRecord,
)
from strongroom.server.interchange.readers import read_file
from strongroom.server.interchange.writers import write_csv, write_json

Writer = Callable[[ImportBundle, Path], None]


def sample_bundle() -> ImportBundle:
    """Records with every field, awkward text and repeated field names."""
    full = ImportedRecord(
        title='Mail, "main"',
        username="ünïcødé",
        password="=cmd|' /C calc'!A0",
        url="https://mail.example.com/?a=1&b=2",
        description="the mail server",
        notes='line 1\nline 2\r\nline 3 with "quotes", commas',
        domain="CORP",
        host_name="mail01",
        otp_secret="otpauth://totp/x?secret=ABC",
        expires_at=datetime.date(2030, 1, 31),
        fields=[
            ImportedField("PIN", "0042", True),
            ImportedField("Password", "a field, not the password"),
            ImportedField("Alias", "one"),
            ImportedField("Alias", "two"),
        ],
    )
    plain = ImportedRecord(title="Plain", fields=[ImportedField("Alias", "solo")])
    return ImportBundle(
        source_format="kdbx",
        lists=[
            ImportedList(("Infra", "Mail"), "Servers", [full]),
            ImportedList((), "Top", [plain, ImportedRecord(title="  padded  title")]),
        ],
    )


def comparable(bundle: ImportBundle) -> list[tuple[object, ...]]:
    """Lists and records as plain tuples, field order ignored."""
    rows: list[tuple[object, ...]] = []
    for imported in bundle.lists:
        for r in imported.records:
            rows.append(
                (
                    imported.folder_path,
                    imported.name,
                    r.title.strip(),
                    r.username,
                    r.password,
                    r.url,
                    r.description,
                    r.notes,
                    r.domain,
                    r.host_name,
                    r.otp_secret,
                    r.expires_at,
                    sorted((f.name, f.value, f.secret) for f in r.fields),
                )
            )
    return rows


@pytest.mark.parametrize(
    ("writer", "name"), [(write_csv, "out.csv"), (write_json, "out.json")]
)
def test_export_round_trips(tmp_path: Path, writer: Writer, name: str) -> None:
    """What an export writes reads back with the same values."""
    bundle = sample_bundle()
    path = tmp_path / name
    writer(bundle, path)
    again = read_file(path)
    assert comparable(again) == comparable(bundle)


def test_json_round_trip_keeps_everything(tmp_path: Path) -> None:
    """The JSON export keeps field order and empty-valued fields too."""
    bundle = sample_bundle()
    bundle.lists[1].records[0].fields.append(ImportedField("Empty", ""))
    write_json(bundle, tmp_path / "x.json")
    again = read_file(tmp_path / "x.json")
    assert [r.fields for r in again.records()] == [r.fields for r in bundle.records()]


@pytest.mark.parametrize("writer", [write_csv, write_json])
def test_export_is_private_and_atomic(tmp_path: Path, writer: Writer) -> None:
    """The file is mode 0600, replaces an old one, and leaves no temp file."""
    path = tmp_path / "export"
    path.write_text("old contents")
    path.chmod(0o644)
    writer(sample_bundle(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "old contents" not in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_csv_header_layout(tmp_path: Path) -> None:
    """The CSV header has the fixed columns then field:/secret: columns."""
    write_csv(sample_bundle(), tmp_path / "x.csv")
    header = (tmp_path / "x.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == (
        "Folder,List,Title,Username,Password,URL,Description,Notes,Domain,"
        "Host Name,OTP,Expiry Date,secret:PIN,field:Password,field:Alias,field:Alias"
    )
