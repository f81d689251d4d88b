"""The web application around the REST API, and keys to call it with."""

from collections.abc import Callable, Iterator, Sequence

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from strongroom.server.accounts import api_keys
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.core.instance import Instance, operator
from strongroom.server.vault.models import PasswordList
from strongroom.server.web.app import create_web_app
from tests.server.support import use_cheap_hashing

MakeKey = Callable[..., dict[str, str]]


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_hashing(monkeypatch)


@pytest.fixture
def api_app(instance: Instance) -> FastAPI:
    """The web application `strongroom web` serves (the API with the UI's
    middleware and error edge around it), for the test's instance."""
    return create_web_app(instance)


@pytest.fixture
def client(api_app: FastAPI) -> Iterator[TestClient]:
    """An in-process HTTP client for the app (no socket is opened)."""
    with TestClient(api_app, raise_server_exceptions=False) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    """The Authorization header carrying `token`."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_key(instance: Instance) -> MakeKey:
    """Create a key (as the operator would) and return its Authorization header."""

    def make(
        user: str = "admin",
        *,
        lists: Sequence[PasswordList] = (),
        system: bool | None = None,
    ) -> dict[str, str]:
        with instance.db.session() as session:
            issued = api_keys.create_key(
                session,
                operator(),
                f"key for {user}",
                user=accounts.find_user(session, user),
                lists=lists,
                system_wide=not lists if system is None else system,
            )
            token = issued.token
        return bearer(token)

    return make


@pytest.fixture
def admin_headers(make_key: MakeKey) -> dict[str, str]:
    """A system-wide key acting as the instance's first administrator."""
    return make_key("admin")


@pytest.fixture
def make_user(instance: Instance) -> Callable[..., User]:
    """Create a user (cheaply hashed) and return it."""

    def make(name: str, *, admin: bool = False) -> User:
        with instance.db.session() as session:
            return accounts.create_user(
                session, operator(), name, password="a-long-password-1", is_admin=admin
            )

    return make
