"""HTTPS helpers for the App Server tests: pair and sync a test phone."""

import ssl
from typing import Any

import httpx

from strongroom.protocol.schemas import SyncResponse
from strongroom.server.core.config import Settings
from tests.server.mobile.helpers import Phone, World


def trusting(settings: Settings) -> ssl.SSLContext:
    """A TLS context that trusts only the instance's own certificate."""
    return ssl.create_default_context(cafile=str(settings.cert_file))


def pair_over_https(client: httpx.Client, phone: Phone, world: World) -> Phone:
    """Pair `phone` through POST /v1/pair."""
    response = client.post("/v1/pair", json=phone.pair_body(world.qr))
    assert response.status_code == 200, response.text
    phone.device_id = response.json()["device_id"]
    phone.credential = response.json()["device_credential"]
    return phone


def sync_over_https(
    client: httpx.Client, phone: Phone, events: list[dict[str, Any]] | None = None
) -> httpx.Response:
    """POST /v1/sync and apply a 200 reply to the phone's cache."""
    response = client.post("/v1/sync", json=phone.sync_body(events or []))
    if response.status_code == 200:
        phone.apply(SyncResponse.model_validate_json(response.content))
    return response
