"""Device benchmarks: first sync of 10,000 records, unlock, search, memory.

    .venv/bin/python -m benchmarks.client_device [--records 10000] [--repeat 3]

Builds a throw-away instance (SQLite) with one user whose phone may see
`--records` records, serves the App Server over TLS in a thread, and pairs
`--repeat` devices. Each measure runs `--repeat` times; the table prints the
median and the best run, and the load average before and after, since other
work on the machine slows every figure down:

- first sync end to end (request, server work, TLS, opening every sealed box,
  sealing and writing every record in one transaction); target < 3 s
- unlock, split into the Argon2id key derivation and the rest
- search after unlock: the first one (which opens the sealed search index),
  later ones, and one that matches every record; target < 50 ms
- resident memory of a fresh process holding the unlocked vault with every
  summary loaded (benchmarks/client_memory.py); target < 150 MB
"""

import argparse
import os
import statistics
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
    Org,
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


def _row(name: str, values: list[float], unit: str, target: str = "") -> None:
    median, best = statistics.median(values), min(values)
    print(f"{name:<46} {median:>9.1f} {best:>9.1f} {unit:<4} {target}")


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def _instance(work: Path, records: int) -> tuple[Instance, Org]:
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
    bulk_records(instance, list_id, records - 3)
    return instance, org


def _first_syncs(org: Org, homes: list[Path]) -> tuple[int, dict[str, list[float]]]:
    """Pair a device in each home and time its first sync, split into parts."""
    parts: dict[str, list[float]] = {"total": [], "open": [], "write": [], "rest": []}
    records = 0
    for home in homes:
        device = Device(ClientSettings(home=home), keystore=MemoryKeystore())
        opened = device.pair(org.qr(), MASTER_PASSWORD)
        device_side: list[float] = []

        def timed(
            real: Callable[..., T], spent: list[float] = device_side
        ) -> Callable[..., T]:
            def run(*args: object, **kwargs: object) -> T:
                t0 = time.perf_counter()
                try:
                    return real(*args, **kwargs)
                finally:
                    spent.append(time.perf_counter() - t0)

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
            records = opened.sync().records
            total = time.perf_counter() - started
        opened.lock()
        parts["total"].append(total * 1000)
        parts["open"].append(device_side[0] * 1000)
        parts["write"].append(device_side[1] * 1000)
        parts["rest"].append((total - sum(device_side)) * 1000)
    return records, parts


def _unlocks_and_searches(homes: list[Path]) -> dict[str, list[float]]:
    """Unlock each device (Argon2id timed on its own), then search right away."""
    out: dict[str, list[float]] = {
        k: [] for k in ("kdf", "rest", "first", "later", "all")
    }
    real_derive = device_module.derive_key
    spent: list[float] = []

    def timed_derive(password: str, params: object) -> bytes:
        t0 = time.perf_counter()
        key = real_derive(password, params)  # type: ignore[arg-type]
        spent.append(time.perf_counter() - t0)
        return key

    for home in homes:
        device = Device(ClientSettings(home=home), keystore=MemoryKeystore())
        with mock.patch.object(device_module, "derive_key", timed_derive):
            started = time.perf_counter()
            unlocked = device.unlock(MASTER_PASSWORD)
            total = time.perf_counter() - started
        out["kdf"].append(spent[-1] * 1000)
        out["rest"].append((total - spent[-1]) * 1000)

        # The first search after unlock opens the sealed search index (one
        # blob) and then only the records it found; later ones reuse it.
        started = time.perf_counter()
        assert len(unlocked.search("host1234")) == 1
        out["first"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        for _ in range(10):
            unlocked.search("host4321")
        out["later"].append((time.perf_counter() - started) * 100)
        started = time.perf_counter()
        unlocked.search("service")
        out["all"].append((time.perf_counter() - started) * 1000)
        unlocked.lock()
    return out


def _memory(home: Path) -> tuple[float, float]:
    memory = subprocess.run(
        [sys.executable, "-m", "benchmarks.client_memory", str(home)],
        input=MASTER_PASSWORD + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    resident, peak = (float(x) for x in memory.stdout.split())
    return resident, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="strongroom-bench-"))
    instance, org = _instance(work, args.records)
    homes = [work / f"phone{i}" for i in range(args.repeat)]

    print(f"load average before: {_load()}")
    print(f"{'measure':<46} {'median':>9} {'best':>9} unit target")
    with running_appserver(instance):
        records, sync = _first_syncs(org, homes)
    _row(f"first sync of {records} records, end to end", sync["total"], "ms", "< 3000")
    _row("  the device opens the sealed boxes", sync["open"], "ms")
    _row("  the device seals and commits", sync["write"], "ms")
    _row("  request, server work, transfer", sync["rest"], "ms")

    reads = _unlocks_and_searches(homes)
    _row("unlock: Argon2id (64 MiB, 3 passes)", reads["kdf"], "ms")
    _row("unlock: everything else", reads["rest"], "ms")
    _row("first search after unlock (1 hit)", reads["first"], "ms", "< 50")
    _row("  later searches (1 hit)", reads["later"], "ms", "< 50")
    _row(f"  a search matching all ({records - 3} hits)", reads["all"], "ms")

    measured = [_memory(home) for home in homes]
    _row(
        f"resident memory, {records} records unlocked",
        [resident for resident, _ in measured],
        "MB",
        "< 150",
    )
    _row(
        "peak resident memory (with Argon2id's 64 MiB)", [p for _, p in measured], "MB"
    )
    print(f"load average after:  {_load()}")
    instance.close()


class _MonkeyPatch:
    """The one method of pytest's MonkeyPatch that fast_server_argon2 uses."""

    def setattr(self, target: object, name: str, value: object) -> None:
        setattr(target, name, value)


if __name__ == "__main__":
    main()
