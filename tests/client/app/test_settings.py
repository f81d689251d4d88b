"""Settings: theme, auto-lock delay, and log out (with and without the server)."""

import pytest
from toga.colors import Color

from strongroom.client.app import prefs
from strongroom.client.app.theme import DARK, LIGHT
from tests.client.app.conftest import Harness, PhoneServer, pair


@pytest.fixture
def settings_screen(make_app, phone_server: PhoneServer) -> Harness:
    """A paired phone showing Settings."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    harness.press(harness.screen.settings_button)
    assert "Settings" in harness.text()
    return harness


def test_theme_and_auto_lock_choices_apply_and_are_kept(
    settings_screen: Harness,
) -> None:
    """Choosing light, dark or system repaints; both choices survive a restart."""
    harness = settings_screen
    screen = harness.screen
    # The dummy backend reports the platform in dark mode.
    assert screen.root.style.background_color == Color.parse(DARK.background)
    assert screen.heading.style.color == Color.parse(DARK.text)
    screen.theme.choose("light")
    assert screen.root.style.background_color == Color.parse(LIGHT.background)
    assert screen.heading.style.color == Color.parse(LIGHT.text)
    screen.auto_lock.choose("15")
    assert "The app now locks after 15 minutes" in harness.text()
    saved = prefs.load(harness.app.settings.home)
    assert (saved.theme, saved.auto_lock_minutes) == ("light", 15)


def test_the_app_locks_itself_after_the_chosen_idle_time(
    settings_screen: Harness,
) -> None:
    """With no touch for the auto-lock delay, the Unlock screen comes back."""
    harness = settings_screen
    harness.screen.auto_lock.choose("1")
    harness.idle(59)
    assert not harness.app.autolock.check()
    harness.idle(2)
    assert harness.app.autolock.check()
    harness.settle()
    shown = harness.text()
    assert "Unlock Strongroom" in shown
    assert "Strongroom locked itself after 1 minute without use." in shown
    assert harness.app.vault is None


def test_coming_back_after_the_idle_time_finds_the_app_locked(
    settings_screen: Harness,
) -> None:
    """When the window shows again past the delay, the app locks at once."""
    harness = settings_screen
    harness.idle(5 * 60 + 1)  # the default delay, while in the background
    harness.app.window.on_show()
    harness.settle()
    assert "Unlock Strongroom" in harness.text()


def test_log_out_asks_first_then_unpairs_and_erases(
    settings_screen: Harness, phone_server: PhoneServer
) -> None:
    """Log out needs a second tap; then the phone is unpaired on the server too."""
    harness = settings_screen
    device_id = harness.app.status.device_id
    harness.press(harness.screen.logout_button)
    assert "Log out unpairs this phone and erases its offline copy." in harness.text()
    harness.press(harness.screen.cancel_button)
    assert "[Yes, log out]" not in harness.text()

    harness.press(harness.screen.logout_button)
    harness.press(harness.screen.confirm_button)
    shown = harness.text()
    assert "Pair this phone" in shown
    assert "Logged out\nThis phone is unpaired and its offline copy is erased." in shown
    assert not harness.app.device.is_paired()
    assert phone_server.device(device_id).revoked_at is not None


def test_log_out_without_the_server_offers_to_go_ahead_anyway(
    settings_screen: Harness, phone_server: PhoneServer
) -> None:
    """Without the server, log out says so and offers to log out anyway."""
    harness = settings_screen
    phone_server.server.stop()
    harness.press(harness.screen.logout_button)
    harness.press(harness.screen.confirm_button)
    shown = harness.text()
    assert "Cannot reach your organisation's server" in shown
    assert harness.app.device.is_paired()
    harness.press(harness.screen.force_button)
    assert "Logged out" in harness.text()
    assert not harness.app.device.is_paired()
