"""The Pair screen against the real App Server: paste, picture, camera, and refusals."""

import asyncio
import threading
from typing import Any

import pytest
import toga

from strongroom.client.app import kit, qrsource
from tests.client.app.conftest import (
    Harness,
    PhoneServer,
    _walk,
    button_named,
    is_visible,
    pair,
)
from tests.client.app.seed import FAILED_UNLOCK_LIMIT, MASTER


def test_pasting_the_code_shows_who_and_where_then_pairs(
    make_app, phone_server: PhoneServer
) -> None:
    """Pasted QR text shows server and username; the master password pairs and syncs."""
    harness: Harness = make_app()
    screen = harness.screen
    assert "Pair this phone" in harness.text()

    harness.type(screen.code_input, phone_server.payload().to_uri())
    harness.press(screen.use_code_button)
    shown = harness.text()
    assert f"Server: {phone_server.server.url}" in shown
    assert "(alice)" in shown
    assert screen.username_input.readonly

    harness.type(screen.password, MASTER)
    assert "(" + "•" * len(MASTER) + ")" in harness.text()
    harness.confirm(screen.password)
    shown = harness.text()
    assert "This phone is paired" in shown
    assert "[▸ Finance (1)]\n[▸ IT (1)]\n[▸ Not in a folder (1)]" in shown
    assert "Last sync: just now · offline copy valid for 7 days" in shown


def test_choosing_a_picture_of_the_qr_code_reads_it(
    make_app, phone_server: PhoneServer
) -> None:
    """A PNG of the QR code chosen in the file dialog is decoded by the core."""
    harness: Harness = make_app()
    harness.app.window._impl.dialog_responses["OpenFileDialog"] = [
        phone_server.qr_png()
    ]
    harness.press(harness.screen.picture_button)
    assert f"Server: {phone_server.server.url}" in harness.text()
    assert "(alice)" in harness.text()


def test_a_photo_from_the_camera_is_decoded_after_permission(
    make_app, phone_server: PhoneServer
) -> None:
    """Where a camera exists, the app asks permission, takes a photo and decodes it."""
    harness: Harness = make_app()
    camera = harness.app.camera
    assert not camera.has_permission
    camera._impl.simulate_photo(toga.Image(phone_server.qr_png()))
    harness.press(harness.screen.camera_button)
    assert camera.has_permission
    assert f"Server: {phone_server.server.url}" in harness.text()


def test_a_photo_without_a_code_says_so_without_naming_a_file(
    make_app, phone_server: PhoneServer, tmp_path
) -> None:
    """A photo with no QR code in it gets a plain message, not a temporary path."""
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    harness: Harness = make_app()
    harness.app.camera._impl.simulate_photo(toga.Image(blank))
    harness.press(harness.screen.camera_button)
    shown = harness.text()
    assert "That is not a Strongroom pairing code" in shown
    assert "No QR code was found in the photo." in shown
    assert "/tmp" not in shown


def test_text_that_is_not_our_code_is_refused_with_what_to_do(make_app) -> None:
    """Pasting some other URI explains what a pairing code is and where to find it."""
    harness: Harness = make_app()
    harness.type(harness.screen.code_input, "https://example.com/not-a-code")
    harness.press(harness.screen.use_code_button)
    shown = harness.text()
    assert "That is not a Strongroom pairing code" in shown
    assert "Scan the QR code from Strongroom's Preferences page" in shown
    assert "Server:" not in shown


def test_a_code_made_before_the_secret_was_regenerated_is_stale(
    make_app, phone_server: PhoneServer
) -> None:
    """A QR code older than the pairing secret is refused: ask for a new one."""
    harness: Harness = make_app()
    old_code = phone_server.payload().to_uri()
    phone_server.regenerate_pairing_secret()
    harness.type(harness.screen.code_input, old_code)
    harness.press(harness.screen.use_code_button)
    harness.type(harness.screen.password, MASTER)
    harness.press(harness.screen.pair_button)
    shown = harness.text()
    assert "This QR code is no longer valid" in shown
    assert "Ask your administrator for a new QR code" in shown
    assert harness.screen.password.value == ""
    assert not harness.app.device.is_paired()


def test_wrong_master_passwords_end_in_a_lock_out_with_the_wait(
    make_app, phone_server: PhoneServer
) -> None:
    """Wrong master passwords are refused, and past the limit the server locks out."""
    harness: Harness = make_app()
    harness.type(harness.screen.code_input, phone_server.payload().to_uri())
    harness.press(harness.screen.use_code_button)
    harness.type(harness.screen.password, "not-the-password")
    harness.press(harness.screen.pair_button)
    assert "That master password is not right" in harness.text()
    assert "not the one for the web" in harness.text()

    for _ in range(FAILED_UNLOCK_LIMIT):
        harness.type(harness.screen.password, "still-not-it")
        harness.press(harness.screen.pair_button)
    shown = harness.text()
    assert "Locked out after too many wrong master passwords" in shown
    assert "Try again in 15 minutes, or ask your administrator" in shown

    # The right password does not get through a lock-out either.
    harness.type(harness.screen.password, MASTER)
    harness.press(harness.screen.pair_button)
    assert "Locked out" in harness.text()
    assert not harness.app.device.is_paired()


def test_a_server_with_another_key_is_refused_and_the_copy_kept(
    make_app, phone_server: PhoneServer
) -> None:
    """After pairing, a server with another key on the same address gets nothing."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    phone_server.impostor()
    harness.press(harness.screen.sync_button)
    shown = harness.text()
    assert "This is not your organisation's server" in shown
    assert "sent it nothing" in shown
    assert "Do not use this network" in shown
    # The offline copy still opens.
    harness.press(harness.screen.rows.children[0])
    assert "▸ Banking (2)" in harness.text()


def test_without_the_qr_decoder_only_pasting_is_offered(
    make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phone build without zxing-cpp offers neither camera nor picture, only paste."""
    monkeypatch.setattr(qrsource, "decoder_available", lambda: False)
    harness: Harness = make_app()
    shown = harness.text()
    assert "[Scan the QR code]" not in shown
    assert "[Choose a picture]" not in shown
    assert "Or paste the code's text:" in shown
    assert "[Use this code]" in shown


def test_every_text_fits_the_phone_width(make_app, phone_server: PhoneServer) -> None:
    """No line on a screen is wider than a phone shows (labels do not wrap by
    themselves), and wrapping loses no word: on Pair with a refusal, on the
    lists, and on a record."""
    harness: Harness = make_app()
    harness.type(harness.screen.code_input, "https://example.com/not-a-code")
    harness.press(harness.screen.use_code_button)
    checked = [_assert_wrapped(harness)]
    pair(harness, phone_server)
    checked.append(_assert_wrapped(harness))
    harness.type(harness.screen.search, "bank")
    harness.press(button_named(harness, "Bank login"))
    checked.append(_assert_wrapped(harness))
    # Something long was on each screen, so the check saw wrapping happen.
    assert all(checked)


def _assert_wrapped(harness: Harness) -> bool:
    wrapped = False
    for widget in _walk(harness.app.current.root):
        if not isinstance(widget, kit.Text) or not is_visible(widget):
            continue
        lines = widget.shown.split("\n")
        assert all(len(line) <= widget.columns for line in lines), widget.shown
        # Only line breaks were added: every character is still there.
        assert "".join(widget.shown.split()) == "".join(widget.text.split())
        wrapped = wrapped or len(lines) > len(widget.text.split("\n"))
    return wrapped


def test_pairing_runs_off_the_ui_thread_behind_a_progress_indicator(
    make_app, phone_server: PhoneServer
) -> None:
    """Pairing (Argon2id, then the server's checks) runs on the worker thread
    while the screen shows what is going on and its buttons wait."""
    harness: Harness = make_app()
    screen = harness.screen
    harness.type(screen.code_input, phone_server.payload().to_uri())
    harness.press(screen.use_code_button)
    threads: list[str] = []
    release = threading.Event()
    device = harness.app.device
    real_pair = device.pair

    def held_pair(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        release.wait(10)
        return real_pair(*args, **kwargs)

    device.pair = held_pair  # type: ignore[method-assign]
    harness.type(screen.password, MASTER)
    screen.pair_button._impl.simulate_press()
    assert screen.busy.running
    assert "Pairing… protecting this phone's copy" in harness.text()
    assert not screen.pair_button.enabled
    assert not screen.other_code_button.enabled
    harness.app.loop.run_until_complete(asyncio.sleep(0.05))
    assert threads == ["strongroom-core_0"]

    release.set()
    harness.settle()
    assert "This phone is paired" in harness.text()
