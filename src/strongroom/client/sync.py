"""Applying a sync reply to the cache, all of it in one transaction.

The reply is decoded and every sealed box opened *before* the transaction
starts, so a reply that turns out to be garbage changes nothing. Then the
records, lists, cursor, rotated credential, policies and the acknowledgement
of uploaded audit events are written together: a process killed at any point
leaves the previous cache, cursor and credential, and the next sync repairs
it (the App Server accepts the previous credential while its reply is
unacknowledged).
"""

import base64
import binascii
import datetime
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pydantic import ValidationError

from strongroom.client import audit_queue, search_index
from strongroom.client import state as device_state
from strongroom.client.cache import CacheStore, damaged
from strongroom.client.errors import ServerGarbage
from strongroom.client.models import (
    FieldInfo,
    ListInfo,
    RecordSecrets,
    RecordSummary,
    SyncSummary,
)
from strongroom.client.state import DeviceState
from strongroom.crypto import sealed_box
from strongroom.crypto.errors import DecryptionError
from strongroom.protocol.schemas import (
    ListPayload,
    RecordPayload,
    SealedSecrets,
    SyncResponse,
)

log = logging.getLogger(__name__)

# Opening sealed boxes is one X25519 operation each; libsodium releases the
# GIL, so a first sync of thousands of records uses both cores.
_PARALLEL_FROM = 256
_WORKERS = 2


@dataclass(frozen=True)
class DecodedRecord:
    """A record from a reply, its secrets opened."""

    summary: RecordSummary
    secrets: RecordSecrets


def _summary(payload: RecordPayload, secrets: SealedSecrets) -> RecordSummary:
    return RecordSummary(
        id=payload.id,
        list_id=payload.list_id,
        version=payload.version,
        title=payload.title,
        username=payload.username,
        url=payload.url,
        description=payload.description,
        domain=payload.domain,
        host_name=payload.host_name,
        expires_at=payload.expires_at,
        updated_at=payload.updated_at,
        fields=tuple(
            FieldInfo(f.name, "" if f.secret else f.value, f.secret)
            for f in payload.fields
        ),
        has_password=bool(secrets.password),
        has_notes=bool(secrets.notes),
        has_otp=bool(secrets.otp_secret),
    )


def decode_record(
    payload: RecordPayload, unsealer: sealed_box.Unsealer, url: str
) -> DecodedRecord:
    """Open one record's sealed secrets; ServerGarbage when they do not fit."""
    try:
        blob = base64.b64decode(payload.sealed, validate=True)
        secrets = SealedSecrets.model_validate_json(unsealer.unseal(blob))
    except (binascii.Error, ValueError, DecryptionError, ValidationError) as exc:
        raise ServerGarbage(url, "a record's secrets cannot be opened") from exc
    # The sealed part names its record: a box copied onto another record
    # (by a buggy or hostile intermediary) is refused, not shown.
    if secrets.record_id != payload.id:
        raise ServerGarbage(url, "a record's secrets belong to another record")
    return DecodedRecord(
        summary=_summary(payload, secrets),
        secrets=RecordSecrets(
            password=secrets.password,
            notes=secrets.notes,
            otp_secret=secrets.otp_secret,
            secret_fields=dict(secrets.secret_fields),
        ),
    )


def decode_upserts(
    reply: SyncResponse, box_private_key: bytes, url: str
) -> list[DecodedRecord]:
    """Open every upserted record of a reply, in parallel when there are many."""
    payloads = reply.upserts

    def decode_all(chunk: list[RecordPayload]) -> list[DecodedRecord]:
        unsealer = sealed_box.Unsealer(box_private_key)
        return [decode_record(p, unsealer, url) for p in chunk]

    if len(payloads) < _PARALLEL_FROM:
        return decode_all(payloads)
    # One slice per worker: per-record tasks would cost more in hand-offs
    # than the X25519 operation they wrap.
    size = -(-len(payloads) // _WORKERS)
    slices = [payloads[i : i + size] for i in range(0, len(payloads), size)]
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        return [record for part in pool.map(decode_all, slices) for record in part]


def _record_row(
    store: CacheStore, key: bytes, record: DecodedRecord
) -> tuple[str, bytes, bytes]:
    rid = record.summary.id
    return (
        rid,
        store.seal_json(
            key, record.summary.to_json(), store.aad("records", rid, "summary")
        ),
        store.seal_json(
            key, record.secrets.to_json(), store.aad("records", rid, "secrets")
        ),
    )


def write_records(
    store: CacheStore,
    conn: sqlite3.Connection,
    key: bytes,
    records: list[DecodedRecord],
) -> None:
    """Seal and upsert records inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO records (id, summary, secrets) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET summary = excluded.summary, "
        "secrets = excluded.secrets",
        [_record_row(store, key, record) for record in records],
    )


def write_lists(
    store: CacheStore, conn: sqlite3.Connection, key: bytes, lists: list[ListPayload]
) -> None:
    """Replace the list table inside the caller's transaction."""
    conn.execute("DELETE FROM lists")
    conn.executemany(
        "INSERT INTO lists (id, blob) VALUES (?, ?)",
        [
            (
                plist.id,
                store.seal_json(
                    key,
                    {
                        "id": plist.id,
                        "name": plist.name,
                        "folder_path": list(plist.folder_path),
                        "description": plist.description,
                    },
                    store.aad("lists", plist.id),
                ),
            )
            for plist in lists
        ],
    )


def read_lists(store: CacheStore, key: bytes) -> list[ListInfo]:
    """Every list in the cache, opened."""
    out = []
    for list_id, blob in store.list_rows():
        data = store.open_json(key, blob, store.aad("lists", list_id))
        out.append(
            ListInfo(
                id=str(data["id"]),
                name=str(data["name"]),
                folder_path=tuple(str(p) for p in data["folder_path"]),
                description=str(data.get("description", "")),
            )
        )
    return out


def apply_reply(
    store: CacheStore,
    key: bytes,
    current: DeviceState,
    reply: SyncResponse,
    decoded: list[DecodedRecord],
    now: datetime.datetime,
) -> tuple[DeviceState, SyncSummary]:
    """Write a decoded reply, the new cursor and credential, in one transaction.

    `current` is the state the request was made from. The sealed state is read
    again inside the transaction, so what another process wrote meanwhile (an
    unlock's time, say) is kept; only a sync changes cursor and credential,
    and syncs of one profile run one at a time (`cache.sync_lock`).
    """
    with store.transaction() as conn:
        stored = device_state.load(store, key)
        if stored.credential != current.credential:
            # Cannot happen under the sync lock; refuse rather than guess.
            raise damaged(store.path, "another sync changed the credential")
        new_state = stored.evolve(
            cursor=reply.cursor,
            credential=reply.device_credential,
            policies=reply.policies,
            last_sync_at=now,
            last_seen_at=max(now, stored.last_seen_at),
        )
        removed = 0
        if reply.full:
            removed = conn.execute("DELETE FROM records").rowcount
        for start in range(0, len(reply.removed_record_ids), 500):
            chunk = reply.removed_record_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            removed += conn.execute(
                f"DELETE FROM records WHERE id IN ({marks})",  # noqa: S608 - marks
                chunk,
            ).rowcount
        write_records(store, conn, key, decoded)
        if reply.lists is not None:
            write_lists(store, conn, key, reply.lists)
        search_index.update(
            store,
            conn,
            key,
            full=reply.full,
            removed_ids=list(reply.removed_record_ids),
            upserted=[record.summary for record in decoded],
        )
        uploaded = audit_queue.drop(conn, list(reply.stored_event_ids))
        device_state.save(store, conn, key, new_state)
        count = int(conn.execute("SELECT count(*) FROM records").fetchone()[0])
    log.info(
        "sync_applied full=%s upserts=%d removed=%d events=%d",
        reply.full,
        len(decoded),
        removed,
        uploaded,
    )
    return new_state, SyncSummary(
        full=reply.full,
        upserted=len(decoded),
        removed=removed,
        records=count,
        events_uploaded=uploaded,
        server_time=reply.server_time,
    )
