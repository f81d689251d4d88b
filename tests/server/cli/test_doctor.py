"""`strongroom doctor mobile|server` and `mobile query-pin`, as a user runs them."""

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import delete, update

from strongroom.crypto import passwords
from strongroom.crypto.certificates import make_self_signed
from strongroom.server.appserver.app import create_appserver_app
from strongroom.server.appserver.runner import RunningServer, run_in_thread
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.config import Settings
from strongroom.server.core.instance import Instance, initialise
from strongroom.server.settings.models import SystemSetting
from tests.server.cli.conftest import STRONGROOM_BIN, Cli
from tests.server.doctor.conftest import (
    HttpPhone,
    free_port,
    instance_pair,
    loopback_name,
    make_phone_user,
    set_url,
    show_qr,
    silent_listener,
    write_pair,
)
from tests.server.doctor.test_probe import openssl_pin


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    # Master passwords hash through strongroom.crypto.passwords directly.
    monkeypatch.setattr(
        passwords,
        "_HASHER",
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


@pytest.fixture
def opened(settings: Settings, cli: Cli) -> Iterator[Instance]:
    """The CLI's instance, opened for setting things up."""
    instance = Instance.open(settings)
    yield instance
    instance.close()


@pytest.fixture
def live_appserver(opened: Instance, tmp_path: Path) -> Iterator[RunningServer]:
    """The real App Server for the instance, with its own certificate, over TLS."""
    cert, key = write_pair(tmp_path, instance_pair(opened), "appserver")
    server = run_in_thread(create_appserver_app(opened), tls_cert=cert, tls_key=key)
    set_url(opened, f"https://{loopback_name()}:{server.port}")
    yield server
    server.stop()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    return free_port()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers."""
    with silent_listener() as port:
        yield port


def _alice(opened: Instance) -> None:
    with opened.db.session() as session:
        make_phone_user(session, opened.cipher)


def test_doctor_mobile_healthy(
    cli: Cli, opened: Instance, live_appserver: RunningServer
) -> None:
    """A healthy path prints a PASS line per check and exits 0."""
    _alice(opened)
    phone = HttpPhone(live_appserver.url, instance_pair(opened).cert_pem)
    phone.pair(show_qr(opened, "alice"))
    assert phone.sync().status_code == 200

    result = cli("doctor", "mobile", "alice")

    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == "Strongroom doctor · mobile:alice"
    assert sum(1 for line in lines if line.startswith(" PASS ")) == 15
    assert "FAIL" not in result.stdout
    assert lines[-1] == "OK: 15 passed, 0 warning(s), 0 failed, 0 skipped"


def test_doctor_mobile_json(
    cli: Cli, opened: Instance, live_appserver: RunningServer
) -> None:
    """--json prints the stable document; a warning alone keeps exit 0."""
    _alice(opened)
    result = cli("doctor", "mobile", "alice", "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == 0
    assert document["subject"] == "mobile:alice"
    assert document["ok"] is True
    devices = document["checks"][-1]
    assert devices["id"] == "devices"
    assert devices["status"] == "warn"
    assert devices["fix"].startswith("alice pairs a phone")


def test_doctor_mobile_failure_exits_1(
    cli: Cli, opened: Instance, closed_port: int
) -> None:
    """A failing step prints FAIL with its fix, later steps SKIP, and exit is 1."""
    set_url(opened, f"https://127.0.0.1:{closed_port}")
    _alice(opened)
    result = cli("doctor", "mobile", "alice")
    assert result.exit_code == 1
    out = result.stdout
    assert f" FAIL  TCP port {closed_port} not reachable on 127.0.0.1" in out
    assert "refused the connection" in out
    assert "fix: 127.0.0.1:" in out
    assert " SKIP  TLS handshake" in out
    assert "reason=no address accepted a TCP connection" in out

    document = json.loads(cli("doctor", "mobile", "alice", "--json").stdout)
    assert document["ok"] is False
    assert document["counts"]["fail"] == 1


def test_doctor_mobile_phone_cut_off_by_a_replayed_credential(
    cli: Cli, opened: Instance, live_appserver: RunningServer
) -> None:
    """alice's only phone was revoked for replaying a rotated credential: the
    devices line FAILs with the one-sentence fix, exit 1, and --json agrees."""
    _alice(opened)
    phone = HttpPhone(live_appserver.url, instance_pair(opened).cert_pem)
    phone.pair(show_qr(opened, "alice"))
    first = phone.credential
    assert phone.sync().status_code == 200
    assert phone.sync().status_code == 200
    assert phone.sync(credential=first).status_code == 401

    result = cli("doctor", "mobile", "alice")
    assert result.exit_code == 1, result.stdout
    out = " ".join(result.stdout.split())  # long lines wrap
    assert (
        "FAIL None of alice's devices can sync: Alice's phone was revoked for a "
        "replayed credential"
    ) in out
    assert (
        "fix: Device Alice's phone presented a credential that was already used" in out
    )
    assert result.stdout.splitlines()[-1] == (
        "FAILED: 14 passed, 0 warning(s), 1 failed, 0 skipped"
    )

    document = json.loads(cli("doctor", "mobile", "alice", "--json").stdout)
    assert document["ok"] is False
    assert document["counts"]["fail"] == 1
    devices = document["checks"][-1]
    assert devices["id"] == "devices"
    assert devices["status"] == "fail"
    assert devices["evidence"]["active"] == 0
    [device] = devices["evidence"]["devices"]
    assert device["status"] == "revoked"
    assert device["last_failed_event"]["details"]["code"] == "credential_replayed"
    assert devices["fix"].endswith(
        "pair it again from a new QR code (Preferences, or "
        "`strongroom mobile qr alice`)."
    )


def test_doctor_mobile_hanging_peer(
    cli: Cli, opened: Instance, silent_port: int
) -> None:
    """A peer that never answers TLS makes a line saying it timed out."""
    set_url(opened, f"https://127.0.0.1:{silent_port}")
    _alice(opened)
    result = cli("doctor", "mobile", "alice", "--timeout", "0.5")
    assert result.exit_code == 1
    assert " FAIL  TLS handshake" in result.stdout
    assert "timed out after 0.5 s" in result.stdout


def test_doctor_server_healthy_and_failing(
    cli: Cli, settings: Settings, opened: Instance
) -> None:
    """doctor server passes on a fresh instance and fails a key others may read."""
    healthy = cli("doctor", "server")
    assert healthy.exit_code == 0, healthy.stdout
    assert " PASS  Instance key present, readable only by its owner" in healthy.stdout

    settings.key_file.chmod(0o640)
    result = cli("doctor", "server", "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == 1
    key = next(c for c in document["checks"] if c["id"] == "instance_key")
    assert key["status"] == "fail"
    assert key["evidence"]["mode"] == "0640"
    settings.key_file.chmod(0o600)


def test_doctor_server_without_a_pairing_secret(cli: Cli, opened: Instance) -> None:
    """An installation whose pairing secret is gone: that line FAILs with the
    command that makes one, exit 1; every other check still passes."""
    with opened.db.session() as session:
        session.execute(
            delete(SystemSetting).where(SystemSetting.key == "pairing_secret")
        )

    result = cli("doctor", "server")
    assert result.exit_code == 1, result.stdout
    assert " FAIL  Pairing secret is not set" in result.stdout
    assert "set=no" in result.stdout
    assert "strongroom mobile regenerate-pairing-secret" in result.stdout

    document = json.loads(cli("doctor", "server", "--json").stdout)
    assert document["ok"] is False
    statuses = {c["id"]: c["status"] for c in document["checks"]}
    assert statuses.pop("pairing_secret") == "fail"
    assert set(statuses.values()) == {"pass"}

    assert cli("mobile", "regenerate-pairing-secret").exit_code == 0
    assert cli("doctor", "server").exit_code == 0


def test_query_pin_stores_what_openssl_computes(
    cli: Cli, opened: Instance, tmp_path: Path
) -> None:
    """query-pin stores the live certificate's pin, as openssl computes it; audited."""
    pair = make_self_signed(["localhost", "127.0.0.1"])
    cert, key = write_pair(tmp_path, pair, "replacement")
    server = run_in_thread(create_appserver_app(opened), tls_cert=cert, tls_key=key)
    try:
        set_url(opened, f"https://127.0.0.1:{server.port}")
        result = cli("mobile", "query-pin")
    finally:
        server.stop()

    expected = openssl_pin(cert)
    assert result.exit_code == 0, result.stderr
    assert f"Stored the App Server pin {expected}" in result.stdout
    assert "phones paired before must pair again" in result.stdout
    got = json.loads(cli("settings", "get", "app_server_pin", "--json").stdout)
    assert expected in json.dumps(got)
    with opened.db.session() as session:
        event = (
            session.query(AuditEvent)
            .filter(AuditEvent.target_id == "app_server_pin")
            .order_by(AuditEvent.seq.desc())
            .first()
        )
        assert event is not None
        assert event.details["new"] == expected


def test_query_pin_refuses_another_instances_app_server(
    cli: Cli, opened: Instance, tmp_path: Path
) -> None:
    """query-pin stores nothing when the App Server at the URL serves another
    instance, and says so."""
    other_settings = Settings(data_dir=tmp_path / "other", environment="test")
    initialise(other_settings, admin_name="admin", admin_password=None)
    other = Instance.open(other_settings)
    server = run_in_thread(
        create_appserver_app(other),
        tls_cert=other_settings.cert_file,
        tls_key=other_settings.cert_key_file,
    )
    before = cli("settings", "get", "app_server_pin", "--json").stdout
    try:
        set_url(opened, f"https://127.0.0.1:{server.port}")
        result = cli("mobile", "query-pin")
    finally:
        server.stop()
        other.close()
    assert result.exit_code == 1
    assert "is not this instance's App Server" in result.stderr
    assert cli("settings", "get", "app_server_pin", "--json").stdout == before


@pytest.mark.parametrize(
    ("url", "message", "fix"),
    [
        ("https://vault.strongroom.invalid:9443", "does not resolve", "DNS"),
        (
            "https://127.0.0.1:{closed}",
            "refused the connection",
            "strongroom appserver",
        ),
        ("", "no App Server URL is set", "settings set app_server_url"),
    ],
)
def test_query_pin_failure_names_the_step(
    cli: Cli, opened: Instance, closed_port: int, url: str, message: str, fix: str
) -> None:
    """query-pin says which step failed and how to fix it, and stores nothing."""
    set_url(opened, url.format(closed=closed_port))
    before = cli("settings", "get", "app_server_pin", "--json").stdout
    result = cli("mobile", "query-pin", "--timeout", "1")
    assert result.exit_code == 1
    error, hint = result.stderr.strip().splitlines()
    assert error.startswith("error: ") and message in error
    assert hint.startswith("  fix: ") and fix in hint
    assert cli("settings", "get", "app_server_pin", "--json").stdout == before


def test_real_entry_point_prints_lines_not_tracebacks(tmp_path: Path) -> None:
    """The installed `strongroom` prints one error line for an unknown user or an
    unresolvable App Server, and a FAIL line for a malformed URL; no traceback.

    Runs once, on an instance of its own: what is tested is the entry point's
    error handling, which does not depend on the database.
    """
    settings = Settings(data_dir=tmp_path / "own", environment="test")
    initialise(settings, admin_name="admin", admin_password="own-admin-password-1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update(
        STRONGROOM_DATA_DIR=str(settings.data_dir), STRONGROOM_ENVIRONMENT="test"
    )
    own = Instance.open(settings)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(STRONGROOM_BIN), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        unknown = run("doctor", "mobile", "nobody")
        set_url(own, "https://vault.strongroom.invalid:9443")
        unresolvable = run("mobile", "query-pin", "--timeout", "1")
        with own.db.session() as session:
            session.execute(
                update(SystemSetting)
                .where(SystemSetting.key == "app_server_url")
                .values(value="htps:/nowhere")
            )
            make_phone_user(session, own.cipher)
        malformed = run("doctor", "mobile", "alice")
    finally:
        own.close()

    assert unknown.returncode == 1
    assert unknown.stderr.splitlines() == [
        "error: there is no user called 'nobody'",
        "  fix: `strongroom user list` shows the users",
    ]
    assert unresolvable.returncode == 1
    error, hint = unresolvable.stderr.splitlines()
    assert error.startswith("error: the name vault.strongroom.invalid does not resolve")
    assert hint.startswith("  fix: check the host name in the App Server URL")
    assert malformed.returncode == 1
    assert " FAIL  The App Server URL is not a valid https URL" in malformed.stdout
    for result in (unknown, unresolvable, malformed):
        assert "Traceback" not in result.stdout + result.stderr
