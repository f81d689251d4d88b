"""The migrations build exactly the schema the models describe, on each database."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from strongroom.server.core.db import Database
from strongroom.server.models_registry import Base


# SQLite cannot reflect the lower(...) expression indexes, so Alembic skips
# comparing them there and says so; PostgreSQL compares them.
@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_models_and_migrations_agree(database_url: str) -> None:
    """A database migrated to head differs from the models in no table, column,
    type, index or constraint: a model change without its migration fails here."""
    db = Database(database_url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        db.dispose()
    assert differences == []
