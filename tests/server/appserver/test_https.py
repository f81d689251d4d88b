"""The App Server over real HTTPS: reachability, the whole device life, errors."""

import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from sqlalchemy import func, select

from strongroom.crypto.pins import pin_of_der
from strongroom.protocol.errors import ErrorResponse
from strongroom.server.appserver.runner import RunningServer
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.instance import operator
from strongroom.server.mobile import service as mobile
from strongroom.server.mobile.models import Device
from strongroom.server.settings import service as settings_service
from strongroom.server.vault import service as vault
from tests.server.appserver.helpers import pair_over_https, sync_over_https
from tests.server.mobile.helpers import DB1_PASSWORD, Phone, World, device_event


def _error(response: httpx.Response) -> tuple[int, str]:
    body = ErrorResponse.model_validate_json(response.content)
    assert body.error.message
    assert response.headers["content-type"].startswith("application/json")
    return response.status_code, body.error.code.value


def _audit_count(world: World) -> int:
    with world.session() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_status_page_says_status_ok(client: httpx.Client) -> None:
    """A browser on a phone opening the URL reads "Status OK"."""
    response = client.get("/")
    assert response.status_code == 200
    assert "Status OK" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_head_checks_answer_like_get(client: httpx.Client) -> None:
    """A load balancer's or monitor's HEAD gets the status without a body."""
    for path in ("/", "/health"):
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""


def test_health_answers_version_instance_and_database(
    client: httpx.Client, world: World
) -> None:
    """GET /health says who answers and that the database does."""
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "status": "ok",
        "version": "0.1.0",
        "instance_id": world.qr.instance_id,
        "database": "ok",
    }


def test_served_certificate_has_the_stored_pin(
    server: RunningServer, world: World
) -> None:
    """The certificate the App Server presents is the one whose pin phones get."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the pin, not a CA, is what is checked
    with (
        socket.create_connection((server.host, server.port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    with world.session() as session:
        assert pin_of_der(der) == settings_service.get(session, "app_server_pin")
    assert pin_of_der(der) == world.qr.pin


def test_device_life_over_https(client: httpx.Client, world: World) -> None:
    """Pair, sync, edit, delta, lose a reply, get revoked: all through HTTPS."""
    phone = pair_over_https(client, Phone.new(), world)

    first = sync_over_https(client, phone)
    assert first.status_code == 200
    assert first.json()["full"] is True
    assert DB1_PASSWORD not in first.text
    assert phone.secrets("db1").password == DB1_PASSWORD

    with world.session() as session:
        record = vault.get_record(session, world.records["web1"])
        vault.update_record(
            session,
            operator(),
            world.instance.cipher,
            record,
            vault.RecordInput(title="web1", password="new-web1"),
        )
    event = device_event(record_id=world.records["db1"])
    lost = client.post("/v1/sync", json=phone.sync_body([event]))  # reply dropped
    assert lost.status_code == 200
    delta = sync_over_https(client, phone, [event])
    assert delta.status_code == 200
    assert [u["title"] for u in delta.json()["upserts"]] == ["web1"]
    assert len(delta.content) < 2048
    assert delta.json()["stored_event_ids"] == [event["event_id"]]
    with world.session() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.id == event["event_id"])
            )
            == 1
        )

    with world.session() as session:
        mobile.revoke_device(session, operator(), phone.device_id or "")
    assert _error(sync_over_https(client, phone)) == (401, "device_revoked")


def test_wipe_and_logout_over_https(client: httpx.Client, world: World) -> None:
    """A wiped device gets 410 wipe_requested; logout revokes and answers 200."""
    wiped = pair_over_https(client, Phone.new(), world)
    sync_over_https(client, wiped)
    with world.session() as session:
        mobile.request_wipe(session, operator(), wiped.device_id or "")
    assert _error(sync_over_https(client, wiped)) == (410, "wipe_requested")

    leaving = pair_over_https(client, Phone.new(), world)
    sync_over_https(client, leaving)
    body = {
        "protocol_version": 1,
        "device_id": leaving.device_id,
        "device_credential": leaving.credential,
    }
    assert client.post("/v1/logout", json=body).json() == {"revoked": True}
    assert _error(sync_over_https(client, leaving)) == (401, "device_revoked")


def test_clone_over_https(client: httpx.Client, world: World) -> None:
    """Replaying a rotated credential over HTTPS answers credential_replayed."""
    phone = pair_over_https(client, Phone.new(), world)
    sync_over_https(client, phone)
    old_body = phone.sync_body()
    sync_over_https(client, phone)
    sync_over_https(client, phone)
    assert _error(client.post("/v1/sync", json=old_body)) == (
        401,
        "credential_replayed",
    )
    with world.session() as session:
        assert session.get(Device, phone.device_id).status == "revoked"  # type: ignore[union-attr]


PAIRING_REFUSALS: list[tuple[dict[str, object], tuple[int, str]]] = [
    ({"master_password": "wrong-password-1"}, (401, "bad_credentials")),
    ({"username": "nobody"}, (401, "bad_credentials")),
    ({"instance_id": "another-instance"}, (404, "unknown_instance")),
    ({"pairing_token": "stale-token"}, (401, "stale_qr")),
    ({"protocol_version": 0}, (426, "protocol_too_old")),
]


def test_pairing_refusals_map_to_status_and_code(
    client: httpx.Client, world: World
) -> None:
    """Each pairing refusal has its HTTP status and JSON code."""
    for overrides, expected in PAIRING_REFUSALS:
        body = Phone.new().pair_body(world.qr, **overrides)
        assert _error(client.post("/v1/pair", json=body)) == expected, overrides


def test_lockout_carries_retry_after(client: httpx.Client, world: World) -> None:
    """A locked-out user gets 429 with retry_after_seconds and Retry-After."""
    with world.session() as session:
        settings_service.set_value(session, operator(), "failed_unlock_limit", 2)
    for _ in range(2):
        body = Phone.new().pair_body(world.qr, master_password="nope-nope-nope")
        client.post("/v1/pair", json=body)
    response = client.post("/v1/pair", json=Phone.new().pair_body(world.qr))
    assert _error(response) == (429, "locked_out")
    seconds = response.json()["error"]["retry_after_seconds"]
    assert 0 < seconds <= 15 * 60
    assert response.headers["retry-after"] == str(seconds)


def _chunks(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        yield b" " * 65536
        sent += 65536


Make = Callable[[Phone, World], dict[str, Any]]

# (case, path, request keyword arguments from the phone and world, answer)
BAD_INPUT: list[tuple[str, str, Make, tuple[int, str]]] = [
    (
        "declared oversized",
        "/v1/sync",
        lambda p, w: {"content": b"{" + b" " * (600 * 1024) + b"}"},
        (413, "payload_too_large"),
    ),
    (
        "chunked oversized",
        "/v1/sync",
        lambda p, w: {"content": _chunks(700 * 1024)},
        (413, "payload_too_large"),
    ),
    (
        "not json",
        "/v1/sync",
        lambda p, w: {"content": b"not json"},
        (422, "invalid_request"),
    ),
    (
        "not an object",
        "/v1/sync",
        lambda p, w: {"json": [1, 2]},
        (422, "invalid_request"),
    ),
    (
        "wrong type",
        "/v1/sync",
        lambda p, w: {"json": {**p.sync_body(), "protocol_version": "one"}},
        (422, "invalid_request"),
    ),
    (
        "protocol version true",
        "/v1/sync",
        lambda p, w: {"json": {**p.sync_body(), "protocol_version": True}},
        (422, "invalid_request"),
    ),
    (
        "protocol version 1.0",
        "/v1/sync",
        lambda p, w: {"json": {**p.sync_body(), "protocol_version": 1.0}},
        (422, "invalid_request"),
    ),
    (
        "event time a number",
        "/v1/sync",
        lambda p, w: {"json": p.sync_body([{**device_event(), "occurred_at": 0}])},
        (422, "invalid_request"),
    ),
    (
        "events not a list",
        "/v1/sync",
        lambda p, w: {"json": {**p.sync_body(), "events": "many"}},
        (422, "invalid_request"),
    ),
    (
        "unknown field",
        "/v1/sync",
        lambda p, w: {"json": {**p.sync_body(), "surprise": True}},
        (422, "invalid_request"),
    ),
    (
        "forged credential",
        "/v1/sync",
        lambda p, w: {"json": {**p.sync_body(), "device_credential": "forged" * 7}},
        (401, "device_unknown"),
    ),
    (
        "unknown device",
        "/v1/sync",
        lambda p, w: {"json": {**p.sync_body(), "device_id": "no-such-device"}},
        (401, "device_unknown"),
    ),
    (
        "foreign cursor",
        "/v1/sync",
        lambda p, w: {"json": {**p.sync_body(), "cursor": "c1.someone-elses"}},
        (409, "cursor_invalid"),
    ),
    (
        "event id not a uuid",
        "/v1/sync",
        lambda p, w: {"json": p.sync_body([{**device_event(), "event_id": "x" * 32}])},
        (422, "invalid_request"),
    ),
    (
        "garbage public key",
        "/v1/pair",
        lambda p, w: {"json": Phone.new().pair_body(w.qr, box_public_key="%" * 44)},
        (422, "invalid_request"),
    ),
    (
        "unknown pairing field",
        "/v1/pair",
        lambda p, w: {"json": {**Phone.new().pair_body(w.qr), "admin": True}},
        (422, "invalid_request"),
    ),
    (
        "terminal escape in the device name",
        "/v1/pair",
        lambda p, w: {"json": Phone.new().pair_body(w.qr, device_name="\x1b[31mx")},
        (422, "invalid_request"),
    ),
    (
        "NUL in a username",
        "/v1/pair",
        lambda p, w: {"json": Phone.new().pair_body(w.qr, username="al\x00ice")},
        (422, "invalid_request"),
    ),
    (
        "NUL in an event field",
        "/v1/sync",
        lambda p, w: {"json": p.sync_body([{**device_event(), "field": "pass\x00"}])},
        (422, "invalid_request"),
    ),
    (
        "lone surrogate",
        "/v1/pair",
        lambda p, w: {
            "content": b'{"protocol_version": 1, "instance_id": "\\ud800", '
            b'"username": "a", "pairing_token": "t", "master_password": "p", '
            b'"installation_id": "12345678", "box_public_key": "' + b"A" * 44 + b'"}',
            "headers": {"content-type": "application/json"},
        },
        (422, "invalid_request"),
    ),
    (
        "event time beyond any calendar",
        "/v1/sync",
        lambda p, w: {
            "json": p.sync_body(
                [{**device_event(), "occurred_at": "0001-01-01T00:00:00+05:00"}]
            )
        },
        (422, "invalid_request"),
    ),
    ("empty logout", "/v1/logout", lambda p, w: {"json": {}}, (422, "invalid_request")),
    (
        "unknown path",
        "/v1/nowhere",
        lambda p, w: {"json": {}},
        (404, "invalid_request"),
    ),
]


def test_bad_input_gets_4xx_json_and_writes_nothing(
    client: httpx.Client, world: World
) -> None:
    """Malformed, oversized or forged requests get a 4xx JSON error, never a
    500, and leave the device and the database as they were."""
    phone = pair_over_https(client, Phone.new(), world)
    sync_over_https(client, phone)
    for name, path, make, expected in BAD_INPUT:
        with world.session() as session:
            device = session.get(Device, phone.device_id)
            assert device is not None
            before = (device.credential_hash, device.pending_credential_hash)
        audit_before = _audit_count(world)

        response = client.post(path, **make(phone, world))

        assert _error(response) == expected, name
        with world.session() as session:
            device = session.get(Device, phone.device_id)
            assert device is not None
            assert (device.credential_hash, device.pending_credential_hash) == before
            assert device.status == "active"
        # Refusals of a known device leave one audit line saying so, nothing else.
        assert _audit_count(world) - audit_before <= 1
        assert sync_over_https(client, phone).status_code == 200
