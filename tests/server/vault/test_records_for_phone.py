"""`records_for_phone`: what may reach a phone, and every way it stops."""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import Group, User
from strongroom.server.core.instance import Instance, operator
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, PasswordList, Record

OP = operator()


@dataclass
class Scene:
    """A user who sees two lists on the phone: `via_group` through the group
    `team`, `direct` through a direct grant; the Mobile App feature comes from
    the separate group `phones`."""

    user: User
    team: Group
    phones: Group
    via_group: PasswordList
    direct: PasswordList
    record: Record


def _scene(session: Session, instance: Instance, tag: str) -> Scene:
    user = accounts.create_user(session, OP, f"u{tag}", password="user-password-1")
    team = accounts.create_group(session, OP, f"team{tag}")
    phones = accounts.create_group(session, OP, f"phones{tag}")
    for group in (team, phones):
        accounts.add_member(session, OP, group, user)
    accounts.grant_feature(session, OP, "mobile", group=phones)
    via_group = vault.create_list(session, OP, f"group{tag}")
    direct = vault.create_list(session, OP, f"direct{tag}")
    vault.grant(session, OP, via_group, Level.VIEW, group=team, mobile_access=True)
    vault.grant(session, OP, direct, Level.VIEW, user=user, mobile_access=True)
    records = [
        vault.create_record(
            session, OP, instance.cipher, plist, vault.RecordInput(title=title)
        )
        for plist, title in ((via_group, f"g{tag}"), (direct, f"d{tag}"))
    ]
    return Scene(user, team, phones, via_group, direct, records[0])


def _titles(session: Session, user: User) -> set[str]:
    return {r.title for r in vault.records_for_phone(session, user)}


Revocation = Callable[[Session, Scene], object]

# (what happens, what still reaches the phone: "g" via the group, "d" direct)
REVOCATIONS: list[tuple[str, Revocation, set[str]]] = [
    (
        "flag off on the group's list",
        lambda s, sc: vault.set_mobile_access(s, OP, False, lists=[sc.via_group]),
        {"d"},
    ),
    (
        "grant removed",
        lambda s, sc: vault.revoke(s, OP, sc.via_group, group=sc.team),
        {"d"},
    ),
    (
        "user left the group",
        lambda s, sc: accounts.remove_member(s, OP, sc.team, sc.user),
        {"d"},
    ),
    (
        "feature revoked",
        lambda s, sc: accounts.revoke_feature(s, OP, "mobile", group=sc.phones),
        set(),
    ),
    (
        "left the feature's group",
        lambda s, sc: accounts.remove_member(s, OP, sc.phones, sc.user),
        set(),
    ),
    ("user disabled", lambda s, sc: accounts.set_active(s, OP, sc.user, False), set()),
    ("record deleted", lambda s, sc: vault.delete_record(s, OP, sc.record), {"d"}),
    ("list deleted", lambda s, sc: vault.delete_list(s, OP, sc.via_group), {"d"}),
    (
        "flag off everywhere",
        lambda s, sc: vault.set_mobile_access(s, OP, False),
        set(),
    ),
]


def test_every_revocation_kind_removes_the_records(
    instance: Instance, session: Session
) -> None:
    """Each kind of revocation in REVOCATIONS removes exactly the records it
    should from records_for_phone (each acts on its own fresh scene)."""
    for number, (what, revoke, left) in enumerate(REVOCATIONS):
        scene = _scene(session, instance, str(number))
        assert _titles(session, scene.user) == {f"g{number}", f"d{number}"}, what
        revoke(session, scene)
        assert _titles(session, scene.user) == {f"{k}{number}" for k in left}, what


def test_nothing_reaches_a_phone_without_a_flagged_grant_and_the_feature(
    instance: Instance, session: Session
) -> None:
    """A grant whose flag is off, a grant without the feature, and another
    user's grant send nothing; one flagged path is enough when another is off."""
    scene = _scene(session, instance, "x")
    other = accounts.create_user(session, OP, "other", password="other-password-1")
    assert _titles(session, other) == set()

    accounts.grant_feature(session, OP, "mobile", user=other)
    vault.grant(session, OP, scene.direct, Level.ADMIN, user=other, mobile_access=False)
    assert _titles(session, other) == set()

    group = accounts.create_group(session, OP, "flagged")
    accounts.add_member(session, OP, group, other)
    vault.grant(session, OP, scene.direct, Level.VIEW, group=group, mobile_access=True)
    assert _titles(session, other) == {"dx"}

    accounts.revoke_feature(session, OP, "mobile", user=other)
    assert _titles(session, other) == set()
    assert _titles(session, scene.user) == {"gx", "dx"}


def test_records_for_phone_is_one_query(instance: Instance, session: Session) -> None:
    """However many lists and groups, the answer comes from a single SELECT."""
    scene = _scene(session, instance, "q")
    for i in range(5):
        plist = vault.create_list(session, OP, f"more{i}")
        vault.grant(session, OP, plist, Level.VIEW, group=scene.team)
        vault.create_record(
            session, OP, instance.cipher, plist, vault.RecordInput(title=f"m{i}")
        )
    session.flush()
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert len(vault.records_for_phone(session, scene.user)) == 7
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
