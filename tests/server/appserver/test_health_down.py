"""GET /health when the database cannot be used: 503 with the reason."""

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from strongroom.server.appserver.app import create_appserver_app
from strongroom.server.core.config import Settings
from strongroom.server.core.db import Database
from strongroom.server.core.instance import Instance
from strongroom.server.core.keys import FieldCipher, InstanceKeyring


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _app_on(url: str, tmp_path: Path) -> TestClient:
    settings = Settings(data_dir=tmp_path, database_url=url, environment="test")
    instance = Instance(
        settings=settings,
        db=Database(url),
        cipher=FieldCipher(InstanceKeyring.generate()),
    )
    return TestClient(create_appserver_app(instance), raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            lambda tmp: (
                f"postgresql://strongroom@127.0.0.1:{_closed_port()}/strongroom"
            ),
            "unreachable: connection refused",
        ),
        (
            lambda tmp: f"sqlite:///{tmp}/missing/dir/strongroom.db",
            "unreachable: cannot open the database file",
        ),
        (
            lambda tmp: f"sqlite:///{tmp}/empty.db",
            "schema behind: run `strongroom db upgrade`",
        ),
    ],
    ids=["postgresql port closed", "sqlite file unreachable", "schema missing"],
)
def test_health_is_503_with_the_reason(
    tmp_path: Path, url: object, reason: str
) -> None:
    """The App Server says it is degraded and why, naming no host or secret."""
    with _app_on(url(tmp_path), tmp_path) as client:  # type: ignore[operator]
        response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == reason
    assert body["version"] == "0.1.0"
    assert "127.0.0.1" not in response.text


def test_api_calls_get_503_json_when_database_is_down(tmp_path: Path) -> None:
    """A sync while the database is unreachable is a 503 unavailable, not a 500."""
    url = f"postgresql://strongroom@127.0.0.1:{_closed_port()}/strongroom"
    body = {
        "protocol_version": 1,
        "device_id": "d",
        "device_credential": "c",
        "cursor": None,
        "events": [],
    }
    with _app_on(url, tmp_path) as client:
        response = client.post("/v1/sync", json=body)
        status_page = client.get("/")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert status_page.status_code == 200  # reachability, not database health
