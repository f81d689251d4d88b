"""A small organisation to sync, and a test phone that keeps a cache like the app.

Shared by the mobile service tests and the App Server tests.
"""

import base64
import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from strongroom.crypto import sealed_box
from strongroom.protocol import PROTOCOL_VERSION
from strongroom.protocol.qr import PairingPayload
from strongroom.protocol.schemas import (
    ListPayload,
    PairRequest,
    PairResponse,
    RecordPayload,
    SealedSecrets,
    SyncRequest,
    SyncResponse,
)
from strongroom.server.accounts import service as accounts
from strongroom.server.core.instance import Instance, operator
from strongroom.server.mobile import service as mobile
from strongroom.server.vault import service as vault

WEB_PASSWORD = "alice-web-password-1"
MASTER_PASSWORD = "alice-mobile-pass-9"
DB1_PASSWORD = "db1-root-S3cret!"


def fast_argon2(monkeypatch: Any) -> None:
    """Hash at test strength; the parameters travel inside each hash, so
    verification works unchanged (the server's own strength is tested by the
    subprocess tests, which run the real command)."""
    from strongroom.crypto import passwords

    monkeypatch.setattr(
        passwords,
        "_HASHER",
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


@dataclass
class World:
    """Alice, her group, two lists she may take on her phone, four records."""

    instance: Instance
    alice_id: str
    ops_group_id: str
    servers_id: str
    bank_id: str
    records: dict[str, str]  # title -> id
    qr: PairingPayload

    def session(self) -> Any:
        """A transaction on the instance's database."""
        return self.instance.db.session()


def build_world(instance: Instance) -> World:
    """Alice gets Servers through group Ops and Bank directly, both with Mobile
    Access, the Mobile App feature, a master password and a QR code."""
    actor = operator()
    cipher = instance.cipher
    with instance.db.session() as session:
        alice = accounts.create_user(
            session, actor, "alice", password=WEB_PASSWORD, display_name="Alice"
        )
        ops = accounts.create_group(session, actor, "Ops")
        accounts.add_member(session, actor, ops, alice)
        accounts.grant_feature(session, actor, "mobile", user=alice)
        servers = vault.create_list(
            session, actor, "Infra/Servers", create_folders=True
        )
        bank = vault.create_list(session, actor, "Finance/Bank", create_folders=True)
        vault.grant(session, actor, servers, vault.Level.VIEW, group=ops)
        vault.grant(session, actor, bank, vault.Level.MODIFY, user=alice)
        records = {}
        for plist, title, data in (
            (
                servers,
                "db1",
                vault.RecordInput(
                    title="db1",
                    username="root",
                    password=DB1_PASSWORD,
                    notes="rack 4",
                    otp_secret="JBSWY3DPEHPK3PXP",
                    fields=[
                        vault.GenericField("pin", "4711", secret=True),
                        vault.GenericField("port", "5432"),
                    ],
                ),
            ),
            (servers, "web1", vault.RecordInput(title="web1", password="web1-pass")),
            (bank, "bank-login", vault.RecordInput(title="bank-login", password="b1")),
            (bank, "bank-api", vault.RecordInput(title="bank-api", password="b2")),
        ):
            records[title] = vault.create_record(session, actor, cipher, plist, data).id
        mobile.set_master_password(session, actor, alice, MASTER_PASSWORD)
        qr = mobile.pairing_payload(session, actor, cipher, alice)
        return World(
            instance=instance,
            alice_id=alice.id,
            ops_group_id=ops.id,
            servers_id=servers.id,
            bank_id=bank.id,
            records=records,
            qr=qr,
        )


def alice(session: Session) -> Any:
    """Alice's user row."""
    return accounts.find_user(session, "alice")


@dataclass
class Phone:
    """A test device keeping its credential, cursor and cache as the app does."""

    private_key: bytes
    public_key: bytes
    installation_id: str
    device_id: str | None = None
    credential: str | None = None
    cursor: str | None = None
    records: dict[str, RecordPayload] = field(default_factory=dict)
    lists: dict[str, ListPayload] = field(default_factory=dict)

    @classmethod
    def new(cls) -> "Phone":
        """A fresh installation with its own key pair."""
        private, public = sealed_box.generate_keypair()
        return cls(private, public, installation_id=f"inst-{uuid.uuid4().hex[:16]}")

    def pair_body(
        self, qr: PairingPayload, password: str = MASTER_PASSWORD, **over: Any
    ) -> dict[str, Any]:
        """The JSON body of a pairing request built from a QR code."""
        body: dict[str, Any] = {
            "protocol_version": PROTOCOL_VERSION,
            "instance_id": qr.instance_id,
            "username": qr.username,
            "pairing_token": qr.token,
            "master_password": password,
            "installation_id": self.installation_id,
            "device_name": "Alice's phone",
            "device_platform": "test",
            "box_public_key": base64.b64encode(self.public_key).decode(),
        }
        body.update(over)
        return body

    def pair_request(
        self, qr: PairingPayload, password: str = MASTER_PASSWORD, **over: Any
    ) -> PairRequest:
        """A validated pairing request."""
        return PairRequest.model_validate(self.pair_body(qr, password, **over))

    def paired(self, response: PairResponse) -> None:
        """Keep what pairing returned."""
        self.device_id = response.device_id
        self.credential = response.device_credential

    def sync_body(self, events: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
        """The JSON body of the next sync request."""
        return {
            "protocol_version": PROTOCOL_VERSION,
            "device_id": self.device_id,
            "device_credential": self.credential,
            "cursor": self.cursor,
            "events": list(events),
        }

    def sync_request(self, events: Iterable[dict[str, Any]] = ()) -> SyncRequest:
        """A validated sync request."""
        return SyncRequest.model_validate(self.sync_body(events))

    def apply(self, reply: SyncResponse) -> None:
        """Commit a reply to the cache, as the app does in one transaction."""
        if reply.full:
            self.records = {}
            self.lists = {}
        for record in reply.upserts:
            self.records[record.id] = record
        for record_id in reply.removed_record_ids:
            self.records.pop(record_id, None)
        if reply.lists is not None:
            self.lists = {item.id: item for item in reply.lists}
        self.cursor = reply.cursor
        self.credential = reply.device_credential

    def titles(self) -> set[str]:
        """Titles of the records in the cache."""
        return {record.title for record in self.records.values()}

    def secrets(self, title: str) -> SealedSecrets:
        """Unseal a cached record's secrets with the device's private key."""
        record = next(r for r in self.records.values() if r.title == title)
        plain = sealed_box.unseal(self.private_key, base64.b64decode(record.sealed))
        return SealedSecrets.model_validate_json(plain)


def device_event(
    kind: str = "device.record_viewed", record_id: str | None = None
) -> dict[str, Any]:
    """One queued audit event with the device's own (past) time."""
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": kind,
        "occurred_at": (
            datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=3)
        ).isoformat(),
        "record_id": record_id,
    }
