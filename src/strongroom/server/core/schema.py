"""Bringing the database schema up to date, and refusing to run when it is behind."""

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from strongroom.server.core.db import Database
from strongroom.server.core.errors import SchemaBehind

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at Strongroom's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration this version of Strongroom ships."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return head or ""


def current_revision(db: Database) -> str | None:
    """The migration the database is at, or None for an empty database."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database) -> None:
    """Apply every migration the database lacks."""
    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    log.info("schema_upgraded revision=%s", head_revision())


def ensure_current(db: Database) -> None:
    """Raise SchemaBehind unless the database is at this version's head."""
    current = current_revision(db)
    head = head_revision()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise SchemaBehind(
            f"the database schema is {state}, this version needs {head}",
            hint="run `strongroom db upgrade` (back the database up first)",
        )
