"""The Unlock screen: master password, biometrics, the unlock limit, off-thread KDF."""

import asyncio
import threading

from tests.client.app.conftest import Harness, PhoneServer, button_named, pair
from tests.client.app.seed import FAILED_UNLOCK_LIMIT, MASTER


def _paired_and_locked(make_app, phone_server: PhoneServer) -> Harness:
    harness: Harness = make_app()
    pair(harness, phone_server)
    harness.press(harness.screen.lock_button)
    assert "Unlock Strongroom" in harness.text()
    return harness


def test_unlocking_runs_the_key_derivation_off_the_ui_thread(
    make_app, phone_server: PhoneServer
) -> None:
    """Argon2id runs on the worker thread behind a progress bar; a sync follows."""
    harness = _paired_and_locked(make_app, phone_server)
    screen = harness.screen
    assert f"alice on {phone_server.server.url}" in harness.text()

    threads: list[str] = []
    release = threading.Event()
    device = harness.app.device
    real_unlock = device.unlock

    def held_unlock(password: str):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        release.wait(10)  # hold the worker until the screen has been looked at
        return real_unlock(password)

    device.unlock = held_unlock  # type: ignore[method-assign]
    harness.type(screen.password, MASTER)
    screen.unlock_button._impl.simulate_press()
    # The tap is answered at once, and the event loop keeps turning (timers
    # fire) while the worker thread is busy with the unlock.
    assert screen.busy.running
    assert "Unlocking… checking your master password" in harness.text()
    assert not screen.unlock_button.enabled
    assert screen.password.value == ""
    harness.app.loop.run_until_complete(asyncio.sleep(0.05))
    assert threads == ["strongroom-core_0"]
    assert screen.busy.running

    phone_server.add_record("Shared", title="Printer", username="admin")
    release.set()
    harness.settle()
    assert not screen.busy.running
    assert "[▸ Finance (1)]" in harness.text()
    # Every unlock syncs: what the admin added while the phone was locked is here.
    harness.type(harness.screen.search, "printer")
    assert "[Printer — admin — Shared]" in harness.text()
    assert "Syncing" not in harness.text()


def test_wrong_master_passwords_count_down_then_erase_the_copy(
    make_app, phone_server: PhoneServer
) -> None:
    """Each wrong master password says how many tries are left; the last erases."""
    harness = _paired_and_locked(make_app, phone_server)
    harness.type(harness.screen.password, "wrong-password")
    harness.confirm(harness.screen.password)
    shown = harness.text()
    assert "That master password is not right" in shown
    left = FAILED_UNLOCK_LIMIT - 1
    assert (
        f"{left} attempt{'s' if left != 1 else ''} left before this phone erases"
        in shown
    )

    for _ in range(left):
        harness.type(harness.screen.password, "wrong-again")
        harness.press(harness.screen.unlock_button)
    shown = harness.text()
    assert "Pair this phone" in shown
    assert "The offline copy was erased" in shown
    assert (
        f"the master password was entered wrongly {FAILED_UNLOCK_LIMIT} times" in shown
    )
    assert "Ask your administrator for a new QR code and pair again." in shown
    assert not harness.app.device.is_paired()


def test_the_app_opens_on_the_erasure_note_after_a_restart(
    make_app, phone_server: PhoneServer
) -> None:
    """An app started after its copy was erased says why, on the Pair screen."""
    harness = _paired_and_locked(make_app, phone_server)
    for _ in range(FAILED_UNLOCK_LIMIT):
        harness.type(harness.screen.password, "wrong-password")
        harness.press(harness.screen.unlock_button)
    harness.app.close()

    again: Harness = make_app()
    shown = again.text()
    assert "Pair this phone" in shown
    assert (
        "This phone erased its offline copy: the master password was entered" in shown
    )


def test_biometric_unlock_once_turned_on_in_settings(
    make_app, phone_server: PhoneServer
) -> None:
    """Turning biometrics on offers "Unlock with biometrics", which opens the lists."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    harness.press(harness.screen.settings_button)
    settings = harness.screen
    assert "Biometric unlock: off" in harness.text()
    settings.biometric.value = True
    harness.settle()
    assert "Biometric unlock is on" in harness.text()
    assert harness.keystore.secrets  # the wrapping key went to the keystore

    harness.press(settings.back_button)
    harness.press(harness.screen.lock_button)
    harness.press(button_named(harness, "Unlock with biometrics"))
    assert "[▸ Finance (1)]" in harness.text()


def test_turning_biometric_unlock_off_again_stops_offering_it(
    make_app, phone_server: PhoneServer
) -> None:
    """Switched off again, biometrics leave the Unlock screen and the keystore."""
    harness: Harness = make_app()
    pair(harness, phone_server)
    harness.press(harness.screen.settings_button)
    harness.screen.biometric.value = True
    harness.settle()
    assert "Biometric unlock is on" in harness.text()
    harness.press(harness.screen.back_button)
    harness.press(harness.screen.lock_button)
    assert "[Unlock with biometrics]" in harness.text()
    harness.press(button_named(harness, "Unlock with biometrics"))

    harness.press(harness.screen.settings_button)
    settings = harness.screen
    assert "Biometric unlock: on" in harness.text()
    settings.biometric.value = False
    harness.settle()
    shown = harness.text()
    assert "Biometric unlock is off" in shown
    assert "Biometric unlock: off" in shown
    assert not harness.keystore.secrets  # the key left the keystore

    harness.press(settings.back_button)
    harness.press(harness.screen.status_button)
    assert "Biometric unlock: off" in harness.text()
    harness.press(harness.screen.back_button)
    harness.press(harness.screen.lock_button)
    shown = harness.text()
    assert "Unlock Strongroom" in shown
    assert "Unlock with biometrics" not in shown
    assert "[Unlock]" in shown
    # The master password still opens the phone.
    harness.type(harness.screen.password, MASTER)
    harness.press(harness.screen.unlock_button)
    assert "[▸ Finance (1)]" in harness.text()

    # A restart reads the setting from the phone's copy: still not offered.
    harness.press(harness.screen.lock_button)
    again: Harness = make_app()
    assert "Unlock Strongroom" in again.text()
    assert "Unlock with biometrics" not in again.text()


def test_biometrics_are_not_offered_when_the_policy_forbids_them(
    make_app, phone_server: PhoneServer
) -> None:
    """With biometrics forbidden, Settings greys the switch out and says why."""
    phone_server.set("biometric_allowed", False)
    harness: Harness = make_app()
    pair(harness, phone_server)
    harness.press(harness.screen.settings_button)
    assert not harness.screen.biometric.enabled
    assert "Your organisation does not allow biometric unlock." in harness.text()
    harness.press(harness.screen.back_button)
    harness.press(harness.screen.lock_button)
    assert "Unlock with biometrics" not in harness.text()


def test_a_damaged_copy_can_be_erased_to_pair_again(
    make_app, phone_server: PhoneServer
) -> None:
    """A cache file that no longer opens is explained and can be erased from Unlock."""
    harness = _paired_and_locked(make_app, phone_server)
    harness.app.close()
    cache = harness.app.settings.cache_file
    cache.write_bytes(cache.read_bytes()[:1000])  # truncated, as by a full disk

    again: Harness = make_app()
    shown = again.text()
    assert "Unlock Strongroom" in shown
    assert "The offline copy is damaged" in shown
    assert "nothing on the server is lost" in shown
    again.press(again.screen.erase_button)
    shown = again.text()
    assert "Pair this phone" in shown
    assert "The damaged copy is erased" in shown
    assert not again.app.device.is_paired()
