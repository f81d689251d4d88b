"""Sync benchmarks: reply size and server time against vault size, and
sustained no-change syncs per second from many devices over HTTPS.

    .venv/bin/python -m benchmarks.sync [--sizes 1000,10000,100000]
        [--databases sqlite,postgresql] [--devices 100] [--seconds 15]
        [--skip-sizes] [--skip-throughput]

Prints tables; it is not a test. Targets (issue 3): a sync after one record
changed stays under 2 KB and 20 ms of server time at 100,000 records, and one
App Server process sustains 500 no-change syncs per second from 100 devices.
A sync after another user's access changed is measured too: it must stay as
flat as the one-change delta.
Server time is the service call (authenticate, diff, store, seal, serialise)
measured in-process; throughput is measured over HTTPS against a real
`strongroom appserver` process, with the load generated on the same machine.
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.sync_vault import (
    Bench,
    BenchDevice,
    bench_instance,
    change_access_elsewhere,
    grow_vault,
    register_device,
    touch_one_record,
)
from strongroom.protocol import PROTOCOL_VERSION
from strongroom.protocol.schemas import SyncRequest, SyncResponse
from strongroom.server.mobile import sync

DELTA_ROUNDS = 15


# --- size: first sync and delta ----------------------------------------------


def _timed_sync(bench: Bench, device: BenchDevice) -> tuple[float, int, SyncResponse]:
    request = SyncRequest(
        protocol_version=PROTOCOL_VERSION,
        device_id=device.device_id,
        device_credential=device.credential,
        cursor=device.cursor,
    )
    start = time.perf_counter()
    reply = sync.sync(bench.instance, request, ip="127.0.0.1")
    body = reply.model_dump_json()
    elapsed = time.perf_counter() - start
    device.cursor = reply.cursor
    device.credential = reply.device_credential
    return elapsed, len(body.encode()), reply


def measure_sizes(database: str, sizes: list[int]) -> list[dict[str, object]]:
    """First-sync and one-change-delta figures for each vault size."""
    rows: list[dict[str, object]] = []
    with bench_instance(database) as bench:
        for size in sorted(sizes):
            start = time.perf_counter()
            grow_vault(bench, size)
            build = time.perf_counter() - start

            device = register_device(bench)
            first_s, first_bytes, first = _timed_sync(bench, device)
            assert len(first.upserts) == size, (len(first.upserts), size)

            delta_times, delta_sizes = [], []
            for _ in range(DELTA_ROUNDS):
                touch_one_record(bench)
                seconds, size_bytes, reply = _timed_sync(bench, device)
                assert len(reply.upserts) == 1 and not reply.full
                delta_times.append(seconds)
                delta_sizes.append(size_bytes)

            # Someone else's grant changes: the global access counter moves,
            # this device's lists do not; its sync must stay as cheap.
            # (The first call makes the other user's list, a new folder, which
            # does resend the list table: it is not timed.)
            change_access_elsewhere(bench)
            _timed_sync(bench, device)
            access_times, access_sizes = [], []
            for _ in range(DELTA_ROUNDS):
                change_access_elsewhere(bench)
                seconds, size_bytes, reply = _timed_sync(bench, device)
                assert not reply.upserts and reply.lists is None
                access_times.append(seconds)
                access_sizes.append(size_bytes)
            rows.append(
                {
                    "database": database,
                    "records": size,
                    "build_s": build,
                    "first_ms": first_s * 1000,
                    "first_bytes": first_bytes,
                    "delta_ms_median": statistics.median(delta_times) * 1000,
                    "delta_ms_max": max(delta_times) * 1000,
                    "delta_bytes": max(delta_sizes),
                    "access_ms_median": statistics.median(access_times) * 1000,
                    "access_bytes": max(access_sizes),
                }
            )
            print(_row_text(rows[-1]), flush=True)
    return rows


def _row_text(row: dict[str, object]) -> str:
    return (
        f"  {row['database']:<10} {row['records']:>8,} records: "
        f"first {row['first_ms']:>9.1f} ms {row['first_bytes']:>12,} B | "
        f"delta median {row['delta_ms_median']:>6.2f} ms, max "
        f"{row['delta_ms_max']:>6.2f} ms, {row['delta_bytes']:>5,} B | "
        f"grant elsewhere median {row['access_ms_median']:>6.2f} ms, "
        f"{row['access_bytes']:>5,} B (vault built in {row['build_s']:.1f} s)"
    )


# --- throughput: many devices over HTTPS -------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def appserver(bench: Bench) -> Iterator[tuple[str, int]]:
    """A real `strongroom appserver` process on the bench instance."""
    port = _free_port()
    env = {**os.environ, "STRONGROOM_LOG_LEVEL": "WARNING"}
    if bench.settings.database_url:
        env["STRONGROOM_DATABASE_URL"] = bench.settings.database_url
    command = [
        str(Path(sys.executable).parent / "strongroom"),
        "--data-dir",
        str(bench.settings.data_dir),
        "appserver",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, env=env)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", verify=_tls(bench), timeout=2).is_success:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the App Server did not start")
            time.sleep(0.3)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _tls(bench: Bench) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(bench.settings.cert_file))


async def _drive(
    url: str, bench: Bench, devices: list[BenchDevice], seconds: float, pid: int
) -> tuple[int, int, list[float], float]:
    limits = httpx.Limits(
        max_connections=len(devices), max_keepalive_connections=len(devices)
    )
    async with httpx.AsyncClient(
        base_url=url, verify=_tls(bench), limits=limits, timeout=60
    ) as client:

        async def once(device: BenchDevice) -> float:
            body = {
                "protocol_version": PROTOCOL_VERSION,
                "device_id": device.device_id,
                "device_credential": device.credential,
                "cursor": device.cursor,
                "events": [],
            }
            start = time.perf_counter()
            response = await client.post(
                "/v1/sync",
                content=json.dumps(body),
                headers={"content-type": "application/json"},
            )
            elapsed = time.perf_counter() - start
            if response.status_code != 200:
                raise SystemExit(f"sync failed: {response.status_code} {response.text}")
            reply = response.json()
            device.cursor = reply["cursor"]
            device.credential = reply["device_credential"]
            return elapsed

        # Every device takes its first (full) sync before the clock starts.
        await asyncio.gather(*(once(d) for d in devices))
        await asyncio.gather(*(once(d) for d in devices))

        done = 0
        errors = 0
        latencies: list[float] = []
        cpu_before = _cpu_seconds(pid)
        stop_at = time.perf_counter() + seconds

        async def loop(device: BenchDevice) -> None:
            nonlocal done, errors
            while time.perf_counter() < stop_at:
                try:
                    latencies.append(await once(device))
                    done += 1
                except httpx.HTTPError:
                    errors += 1

        await asyncio.gather(*(loop(d) for d in devices))
        return done, errors, latencies, _cpu_seconds(pid) - cpu_before


def measure_throughput(
    database: str, device_count: int, seconds: float
) -> dict[str, object]:
    """No-change syncs per second from `device_count` devices over HTTPS."""
    with bench_instance(database) as bench:
        grow_vault(bench, 100)
        devices = [register_device(bench) for _ in range(device_count)]
        with appserver(bench) as (url, pid):
            start = time.perf_counter()
            done, errors, latencies, cpu = asyncio.run(
                _drive(url, bench, devices, seconds, pid)
            )
            wall = time.perf_counter() - start
        latencies.sort()
        row = {
            "database": database,
            "devices": device_count,
            "seconds": seconds,
            "syncs": done,
            "errors": errors,
            "per_second": done / seconds,
            "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
            "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000
            if latencies
            else 0.0,
            "wall_s": wall,
            "server_cpu_ms_per_sync": cpu / done * 1000 if done else 0.0,
        }
        print(
            f"  {database:<10} {device_count} devices: {row['per_second']:>7.1f} "
            f"syncs/s ({done} in {seconds:.0f} s, {errors} errors), latency p50 "
            f"{row['p50_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms; server CPU "
            f"{row['server_cpu_ms_per_sync']:.1f} ms per sync",
            flush=True,
        )
        return row


# --- main --------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run the benchmarks, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--skip-sizes", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args(argv)

    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    results: dict[str, list[dict[str, object]]] = {"sizes": [], "throughput": []}
    print(f"Strongroom sync benchmark on {os.cpu_count()} CPU(s)", flush=True)
    if not args.skip_sizes:
        print("\nFirst sync and one-change delta (server time, in-process):")
        for database in databases:
            results["sizes"].extend(measure_sizes(database, sizes))
    if not args.skip_throughput:
        print(f"\nNo-change syncs over HTTPS, one App Server, {args.devices} devices:")
        for database in databases:
            results["throughput"].append(
                measure_throughput(database, args.devices, args.seconds)
            )
    _print_tables(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def _print_tables(results: dict[str, list[dict[str, object]]]) -> None:
    if results["sizes"]:
        print(
            "\n| database | records | first sync ms | first sync bytes "
            "| delta ms (median / max) | delta bytes "
            "| after a grant elsewhere ms | its bytes |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in results["sizes"]:
            print(
                f"| {r['database']} | {r['records']:,} | {r['first_ms']:.0f} | "
                f"{r['first_bytes']:,} | {r['delta_ms_median']:.2f} / "
                f"{r['delta_ms_max']:.2f} | {r['delta_bytes']:,} | "
                f"{r['access_ms_median']:.2f} | {r['access_bytes']:,} |"
            )
    if results["throughput"]:
        print(
            "\n| database | devices | no-change syncs/s | p50 ms | p95 ms | "
            "server CPU ms/sync | errors |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in results["throughput"]:
            print(
                f"| {r['database']} | {r['devices']} | {r['per_second']:.0f} | "
                f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
                f"{r['server_cpu_ms_per_sync']:.1f} | {r['errors']} |"
            )


if __name__ == "__main__":
    main()
