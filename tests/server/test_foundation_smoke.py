"""A first end-to-end check of the foundation on both databases."""

from sqlalchemy.orm import Session

from strongroom.server.accounts import service as accounts
from strongroom.server.core.instance import Instance, operator
from strongroom.server.vault import service as vault


def test_records_for_phone_follows_grants_flags_and_feature(
    instance: Instance, session: Session
) -> None:
    """A record reaches a phone only with a flagged grant and the Mobile App feature."""
    actor = operator()
    user = accounts.create_user(session, actor, "alice", password="alice-password-1")
    group = accounts.create_group(session, actor, "Ops")
    accounts.add_member(session, actor, group, user)
    plist = vault.create_list(session, actor, "Infra/Servers", create_folders=True)
    vault.create_record(
        session,
        actor,
        instance.cipher,
        plist,
        vault.RecordInput(title="db1", password="s3cret"),
    )
    assert vault.records_for_phone(session, user) == []

    vault.grant(
        session, actor, plist, vault.Level.VIEW, group=group, mobile_access=False
    )
    accounts.grant_feature(session, actor, "mobile", group=group)
    assert vault.records_for_phone(session, user) == []

    vault.set_mobile_access(session, actor, True)
    assert [r.title for r in vault.records_for_phone(session, user)] == ["db1"]
