"""Fixtures for the device core: a fake server, a hand-moved clock, in-memory twins."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.client.clipboard import MemoryClipboard
from strongroom.client.config import ClientSettings
from strongroom.client.device import Device, Vault
from strongroom.client.keystore import MemoryKeystore
from tests.client.fakes import MASTER, PAYLOAD, FakeClock, FakeServer

SECRET_PASSWORD = "Zebra-Quartz-Secret-7731"
SECRET_NOTES = "vault combination is 31-08-77-secretnote"
SECRET_OTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def fake_server() -> FakeServer:
    """A fake App Server holding three records in two lists."""
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
    server.add("Brokerage", username="alice", password="Broker-99-xyz", url="https://broker.example")
    server.add("Wiki", list_name="Docs", username="alice.w", description="team wiki")
    return server


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


@pytest.fixture
def vault(device: Device) -> Iterator[Vault]:
    """A paired, synced and unlocked vault."""
    opened = device.pair(PAYLOAD, MASTER)
    opened.sync()
    yield opened
    opened.lock()
