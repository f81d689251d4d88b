"""Tests for the Passwordstate import-layout reader."""

import datetime
from pathlib import Path

import pytest

from strongroom.server.interchange.bundle import ImportedField
from strongroom.server.interchange.detect import detect_format
from strongroom.server.interchange.errors import MalformedFile
from strongroom.server.interchange.formats.passwordstate import (
    is_passwordstate_header,
    read_passwordstate,
)
from strongroom.server.interchange.readers import read_file

DATA = Path(__file__).resolve().parents[1] / "data"
HEADER = (
    "PasswordListID,Title,UserName,Description,AccountType,Notes,URL,Password,"
    "ExpiryDate," + ",".join(f"GenericField{n}" for n in range(1, 11))
)


def write(tmp_path: Path, rows: list[str], name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_sample_file_is_detected_and_read() -> None:
    """The fixture file is detected as Passwordstate and every row imported."""
    path = DATA / "passwordstate-sample.csv"
    assert detect_format(path) == "passwordstate"
    bundle = read_file(path)
    assert bundle.source_format == "passwordstate"
    assert [(lst.folder_path, lst.name) for lst in bundle.lists] == [
        ((), "passwordstate-sample")
    ]
    assert bundle.record_count() == 3


def test_sample_file_field_values() -> None:
    """Quoted newlines, doubled quotes, Z dates and generic fields map across."""
    mail, backup, router = read_file(DATA / "passwordstate-sample.csv").records()
    assert mail.title == "Mail server"
    assert mail.username == "postmaster"
    assert mail.description == "/Root/Infra"
    assert mail.notes == "line one\r\nline two"
    assert mail.url == 'https://mail.example.com/?q="x"'
    assert mail.password == 'pa"ss,word'
    assert mail.expires_at == datetime.date(2020, 12, 31)
    assert mail.fields == [ImportedField("AccountType", "Linux")]
    assert backup.title == "svc_backup"
    assert backup.fields == [
        ImportedField("GenericField1", "rack 4"),
        ImportedField("GenericField10", "vlan 20"),
    ]
    assert router.expires_at is None
    assert ImportedField("Expiry", "31/12/2020") in router.fields


def test_sample_file_warnings() -> None:
    """The empty title and the locale date are both reported by row."""
    warnings = read_file(DATA / "passwordstate-sample.csv").warnings
    assert any(w.startswith("row 4: the expiry '31/12/2020'") for w in warnings)
    assert "row 3: no title, so it was imported as 'svc_backup'" in warnings


@pytest.mark.realdata
def test_real_header_is_recognised(realdata: Path) -> None:
    """The header row saved from the public converter is detected."""
    path = realdata / "passwordstate" / "passwordstate-import-header.csv"
    assert is_passwordstate_header(path.read_text().strip().split(","))
    assert detect_format(path) == "passwordstate"
    assert read_file(path).record_count() == 0


def test_several_list_ids_give_one_list_each(tmp_path: Path) -> None:
    """Rows naming different PasswordListIDs land in separate lists."""
    path = write(tmp_path, ["7,A,u,,,,,p", "9,B,u,,,,,p", "7,C,u,,,,,p"])
    bundle = read_passwordstate(path)
    assert [(lst.name, len(lst.records)) for lst in bundle.lists] == [
        ("export (list 7)", 2),
        ("export (list 9)", 1),
    ]


def test_short_rows_are_accepted(tmp_path: Path) -> None:
    """Rows with only the first columns (as the converter writes) are read."""
    bundle = read_file(write(tmp_path, ["3,Only title"]))
    assert next(bundle.records()).title == "Only title"


def test_password_list_name_column_places_rows(tmp_path: Path) -> None:
    """A PasswordList name column (Folder\\List) is used as the place."""
    path = tmp_path / "named.csv"
    path.write_text("PasswordList,Title,UserName,Password\nOps\\Servers,A,u,p\n")
    (imported,) = read_file(path).lists
    assert (imported.folder_path, imported.name) == (("Ops",), "Servers")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([",Title,u,,,,,p"], "row 2: the 'PasswordListID' column is empty"),
        (["1,A,u,,,,,p", "1,B,u,,,,,p,,,,,,,,,,,,,extra"], "row 3: 21 values"),
        (["1," + "x" * 256], "row 2: the title is 256 characters long"),
    ],
)
def test_bad_rows_are_refused(tmp_path: Path, rows: list[str], message: str) -> None:
    """A missing list id, an overlong row or title fails the whole import."""
    with pytest.raises(MalformedFile) as caught:
        read_file(write(tmp_path, rows))
    assert message in str(caught.value)


def test_plain_csv_is_not_passwordstate(tmp_path: Path) -> None:
    """Reading a generic CSV as Passwordstate says which format to use."""
    path = tmp_path / "plain.csv"
    path.write_text("title,password\nA,b\n")
    with pytest.raises(MalformedFile, match="--format csv"):
        read_file(path, format="passwordstate")
