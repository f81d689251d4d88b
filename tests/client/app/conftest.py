"""Fixtures for the phone app: a real App Server over TLS on loopback, and the app.

`phone_server` seeds an instance (on SQLite and on PostgreSQL, through the
shared `instance` fixture) with a phone user, lists in folders and records,
and runs the real App Server app under uvicorn with the instance's own
certificate. `make_app` builds the app on Toga's dummy backend with an
in-memory keystore and clipboard and a clock the test moves. The helpers
drive it as a person would and read what the screen shows.
"""

import datetime
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The dummy backend must be chosen before Toga loads one.
os.environ["TOGA_BACKEND"] = "toga_dummy"

import pytest
import segno
import sqlalchemy as sa
import toga
from toga_dummy.utils import EventLog

from strongroom.client.app.app import StrongroomApp
from strongroom.client.clipboard import MemoryClipboard
from strongroom.client.config import ClientSettings
from strongroom.client.keystore import MemoryKeystore
from strongroom.crypto.pins import pin_of_pem
from strongroom.protocol.qr import PairingPayload
from strongroom.server.accounts import service as accounts
from strongroom.server.appserver.app import create_appserver_app
from strongroom.server.appserver.runner import RunningServer, run_in_thread
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.config import Settings
from strongroom.server.core.instance import InitResult, Instance, initialise, operator
from strongroom.server.mobile import service as mobile
from strongroom.server.settings import service as settings_service
from strongroom.server.vault import service as vault
from tests.client.app.seed import (
    MASTER,
    seed,
)
from tests.client.fakes import FakeClock
from tests.conftest import ADMIN_PASSWORD
from tests.server.support import _CHEAP, use_cheap_hashing


@dataclass
class PhoneServer:
    """A seeded instance and its running App Server."""

    instance: Instance
    server: RunningServer
    user_id: str
    tmp: Path
    others: list[RunningServer] = field(default_factory=list)

    def payload(self) -> PairingPayload:
        """The QR payload an admin would print for alice now."""
        with self.instance.db.session() as session:
            user = accounts.get_user(session, self.user_id)
            return mobile.pairing_payload(
                session, operator(), self.instance.cipher, user
            )

    def qr_png(self, name: str = "qr.png") -> Path:
        """The QR code rendered to a PNG, as the web page shows it."""
        path = self.tmp / name
        segno.make(self.payload().to_uri(), error="m").save(path, scale=6)
        return path

    def regenerate_pairing_secret(self) -> None:
        """An admin regenerates the App Pairing Secret."""
        with self.instance.db.session() as session:
            mobile.regenerate_pairing_secret(session, operator(), self.instance.cipher)

    def wipe(self, device_id: str) -> None:
        """An admin orders the device wiped."""
        with self.instance.db.session() as session:
            mobile.request_wipe(session, operator(), device_id)

    def set(self, key: str, value: Any) -> None:
        """An admin changes a system setting."""
        with self.instance.db.session() as session:
            settings_service.set_value(session, operator(), key, value)

    def add_list(self, path: str) -> None:
        """An admin adds a list (and its folders) and shares it with alice's phone."""
        with self.instance.db.session() as session:
            plist = vault.create_list(session, operator(), path, create_folders=True)
            user = accounts.get_user(session, self.user_id)
            vault.grant(
                session,
                operator(),
                plist,
                vault.Level.VIEW,
                user=user,
                mobile_access=True,
            )

    def add_record(self, list_path: str, **values: Any) -> None:
        """An admin adds a record to a list."""
        with self.instance.db.session() as session:
            plist = vault.find_list(session, list_path)
            vault.create_record(
                session,
                operator(),
                self.instance.cipher,
                plist,
                vault.RecordInput(**values),
            )

    def device_events(self, device_id: str) -> list[str]:
        """The audit log's event types for a device, oldest first."""
        with self.instance.db.session() as session:
            return list(
                session.scalars(
                    sa.select(AuditEvent.event_type)
                    .where(AuditEvent.device_id == device_id)
                    .order_by(AuditEvent.seq)
                )
            )

    def device(self, device_id: str) -> mobile.DeviceInfo:
        """The device as the admin's device list shows it."""
        with self.instance.db.session() as session:
            user = accounts.get_user(session, self.user_id)
            found = [
                d
                for d in mobile.list_devices(session, operator(), user)
                if d.id == device_id
            ]
            assert len(found) == 1
            return found[0]

    def restart(self) -> None:
        """Start the App Server again on the same port (after `stop`)."""
        settings = self.instance.settings
        self.server = run_in_thread(
            create_appserver_app(self.instance),
            port=self.server.port,
            tls_cert=settings.cert_file,
            tls_key=settings.cert_key_file,
        )

    def impostor(self) -> None:
        """Replace the App Server on the same port by one with another key."""
        port = self.server.port
        self.server.stop()
        from strongroom.crypto.certificates import make_self_signed

        other = make_self_signed(["127.0.0.1"])
        cert, key = self.tmp / "impostor.crt", self.tmp / "impostor.key"
        cert.write_bytes(other.cert_pem)
        key.write_bytes(other.key_pem)
        self.others.append(
            run_in_thread(
                create_appserver_app(self.instance),
                port=port,
                tls_cert=cert,
                tls_key=key,
            )
        )


@pytest.fixture
def initialised(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> InitResult:
    """The shared `initialised`, with cheap server-side password hashes.

    The device's own Argon2id stays at full cost: the app's tests are about
    running it off the UI thread, not about how hard the server's hashes are.
    """
    use_cheap_hashing(monkeypatch)
    monkeypatch.setattr("strongroom.server.mobile.service.hash_password", _CHEAP.hash)
    return initialise(settings, admin_name="admin", admin_password=ADMIN_PASSWORD)


@pytest.fixture
def phone_server(instance: Instance, tmp_path: Path) -> Iterator[PhoneServer]:
    """The real App Server over TLS on 127.0.0.1, with alice's data."""
    user_id = seed(instance)
    settings = instance.settings
    server = run_in_thread(
        create_appserver_app(instance),
        tls_cert=settings.cert_file,
        tls_key=settings.cert_key_file,
    )
    with instance.db.session() as session:
        settings_service.set_value(session, operator(), "app_server_url", server.url)
        settings_service.store_pin(
            session, operator(), pin_of_pem(settings.cert_file.read_bytes())
        )
    running = PhoneServer(instance, server, user_id, tmp_path)
    yield running
    running.server.stop()
    for other in running.others:
        other.stop()


@dataclass
class Harness:
    """The app and what the test holds of its surroundings."""

    app: StrongroomApp
    clock: FakeClock
    clipboard: MemoryClipboard
    keystore: MemoryKeystore
    opened_urls: list[str]
    ticks: list[float]

    def settle(self) -> None:
        """Run the event loop until every background task has finished."""
        self.app.loop.run_until_complete(self.app.tasks.settle())

    @property
    def screen(self) -> Any:
        """The screen shown now."""
        return self.app.current

    def text(self) -> str:
        """Everything the screen shows, one widget per line."""
        return "\n".join(visible_text(self.app.current.root))

    def press(self, button: toga.Button) -> None:
        """Tap a button the person can see and tap, then let the work finish."""
        assert button in _walk(self.app.current.root), f"{button.text!r} is elsewhere"
        assert is_visible(button), f"{button.text!r} is not on screen"
        assert button.enabled, f"{button.text!r} is disabled"
        button._impl.simulate_press()
        self.settle()

    def type(self, widget: toga.TextInput, text: str) -> None:
        """Type into an input the person can see."""
        assert widget in _walk(self.app.current.root), "the input is elsewhere"
        assert is_visible(widget), "the input is not on screen"
        widget.value = text
        self.settle()

    def confirm(self, widget: toga.TextInput) -> None:
        """Press Enter in an input."""
        widget._impl.simulate_confirm()
        self.settle()

    def idle(self, seconds: float) -> None:
        """Let `seconds` pass without a touch (auto-lock's clock)."""
        self.ticks[0] += seconds


def is_visible(widget: toga.Widget) -> bool:
    """Whether `widget` and every box around it are shown."""
    node: toga.Widget | None = widget
    while node is not None:
        if node.style.display == "none" or node.style.visibility == "hidden":
            return False
        node = node.parent
    return True


def visible_text(widget: toga.Widget) -> list[str]:
    """What a person sees in `widget`: labels, buttons, inputs (passwords as dots)."""
    if widget.style.display == "none" or widget.style.visibility == "hidden":
        return []
    found: list[str] = []
    if isinstance(widget, toga.Label) and widget.text:
        found.append(widget.text)
    elif isinstance(widget, toga.Button):
        found.append(f"[{widget.text}]")
    elif isinstance(widget, toga.PasswordInput):
        found.append("(" + "•" * len(widget.value) + ")")
    elif isinstance(widget, toga.TextInput):
        found.append(f"({widget.value})")
    elif isinstance(widget, toga.Switch):
        found.append(f"{widget.text}: {'on' if widget.value else 'off'}")
    elif isinstance(widget, toga.Selection):
        found.append(f"<{widget.value}>")
    content = getattr(widget, "content", None)
    if isinstance(content, toga.Widget):
        found.extend(visible_text(content))
    for child in widget.children:
        found.extend(visible_text(child))
    return found


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Build the app on the dummy backend; every app made is closed at the end."""
    made: list[StrongroomApp] = []

    def build(profile: str = "phone", clock: FakeClock | None = None) -> Harness:
        EventLog.reset()
        ticks = [1000.0]
        opened: list[str] = []
        harness_clock = clock or FakeClock()
        harness_clock.now = datetime.datetime.now(datetime.UTC)
        clipboard = MemoryClipboard()
        keystore = MemoryKeystore()
        app = StrongroomApp(
            settings=ClientSettings(home=tmp_path / profile, clipboard="none"),
            keystore=keystore,
            clipboard=clipboard,
            clock=harness_clock,
            monotonic=lambda: ticks[0],
            url_opener=opened.append,
        )
        made.append(app)
        harness = Harness(app, harness_clock, clipboard, keystore, opened, ticks)
        harness.settle()
        return harness

    yield build
    for app in made:
        app.close()
    EventLog.reset()


def pair(harness: Harness, server: PhoneServer, password: str = MASTER) -> None:
    """Pair by pasting the QR code's text, as the quickest path."""
    screen = harness.screen
    harness.type(screen.code_input, server.payload().to_uri())
    harness.press(screen.use_code_button)
    harness.type(harness.screen.password, password)
    harness.press(harness.screen.pair_button)


def button_named(harness: Harness, text: str) -> toga.Button:
    """The visible button whose text contains `text` (exactly one)."""
    found = [
        w
        for w in _walk(harness.app.current.root)
        if isinstance(w, toga.Button) and text in w.text and is_visible(w)
    ]
    assert len(found) == 1, f"{len(found)} buttons named {text!r}: {harness.text()}"
    return found[0]


def _walk(widget: toga.Widget) -> list[toga.Widget]:
    found = [widget]
    content = getattr(widget, "content", None)
    if isinstance(content, toga.Widget):
        found.extend(_walk(content))
    for child in widget.children:
        found.extend(_walk(child))
    return found


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """SQLite only: the app's screens talk to the App Server, never to its
    database, and the server's own suite covers both databases."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    shutil.copy(sqlite_template, data_dir / "strongroom.db")
    yield f"sqlite:///{data_dir / 'strongroom.db'}"
