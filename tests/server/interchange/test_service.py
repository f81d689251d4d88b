"""`import_bundle` and `export_bundle`: all-or-nothing imports into the vault,
merging into existing lists, permissions, audit, and exports."""

import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.server.accounts import service as accounts
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.actor import PLATFORM_WEB, Actor
from strongroom.server.core.errors import NotFound, PermissionDenied
from strongroom.server.core.instance import Instance, operator
from strongroom.server.interchange import service
from strongroom.server.interchange.bundle import (
    ImportBundle,
    ImportedField,
    ImportedList,
    ImportedRecord,
)
from strongroom.server.interchange.errors import MalformedFile
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, Record
from tests.server.support import row_counts, use_cheap_hashing

OP = operator()


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_hashing(monkeypatch)


def _record(title: str, ref: str = "", **values: object) -> ImportedRecord:
    return ImportedRecord(title=title, source_ref=ref or f"row {title}", **values)  # type: ignore[arg-type]


def _bundle(*lists: ImportedList) -> ImportBundle:
    return ImportBundle(
        source_format="csv", lists=list(lists), warnings=["from reader"]
    )


def _titles(session: Session, path: str) -> list[str]:
    plist = vault.find_list(session, path)
    return sorted(
        session.scalars(select(Record.title).where(Record.list_id == plist.id))
    )


def test_import_creates_folders_lists_and_records(
    instance: Instance, session: Session
) -> None:
    """Lists land under INTO/<folder path>, every value is kept, and the import
    is one audit event with counts instead of one per record."""
    bundle = _bundle(
        ImportedList(
            (),
            "Top",
            [
                _record(
                    "web",
                    username="u",
                    password="p@ss",
                    notes="n1\nn2",
                    otp_secret="JBSWY3DPEHPK3PXP",
                    url="https://e.example",
                    expires_at=datetime.date(2031, 2, 3),
                    fields=[ImportedField("PIN", "12", secret=True)],
                )
            ],
        ),
        ImportedList(("A", "B"), "Deep", [_record("x"), _record("y")]),
    )
    summary = service.import_bundle(session, OP, instance.cipher, bundle, "In/Here")
    assert summary.lists_created == ("In/Here/Top", "In/Here/A/B/Deep")
    assert (summary.lists_merged, summary.records, summary.lists) == ((), 3, 2)
    assert summary.warnings == ("from reader",)
    assert _titles(session, "In/Here/A/B/Deep") == ["x", "y"]

    plist = vault.find_list(session, "In/Here/Top")
    record = session.scalars(select(Record).where(Record.list_id == plist.id)).one()
    view = vault.open_record(session, instance.cipher, record)
    assert (view.password, view.notes, view.otp_secret) == (
        "p@ss",
        "n1\nn2",
        "JBSWY3DPEHPK3PXP",
    )
    assert view.expires_at == datetime.date(2031, 2, 3)
    assert [(f.name, f.value, f.secret) for f in view.fields] == [("PIN", "12", True)]

    types = session.scalars(select(AuditEvent.event_type)).all()
    assert types.count("interchange.imported") == 1
    assert "record.created" not in types
    (event,) = session.scalars(
        select(AuditEvent).where(AuditEvent.event_type == "interchange.imported")
    ).all()
    assert event.details == {
        "format": "csv",
        "lists_created": 2,
        "lists_merged": 0,
        "records": 3,
    }


# (a bundle the vault must refuse whole, words of the error)
REFUSED = [
    (
        _bundle(
            ImportedList((), "L", [_record("ok1"), _record("ok2")]),
            ImportedList(
                (), "M", [_record("bad", "row 9", url="https://" + "u" * 2100)]
            ),
        ),
        "row 9: the url has",
    ),
    (
        _bundle(ImportedList((), "L", [_record("ok"), _record("   ", "entry 'G/x'")])),
        "entry 'G/x': the title must not be empty",
    ),
    (_bundle(ImportedList(("f" * 201,), "L", [_record("ok")])), "limit is 200"),
    (_bundle(ImportedList((), " ", [_record("ok")])), "the list name is empty"),
]


def test_a_bad_record_anywhere_writes_nothing(instance: Instance) -> None:
    """A record or name the vault refuses, even the last one, raises
    MalformedFile naming it before anything is written."""
    url = instance.db.url
    before = row_counts(url)
    for bundle, words in REFUSED:
        with pytest.raises(MalformedFile) as caught, instance.db.session() as session:
            service.import_bundle(session, OP, instance.cipher, bundle, "Into")
        assert words in caught.value.message, words
        assert row_counts(url) == before, words


def test_an_existing_list_is_merged_into(instance: Instance, session: Session) -> None:
    """Records go into a list that exists at the target path, which keeps its
    permissions; a title it already held is kept twice, with a warning."""
    existing = vault.create_list(session, OP, "Into/Team", create_folders=True)
    group = accounts.create_group(session, OP, "G")
    vault.grant(session, OP, existing, Level.VIEW, group=group)
    vault.create_record(
        session, OP, instance.cipher, existing, vault.RecordInput(title="a")
    )
    bundle = _bundle(ImportedList((), "Team", [_record("a"), _record("b")]))
    summary = service.import_bundle(session, OP, instance.cipher, bundle, "Into")
    assert (summary.lists_created, summary.lists_merged) == ((), ("Into/Team",))
    assert _titles(session, "Into/Team") == ["a", "a", "b"]
    assert any("already held a record titled 'a'" in w for w in summary.warnings)
    assert [g.grantee_name for g in vault.grants_on(session, existing)] == ["G"]


def test_names_differing_only_in_case_land_in_one_list(
    instance: Instance, session: Session
) -> None:
    """'team' in the file goes into the existing 'Into/Team', and two groups
    'Email' and 'EMAIL' of one file become one list, as the vault allows no
    two names that differ only in case."""
    vault.create_list(session, OP, "Into/Team", create_folders=True)
    bundle = _bundle(
        ImportedList((), "team", [_record("a")]),
        ImportedList(("Web",), "Email", [_record("b")]),
        ImportedList(("WEB",), "EMAIL", [_record("c")]),
    )
    summary = service.import_bundle(session, OP, instance.cipher, bundle, "INTO")
    assert summary.lists_merged == ("Into/Team",)
    assert summary.lists_created == ("Into/Web/Email",)
    assert _titles(session, "Into/Team") == ["a"]
    assert _titles(session, "into/web/email") == ["b", "c"]


def test_a_slash_in_a_name_becomes_a_dash(instance: Instance, session: Session) -> None:
    """A group called 'Web/Email' stays one level, named 'Web-Email', with a
    warning, instead of silently becoming two folders."""
    bundle = _bundle(ImportedList(("Web/Email",), "Acc/ounts", [_record("r")]))
    summary = service.import_bundle(session, OP, instance.cipher, bundle, "/")
    assert summary.lists_created == ("Web-Email/Acc-ounts",)
    assert sum("contains '/'" in w for w in summary.warnings) == 2


def test_permissions_of_a_signed_in_importer(
    instance: Instance, session: Session
) -> None:
    """A user may import into a list where they hold Modify but may not create
    lists; an admin user may, and gets Admin on them with the default flag."""
    user = accounts.create_user(session, OP, "ulla", password="long-enough-pw-1")
    admin = accounts.create_user(
        session, OP, "adam", password="long-enough-pw-1", is_admin=True
    )
    as_user = Actor(user_id=user.id, name="ulla", platform=PLATFORM_WEB)
    as_admin = Actor(
        user_id=admin.id, name="adam", platform=PLATFORM_WEB, is_admin=True
    )
    target = vault.create_list(session, OP, "Into/Mine", create_folders=True)
    vault.grant(session, OP, target, Level.MODIFY, user=user)

    mine = _bundle(ImportedList((), "Mine", [_record("r1")]))
    assert (
        service.import_bundle(session, as_user, instance.cipher, mine, "Into").records
        == 1
    )
    new = _bundle(
        ImportedList((), "Mine", [_record("r2")]), ImportedList((), "New", [])
    )
    with pytest.raises(PermissionDenied):
        service.import_bundle(session, as_user, instance.cipher, new, "Into")
    assert _titles(session, "Into/Mine") == ["r1"]

    summary = service.import_bundle(session, as_admin, instance.cipher, new, "Admin")
    assert summary.lists_created == ("Admin/Mine", "Admin/New")
    grid = vault.grants_on(session, vault.find_list(session, "Admin/New"))
    assert [(g.grantee_name, g.level, g.mobile_access) for g in grid] == [
        ("adam", Level.ADMIN, True)
    ]


def test_export_bundle_reads_lists_back_and_is_audited(
    instance: Instance, session: Session
) -> None:
    """export_bundle returns each list's folder path, records and secrets, and
    writes one `interchange.exported` event; View is needed on every list."""
    bundle = _bundle(
        ImportedList(("F",), "L", [_record("r", password="pw", notes="nn")]),
        ImportedList(("F", "Sub"), "M", [_record("s")]),
        ImportedList((), "Elsewhere", [_record("t")]),
    )
    service.import_bundle(session, OP, instance.cipher, bundle, "")

    lists = service.lists_at(session, "F")
    assert [vault.list_path(session, p) for p in lists] == ["F/L", "F/Sub/M"]
    assert len(service.lists_at(session, None)) == 3
    assert [p.name for p in service.lists_at(session, "F/Sub/M")] == ["M"]
    with pytest.raises(NotFound, match="no password list or folder 'Nope'"):
        service.lists_at(session, "Nope")

    out = service.export_bundle(session, OP, instance.cipher, lists)
    assert [(lst.folder_path, lst.name) for lst in out.lists] == [
        (("F",), "L"),
        (("F", "Sub"), "M"),
    ]
    record = out.lists[0].records[0]
    assert (record.title, record.password, record.notes) == ("r", "pw", "nn")
    (event,) = session.scalars(
        select(AuditEvent).where(AuditEvent.event_type == "interchange.exported")
    ).all()
    assert (event.details["lists"], event.details["records"]) == (2, 2)

    viewer = accounts.create_user(session, OP, "vic", password="long-enough-pw-1")
    as_viewer = Actor(user_id=viewer.id, name="vic", platform=PLATFORM_WEB)
    with pytest.raises(PermissionDenied):
        service.export_bundle(session, as_viewer, instance.cipher, lists)


def test_fields_of_one_name_keep_both_values(
    instance: Instance, session: Session
) -> None:
    """Another manager's two fields named alike arrive numbered, both values
    kept, since a phone could hold only one value per name."""
    fields = [
        ImportedField("pin", "1111", secret=True),
        ImportedField("pin", "2222", secret=True),
    ]
    bundle = _bundle(ImportedList((), "Cards", [_record("card", fields=fields)]))
    service.import_bundle(session, OP, instance.cipher, bundle, "In")

    plist = vault.find_list(session, "In/Cards")
    record = session.scalars(select(Record).where(Record.list_id == plist.id)).one()
    view = vault.open_record(session, instance.cipher, record)
    assert [(f.name, f.value) for f in view.fields] == [
        ("pin", "1111"),
        ("pin (2)", "2222"),
    ]
