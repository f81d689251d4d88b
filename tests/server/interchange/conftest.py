"""Fixtures for the interchange tests: where the real sample files live."""

import os
from pathlib import Path

import pytest

REALDATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The shared real-data folder; skipped when absent, except in CI."""
    if not REALDATA.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"real test data missing at {REALDATA}")
        pytest.skip("../shared/realdata is not present")
    return REALDATA.resolve()
