"""The real server for the device's tests: an organisation, a TLS App Server.

Tests may import the server (only `strongroom.client` may not). The App Server
runs in a thread with the instance's own certificate, over real HTTPS, so the
device's pinning is exercised on every call.
"""

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from strongroom.client.models import RecordSecrets, RecordSummary
from strongroom.protocol.qr import PairingPayload
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import FEATURE_MOBILE, User
from strongroom.server.appserver.app import create_appserver_app
from strongroom.server.appserver.runner import RunningServer, run_in_thread
from strongroom.server.core.instance import Instance, operator
from strongroom.server.mobile import service as mobile
from strongroom.server.settings import service as system_settings
from strongroom.server.vault import service as vault

WEB_PASSWORD = "alice-web-password-1"
MASTER_PASSWORD = "alice-mobile-pass-9"


def fast_server_argon2(monkeypatch: Any) -> None:
    """Let the *server* hash master passwords at test strength.

    The parameters travel inside each hash, so verification works unchanged.
    The device's own Argon2id (64 MiB, 3 passes) is never touched.
    """
    from strongroom.crypto import passwords

    monkeypatch.setattr(
        passwords,
        "_HASHER",
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


class CountingApp:
    """An ASGI wrapper that counts the HTTP requests reaching the app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


@contextmanager
def running_appserver(
    instance: Instance,
    *,
    port: int = 0,
    cert: Path | None = None,
    key: Path | None = None,
) -> Iterator[tuple[RunningServer, CountingApp]]:
    """Serve the App Server over TLS in a thread; set app_server_url to it."""
    app = CountingApp(create_appserver_app(instance))
    server = run_in_thread(
        app,
        port=port,
        tls_cert=cert or instance.settings.cert_file,
        tls_key=key or instance.settings.cert_key_file,
    )
    with instance.db.session() as session:
        system_settings.set_value(session, operator(), "app_server_url", server.url)
    try:
        yield server, app
    finally:
        server.stop()


@dataclass
class Org:
    """Alice, in group Staff; lists on her phone's side of the fence; records."""

    instance: Instance
    alice_id: str
    group_id: str
    list_ids: dict[str, str] = field(default_factory=dict)  # path -> id

    def session(self) -> Any:
        """One transaction on the instance database."""
        return self.instance.db.session()

    def alice(self, session: Session) -> User:
        """Alice, loaded in `session`."""
        return accounts.get_user(session, self.alice_id)

    def qr(self) -> PairingPayload:
        """A fresh pairing payload for Alice."""
        with self.session() as session:
            return mobile.pairing_payload(
                session, operator(), self.instance.cipher, self.alice(session)
            )

    def add_record(self, list_path: str, data: vault.RecordInput) -> str:
        """Create a record in a list; return its id."""
        with self.session() as session:
            plist = vault.get_list(session, self.list_ids[list_path])
            return vault.create_record(
                session, operator(), self.instance.cipher, plist, data
            ).id

    def phone_view(self) -> dict[str, tuple[RecordSummary, RecordSecrets, str]]:
        """What Alice's phone should hold: records_for_phone, opened, by id."""
        out = {}
        with self.session() as session:
            for record in vault.records_for_phone(session, self.alice(session)):
                view = vault.open_record(session, self.instance.cipher, record)
                out[record.id] = (summary_of(view), secrets_of(view), view.list_path)
        return out


def summary_of(view: vault.RecordView) -> RecordSummary:
    """What the device should hold for a record, as the server sees it."""
    from strongroom.client.models import FieldInfo

    return RecordSummary(
        id=view.id,
        list_id=view.list_id,
        version=view.version,
        title=view.title,
        username=view.username,
        url=view.url,
        description=view.description,
        domain=view.domain,
        host_name=view.host_name,
        expires_at=view.expires_at,
        updated_at=view.updated_at,
        fields=tuple(
            FieldInfo(f.name, "" if f.secret else f.value, f.secret)
            for f in view.fields
        ),
        has_password=bool(view.password),
        has_notes=bool(view.notes),
        has_otp=bool(view.otp_secret),
    )


def secrets_of(view: vault.RecordView) -> RecordSecrets:
    """The secrets the device should hold for a record."""
    return RecordSecrets(
        password=view.password,
        notes=view.notes,
        otp_secret=view.otp_secret,
        secret_fields={f.name: f.value for f in view.fields if f.secret},
    )


def build_org(instance: Instance, *, master_password: str = MASTER_PASSWORD) -> Org:
    """Alice (Mobile App feature through group Staff) with two lists and records."""
    actor = operator()
    with instance.db.session() as session:
        alice = accounts.create_user(
            session, actor, "alice", password=WEB_PASSWORD, display_name="Alice"
        )
        staff = accounts.create_group(session, actor, "Staff")
        accounts.add_member(session, actor, staff, alice)
        accounts.grant_feature(session, actor, FEATURE_MOBILE, group=staff)
        mobile.set_master_password(session, actor, alice, master_password)
        org = Org(instance, alice.id, staff.id)
        for path in ("Infra/Servers", "Finance/Bank"):
            plist = vault.create_list(session, actor, path, create_folders=True)
            vault.grant(
                session, actor, plist, vault.Level.VIEW, group=staff, mobile_access=True
            )
            org.list_ids[path] = plist.id
    org.add_record(
        "Infra/Servers",
        vault.RecordInput(
            title="db1",
            username="root",
            password="db1-root-S3cret!",
            url="ssh://db1.internal",
            description="primary database",
            notes="rack 4, secret-note-db1",
            domain="internal",
            host_name="db1.internal",
            otp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            expires_at=datetime.date(2031, 5, 1),
            fields=[
                vault.GenericField("pin", "4711-pin-secret", secret=True),
                vault.GenericField("port", "5432"),
            ],
        ),
    )
    org.add_record(
        "Infra/Servers", vault.RecordInput(title="web1", password="web1-pass-Secret")
    )
    org.add_record(
        "Finance/Bank",
        vault.RecordInput(
            title="Bank login", username="alice@bank", password="bank-Pass-77"
        ),
    )
    return org


def bulk_records(
    instance: Instance, list_id: str, count: int, *, prefix: str = "r"
) -> list[str]:
    """Insert `count` records into a list in one statement (for large syncs).

    `create_record` costs several round trips per record; tests and benchmarks
    that need thousands use this instead. The secrets are sealed exactly as
    the vault seals them (`vault._aad` names the same record and field), so
    the App Server opens them as usual.
    """
    import uuid
    from unittest import mock

    from sqlalchemy import insert

    from strongroom.server.core import counters
    from strongroom.server.core.db import utcnow
    from strongroom.server.vault.models import Record

    now = utcnow()
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with (
        instance.db.session() as session,
        mock.patch.object(
            # The active data key is looked up once, not once per field.
            instance.cipher,
            "_active_key",
            return_value=instance.cipher._active_key(session),
        ),
    ):
        version = counters.bump(session, counters.RECORDS)
        rows = []
        seal = instance.cipher.seal
        for i, rid in enumerate(ids):
            rows.append(
                {
                    "id": rid,
                    "list_id": list_id,
                    "title": f"{prefix}{i:05d} service account",
                    "username": f"user{i}@example.org",
                    "url": f"https://host{i}.example.org/login",
                    "description": f"bulk record {i}",
                    "domain": "example.org",
                    "host_name": f"host{i}",
                    "expires_at": None,
                    "password_sealed": seal(
                        session,
                        f"pw-{prefix}-{i}-Secret",
                        aad=vault._aad(rid, "password"),
                    ),
                    "notes_sealed": seal(
                        session, f"notes {i} " + "x" * 120, aad=vault._aad(rid, "notes")
                    ),
                    "otp_sealed": None,
                    "version": version,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        session.execute(insert(Record), rows)
    return ids
