"""`strongroom import` of the real sample files and `strongroom export` round trips."""

import dataclasses
import datetime
import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from strongroom.server.audit.models import AuditEvent
from strongroom.server.cli import common
from strongroom.server.core.config import Settings
from strongroom.server.core.instance import Instance, operator
from strongroom.server.interchange import service as interchange
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Record
from tests.conftest import realdata_dir
from tests.server.cli.conftest import Cli
from tests.server.support import row_counts


def _contents(instance: Instance, under: str) -> dict[str, dict[str, vault.RecordView]]:
    """Every list under the folder `under`, as {list path: {title: record view}}."""
    with instance.db.session() as session:
        out: dict[str, dict[str, vault.RecordView]] = {}
        for plist in interchange.lists_at(session, under):
            records = session.scalars(select(Record).where(Record.list_id == plist.id))
            out[vault.list_path(session, plist)] = {
                r.title: vault.open_record(session, instance.cipher, r) for r in records
            }
        return out


def test_import_real_files(
    cli: Cli, instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KDBX with a password (piped, then typed at a prompt), a KDBX with a key
    file, an encrypted Bitwarden export and a CSV import with their counts and
    field values."""
    data = realdata_dir()
    kdbx = cli(
        "import",
        str(data / "keepassxc" / "NewDatabase.kdbx"),
        "--into",
        "Imported/KP",
        "--password-stdin",
        input="a\n",
    )
    assert kdbx.exit_code == 0, kdbx.stderr
    assert "Imported 2 record(s) into 2 list(s)" in kdbx.stdout
    # KDBX 4 with an XML v2 key file (keepassxc/KeyFileProtected.kdbx works as
    # well but its Argon2 settings cost ~10 s to open).
    keyed = cli(
        "import",
        str(data / "pykeepass" / "test4_keyx.kdbx"),
        "--key-file",
        str(data / "pykeepass" / "test4_keyx.keyx"),
        "--into",
        "Imported/KF",
        "--password-stdin",
        input="password\n",
    )
    assert keyed.exit_code == 0, keyed.stderr
    bitwarden = cli(
        "import",
        str(data / "keepassxc" / "bitwarden_encrypted_export.json"),
        "--into",
        "Imported/BW",
        "--password-stdin",
        input="a\n",
    )
    assert bitwarden.exit_code == 0, bitwarden.stderr
    csv = cli(
        "import",
        str(data / "bitwarden-jslib" / "safariCsv__simplePasswordData.csv"),
        "--into",
        "Imported/CSV",
    )
    assert csv.exit_code == 0, csv.stderr
    # On a terminal, a file that needs a password asks for it.
    monkeypatch.setattr(common, "stdin_is_terminal", lambda: True)
    prompted = cli(
        "import",
        str(data / "keepassxc" / "NewDatabase.kdbx"),
        "--into",
        "Imported/Prompted",
        input="a\n",
    )
    assert prompted.exit_code == 0, prompted.stderr

    kp = _contents(instance, "Imported/KP")
    assert sorted(kp) == ["Imported/KP/Homebanking/Subgroup", "Imported/KP/NewDatabase"]
    sample = kp["Imported/KP/NewDatabase"]["Sample Entry"]
    assert (sample.username, sample.password) == ("User Name", "Password")
    assert sample.url == "http://www.somesite.com/"
    assert sample.otp_secret == "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
    assert {f.name: f.value for f in sample.fields}["TestAttribute1"] == "b"
    sub = kp["Imported/KP/Homebanking/Subgroup"]["Subgroup Entry"]
    assert (sub.password, sub.notes) == ("SecurePassword", "Important note")

    kf = _contents(instance, "Imported/KF")
    assert list(kf) == ["Imported/KF/test4_keyx"]
    keyed_entry = kf["Imported/KF/test4_keyx"]["Sample Entry"]
    assert (keyed_entry.username, keyed_entry.password) == ("User Name", "Password")
    assert keyed_entry.url == "https://keepass.info/"
    bw = _contents(instance, "Imported/BW")
    assert [sorted(recs) for recs in bw.values()] == [["KeePassXC"]]
    login = next(iter(bw.values()))["KeePassXC"]
    assert (login.username, login.password) == ("keepassxc", "TYsbQUyeD3qrav")
    assert login.url == "https://keepassxc.org"

    (csv_list,) = _contents(instance, "Imported/CSV").values()
    safari = csv_list["example.com (example_user)"]
    assert safari.password == "example_p@ssword"
    assert safari.notes == "Example note\nMore notes on new line"

    with instance.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "interchange.imported")
        ).all()
        record_events = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "record.created")
        ).all()
    assert [e.details["records"] for e in events] == [2, 1, 1, 1, 2]
    assert record_events == []


def test_malformed_files_write_nothing(
    cli: Cli, settings: Settings, tmp_path: Path
) -> None:
    """A damaged KDBX, a wrong password, a title over the limit and a URL the
    vault refuses on the last row: one error line each, no new row anywhere."""
    data = realdata_dir()
    too_long = tmp_path / "long-title.csv"
    too_long.write_text("Title,Username,Password\nok,u,p\n" + "t" * 256 + ",u,p\n")
    bad_url = tmp_path / "bad-url.csv"
    bad_url.write_text(
        "Title,Username,Password,URL\nfine,u,p,https://a.example\n"
        "also fine,u,p,https://b.example\nlast,u,p,https://" + "x" * 2100 + "\n"
    )
    cases = [
        (
            [str(data / "keepassxc" / "BrokenHeaderHash.kdbx"), "--password-stdin"],
            "\n",
            "integrity check",
        ),
        (
            [str(data / "keepassxc" / "NewDatabase.kdbx"), "--password-stdin"],
            "wrong\n",
            "password",
        ),
        ([str(too_long)], None, "row 3: the title is 256 characters"),
        ([str(bad_url)], None, "row 4: the url has"),
    ]
    url = settings.resolved_database_url
    before = row_counts(url)
    for args, stdin, words in cases:
        result = cli("import", *args, "--into", "Broken", input=stdin)
        assert result.exit_code == 1, (args, result.stdout)
        assert words in result.stderr, (args, result.stderr)
        assert row_counts(url) == before, args


def test_export_then_reimport_keeps_every_value(
    cli: Cli, instance: Instance, tmp_path: Path
) -> None:
    """CSV and JSON exports are 0600, warn on stderr, and re-import into another
    folder with the same field values."""
    actor = operator()
    with instance.db.session() as session:
        plist = vault.create_list(session, actor, "Ops/Servers", create_folders=True)
        other = vault.create_list(session, actor, "Ops/Deep/Keys", create_folders=True)
        vault.create_record(
            session,
            actor,
            instance.cipher,
            plist,
            vault.RecordInput(
                title='db, "primary"',
                username="root",
                password="=SUM(1;2) pässwörd",
                url="https://db.example.org",
                description="main database",
                notes="line one\r\nline two, with comma",
                domain="CORP",
                host_name="db1.corp",
                otp_secret="JBSWY3DPEHPK3PXP",
                expires_at=datetime.date(2030, 1, 31),
                fields=[
                    vault.GenericField("Port", "5432"),
                    vault.GenericField("PIN", "0042", secret=True),
                ],
            ),
        )
        vault.create_record(
            session,
            actor,
            instance.cipher,
            other,
            vault.RecordInput(title="ssh", password="k3y"),
        )

    original = _contents(instance, "Ops")
    for fmt in ("csv", "json"):
        target = tmp_path / f"export.{fmt}"
        result = cli("export", "Ops", "--to", str(target), "--format", fmt)
        assert result.exit_code == 0, result.stderr
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert result.stderr.startswith("warning: ") and "in the clear" in result.stderr
        imported = cli("import", str(target), "--into", f"From-{fmt}")
        assert imported.exit_code == 0, imported.stderr

        again = _contents(instance, f"From-{fmt}")
        assert sorted(again) == [f"From-{fmt}/{path}" for path in sorted(original)]
        for path, records in original.items():
            for title, view in records.items():
                copy = again[f"From-{fmt}/{path}"][title]
                assert _values(copy) == _values(view), (fmt, title)


def _values(view: vault.RecordView) -> dict[str, object]:
    values = dataclasses.asdict(view)
    for key in ("id", "list_id", "list_path", "version", "updated_at"):
        values.pop(key)
    return values


def test_export_refusals_and_audit(
    cli: Cli, instance: Instance, tmp_path: Path
) -> None:
    """An existing file needs --force; PATH and --all exclude each other; an
    export is audited once with its counts."""
    cli("list", "add", "A")
    cli("record", "add", "A", "--title", "r", "--password-stdin", input="p\n")
    target = tmp_path / "out.json"
    target.write_text("keep me")
    refused = cli("export", "A", "--to", str(target))
    assert refused.exit_code == 2 and target.read_text() == "keep me"
    assert cli("export", "--to", str(tmp_path / "x.csv")).exit_code == 2
    assert cli("export", "A", "--all", "--to", str(tmp_path / "x.csv")).exit_code == 2
    missing = cli("export", "Nope", "--to", str(tmp_path / "x.csv"))
    assert missing.exit_code == 1 and not (tmp_path / "x.csv").exists()

    forced = cli("export", "--all", "--to", str(target), "--force")
    assert forced.exit_code == 0, forced.stderr
    document = json.loads(target.read_text())
    assert [lst["name"] for lst in document["lists"]] == ["A"]
    with instance.db.session() as session:
        (event,) = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "interchange.exported")
        ).all()
    assert (event.details["lists"], event.details["records"]) == (1, 1)


def test_export_to_an_unwritable_place_says_so(
    cli: Cli, instance: Instance, tmp_path: Path
) -> None:
    """A target under a plain file gets one line naming the path, exit 2, no
    traceback and no audit event for an export that never happened."""
    cli("list", "add", "A")
    cli("record", "add", "A", "--title", "r", "--password-stdin", input="p\n")
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory")
    result = cli("export", "A", "--to", str(blocker / "out.csv"))
    assert result.exit_code == 2
    assert f"error: cannot write the export to {blocker / 'out.csv'}" in result.stderr
    assert "choose a file in a directory you may write to" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert blocker.read_text() == "not a directory"
    with instance.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "interchange.exported")
        ).all()
    assert events == []


def test_export_into_a_missing_folder_is_refused_not_created(
    cli: Cli, instance: Instance, tmp_path: Path
) -> None:
    """`--to` in a folder that is not there: one error naming the folder and
    the fix (create it first), exit 2, no folder made, no file, no audit event."""
    cli("list", "add", "A")
    cli("record", "add", "A", "--title", "r", "--password-stdin", input="p\n")
    folder = tmp_path / "nonexistent" / "dir"
    target = folder / "x.csv"
    result = cli("export", "A", "--to", str(target))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: --to {target}: the folder {folder} does not exist\n"
        f"  fix: create it first (mkdir -p {folder}) or choose a file in a folder "
        "that exists\n"
    )
    assert not (tmp_path / "nonexistent").exists()
    with instance.db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "interchange.exported")
        ).all()
    assert events == []
