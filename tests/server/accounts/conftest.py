"""Fixtures for these service tests: cheap password hashing for made-up users."""

import pytest

from tests.server.support import use_cheap_hashing


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_hashing(monkeypatch)
