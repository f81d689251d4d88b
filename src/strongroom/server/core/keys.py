"""Instance keys, data keys and the encryption of secret fields at rest.

Secret fields are sealed with AES-256-GCM under a data key. Data keys live in
the database only wrapped (sealed) under an instance key, and the instance key
lives outside the database: in `instance.key` in the data directory, or in
`STRONGROOM_INSTANCE_KEY`. A dump of the database alone therefore reveals no
secret.

Each sealed value carries the id of its data key, and its associated data
names the row and field it belongs to, so ciphertexts cannot be swapped.
"""

import base64
import binascii
import fcntl
import hashlib
import json
import logging
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from strongroom.crypto import aead
from strongroom.crypto.errors import DecryptionError
from strongroom.server.core.db import new_id
from strongroom.server.core.errors import ConfigurationError, MissingInstanceKey
from strongroom.server.core.files import write_atomically
from strongroom.server.core.models import DataKey

log = logging.getLogger(__name__)

_BLOB_VERSION = b"\x01"
_ID_LEN = 36


def key_id_of(key: bytes) -> str:
    """Name a key by a short digest of it, so the name reveals nothing useful."""
    return hashlib.sha256(b"strongroom-key-id" + key).hexdigest()[:16]


@dataclass
class InstanceKeyring:
    """The instance keys this process can use; the current one wraps new data keys."""

    current_id: str
    keys: dict[str, bytes]
    path: Path | None = None

    @classmethod
    def generate(cls) -> "InstanceKeyring":
        """Make a keyring holding one new key."""
        key = aead.generate_key()
        return cls(current_id=key_id_of(key), keys={key_id_of(key): key})

    @classmethod
    def from_environment_value(cls, value: str) -> "InstanceKeyring":
        """Read the single base64 key given in STRONGROOM_INSTANCE_KEY."""
        key = _decode_key(value, "STRONGROOM_INSTANCE_KEY")
        return cls(current_id=key_id_of(key), keys={key_id_of(key): key})

    @classmethod
    def load(cls, path: Path) -> "InstanceKeyring":
        """Read a key file written by `save`, refusing one others may read."""
        if not path.exists():
            raise MissingInstanceKey(
                f"no instance key at {path}",
                hint="check --data-dir / STRONGROOM_DATA_DIR, restore instance.key "
                "from your backup, or set STRONGROOM_INSTANCE_KEY; for a brand-new "
                "instance run `strongroom init` in an empty directory",
            )
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            # A key anyone on the machine can read protects nothing.
            raise ConfigurationError(
                f"the instance key {path} is readable by other users",
                hint=f"run `chmod 600 {path}`",
            )
        try:
            data = json.loads(path.read_text("utf-8"))
            keys = {
                str(kid): _decode_key(str(value), str(path))
                for kid, value in data["keys"].items()
            }
            current = str(data["current"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"the instance key file {path} is damaged",
                hint="restore it from your backup; without it no secret can be read",
            ) from exc
        if current not in keys:
            raise ConfigurationError(f"the instance key file {path} names no key")
        return cls(current_id=current, keys=keys, path=path)

    def save(self, path: Path) -> None:
        """Write the keyring atomically with mode 0600."""
        body = {
            "version": 1,
            "current": self.current_id,
            "keys": {kid: base64.b64encode(k).decode() for kid, k in self.keys.items()},
        }
        write_atomically(path, json.dumps(body, indent=2).encode(), mode=0o600)
        self.path = path

    @property
    def current(self) -> bytes:
        """The key that wraps new data keys."""
        return self.keys[self.current_id]

    def get(self, key_id: str) -> bytes:
        """Return the key named `key_id`, re-reading the file once if unknown.

        A rotation in another process adds a key to the file; re-reading lets a
        running server follow it without a restart.
        """
        if key_id not in self.keys and self.path is not None:
            fresh = InstanceKeyring.load(self.path)
            self.keys.update(fresh.keys)
        if key_id not in self.keys:
            raise MissingInstanceKey(
                "a data key is wrapped by an instance key this server does not have",
                hint="use the instance.key of this installation (or its "
                "STRONGROOM_INSTANCE_KEY)",
            )
        return self.keys[key_id]


def _decode_key(value: str, where: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError(f"the instance key in {where} is not base64") from exc
    if len(key) != aead.KEY_BYTES:
        raise ConfigurationError(
            f"the instance key in {where} is {len(key)} bytes, not 32",
            hint="use the key `strongroom init` wrote",
        )
    return key


def load_keyring(key_file: Path, env_value: str | None) -> InstanceKeyring:
    """Load the instance keyring from the environment value or the key file."""
    if env_value:
        return InstanceKeyring.from_environment_value(env_value)
    return InstanceKeyring.load(key_file)


def _wrap_aad(data_key_id: str) -> bytes:
    return f"strongroom/v1/data-key/{data_key_id}".encode()


class FieldCipher:
    """Seals and opens secret fields; the one place that touches data keys."""

    def __init__(self, keyring: InstanceKeyring) -> None:
        self.keyring = keyring
        self._plain_keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _unwrap(self, row: DataKey) -> bytes:
        instance_key = self.keyring.get(row.instance_key_id)
        try:
            return aead.open_sealed(instance_key, row.wrapped, _wrap_aad(row.id))
        except DecryptionError as exc:
            raise MissingInstanceKey(
                "the instance key does not open this database's data keys",
                hint="use the instance.key that belongs to this database",
            ) from exc

    def _data_key(self, session: Session, data_key_id: str) -> bytes:
        with self._lock:
            cached = self._plain_keys.get(data_key_id)
        if cached is not None:
            return cached
        row = session.get(DataKey, data_key_id)
        if row is None:
            raise DecryptionError("the data key of this value is gone")
        key = self._unwrap(row)
        with self._lock:
            self._plain_keys[data_key_id] = key
        return key

    def _active_key(self, session: Session) -> tuple[str, bytes]:
        row = session.scalars(
            select(DataKey).where(DataKey.active.is_(True)).order_by(DataKey.created_at)
        ).first()
        if row is None:
            row = create_data_key(session, self.keyring)
        return row.id, self._data_key(session, row.id)

    def seal(self, session: Session, plaintext: str, *, aad: str) -> bytes:
        """Encrypt `plaintext` for storage, bound to `aad` (row and field)."""
        key_id, key = self._active_key(session)
        sealed = aead.seal(key, plaintext.encode("utf-8"), aad.encode())
        return _BLOB_VERSION + key_id.encode("ascii") + sealed

    def open(self, session: Session, blob: bytes, *, aad: str) -> str:
        """Decrypt a value sealed by `seal`; DecryptionError if moved or altered."""
        if len(blob) <= 1 + _ID_LEN or blob[:1] != _BLOB_VERSION:
            raise DecryptionError("stored value is not a sealed field")
        key_id = blob[1 : 1 + _ID_LEN].decode("ascii", errors="replace")
        key = self._data_key(session, key_id)
        return aead.open_sealed(key, blob[1 + _ID_LEN :], aad.encode()).decode("utf-8")


def create_data_key(session: Session, keyring: InstanceKeyring) -> DataKey:
    """Make a new active data key, wrapped under the current instance key."""
    row = DataKey(wrapped=b"", instance_key_id=keyring.current_id)
    row.id = new_id()
    row.wrapped = aead.seal(keyring.current, aead.generate_key(), _wrap_aad(row.id))
    session.add(row)
    session.flush()
    log.info("data_key_created data_key_id=%s", row.id)
    return row


@contextmanager
def rotation_lock(key_file: Path) -> Iterator[None]:
    """Hold the instance key file's rotation lock, or refuse at once.

    Two rotations at the same time could each write the key file from their
    own copy: one would drop the key the other re-wrapped every data key
    under, and no secret could be read again.
    """
    lock_path = key_file.with_name(key_file.name + ".lock")
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigurationError(
                "another `strongroom keys rotate` is running on this data directory",
                hint="wait for it to finish, then check `strongroom keys status`",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def rewrap_data_keys(
    session: Session, old: InstanceKeyring, new_key_id: str, new_key: bytes
) -> int:
    """Re-wrap every data key under `new_key`; return how many were re-wrapped."""
    count = 0
    for row in session.scalars(select(DataKey)).all():
        plain = aead.open_sealed(
            old.get(row.instance_key_id), row.wrapped, _wrap_aad(row.id)
        )
        session.execute(
            update(DataKey)
            .where(DataKey.id == row.id)
            .values(
                wrapped=aead.seal(new_key, plain, _wrap_aad(row.id)),
                instance_key_id=new_key_id,
            )
        )
        count += 1
    return count
