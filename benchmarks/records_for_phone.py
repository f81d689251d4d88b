"""How fast `records_for_phone` answers for a user with 2,000 lists and 50 groups.

    .venv/bin/python benchmarks/records_for_phone.py [--lists 2000] [--groups 50]
        [--records-per-list 3] [--runs 30] [--databases sqlite,postgresql]

Builds, on each database, one user who is a member of `--groups` groups and
reaches `--lists` lists: about a third through direct grants, the rest through
group grants (some lists through both), with the Mobile Access flag off on
about one grant in ten so that some lists drop out. Around them sit noise the
query must skip: other users' and other groups' grants on the same lists.
Then it times, over `--runs` repeated runs, the SQL of `phone_list_ids` (the
set of list ids), the ids of the records that may travel (what the answer is,
record by record), the records' SELECT as plain rows of every column, and the
whole `records_for_phone` call (that one SELECT, ORM objects built), and
prints min / median / p95 milliseconds and the rows returned. PostgreSQL is used
when reachable (STRONGROOM_TEST_PG_URL, default
postgresql://postgres@127.0.0.1:5432/test) in a scratch database that is
dropped afterwards. It is not a test.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strongroom.server.accounts.models import FeatureAccess, Group, GroupMember, User
from strongroom.server.core.db import Database, new_id
from strongroom.server.core.keys import FieldCipher, InstanceKeyring
from strongroom.server.core.schema import upgrade
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, PasswordList, Permission, Record

PG_URL = os.environ.get(
    "STRONGROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
NOISE_USERS = 200
NOISE_GROUPS = 100
FLAG_OFF_SHARE = 0.1


@dataclass(frozen=True)
class Shape:
    """How big a vault to build."""

    lists: int
    groups: int
    records_per_list: int


@dataclass(frozen=True)
class Timing:
    """One measured query on one database."""

    database: str
    query: str
    runs_ms: list[float]
    rows: int

    def row(self) -> str:
        """A line of the results table."""
        ordered = sorted(self.runs_ms)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return (
            f"{self.database:<11} {self.query:<18} {ordered[0]:>8.2f} "
            f"{statistics.median(ordered):>8.2f} {p95:>8.2f} {self.rows:>7}"
        )


def _user(name: str) -> User:
    return User(id=new_id(), login_name=name, password_hash="x", display_name=name)


def build(session: Session, cipher: FieldCipher, shape: Shape, seed: int = 7) -> User:
    """Fill an empty database with the benchmark's vault; return the user."""
    rng = random.Random(seed)
    user = _user("bench")
    groups = [Group(id=new_id(), name=f"bench-group-{i}") for i in range(shape.groups)]
    noise_groups = [Group(id=new_id(), name=f"noise-{i}") for i in range(NOISE_GROUPS)]
    noise_users = [_user(f"noise-user-{i}") for i in range(NOISE_USERS)]
    session.add_all([user, *groups, *noise_groups, *noise_users])
    session.flush()
    session.add_all(GroupMember(group_id=g.id, user_id=user.id) for g in groups)
    session.add_all(
        GroupMember(group_id=rng.choice(noise_groups).id, user_id=u.id)
        for u in noise_users
    )
    # The feature reaches the user through one of their groups, as it usually does.
    session.add(FeatureAccess(feature="mobile", group_id=groups[0].id))

    lists = [PasswordList(id=new_id(), name=f"list-{i}") for i in range(shape.lists)]
    session.add_all(lists)
    session.flush()
    session.add_all(_grants(rng, lists, user, groups, noise_users, noise_groups))
    session.flush()
    _records(session, cipher, lists, shape.records_per_list)
    return user


def _grants(
    rng: random.Random,
    lists: list[PasswordList],
    user: User,
    groups: list[Group],
    noise_users: list[User],
    noise_groups: list[Group],
) -> Iterator[Permission]:
    def perm(plist: PasswordList, **grantee: str) -> Permission:
        return Permission(
            list_id=plist.id,
            level=int(rng.choice(list(Level))),
            mobile_access=rng.random() >= FLAG_OFF_SHARE,
            **grantee,
        )

    for number, plist in enumerate(lists):
        direct = number % 3 == 0
        if direct:
            yield perm(plist, user_id=user.id)
        if not direct or rng.random() < 0.3:
            for group in rng.sample(groups, k=rng.randint(1, 2)):
                yield perm(plist, group_id=group.id)
        yield perm(plist, user_id=rng.choice(noise_users).id)
        yield perm(plist, group_id=rng.choice(noise_groups).id)


def _records(
    session: Session, cipher: FieldCipher, lists: list[PasswordList], per_list: int
) -> None:
    rows = []
    for plist in lists:
        for number in range(per_list):
            record = Record(id=new_id(), list_id=plist.id, title=f"record-{number}")
            record.password_sealed = cipher.seal(
                session, f"pw-{number}", aad=f"record/{record.id}/password"
            )
            record.version = len(rows) + 1
            rows.append(record)
    session.add_all(rows)
    session.flush()


def measure(name: str, session: Session, user: User, runs: int) -> Iterator[Timing]:
    """Time each query `runs` times (after one warm-up run)."""
    # The same SELECT as records_for_phone, as record ids and as plain rows:
    # the gap between those and the whole call is the cost of fetching every
    # column and building ORM objects, not of deciding what may travel.
    visible = Record.list_id.in_(vault.phone_list_ids(user.id))
    record_ids = sa.select(Record.id).where(visible)
    record_rows = sa.select(*sa.inspect(Record).columns).where(visible)
    queries: dict[str, Callable[[], int]] = {
        "phone_list_ids": lambda: len(
            session.execute(vault.phone_list_ids(user.id)).all()
        ),
        "record ids": lambda: len(session.execute(record_ids).all()),
        "records SQL": lambda: len(session.execute(record_rows).all()),
        "records_for_phone": lambda: len(vault.records_for_phone(session, user)),
    }
    for query, call in queries.items():
        call()
        samples, rows = [], 0
        for _ in range(runs):
            session.expunge_all()
            start = time.perf_counter()
            rows = call()
            samples.append((time.perf_counter() - start) * 1000)
        yield Timing(name, query, samples, rows)


def run_on(name: str, url: str, shape: Shape, runs: int) -> list[Timing]:
    """Build the vault on `url`, analyse it, and time the queries."""
    db = Database(url)
    upgrade(db)
    cipher = FieldCipher(InstanceKeyring.generate())
    started = time.perf_counter()
    with db.session() as session:
        user = build(session, cipher, shape)
    print(f"{name}: built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    with db.engine.connect() as conn:
        # Fresh statistics, as autovacuum / a long-running SQLite would have.
        conn.execute(sa.text("ANALYZE"))
        conn.commit()
    with db.session() as session:
        timings = list(measure(name, session, user, runs))
    db.dispose()
    return timings


@contextmanager
def sqlite_url() -> Iterator[str]:
    """A SQLite file in a temporary directory."""
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


@contextmanager
def postgresql_url() -> Iterator[str | None]:
    """A scratch PostgreSQL database, or None when the server does not answer."""
    admin_url = PG_URL.replace("postgresql://", "postgresql+psycopg://")
    try:
        admin = sa.create_engine(
            admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        name = f"strongroom_bench_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        print(f"postgresql: skipped, not reachable ({exc.orig})", file=sys.stderr)
        yield None
        return
    try:
        yield f"{PG_URL.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    """Parse the options, run on each database, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--records-per-list", type=int, default=3)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    shape = Shape(args.lists, args.groups, args.records_per_list)
    wanted = {name.strip() for name in args.databases.split(",")}

    timings: list[Timing] = []
    if "sqlite" in wanted:
        with sqlite_url() as url:
            timings += run_on("sqlite", url, shape, args.runs)
    if "postgresql" in wanted:
        with postgresql_url() as url:
            if url is not None:
                timings += run_on("postgresql", url, shape, args.runs)

    print(
        f"records_for_phone: {shape.lists} lists, {shape.groups} groups, "
        f"{shape.records_per_list} records per list, {args.runs} runs"
    )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"(load average {load} on {os.cpu_count()} CPUs: figures scale with it)")
    header = ("database", "query", "min ms", "median", "p95", "rows")
    print("{:<11} {:<18} {:>8} {:>8} {:>8} {:>7}".format(*header))
    for timing in timings:
        print(timing.row())


if __name__ == "__main__":
    main()
