"""The record screen: masked secrets, reveal, copy and clearing, TOTP, URL, audit."""

import datetime

import pyotp

from tests.client.app.conftest import Harness, PhoneServer, button_named, pair
from tests.client.app.seed import BANK_NOTES, BANK_PASSWORD, OTP_SECRET


def _open(harness: Harness, search: str, title: str) -> None:
    harness.type(harness.screen.search, search)
    harness.press(button_named(harness, title))
    assert harness.screen.heading.text == title


def test_a_record_shows_its_fields_with_secrets_masked_until_revealed(
    make_app, phone_server: PhoneServer
) -> None:
    """Password, notes and secret fields show as dots until Reveal, and after Hide."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    _open(harness, "bank", "Bank login")
    shown = harness.text()
    assert "In Finance/Banking" in shown
    assert "Username: alice@bank\n[Copy]" in shown
    assert "Password: ••••••••\n[Reveal]\n[Copy]" in shown
    assert "URL: https://bank.example/login\n[Open]" in shown
    assert "Main current account" in shown
    assert "Domain: bank.example" in shown
    assert "PIN: ••••••••\nBranch: Main street" in shown
    assert "Notes: ••••••••" in shown
    assert BANK_PASSWORD not in shown and BANK_NOTES not in shown

    harness.press(harness.screen.reveal_button)
    shown = harness.text()
    assert f"Password: {BANK_PASSWORD}\n[Hide]" in shown
    assert "PIN: 4711" in shown
    assert f"Notes: {BANK_NOTES}" in shown

    harness.press(harness.screen.reveal_button)
    assert BANK_PASSWORD not in harness.text()
    assert "Password: ••••••••\n[Reveal]" in harness.text()


def test_the_one_time_code_counts_down_and_renews(
    make_app, phone_server: PhoneServer
) -> None:
    """The TOTP code is RFC 6238's for now, counts down each second, then renews."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    _open(harness, "bank", "Bank login")
    screen = harness.screen
    totp = pyotp.TOTP(OTP_SECRET)
    code = totp.at(harness.clock.now)
    assert f"One-time code: {code[:3]} {code[3:]}" in harness.text()
    left = screen.seconds_left
    assert 1 <= left <= 30
    assert f" · {left} s left" in harness.text()

    screen.tick()  # one second later
    assert screen.seconds_left == left - 1

    # Past the end of the period, the next code is fetched.
    harness.clock.advance(seconds=30)
    screen.seconds_left = 1
    screen.tick()
    assert "new code…" in harness.text()
    harness.settle()
    later = totp.at(harness.clock.now)
    assert f"One-time code: {later[:3]} {later[3:]}" in harness.text()


def test_copy_puts_the_password_on_the_clipboard_and_clears_it_after_30_seconds(
    make_app, phone_server: PhoneServer
) -> None:
    """Copy says when the clipboard is cleared, and clears it then if unchanged."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    _open(harness, "bank", "Bank login")
    harness.press(harness.screen.copy_password)
    assert harness.clipboard.value == BANK_PASSWORD
    assert "Password copied\nThe clipboard is cleared in 30 seconds." in harness.text()

    clipboard = harness.app.device.clipboard()
    (timer,) = clipboard.timers
    assert 29 <= timer.when() - harness.app.loop.time() <= 30
    timer._run()  # the 30 seconds are up
    assert harness.clipboard.value == ""

    # Something the person copied since is left alone.
    harness.press(harness.screen.copy_username)
    assert harness.clipboard.value == "alice@bank"
    harness.clipboard.copy("my own text")
    clipboard.timers[-1]._run()
    assert harness.clipboard.value == "my own text"


def test_open_hands_only_web_addresses_to_the_browser(
    make_app, phone_server: PhoneServer
) -> None:
    """An https URL opens in the browser; a javascript: URL gets no Open button."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    _open(harness, "bank", "Bank login")
    harness.press(harness.screen.open_button)
    assert harness.opened_urls == ["https://bank.example/login"]

    harness.press(harness.screen.back_button)
    _open(harness, "wi-fi", "Office Wi-Fi")
    assert "URL: javascript:alert(1)" in harness.text()
    assert "[Open]" not in harness.text()


def test_views_reveals_copies_and_codes_reach_the_audit_log(
    make_app, phone_server: PhoneServer
) -> None:
    """What the person did offline is on the server after the next sync."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    _open(harness, "bank", "Bank login")
    harness.press(harness.screen.reveal_button)
    harness.press(harness.screen.copy_password)
    harness.press(harness.screen.back_button)
    harness.press(harness.screen.sync_button)
    assert "Up to date" in harness.text()
    events = phone_server.device_events(harness.app.status.device_id)
    for expected in (
        "device.record_viewed",
        "device.otp_viewed",
        "device.record_revealed",
        "device.record_copied",
    ):
        assert expected in events
    assert harness.app.status.queued_events == 0
    assert harness.clock.now - harness.app.status.last_sync_at < datetime.timedelta(
        seconds=5
    )
