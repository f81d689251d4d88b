"""Users, groups and memberships as services: names, duplicates, audit, access."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.server.accounts import service as accounts
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core import counters
from strongroom.server.core.actor import PLATFORM_WEB, Actor
from strongroom.server.core.errors import (
    AlreadyExists,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from strongroom.server.core.instance import Instance, operator

OP = operator()

# (name as typed, --domain, expected qualified name)
NAMES = [
    ("alice", None, "alice"),
    ("corp\\bob", None, "CORP\\bob"),
    ("carol", "hq", "HQ\\carol"),
]


def test_users_are_named_as_typed_and_found_again(
    instance: Instance, session: Session
) -> None:
    """Local and directory names (`DOMAIN\\name`, or --domain) are stored with
    an upper-case domain and found by their qualified name."""
    for typed, domain, qualified in NAMES:
        user = accounts.create_user(
            session, OP, typed, password="long-enough-pw-1", domain=domain
        )
        assert user.qualified_name == qualified
        assert accounts.find_user(session, qualified).id == user.id
    with pytest.raises(NotFound):
        accounts.find_user(session, "bob")


# (name, password, the error, its field)
REFUSED = [
    ("alice", "long-enough-pw-2", AlreadyExists, None),
    ("", "long-enough-pw-2", ValidationError, "login name"),
    ("n" * 101, "long-enough-pw-2", ValidationError, "login name"),
    ("bad/name", "long-enough-pw-2", ValidationError, "login name"),
    ("dave", "short", ValidationError, "password"),
    ("dave", "aaaaaaaaaaaaaaa", ValidationError, "password"),
]


def test_two_different_domains_are_refused(session: Session) -> None:
    """`CORP\\bob` with --domain HQ names two domains: refused, naming both;
    the same domain twice is fine."""
    with pytest.raises(ValidationError, match="'CORP' but --domain says 'HQ'"):
        accounts.create_user(
            session, OP, "corp\\bob", password="long-enough-pw-1", domain="hq"
        )
    user = accounts.create_user(
        session, OP, "corp\\bob", password="long-enough-pw-1", domain="Corp"
    )
    assert user.qualified_name == "CORP\\bob"


def test_bad_users_are_refused_naming_the_field(session: Session) -> None:
    """Duplicates, empty or long names, separators and weak passwords are refused."""
    accounts.create_user(session, OP, "alice", password="long-enough-pw-1")
    for name, password, error, field in REFUSED:
        with pytest.raises(error) as caught:
            accounts.create_user(session, OP, name, password=password)
        if field is not None:
            assert caught.value.field == field, name  # type: ignore[attr-defined]
    assert [u.login_name for u in accounts.list_users(session)] == ["admin", "alice"]


def test_disabling_is_audited_and_changes_access(session: Session) -> None:
    """Disabling bumps the access counter (phones must drop records) and is
    audited; disabling twice changes nothing."""
    user = accounts.create_user(session, OP, "erin", password="long-enough-pw-1")
    before = counters.current(session, counters.ACCESS)
    accounts.set_active(session, OP, user, False)
    accounts.set_active(session, OP, user, False)
    assert counters.current(session, counters.ACCESS) == before + 1
    types = session.scalars(
        select(AuditEvent.event_type).where(AuditEvent.target_id == user.id)
    ).all()
    assert types == ["user.created", "user.disabled"]


def test_groups_and_members(session: Session) -> None:
    """Group names are unique; add/remove report whether anything changed."""
    group = accounts.create_group(session, OP, "Ops")
    with pytest.raises(AlreadyExists):
        accounts.create_group(session, OP, "Ops")
    user = accounts.create_user(session, OP, "fred", password="long-enough-pw-1")
    assert accounts.add_member(session, OP, group, user) is True
    assert accounts.add_member(session, OP, group, user) is False
    assert [(g.name, n) for g, n in accounts.list_groups(session)] == [("Ops", 1)]
    assert accounts.remove_member(session, OP, group, user) is True
    assert accounts.remove_member(session, OP, group, user) is False
    assert accounts.members(session, group) == []


def test_only_admins_manage_accounts(session: Session) -> None:
    """A signed-in user who is not an admin may not create users or groups, nor
    set another user's password, but may set their own."""
    user = accounts.create_user(session, OP, "gina", password="long-enough-pw-1")
    other = accounts.create_user(session, OP, "hank", password="long-enough-pw-1")
    actor = Actor(user_id=user.id, name="gina", platform=PLATFORM_WEB)
    with pytest.raises(PermissionDenied):
        accounts.create_user(session, actor, "ivan", password="long-enough-pw-1")
    with pytest.raises(PermissionDenied):
        accounts.create_group(session, actor, "G")
    with pytest.raises(PermissionDenied):
        accounts.set_password(session, actor, other, "another-password-1")
    accounts.set_password(session, actor, user, "another-password-1")


def test_unknown_feature_is_refused(session: Session) -> None:
    """Only the features Strongroom has can be granted."""
    group = accounts.create_group(session, OP, "G")
    with pytest.raises(ValidationError, match="unknown feature"):
        accounts.grant_feature(session, OP, "teleport", group=group)


@pytest.mark.parametrize(
    ("stored", "typed", "clash"),
    [("Ärger", "ärger", "ÄRGER"), ("Ölgruppe", "ÖLGRUPPE", "ölgruppe")],
)
def test_names_beyond_ascii_are_found_and_unique_ignoring_case(
    session: Session, stored: str, typed: str, clash: str
) -> None:
    """A user or group named with non-ASCII capitals is found again as stored
    and in another case, and the same name in another case is refused (SQLite
    folds only ASCII on its own, PostgreSQL every letter)."""
    user = accounts.create_user(session, OP, stored, password="long-enough-pw-1")
    group = accounts.create_group(session, OP, stored)
    for name in (stored, typed):
        assert accounts.find_user(session, name).id == user.id
        assert accounts.find_group(session, name).id == group.id
    with pytest.raises(AlreadyExists):
        accounts.create_user(session, OP, clash, password="long-enough-pw-1")
    with pytest.raises(AlreadyExists):
        accounts.create_group(session, OP, clash)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"display_name": "d" * 201}, "display name"),
        ({"email": "e" * 255}, "email"),
        ({"display_name": "Eve\u202eliA"}, "display name"),
    ],
)
def test_long_or_hidden_display_names_and_emails_are_refused(
    session: Session, values: dict[str, str], field: str
) -> None:
    """A display name over 200 or an email over 254 characters (the column
    widths PostgreSQL enforces) or with control characters names its field."""
    with pytest.raises(ValidationError) as caught:
        accounts.create_user(session, OP, "zed", password="long-enough-pw-1", **values)
    assert caught.value.field == field


def test_a_long_group_description_is_refused(session: Session) -> None:
    """A group description over 255 characters names the field."""
    with pytest.raises(ValidationError, match="the description is 256 characters"):
        accounts.create_group(session, OP, "G", description="d" * 256)
