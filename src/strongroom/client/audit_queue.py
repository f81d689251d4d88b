"""Audit events queued on the device until a sync uploads them.

Two kinds of row, both encrypted:

- "k": events made while unlocked (unlock, view, reveal, copy, OTP view) are
  sealed with AES-256-GCM under the cache key, their associated data naming
  the event id, so they cannot be altered or swapped.
- "p": a failed unlock happens before the cache key is known. Such events are
  sealed (PyNaCl sealed box) to the queue's X25519 public key, kept in plain
  metadata; its private key is sealed under the cache key. Writing one needs
  no secret, reading one needs the cache key, so the queue stays unreadable
  without the master password. Because anyone can write to a public key, a
  "p" row is accepted only as a failed unlock: it cannot forge a reveal.

Events leave the queue only when a sync reply lists them in
`stored_event_ids`, in the same transaction that applies the reply, so a lost
reply means they are sent again and the server stores each once by its id.
"""

import datetime
import json
import logging
import sqlite3
import uuid

from pydantic import ValidationError

from strongroom.client.cache import CacheStore
from strongroom.crypto import sealed_box
from strongroom.crypto.errors import DecryptionError
from strongroom.protocol.schemas import DeviceEvent, DeviceEventType

log = logging.getLogger(__name__)

KIND_SEALED = "k"
KIND_PUBLIC = "p"


def new_event(
    event_type: DeviceEventType,
    occurred_at: datetime.datetime,
    *,
    record_id: str | None = None,
    list_id: str | None = None,
    field: str | None = None,
) -> DeviceEvent:
    """A new event with a random UUID, stamped with the device's time."""
    return DeviceEvent(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        occurred_at=occurred_at,
        record_id=record_id,
        list_id=list_id,
        field=field,
    )


def add_sealed(
    store: CacheStore, conn: sqlite3.Connection, key: bytes, event: DeviceEvent
) -> None:
    """Queue an event made while unlocked, inside the caller's transaction."""
    blob = store.seal_json(
        key, event.model_dump(mode="json"), store.aad("events", event.event_id)
    )
    conn.execute(
        "INSERT INTO events (id, kind, blob) VALUES (?, ?, ?)",
        (event.event_id, KIND_SEALED, blob),
    )


def add_public(
    store: CacheStore, conn: sqlite3.Connection, public_key: bytes, event: DeviceEvent
) -> None:
    """Queue an event made while locked (a failed unlock), sealed to the queue key."""
    blob = sealed_box.seal_to(public_key, event.model_dump_json().encode())
    conn.execute(
        "INSERT INTO events (id, kind, blob) VALUES (?, ?, ?)",
        (event.event_id, KIND_PUBLIC, blob),
    )


def pending(
    store: CacheStore, key: bytes, queue_private_key: bytes, limit: int
) -> list[DeviceEvent]:
    """The oldest `limit` queued events, opened; unreadable rows are skipped."""
    events: list[DeviceEvent] = []
    for event_id, kind, blob in store.event_rows(limit):
        event = _open(store, key, queue_private_key, event_id, kind, blob)
        if event is not None:
            events.append(event)
    return events


def _open(
    store: CacheStore,
    key: bytes,
    queue_private_key: bytes,
    event_id: str,
    kind: str,
    blob: bytes,
) -> DeviceEvent | None:
    try:
        if kind == KIND_SEALED:
            data = store.open_json(key, blob, store.aad("events", event_id))
            event = DeviceEvent.model_validate(data)
        else:
            raw = sealed_box.unseal(queue_private_key, blob)
            event = DeviceEvent.model_validate(json.loads(raw))
            # Anyone may seal to the public key: accept only what a locked
            # device can honestly produce.
            if event.event_type is not DeviceEventType.UNLOCK_FAILED:
                raise ValueError("a public-key event must be a failed unlock")
    except (DecryptionError, ValidationError, ValueError) as exc:
        log.warning("queued_event_unreadable event_id=%s error=%s", event_id, exc)
        return None
    if event.event_id != event_id:
        log.warning("queued_event_mismatch event_id=%s", event_id)
        return None
    return event


def unreadable_ids(
    store: CacheStore, key: bytes, queue_private_key: bytes, limit: int
) -> list[str]:
    """Ids of queued rows that cannot be opened (forged or damaged), to drop them."""
    return [
        event_id
        for event_id, kind, blob in store.event_rows(limit)
        if _open(store, key, queue_private_key, event_id, kind, blob) is None
    ]


def drop(conn: sqlite3.Connection, event_ids: list[str]) -> int:
    """Remove acknowledged events inside the caller's transaction."""
    removed = 0
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        cursor = conn.execute(
            f"DELETE FROM events WHERE id IN ({marks})",  # noqa: S608 - only marks
            chunk,
        )
        removed += cursor.rowcount
    return removed
