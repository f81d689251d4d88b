"""The clipboard as the app uses it: the platform's own, cleared by the app's loop.

The core copies through a `strongroom.client.clipboard.Clipboard` and asks it
to `clear_later`. The CLI does that with a detached helper process; a phone
app cannot spawn processes (iOS forbids it, Android kills them), so
`LoopClipboard` wraps the platform clipboard and schedules the clearing on the
app's event loop instead. It keeps only a salted digest of the copied value,
never the value, and clears only if the clipboard still holds it: whatever the
person copied since is left alone.

Platform clipboards: Android through Chaquopy's Java bridge, iOS through
rubicon-objc, desktops through the core's command-line clipboards.
"""

import asyncio
import hashlib
import hmac
import logging
import secrets
from typing import Any

from strongroom.client.clipboard import Clipboard, MemoryClipboard, system_clipboard
from strongroom.client.errors import ClipboardUnavailable

log = logging.getLogger(__name__)


def _digest(salt: bytes, value: str) -> bytes:
    return hashlib.sha256(salt + value.encode("utf-8")).digest()


class LoopClipboard(Clipboard):
    """A platform clipboard whose `clear_later` runs on an asyncio loop.

    `copy` may be called from the core's worker thread; the timer is handed
    to the loop thread-safely.
    """

    def __init__(self, inner: Clipboard, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = inner
        self.loop = loop
        self.name = inner.name
        self.timers: list[asyncio.TimerHandle] = []

    def copy(self, text: str) -> None:
        """Put `text` on the platform clipboard."""
        self.inner.copy(text)

    def paste(self) -> str | None:
        """What the platform clipboard holds."""
        return self.inner.paste()

    def clear(self) -> None:
        """Empty the platform clipboard."""
        self.inner.clear()

    def clear_later(self, text: str, seconds: int) -> None:
        """Clear after `seconds` if the clipboard still holds `text`."""
        salt = secrets.token_bytes(16)
        digest = _digest(salt, text)
        self.loop.call_soon_threadsafe(self._schedule, salt, digest, seconds)

    def _schedule(self, salt: bytes, digest: bytes, seconds: int) -> None:
        self.timers = [t for t in self.timers if not t.cancelled()]
        timer = self.loop.call_later(seconds, self.clear_if_unchanged, salt, digest)
        self.timers.append(timer)

    def clear_if_unchanged(self, salt: bytes, digest: bytes) -> bool:
        """Clear if the clipboard holds the value of `digest`; tell whether it did."""
        try:
            current = self.inner.paste()
            if current is None or not hmac.compare_digest(
                _digest(salt, current), digest
            ):
                return False
            self.inner.clear()
        except ClipboardUnavailable as exc:
            log.warning("clipboard_clear_failed error=%s", exc.message)
            return False
        log.info("clipboard_cleared")
        return True


class AndroidClipboard(Clipboard):  # pragma: no cover - runs on Android only
    """The Android clipboard (ClipboardManager) through Chaquopy.

    TODO: exercised only on a device; this machine cannot run Android.
    """

    name = "android"

    def __init__(self, activity: Any) -> None:
        from java import jclass  # type: ignore[import-not-found]  # Chaquopy only

        self._activity = activity
        self._clip_data = jclass("android.content.ClipData")
        self._bundle = jclass("android.os.PersistableBundle")
        context = jclass("android.content.Context")
        self._manager = activity.getSystemService(context.CLIPBOARD_SERVICE)

    def copy(self, text: str) -> None:
        """Put `text` on the clipboard, flagged sensitive."""
        clip = self._clip_data.newPlainText("Strongroom", text)
        # Android 13+ hides the preview of a clip flagged sensitive, so the
        # password does not pop up on screen in the copy confirmation.
        extras = self._bundle()
        extras.putBoolean("android.content.extra.IS_SENSITIVE", True)
        clip.getDescription().setExtras(extras)
        self._manager.setPrimaryClip(clip)

    def paste(self) -> str | None:
        """The clipboard's text, or None."""
        clip = self._manager.getPrimaryClip()
        if clip is None or clip.getItemCount() == 0:
            return None
        return str(clip.getItemAt(0).coerceToText(self._activity).toString())

    def clear(self) -> None:
        """Empty the clipboard (API 28+), or overwrite it with nothing."""
        try:
            self._manager.clearPrimaryClip()
        except Exception:  # older Android (API < 28) has no clearPrimaryClip
            self._manager.setPrimaryClip(self._clip_data.newPlainText("", ""))


class IOSClipboard(Clipboard):  # pragma: no cover - runs on iOS only
    """The iOS general pasteboard through rubicon-objc.

    TODO: exercised only on a device; this machine cannot run iOS.
    """

    name = "ios"

    def __init__(self) -> None:
        from rubicon.objc import ObjCClass  # type: ignore[import-not-found]

        self._board = ObjCClass("UIPasteboard").generalPasteboard

    def copy(self, text: str) -> None:
        """Put `text` on the pasteboard."""
        self._board.string = text

    def paste(self) -> str | None:
        """The pasteboard's text, or None."""
        value = self._board.string
        return None if value is None else str(value)

    def clear(self) -> None:
        """Empty the pasteboard."""
        self._board.items = []


def platform_clipboard(platform: str | None, native_app: Any, choice: str) -> Clipboard:
    """The clipboard of the platform the app runs on.

    `platform` is Toga's platform name, `native_app` the backend's native app
    object (the Android activity), `choice` the core's clipboard setting for
    desktops. Raises ClipboardUnavailable where there is none.
    """
    if platform == "android":
        return AndroidClipboard(native_app)
    if platform == "iOS":
        return IOSClipboard()
    return system_clipboard(choice)


__all__ = [
    "AndroidClipboard",
    "IOSClipboard",
    "LoopClipboard",
    "MemoryClipboard",
    "platform_clipboard",
]
