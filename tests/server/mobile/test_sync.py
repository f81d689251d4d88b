"""Delta sync through the service: deltas, revocations, lost replies, clones."""

import concurrent.futures
import copy
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from strongroom.crypto.errors import DecryptionError
from strongroom.protocol.errors import ErrorCode
from strongroom.protocol.qr import PairingPayload
from strongroom.protocol.schemas import SyncResponse
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import Group
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.errors import PermissionDenied, ValidationError
from strongroom.server.core.instance import operator
from strongroom.server.mobile import devices, pairing, sync
from strongroom.server.mobile import service as mobile
from strongroom.server.mobile.errors import (
    CredentialReplayed,
    CursorInvalid,
    DeviceRevoked,
    DeviceUnknown,
    StaleQrCode,
    WipeRequested,
)
from strongroom.server.mobile.models import (
    DEVICE_REVOKED,
    DEVICE_WIPED,
    Device,
    DeviceSyncState,
)
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import PasswordList
from tests.server.mobile.helpers import (
    DB1_PASSWORD,
    MASTER_PASSWORD,
    Phone,
    World,
    alice,
    device_event,
)

Sync = Callable[..., Phone]
ALL = {"db1", "web1", "bank-login", "bank-api"}
BOB_MASTER = "bob-mobile-pass-77"


def _events_of(world: World, event_id: str) -> int:
    with world.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.id == event_id)
            )
            or 0
        )


def test_first_sync_is_full_with_lists_and_policies(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """The first sync sends every visible record, the lists with folder paths
    and the policies."""
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    phone.apply(reply)

    assert reply.full
    assert phone.titles() == ALL
    paths = sorted((*item.folder_path, item.name) for item in phone.lists.values())
    assert paths == [("Finance", "Bank"), ("Infra", "Servers")]
    assert reply.policies.failed_unlock_limit == 5
    assert reply.policies.biometric_allowed is True


def test_delta_after_one_edit_carries_only_that_record(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """After a record changes, the next sync carries that record alone, small."""
    do_sync(phone)
    idle = sync.sync(world.instance, phone.sync_request(), ip=None)
    phone.apply(idle)
    assert (idle.full, idle.upserts, idle.removed_record_ids, idle.lists) == (
        False,
        [],
        [],
        None,
    )

    with world.session() as session:
        record = vault.get_record(session, world.records["web1"])
        vault.update_record(
            session,
            operator(),
            world.instance.cipher,
            record,
            vault.RecordInput(title="web1", password="rotated-pass"),
        )
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    phone.apply(reply)

    assert [r.title for r in reply.upserts] == ["web1"]
    assert reply.removed_record_ids == [] and reply.lists is None
    assert len(reply.model_dump_json()) < 2048
    assert phone.secrets("web1").password == "rotated-pass"
    assert phone.titles() == ALL


def test_reply_seals_secrets_to_the_device(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """No secret appears in the reply's JSON; the device's key unseals them all."""
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    text = reply.model_dump_json()
    for secret in (DB1_PASSWORD, "rack 4", "JBSWY3DPEHPK3PXP", "4711"):
        assert secret not in text
    phone.apply(reply)

    secrets = phone.secrets("db1")
    assert (secrets.password, secrets.notes, secrets.otp_secret) == (
        DB1_PASSWORD,
        "rack 4",
        "JBSWY3DPEHPK3PXP",
    )
    assert secrets.secret_fields == {"pin": "4711"}
    assert secrets.record_id == world.records["db1"]
    db1 = next(r for r in phone.records.values() if r.title == "db1")
    assert [(f.name, f.value, f.secret) for f in db1.fields] == [
        ("pin", "", True),
        ("port", "5432", False),
    ]
    stranger = Phone.new()
    stranger.records = phone.records
    with pytest.raises(DecryptionError):
        stranger.secrets("db1")


def _flag_off(world: World) -> None:
    with world.session() as session:
        bank = session.get(PasswordList, world.bank_id)
        vault.grant(
            session,
            operator(),
            bank,
            vault.Level.MODIFY,
            user=alice(session),
            mobile_access=False,
        )


def _grant_removed(world: World) -> None:
    with world.session() as session:
        bank = session.get(PasswordList, world.bank_id)
        vault.revoke(session, operator(), bank, user=alice(session))


def _left_group(world: World) -> None:
    with world.session() as session:
        ops = session.get(Group, world.ops_group_id)
        accounts.remove_member(session, operator(), ops, alice(session))


def _feature_removed(world: World) -> None:
    with world.session() as session:
        accounts.revoke_feature(session, operator(), "mobile", user=alice(session))


def _record_deleted(world: World) -> None:
    with world.session() as session:
        vault.delete_record(
            session, operator(), vault.get_record(session, world.records["db1"])
        )


def _list_deleted(world: World) -> None:
    with world.session() as session:
        vault.delete_list(session, operator(), session.get(PasswordList, world.bank_id))


def _user_disabled(world: World) -> None:
    with world.session() as session:
        accounts.set_active(session, operator(), alice(session), False)


BANK = {"bank-login", "bank-api"}
SERVERS = {"db1", "web1"}


@pytest.mark.parametrize(
    ("revoke", "gone", "lists_left"),
    [
        (_flag_off, BANK, {"Servers"}),
        (_grant_removed, BANK, {"Servers"}),
        (_left_group, SERVERS, {"Bank"}),
        (_feature_removed, ALL, set()),
        (_record_deleted, {"db1"}, {"Servers", "Bank"}),
        (_list_deleted, BANK, {"Servers"}),
        (_user_disabled, ALL, set()),
    ],
    ids=[
        "mobile flag off",
        "grant removed",
        "left the group",
        "feature removed",
        "record deleted",
        "list deleted",
        "user disabled",
    ],
)
def test_every_revocation_removes_records_on_next_sync(
    world: World,
    phone: Phone,
    do_sync: Sync,
    revoke: Callable[[World], None],
    gone: set[str],
    lists_left: set[str],
) -> None:
    """Each kind of revocation in DESIGN.md empties the phone of what it covers."""
    do_sync(phone)
    revoke(world)
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    phone.apply(reply)

    assert not reply.full
    assert phone.titles() == ALL - gone
    title_of = {v: k for k, v in world.records.items()}
    assert {title_of[rid] for rid in reply.removed_record_ids} == gone
    assert reply.upserts == []
    assert {item.name for item in phone.lists.values()} == lists_left
    # And it stays that way: the next sync has nothing more to say.
    again = sync.sync(world.instance, phone.sync_request(), ip=None)
    phone.apply(again)
    assert (again.upserts, again.removed_record_ids) == ([], [])


def test_regained_access_brings_records_back(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """A list that becomes visible again arrives whole, old versions included."""
    do_sync(phone)
    _left_group(world)
    do_sync(phone)
    assert phone.titles() == BANK
    with world.session() as session:
        ops = session.get(Group, world.ops_group_id)
        accounts.add_member(session, operator(), ops, alice(session))
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    phone.apply(reply)
    assert {r.title for r in reply.upserts} == SERVERS
    assert phone.titles() == ALL


def test_folder_rename_resends_lists_only(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """Renaming a folder sends the list table with the new path and no records."""
    do_sync(phone)
    with world.session() as session:
        folder = vault.find_folder(session, "Infra")
        assert folder is not None
        vault.rename_folder(session, operator(), folder, "Datacentre")
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    phone.apply(reply)
    assert reply.upserts == [] and reply.lists is not None
    assert {tuple(i.folder_path) for i in phone.lists.values()} == {
        ("Datacentre",),
        ("Finance",),
    }


def test_lost_reply_is_repaired_and_events_are_stored_once(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """A reply lost in transit: the retry with the old cursor and credential
    carries the changes again, and the events are stored exactly once."""
    do_sync(phone)
    with world.session() as session:
        vault.delete_record(
            session, operator(), vault.get_record(session, world.records["web1"])
        )
        record = vault.get_record(session, world.records["db1"])
        vault.update_record(
            session,
            operator(),
            world.instance.cipher,
            record,
            vault.RecordInput(title="db1-renamed", password="x"),
        )
    events = [
        device_event(record_id=world.records["db1"]),
        device_event("device.unlock"),
    ]

    lost = sync.sync(world.instance, phone.sync_request(events), ip=None)  # dropped
    assert lost.stored_event_ids == [e["event_id"] for e in events]
    retry = sync.sync(world.instance, phone.sync_request(events), ip=None)
    phone.apply(retry)

    assert [r.title for r in retry.upserts] == ["db1-renamed"]
    assert retry.removed_record_ids == [world.records["web1"]]
    assert retry.stored_event_ids == [e["event_id"] for e in events]
    assert phone.titles() == {"db1-renamed", "bank-login", "bank-api"}
    assert [_events_of(world, e["event_id"]) for e in events] == [1, 1]

    # The lost reply's credential was never used; the repaired state goes on.
    do_sync(phone)
    assert phone.titles() == {"db1-renamed", "bank-login", "bank-api"}


def test_device_events_keep_device_time_and_get_receipt_time(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """Uploaded events keep the device's time, device id and platform."""
    event = device_event("device.record_revealed", record_id=world.records["db1"])
    do_sync(phone, [event])
    with world.session() as session:
        row = session.scalar(
            select(AuditEvent).where(AuditEvent.id == event["event_id"])
        )
    assert row is not None
    assert row.occurred_at.isoformat() == event["occurred_at"]
    assert row.received_at > row.occurred_at
    assert (row.platform, row.device_id, row.actor_user_id) == (
        "device",
        phone.device_id,
        world.alice_id,
    )
    assert (row.event_type, row.target_name) == ("device.record_revealed", "db1")


def test_replayed_credential_revokes_the_device(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """A clone presenting an already-rotated credential revokes the device;
    the event is audited and the genuine phone is told it is revoked."""
    do_sync(phone)
    clone = copy.deepcopy(phone)
    do_sync(phone)
    do_sync(phone)  # the clone's credential is now retired

    with pytest.raises(CredentialReplayed) as caught:
        sync.sync(world.instance, clone.sync_request(), ip="10.6.6.6")
    assert caught.value.wire_code is ErrorCode.CREDENTIAL_REPLAYED

    with world.session() as session:
        device = session.get(Device, phone.device_id)
        assert device is not None and device.status == DEVICE_REVOKED
        assert "replay" in (device.last_failure_reason or "")
        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.event_type == "device.credential_replayed"
            )
        )
        assert event is not None and event.source_ip == "10.6.6.6"
    with pytest.raises(DeviceRevoked):
        sync.sync(world.instance, phone.sync_request(), ip=None)


def test_clone_racing_the_genuine_device_is_caught(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """A copy that syncs first makes the genuine phone's pending credential a
    dropped one; the genuine phone presenting it reveals the copy."""
    do_sync(phone)
    pending = sync.sync(world.instance, phone.sync_request(), ip=None)
    clone = copy.deepcopy(phone)  # copied before the reply landed
    phone.apply(pending)
    do_sync(clone)  # presents the current credential: the pending one is dropped
    with pytest.raises(CredentialReplayed):
        sync.sync(world.instance, phone.sync_request(), ip=None)


@pytest.mark.parametrize(
    "credential", ["forged-credential-" + "x" * 30, "a"], ids=["forged", "short"]
)
def test_forged_credential_is_refused_without_any_write(
    world: World, phone: Phone, do_sync: Sync, credential: str
) -> None:
    """A credential the device never held is refused; state and events unchanged."""
    do_sync(phone)
    with world.session() as session:
        before = session.get(Device, phone.device_id)
        assert before is not None
        hashes = (before.credential_hash, before.pending_credential_hash)
    event = device_event()
    forged = phone.sync_request([event]).model_copy(
        update={"device_credential": credential}
    )
    with pytest.raises(DeviceUnknown):
        sync.sync(world.instance, forged, ip=None)
    with world.session() as session:
        after = session.get(Device, phone.device_id)
        assert after is not None
        assert (after.credential_hash, after.pending_credential_hash) == hashes
        assert after.status == "active"
    assert _events_of(world, event["event_id"]) == 0
    do_sync(phone)  # the genuine phone is unaffected


def test_cursor_of_another_device_is_refused_without_any_write(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """A cursor that is not this device's gets CURSOR_INVALID and changes nothing."""
    other = Phone.new()
    other.paired(pairing.pair(world.instance, other.pair_request(world.qr), ip=None))
    do_sync(other)
    do_sync(phone)
    event = device_event()
    request = phone.sync_request([event]).model_copy(update={"cursor": other.cursor})
    with world.session() as session:
        state_before = session.get(DeviceSyncState, phone.device_id)
        pending_before = state_before.pending_cursor if state_before else None
    with pytest.raises(CursorInvalid) as caught:
        sync.sync(world.instance, request, ip=None)
    assert caught.value.http_status == 409
    assert _events_of(world, event["event_id"]) == 0
    with world.session() as session:
        state = session.get(DeviceSyncState, phone.device_id)
        assert state is not None and state.pending_cursor == pending_before
    do_sync(phone)  # the credential did not rotate: the phone carries on


def test_event_without_time_zone_is_refused_and_nothing_stored(
    world: World, phone: Phone
) -> None:
    """An event time without zone is a field error; no event of the batch is kept."""
    good, bad = device_event(), device_event()
    bad["occurred_at"] = "2026-01-02T03:04:05"
    with pytest.raises(ValidationError) as caught:
        sync.sync(world.instance, phone.sync_request([good, bad]), ip=None)
    assert caught.value.field == "events.1.occurred_at"
    assert _events_of(world, good["event_id"]) == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("record_id", "a\u202e\nb"),
        ("record_id", "../../admin"),
        ("list_id", "not-a-uuid"),
        ("field", "pass\x1b[2Jword"),
    ],
)
def test_event_ids_and_field_that_would_spoof_the_log_are_refused(
    world: World, phone: Phone, key: str, value: str
) -> None:
    """A record or list id that is not a UUID, or a field name with control
    characters, is a field error naming it; nothing of the batch is stored."""
    good, bad = device_event(), device_event()
    bad[key] = value
    with pytest.raises(ValidationError) as caught:
        sync.sync(world.instance, phone.sync_request([good, bad]), ip=None)
    assert caught.value.field == f"events.1.{key}"
    assert _events_of(world, good["event_id"]) == 0
    assert _events_of(world, bad["event_id"]) == 0


def test_event_ids_are_stored_in_canonical_form(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """An upper-case record id still names its record in the log."""
    record_id = world.records["db1"]
    event = device_event("device.record_viewed", record_id=record_id.upper())
    do_sync(phone, [event])
    with world.session() as session:
        row = session.scalar(
            select(AuditEvent).where(AuditEvent.id == event["event_id"])
        )
    assert row is not None
    assert (row.record_id, row.target_name) == (record_id, "db1")


def test_wipe_is_delivered_once_then_device_stays_wiped(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """An ordered wipe answers WIPE_REQUESTED on next contact, audited; the
    device's last events are still stored."""
    do_sync(phone)
    with world.session() as session:
        mobile.request_wipe(session, operator(), phone.device_id or "")
    last_words = device_event("device.record_copied", record_id=world.records["db1"])
    with pytest.raises(WipeRequested) as caught:
        sync.sync(world.instance, phone.sync_request([last_words]), ip=None)
    assert caught.value.http_status == 410
    with pytest.raises(WipeRequested):
        sync.sync(world.instance, phone.sync_request(), ip=None)
    assert _events_of(world, last_words["event_id"]) == 1
    with world.session() as session:
        device = session.get(Device, phone.device_id)
        assert device is not None and device.status == DEVICE_WIPED
        kinds = set(
            session.scalars(
                select(AuditEvent.event_type).where(
                    AuditEvent.target_id == phone.device_id
                )
            )
        )
    assert {"device.wipe_requested", "device.wiped"} <= kinds


def test_revoke_by_admin_and_by_owner_but_not_by_others(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """Admins and the device's owner may revoke it; another user may not."""
    from strongroom.server.core.actor import Actor

    do_sync(phone)
    stranger = Actor(user_id="someone-else", name="bob", platform="web")
    owner = Actor(user_id=world.alice_id, name="alice", platform="web")
    with world.session() as session:
        with pytest.raises(PermissionDenied):
            mobile.revoke_device(session, stranger, phone.device_id or "")
        with pytest.raises(PermissionDenied):
            mobile.request_wipe(session, stranger, phone.device_id or "")
        assert [d.id for d in mobile.list_devices(session, owner)] == [phone.device_id]
        assert mobile.list_devices(session, stranger) == []
        mobile.revoke_device(session, owner, phone.device_id or "")
    with pytest.raises(DeviceRevoked) as caught:
        sync.sync(world.instance, phone.sync_request(), ip=None)
    assert caught.value.wire_code is ErrorCode.DEVICE_REVOKED
    with world.session() as session:
        device = session.get(Device, phone.device_id)
        assert device is not None
        assert device.last_failure_reason and "revoked" in device.last_failure_reason


def test_clearing_credentials_revokes_devices(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """`mobile clear` revokes the user's devices; their next sync is refused."""
    do_sync(phone)
    with world.session() as session:
        assert mobile.clear_master_password(session, operator(), alice(session)) == 1
    with pytest.raises(DeviceRevoked):
        sync.sync(world.instance, phone.sync_request(), ip=None)


def _paired_phone(world: World, qr: PairingPayload, password: str) -> Phone:
    device = Phone.new()
    device.paired(
        pairing.pair(world.instance, device.pair_request(qr, password), ip=None)
    )
    return device


def test_regenerating_the_pairing_secret_revokes_every_device(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """A new pairing secret revokes every active device of every user (each
    revocation audited, then the regeneration); their next sync is refused as
    revoked, and pairing needs a new QR code."""
    do_sync(phone)
    second = _paired_phone(world, world.qr, MASTER_PASSWORD)
    wiping = _paired_phone(world, world.qr, MASTER_PASSWORD)
    with world.session() as session:
        actor = operator()
        bob = accounts.create_user(session, actor, "bob", password="bob-web-pass-12")
        accounts.grant_feature(session, actor, "mobile", user=bob)
        mobile.set_master_password(session, actor, bob, BOB_MASTER)
        bob_qr = mobile.pairing_payload(session, actor, world.instance.cipher, bob)
        mobile.request_wipe(session, actor, wiping.device_id or "")
    bobs = _paired_phone(world, bob_qr, BOB_MASTER)

    with world.session() as session:
        before = session.scalar(select(func.max(AuditEvent.seq)))
        result = mobile.regenerate_pairing_secret(
            session, operator(), world.instance.cipher
        )
    assert result.devices_revoked == 3

    revoked = [phone, second, bobs]
    with world.session() as session:
        for device in revoked:
            row = session.get(Device, device.device_id)
            assert row is not None and row.status == DEVICE_REVOKED
            assert row.revoked_reason == "pairing secret regenerated"
        # The wipe order stands: that phone still erases itself on contact.
        wiped = session.get(Device, wiping.device_id)
        assert wiped is not None and wiped.status == "wipe_requested"
        events = session.execute(
            select(AuditEvent.event_type, AuditEvent.target_id, AuditEvent.details)
            .where(AuditEvent.seq > before)
            .order_by(AuditEvent.seq)
        ).all()
    # One revocation per device, then the regeneration naming how many.
    assert sorted(target for kind, target, _ in events[:-1]) == sorted(
        d.device_id or "" for d in revoked
    )
    assert {kind for kind, _, _ in events[:-1]} == {"device.revoked"}
    assert events[-1].event_type == "mobile.pairing_secret_regenerated"
    assert events[-1].details["devices_revoked"] == 3

    for device in revoked:
        with pytest.raises(DeviceRevoked) as caught:
            sync.sync(world.instance, device.sync_request(), ip=None)
        assert caught.value.wire_code is ErrorCode.DEVICE_REVOKED
    with pytest.raises(WipeRequested):
        sync.sync(world.instance, wiping.sync_request(), ip=None)
    # The QR codes shown before no longer pair.
    with pytest.raises(StaleQrCode):
        pairing.pair(world.instance, Phone.new().pair_request(world.qr), ip=None)


def test_logout_revokes_the_device_and_is_idempotent(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """Logout revokes the calling device; a retry gets the same answer."""
    do_sync(phone)
    for _ in range(2):
        reply = devices.logout(
            world.instance.db, phone.device_id or "", phone.credential or "", 1, None
        )
        assert reply.revoked
    with world.session() as session:
        device = session.get(Device, phone.device_id)
        assert device is not None and device.status == DEVICE_REVOKED
    with pytest.raises(DeviceRevoked):
        sync.sync(world.instance, phone.sync_request(), ip=None)


def test_policies_follow_settings_and_the_per_user_override(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """Every reply carries the current policies: a changed global setting and
    then a per-user time-to-live override reach the phone on its next sync,
    even when no record changed."""
    from strongroom.server.settings import service as settings

    do_sync(phone)
    with world.session() as session:
        for key, value in (
            ("offline_ttl_days", 14),
            ("failed_unlock_limit", 3),
            ("biometric_allowed", False),
            ("master_password_reentry_hours", 24),
        ):
            settings.set_value(session, operator(), key, value)
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    phone.apply(reply)
    assert (reply.upserts, reply.removed_record_ids) == ([], [])
    assert reply.policies.model_dump() == {
        "offline_ttl_days": 14,
        "failed_unlock_limit": 3,
        "biometric_allowed": False,
        "master_password_reentry_hours": 24,
    }

    with world.session() as session:
        alice(session).offline_ttl_days = 1
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    assert reply.policies.offline_ttl_days == 1


def test_a_grant_to_someone_else_costs_this_phone_nothing(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """Changes of other users' access move the global access counter; the
    phone's next sync still carries no records and no list table."""
    do_sync(phone)
    with world.session() as session:
        bob = accounts.create_user(
            session, operator(), "bob", password="bob-web-password-22"
        )
        vault.grant(
            session,
            operator(),
            session.get(PasswordList, world.servers_id),
            vault.Level.VIEW,
            user=bob,
        )
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    phone.apply(reply)
    assert (reply.upserts, reply.removed_record_ids, reply.lists) == ([], [], None)
    assert phone.titles() == ALL


def test_list_regained_with_edits_and_kept_list_edits_arrive_once(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """A list that comes back after an edit made while it was away, together
    with an edit in a list the phone kept, arrives in one reply, each record
    exactly once and at its newest."""
    do_sync(phone)
    _left_group(world)
    do_sync(phone)
    with world.session() as session:
        for title, new_title in (("db1", "db1-v2"), ("bank-api", "bank-api-v2")):
            vault.update_record(
                session,
                operator(),
                world.instance.cipher,
                vault.get_record(session, world.records[title]),
                vault.RecordInput(title=new_title, password="changed"),
            )
        accounts.add_member(
            session, operator(), session.get(Group, world.ops_group_id), alice(session)
        )
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    phone.apply(reply)

    ids = [record.id for record in reply.upserts]
    assert len(ids) == len(set(ids))
    assert {r.title for r in reply.upserts} == {"db1-v2", "web1", "bank-api-v2"}
    assert [r.version for r in reply.upserts] == sorted(
        r.version for r in reply.upserts
    )
    assert phone.titles() == {"db1-v2", "web1", "bank-login", "bank-api-v2"}
    assert phone.secrets("db1-v2").password == "changed"


def test_simultaneous_syncs_of_one_device_are_served_one_after_another(
    world: World, phone: Phone
) -> None:
    """The same request sent six times at once (a retry racing the original,
    or two App Servers) gets six answers and no server error, first sync or
    not; the last one served is the state the device carries on from."""
    for _round in range(2):
        request = phone.sync_request()

        def send(_index: int) -> SyncResponse:
            return sync.sync(world.instance, request, ip=None)

        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            replies = list(pool.map(send, range(6)))

        with world.session() as session:
            state = session.get(DeviceSyncState, phone.device_id)
            assert state is not None
            served_last = [r for r in replies if r.cursor == state.pending_cursor]
        assert len(served_last) == 1
        phone.apply(served_last[0])
        assert phone.titles() == ALL
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    assert (reply.full, reply.upserts) == (False, [])


def test_list_rename_resends_lists_only(
    world: World, phone: Phone, do_sync: Sync
) -> None:
    """A list whose name changes (with a new version, as every vault write
    takes) reaches the phone as a new list table, with no records."""
    from strongroom.server.core import counters

    do_sync(phone)
    with world.session() as session:
        bank = session.get(PasswordList, world.bank_id)
        assert bank is not None
        # The vault has no rename of lists yet; this is the write one makes.
        bank.name = "Bank (old)"
        bank.version = counters.bump(session, counters.RECORDS)
    reply = sync.sync(world.instance, phone.sync_request(), ip=None)
    phone.apply(reply)
    assert reply.upserts == [] and reply.lists is not None
    assert {item.name for item in phone.lists.values()} == {"Servers", "Bank (old)"}
