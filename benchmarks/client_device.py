"""Device benchmarks: first sync of 10,000 records, unlock, search, memory.

    .venv/bin/python -m benchmarks.client_device [--records 10000]

Builds a throw-away instance (SQLite) with one user whose phone may see
`--records` records, serves the App Server over TLS in a thread, pairs a
device, and prints a table:

- first sync end to end (request, server work, TLS, opening every sealed box,
  sealing and writing every record in one transaction); target < 3 s
- unlock, split into the Argon2id key derivation and the rest
- search after unlock: the first one (which opens the sealed search index),
  later ones, and one that matches every record; target < 50 ms
- resident memory of a fresh process holding the unlocked vault with every
  summary loaded (benchmarks/client_memory.py); target < 150 MB
"""

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from unittest import mock

from tests.client.serverside import (
    MASTER_PASSWORD,
    build_org,
    bulk_records,
    fast_server_argon2,
    running_appserver,
)

from strongroom.client import device as device_module
from strongroom.client import sync as sync_engine
from strongroom.client.config import ClientSettings
from strongroom.client.device import Device
from strongroom.client.keystore import MemoryKeystore
from strongroom.server.core.config import Settings
from strongroom.server.core.instance import Instance, initialise, operator
from strongroom.server.vault import service as vault

T = TypeVar("T")


def _row(name: str, value: float, unit: str, target: str = "") -> None:
    print(f"{name:<44} {value:>10.1f} {unit:<4} {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="strongroom-bench-"))
    settings = Settings(data_dir=work / "data", environment="test")
    initialise(settings, admin_name="admin", admin_password="bench-admin-password-1")
    instance = Instance.open(settings)
    # The server's own password hashing is not what is measured here.
    fast_server_argon2(_MonkeyPatch())
    org = build_org(instance)
    with org.session() as session:
        plist = vault.create_list(session, operator(), "Bench/Big", create_folders=True)
        staff = session.get(vault.Group, org.group_id)
        vault.grant(
            session,
            operator(),
            plist,
            vault.Level.VIEW,
            group=staff,
            mobile_access=True,
        )
        list_id = plist.id
    bulk_records(instance, list_id, args.records - 3)
    home = work / "phone"

    print(f"{'measure':<44} {'value':>10} unit target")
    with running_appserver(instance):
        device = Device(ClientSettings(home=home), keystore=MemoryKeystore())
        opened = device.pair(org.qr(), MASTER_PASSWORD)
        device_side: list[float] = []

        def timed(real: Callable[..., T]) -> Callable[..., T]:
            def run(*args: object, **kwargs: object) -> T:
                t0 = time.perf_counter()
                try:
                    return real(*args, **kwargs)
                finally:
                    device_side.append(time.perf_counter() - t0)

            return run

        with (
            mock.patch.object(
                sync_engine, "decode_upserts", timed(sync_engine.decode_upserts)
            ),
            mock.patch.object(
                sync_engine, "apply_reply", timed(sync_engine.apply_reply)
            ),
        ):
            started = time.perf_counter()
            summary = opened.sync()
            total = time.perf_counter() - started
        opened.lock()
    _row(
        f"first sync of {summary.records} records, end to end",
        total * 1000,
        "ms",
        "< 3000",
    )
    _row("  the device opens the sealed boxes", device_side[0] * 1000, "ms")
    _row("  the device seals and commits", device_side[1] * 1000, "ms")
    _row("  request, server work, transfer", (total - sum(device_side)) * 1000, "ms")

    # Unlock, with the key derivation timed on its own.
    spent: list[float] = []
    real_derive = device_module.derive_key

    def timed_derive(password: str, params: object) -> bytes:
        t0 = time.perf_counter()
        key = real_derive(password, params)  # type: ignore[arg-type]
        spent.append(time.perf_counter() - t0)
        return key

    with mock.patch.object(device_module, "derive_key", timed_derive):
        started = time.perf_counter()
        unlocked = device.unlock(MASTER_PASSWORD)
        total = time.perf_counter() - started
    _row("unlock: Argon2id (64 MiB, 3 passes)", spent[0] * 1000, "ms")
    _row("unlock: everything else", (total - spent[0]) * 1000, "ms")

    # The first search after unlock opens the sealed search index (one blob)
    # and then only the records it found; later ones reuse the opened index.
    started = time.perf_counter()
    hits = unlocked.search("host1234")
    _row(
        f"first search after unlock ({len(hits)} hit)",
        (time.perf_counter() - started) * 1000,
        "ms",
        "< 50",
    )
    started = time.perf_counter()
    for _ in range(10):
        hits = unlocked.search("host4321")
    _row(
        f"  later searches ({len(hits)} hit)",
        (time.perf_counter() - started) * 100,
        "ms",
        "< 50",
    )
    started = time.perf_counter()
    hits = unlocked.search("service")
    _row(
        f"  a search matching all ({len(hits)} hits)",
        (time.perf_counter() - started) * 1000,
        "ms",
    )
    unlocked.lock()

    memory = subprocess.run(
        [sys.executable, "-m", "benchmarks.client_memory", str(home)],
        input=MASTER_PASSWORD + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    resident, peak = (float(x) for x in memory.stdout.split())
    _row(
        f"resident memory, {summary.records} records unlocked", resident, "MB", "< 150"
    )
    _row("peak resident memory (with Argon2id's 64 MiB)", peak, "MB")
    instance.close()


class _MonkeyPatch:
    """The one method of pytest's MonkeyPatch that fast_server_argon2 uses."""

    def setattr(self, target: object, name: str, value: object) -> None:
        setattr(target, name, value)


if __name__ == "__main__":
    main()
