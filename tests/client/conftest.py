"""Fixtures for the device core: a fake server, a hand-moved clock, in-memory twins."""

import copy
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from strongroom.client import state as device_state
from strongroom.client.cache import CacheStore
from strongroom.client.clipboard import MemoryClipboard
from strongroom.client.config import ClientSettings
from strongroom.client.device import Device, Vault
from strongroom.client.keystore import MemoryKeystore
from tests.client.fakes import MASTER, PAYLOAD, FakeClock, FakeServer

SECRET_PASSWORD = "Zebra-Quartz-Secret-7731"
SECRET_NOTES = "vault combination is 31-08-77-secretnote"
SECRET_OTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _seeded_server() -> FakeServer:
    server = FakeServer()
    server.add(
        "Bank login",
        username="alice@bank",
        password=SECRET_PASSWORD,
        url="https://bank.example",
        notes=SECRET_NOTES,
        otp_secret=SECRET_OTP,
        fields=[("PIN", "4711-secretpin", True), ("Branch", "Main street", False)],
    )
    server.add(
        "Brokerage",
        username="alice",
        password="Broker-99-xyz",
        url="https://broker.example",
    )
    server.add("Wiki", list_name="Docs", username="alice.w", description="team wiki")
    return server


_SEED = _seeded_server()


@pytest.fixture
def fake_server() -> FakeServer:
    """A fake App Server holding three records in two lists (the same ids each time)."""
    return copy.deepcopy(_SEED)


@pytest.fixture
def clock() -> FakeClock:
    """The device's clock."""
    return FakeClock()


@pytest.fixture
def client_settings(tmp_path: Path) -> ClientSettings:
    """Settings with the profile in a temporary directory."""
    return ClientSettings(home=tmp_path / "profile", clipboard="none")


@pytest.fixture
def keystore() -> MemoryKeystore:
    """The in-memory keystore."""
    return MemoryKeystore()


@pytest.fixture
def clipboard() -> MemoryClipboard:
    """The in-memory clipboard."""
    return MemoryClipboard()


@pytest.fixture
def device(
    client_settings: ClientSettings,
    fake_server: FakeServer,
    clock: FakeClock,
    keystore: MemoryKeystore,
    clipboard: MemoryClipboard,
) -> Device:
    """A device wired to the fake server and the twins."""
    return Device(
        client_settings,
        keystore=keystore,
        clipboard=clipboard,
        connector_factory=lambda url, pin: fake_server,
        clock=clock,
    )


@dataclass
class PairedTemplate:
    """A profile paired and synced once per session, copied into each test."""

    profile: Path
    key: bytes
    box_public_key: bytes
    credential: str


@pytest.fixture(scope="session")
def paired_template(tmp_path_factory: pytest.TempPathFactory) -> PairedTemplate:
    """Pair once (one Argon2id run for the whole session) and keep the files."""
    home = tmp_path_factory.mktemp("template") / "profile"
    server = _seeded_server()
    device = Device(
        ClientSettings(home=home, clipboard="none"),
        keystore=MemoryKeystore(),
        connector_factory=lambda url, pin: server,
        clock=FakeClock(),
    )
    opened = device.pair(PAYLOAD, MASTER)
    opened.sync()
    key = opened.key
    opened.lock()
    return PairedTemplate(home, key, server.box_public_key, server.credential)


@pytest.fixture
def vault(
    device: Device, fake_server: FakeServer, paired_template: PairedTemplate
) -> Iterator[Vault]:
    """A paired, synced and unlocked vault (a copy of the session's template)."""
    shutil.copytree(paired_template.profile, device.profile)
    fake_server.box_public_key = paired_template.box_public_key
    fake_server.credential = paired_template.credential
    store = CacheStore.open(device.settings.cache_file)
    opened = Vault(
        device,
        store,
        paired_template.key,
        device_state.load(store, paired_template.key),
        method="password",
    )
    yield opened
    opened.lock()
