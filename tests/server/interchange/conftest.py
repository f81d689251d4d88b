"""Fixtures for the interchange tests: where the real sample files live."""

from pathlib import Path

import pytest

from tests.conftest import realdata_dir


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The shared real-data folder; skipped when absent, except in CI."""
    return realdata_dir().resolve()
