"""The offline cache: one SQLite file per profile, every secret sealed.

Layout (schema version 1):

    meta(key, value)          plaintext JSON, never a secret: what `status`
                              shows before unlock, the KDF parameters, the
                              failed-unlock count, the audit queue's public key
    wrapped_keys(kind, blob)  the cache key wrapped by the master-password key
                              ("password") and by the keystore key ("biometric")
    sealed(name, blob)        device state (credential, cursor, private keys,
                              policies, times) and the search index (see
                              search_index), sealed under the cache key
    lists(id, blob)           one sealed blob per list
    records(id, summary, secrets)
                              two sealed blobs per record: what search needs,
                              and the secret fields, so a reveal opens one
    events(seq, id, kind, blob)
                              queued audit events (see audit_queue)
    sessions(id, wrapped, ...)
                              cache key wrapped by session tokens (see device)

Every blob is AES-256-GCM (strongroom.crypto.aead) whose associated data
names the profile, the table and the row, so a blob moved to another row, or
copied from another device's cache, fails to open.

Every change happens in one `BEGIN IMMEDIATE` transaction; SQLite in WAL mode
with `synchronous=FULL` then guarantees that a process killed at any point
leaves either the old or the new state.

A sync spans more than a transaction (request, reply, commit), so syncs of
one profile also take `sync_lock`, a lock file beside the cache.
"""

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from strongroom.client.errors import CacheCorrupt, ProfileNotWritable, SyncInProgress
from strongroom.crypto import aead
from strongroom.crypto.errors import DecryptionError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SYNC_LOCK_NAME = "sync.lock"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE wrapped_keys (kind TEXT PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE sealed (name TEXT PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE lists (id TEXT PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE records (
    id TEXT PRIMARY KEY, summary BLOB NOT NULL, secrets BLOB NOT NULL
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    blob BLOB NOT NULL
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    wrapped BLOB NOT NULL,
    method TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT NOT NULL
);
"""

_TABLES = ("meta", "wrapped_keys", "sealed", "lists", "records", "events", "sessions")


def damaged(path: Path, why: str) -> CacheCorrupt:
    return CacheCorrupt(
        f"the offline copy at {path} is damaged ({why})",
        hint="run `strongroom-mobile logout --force` and pair again; the server "
        "still holds everything",
    )


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: this module issues BEGIN/COMMIT itself, so a
    # transaction is exactly what the code says, never what the driver guesses.
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA busy_timeout=10000")
    # FULL makes a committed sync durable before the credential it carries is
    # used: a lost commit would make the next sync present a rotated credential.
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class CacheStore:
    """An open cache file: raw rows, transactions, and sealing under a key.

    Callers hold the cache key; this class never stores it.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, profile_id: str) -> None:
        self.path = path
        self.conn = conn
        self.profile_id = profile_id

    # --- opening ---------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        meta: dict[str, Any],
        populate: Callable[["CacheStore", sqlite3.Connection], None],
    ) -> "CacheStore":
        """Create a new cache file with `meta` (must include `profile_id`).

        The file is built under a temporary name, `populate` writes the rest
        (keys, state) in the same transaction, and only then is the file
        renamed into place: a crash during pairing never leaves a half-made
        cache behind.
        """
        tmp = path.with_name(f".{path.name}.new")
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
        try:
            conn = _connect(tmp)
            os.chmod(tmp, 0o600)
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
            draft = cls(tmp, conn, str(meta["profile_id"]))
            with _tx(conn):
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("schema_version", json.dumps(SCHEMA_VERSION)),
                        *((k, json.dumps(v)) for k, v in meta.items()),
                    ],
                )
                populate(draft, conn)
            conn.close()
            os.replace(tmp, path)
        except (OSError, sqlite3.Error) as exc:
            tmp.unlink(missing_ok=True)
            why = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise ProfileNotWritable(
                f"cannot write the offline copy in {path.parent} ({why})",
                hint="choose a writable --profile directory",
            ) from exc
        store = cls.open(path)
        # WAL: readers never block the writer, and a killed writer leaves the
        # main file untouched until a checkpoint of committed pages.
        store.conn.execute("PRAGMA journal_mode=WAL")
        return store

    @classmethod
    def open(cls, path: Path) -> "CacheStore":
        """Open an existing cache, refusing one that is damaged or not a cache."""
        if not os.access(path.parent, os.W_OK):
            raise ProfileNotWritable(
                f"the profile directory {path.parent} is not writable",
                hint="fix its permissions or choose another --profile",
            )
        try:
            conn = _connect(path)
        except sqlite3.Error as exc:
            raise damaged(path, str(exc)) from exc
        try:
            # quick_check reads every page, so a truncated file or a torn
            # write is caught here rather than halfway through a command.
            check = conn.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise damaged(path, "its pages fail SQLite's integrity check")
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master")
                if row[0] in _TABLES
            }
            if tables != set(_TABLES):
                raise damaged(path, "it is not a Strongroom cache")
            rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            version = json.loads(rows.get("schema_version", "null"))
            profile_id = json.loads(rows.get("profile_id", "null"))
        except sqlite3.Error as exc:
            conn.close()
            if "readonly" in str(exc) or "unable to open" in str(exc):
                raise ProfileNotWritable(
                    f"the offline copy in {path.parent} cannot be opened ({exc})",
                    hint="fix the profile directory's permissions",
                ) from exc
            raise damaged(path, str(exc)) from exc
        except CacheCorrupt:
            conn.close()
            raise
        except ValueError as exc:
            conn.close()
            raise damaged(path, "its metadata is not readable") from exc
        if version != SCHEMA_VERSION or not isinstance(profile_id, str):
            conn.close()
            raise damaged(path, f"unknown cache format {version!r}")
        return cls(path, conn, profile_id)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()

    # --- transactions ----------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        try:
            with _tx(self.conn):
                yield self.conn
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
                raise ProfileNotWritable(
                    f"the offline copy in {self.path.parent} is read-only",
                    hint="fix the profile directory's permissions",
                ) from exc
            raise damaged(self.path, str(exc)) from exc

    # --- plaintext metadata ---------------------------------------------

    def meta(self) -> dict[str, Any]:
        """Every metadata value, decoded."""
        rows = self._query("SELECT key, value FROM meta")
        try:
            return {key: json.loads(value) for key, value in rows}
        except (TypeError, ValueError) as exc:
            raise damaged(self.path, "its metadata is not readable") from exc

    def set_meta(self, conn: sqlite3.Connection, **values: Any) -> None:
        """Write metadata values inside the caller's transaction."""
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(key, json.dumps(value)) for key, value in values.items()],
        )

    # --- sealing ---------------------------------------------------------

    def aad(self, table: str, row: str, part: str = "") -> bytes:
        """Associated data binding a blob to this profile, table, row and part."""
        return f"strongroom-cache/v1/{self.profile_id}/{table}/{row}/{part}".encode()

    def seal_json(self, key: bytes, value: Any, aad: bytes) -> bytes:
        """Seal a JSON value under `key`."""
        data = json.dumps(value, separators=(",", ":")).encode()
        return aead.seal(key, data, aad)

    def open_json(self, key: bytes, blob: bytes, aad: bytes) -> Any:
        """Open a JSON value; a blob that fails authentication means tampering."""
        try:
            return json.loads(aead.open_sealed(key, bytes(blob), aad))
        except DecryptionError as exc:
            raise damaged(self.path, "a sealed entry fails authentication") from exc

    # --- reads -----------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, str(exc)) from exc

    def wrapped_key(self, kind: str) -> bytes | None:
        """The cache key wrapped for `kind` ("password", "biometric"), if any."""
        rows = self._query("SELECT blob FROM wrapped_keys WHERE kind = ?", (kind,))
        return bytes(rows[0][0]) if rows else None

    def sealed_blob(self, name: str) -> bytes | None:
        """A sealed state blob by name."""
        rows = self._query("SELECT blob FROM sealed WHERE name = ?", (name,))
        return bytes(rows[0][0]) if rows else None

    def list_rows(self) -> list[tuple[str, bytes]]:
        """Every (list id, sealed blob)."""
        return [
            (str(i), bytes(b)) for i, b in self._query("SELECT id, blob FROM lists")
        ]

    def summary_rows(self) -> list[tuple[str, bytes]]:
        """Every (record id, sealed summary)."""
        return [
            (str(i), bytes(b))
            for i, b in self._query("SELECT id, summary FROM records")
        ]

    def summary_row(self, record_id: str) -> bytes | None:
        """The sealed summary of one record."""
        rows = self._query("SELECT summary FROM records WHERE id = ?", (record_id,))
        return bytes(rows[0][0]) if rows else None

    def secrets_row(self, record_id: str) -> bytes | None:
        """The sealed secrets of one record."""
        rows = self._query("SELECT secrets FROM records WHERE id = ?", (record_id,))
        return bytes(rows[0][0]) if rows else None

    def record_count(self) -> int:
        """How many records the cache holds."""
        return int(self._query("SELECT count(*) FROM records")[0][0])

    def event_rows(self, limit: int) -> list[tuple[str, str, bytes]]:
        """The oldest `limit` queued events as (id, kind, blob)."""
        rows = self._query(
            "SELECT id, kind, blob FROM events ORDER BY seq LIMIT ?", (limit,)
        )
        return [(str(i), str(k), bytes(b)) for i, k, b in rows]

    def event_count(self) -> int:
        """How many audit events wait for upload."""
        return int(self._query("SELECT count(*) FROM events")[0][0])

    def session_row(self, session_id: str) -> tuple[bytes, str, str] | None:
        """(wrapped key, method, last used) of a session."""
        rows = self._query(
            "SELECT wrapped, method, last_used_at FROM sessions WHERE id = ?",
            (session_id,),
        )
        if not rows:
            return None
        wrapped, method, last_used = rows[0]
        return bytes(wrapped), str(method), str(last_used)


@contextlib.contextmanager
def _tx(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, so two commands writing at
    # once wait for each other instead of failing halfway.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextlib.contextmanager
def sync_lock(profile: Path, wait_seconds: float) -> Iterator[None]:
    """Hold the profile's sync lock, waiting up to `wait_seconds` for another sync.

    Each sync reply carries the next device credential, and the App Server
    honours only the one it issued last. Two syncs of one profile at once (two
    commands, or a command beside the app) could commit their replies in the
    other order, leaving a credential the server has retired: the next sync
    would be refused as a cloned device and the cache erased. So a sync, from
    reading the credential to committing the reply, runs alone.

    The lock is a write transaction on a small side file: SQLite's own file
    locking works on every platform the device runs on, waits with its busy
    timeout, and is released by the operating system if the process dies.
    """
    path = profile / SYNC_LOCK_NAME
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=wait_seconds)
    except sqlite3.Error as exc:
        raise ProfileNotWritable(
            f"cannot create the sync lock in {profile} ({exc})",
            hint="fix the profile directory's permissions",
        ) from exc
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise SyncInProgress(wait_seconds) from exc
            raise ProfileNotWritable(
                f"cannot take the sync lock in {profile} ({exc})",
                hint="fix the profile directory's permissions",
            ) from exc
        try:
            yield
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
    finally:
        conn.close()


def erase_files(path: Path) -> None:
    """Delete the cache file and its WAL and shared-memory files."""
    # Unlinking is enough: every blob is sealed, and the one wrapped key left
    # on flash pages still needs the master password through Argon2id.
    for victim in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        victim.unlink(missing_ok=True)
