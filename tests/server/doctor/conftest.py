"""Scaffolding for the troubleshooter's tests: real servers on loopback.

`tls_server` runs a small HTTPS server (Python's ssl + http.server in a
thread) presenting any certificate and answering /health as told; `silent_port`
accepts TCP connections and never answers TLS; `closed_port` is a port where
nothing listens; `appserver` runs the real App Server app under uvicorn.
Every listener binds 127.0.0.1 and stops when its test ends.
"""

import base64
import contextlib
import datetime
import json
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import delete
from sqlalchemy.orm import Session

from strongroom.crypto import passwords, sealed_box
from strongroom.crypto.certificates import CertificatePair, make_self_signed
from strongroom.protocol import PROTOCOL_VERSION
from strongroom.protocol.qr import PairingPayload
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.appserver.app import create_appserver_app
from strongroom.server.appserver.runner import RunningServer, run_in_thread
from strongroom.server.core.db import utcnow
from strongroom.server.core.instance import Instance, operator
from strongroom.server.core.keys import FieldCipher
from strongroom.server.mobile import service as mobile
from strongroom.server.settings import service as settings_service
from strongroom.server.settings.models import SystemSetting
from strongroom.server.vault import service as vault

# Seconds per network step in tests. Loopback answers in microseconds, but an
# App Server thread competing with a loaded CI machine for the GIL once took
# over a second to answer /health; hang tests wait this long, so keep it short.
FAST = 3.0
MASTER_PASSWORD = "phone-master-Password-7"
WEB_PASSWORD = "web-password-for-alice-1"


def loopback_name() -> str:
    """`localhost` when it resolves to 127.0.0.1 alone (so the URL exercises DNS)."""
    try:
        infos = socket.getaddrinfo("localhost", 443, type=socket.SOCK_STREAM)
    except OSError:
        return "127.0.0.1"
    addresses = {info[4][0] for info in infos}
    return "localhost" if addresses == {"127.0.0.1"} else "127.0.0.1"


def write_pair(directory: Path, pair: CertificatePair, name: str) -> tuple[Path, Path]:
    """Write a certificate and key to files (ssl needs files)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    key.chmod(0o600)
    return cert, key


@dataclass
class Served:
    """A running test server."""

    port: int
    cert_pem: bytes

    def url(self, host: str = "127.0.0.1") -> str:
        """The https URL of this server under `host`."""
        return f"https://{host}:{self.port}"


def _handler(
    status: int, body: dict[str, Any], release: threading.Event | None
) -> type[BaseHTTPRequestHandler]:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if release is not None:
                # A server that completes TLS and then never answers HTTP.
                release.wait(30)
                return
            payload = json.dumps(body).encode()
            self.send_response(status if self.path == "/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Health


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at a test cost: the troubleshooter never hashes, its set-up does.

    Each set-up hashes four times (admin, user, master password and its
    comparison with the web password); at 64 MiB on a shared machine that is
    seconds per test for nothing the troubleshooter looks at.
    """
    monkeypatch.setattr(
        passwords,
        "_HASHER",
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start HTTPS servers presenting a given certificate; all stop at teardown.

    With `hang=True` the server completes the TLS handshake and never answers.
    """
    servers: list[ThreadingHTTPServer] = []
    release = threading.Event()

    def start(
        pair: CertificatePair,
        *,
        status: int = 200,
        body: dict[str, Any] | None = None,
        hang: bool = False,
    ) -> Served:
        cert, key = write_pair(tmp_path, pair, f"server{len(servers)}")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        handler = _handler(status, body or {}, release if hang else None)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return Served(port=httpd.server_address[1], cert_pem=pair.cert_pem)

    yield start
    release.set()
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers TLS."""
    with silent_listener() as port:
        yield port


@pytest.fixture
def closed_port() -> int:
    """A port where nothing listens."""
    return free_port()


def expired_pair(host: str = "127.0.0.1") -> CertificatePair:
    """A certificate for `host` whose validity ended yesterday."""
    start = utcnow() - datetime.timedelta(days=30)
    return make_self_signed([host], not_before=start, days=29)


def set_url(instance: Instance, url: str, *, pin: str | None = None) -> None:
    """Store the App Server URL (and a pin) as an admin would.

    An empty `url` removes the stored one, as on an instance where none was
    ever set (a set URL cannot be made blank through the service).
    """
    with instance.db.session() as session:
        if url:
            settings_service.set_value(session, operator(), "app_server_url", url)
        else:
            session.execute(
                delete(SystemSetting).where(SystemSetting.key == "app_server_url")
            )
        if pin is not None:
            settings_service.store_pin(session, operator(), pin)


def instance_pair(instance: Instance) -> CertificatePair:
    """The certificate and key `init` made for this instance's App Server."""
    settings = instance.settings
    return CertificatePair(
        settings.cert_file.read_bytes(), settings.cert_key_file.read_bytes()
    )


def make_phone_user(
    session: Session,
    cipher: FieldCipher,
    name: str = "alice",
    *,
    feature: bool = True,
    mobile_access: bool = True,
    master_password: bool = True,
    records: int = 2,
) -> User:
    """A user set up the way a phone needs, minus what a test switches off."""
    actor = operator()
    user = accounts.create_user(session, actor, name, password=WEB_PASSWORD)
    group = accounts.create_group(session, actor, f"{name}-team")
    accounts.add_member(session, actor, group, user)
    if feature:
        accounts.grant_feature(session, actor, "mobile", group=group)
    plist = vault.create_list(
        session, actor, f"Ops/{name}-servers", create_folders=True
    )
    for number in range(records):
        vault.create_record(
            session,
            actor,
            cipher,
            plist,
            vault.RecordInput(title=f"host{number}", password=f"pw-{number}"),
        )
    vault.grant(
        session, actor, plist, vault.Level.VIEW, user=user, mobile_access=mobile_access
    )
    if master_password:
        mobile.set_master_password(session, actor, user, MASTER_PASSWORD)
    return user


@pytest.fixture
def phone_user(instance: Instance) -> Callable[..., User]:
    """Create a phone user in its own committed transaction."""

    def create(name: str = "alice", **kwargs: Any) -> User:
        with instance.db.session() as session:
            return make_phone_user(session, instance.cipher, name, **kwargs)

    return create


def wait_for_port(port: int, deadline: float = 10.0) -> None:
    """Block until something accepts connections on 127.0.0.1:`port`."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {deadline} s")


# --- the real App Server and a phone that talks to it -----------------------------


@pytest.fixture
def appserver(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Run the real App Server app for an instance over TLS; all stop at teardown."""
    running: list[RunningServer] = []

    def start(served: Instance, pair: CertificatePair) -> RunningServer:
        cert, key = write_pair(tmp_path, pair, f"appserver{len(running)}")
        server = run_in_thread(
            create_appserver_app(served), host="127.0.0.1", tls_cert=cert, tls_key=key
        )
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


@dataclass
class HttpPhone:
    """Just enough of a phone to pair and sync over HTTPS, as the app does."""

    base_url: str
    cert_pem: bytes
    installation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    device_name: str = "Alice's phone"
    device_platform: str = "test"
    device_id: str | None = None
    credential: str | None = None
    cursor: str | None = None
    credentials_used: list[str] = field(default_factory=list)

    def _client(self) -> httpx.Client:
        # The test trusts exactly the App Server's certificate, as the pin does.
        context = ssl.create_default_context(cadata=self.cert_pem.decode())
        context.check_hostname = False
        return httpx.Client(base_url=self.base_url, verify=context, timeout=10)

    def pair(self, qr: PairingPayload, password: str = MASTER_PASSWORD) -> None:
        """Pair with the QR code's token and the master password."""
        _private, public = sealed_box.generate_keypair()
        body = {
            "protocol_version": PROTOCOL_VERSION,
            "instance_id": qr.instance_id,
            "username": qr.username,
            "pairing_token": qr.token,
            "master_password": password,
            "installation_id": self.installation_id,
            "device_name": self.device_name,
            "device_platform": self.device_platform,
            "box_public_key": base64.b64encode(public).decode(),
        }
        with self._client() as client:
            answer = client.post("/v1/pair", json=body)
        answer.raise_for_status()
        self.device_id = answer.json()["device_id"]
        self.credential = answer.json()["device_credential"]

    def sync(self, credential: str | None = None) -> httpx.Response:
        """One sync; with the server's answer applied when it succeeded."""
        used = credential or self.credential
        body = {
            "protocol_version": PROTOCOL_VERSION,
            "device_id": self.device_id,
            "device_credential": used,
            "cursor": self.cursor,
            "events": [],
        }
        with self._client() as client:
            answer = client.post("/v1/sync", json=body)
        if answer.status_code == 200:
            self.credentials_used.append(str(used))
            self.cursor = answer.json()["cursor"]
            self.credential = answer.json()["device_credential"]
        return answer


def show_qr(instance: Instance, user_name: str) -> PairingPayload:
    """The QR code an admin would show the user now."""
    with instance.db.session() as session:
        user = accounts.find_user(session, user_name)
        return mobile.pairing_payload(session, operator(), instance.cipher, user)
