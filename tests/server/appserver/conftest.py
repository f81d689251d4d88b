"""Fixtures of the App Server tests: a real HTTPS server on 127.0.0.1.

uvicorn serves the app with the certificate `init` made, in a background
thread, on a free port; httpx trusts exactly that certificate.
"""

from collections.abc import Iterator

import httpx
import pytest

from strongroom.server.appserver.app import create_appserver_app
from strongroom.server.appserver.runner import RunningServer, run_in_thread
from strongroom.server.core.config import Settings
from strongroom.server.core.instance import Instance
from tests.server.appserver.helpers import trusting
from tests.server.mobile.helpers import World, build_world, fast_argon2


@pytest.fixture(autouse=True)
def _fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_argon2(monkeypatch)


@pytest.fixture
def world(instance: Instance) -> World:
    """Alice with two lists she may take on her phone."""
    return build_world(instance)


@pytest.fixture
def server(instance: Instance, settings: Settings) -> Iterator[RunningServer]:
    """The App Server over TLS on a free loopback port, stopped after the test."""
    running = run_in_thread(
        create_appserver_app(instance),
        tls_cert=settings.cert_file,
        tls_key=settings.cert_key_file,
    )
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningServer, settings: Settings) -> Iterator[httpx.Client]:
    """An HTTPS client for the running App Server."""
    with httpx.Client(
        base_url=server.url, verify=trusting(settings), timeout=30
    ) as http:
        yield http
