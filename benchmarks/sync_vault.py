"""Building large vaults and many devices fast, for the sync benchmarks.

Records are bulk-inserted with SQL (secrets still sealed at rest, one AES-GCM
seal per field as the real service does), and devices are registered directly
with known credentials instead of pairing (which costs an Argon2 run each).
"""

import datetime
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import insert, update

from strongroom.crypto import sealed_box
from strongroom.server.accounts import service as accounts
from strongroom.server.core import counters
from strongroom.server.core.config import Settings
from strongroom.server.core.db import normalise_url, utcnow
from strongroom.server.core.errors import NotFound
from strongroom.server.core.instance import Instance, initialise, operator
from strongroom.server.core.models import ChangeCounter
from strongroom.server.mobile import service as mobile
from strongroom.server.mobile.credentials import credential_hash, new_device_credential
from strongroom.server.mobile.models import Device, MobileCredential
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Record

PG_ADMIN_URL = os.environ.get(
    "STRONGROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BATCH = 2000


@dataclass
class BenchDevice:
    """A registered device the benchmark drives like the app would."""

    device_id: str
    credential: str
    private_key: bytes
    cursor: str | None = None


@dataclass
class Bench:
    """An initialised instance with one user whose phone may see one list."""

    settings: Settings
    instance: Instance
    user_id: str
    list_id: str
    records: int = 0
    elsewhere_flag: bool = False


@contextmanager
def bench_instance(database: str) -> Iterator[Bench]:
    """A throw-away instance on `sqlite` or `postgresql`, removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="strongroom-bench-"))
    pg_name = None
    url = None
    admin = None
    if database == "postgresql":
        pg_name = f"strongroom_bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(
            normalise_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{pg_name}"'))
        url = PG_ADMIN_URL.rpartition("/")[0] + f"/{pg_name}"
    settings = Settings(data_dir=tmp / "data", database_url=url, environment="test")
    try:
        initialise(
            settings, admin_name="admin", admin_password="bench-admin-password-1"
        )
        instance = Instance.open(settings)
        actor = operator()
        with instance.db.session() as session:
            user = accounts.create_user(
                session, actor, "bench", password="bench-web-password-1"
            )
            accounts.grant_feature(session, actor, "mobile", user=user)
            plist = vault.create_list(
                session, actor, "Bench/Records", create_folders=True
            )
            vault.grant(session, actor, plist, vault.Level.VIEW, user=user)
            mobile.set_master_password(session, actor, user, "bench-master-pass-1")
            bench = Bench(settings, instance, user.id, plist.id)
        yield bench
        instance.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if admin is not None and pg_name is not None:
            with admin.connect() as conn:
                conn.execute(
                    sa.text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
                )
            admin.dispose()


def grow_vault(bench: Bench, total: int) -> None:
    """Bulk-insert records until the list holds `total`, each with sealed secrets."""
    cipher = bench.instance.cipher
    while bench.records < total:
        count = min(BATCH, total - bench.records)
        with bench.instance.db.session() as session:
            first = counters.current(session, counters.RECORDS) + 1
            rows = []
            now = utcnow()
            for offset in range(count):
                record_id = str(uuid.uuid4())
                number = bench.records + offset
                rows.append(
                    {
                        "id": record_id,
                        "list_id": bench.list_id,
                        "title": f"server-{number:06d}",
                        "username": "admin",
                        "url": f"https://host{number}.example.com",
                        "description": "benchmark record",
                        "domain": "",
                        "host_name": f"host{number}",
                        "password_sealed": cipher.seal(
                            session,
                            f"pw-{number}-{uuid.uuid4().hex[:12]}",
                            aad=vault.secret_aad(record_id, "password"),
                        ),
                        "notes_sealed": None,
                        "otp_sealed": None,
                        "version": first + offset,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            session.execute(insert(Record), rows)
            # The counter must cover every version handed out above.
            session.execute(
                update(ChangeCounter)
                .where(ChangeCounter.name == counters.RECORDS)
                .values(value=first + count - 1)
            )
        bench.records += count


def register_device(bench: Bench) -> BenchDevice:
    """A device of the bench user with a known credential (no Argon2 pairing)."""
    private, public = sealed_box.generate_keypair()
    credential = new_device_credential()
    with bench.instance.db.session() as session:
        generation = session.get(MobileCredential, bench.user_id)
        device = Device(
            user_id=bench.user_id,
            name="bench",
            platform="bench",
            box_public_key=public,
            status="active",
            credential_hash=credential_hash(credential),
            credential_generation=generation.generation if generation else 0,
            installation_id=uuid.uuid4().hex,
            paired_at=datetime.datetime.now(datetime.UTC),
        )
        session.add(device)
        session.flush()
        return BenchDevice(device.id, credential, private)


def touch_one_record(bench: Bench) -> None:
    """Change one record through the vault service (a new version)."""
    with bench.instance.db.session() as session:
        record = session.scalars(
            sa.select(Record).where(Record.list_id == bench.list_id).limit(1)
        ).one()
        vault.update_record(
            session,
            operator(),
            bench.instance.cipher,
            record,
            vault.RecordInput(title=record.title, password=uuid.uuid4().hex),
        )


def change_access_elsewhere(bench: Bench) -> None:
    """Change another user's access (toggle Mobile Access on their own list).

    It moves the global `access` counter that every device's next sync looks
    at, without changing anything the bench user may see.
    """
    actor = operator()
    with bench.instance.db.session() as session:
        try:
            other = accounts.find_user(session, "bench-other")
        except NotFound:
            other = accounts.create_user(
                session, actor, "bench-other", password="bench-other-password-1"
            )
            vault.create_list(session, actor, "Elsewhere/Other", create_folders=True)
        plist = vault.find_list(session, "Elsewhere/Other")
        bench.elsewhere_flag = not bench.elsewhere_flag
        vault.grant(
            session,
            actor,
            plist,
            vault.Level.VIEW,
            user=other,
            mobile_access=bench.elsewhere_flag,
        )
