"""Records as services: field limits, versions, and tombstones for phones."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.server.audit.models import AuditEvent
from strongroom.server.core import counters
from strongroom.server.core.errors import AlreadyExists, ValidationError
from strongroom.server.core.instance import Instance, operator
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Tombstone

OP = operator()

# (the record, the field named in the refusal)
OVER_LIMITS = [
    (vault.RecordInput(title=""), "title"),
    (vault.RecordInput(title="   "), "title"),
    (vault.RecordInput(title="t" * 256), "title"),
    (vault.RecordInput(title="t", username="u" * 256), "username"),
    (vault.RecordInput(title="t", description="d" * 256), "description"),
    (vault.RecordInput(title="t", url="https://" + "u" * 2048), "url"),
    (
        vault.RecordInput(title="t", fields=[vault.GenericField(" ", "v")]),
        "field name",
    ),
    (
        vault.RecordInput(
            title="t",
            fields=[
                vault.GenericField("PIN", "1111", secret=True),
                vault.GenericField("pin ", "2222", secret=True),
            ],
        ),
        "field name",
    ),
]


@pytest.mark.parametrize(("data", "field"), OVER_LIMITS)
def test_validate_record_names_the_field(data: vault.RecordInput, field: str) -> None:
    """Each field over its limit (or an empty title) is refused by name."""
    with pytest.raises(ValidationError) as caught:
        vault.validate_record(data)
    assert caught.value.field == field


@pytest.mark.parametrize(
    "data",
    [
        vault.RecordInput(title="t" * 255, username="u" * 255, description="d" * 255),
        vault.RecordInput(title="  padded  "),
    ],
)
def test_validate_record_accepts_the_limits(data: vault.RecordInput) -> None:
    """Exactly 255 characters is allowed; a title is stored without padding."""
    assert vault.validate_record(data).title == data.title.strip()


def test_versions_and_tombstones(instance: Instance, session: Session) -> None:
    """Every write takes the next records version; deleting a record or a list
    leaves tombstones with a version so phones learn of it."""
    plist = vault.create_list(session, OP, "L")
    record = vault.create_record(
        session, OP, instance.cipher, plist, vault.RecordInput(title="a")
    )
    first = record.version
    assert first == counters.current(session, counters.RECORDS)
    vault.update_record(
        session, OP, instance.cipher, record, vault.RecordInput(title="a2")
    )
    assert record.version > first

    other = vault.create_record(
        session, OP, instance.cipher, plist, vault.RecordInput(title="b")
    )
    vault.delete_record(session, OP, record)
    removed = vault.delete_list(session, OP, plist)
    assert removed == 1
    stones = session.scalars(select(Tombstone).order_by(Tombstone.id)).all()
    assert [(s.kind, s.object_id) for s in stones] == [
        ("record", record.id),
        ("record", other.id),
        ("list", plist.id),
    ]
    assert stones[0].version < stones[1].version == stones[2].version


def test_names_in_one_folder_are_unique(session: Session) -> None:
    """A second list or folder of the same name in one folder is refused, the
    same name in another folder is fine."""
    vault.create_list(session, OP, "A/Bank", create_folders=True)
    with pytest.raises(AlreadyExists):
        vault.create_list(session, OP, "A/Bank")
    with pytest.raises(AlreadyExists):
        vault.create_folder(session, OP, "A")
    vault.create_list(session, OP, "B/Bank", create_folders=True)
    with pytest.raises(ValidationError, match="limit is 200"):
        vault.create_list(session, OP, "A/" + "n" * 201)


def test_names_in_one_folder_are_unique_ignoring_case(session: Session) -> None:
    """'bank' beside 'Bank' (or 'öl' beside 'Öl') is refused with the stored
    spelling named, and paths are found whatever their case."""
    plist = vault.create_list(session, OP, "Äste/Bank", create_folders=True)
    with pytest.raises(AlreadyExists, match="as 'Bank'"):
        vault.create_list(session, OP, "äste/BANK")
    with pytest.raises(AlreadyExists, match="as 'Äste'"):
        vault.create_folder(session, OP, "ÄSTE")
    assert vault.find_list(session, "äSTE/bank").id == plist.id
    assert vault.list_at(session, ["ÄSTE"], "bank") == plist
    assert vault.list_at(session, ["Nowhere"], "Bank") is None

    # The folder of an existing spelling is reused, not doubled.
    other = vault.create_list(session, OP, "äste/Cards", create_folders=True)
    assert other.folder_id == plist.folder_id
    renamed = vault.create_folder(session, OP, "Other")
    with pytest.raises(AlreadyExists, match="ignoring case"):
        vault.rename_folder(session, OP, renamed, "äSTE")
    vault.rename_folder(session, OP, renamed, "OTHER")
    assert renamed.name == "OTHER"


def test_the_longest_allowed_path_is_stored_and_audited(session: Session) -> None:
    """A 200-character folder holding a 200-character list is accepted on both
    databases (PostgreSQL enforces column widths), its audit event names it
    shortened to the column, and the id still identifies it."""
    path = "f" * 200 + "/" + "l" * 200
    plist = vault.create_list(session, OP, path, create_folders=True)
    session.flush()
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.event_type == "list.created")
    ).one()
    assert event.target_id == plist.id
    assert event.target_name is not None and len(event.target_name) == 300
    assert (
        event.target_name.startswith("f" * 200 + "/") and event.target_name[-1] == "…"
    )
    assert vault.list_path(session, plist) == path


def test_repeated_field_names_are_numbered_for_imports() -> None:
    """Imported fields of one name keep every value under numbered names."""
    fields = [
        vault.GenericField("pin", "1"),
        vault.GenericField("PIN", "2", secret=True),
        vault.GenericField("pin (2)", "3"),
        vault.GenericField("other", "4"),
    ]
    renamed = vault.distinct_field_names(fields)
    assert [(f.name, f.value, f.secret) for f in renamed] == [
        ("pin", "1", False),
        ("PIN (3)", "2", True),
        ("pin (2)", "3", False),
        ("other", "4", False),
    ]
    assert vault.validate_record(vault.RecordInput("t", fields=renamed))
