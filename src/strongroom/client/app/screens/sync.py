"""Sync: the state of this phone's copy, its time to live, and Sync now.

`sync_line` is the one-line summary the lists screen shows as well.
"""

import datetime

import toga

from strongroom.client.app import kit
from strongroom.client.app.screens.base import Screen
from strongroom.client.models import DeviceStatus


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe_span(span: datetime.timedelta) -> str:
    """A duration as a person says it: "6 days 23 hours", "5 minutes"."""
    seconds = max(0, int(span.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _plural(days, "day") + (f" {_plural(hours, 'hour')}" if hours else "")
    if hours:
        return _plural(hours, "hour") + (
            f" {_plural(minutes, 'minute')}" if minutes else ""
        )
    if minutes:
        return _plural(minutes, "minute")
    return "less than a minute"


def describe_ago(when: datetime.datetime | None, now: datetime.datetime) -> str:
    """ "never", "just now", "5 minutes ago"."""
    if when is None:
        return "never"
    if now - when < datetime.timedelta(minutes=1):
        return "just now"
    return f"{describe_span(now - when)} ago"


def ttl_left(status: DeviceStatus, now: datetime.datetime) -> datetime.timedelta | None:
    """How long the offline copy stays readable, counted at `now` (None: no sync yet).

    Counted here rather than taken from the status, which was read a while
    ago: the screen must not claim time the copy no longer has.
    """
    if status.last_sync_at is None or status.policies is None:
        return status.ttl_left
    days = datetime.timedelta(days=status.policies.offline_ttl_days)
    return max(datetime.timedelta(0), status.last_sync_at + days - now)


def sync_line(status: DeviceStatus | None, now: datetime.datetime) -> str:
    """One line: when the last sync was and how long the offline copy stays valid."""
    if status is None or not status.paired:
        return ""
    last = f"Last sync: {describe_ago(status.last_sync_at, now)}"
    left = ttl_left(status, now)
    if left is None:
        return f"{last} · sync to see your lists"
    if left <= datetime.timedelta(0):
        return f"{last} · offline copy expired: sync now"
    return f"{last} · offline copy valid for {describe_span(left)}"


class SyncScreen(Screen):
    """The sync state in full, with Sync now."""

    title = "Sync"

    def build(self) -> toga.Widget:
        """One label per fact, then the buttons."""
        self.server = kit.text("")
        self.user = kit.text("")
        self.device_id = kit.text("")
        self.last_sync = kit.text("")
        self.ttl = kit.text("")
        self.queued = kit.text("")
        self.biometric = kit.text("")
        self.sync_button = self.button("Sync now", self.on_sync)
        self.back_button = self.button("‹ Back", self.app.show_lists)
        return kit.column(
            self.server,
            self.user,
            self.device_id,
            self.last_sync,
            self.ttl,
            self.queued,
            self.biometric,
            kit.row(self.sync_button, self.back_button),
        )

    def shown(self) -> None:
        """Show the latest status."""
        self.update(self.app.status)

    def update(self, status: DeviceStatus | None) -> None:
        """Fill the labels from `status`."""
        if status is None or not status.paired:
            return
        now = self.app.now()
        self.server.text = f"Server: {status.server_url}"
        self.user.text = f"Mobile username: {status.username}"
        self.device_id.text = f"This phone: {status.device_id}"
        self.last_sync.text = f"Last sync: {describe_ago(status.last_sync_at, now)}"
        left = ttl_left(status, now)
        if left is None:
            ttl = "not synced yet"
        elif left <= datetime.timedelta(0):
            ttl = "expired: sync to see your lists again"
        else:
            ttl = f"{describe_span(left)} left"
        days = status.policies.offline_ttl_days if status.policies else None
        self.ttl.text = f"Offline copy: {ttl}" + (
            f" (your organisation allows {_plural(days, 'day')})" if days else ""
        )
        self.queued.text = (
            f"Waiting to upload: {_plural(status.queued_events, 'audit event')}"
        )
        self.biometric.text = f"Biometric unlock: {'on' if status.biometric else 'off'}"

    def on_sync(self) -> None:
        """Sync now."""
        self.run("Syncing with your organisation's server…", self.app.sync(self))
