"""Database engine, sessions, the declarative base and the schema check.

The same code runs on SQLite (the embedded default, in WAL mode) and on
PostgreSQL (`STRONGROOM_DATABASE_URL`).
"""

import datetime
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    String,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from strongroom.server.core.errors import ConfigurationError, ServiceUnavailable

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every model; constraint names are stable across databases."""

    metadata = MetaData(naming_convention=NAMING)


def new_id() -> str:
    """Return a new random identifier for a row."""
    return str(uuid.uuid4())


def utcnow() -> datetime.datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.datetime.now(datetime.UTC)


class UTCDateTime(TypeDecorator[datetime.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so without this a value would come back naive there
    and aware on PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime.datetime | None, dialect: Dialect
    ) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware one")
        return value.astimezone(datetime.UTC)

    def process_result_value(
        self, value: datetime.datetime | None, dialect: Dialect
    ) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC)


def normalise_url(url: str) -> str:
    """Point plain PostgreSQL URLs at the psycopg 3 driver."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


SQLITE_LOWER = "strongroom_lower"


class folded(FunctionElement[str]):
    """`lower(x)` that folds every letter on both databases, for comparing
    names ignoring case.

    SQLite's own lower() folds ASCII letters only while PostgreSQL's folds
    them all, so a user called "Ärger" could be created on SQLite and then
    never be found again by a lookup that lowers both sides differently. On
    SQLite this calls a function of Python's own folding instead. SQLite's
    built-in lower() is left alone: the lower(...) indexes were built with it,
    and replacing it would make them disagree with their rows.
    """

    type = String()
    name = "folded"
    inherit_cache = True


@compiles(folded)
def _folded_default(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(folded, "sqlite")
def _folded_sqlite(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


def _unicode_lower(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").lower()
    return str(value).lower()


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        # See `folded`: SQLite's own lower() folds ASCII letters only.
        dbapi_conn.create_function(SQLITE_LOWER, 1, _unicode_lower, deterministic=True)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that
        # reads and then writes can fail with SQLITE_BUSY no timeout can cure.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for `url` with the settings Strongroom relies on."""
    url = normalise_url(url)
    try:
        return _make_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError) as exc:
        # The URL itself is not repeated: it may carry a database password.
        raise ConfigurationError(
            "the database URL is not one Strongroom can use",
            hint="set STRONGROOM_DATABASE_URL to e.g. "
            "postgresql://USER@HOST/DB, or unset it for SQLite in the data "
            "directory",
        ) from exc


def _make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs
        )
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, **kwargs)


class Database:
    """An engine and its session factory; the one handle features receive."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Values every session of this database carries in `session.info`
        # (the audit chain key, set when an instance is opened).
        self.session_info: dict[str, Any] = {}

    @property
    def is_sqlite(self) -> bool:
        """Tell whether this is the embedded SQLite database."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session in one transaction, committed on success."""
        session = self._sessions()
        session.info.update(self.session_info)
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            log.warning("database_error error=%s", type(exc.orig).__name__)
            raise ServiceUnavailable(
                "the database did not answer",
                hint="check that it is running and STRONGROOM_DATABASE_URL is right",
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        """Run a trivial query, raising ServiceUnavailable when it fails."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise ServiceUnavailable(
                "the database did not answer",
                hint="check that it is running and STRONGROOM_DATABASE_URL is right",
            ) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
