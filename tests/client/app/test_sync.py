"""Sync: its state and time to live, Sync now, an expired copy, and a wiped phone."""

import asyncio
import threading
from typing import Any

from tests.client.app.conftest import Harness, PhoneServer, pair
from tests.client.app.seed import MASTER


def test_the_sync_screen_shows_state_and_sync_now_brings_changes(
    make_app, phone_server: PhoneServer
) -> None:
    """Sync status shows server, time to live, queue; Sync now fetches a new record."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    harness.clock.advance(hours=2)
    harness.press(harness.screen.status_button)
    shown = harness.text()
    assert f"Server: {phone_server.server.url}" in shown
    assert "Mobile username: alice" in shown
    assert "Last sync: 2 hours ago" in shown
    assert (
        "Offline copy: 6 days 22 hours left (your organisation allows 7 days)" in shown
    )
    assert "Biometric unlock: off" in shown

    phone_server.add_record("Shared", title="Printer", username="admin")
    harness.press(harness.screen.sync_button)
    shown = harness.text()
    assert (
        "Up to date\n5 entries are on this phone (1 new or changed, 0 removed)."
        in shown
    )
    assert "Last sync: just now" in shown
    assert "Offline copy: 7 days left" in shown
    assert "Waiting to upload: 0 audit events" in shown

    harness.press(harness.screen.back_button)
    harness.type(harness.screen.search, "printer")
    assert "[Printer — admin — Shared]" in harness.text()


def test_an_expired_copy_shows_nothing_until_a_sync_succeeds(
    make_app, phone_server: PhoneServer
) -> None:
    """Past the time to live, offline, the lists are hidden; a sync brings them back."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    harness.press(harness.screen.lock_button)
    phone_server.server.stop()
    harness.clock.advance(days=8)

    harness.type(harness.screen.password, MASTER)
    harness.press(harness.screen.unlock_button)
    shown = harness.text()
    assert "Your offline copy has expired" in shown
    assert "older than the 7 days your organisation allows" in shown
    assert "Cannot reach your organisation's server just now." in shown
    assert "Connect to the network and tap Sync now." in shown
    assert "Nothing is shown until a sync succeeds." in shown
    assert "Finance" not in shown
    assert "offline copy expired: sync now" in shown

    # Searching shows nothing either.
    harness.type(harness.screen.search, "bank")
    assert "Bank login" not in harness.text()
    harness.type(harness.screen.search, "")

    phone_server.restart()
    harness.press(harness.screen.sync_button)
    shown = harness.text()
    assert "Up to date" in shown
    assert "[▸ Finance (1)]" in shown
    assert "offline copy valid for 7 days" in shown


def test_a_wipe_ordered_by_an_admin_erases_the_phone_at_its_next_sync(
    make_app, phone_server: PhoneServer
) -> None:
    """After an admin orders a wipe, Sync now erases the copy and says what happened."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    phone_server.wipe(harness.app.status.device_id)
    harness.press(harness.screen.sync_button)
    shown = harness.text()
    assert "Pair this phone" in shown
    assert "This phone was wiped" in shown
    assert (
        "Your administrator asked for this phone's offline copy to be erased" in shown
    )
    assert "ask your administrator for a new QR code and pair again" in shown
    assert not harness.app.device.is_paired()
    assert harness.app.vault is None


def test_sync_runs_off_the_ui_thread_behind_a_progress_indicator(
    make_app, phone_server: PhoneServer
) -> None:
    """While a sync downloads, the screen says so, its buttons wait, and the
    event loop keeps turning; the sync itself runs on the worker thread."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    screen = harness.screen
    vault = harness.app.vault
    threads: list[str] = []
    release = threading.Event()
    real_sync = vault.sync

    def held_sync() -> Any:
        threads.append(threading.current_thread().name)
        release.wait(10)  # hold the worker until the screen has been looked at
        return real_sync()

    vault.sync = held_sync  # type: ignore[method-assign]
    screen.sync_button._impl.simulate_press()
    assert screen.busy.running
    assert "Syncing with your organisation's server…" in harness.text()
    assert not screen.sync_button.enabled
    assert not screen.settings_button.enabled
    # Timers fire meanwhile: the loop is not blocked by the sync.
    harness.app.loop.run_until_complete(asyncio.sleep(0.05))
    assert threads == ["strongroom-core_0"]
    assert screen.busy.running

    release.set()
    harness.settle()
    assert not screen.busy.running
    assert screen.sync_button.enabled
    assert "Up to date" in harness.text()
