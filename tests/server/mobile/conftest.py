"""Fixtures of the mobile service tests: a world to sync and a paired phone."""

from collections.abc import Callable

import pytest

from strongroom.server.core.instance import Instance
from strongroom.server.mobile import pairing, sync
from tests.server.mobile.helpers import Phone, World, build_world, fast_argon2


@pytest.fixture(autouse=True)
def _fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_argon2(monkeypatch)


@pytest.fixture
def world(instance: Instance) -> World:
    """Alice with two lists on her phone's side of the fence."""
    return build_world(instance)


@pytest.fixture
def phone(world: World) -> Phone:
    """Alice's phone, paired (not yet synced)."""
    device = Phone.new()
    device.paired(
        pairing.pair(world.instance, device.pair_request(world.qr), ip="10.0.0.7")
    )
    return device


@pytest.fixture
def do_sync(world: World) -> Callable[..., Phone]:
    """Sync a phone through the service and apply the reply to its cache."""

    def run(device: Phone, events: list[dict[str, object]] | None = None) -> Phone:
        reply = sync.sync(
            world.instance, device.sync_request(events or []), ip="10.0.0.7"
        )
        device.apply(reply)
        return device

    return run
