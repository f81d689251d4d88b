"""The permission rules: effective levels, the default Mobile Access flag, bulk
flag changes, and who may do what."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core import counters
from strongroom.server.core.actor import PLATFORM_WEB, Actor
from strongroom.server.core.errors import PermissionDenied, ValidationError
from strongroom.server.core.instance import Instance, operator
from strongroom.server.settings import service as system_settings
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level

OP = operator()


def _user(session: Session, name: str) -> User:
    return accounts.create_user(session, OP, name, password=f"{name}-password-1")


def _as(user: User) -> Actor:
    return Actor(user_id=user.id, name=user.login_name, platform=PLATFORM_WEB)


def test_effective_level_is_the_highest_through_any_path(session: Session) -> None:
    """Direct View, Modify via one group and Admin via another give Admin; taking
    the paths away one by one steps the level down to nothing."""
    alice = _user(session, "alice")
    plist = vault.create_list(session, OP, "L")
    readers, admins = (accounts.create_group(session, OP, n) for n in ("R", "A"))
    for group in (readers, admins):
        accounts.add_member(session, OP, group, alice)
    vault.grant(session, OP, plist, Level.VIEW, user=alice)
    vault.grant(session, OP, plist, Level.MODIFY, group=readers)
    vault.grant(session, OP, plist, Level.ADMIN, group=admins)

    steps = [
        (lambda: None, Level.ADMIN),
        (lambda: accounts.remove_member(session, OP, admins, alice), Level.MODIFY),
        (lambda: vault.revoke(session, OP, plist, group=readers), Level.VIEW),
        (lambda: vault.revoke(session, OP, plist, user=alice), None),
    ]
    for change, expected in steps:
        change()
        assert vault.effective_level(session, alice.id, plist.id) == expected


def test_require_level_binds_users_but_not_the_operator(session: Session) -> None:
    """A View holder may read but not modify; the operator is never bound."""
    bob = _user(session, "bob")
    plist = vault.create_list(session, OP, "L")
    vault.grant(session, OP, plist, Level.VIEW, user=bob)
    vault.require_level(session, _as(bob), plist.id, Level.VIEW)
    with pytest.raises(PermissionDenied):
        vault.require_level(session, _as(bob), plist.id, Level.MODIFY)
    with pytest.raises(PermissionDenied):
        vault.grant(session, _as(bob), plist, Level.ADMIN, user=bob)
    vault.require_level(session, OP, plist.id, Level.ADMIN)


# (mobile_access_default, what the caller says, the new grant's flag)
DEFAULT_FLAG_CASES = [
    ("yes", None, True),
    ("no", None, False),
    ("yes", False, False),
    ("no", True, True),
]


def test_new_grants_take_the_flag_from_the_setting_unless_told(
    session: Session,
) -> None:
    """Without a yes/no from the caller a new grant copies mobile_access_default;
    with one, the caller wins."""
    for number, (setting, asked, expected) in enumerate(DEFAULT_FLAG_CASES):
        system_settings.set_value(session, OP, "mobile_access_default", setting)
        group = accounts.create_group(session, OP, f"G{number}")
        plist = vault.create_list(session, OP, f"L{number}")
        perm = vault.grant(
            session, OP, plist, Level.VIEW, group=group, mobile_access=asked
        )
        assert perm.mobile_access is expected, (setting, asked)


def test_changing_a_grant_keeps_its_flag_unless_told(session: Session) -> None:
    """Re-granting another level leaves the flag alone; an explicit one sets it."""
    group = accounts.create_group(session, OP, "G")
    plist = vault.create_list(session, OP, "L")
    vault.grant(session, OP, plist, Level.VIEW, group=group, mobile_access=False)
    system_settings.set_value(session, OP, "mobile_access_default", "yes")
    perm = vault.grant(session, OP, plist, Level.ADMIN, group=group)
    assert (perm.level, perm.mobile_access) == (Level.ADMIN, False)
    perm = vault.grant(session, OP, plist, Level.ADMIN, group=group, mobile_access=True)
    assert perm.mobile_access is True
    assert len(vault.grants_on(session, plist)) == 1


def test_bulk_flag_on_chosen_lists_and_all_lists_counts_changes(
    session: Session,
) -> None:
    """set_mobile_access changes only the chosen lists' permissions, returns how
    many changed (already-right ones do not count), and bumps the access counter
    only when something changed."""
    groups = [accounts.create_group(session, OP, f"G{i}") for i in range(2)]
    lists = [vault.create_list(session, OP, f"L{i}") for i in range(3)]
    for plist in lists:
        for group in groups:
            vault.grant(session, OP, plist, Level.VIEW, group=group, mobile_access=True)

    assert vault.count_mobile_access_changes(session, False, lists[:2]) == 4
    assert vault.set_mobile_access(session, OP, False, lists=lists[:2]) == 4
    flags = {
        vault.list_path(session, p): {
            g.mobile_access for g in vault.grants_on(session, p)
        }
        for p in lists
    }
    assert flags == {"L0": {False}, "L1": {False}, "L2": {True}}

    before = counters.current(session, counters.ACCESS)
    assert vault.set_mobile_access(session, OP, False, lists=lists[:1]) == 0
    assert counters.current(session, counters.ACCESS) == before
    assert vault.set_mobile_access(session, OP, True) == 4
    assert counters.current(session, counters.ACCESS) == before + 1
    assert vault.set_mobile_access(session, OP, False) == 6

    bulk = session.scalars(
        select(AuditEvent).where(
            AuditEvent.event_type == "permission.mobile_access_bulk"
        )
    ).all()
    assert [e.details["changed"] for e in bulk] == [4, 0, 4, 6]


def test_bulk_flag_needs_an_admin(session: Session) -> None:
    """A user who is not an administrator may not flip flags in bulk."""
    carol = _user(session, "carol")
    with pytest.raises(PermissionDenied):
        vault.set_mobile_access(session, _as(carol), False)


def test_grant_needs_exactly_one_grantee(session: Session) -> None:
    """Neither or both a user and a group is refused naming the grantee."""
    plist = vault.create_list(session, OP, "L")
    with pytest.raises(ValidationError) as caught:
        vault.grant(session, OP, plist, Level.VIEW)
    assert caught.value.field == "grantee"


@pytest.mark.parametrize(
    ("raw", "level"),
    [("view", Level.VIEW), ("Modify", Level.MODIFY), (" ADMIN ", Level.ADMIN)],
)
def test_parse_level(raw: str, level: Level) -> None:
    """Levels are read case-insensitively."""
    assert vault.parse_level(raw) is level


def test_parse_level_refuses_an_unknown_level() -> None:
    """An unknown level names the three that exist."""
    with pytest.raises(ValidationError, match="view, modify or admin"):
        vault.parse_level("owner")


def test_feature_access_through_a_group(instance: Instance, session: Session) -> None:
    """The Mobile App feature reaches members of a granted group, and leaves
    with the membership or the grant; a direct grant stands on its own."""
    dave = _user(session, "dave")
    phones = accounts.create_group(session, OP, "Phones")
    accounts.add_member(session, OP, phones, dave)
    assert not accounts.has_feature(session, dave, "mobile")
    assert accounts.grant_feature(session, OP, "mobile", group=phones)
    assert not accounts.grant_feature(session, OP, "mobile", group=phones)
    assert accounts.has_feature(session, dave, "mobile")

    accounts.remove_member(session, OP, phones, dave)
    assert not accounts.has_feature(session, dave, "mobile")
    accounts.add_member(session, OP, phones, dave)
    assert accounts.revoke_feature(session, OP, "mobile", group=phones)
    assert not accounts.revoke_feature(session, OP, "mobile", group=phones)
    assert not accounts.has_feature(session, dave, "mobile")

    accounts.grant_feature(session, OP, "mobile", user=dave)
    assert accounts.has_feature(session, dave, "mobile")
