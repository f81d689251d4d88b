"""End to end on real input, as a new user would, with real processes.

A real KeePass database is imported with `strongroom import`, a group gets the
Mobile App feature and Mobile Access, a user gets a master password, the QR
code is rendered to PNG, and `strongroom-mobile` pairs by decoding that PNG,
syncs, reads and copies with the App Server stopped, then syncs again; the
offline events are found in `strongroom audit show --json`.
"""

import datetime
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from strongroom.server.core.config import Settings
from strongroom.server.core.instance import Instance
from strongroom.server.vault import service as vault
from tests.conftest import realdata_dir

BIN = Path(sys.executable).parent
MASTER = "bob-mobile-Master-42"
FAKE_XCLIP = """#!/bin/sh
# A stand-in for xclip: the clipboard is a file.
for arg in "$@"; do
  case "$arg" in
    -in|-i) cat > "$FAKE_CLIPBOARD"; exit 0 ;;
    -out|-o) cat "$FAKE_CLIPBOARD" 2>/dev/null; exit 0 ;;
  esac
done
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Shell:
    """Runs the two CLIs as subprocesses with one environment."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.tmp = tmp_path
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")
        }
        self.env["STRONGROOM_DATA_DIR"] = str(tmp_path / "data")
        if not database_url.startswith("sqlite"):
            self.env["STRONGROOM_DATABASE_URL"] = database_url
        fakebin = tmp_path / "fakebin"
        fakebin.mkdir()
        (fakebin / "xclip").write_text(FAKE_XCLIP)
        (fakebin / "xclip").chmod(0o755)
        self.clipboard = tmp_path / "clipboard"
        self.env.update(
            PATH=f"{fakebin}:{BIN}:{self.env.get('PATH', '')}",
            DISPLAY=":99",
            FAKE_CLIPBOARD=str(self.clipboard),
            STRONGROOM_MOBILE_HOME=str(tmp_path / "phone"),
            STRONGROOM_MOBILE_CLIPBOARD_CLEAR_SECONDS="2",
        )

    def run(
        self, *args: str, stdin: str | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(args),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            cwd=self.tmp,
        )
        if ok:
            assert done.returncode == 0, f"{args}: {done.stderr}"
        return done

    def server(
        self, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run("strongroom", *args, stdin=stdin)

    def phone(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(
            "strongroom-mobile", *args, "--password-stdin", stdin=MASTER + "\n", ok=ok
        )

    def start_appserver(self, port: int) -> subprocess.Popen[bytes]:
        log = (self.tmp / "appserver.log").open("ab")
        process = subprocess.Popen(
            ["strongroom", "appserver", "--host", "127.0.0.1", "--port", str(port)],
            env=self.env,
            stdout=log,
            stderr=log,
            cwd=self.tmp,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if (
                    httpx.get(
                        f"https://127.0.0.1:{port}/health", verify=False, timeout=2
                    ).status_code
                    == 200
                ):
                    return process
            except httpx.HTTPError:
                time.sleep(0.2)
        process.kill()
        raise AssertionError((self.tmp / "appserver.log").read_text())


@pytest.fixture
def shell(tmp_path: Path, database_url: str) -> Iterator[Shell]:
    """A fresh instance's shell environment (SQLite or PostgreSQL)."""
    yield Shell(tmp_path, database_url)


def _server_records(shell: Shell, database_url: str) -> dict[str, vault.RecordView]:
    settings = Settings(
        data_dir=shell.tmp / "data",
        database_url=None if database_url.startswith("sqlite") else database_url,
        environment="test",
    )
    instance = Instance.open(settings)
    try:
        with instance.db.session() as session:
            user = vault.User  # noqa: F841 - imported model, for readability below
            from strongroom.server.accounts import service as accounts

            bob = accounts.find_user(session, "bob")
            return {
                r.id: vault.open_record(session, instance.cipher, r)
                for r in vault.records_for_phone(session, bob)
            }
    finally:
        instance.close()


@pytest.mark.timeout(1800)
@pytest.mark.realdata
@pytest.mark.slow
def test_real_keepass_database_end_to_end(shell: Shell, database_url: str) -> None:
    """Import, grant, set password, QR PNG, pair, sync, compare, offline read, audit."""
    kdbx = realdata_dir() / "keepassxc" / "NewDatabase.kdbx"
    port = _free_port()

    # The administrator's side: a new instance with the real database in it.
    shell.server(
        "init",
        "--admin",
        "admin",
        "--hostname",
        "127.0.0.1",
        "--app-server-url",
        f"https://127.0.0.1:{port}",
    )
    imported = shell.server(
        "import", str(kdbx), "--into", "KeePass", "--password-stdin", stdin="a\n"
    )
    assert "Imported" in imported.stdout
    shell.server(
        "user",
        "add",
        "bob",
        "--password-stdin",
        "--display-name",
        "Bob",
        stdin="bob-web-password-77\n",
    )
    shell.server("group", "add", "Staff")
    shell.server("group", "add-member", "Staff", "bob")
    shell.server("feature", "grant", "mobile", "--group", "Staff")
    lists = json.loads(shell.server("list", "list", "--json").stdout)
    assert lists
    for entry in lists:
        shell.server(
            "grant",
            entry["path"],
            "--group",
            "Staff",
            "--level",
            "view",
            "--mobile-access",
            "yes",
        )
    shell.server(
        "mobile", "set-password", "bob", "--password-stdin", stdin=MASTER + "\n"
    )
    appserver = shell.start_appserver(port)
    try:
        shell.server("mobile", "qr", "bob", "--png", "qr.png")

        # The phone: pair by decoding the PNG, then sync.
        paired = shell.phone(
            "pair", "--qr-image", str(shell.tmp / "qr.png"), "--no-sync"
        )
        assert f"Server:   https://127.0.0.1:{port}" in paired.stdout
        assert "Username: bob" in paired.stdout
        synced = shell.phone("sync")
        assert "Synced (full)" in synced.stdout

        # Every field of every record equals the server's.
        expected = _server_records(shell, database_url)
        assert len(expected) == sum(e["records"] for e in lists)
        listed = json.loads(shell.phone("ls", "--json").stdout)
        held = {
            r["id"]: (r, entry["path"]) for entry in listed for r in entry["records"]
        }
        assert set(held) == set(expected)
        for record_id, view in expected.items():
            shown = json.loads(
                shell.phone("show", record_id, "--reveal", "--json").stdout
            )
            assert shown["list_path"] == view.list_path == held[record_id][1]
            for name in (
                "title",
                "username",
                "url",
                "description",
                "domain",
                "host_name",
            ):
                assert shown[name] == getattr(view, name), name
            assert shown["secrets"]["password"] == view.password
            assert shown["secrets"]["notes"] == view.notes
            assert shown["secrets"]["otp_secret"] == view.otp_secret
            assert shown["expires_at"] == (
                view.expires_at.isoformat() if view.expires_at else None
            )
            assert [(f["name"], f["secret"]) for f in shown["fields"]] == [
                (f.name, f.secret) for f in view.fields
            ]
            assert [f["value"] for f in shown["fields"] if not f["secret"]] == [
                f.value for f in view.fields if not f.secret
            ]
            assert shown["secrets"]["secret_fields"] == {
                f.name: f.value for f in view.fields if f.secret
            }
    finally:
        appserver.terminate()
        appserver.wait(30)

    # The App Server is stopped: reading and copying work offline.
    sample = next(r for r in expected.values() if r.password)
    assert sample.title in shell.phone("search", sample.title.upper()).stdout
    assert shell.phone("show", sample.id[:8]).returncode == 0
    copied = shell.phone("copy", sample.id)
    assert "cleared in 2 seconds" in copied.stdout
    assert shell.clipboard.read_text() == sample.password
    offline_sync = shell.phone("sync", ok=False)
    assert offline_sync.returncode == 12
    assert offline_sync.stderr.startswith("error: cannot reach the App Server")
    status = shell.run("strongroom-mobile", "status", "--json")
    queued = json.loads(status.stdout)["queued_events"]
    assert queued >= 4

    # The detached helper clears the clipboard once its time has come.
    deadline = time.monotonic() + 15
    while shell.clipboard.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert shell.clipboard.read_text() == ""

    # Back online: the queued events are uploaded once and show in the audit log.
    before_upload = datetime.datetime.now(datetime.UTC)
    appserver = shell.start_appserver(port)
    try:
        resynced = shell.phone("sync")
        assert f"{queued + 1} audit events uploaded" in resynced.stdout
    finally:
        appserver.terminate()
        appserver.wait(30)
    events = json.loads(
        shell.server(
            "audit", "show", "--platform", "device", "--json", "--limit", "500"
        ).stdout
    )
    device_id = json.loads(shell.run("strongroom-mobile", "status", "--json").stdout)[
        "device_id"
    ]
    copies = [e for e in events if e["event_type"] == "device.record_copied"]
    assert len(copies) == 1
    assert copies[0]["record_id"] == sample.id
    assert copies[0]["device_id"] == device_id
    occurred = datetime.datetime.fromisoformat(copies[0]["occurred_at"])
    received = datetime.datetime.fromisoformat(copies[0]["received_at"])
    assert occurred < before_upload <= received
    assert len({e["id"] for e in events}) == len(events)
    reveals = [
        e
        for e in events
        if e["event_type"] == "device.record_revealed" and e["record_id"] == sample.id
    ]
    assert len(reveals) == 1
