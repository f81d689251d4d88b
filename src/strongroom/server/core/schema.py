"""Bringing the database schema up to date, and refusing to run when it is behind."""

import functools
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from strongroom.server.core.db import Database
from strongroom.server.core.errors import SchemaAhead, SchemaBehind

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at Strongroom's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every migration this version of Strongroom ships (read once)."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(script.revision for script in scripts.walk_revisions())


def _refuse_unknown(current: set[str]) -> None:
    unknown = current - known_revisions()
    if unknown:
        # Upgrading cannot help and downgrading needs the newer code's
        # migrations: only that version (or a backup) can run this database.
        raise SchemaAhead(
            f"the database schema is at revision {', '.join(sorted(unknown))}, "
            "which this version of Strongroom does not know: a newer version "
            "migrated it",
            hint="run the newer Strongroom on it, or restore the backup made "
            "before that upgrade",
        )


def head_revisions() -> set[str]:
    """The newest migrations this version of Strongroom ships."""
    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def head_revision() -> str:
    """The newest migrations as one printable string."""
    return ", ".join(sorted(head_revisions()))


def current_revisions(db: Database) -> set[str]:
    """The migrations the database is at (empty for an empty database)."""
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def current_revision(db: Database) -> str | None:
    """The database's migrations as one printable string, None when empty."""
    heads = current_revisions(db)
    return ", ".join(sorted(heads)) if heads else None


def upgrade(db: Database) -> None:
    """Apply every migration the database lacks."""
    _refuse_unknown(current_revisions(db))
    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")
    log.info("schema_upgraded revision=%s", head_revision())


def ensure_current(db: Database) -> None:
    """Raise SchemaBehind unless the database is at this version's head."""
    current = current_revisions(db)
    _refuse_unknown(current)
    if current != head_revisions():
        state = f"at revision {current_revision(db)}" if current else "empty"
        raise SchemaBehind(
            f"the database schema is {state}, this version needs {head_revision()}",
            hint="run `strongroom db upgrade` (back the database up first)",
        )
