"""The device's private state, sealed under the cache key in one row.

It holds what must stay secret (the device credential, private keys) and
what must not be forged by someone who can edit the cache file but does not
know the master password: the server URL and pin the device connects to, the
time of the last successful sync (the offline TTL runs from it), the
policies, and the time of the last master-password unlock. Plain copies of
the harmless parts live in `meta` for `status`, and are never trusted for a
decision.
"""

import base64
import datetime
import sqlite3
from dataclasses import dataclass, replace
from typing import Any

from strongroom.client.cache import CacheStore, damaged
from strongroom.protocol.schemas import Policies

STATE_ROW = "state"


def _time(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_time(value: Any) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(str(value)) if value else None


@dataclass(frozen=True)
class DeviceState:
    """Everything the device knows about its pairing, sealed."""

    server_url: str
    pin: str
    instance_id: str
    username: str
    device_id: str
    credential: str
    cursor: str | None
    box_private_key: bytes
    queue_private_key: bytes
    policies: Policies
    paired_at: datetime.datetime
    last_sync_at: datetime.datetime | None
    last_password_unlock_at: datetime.datetime
    last_seen_at: datetime.datetime

    def evolve(self, **changes: Any) -> "DeviceState":
        """A copy with `changes` applied."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The JSON that gets sealed."""
        return {
            "server_url": self.server_url,
            "pin": self.pin,
            "instance_id": self.instance_id,
            "username": self.username,
            "device_id": self.device_id,
            "credential": self.credential,
            "cursor": self.cursor,
            "box_private_key": base64.b64encode(self.box_private_key).decode(),
            "queue_private_key": base64.b64encode(self.queue_private_key).decode(),
            "policies": self.policies.model_dump(),
            "paired_at": _time(self.paired_at),
            "last_sync_at": _time(self.last_sync_at),
            "last_password_unlock_at": _time(self.last_password_unlock_at),
            "last_seen_at": _time(self.last_seen_at),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "DeviceState":
        """Rebuild the state from its sealed JSON."""
        paired = _parse_time(data["paired_at"])
        password = _parse_time(data["last_password_unlock_at"])
        seen = _parse_time(data["last_seen_at"])
        if paired is None or password is None or seen is None:
            raise ValueError("the device state lacks its times")
        return cls(
            server_url=str(data["server_url"]),
            pin=str(data["pin"]),
            instance_id=str(data["instance_id"]),
            username=str(data["username"]),
            device_id=str(data["device_id"]),
            credential=str(data["credential"]),
            cursor=data.get("cursor"),
            box_private_key=base64.b64decode(data["box_private_key"]),
            queue_private_key=base64.b64decode(data["queue_private_key"]),
            policies=Policies.model_validate(data["policies"]),
            paired_at=paired,
            last_sync_at=_parse_time(data.get("last_sync_at")),
            last_password_unlock_at=password,
            last_seen_at=seen,
        )


def load(store: CacheStore, key: bytes) -> DeviceState:
    """Open the sealed state; CacheCorrupt when it is missing or altered."""
    blob = store.sealed_blob(STATE_ROW)
    if blob is None:
        raise damaged(store.path, "the device state is missing")
    data = store.open_json(key, blob, store.aad("sealed", STATE_ROW))
    try:
        return DeviceState.from_json(data)
    except (KeyError, ValueError, TypeError) as exc:
        raise damaged(store.path, "the device state is unreadable") from exc


def save(
    store: CacheStore, conn: sqlite3.Connection, key: bytes, state: DeviceState
) -> None:
    """Seal and write the state, and its harmless plain mirror, in the caller's tx."""
    blob = store.seal_json(key, state.to_json(), store.aad("sealed", STATE_ROW))
    conn.execute(
        "INSERT INTO sealed (name, blob) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET blob = excluded.blob",
        (STATE_ROW, blob),
    )
    store.set_meta(
        conn,
        server_url=state.server_url,
        username=state.username,
        device_id=state.device_id,
        instance_id=state.instance_id,
        last_sync_at=_time(state.last_sync_at),
        policies=state.policies.model_dump(),
    )
