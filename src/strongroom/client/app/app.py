"""The app: `StrongroomApp` holds the device, the unlocked vault and the screens.

Every call into the core runs on `CoreWorker`'s thread, awaited from a task
on Toga's event loop, so the screen never freezes: pairing and unlocking
derive an Argon2id key, a sync downloads and decrypts. While a task runs its
screen shows a progress indicator and disables its buttons. Every error ends
as a notice on the screen (see messages.py), and errors that leave nothing to
unlock (wipe, revocation, erasure) lead back to the Pair screen.

Collaborators can be handed in (tests pass an in-memory keystore and
clipboard, a clock they move, and a URL opener that records); by default
the app uses the platform's.
"""

import contextlib
import datetime
import logging
import logging.handlers
import os
import platform
import time
import webbrowser
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import toga

import strongroom
from strongroom.client.app import prefs as app_prefs
from strongroom.client.app import theme
from strongroom.client.app.clipboard import LoopClipboard, platform_clipboard
from strongroom.client.app.messages import After, Notice, notice_for
from strongroom.client.app.screens.base import Screen
from strongroom.client.app.screens.lists import ListsScreen, Snapshot
from strongroom.client.app.screens.pair import PairScreen
from strongroom.client.app.screens.record import RecordScreen
from strongroom.client.app.screens.settings import SettingsScreen
from strongroom.client.app.screens.sync import SyncScreen
from strongroom.client.app.screens.unlock import UnlockScreen
from strongroom.client.app.worker import CoreWorker, TaskSet
from strongroom.client.clipboard import Clipboard
from strongroom.client.config import ClientSettings, load_client_settings
from strongroom.client.device import Clock, Device, Vault, utcnow
from strongroom.client.errors import (
    CacheCorrupt,
    ClientError,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
)
from strongroom.client.keystore import Keystore
from strongroom.client.models import DeviceStatus
from strongroom.client.transport import ConnectorFactory
from strongroom.protocol.qr import PairingPayload

log = logging.getLogger(__name__)

APP_ID = "org.strongroom.strongroom-mobile"
FORMAL_NAME = "Strongroom"
MOBILE_PLATFORMS = ("android", "iOS")
# How often the auto-lock looks at the time since the last touch.
AUTO_LOCK_CHECK_SECONDS = 15.0


class AutoLock:
    """Locks the vault after the chosen minutes without a touch."""

    def __init__(self, app: "StrongroomApp", monotonic: Callable[[], float]) -> None:
        self.app = app
        self.monotonic = monotonic
        self.last_touch = monotonic()
        self._timer: Any = None

    def touch(self) -> None:
        """The person did something."""
        self.last_touch = self.monotonic()

    def idle_seconds(self) -> float:
        """Seconds since the last touch."""
        return self.monotonic() - self.last_touch

    def check(self) -> bool:
        """Lock if the delay has passed; tell whether it locked."""
        limit = self.app.prefs.auto_lock_minutes * 60
        if self.app.vault is None or self.idle_seconds() < limit:
            return False
        log.info("app_auto_locked idle_seconds=%d", int(self.idle_seconds()))
        minutes = self.app.prefs.auto_lock_minutes
        self.app.lock_now(
            Notice(
                "Locked",
                f"Strongroom locked itself after {minutes} "
                f"minute{'s' if minutes != 1 else ''} without use.",
                "",
                error=False,
            )
        )
        return True

    def start(self) -> None:
        """Look every AUTO_LOCK_CHECK_SECONDS from now on."""
        self._timer = self.app.loop.call_later(AUTO_LOCK_CHECK_SECONDS, self._tick)

    def _tick(self) -> None:
        self.check()
        self.start()

    def stop(self) -> None:
        """Stop looking."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class StrongroomApp(toga.App):
    """The Strongroom phone app."""

    def __init__(
        self,
        *,
        settings: ClientSettings | None = None,
        keystore: Keystore | None = None,
        clipboard: Clipboard | None = None,
        connector_factory: ConnectorFactory | None = None,
        clock: Clock = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        url_opener: Callable[[str], object] | None = None,
        configure_logging: bool = False,
    ) -> None:
        # Toga runs startup() inside its own constructor (at once on the
        # dummy backend), so everything startup() reads is set first.
        self._given_settings = settings
        self._given_keystore = keystore
        self._given_clipboard = clipboard
        self._connector_factory = connector_factory
        self._clock = clock
        self._monotonic = monotonic
        self._url_opener = url_opener or webbrowser.open
        self._configure_logging = configure_logging
        super().__init__(
            formal_name=FORMAL_NAME,
            app_id=APP_ID,
            app_name="strongroom",
            version=strongroom.__version__,
            description="Your organisation's passwords, offline and audited",
            author="Strongroom",
        )

    # --- start and stop --------------------------------------------------

    def startup(self) -> None:
        """Make the device, the worker and the window; open the first screen."""
        self.settings = self._profile_settings()
        if self._configure_logging:
            _log_to_file(self.settings.home)
        self.worker = CoreWorker()
        self.tasks = TaskSet(self.loop)
        # TODO: phones need a Keystore on the Android Keystore and the iOS
        # Keychain for biometric unlock; `keyring` has no backend there, so
        # turning biometrics on says it is not available until one is written.
        self.device = Device(
            self.settings,
            keystore=self._given_keystore,
            clipboard=self._make_clipboard,
            connector_factory=self._connector_factory,
            clock=self._clock,
        )
        self.prefs = app_prefs.load(self.settings.home)
        self.vault: Vault | None = None
        self.status: DeviceStatus | None = None
        self.current: Screen | None = None
        self.lists_screen: ListsScreen | None = None
        self.autolock = AutoLock(self, self._monotonic)
        # toga's MainWindow.__init__ carries no annotations.
        self.window = toga.MainWindow(title=self.formal_name)  # type: ignore[no-untyped-call]
        self.window.content = toga.Box()
        # Back from the background (timers may not have run there): lock at
        # once if the idle time has passed.
        self.window.on_show = self._window_shown
        self.main_window = self.window
        self.window.show()
        self.autolock.start()
        self.spawn(self._open_first_screen(), name="open")

    def _window_shown(self, window: toga.Window, **_: object) -> None:
        self.autolock.check()

    def _profile_settings(self) -> ClientSettings:
        settings = self._given_settings or load_client_settings()
        # On a phone the profile lives in the app's private data directory,
        # which the OS removes with the app and no other app can read.
        if (
            toga.platform.current_platform in MOBILE_PLATFORMS
            and "home" not in settings.model_fields_set
        ):
            settings = settings.model_copy(update={"home": Path(self.paths.data)})
        return settings

    def _make_clipboard(self) -> Clipboard:
        inner = self._given_clipboard or platform_clipboard(
            toga.platform.current_platform,
            getattr(self._impl, "native", None),
            self.settings.clipboard,
        )
        return LoopClipboard(inner, self.loop)

    async def _open_first_screen(self) -> None:
        try:
            await self.refresh_status()
        except ClientError as exc:
            self.show_unlock()
            if self.current is not None:
                self.show_error(self.current, exc)
            return
        if self.status is not None and self.status.paired:
            self.show_unlock()
            return
        notice = None
        if self.status is not None and self.status.erased_reason:
            notice = Notice(
                "The offline copy was erased",
                f"This phone erased its offline copy: {self.status.erased_reason}.",
                "Ask your administrator for a new QR code and pair again.",
            )
        self.show_pair(notice)

    def on_exit(self) -> bool:
        """Lock and stop the worker before the app goes away."""
        self.close()
        return True

    def close(self) -> None:
        """Lock the vault, stop timers and the worker thread."""
        self.autolock.stop()
        if self.current is not None:
            self.current.hidden()
        vault, self.vault = self.vault, None
        if vault is not None:
            with contextlib.suppress(ClientError):
                self.worker.run_now(vault.lock)
        self.worker.shutdown()

    # --- small services for screens ---------------------------------------

    def now(self) -> datetime.datetime:
        """The current time, as the device core sees it."""
        return self._clock()

    def touch(self) -> None:
        """The person did something (delays auto-lock)."""
        self.autolock.touch()

    def spawn(self, coro: Coroutine[Any, Any, object], *, name: str) -> None:
        """Run `coro` in the background."""
        self.tasks.spawn(coro, name)

    def run_busy(
        self,
        screen: Screen,
        message: str,
        work: Coroutine[Any, Any, object],
        *,
        name: str,
    ) -> None:
        """Run `work` with `screen` showing `message` and a progress indicator.

        The indicator shows before this returns, so a tap gets an answer at
        once; the work itself starts when the event loop next turns.
        """
        screen.show_notice(None)  # a new try: the last notice no longer applies
        screen.set_busy(message)
        self.spawn(self._busy(screen, work), name=name)

    async def _busy(self, screen: Screen, work: Coroutine[Any, Any, object]) -> None:
        try:
            await work
        except Exception as exc:  # every failure becomes a notice
            self.show_error(screen, exc)
        finally:
            screen.set_busy(None)

    def show_error(self, screen: Screen, exc: BaseException) -> None:
        """Turn `exc` into a notice, on `screen` or where the person must go next."""
        notice = notice_for(exc)
        if (
            isinstance(screen, ListsScreen)
            and screen.snapshot.expired is not None
            and isinstance(exc, ServerUnreachable | ServerTimeout)
        ):
            # "Your offline copy still works" would be wrong here: keep saying
            # it expired, and why the sync did not fix it.
            expired = notice_for(screen.snapshot.expired)
            notice = Notice(
                expired.title,
                f"{expired.detail} {notice.title} just now.",
                expired.next_step,
            )
        log.info("app_notice error=%s after=%s", type(exc).__name__, notice.after.value)
        if notice.after is After.PAIR:
            self.spawn(self._forget_vault(), name="forget")
            self.status = None
            self.show_pair(notice)
        elif isinstance(exc, CacheCorrupt) and isinstance(screen, UnlockScreen):
            screen.show_notice(notice)
            screen.offer_erase()
        elif notice.after is After.UNLOCK and not isinstance(screen, UnlockScreen):
            self.spawn(self._forget_vault(), name="forget")
            self.show_unlock(notice)
        else:
            screen.show_notice(notice)

    def repaint(self, screen: Screen) -> None:
        """Paint `screen` in the chosen theme (after it changed its widgets)."""
        theme.apply(screen.root, self.palette())

    def palette(self) -> theme.Palette:
        """The colours of the chosen theme."""
        try:
            dark = self.dark_mode
        except (NotImplementedError, AttributeError):
            dark = None
        return theme.palette_for(self.prefs.theme, dark)

    def update_prefs(self, new: app_prefs.Preferences) -> None:
        """Save new preferences and apply them."""
        self.prefs = new
        app_prefs.save(self.settings.home, new)
        if self.current is not None:
            self.repaint(self.current)

    def open_url(self, url: str) -> None:
        """Open a web address in the browser."""
        log.info("app_url_opened")
        self._url_opener(url)

    # --- navigation ------------------------------------------------------

    def _show(self, screen: Screen) -> None:
        if self.current is not None and self.current is not screen:
            self.current.hidden()
        self.current = screen
        self.repaint(screen)
        self.window.content = screen.root
        screen.shown()

    def show_pair(self, notice: Notice | None = None) -> None:
        """The Pair screen."""
        self.lists_screen = None
        screen = PairScreen(self)
        self._show(screen)
        screen.show_notice(notice)

    def show_unlock(self, notice: Notice | None = None) -> None:
        """The Unlock screen."""
        self.lists_screen = None
        screen = UnlockScreen(self)
        self._show(screen)
        screen.show_notice(notice)

    def show_lists(self) -> None:
        """The lists (the Unlock screen while locked)."""
        if self.vault is None:
            self.show_unlock()
            return
        if self.lists_screen is None:
            self.lists_screen = ListsScreen(self)
            self.spawn(self.reload_lists(), name="lists")
        self._show(self.lists_screen)

    def show_record(self, record_id: str) -> None:
        """One record."""
        if self.vault is None:
            self.show_unlock()
            return
        self._show(RecordScreen(self, record_id))

    def show_sync(self) -> None:
        """The sync state."""
        self._show(SyncScreen(self))

    def show_settings(self) -> None:
        """Settings."""
        if self.vault is None:
            self.show_unlock()
            return
        self._show(SettingsScreen(self))

    # --- work (each awaited inside a busy screen) ------------------------

    async def refresh_status(self) -> None:
        """Read the device status again and show it where it is shown."""
        self.status = await self.worker.call(self.device.status)
        screen = self.current
        if isinstance(screen, ListsScreen):
            screen.update_sync_line()
        elif isinstance(screen, SyncScreen | UnlockScreen):
            screen.update(self.status)

    async def pair(
        self, screen: Screen, payload: PairingPayload, password: str
    ) -> None:
        """Pair (Argon2id and the server's checks), then sync for the first time."""
        self.vault = await self.worker.call(
            self.device.pair,
            payload,
            password,
            device_name=platform.node()[:200] or FORMAL_NAME,
            device_platform=str(toga.platform.current_platform or "desktop"),
        )
        self.touch()
        screen.set_busy("Paired. Downloading your lists…")
        try:
            await self.worker.call(self.vault.sync)
        except Exception as exc:  # shown on the lists screen, where the person is
            await self.refresh_status()
            self.show_lists()
            self.show_error(self.lists_screen or screen, exc)
            return
        await self.refresh_status()
        self.show_lists()
        if self.lists_screen is not None:
            self.lists_screen.info(
                "This phone is paired", "Your lists are on it now, also offline."
            )

    async def unlock(self, screen: Screen, password: str | None) -> None:
        """Unlock (with the master password, or biometrics when None), then sync."""
        if password is None:
            vault = await self.worker.call(self.device.unlock_biometric)
        else:
            vault = await self.worker.call(self.device.unlock, password)
        self.vault = vault
        self.touch()
        await self.refresh_status()
        self.show_lists()
        if self.lists_screen is not None:
            lists = self.lists_screen
            self.run_busy(
                lists,
                "Syncing with your organisation's server…",
                self.sync(lists, quiet=True),
                name="sync-after-unlock",
            )

    async def sync(self, screen: Screen, *, quiet: bool = False) -> None:
        """Sync now; a wiped or revoked phone ends on the Pair screen."""
        vault = self.vault
        if vault is None:
            return
        try:
            summary = await self.worker.call(vault.sync)
        finally:
            if self.vault is vault:
                await self.refresh_status()
        await self.reload_lists()
        if not quiet:
            screen.info(
                "Up to date",
                f"{summary.records} entries are on this phone "
                f"({summary.upserted} new or changed, {summary.removed} removed).",
            )

    async def reload_lists(self) -> None:
        """Read the lists and records again and show them."""
        vault, screen = self.vault, self.lists_screen
        if vault is None or screen is None:
            return
        snapshot = await self.worker.call(_read_snapshot, vault)
        if self.vault is vault:
            screen.show_snapshot(snapshot)

    async def open_record(self, screen: RecordScreen) -> None:
        """Show a record (an audited view) and its one-time code."""
        vault = self._vault()
        view = await self.worker.call(vault.get, screen.record_id)
        screen.show_view(view)
        if view.summary.has_otp:
            code = await self.worker.call(vault.otp, screen.record_id)
            screen.show_code(code)

    async def reveal_record(self, screen: RecordScreen) -> None:
        """Reveal a record's secrets (audited)."""
        view = await self.worker.call(self._vault().reveal, screen.record_id)
        screen.show_view(view)

    async def copy_field(self, screen: RecordScreen, field: str) -> None:
        """Copy a field (audited); the clipboard is cleared later."""
        seconds = await self.worker.call(self._vault().copy, screen.record_id, field)
        screen.copied(field, seconds)

    async def refresh_code(self, screen: RecordScreen) -> None:
        """Fetch the next one-time code (an audited OTP view)."""
        try:
            code = await self.worker.call(self._vault().otp, screen.record_id)
        except Exception as exc:  # every failure becomes a notice
            self.show_error(screen, exc)
            return
        if self.current is screen:
            screen.show_code(code)

    async def set_biometric(self, screen: SettingsScreen, on: bool) -> None:
        """Turn biometric unlock on or off."""
        vault = self._vault()
        try:
            if on:
                await self.worker.call(vault.enable_biometric)
            else:
                await self.worker.call(vault.disable_biometric)
        except Exception:
            screen.set_biometric(not on)
            raise
        await self.refresh_status()
        screen.info(f"Biometric unlock is {'on' if on else 'off'}")

    async def logout(self, screen: SettingsScreen, *, force: bool) -> None:
        """Upload what is queued, unpair on the server, erase the copy."""
        vault = self._vault()
        try:
            await self.worker.call(vault.logout, force=force)
        except ServerError:
            screen.offer_force()
            raise
        self.vault = None
        self.status = None
        self.show_pair(
            Notice(
                "Logged out",
                "This phone is unpaired and its offline copy is erased.",
                "",
                error=False,
            )
        )

    async def erase_damaged(self) -> None:
        """Erase a cache that cannot be read, then offer pairing again."""
        await self.worker.call(
            self.device.erase, "the offline copy was damaged", leave_note=False
        )
        self.status = None
        self.show_pair(
            Notice(
                "The damaged copy is erased",
                "Nothing on your organisation's server was lost.",
                "Ask your administrator for a new QR code and pair again.",
                error=False,
            )
        )

    def lock_now(self, notice: Notice | None = None) -> None:
        """Lock: forget the key, show the Unlock screen."""
        self.spawn(self._forget_vault(), name="lock")
        self.show_unlock(notice)

    async def _forget_vault(self) -> None:
        vault, self.vault = self.vault, None
        self.lists_screen = None
        if vault is not None:
            with contextlib.suppress(ClientError):
                await self.worker.call(vault.lock)
        with contextlib.suppress(ClientError):
            await self.refresh_status()

    def _vault(self) -> Vault:
        if self.vault is None:
            raise ClientError("Strongroom is locked", hint="unlock it again")
        return self.vault


def _read_snapshot(vault: Vault) -> Snapshot:
    """Read what the lists screen shows (on the worker thread)."""
    problem = vault.expired()
    if problem is not None:
        return Snapshot(expired=problem)
    records: dict[str, list[Any]] = {}
    for summary in vault.records():
        records.setdefault(summary.list_id, []).append(summary)
    return Snapshot(lists=vault.lists(), records=records)


def _log_to_file(profile: Path) -> None:
    # Logs name events and ids, never a secret; a file (not stderr) because
    # the Textual backend draws on stderr. The profile and everything in it
    # stay private to this user, as the CLI keeps them.
    profile.mkdir(parents=True, exist_ok=True, mode=0o700)
    profile.chmod(0o700)
    handler = logging.handlers.RotatingFileHandler(
        profile / "app.log", maxBytes=1_000_000, backupCount=1, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main() -> None:
    """Start the app on this platform's Toga backend."""
    # Every file this process makes (cache, preferences, log) is for this
    # user alone.
    os.umask(0o077)
    StrongroomApp(configure_logging=True).main_loop()
