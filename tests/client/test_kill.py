"""A client SIGKILLed at random points of a large sync leaves old or new state."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strongroom.client import state as device_state
from strongroom.client.cache import CacheStore
from strongroom.client.config import ClientSettings
from strongroom.client.device import Device
from strongroom.client.keystore import MemoryKeystore
from strongroom.server.core.instance import Instance, operator
from strongroom.server.vault import service as vault
from tests.client.serverside import (
    MASTER_PASSWORD,
    Org,
    build_org,
    bulk_records,
    fast_server_argon2,
    running_appserver,
)

RUNS = int(os.environ.get("STRONGROOM_KILL_RUNS", "20"))
BULK = 1500


def _held_ids(home: Path, key: bytes) -> frozenset[str]:
    """Open the cache as the app would (key known from pairing: no Argon2 here)."""
    store = CacheStore.open(home / "cache.sqlite3")
    try:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        state = device_state.load(store, key)
        ids = set()
        # Every row must open: a torn write would fail authentication here.
        for record_id, blob in store.summary_rows():
            store.open_json(key, blob, store.aad("records", record_id, "summary"))
            ids.add(record_id)
        assert state.cursor is not None
        return frozenset(ids)
    finally:
        store.close()


def _server_ids(org: Org) -> frozenset[str]:
    with org.session() as session:
        user = org.alice(session)
        return frozenset(r.id for r in vault.records_for_phone(session, user))


def _start_sync(home: Path) -> subprocess.Popen[bytes]:
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "strongroom.client.cli",
            "--profile",
            str(home),
            "sync",
            "--password-stdin",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert child.stdin is not None
    child.stdin.write(MASTER_PASSWORD.encode() + b"\n")
    child.stdin.close()
    return child


@pytest.mark.timeout(1800)
@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sigkill_during_sync_leaves_old_or_new_state(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed at random points, the cache opens and holds the old or the new set."""
    fast_server_argon2(monkeypatch)
    org = build_org(instance)
    with org.session() as session:
        bulk = vault.create_list(session, operator(), "Bulk/Big", create_folders=True)
        staff = session.get(vault.Group, org.group_id)
        vault.grant(
            session, operator(), bulk, vault.Level.VIEW, group=staff, mobile_access=True
        )
        bulk_id = bulk.id
    bulk_records(instance, bulk_id, BULK)
    home = tmp_path / "phone"
    rng = random.Random(4711)
    with running_appserver(instance):
        device = Device(ClientSettings(home=home), keystore=MemoryKeystore())
        with device.pair(org.qr(), MASTER_PASSWORD) as opened:
            opened.sync()
            key = opened.key
        old = _held_ids(home, key)
        assert old == _server_ids(org)

        # A baseline run tells how long a whole sync takes from process start.
        flag = False
        with org.session() as session:
            vault.set_mobile_access(
                session, operator(), flag, lists=[vault.get_list(session, bulk_id)]
            )
        started = time.monotonic()
        assert _start_sync(home).wait(120) == 0
        duration = time.monotonic() - started
        old = _held_ids(home, key)
        assert old == _server_ids(org)

        killed = 0
        for _ in range(RUNS):
            # Make the server differ from what the device holds now.
            flag = len(old) < BULK
            with org.session() as session:
                vault.set_mobile_access(
                    session, operator(), flag, lists=[vault.get_list(session, bulk_id)]
                )
            new = _server_ids(org)
            assert new != old
            child = _start_sync(home)
            time.sleep(rng.uniform(0.3 * duration, 1.05 * duration))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                killed += 1
            child.wait(60)
            held = _held_ids(home, key)
            assert held in (old, new), (
                "the cache holds a state that is neither old nor new"
            )
            old = held
        assert killed >= RUNS // 3, f"only {killed} of {RUNS} runs were killed mid-way"

        # And the next sync repairs whatever the kills left behind.
        assert _start_sync(home).wait(120) == 0
        assert _held_ids(home, key) == _server_ids(org)
