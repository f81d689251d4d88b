"""The device against the real App Server over HTTPS (SQLite and PostgreSQL)."""

import contextlib
import datetime
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path

import pytest
from sqlalchemy import select

from strongroom.client import audit_queue
from strongroom.client import state as device_state
from strongroom.client.cache import CacheStore
from strongroom.client.clipboard import MemoryClipboard
from strongroom.client.config import ClientSettings
from strongroom.client.device import Device, Vault
from strongroom.client.errors import (
    PIN_MISMATCH_AT_PAIRING_MESSAGE,
    PIN_MISMATCH_MESSAGE,
    CacheErased,
    DeviceRevoked,
    PinMismatch,
    ServerGarbage,
    ServerRefused,
    ServerTimeout,
    ServerUnreachable,
    WipeRequested,
)
from strongroom.client.keystore import MemoryKeystore
from strongroom.client.transport import HttpConnector
from strongroom.crypto.certificates import make_self_signed
from strongroom.protocol.errors import ErrorCode
from strongroom.protocol.schemas import DeviceEventType, SyncRequest, SyncResponse
from strongroom.server.appserver.runner import run_in_thread
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.instance import Instance, operator
from strongroom.server.mobile import service as mobile
from strongroom.server.vault import service as vault_service
from tests.client.serverside import (
    MASTER_PASSWORD,
    CountingApp,
    Org,
    build_org,
    fast_server_argon2,
    running_appserver,
)


@pytest.fixture(autouse=True)
def _fast_server_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_server_argon2(monkeypatch)


@pytest.fixture
def org(instance: Instance) -> Org:
    """Alice's organisation on the test database."""
    return build_org(instance)


@pytest.fixture
def appserver(instance: Instance, org: Org) -> Iterator[tuple[object, CountingApp]]:
    """The App Server over TLS in a thread."""
    with running_appserver(instance) as running:
        yield running


@pytest.fixture
def phone(tmp_path: Path) -> Device:
    """A device with in-memory keystore and clipboard, talking real HTTPS."""
    settings = ClientSettings(
        home=tmp_path / "phone", connect_timeout_seconds=3, read_timeout_seconds=3
    )
    return Device(settings, keystore=MemoryKeystore(), clipboard=MemoryClipboard())


@pytest.fixture
def synced(phone: Device, org: Org, appserver: object) -> Iterator[Vault]:
    """Alice's phone, paired from a fresh QR and synced."""
    opened = phone.pair(org.qr(), MASTER_PASSWORD)
    opened.sync()
    yield opened
    opened.lock()


def assert_matches_server(vault: Vault, org: Org) -> None:
    """The device holds exactly records_for_phone, every field equal."""
    expected = org.phone_view()
    held = {r.id: r for r in vault.records()}
    assert set(held) == set(expected)
    for record_id, (summary, secrets, list_path) in expected.items():
        assert held[record_id] == summary
        assert vault._secrets(held[record_id]) == secrets  # unaudited, for the check
        assert vault.list_path(summary.list_id) == list_path


def test_pair_and_sync_hold_exactly_the_phone_records(synced: Vault, org: Org) -> None:
    """Pairing and a sync over HTTPS give every record and field of the server."""
    assert_matches_server(synced, org)
    assert len(synced.records()) == 3
    assert synced.state.last_sync_at is not None
    age = datetime.datetime.now(datetime.UTC) - synced.state.last_sync_at
    assert age < datetime.timedelta(minutes=1)


def test_changes_and_revocations_reach_the_device(synced: Vault, org: Org) -> None:
    """A new record, a deleted record and a revoked grant all arrive by sync."""
    with org.session() as session:
        actor = operator()
        servers = vault_service.get_list(session, org.list_ids["Infra/Servers"])
        web1 = next(
            r
            for r in vault_service.records_in(session, actor, servers)
            if r.title == "web1"
        )
        vault_service.delete_record(session, actor, web1)
        bank = vault_service.get_list(session, org.list_ids["Finance/Bank"])
        vault_service.revoke(session, actor, bank, group=accounts_group(session, org))
    org.add_record(
        "Infra/Servers", vault_service.RecordInput(title="cache1", password="c1-pass-x")
    )
    summary = synced.sync()
    assert not summary.full
    assert_matches_server(synced, org)
    assert sorted(r.title for r in synced.records()) == ["cache1", "db1"]


def accounts_group(session: object, org: Org) -> object:
    from strongroom.server.accounts.models import Group

    return session.get(Group, org.group_id)  # type: ignore[attr-defined]


def test_secrets_are_in_neither_the_cache_nor_its_wal(
    synced: Vault, phone: Device
) -> None:
    """Known secrets synced over HTTPS appear in no byte of cache, WAL or SHM."""
    cache = phone.settings.cache_file
    data = b"".join(
        p.read_bytes()
        for p in (cache, Path(f"{cache}-wal"), Path(f"{cache}-shm"))
        if p.exists()
    )
    assert Path(f"{cache}-wal").exists()
    for secret in (
        "db1-root-S3cret!",
        "secret-note-db1",
        "4711-pin-secret",
        "bank-Pass-77",
        "web1-pass-Secret",
        MASTER_PASSWORD,
    ):
        assert secret.encode() not in data


def test_offline_events_land_once_with_device_time_and_id(
    synced: Vault, org: Org, phone: Device
) -> None:
    """Reveal, copy and OTP events land in the audit log once, with time and id."""
    record = synced.search("db1")[0]
    synced.reveal(record.id)
    synced.copy(record.id)
    synced.otp(record.id)
    synced.lock()
    with pytest.raises(Exception):
        phone.unlock("not the password")
    reopened = phone.unlock(MASTER_PASSWORD)
    queued = audit_queue.pending(
        reopened.store, reopened.key, reopened.state.queue_private_key, 100
    )
    assert len(queued) == 5  # reveal, copy, otp, failed unlock, unlock
    device_times = sorted((e.event_type.value, _utc(e.occurred_at)) for e in queued)
    reopened.sync()
    reopened.sync()
    with org.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(
                AuditEvent.device_id == reopened.state.device_id,
                AuditEvent.event_type.in_([t.value for t in DeviceEventType]),
            )
        ).all()
    kinds = sorted(r.event_type for r in rows)
    assert kinds == sorted(
        [
            "device.record_revealed",
            "device.record_copied",
            "device.otp_viewed",
            "device.unlock_failed",
            "device.unlock",
        ]
    )
    assert len({r.id for r in rows}) == len(rows)
    # Each event keeps the time the device gave it, not the time of upload.
    assert sorted((r.event_type, _utc(r.occurred_at)) for r in rows) == device_times
    for row in rows:
        assert row.device_id == reopened.state.device_id
        assert row.received_at >= row.occurred_at
    reopened.lock()


def _utc(moment: datetime.datetime) -> datetime.datetime:
    """An aware UTC time (SQLite hands naive UTC times back)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


@pytest.mark.parametrize(
    ("order", "error"),
    [
        ("wipe", WipeRequested),
        ("revoke", DeviceRevoked),
        ("regenerate", DeviceRevoked),
    ],
)
def test_wipe_and_revoke_erase_the_cache_on_contact(
    synced: Vault, org: Org, phone: Device, order: str, error: type[Exception]
) -> None:
    """A wipe order, a revocation or a new pairing secret (which revokes every
    paired device) makes the device erase its cache on contact."""
    with org.session() as session:
        if order == "wipe":
            mobile.request_wipe(session, operator(), synced.state.device_id)
        elif order == "revoke":
            mobile.revoke_device(session, operator(), synced.state.device_id)
        else:
            mobile.regenerate_pairing_secret(session, operator(), org.instance.cipher)
    with pytest.raises(error) as refused:
        synced.sync()
    if order == "regenerate":
        assert isinstance(refused.value, DeviceRevoked)
        assert refused.value.code is ErrorCode.DEVICE_REVOKED
    assert not phone.settings.cache_file.exists()
    with pytest.raises(CacheErased):
        phone.unlock(MASTER_PASSWORD)


def test_a_cloned_device_is_caught(
    synced: Vault, org: Org, phone: Device, tmp_path: Path
) -> None:
    """A copy of the cache that syncs after the original is refused and erased."""
    import shutil

    synced.lock()
    clone_home = tmp_path / "clone"
    shutil.copytree(phone.profile, clone_home)
    original = phone.unlock(MASTER_PASSWORD)
    original.sync()
    original.sync()
    original.lock()
    clone = Device(ClientSettings(home=clone_home), keystore=MemoryKeystore())
    with pytest.raises(DeviceRevoked):
        clone.unlock(MASTER_PASSWORD).sync()


def test_stale_qr_is_refused_with_its_code(
    phone: Device, org: Org, appserver: object
) -> None:
    """A QR made before a password reset is refused as stale; nothing is cached."""
    qr = org.qr()
    with org.session() as session:
        mobile.set_master_password(
            session, operator(), org.alice(session), "another-mobile-pass-5"
        )
    with pytest.raises(ServerRefused) as refused:
        phone.pair(qr, "another-mobile-pass-5")
    assert refused.value.code is ErrorCode.STALE_QR
    assert not phone.settings.cache_file.exists()


def test_wrong_master_password_at_pairing_is_refused(
    phone: Device, org: Org, appserver: object
) -> None:
    """Pairing with a wrong master password is refused and leaves no cache."""
    with pytest.raises(ServerRefused) as refused:
        phone.pair(org.qr(), "wrong-password-123")
    assert refused.value.code is ErrorCode.BAD_CREDENTIALS
    assert not phone.settings.cache_file.exists()


def test_pin_mismatch_refuses_before_any_request(
    synced: Vault,
    instance: Instance,
    appserver: tuple[object, CountingApp],
    tmp_path: Path,
) -> None:
    """Another key on the same address: refused with the message, zero requests."""
    server, _app = appserver
    port = server.port  # type: ignore[attr-defined]
    server.stop()  # type: ignore[attr-defined]
    other = make_self_signed(["127.0.0.1"])
    cert, key = tmp_path / "other.crt", tmp_path / "other.key"
    cert.write_bytes(other.cert_pem)
    key.write_bytes(other.key_pem)
    impostor = CountingApp(lambda scope, receive, send: None)
    running = run_in_thread(impostor, port=port, tls_cert=cert, tls_key=key)
    try:
        before = synced.store.event_count()
        with pytest.raises(PinMismatch) as refused:
            synced.sync()
        assert refused.value.message == PIN_MISMATCH_MESSAGE
        assert impostor.requests == 0
        assert synced.store.event_count() == before
    finally:
        running.stop()


class _ForeignKeyServer:
    """A TLS server with a key of its own, recording every byte sent after the
    handshake: what an intercepting proxy on the App Server's address would see."""

    def __init__(self, port: int, tmp_path: Path) -> None:
        import socket

        other = make_self_signed(["127.0.0.1"])
        cert, key = tmp_path / "foreign.crt", tmp_path / "foreign.key"
        cert.write_bytes(other.cert_pem)
        key.write_bytes(other.key_pem)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        self.received = b""
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError), conn:
                conn.settimeout(5)
                tls = self.context.wrap_socket(conn, server_side=True)
                self.handshakes += 1
                while chunk := tls.recv(65536):
                    self.received += chunk

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.sock.close()


@pytest.mark.parametrize("moment", ["pairing", "sync"])
def test_a_foreign_key_receives_not_one_byte(
    phone: Device,
    org: Org,
    appserver: tuple[object, object],
    tmp_path: Path,
    moment: str,
) -> None:
    """At pairing and at sync, a server with another key completes a handshake
    and then reads nothing: the pin is checked before the request is written."""
    import dataclasses

    qr = org.qr()
    if moment == "sync":
        phone.pair(qr, MASTER_PASSWORD).lock()
    server, _app = appserver
    port = server.port  # type: ignore[attr-defined]
    server.stop()  # type: ignore[attr-defined]
    foreign = _ForeignKeyServer(port, tmp_path)
    try:
        with pytest.raises(PinMismatch) as refused:
            if moment == "pairing":
                phone.pair(
                    dataclasses.replace(qr, url=f"https://127.0.0.1:{port}"), "x"
                )
            else:
                with phone.unlock(MASTER_PASSWORD) as vault:
                    vault.sync()
    finally:
        foreign.close()
    assert foreign.handshakes >= 1
    assert foreign.received == b""
    expected = (
        PIN_MISMATCH_AT_PAIRING_MESSAGE if moment == "pairing" else PIN_MISMATCH_MESSAGE
    )
    assert refused.value.message == expected
    assert phone.settings.cache_file.exists() == (moment == "sync")


def _read_request(tls: ssl.SSLSocket) -> None:
    """Read one whole request (head and body), so closing after the reply never
    resets a connection the client is still writing to."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = tls.recv(65536)
        if not chunk:
            return
        body += chunk


class _RawServer:
    """A TLS server with the App Server's key answering `reply` (or nothing)."""

    def __init__(self, instance: Instance, reply: bytes | None) -> None:
        import socket
        import ssl

        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(
            instance.settings.cert_file, instance.settings.cert_key_file
        )
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import contextlib

        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with (
                contextlib.suppress(OSError),
                self.context.wrap_socket(conn, server_side=True) as tls,
            ):
                tls.settimeout(5)
                _read_request(tls)
                if self.reply is None:
                    self.stop.wait(5)
                else:
                    tls.sendall(self.reply)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.sock.close()


def _point_at(vault: Vault, url: str) -> None:
    """Make the paired device talk to `url` from now on (as if the QR named it)."""
    vault.state = vault.state.evolve(server_url=url)
    with vault.store.transaction() as conn:
        device_state.save(vault.store, conn, vault.key, vault.state)


GARBAGE = [
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        ServerGarbage,
    ),
    (
        b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        ServerGarbage,
    ),
    (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n"
        b'Connection: close\r\n\r\n{"cursor": 12}',
        ServerGarbage,
    ),
    (b"not http at all\r\n\r\n", ServerUnreachable),
    (None, ServerTimeout),
]


def test_garbage_or_silence_leaves_the_cache_untouched(
    synced: Vault, instance: Instance
) -> None:
    """A server answering garbage or nothing gives a clear error and changes nothing."""
    for reply, error in GARBAGE:
        raw = _RawServer(instance, reply)
        try:
            _point_at(synced, f"https://127.0.0.1:{raw.port}")
            query = "SELECT count(*), group_concat(hex(summary)) FROM records"
            before = synced.store.conn.execute(query).fetchone()
            cursor_before = synced.state.cursor
            with pytest.raises(error):
                synced.sync()
            assert synced.store.conn.execute(query).fetchone() == before
            assert synced.state.cursor == cursor_before
        finally:
            raw.close()


def test_unreachable_server_is_a_clear_error(synced: Vault) -> None:
    """Nobody listening: ServerUnreachable, and reading still works offline."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _point_at(synced, f"https://127.0.0.1:{port}")
    with pytest.raises(ServerUnreachable):
        synced.sync()
    assert len(synced.records()) == 3


class _HeldReply:
    """A pinned connector that, once, holds its sync reply until released."""

    def __init__(self, url: str, pin: str, arrived: threading.Event) -> None:
        self.inner = HttpConnector(url, pin)
        self.arrived = arrived
        self.release = threading.Event()

    def sync(self, request: SyncRequest) -> SyncResponse:
        reply = self.inner.sync(request)
        self.arrived.set()
        self.release.wait(30)
        return reply

    def close(self) -> None:
        self.inner.close()


def _reopened(phone: Device, key: bytes, factory: object = None) -> Vault:
    """The profile opened again, as a second process would (key known: no Argon2)."""
    device = Device(
        phone.settings,
        keystore=MemoryKeystore(),
        connector_factory=factory,  # type: ignore[arg-type]
    )
    store = CacheStore.open(phone.settings.cache_file)
    return Vault(device, store, key, device_state.load(store, key), method="password")


def test_two_syncs_at_once_leave_a_device_that_still_syncs(
    synced: Vault, org: Org, phone: Device
) -> None:
    """Two commands syncing one profile at once: the second waits, nothing is revoked.

    Without that, the first would commit a credential the server retired when
    the second asked, and the next sync would be refused as a cloned device.
    """
    key = synced.key
    synced.lock()
    arrived = threading.Event()
    held: list[_HeldReply] = []

    def held_factory(url: str, pin: str) -> _HeldReply:
        held.append(_HeldReply(url, pin, arrived))
        return held[-1]

    def first() -> None:
        with _reopened(phone, key, held_factory) as vault:
            vault.sync()

    def second() -> None:
        with _reopened(phone, key) as vault:
            vault.sync()

    with ThreadPoolExecutor(max_workers=2) as pool:
        one = pool.submit(first)
        assert arrived.wait(30), "the first sync got no reply"
        two = pool.submit(second)
        # Let the second sync run while the first holds its reply uncommitted.
        with contextlib.suppress(FuturesTimeout):
            two.result(timeout=2)
        held[0].release.set()
        one.result(timeout=60)
        two.result(timeout=60)

    with _reopened(phone, key) as vault:
        vault.sync()
        assert_matches_server(vault, org)


def test_a_delta_sync_indexes_a_cache_that_has_no_search_index(
    synced: Vault, org: Org
) -> None:
    """A cache without the search index (an older one) is indexed by a delta sync."""
    from strongroom.client import search_index

    with synced.store.transaction() as conn:
        conn.execute("DELETE FROM sealed WHERE name = ?", (search_index.INDEX_ROW,))
    org.add_record(
        "Infra/Servers", vault_service.RecordInput(title="cache1", password="c1-pass-x")
    )
    assert not synced.sync().full
    index = search_index.read(synced.store, synced.key)
    assert index is not None and set(index) == set(org.phone_view())
    assert [r.title for r in synced.search("infra/servers")] == [
        "cache1",
        "db1",
        "web1",
    ]
