"""Two App Server processes on one PostgreSQL database serve one device."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import Group
from strongroom.server.core.config import Settings
from strongroom.server.core.instance import operator
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import PasswordList
from tests.server.appserver.helpers import pair_over_https, sync_over_https, trusting
from tests.server.mobile.helpers import Phone, World, alice

STRONGROOM = Path(sys.executable).parent / "strongroom"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def appserver_process(settings: Settings, log: Path) -> Iterator[str]:
    """Run `strongroom appserver` as a real process; yield its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "STRONGROOM_DATABASE_URL": str(settings.database_url),
        "STRONGROOM_LOG_LEVEL": "INFO",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(STRONGROOM),
                "--data-dir",
                str(settings.data_dir),
                "appserver",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"https://127.0.0.1:{port}"
        try:
            _wait_healthy(url, settings, process, log)
            yield url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_healthy(
    url: str, settings: Settings, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"appserver exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(
                f"{url}/health", verify=trusting(settings), timeout=2
            ).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail(f"appserver did not become healthy: {log.read_text(errors='replace')}")


# Scale-out is a PostgreSQL deployment (an SQLite file belongs to one host),
# so this runs there only rather than skipping on SQLite.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_app_servers_serve_one_device_interchangeably(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A device syncing alternately through two App Server processes, with
    admin changes in between, sees every change once and its credential
    rotation holds across both."""
    settings: Settings = request.getfixturevalue("settings")
    world: World = request.getfixturevalue("world")

    with (
        appserver_process(settings, tmp_path / "a.log") as url_a,
        appserver_process(settings, tmp_path / "b.log") as url_b,
        httpx.Client(base_url=url_a, verify=trusting(settings), timeout=30) as a,
        httpx.Client(base_url=url_b, verify=trusting(settings), timeout=30) as b,
    ):
        phone = pair_over_https(a, Phone.new(), world)
        assert sync_over_https(b, phone).status_code == 200
        assert phone.titles() == {"db1", "web1", "bank-login", "bank-api"}

        # An edit, seen through A.
        with world.session() as session:
            record = vault.get_record(session, world.records["web1"])
            vault.update_record(
                session,
                operator(),
                world.instance.cipher,
                record,
                vault.RecordInput(title="web1-v2", password="v2"),
            )
        reply = sync_over_https(a, phone)
        assert [u["title"] for u in reply.json()["upserts"]] == ["web1-v2"]

        # A revocation, seen through B.
        with world.session() as session:
            ops = session.get(Group, world.ops_group_id)
            accounts.remove_member(session, operator(), ops, alice(session))
        reply = sync_over_https(b, phone)
        assert len(reply.json()["removed_record_ids"]) == 2
        assert phone.titles() == {"bank-login", "bank-api"}

        # A reply from A lost in transit, repaired through B.
        with world.session() as session:
            bank = session.get(PasswordList, world.bank_id)
            assert bank is not None
            vault.create_record(
                session,
                operator(),
                world.instance.cipher,
                bank,
                vault.RecordInput(title="bank-new", password="n"),
            )
        retired = phone.sync_body()
        assert a.post("/v1/sync", json=phone.sync_body()).status_code == 200
        reply = sync_over_https(b, phone)
        assert [u["title"] for u in reply.json()["upserts"]] == ["bank-new"]
        assert phone.titles() == {"bank-login", "bank-api", "bank-new"}

        # Rotation holds across both servers: one more round each, then the
        # credential used two rounds ago is caught as a replay by either.
        assert sync_over_https(a, phone).status_code == 200
        assert sync_over_https(b, phone).status_code == 200
        replay = a.post("/v1/sync", json=retired)
        assert replay.status_code == 401
        assert replay.json()["error"]["code"] == "credential_replayed"
        revoked = sync_over_https(b, phone)
        assert revoked.json()["error"]["code"] == "device_revoked"
