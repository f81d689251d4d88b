"""Helpers shared by the server tests of the vault, accounts, audit and CLI."""

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from strongroom.server.core.db import Database
from strongroom.server.models_registry import Base

# Argon2id at its lowest cost: a valid hash in microseconds, for tests that
# create users but never check how hard their hashes are to crack.
_CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def use_cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make user creation hash passwords cheaply for the rest of the test."""
    monkeypatch.setattr("strongroom.server.accounts.service.hash_password", _CHEAP.hash)


def row_counts(url: str) -> dict[str, int]:
    """How many rows every Strongroom table holds (to prove nothing was written)."""
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return {
                table.name: int(
                    conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                    or 0
                )
                for table in Base.metadata.sorted_tables
            }
    finally:
        db.dispose()
