"""Server time of the browser UI's list page for a list of 10,000 records.

    .venv/bin/python benchmarks/web_list_page.py [--records 10000] [--runs 20]
        [--databases sqlite,postgresql]

Builds an instance (in a temporary directory; PostgreSQL in a scratch
database when reachable at STRONGROOM_TEST_PG_URL, default
postgresql://postgres@127.0.0.1:5432/test, dropped afterwards) with one list
of `--records` records, signs in through the real login form, then times the
whole request in process (session check, permission check, COUNT and the
LIMIT/OFFSET page query, template rendering) for: the first page, a middle
page, the last page, each sort column both ways, and a search. It prints
min / median / p95 milliseconds per case; the target is a median under
100 ms. It is not a test.
"""

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from strongroom.server.accounts import service as accounts
from strongroom.server.core import counters
from strongroom.server.core.config import Settings
from strongroom.server.core.db import new_id, utcnow
from strongroom.server.core.instance import Instance, initialise, operator
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, Record
from strongroom.server.web.app import create_web_app

PG_URL = os.environ.get(
    "STRONGROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PASSWORD = "benchmark-admin-password"
TARGET_MS = 100.0


@contextmanager
def scratch_postgres() -> Iterator[str | None]:
    """A fresh PostgreSQL database URL, or None when PostgreSQL is not reachable."""
    admin_url = PG_URL.replace("postgresql://", "postgresql+psycopg://")
    try:
        engine = sa.create_engine(
            admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with engine.connect() as conn:
            name = f"strongroom_bench_{uuid.uuid4().hex[:10]}"
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        yield None
        return
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def fill(instance: Instance, records: int) -> str:
    """One list with `records` records (sealed passwords), admin may view it."""
    op = operator()
    with instance.db.session() as session:
        plist = vault.create_list(session, op, "Bench/Big list", create_folders=True)
        admin = accounts.find_user(session, "admin")
        vault.grant(session, op, plist, Level.VIEW, user=admin)
        now = utcnow()
        version = counters.bump(session, counters.RECORDS)
        rows = []
        for i in range(records):
            record_id = new_id()
            rows.append(
                {
                    "id": record_id,
                    "list_id": plist.id,
                    "title": f"Server {i:05d}",
                    "username": f"svc-{(i * 7919) % records:05d}",
                    "url": f"https://host{i}.example.com/login",
                    "description": "benchmark record",
                    "domain": "",
                    "host_name": f"host{i}",
                    "password_sealed": instance.cipher.seal(
                        session, f"pw-{i}", aad=f"record/{record_id}/password"
                    ),
                    "version": version,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        session.execute(sa.insert(Record), rows)
        return plist.id


def signed_in(app: object) -> TestClient:
    """A client signed in through the real form."""
    client = TestClient(app, base_url="https://testserver")  # type: ignore[arg-type]
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if token is None:
        raise SystemExit("the login page has no CSRF token")
    client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    return client


def measure(client: TestClient, url: str, runs: int) -> list[float]:
    """Milliseconds of `runs` requests (after one warm-up)."""
    client.get(url)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    return times


def run(database: str, url: str | None, records: int, runs: int) -> None:
    """Build, measure and print one database's table."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data", database_url=url, environment="test"
        )
        initialise(settings, admin_name="admin", admin_password=PASSWORD)
        instance = Instance.open(settings)
        started = time.perf_counter()
        list_id = fill(instance, records)
        built = time.perf_counter() - started
        print(f"\n{database}: {records} records built in {built:.1f} s")
        client = signed_in(create_web_app(instance))
        pages = -(-records // 50)
        cases = {
            "first page": f"/lists/{list_id}",
            "middle page": f"/lists/{list_id}?page={pages // 2}",
            "last page": f"/lists/{list_id}?page={pages}",
            "sort title desc": f"/lists/{list_id}?sort=title&dir=desc",
            "sort username": f"/lists/{list_id}?sort=username",
            "sort url desc": f"/lists/{list_id}?sort=url&dir=desc&page=100",
            "sort updated": f"/lists/{list_id}?sort=updated",
            "search 'host12'": f"/lists/{list_id}?q=host12",
            "search, no match": f"/lists/{list_id}?q=zzzz",
        }
        print(f"{'case':<20}{'min ms':>9}{'median':>9}{'p95':>9}")
        worst = 0.0
        for name, path in cases.items():
            times = sorted(measure(client, path, runs))
            median = statistics.median(times)
            worst = max(worst, median)
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"{name:<20}{times[0]:>9.1f}{median:>9.1f}{p95:>9.1f}")
        verdict = "meets" if worst < TARGET_MS else "MISSES"
        print(f"worst median {worst:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")
        client.close()
        instance.close()


def main() -> None:
    """Parse the options and run each database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    wanted = set(args.databases.split(","))
    if "sqlite" in wanted:
        run("sqlite", None, args.records, args.runs)
    if "postgresql" in wanted:
        with scratch_postgres() as url:
            if url is None:
                print("\npostgresql: not reachable, skipped", file=sys.stderr)
            else:
                run("postgresql", url, args.records, args.runs)


if __name__ == "__main__":
    main()
