"""`strongroom doctor mobile|server` and `mobile query-pin`, as a user runs them."""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from strongroom.crypto import passwords
from strongroom.crypto.certificates import make_self_signed
from strongroom.server.appserver.app import create_appserver_app
from strongroom.server.appserver.runner import RunningServer, run_in_thread
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.config import Settings
from strongroom.server.core.instance import Instance
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


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://vault.strongroom.invalid:9443", "does not resolve"),
        ("https://127.0.0.1:{closed}", "refused the connection"),
    ],
)
def test_query_pin_failure_is_one_line(
    subprocess_env: dict[str, str],
    opened: Instance,
    closed_port: int,
    url: str,
    message: str,
) -> None:
    """The real command says which step failed, in one line and a fix, no traceback."""
    set_url(opened, url.format(closed=closed_port))
    before = json.dumps(opened.settings.model_dump(mode="json"))
    result = subprocess.run(
        [str(STRONGROOM_BIN), "mobile", "query-pin", "--timeout", "1"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and message in lines[0]
    assert lines[1].startswith("  fix: ")
    assert "Traceback" not in result.stderr
    assert json.dumps(opened.settings.model_dump(mode="json")) == before


def test_unknown_user_and_malformed_url_are_clear(
    subprocess_env: dict[str, str], opened: Instance
) -> None:
    """An unknown user is one error line; a malformed URL a FAIL line; no traceback."""
    unknown = subprocess.run(
        [str(STRONGROOM_BIN), "doctor", "mobile", "nobody"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: there is no user called 'nobody'")
    assert "Traceback" not in unknown.stderr

    with opened.db.session() as session:
        from sqlalchemy import text

        session.execute(
            text("UPDATE system_settings SET value = :v WHERE key = 'app_server_url'"),
            {"v": json.dumps("htps:/nowhere")},
        )
        make_phone_user(session, opened.cipher)
    malformed = subprocess.run(
        [str(STRONGROOM_BIN), "doctor", "mobile", "alice"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert malformed.returncode == 1
    assert " FAIL  The App Server URL is not a valid https URL" in malformed.stdout
    assert "Traceback" not in malformed.stdout + malformed.stderr
