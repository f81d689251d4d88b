"""Captures of every app screen, drawn by Toga's Textual backend in a tmux pane.

    scripts/capture-app-screens [OUTPUT_DIR]    (default test-artifacts/app-screens)

A throw-away instance (SQLite, in a temporary directory) gets the same data
as the app's tests, and the real App Server runs for it over TLS on
127.0.0.1. The app runs as its own process in a detached 100x40 tmux session
and is driven as a person would: typing, Enter, and mouse clicks (SGR mouse
sequences sent into the pane) on the words of a button. Each screen is saved
as plain text (.txt), with its colours (.ansi, `less -R` shows it), and as
an SVG picture drawn by rich (.svg, any browser shows it).
"""

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.text import Text

from strongroom.crypto.certificates import make_self_signed
from strongroom.crypto.pins import pin_of_pem
from strongroom.server.accounts import service as accounts
from strongroom.server.appserver.app import create_appserver_app
from strongroom.server.appserver.runner import RunningServer, run_in_thread
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.config import Settings
from strongroom.server.core.instance import Instance, initialise, operator
from strongroom.server.mobile import service as mobile
from strongroom.server.settings import service as settings_service
from tests.client.app.seed import BANK_PASSWORD, FAILED_UNLOCK_LIMIT, MASTER, seed

REPO = Path(__file__).resolve().parents[3]
WIDTH, HEIGHT = 100, 40


class Pane:
    """A detached tmux session running one command; read and typed into.

    The session lives on a tmux server of its own (socket `name`), so it never
    touches a person's tmux sessions and `close` ends that server with it.
    """

    def __init__(self, name: str, command: str) -> None:
        self.name = name
        self.tmux = ["tmux", "-L", name]
        # The app's stderr is where Textual draws: it stays on the pane.
        subprocess.run(
            [
                *self.tmux,
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                str(WIDTH),
                "-y",
                str(HEIGHT),
                command,
            ],
            check=True,
        )
        self.socket = Path(
            subprocess.run(
                [*self.tmux, "display-message", "-p", "#{socket_path}"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )

    def text(self, *, ansi: bool = False) -> str:
        """What the pane shows now."""
        argv = [*self.tmux, "capture-pane", "-p", "-t", self.name]
        if ansi:
            argv.append("-e")
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout

    def wait_for(
        self, words: str, timeout: float = 60.0, *, settle: float = 0.5
    ) -> None:
        """Wait until `words` are on the pane, then `settle` seconds more."""
        deadline = time.monotonic() + timeout
        while words not in self.text():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{words!r} never appeared:\n{self.text()}")
            time.sleep(0.1)
        time.sleep(settle)  # let the frame finish drawing

    def wait_gone(self, words: str, timeout: float = 60.0) -> None:
        """Wait until `words` have left the pane."""
        deadline = time.monotonic() + timeout
        while words in self.text():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{words!r} never went away:\n{self.text()}")
            time.sleep(0.2)
        time.sleep(0.5)

    def type(self, text: str) -> None:
        """Type `text` literally."""
        subprocess.run(
            [*self.tmux, "send-keys", "-t", self.name, "-l", text], check=True
        )
        time.sleep(0.3)

    def key(self, name: str) -> None:
        """Press a key (tmux names: Enter, Tab, BSpace...)."""
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, name], check=True)
        time.sleep(0.3)

    def click(self, words: str, nth: int = 0) -> None:
        """Click the middle of the `nth` place where `words` are shown."""
        found = [
            (row, line.index(words))
            for row, line in enumerate(self.text().splitlines())
            if words in line
        ]
        if len(found) <= nth:
            raise LookupError(f"{words!r} is not on the pane:\n{self.text()}")
        row, col = found[nth]
        x, y = col + len(words) // 2 + 1, row + 1
        # SGR mouse reports (xterm mode 1006), which Textual turns on.
        self.type(f"\x1b[<0;{x};{y}M\x1b[<0;{x};{y}m")
        time.sleep(0.3)

    def close(self) -> None:
        """End the session, the app in it, and this pane's tmux server."""
        subprocess.run([*self.tmux, "kill-server"], check=False, capture_output=True)
        self.socket.unlink(missing_ok=True)


class Captures:
    """Numbered captures written to one directory."""

    def __init__(self, pane: Pane, out: Path) -> None:
        self.pane = pane
        self.out = out
        self.count = 0

    def save(self, name: str) -> None:
        """Save the pane as NN-name.txt, NN-name.ansi and NN-name.svg."""
        self.count += 1
        stem = self.out / f"{self.count:02}-{name}"
        # One capture for all three files, so they show the same moment.
        ansi = self.pane.text(ansi=True)
        drawn = Text.from_ansi(ansi)
        stem.with_suffix(".txt").write_text(drawn.plain, encoding="utf-8")
        stem.with_suffix(".ansi").write_text(ansi, encoding="utf-8")
        # A picture any browser shows: rich draws the coloured text as SVG.
        console = Console(record=True, width=WIDTH, file=io.StringIO())
        console.print(drawn)
        console.save_svg(str(stem.with_suffix(".svg")), title=name)
        print(f"saved {stem.name}")


@contextlib.contextmanager
def served_instance(tmp: Path) -> Iterator[tuple[Instance, RunningServer]]:
    """A seeded instance and its App Server on 127.0.0.1."""
    settings = Settings(data_dir=tmp / "data", environment="test")
    initialise(settings, admin_name="admin", admin_password="capture-admin-Pw-2030")
    instance = Instance.open(settings)
    seed(instance)
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
    try:
        yield instance, server
    finally:
        instance.close()


def _payload_uri(instance: Instance) -> str:
    with instance.db.session() as session:
        user = accounts.find_user(session, "alice")
        return mobile.pairing_payload(
            session, operator(), instance.cipher, user
        ).to_uri()


def _impostor(instance: Instance, server: RunningServer, tmp: Path) -> RunningServer:
    """Another key on the App Server's address."""
    server.stop()
    other = make_self_signed(["127.0.0.1"])
    cert, key = tmp / "impostor.crt", tmp / "impostor.key"
    cert.write_bytes(other.cert_pem)
    key.write_bytes(other.key_pem)
    return run_in_thread(
        create_appserver_app(instance), port=server.port, tls_cert=cert, tls_key=key
    )


def capture(out: Path) -> None:
    """Drive the app through every screen and save each one."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.txt"):
        old.unlink()
    for old in [*out.glob("*.ansi"), *out.glob("*.svg")]:
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="strongroom-capture-") as scratch:
        tmp = Path(scratch)
        with served_instance(tmp) as (instance, server):
            # COLUMNS and LINES would win over the pane's size (a test run
            # inherits 80x24 from pytest): give the pane's own.
            command = (
                f"cd {REPO} && TOGA_BACKEND=toga_textual "
                f"COLUMNS={WIDTH} LINES={HEIGHT} "
                f"STRONGROOM_MOBILE_HOME={tmp / 'profile'} "
                f"STRONGROOM_MOBILE_CLIPBOARD=none "
                f"{sys.executable} -m strongroom.client.app"
            )
            pane = Pane(f"strongroom-capture-{os.getpid()}", command)
            shots = Captures(pane, out)
            try:
                _walk_through(pane, shots, instance, server, tmp)
            finally:
                pane.close()


def _walk_through(
    pane: Pane, shots: Captures, instance: Instance, server: RunningServer, tmp: Path
) -> None:
    # Pair.
    pane.wait_for("Pair this phone")
    shots.save("pair")
    pane.click("strongroom://pair?...")
    pane.type(_payload_uri(instance))
    pane.key("Enter")
    pane.wait_for("Server: https://")
    shots.save("pair-code-read")
    pane.type(MASTER)
    pane.key("Enter")
    pane.wait_for("Pairing…", settle=0)  # it may take under a second
    shots.save("pair-in-progress")
    pane.wait_for("Last sync")
    shots.save("lists")

    # Browse, open a record.
    pane.click("Finance")
    pane.wait_for("Banking")
    pane.click("Banking")
    pane.wait_for("Bank login")
    shots.save("lists-folder-open")
    pane.click("Bank login")
    pane.wait_for("One-time code")
    shots.save("record")
    pane.click("Reveal")
    pane.wait_for(BANK_PASSWORD)
    shots.save("record-revealed")
    pane.click("Cop", nth=1)  # the password row's (drawn cut short once revealed)
    pane.wait_for("Cannot copy")
    shots.save("record-copy-without-clipboard")
    pane.click("‹ Back")
    pane.wait_for("Sync now")

    # Search.
    pane.click("Search")
    pane.type("primary")
    pane.wait_for("1 entry match")
    shots.save("lists-search")

    # Sync state, settings.
    pane.click("Sync status")
    pane.wait_for("Offline copy:")
    shots.save("sync")
    pane.click("Sync now")
    pane.wait_for("Up to date")
    shots.save("sync-done")
    pane.click("‹ Back")
    pane.wait_for("Settings")
    pane.click("Settings")
    pane.wait_for("Lock automatically after")
    shots.save("settings")
    pane.click("Log out")
    pane.wait_for("Yes, log out")
    shots.save("settings-log-out-asks")
    pane.click("Cancel")
    pane.click("‹ Back")
    pane.wait_for("Lock")

    # Lock, unlock with a wrong password.
    pane.click("Lock", nth=0)
    pane.wait_for("Unlock Strongroom")
    shots.save("unlock")
    pane.click("Mobile master password")
    pane.type("not-my-password")
    pane.key("Enter")
    pane.wait_for("not right")
    shots.save("unlock-wrong-password")
    pane.type(MASTER)
    pane.key("Enter")
    pane.wait_for("Last sync")
    pane.wait_gone("Syncing")

    # A server with another key.
    impostor = _impostor(instance, server, tmp)
    try:
        pane.click("Sync now")
        pane.wait_for("not your organisation")
        shots.save("error-pin-mismatch")
    finally:
        impostor.stop()

    # The real server again; an admin orders a wipe.
    settings = instance.settings
    server = run_in_thread(
        create_appserver_app(instance),
        port=server.port,
        tls_cert=settings.cert_file,
        tls_key=settings.cert_key_file,
    )
    try:
        with instance.db.session() as session:
            user = accounts.find_user(session, "alice")
            device = mobile.list_devices(session, operator(), user)[0]
            mobile.request_wipe(session, operator(), device.id)
        pane.click("Sync now")
        pane.wait_for("This phone was wiped")
        shots.save("error-wiped")
        _pair_errors(pane, shots, instance)
    finally:
        server.stop()


def _pair_errors(pane: Pane, shots: Captures, instance: Instance) -> None:
    """From the Pair screen: a stale QR code, then a lock-out."""
    # A code printed before the admin regenerated the App Pairing Secret.
    old_code = _payload_uri(instance)
    with instance.db.session() as session:
        mobile.regenerate_pairing_secret(session, operator(), instance.cipher)
    pane.click("strongroom://pair?...")
    pane.type(old_code)
    pane.key("Enter")
    pane.wait_for("Server: https://")
    pane.type(MASTER)
    pane.key("Enter")
    pane.wait_for("no longer valid")
    shots.save("error-stale-qr")

    # A new code, then wrong master passwords past the server's limit.
    pane.click("Use another code")
    pane.wait_for("strongroom://pair?...")
    pane.click("strongroom://pair?...")
    pane.type(_payload_uri(instance))
    pane.key("Enter")
    pane.wait_for("Server: https://")
    for attempt in range(FAILED_UNLOCK_LIMIT + 1):
        refused = _refused_pairings(instance)
        pane.click("Mobile master password")
        pane.type(f"not-the-password-{attempt}")
        pane.key("Enter")
        # The same message may stand after each try: wait for the server's
        # refusal in its audit log, then for the app to show it.
        _wait_until(lambda: _refused_pairings(instance) > refused)
        pane.wait_gone("Pairing…")
    pane.wait_for("Locked out")
    shots.save("error-locked-out")


def _refused_pairings(instance: Instance) -> int:
    """How many pairings the App Server has refused (its audit log)."""
    with instance.db.session() as session:
        return (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.event_type == "mobile.pair")
                .where(AuditEvent.outcome == "failure")
            )
            or 0
        )


def _wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the App Server never answered")
        time.sleep(0.2)


def main(argv: list[str]) -> int:
    """Capture into argv[0] (or test-artifacts/app-screens)."""
    if shutil.which("tmux") is None:
        print("tmux is needed: scripts/install-test-tools", file=sys.stderr)
        return 1
    out = Path(argv[0]) if argv else REPO / "test-artifacts" / "app-screens"
    capture(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
