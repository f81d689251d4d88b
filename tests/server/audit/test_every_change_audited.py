"""Every change made through the services writes its audit event: who did it,
what they did, to which object, from where (platform and address) and when.

Each case starts from the same organisation, built by the operator at the
CLI, then makes one change as a signed-in person and reads back exactly the
events that change appended to the log.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strongroom.server.accounts import api_keys
from strongroom.server.accounts import service as accounts
from strongroom.server.audit import service as audit
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.actor import PLATFORM_API, PLATFORM_WEB, Actor
from strongroom.server.core.db import utcnow
from strongroom.server.core.instance import Instance, operator
from strongroom.server.interchange import service as interchange
from strongroom.server.interchange.bundle import (
    ImportBundle,
    ImportedList,
    ImportedRecord,
)
from strongroom.server.mobile import service as mobile
from strongroom.server.mobile.models import Device
from strongroom.server.settings import service as settings
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level
from tests.server.mobile.helpers import fast_argon2

ADMIN_IP = "198.51.100.7"
ALICE_IP = "203.0.113.5"
ALICE_MASTER = "alice-mobile-pass-9"


@dataclass
class Org:
    """What the operator set up before the change, and who makes it."""

    instance: Instance
    admin_id: str
    alice_id: str
    bob_id: str
    ops_id: str
    empty_folder_id: str
    servers_id: str
    record_id: str
    device_id: str
    api_key_id: str

    def actor(self, who: str) -> Actor:
        """The admin in the web UI or through the API, or alice in the web UI."""
        if who == "alice":
            return Actor(self.alice_id, "alice", PLATFORM_WEB, ip=ALICE_IP)
        platform = PLATFORM_API if who == "admin-api" else PLATFORM_WEB
        return Actor(self.admin_id, "admin", platform, is_admin=True, ip=ADMIN_IP)


@dataclass(frozen=True)
class Expected:
    """One event the change must append."""

    event_type: str
    target_type: str | None
    target_id: str | None
    list_id: str | None = None
    record_id: str | None = None
    details: dict[str, Any] | None = None  # keys that must hold these values


@pytest.fixture
def org(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> Org:
    """alice in group Ops (Mobile App feature, View with Mobile Access on
    Team/Servers, a master password, one paired phone, a few failed
    unlocks), bob, an empty folder, the admin with Admin on Team/Servers and
    an API key of theirs."""
    fast_argon2(monkeypatch)
    op = operator()
    with instance.db.session() as session:
        admin = accounts.find_user(session, "admin")
        alice = accounts.create_user(session, op, "alice", password="alice-web-pw-42")
        bob = accounts.create_user(session, op, "bob", password="bob-web-password-7")
        ops = accounts.create_group(session, op, "Ops")
        accounts.add_member(session, op, ops, alice)
        accounts.grant_feature(session, op, "mobile", group=ops)
        empty = vault.create_folder(session, op, "Empty")
        servers = vault.create_list(session, op, "Team/Servers", create_folders=True)
        vault.grant(session, op, servers, Level.ADMIN, user=admin, mobile_access=False)
        vault.grant(session, op, servers, Level.VIEW, group=ops, mobile_access=True)
        record = vault.create_record(
            session,
            op,
            instance.cipher,
            servers,
            vault.RecordInput(title="db1", username="root", password="S3cret-db1"),
        )
        mobile.set_master_password(session, op, alice, ALICE_MASTER)
        credential = mobile.credential_of(session, alice)
        assert credential is not None
        credential.failed_attempts = 2
        device = Device(
            user_id=alice.id,
            name="Alice's phone",
            platform="android",
            box_public_key=bytes(32),
            credential_hash="0" * 64,
        )
        session.add(device)
        session.flush()
        key = api_keys.create_key(session, op, "backup", user=admin, system_wide=True)
        return Org(
            instance=instance,
            admin_id=admin.id,
            alice_id=alice.id,
            bob_id=bob.id,
            ops_id=ops.id,
            empty_folder_id=empty.id,
            servers_id=servers.id,
            record_id=record.id,
            device_id=device.id,
            api_key_id=key.key.id,
        )


Change = Callable[[Session, Org, Actor], list[Expected]]


def _user(s: Session, user_id: str) -> Any:
    return accounts.get_user(s, user_id)


def user_add(s: Session, o: Org, a: Actor) -> list[Expected]:
    carol = accounts.create_user(s, a, "carol", password="carol-web-password-3")
    return [Expected("user.created", "user", carol.id, details={"admin": False})]


def user_disable(s: Session, o: Org, a: Actor) -> list[Expected]:
    accounts.set_active(s, a, _user(s, o.bob_id), False)
    return [Expected("user.disabled", "user", o.bob_id)]


def user_password_reset(s: Session, o: Org, a: Actor) -> list[Expected]:
    accounts.set_password(s, a, _user(s, o.bob_id), "a-new-web-password-for-bob")
    return [Expected("user.password_set", "user", o.bob_id)]


def group_add(s: Session, o: Org, a: Actor) -> list[Expected]:
    group = accounts.create_group(s, a, "Auditors")
    return [Expected("group.created", "group", group.id)]


def group_add_member(s: Session, o: Org, a: Actor) -> list[Expected]:
    group = accounts.find_group(s, "Ops")
    assert accounts.add_member(s, a, group, _user(s, o.bob_id))
    return [Expected("group.member_added", "group", o.ops_id)]


def group_remove_member(s: Session, o: Org, a: Actor) -> list[Expected]:
    group = accounts.find_group(s, "Ops")
    assert accounts.remove_member(s, a, group, _user(s, o.alice_id))
    return [Expected("group.member_removed", "group", o.ops_id)]


def folder_add(s: Session, o: Org, a: Actor) -> list[Expected]:
    folder = vault.create_folder(s, a, "Finance")
    return [Expected("folder.created", "folder", folder.id)]


def folder_rename(s: Session, o: Org, a: Actor) -> list[Expected]:
    folder = vault.find_folder(s, "Empty")
    assert folder is not None
    vault.rename_folder(s, a, folder, "Archive")
    return [
        Expected(
            "folder.renamed", "folder", o.empty_folder_id, details={"old": "Empty"}
        )
    ]


def folder_delete(s: Session, o: Org, a: Actor) -> list[Expected]:
    folder = vault.find_folder(s, "Empty")
    assert folder is not None
    vault.delete_folder(s, a, folder)
    return [Expected("folder.deleted", "folder", o.empty_folder_id)]


def list_add(s: Session, o: Org, a: Actor) -> list[Expected]:
    plist = vault.create_list(s, a, "Team/Web")
    # A signed-in creator gets Admin on the new list, and that is audited too.
    return [
        Expected("list.created", "list", plist.id, list_id=plist.id),
        Expected(
            "permission.granted",
            "user",
            o.admin_id,
            list_id=plist.id,
            details={"level": "admin"},
        ),
    ]


def list_delete(s: Session, o: Org, a: Actor) -> list[Expected]:
    vault.delete_list(s, a, vault.get_list(s, o.servers_id))
    return [
        Expected(
            "list.deleted",
            "list",
            o.servers_id,
            list_id=o.servers_id,
            details={"records": 1},
        )
    ]


def record_add(s: Session, o: Org, a: Actor) -> list[Expected]:
    plist = vault.get_list(s, o.servers_id)
    data = vault.RecordInput(title="web1", password="S3cret-web1")
    record = vault.create_record(s, a, o.instance.cipher, plist, data)
    return [
        Expected(
            "record.created",
            "record",
            record.id,
            list_id=o.servers_id,
            record_id=record.id,
        )
    ]


def record_edit(s: Session, o: Org, a: Actor) -> list[Expected]:
    record = vault.get_record(s, o.record_id)
    data = vault.RecordInput(title="db1", username="postgres", password="N3w-db1")
    vault.update_record(s, a, o.instance.cipher, record, data)
    return [
        Expected(
            "record.updated",
            "record",
            o.record_id,
            list_id=o.servers_id,
            record_id=o.record_id,
        )
    ]


def record_delete(s: Session, o: Org, a: Actor) -> list[Expected]:
    vault.delete_record(s, a, vault.get_record(s, o.record_id))
    return [
        Expected(
            "record.deleted",
            "record",
            o.record_id,
            list_id=o.servers_id,
            record_id=o.record_id,
        )
    ]


def record_reveal(s: Session, o: Org, a: Actor) -> list[Expected]:
    record = vault.get_record(s, o.record_id)
    view = vault.read_record(s, a, o.instance.cipher, record, reveal=True)
    assert view.password == "S3cret-db1"
    return [
        Expected(
            "record.revealed",
            "record",
            o.record_id,
            list_id=o.servers_id,
            record_id=o.record_id,
        )
    ]


def grant(s: Session, o: Org, a: Actor) -> list[Expected]:
    plist = vault.get_list(s, o.servers_id)
    vault.grant(s, a, plist, Level.MODIFY, user=_user(s, o.bob_id), mobile_access=False)
    return [
        Expected(
            "permission.granted",
            "user",
            o.bob_id,
            list_id=o.servers_id,
            details={"level": "modify", "mobile_access": False},
        )
    ]


def grant_change(s: Session, o: Org, a: Actor) -> list[Expected]:
    plist = vault.get_list(s, o.servers_id)
    group = accounts.find_group(s, "Ops")
    vault.grant(s, a, plist, Level.MODIFY, group=group)
    return [
        Expected(
            "permission.changed",
            "group",
            o.ops_id,
            list_id=o.servers_id,
            details={"level": "modify", "mobile_access": True},
        )
    ]


def revoke(s: Session, o: Org, a: Actor) -> list[Expected]:
    plist = vault.get_list(s, o.servers_id)
    vault.revoke(s, a, plist, group=accounts.find_group(s, "Ops"))
    return [Expected("permission.revoked", "group", o.ops_id, list_id=o.servers_id)]


def bulk_mobile_access(s: Session, o: Org, a: Actor) -> list[Expected]:
    plist = vault.get_list(s, o.servers_id)
    # Ops' grant had Mobile Access on; the admin's own was off already.
    assert vault.set_mobile_access(s, a, False, lists=[plist]) == 1
    return [
        Expected(
            "permission.mobile_access_bulk",
            "list",
            None,
            details={"value": False, "changed": 1, "lists": [o.servers_id]},
        )
    ]


def feature_grant(s: Session, o: Org, a: Actor) -> list[Expected]:
    assert accounts.grant_feature(s, a, "mobile", user=_user(s, o.bob_id))
    return [
        Expected("feature.granted", "user", o.bob_id, details={"feature": "mobile"})
    ]


def feature_revoke(s: Session, o: Org, a: Actor) -> list[Expected]:
    assert accounts.revoke_feature(s, a, "mobile", group=accounts.find_group(s, "Ops"))
    return [
        Expected("feature.revoked", "group", o.ops_id, details={"feature": "mobile"})
    ]


def settings_set(s: Session, o: Org, a: Actor) -> list[Expected]:
    settings.set_value(s, a, "offline_ttl_days", "3")
    return [
        Expected(
            "setting.changed",
            "setting",
            "offline_ttl_days",
            details={"old": 7, "new": 3},
        )
    ]


def mobile_set_password(s: Session, o: Org, a: Actor) -> list[Expected]:
    alice = _user(s, o.alice_id)
    mobile.set_master_password(s, a, alice, "alice-other-mobile-pass-5")
    # A new master password revokes the phones paired under the old one.
    return [
        Expected("device.revoked", "device", o.device_id),
        Expected(
            "mobile.master_password_set",
            "user",
            o.alice_id,
            details={"generation": 2, "devices_revoked": 1},
        ),
    ]


def mobile_clear(s: Session, o: Org, a: Actor) -> list[Expected]:
    assert mobile.clear_master_password(s, a, _user(s, o.alice_id)) == 1
    return [
        Expected("device.revoked", "device", o.device_id),
        Expected(
            "mobile.credentials_cleared",
            "user",
            o.alice_id,
            details={"generation": 2, "devices_revoked": 1},
        ),
    ]


def mobile_unlock(s: Session, o: Org, a: Actor) -> list[Expected]:
    assert mobile.lift_lockout(s, a, _user(s, o.alice_id))
    return [Expected("mobile.lockout_lifted", "user", o.alice_id)]


def mobile_qr(s: Session, o: Org, a: Actor) -> list[Expected]:
    mobile.pairing_payload(s, a, o.instance.cipher, _user(s, o.alice_id))
    return [Expected("mobile.qr_issued", "user", o.alice_id)]


def regenerate_pairing_secret(s: Session, o: Org, a: Actor) -> list[Expected]:
    outcome = mobile.regenerate_pairing_secret(s, a, o.instance.cipher)
    # Every paired device dies with the old secret, each revocation audited.
    return [
        Expected(
            "device.revoked",
            "device",
            o.device_id,
            details={"reason": "pairing secret regenerated"},
        ),
        Expected(
            "mobile.pairing_secret_regenerated",
            "setting",
            "pairing_secret",
            details={"generation": outcome.generation, "devices_revoked": 1},
        ),
    ]


def device_revoke(s: Session, o: Org, a: Actor) -> list[Expected]:
    mobile.revoke_device(s, a, o.device_id)
    return [Expected("device.revoked", "device", o.device_id)]


def device_wipe(s: Session, o: Org, a: Actor) -> list[Expected]:
    mobile.request_wipe(s, a, o.device_id)
    return [Expected("device.wipe_requested", "device", o.device_id)]


def api_key_create(s: Session, o: Org, a: Actor) -> list[Expected]:
    plist = vault.get_list(s, o.servers_id)
    issued = api_keys.create_key(
        s, a, "deploy", user=_user(s, o.admin_id), lists=[plist]
    )
    return [
        Expected(
            "api_key.created",
            "api_key",
            issued.key.id,
            details={"user_id": o.admin_id, "lists": [o.servers_id]},
        )
    ]


def api_key_revoke(s: Session, o: Org, a: Actor) -> list[Expected]:
    assert api_keys.revoke_key(s, a, api_keys.get_key(s, o.api_key_id))
    return [Expected("api_key.revoked", "api_key", o.api_key_id)]


def import_file(s: Session, o: Org, a: Actor) -> list[Expected]:
    bundle = ImportBundle(
        "csv",
        [ImportedList((), "Web", [ImportedRecord("site", password="S3cret-site")])],
    )
    interchange.import_bundle(s, a, o.instance.cipher, bundle, "Imported")
    folder = vault.find_folder(s, "Imported")
    assert folder is not None
    plist = vault.find_list(s, "Imported/Web")
    return [
        Expected("folder.created", "folder", folder.id),
        Expected("list.created", "list", plist.id, list_id=plist.id),
        Expected("permission.granted", "user", o.admin_id, list_id=plist.id),
        # One event stands for the imported records.
        Expected(
            "interchange.imported",
            "folder",
            folder.id,
            details={"format": "csv", "lists_created": 1, "records": 1},
        ),
    ]


CHANGES: list[tuple[Change, str]] = [
    (user_add, "admin"),
    (user_disable, "admin"),
    (user_password_reset, "admin"),
    (group_add, "admin"),
    (group_add_member, "admin"),
    (group_remove_member, "admin"),
    (folder_add, "admin"),
    (folder_rename, "admin"),
    (folder_delete, "admin"),
    (list_add, "admin"),
    (list_delete, "admin"),
    (record_add, "admin-api"),
    (record_edit, "admin-api"),
    (record_delete, "admin-api"),
    (record_reveal, "alice"),
    (grant, "admin"),
    (grant_change, "admin"),
    (revoke, "admin"),
    (bulk_mobile_access, "admin"),
    (feature_grant, "admin"),
    (feature_revoke, "admin"),
    (settings_set, "admin"),
    (mobile_set_password, "alice"),
    (mobile_clear, "admin"),
    (mobile_unlock, "admin"),
    (mobile_qr, "alice"),
    (regenerate_pairing_secret, "admin"),
    (device_revoke, "alice"),
    (device_wipe, "admin"),
    (api_key_create, "admin"),
    (api_key_revoke, "admin"),
    (import_file, "admin"),
]


@pytest.mark.parametrize(
    ("change", "who"), CHANGES, ids=[change.__name__ for change, _who in CHANGES]
)
def test_the_change_writes_exactly_its_audit_events(
    org: Org, change: Change, who: str
) -> None:
    """The events name the actor, the action, the object, the platform and
    address it came from, and the time; nothing else is appended."""
    actor = org.actor(who)
    with org.instance.db.session() as session:
        before_seq = session.scalar(select(func.max(AuditEvent.seq))) or 0
    started = utcnow()
    with org.instance.db.session() as session:
        expected = change(session, org, actor)
    finished = utcnow()

    with org.instance.db.session() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq > before_seq)
            .order_by(AuditEvent.seq)
        ).all()
        got = [(e.event_type, e.target_type, e.target_id) for e in events]
        assert got == [(x.event_type, x.target_type, x.target_id) for x in expected]
        for event, want in zip(events, expected, strict=True):
            assert event.outcome == "success"
            assert event.actor_user_id == actor.user_id
            assert event.actor_name == actor.name
            assert event.platform == actor.platform
            assert event.source_ip == actor.ip
            assert event.device_id is None
            assert started <= event.occurred_at <= finished
            assert event.occurred_at == event.received_at
            assert event.list_id == want.list_id
            assert event.record_id == want.record_id
            assert event.target_name
            for key, value in (want.details or {}).items():
                assert event.details[key] == value, key
        assert audit.verify(session).ok


def test_every_mutating_service_is_covered() -> None:
    """A new public service function that takes an actor must be added above
    (or to the list of reads below), so no change can slip past the log."""
    modules = {
        "accounts": accounts,
        "api_keys": api_keys,
        "vault": vault,
        "settings": settings,
        "mobile": mobile,
        "interchange": interchange,
    }
    with_actor = {
        f"{label}.{name}"
        for label, module in modules.items()
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if fn.__module__ == module.__name__
        and not name.startswith("_")
        and "actor" in inspect.signature(fn).parameters
    }
    covered = {
        "accounts.create_user",
        "accounts.set_active",
        "accounts.set_password",
        "accounts.create_group",
        "accounts.add_member",
        "accounts.remove_member",
        "accounts.grant_feature",
        "accounts.revoke_feature",
        "api_keys.create_key",
        "api_keys.revoke_key",
        "vault.create_folder",
        "vault.rename_folder",
        "vault.delete_folder",
        "vault.create_list",
        "vault.delete_list",
        "vault.grant",
        "vault.revoke",
        "vault.set_mobile_access",
        "vault.create_record",
        "vault.update_record",
        "vault.delete_record",
        "vault.read_record",
        "settings.set_value",
        "settings.store_pin",  # set_value("app_server_pin", ...)
        "settings.regenerate_pairing_secret",  # through mobile's, tested above
        "mobile.set_master_password",
        "mobile.clear_master_password",
        "mobile.lift_lockout",
        "mobile.pairing_payload",
        "mobile.regenerate_pairing_secret",
        "mobile.revoke_device",
        "mobile.request_wipe",
        "mobile.revoke_user_devices",  # through set/clear master password
        "interchange.import_bundle",
    }
    # Reads and checks that take an actor to decide what it may see.
    reads = {
        "vault.list_summaries",
        "vault.records_in",
        "vault.require_level",
        "vault.require_list_admin",
        "mobile.list_devices",
        "interchange.export_bundle",
        "interchange.lists_at",
    }
    assert with_actor - reads == covered
