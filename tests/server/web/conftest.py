"""Fixtures for the browser UI tests: the app, signed-in clients, sample data.

Passwords are hashed at Argon2id's lowest cost here (see tests/server/support)
so that signing in many times stays fast; the cost itself is tested elsewhere.
"""

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.config import Settings
from strongroom.server.core.instance import InitResult, Instance, initialise
from strongroom.server.core.instance import operator as cli_operator
from strongroom.server.mobile import pairing, sync
from strongroom.server.mobile import service as mobile
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level
from strongroom.server.web.app import create_web_app
from tests.conftest import ADMIN_PASSWORD
from tests.server.mobile.helpers import Phone
from tests.server.support import _CHEAP, use_cheap_hashing

USER_PASSWORD = "alice-has-a-long-password"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def initialised(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> InitResult:
    """An initialised instance whose passwords are hashed cheaply."""
    use_cheap_hashing(monkeypatch)
    monkeypatch.setattr("strongroom.server.mobile.service.hash_password", _CHEAP.hash)
    return initialise(settings, admin_name="admin", admin_password=ADMIN_PASSWORD)


@pytest.fixture
def app(instance: Instance) -> FastAPI:
    """The browser UI for the test instance."""
    return create_web_app(instance)


def csrf_of(html: str) -> str:
    """The CSRF token a rendered page carries."""
    found = CSRF_RE.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str) -> TestClient:
    """Sign `client` in through the real login form."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def make_client(app: FastAPI) -> Iterator[Callable[..., TestClient]]:
    """A factory of HTTPS clients (several browsers at once)."""
    made: list[TestClient] = []

    def factory(base_url: str = "https://testserver") -> TestClient:
        client = TestClient(app, base_url=base_url)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def admin(make_client: Callable[..., TestClient]) -> TestClient:
    """A browser signed in as the administrator."""
    return sign_in(make_client(), "admin", ADMIN_PASSWORD)


@dataclass
class Sample:
    """Users, a group and lists made for a test."""

    alice_id: str
    bob_id: str
    group_id: str
    shared_id: str
    secret_id: str
    record_id: str


@pytest.fixture
def sample(instance: Instance) -> Sample:
    """alice (View on Team/Shared through group 'staff'), bob (no permission),
    a list 'Team/Shared' with one record and a list 'Vault/Secret' nobody has."""
    op = cli_operator()
    with instance.db.session() as session:
        alice = accounts.create_user(session, op, "alice", password=USER_PASSWORD)
        bob = accounts.create_user(session, op, "bob", password=USER_PASSWORD)
        staff = accounts.create_group(session, op, "staff")
        accounts.add_member(session, op, staff, alice)
        shared = vault.create_list(session, op, "Team/Shared", create_folders=True)
        secret = vault.create_list(session, op, "Vault/Secret", create_folders=True)
        vault.grant(session, op, shared, Level.VIEW, group=staff, mobile_access=False)
        record = vault.create_record(
            session,
            op,
            instance.cipher,
            shared,
            vault.RecordInput(
                title="Router",
                username="root",
                password="s3cret-Router-pw",
                url="https://router.example",
                otp_secret="JBSWY3DPEHPK3PXP",
                notes="behind the rack",
            ),
        )
        return Sample(alice.id, bob.id, staff.id, shared.id, secret.id, record.id)


@pytest.fixture
def alice(make_client: Callable[..., TestClient], sample: Sample) -> TestClient:
    """A browser signed in as alice (no administrator)."""
    return sign_in(make_client(), "alice", USER_PASSWORD)


def events(instance: Instance, event_type: str) -> list[AuditEvent]:
    """Every audit event of one type, oldest first."""
    with instance.db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.event_type == event_type)
                .order_by(AuditEvent.seq)
            )
        )


def user_named(instance: Instance, name: str) -> User:
    """Load a user by name in a fresh transaction."""
    with instance.db.session() as session:
        return accounts.find_user(session, name)


def field_error(html: str, field: str) -> str:
    """The message shown next to form field `field` ('' when none)."""
    found = re.search(
        rf'<small id="e-{re.escape(field)}" class="field-error">([^<]*)<', html
    )
    return found.group(1) if found else ""


# What a phone recorded offline and uploads with its sync: (type, device time).
OFFLINE_EVENTS = (
    ("device.record_viewed", "2024-03-01T12:00:00+00:00"),
    ("device.record_copied", "2024-03-05T12:00:00+00:00"),
    ("device.record_revealed", "2024-03-10T12:00:00+00:00"),
)


def phone_with_history(
    instance: Instance, user_name: str, offline: tuple[tuple[str, str], ...] = ()
) -> str:
    """`user_name` gets the Mobile App feature and a master password, pairs a
    phone and syncs it once, uploading the `offline` events, all through the
    services the App Server runs; returns the device id."""
    op = cli_operator()
    master = f"{user_name}-mobile-master-pw"
    with instance.db.session() as session:
        user = accounts.find_user(session, user_name)
        accounts.grant_feature(session, op, "mobile", user=user)
        mobile.set_master_password(session, op, user, master)
        qr = mobile.pairing_payload(session, op, instance.cipher, user)
    phone = Phone.new()
    phone.paired(pairing.pair(instance, phone.pair_request(qr, master), ip="10.0.0.7"))
    uploads = [
        {"event_id": str(uuid.uuid4()), "event_type": kind, "occurred_at": when}
        for kind, when in offline
    ]
    phone.apply(sync.sync(instance, phone.sync_request(uploads), ip="10.0.0.7"))
    assert phone.device_id is not None
    return phone.device_id
