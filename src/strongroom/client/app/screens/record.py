"""A record: its fields, secrets masked until Reveal, Copy, the TOTP code, Open.

Opening the record is an audited view; Reveal is an audited reveal that
shows every secret field of the record (password, notes, secret generic
fields) until Hide or leaving the screen; Copy is an audited copy whose
clipboard is cleared after the configured time (30 seconds by default) if it
still holds the value; each one-time code shown is an audited OTP view.
"""

import asyncio
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import toga

from strongroom.client.app import kit
from strongroom.client.app.screens.base import Screen
from strongroom.client.models import OtpCode, RecordView

if TYPE_CHECKING:
    from strongroom.client.app.app import StrongroomApp

log = logging.getLogger(__name__)

# Only web addresses open in the browser: a record's URL field is free text,
# and a `javascript:`, `file:` or custom-scheme link must not run from here.
OPENABLE_SCHEMES = ("http", "https")


def openable(url: str) -> bool:
    """Whether `url` is a web address the app may hand to the browser."""
    parts = urlsplit(url.strip())
    return parts.scheme.lower() in OPENABLE_SCHEMES and bool(parts.netloc)


class RecordScreen(Screen):
    """One record."""

    title = "Entry"

    def __init__(self, app: "StrongroomApp", record_id: str) -> None:
        self.record_id = record_id
        self.view: RecordView | None = None
        self.code: OtpCode | None = None
        self.seconds_left = 0
        self._timer: asyncio.TimerHandle | None = None
        super().__init__(app)

    def build(self) -> toga.Widget:
        """Every field's row; rows without a value stay hidden."""
        self.back_button = self.button("‹ Back", self.app.show_lists)
        self.where = kit.tag(kit.text(""), "muted")

        self.username = kit.text("", columns=kit.ROW_COLUMNS)
        self.copy_username = self.button("Copy", lambda: self.on_copy("username"))
        self.username_row = kit.row(self.username, self.copy_username)

        self.password = kit.text(f"Password: {kit.MASK}", columns=kit.ROW_COLUMNS)
        self.reveal_button = self.button("Reveal", self.on_reveal)
        self.copy_password = self.button("Copy", lambda: self.on_copy("password"))
        self.password_row = kit.row(
            self.password, self.reveal_button, self.copy_password
        )

        self.otp_code = kit.text("", columns=kit.ROW_COLUMNS, font_weight="bold")
        self.otp_left = kit.tag(kit.text(""), "muted")
        self.otp_row = kit.row(self.otp_code, self.otp_left)

        self.url = kit.text("", columns=kit.ROW_COLUMNS)
        self.open_button = self.button("Open", self.on_open)
        self.url_row = kit.row(self.url, self.open_button)

        self.description = kit.text("")
        self.notes = kit.text("")
        self.details = kit.column(gap=2)
        self.fields = kit.column(gap=2)
        return kit.column(
            self.back_button,
            self.where,
            self.username_row,
            self.password_row,
            self.otp_row,
            self.url_row,
            self.description,
            self.details,
            self.fields,
            self.notes,
        )

    def shown(self) -> None:
        """Read the record (an audited view) and its one-time code."""
        self.run("Opening…", self.app.open_record(self), name="record")

    def hidden(self) -> None:
        """Stop the countdown and forget what was revealed."""
        self._stop_timer()
        self.hide_secrets()

    # --- showing ---------------------------------------------------------

    def show_view(self, view: RecordView) -> None:
        """Fill the screen from `view` (secrets shown only when it carries them)."""
        self.view = view
        summary = view.summary
        self.heading.text = summary.title or "(untitled)"
        self.where.text = f"In {view.list_path}" if view.list_path else ""
        self.username.text = f"Username: {summary.username}"
        kit.set_visible(self.username_row, bool(summary.username))
        kit.set_visible(self.password_row, summary.has_password)
        kit.set_visible(self.otp_row, summary.has_otp)
        self.url.text = f"URL: {summary.url}"
        kit.set_visible(self.url_row, bool(summary.url))
        kit.set_visible(self.open_button, openable(summary.url))
        self.description.text = summary.description
        kit.set_visible(self.description, bool(summary.description))
        self._fill_details(view)
        self._fill_secrets(view)
        self.app.repaint(self)

    def _fill_details(self, view: RecordView) -> None:
        summary = view.summary
        facts = [
            ("Domain", summary.domain),
            ("Host name", summary.host_name),
            ("Expires", summary.expires_at.isoformat() if summary.expires_at else ""),
        ]
        self.details.clear()
        self.details.add(*(kit.text(f"{k}: {v}") for k, v in facts if v))

    def _fill_secrets(self, view: RecordView) -> None:
        secrets = view.secrets
        revealed = secrets is not None
        self.password.text = f"Password: {secrets.password if secrets else kit.MASK}"
        self.reveal_button.text = "Hide" if revealed else "Reveal"
        if view.summary.has_notes:
            self.notes.text = f"Notes: {secrets.notes if secrets else kit.MASK}"
        else:
            self.notes.text = ""
        kit.set_visible(self.notes, view.summary.has_notes)
        rows = []
        for item in view.summary.fields:
            value = item.value
            if item.secret:
                value = (
                    secrets.secret_fields.get(item.name, "") if secrets else kit.MASK
                )
            rows.append(kit.text(f"{item.name}: {value}"))
        self.fields.clear()
        self.fields.add(*rows)

    def hide_secrets(self) -> None:
        """Mask every secret again and drop the revealed values."""
        if self.view is not None and self.view.secrets is not None:
            self.view = RecordView(self.view.summary, self.view.list_path)
            self._fill_secrets(self.view)

    # --- actions ---------------------------------------------------------

    def on_reveal(self) -> None:
        """Reveal every secret field (audited), or hide them again."""
        if self.view is not None and self.view.secrets is not None:
            self.hide_secrets()
            return
        self.run("Revealing…", self.app.reveal_record(self), name="reveal")

    def on_copy(self, field: str) -> None:
        """Copy the username or password; the clipboard is cleared later."""
        self.run("Copying…", self.app.copy_field(self, field), name="copy")

    def copied(self, field: str, seconds: int) -> None:
        """Say what was copied and when the clipboard will be cleared."""
        self.info(
            f"{field.capitalize()} copied",
            f"The clipboard is cleared in {seconds} seconds.",
        )

    def on_open(self) -> None:
        """Open the URL in the browser (web addresses only)."""
        if self.view is None or not openable(self.view.summary.url):
            return
        self.app.open_url(self.view.summary.url.strip())

    # --- one-time code ---------------------------------------------------

    def show_code(self, code: OtpCode) -> None:
        """Show `code` and start counting down its seconds."""
        self.code = code
        self.seconds_left = code.seconds_left
        digits = code.code
        half = len(digits) // 2
        self.otp_code.text = f"One-time code: {digits[:half]} {digits[half:]}"
        self._show_left()
        self._schedule_tick()

    def _show_left(self) -> None:
        self.otp_left.text = f" · {self.seconds_left} s left"

    def _schedule_tick(self) -> None:
        self._stop_timer()
        self._timer = self.app.loop.call_later(1, self.tick)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def tick(self) -> None:
        """One second passed: count down, and fetch the next code at zero."""
        self._timer = None
        if self.app.current is not self:
            return
        self.seconds_left -= 1
        if self.seconds_left > 0:
            self._show_left()
            self._schedule_tick()
            return
        self.otp_left.text = " · new code…"
        self.app.spawn(self.app.refresh_code(self), name="otp")
