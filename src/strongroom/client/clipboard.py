"""Copying secrets to the clipboard, and clearing them again after a while.

`Clipboard` is the interface; `CommandClipboard` drives the platform's copy
tools (wl-copy, xclip, xsel, pbcopy); `MemoryClipboard` is the twin for tests.

Clearing is done by a detached helper process (`python -m
strongroom.client.clipboard`), so the CLI can exit at once. The helper is
given only a salted SHA-256 of the copied value, on standard input (never on
its command line, which other users can read), and clears the clipboard only
if it still holds that value: whatever the person copied since is left alone.
"""

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from strongroom.client.errors import ClipboardUnavailable
from strongroom.crypto import tokens

_TOOL_TIMEOUT = 5


def _digest(salt: bytes, value: str) -> str:
    return hashlib.sha256(salt + value.encode("utf-8")).hexdigest()


class Clipboard(ABC):
    """Somewhere to put a secret for a short while."""

    name: str = "clipboard"

    @abstractmethod
    def copy(self, text: str) -> None:
        """Put `text` on the clipboard."""

    @abstractmethod
    def paste(self) -> str | None:
        """What the clipboard holds now (None when it cannot be read)."""

    @abstractmethod
    def clear(self) -> None:
        """Empty the clipboard."""

    def clear_later(self, text: str, seconds: int) -> None:
        """Clear the clipboard after `seconds` if it still holds `text` then."""
        salt = secrets.token_bytes(16)
        payload = json.dumps({"salt": salt.hex(), "digest": _digest(salt, text)})
        # A new session detaches the helper from the terminal, so closing the
        # terminal (or Ctrl-C) does not kill it before it clears.
        helper = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                sys.executable,
                "-m",
                "strongroom.client.clipboard",
                self.name,
                str(seconds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        if helper.stdin is not None:
            helper.stdin.write(payload.encode())
            helper.stdin.close()


def clear_if_unchanged(clipboard: Clipboard, salt: bytes, digest: str) -> bool:
    """Clear `clipboard` if it still holds the value of `digest`; True if it did."""
    current = clipboard.paste()
    if current is None or not tokens.equal(_digest(salt, current), digest):
        return False
    clipboard.clear()
    return True


class MemoryClipboard(Clipboard):
    """A clipboard in memory; `clear_later` only records the request."""

    name = "memory"

    def __init__(self) -> None:
        self.value: str | None = None
        self.pending: list[tuple[bytes, str, int]] = []

    def copy(self, text: str) -> None:
        """Hold `text`."""
        self.value = text

    def paste(self) -> str | None:
        """What it holds."""
        return self.value

    def clear(self) -> None:
        """Forget it."""
        self.value = ""

    def clear_later(self, text: str, seconds: int) -> None:
        """Record the request; `run_pending` plays the helper's part."""
        salt = secrets.token_bytes(16)
        self.pending.append((salt, _digest(salt, text), seconds))

    def run_pending(self) -> list[bool]:
        """Do what the helper would do once its time has come."""
        done = [
            clear_if_unchanged(self, salt, digest) for salt, digest, _ in self.pending
        ]
        self.pending.clear()
        return done


@dataclass(frozen=True)
class _Tools:
    copy: Sequence[str]
    paste: Sequence[str]
    clear: Sequence[str] | None
    needs: str | None  # the environment variable naming the display


_BACKENDS: dict[str, _Tools] = {
    "wayland": _Tools(
        ["wl-copy"],
        ["wl-paste", "--no-newline"],
        ["wl-copy", "--clear"],
        "WAYLAND_DISPLAY",
    ),
    "xclip": _Tools(
        ["xclip", "-selection", "clipboard", "-in"],
        ["xclip", "-selection", "clipboard", "-out"],
        None,
        "DISPLAY",
    ),
    "xsel": _Tools(
        ["xsel", "--clipboard", "--input"],
        ["xsel", "--clipboard", "--output"],
        ["xsel", "--clipboard", "--clear"],
        "DISPLAY",
    ),
    "macos": _Tools(["pbcopy"], ["pbpaste"], None, None),
}


class CommandClipboard(Clipboard):
    """The system clipboard through its command-line tools."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tools = _BACKENDS[name]

    def _run(self, argv: Sequence[str], text: str | None) -> str:
        try:
            # Copy tools such as xclip fork a server that keeps the selection;
            # DEVNULL output keeps us from waiting on its inherited pipes.
            if text is not None:
                subprocess.run(  # noqa: S603 - fixed argv, no shell
                    list(argv),
                    input=text.encode("utf-8"),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=_TOOL_TIMEOUT,
                    check=True,
                )
                return ""
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                list(argv),
                capture_output=True,
                timeout=_TOOL_TIMEOUT,
                check=True,
            )
            return done.stdout.decode("utf-8", errors="replace")
        except (OSError, subprocess.SubprocessError) as exc:
            raise ClipboardUnavailable(
                f"{argv[0]} failed: {type(exc).__name__}"
            ) from exc

    def copy(self, text: str) -> None:
        """Put `text` on the system clipboard."""
        self._run(self.tools.copy, text)

    def paste(self) -> str | None:
        """What the system clipboard holds, or None if it cannot be read."""
        try:
            return self._run(self.tools.paste, None)
        except ClipboardUnavailable:
            return None

    def clear(self) -> None:
        """Empty the system clipboard."""
        if self.tools.clear is not None:
            self._run(self.tools.clear, None)
        else:
            self._run(self.tools.copy, "")


def _usable(name: str) -> bool:
    tools = _BACKENDS[name]
    if name == "macos" and sys.platform != "darwin":
        return False
    if tools.needs and not os.environ.get(tools.needs):
        return False
    return shutil.which(tools.copy[0]) is not None


def system_clipboard(choice: str = "auto") -> Clipboard:
    """The clipboard to use: a backend name, "auto" to find one, "none" for none."""
    if choice == "none":
        raise ClipboardUnavailable("clipboard use is turned off")
    if choice != "auto":
        if choice not in _BACKENDS:
            raise ClipboardUnavailable(f"unknown clipboard {choice!r}")
        if not _usable(choice):
            raise ClipboardUnavailable(f"{choice} is not usable here")
        return CommandClipboard(choice)
    for name in _BACKENDS:
        if _usable(name):
            return CommandClipboard(name)
    raise ClipboardUnavailable("no display and no clipboard tool was found")


def _helper_main(argv: list[str]) -> int:
    """The detached clearer: wait, then clear if the clipboard is unchanged."""
    name, seconds = argv[0], int(argv[1])
    payload = json.loads(sys.stdin.read())
    salt, digest = bytes.fromhex(payload["salt"]), str(payload["digest"])
    sys.stdin.close()
    time.sleep(seconds)
    clear_if_unchanged(CommandClipboard(name), salt, digest)
    return 0


if __name__ == "__main__":
    sys.exit(_helper_main(sys.argv[1:]))
