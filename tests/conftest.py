"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is the service CI provides on 127.0.0.1:5432 (override with
STRONGROOM_TEST_PG_URL). Outside CI its tests skip with the reason when it is
not reachable; with CI=true they fail instead, so CI cannot silently skip.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from strongroom.server.core.config import Settings
from strongroom.server.core.db import Database
from strongroom.server.core.instance import InitResult, Instance, initialise
from strongroom.server.core.schema import upgrade
from strongroom.server.models_registry import Base

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get(
    "STRONGROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
ADMIN_PASSWORD = "correct-horse-battery-staple"
# The shared sample files sit beside the checkout (../shared/realdata);
# STRONGROOM_TEST_REALDATA points elsewhere when a clone lives apart from them.
REALDATA = Path(
    os.environ.get("STRONGROOM_TEST_REALDATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
)


def realdata_dir() -> Path:
    """The shared real sample files; skip outside CI when absent, fail in CI."""
    if REALDATA.is_dir():
        return REALDATA
    if IN_CI:
        pytest.fail(f"{REALDATA} is missing; CI must have the real sample files")
    pytest.skip(f"{REALDATA} is absent (real-data tests run in CI)")


def _pg_reachable() -> str | None:
    try:
        engine = sa.create_engine(
            PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
            connect_args={"connect_timeout": 3},
        )
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except sa.exc.OperationalError as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc.orig}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test session's own, migrated to head."""
    problem = _pg_reachable()
    if problem:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    admin = sa.create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    name = f"strongroom_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    url = f"{base}/{name}"
    db = Database(url)
    upgrade(db)
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated empty SQLite file that each test copies (faster than migrating)."""
    path = tmp_path_factory.mktemp("template") / "strongroom.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


def _truncate_all(url: str) -> None:
    db = Database(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """An empty, migrated database: a SQLite file, or the session's PostgreSQL."""
    if request.param == "sqlite":
        data_dir = tmp_path / "data"
        data_dir.mkdir(mode=0o700)
        shutil.copy(sqlite_template, data_dir / "strongroom.db")
        yield f"sqlite:///{data_dir / 'strongroom.db'}"
        return
    url = request.getfixturevalue("pg_url")
    yield url
    _truncate_all(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for an instance in `tmp_path/data` on the chosen database."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=None if database_url.startswith("sqlite") else database_url,
        environment="test",
    )


@pytest.fixture
def initialised(settings: Settings) -> InitResult:
    """A freshly initialised instance whose admin is `admin`."""
    return initialise(settings, admin_name="admin", admin_password=ADMIN_PASSWORD)


@pytest.fixture
def instance(settings: Settings, initialised: InitResult) -> Iterator[Instance]:
    """The opened instance."""
    opened = Instance.open(settings)
    yield opened
    opened.close()


@pytest.fixture
def session(instance: Instance) -> Iterator[Session]:
    """A session committed at the end of the test (services flush as they go)."""
    with instance.db.session() as s:
        yield s
