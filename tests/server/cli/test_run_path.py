"""The README's run path through the installed executable: `strongroom init`
prints the first administrator's password once, and `strongroom serve` runs
the web UI and the App Server together until a signal stops it."""

import os
import re
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.server.cli.conftest import STRONGROOM_BIN

PASSWORD_LINE = re.compile(r"password\s+(\S+)\s+\(shown once: store it now\)")
INSTANCE_LINE = re.compile(r"instance id\s+(\S+)")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(data_dir: Path, web_port: int, app_port: int) -> dict[str, str]:
    """A user's shell: no STRONGROOM_* of ours, the README's variables set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    env.update(
        {
            "STRONGROOM_DATA_DIR": str(data_dir),
            "STRONGROOM_WEB_HOST": "127.0.0.1",
            "STRONGROOM_WEB_PORT": str(web_port),
            "STRONGROOM_APPSERVER_HOST": "127.0.0.1",
            "STRONGROOM_APPSERVER_PORT": str(app_port),
            "COLUMNS": "200",
        }
    )
    return env


def _init(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(STRONGROOM_BIN), "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _wait_for(
    url: str, client: httpx.Client, server: subprocess.Popen[bytes], log: Path
) -> httpx.Response:
    """GET `url` until it answers; fail with serve's output if it died."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.poll() is not None:
            pytest.fail(f"serve exited {server.returncode}:\n{log.read_text()}")
        try:
            return client.get(url)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer in time:\n{log.read_text()}")
            time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize(
    "stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"]
)
def test_init_then_serve_as_the_readme_says(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    """init prints a password once; a second init refuses; serve answers on
    both ports, the password signs in over HTTPS, and a signal stops it
    cleanly."""
    data_dir = tmp_path / "strongroom-data"
    web_port, app_port = _free_port(), _free_port()
    env = _env(data_dir, web_port, app_port)

    first = _init(env)
    assert first.returncode == 0, first.stderr
    found = PASSWORD_LINE.findall(first.stdout)
    assert len(found) == 1, first.stdout
    password = found[0]
    assert first.stdout.count(password) == 1
    instance_id = INSTANCE_LINE.search(first.stdout)
    assert instance_id, first.stdout
    key_before = (data_dir / "instance.key").read_bytes()

    again = _init(env)
    assert again.returncode == 1, (again.stdout, again.stderr)
    assert again.stderr.startswith(f"error: {data_dir} already holds an instance")
    assert "fix: use it as it is, or choose another --data-dir" in again.stderr
    assert "Traceback" not in again.stderr
    assert "password" not in (again.stdout + again.stderr).lower()
    assert (data_dir / "instance.key").read_bytes() == key_before

    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(STRONGROOM_BIN), "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Both processes use the self-signed certificate init made for
        # localhost and 127.0.0.1; trusting exactly it is what a careful
        # user does after the browser's warning.
        trust = ssl.create_default_context(
            cafile=str(data_dir / "tls" / "appserver.crt")
        )
        web = f"https://127.0.0.1:{web_port}"
        app = f"https://127.0.0.1:{app_port}"
        with (
            httpx.Client(verify=trust, timeout=10) as browser,
            httpx.Client(verify=trust, timeout=10) as phone,
        ):
            login = _wait_for(f"{web}/login", browser, server, log)
            status = _wait_for(f"{app}/", phone, server, log)

            assert login.status_code == 200
            assert status.status_code == 200 and "Status OK" in status.text
            health = phone.get(f"{app}/health")
            assert health.status_code == 200
            assert health.headers["content-type"].startswith("application/json")
            body = health.json()
            assert body["instance_id"] == instance_id.group(1)
            assert body["status"] == "ok" and body["database"] == "ok"

            signed_in = browser.post(
                f"{web}/login",
                data={
                    "username": "admin",
                    "password": password,
                    "csrf_token": CSRF.findall(login.text)[0],
                },
                headers={"Origin": web},
            )
            assert signed_in.status_code == 303, signed_in.text
            home = browser.get(f"{web}/", follow_redirects=True)
            assert home.status_code == 200 and home.url.path != "/login"
            assert "Sign out" in home.text and "Administration" in home.text

        said = log.read_text()
        assert f"Web UI on https://127.0.0.1:{web_port}" in said
        assert f"App Server on https://127.0.0.1:{app_port}" in said

        server.send_signal(stop_signal)
        assert server.wait(timeout=30) == 0, log.read_text()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert "Traceback" not in log.read_text()
    for port in (web_port, app_port):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
