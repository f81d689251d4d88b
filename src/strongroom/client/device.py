"""The device core: `Device` (locked) and `Vault` (unlocked), the API an app uses.

    device = Device(load_client_settings(home=profile))
    device.pair(Device.read_qr_image(png), master_password)
    vault = device.unlock(master_password)       # or unlock_biometric(), resume(token)
    vault.sync(); vault.search("bank"); vault.reveal(record_id); vault.lock()

Keys. A random 256-bit cache key seals everything in the cache (see cache.py).
It is stored only wrapped: by Argon2id of the master password (parameters
beside it), by a random key in the platform keystore when biometric unlock is
on, and by session tokens while a session is open.

Session tokens. `Vault.start_session()` makes a random 256-bit secret S and
a session id, stores AES-GCM(S, cache key) under that id, and returns
`srm1.<id>.<S>` for STRONGROOM_MOBILE_SESSION. The cache file alone holds
only the wrapped key (useless without S), the token alone holds no data, and
`lock` or idling out deletes the row, after which the token opens nothing.

Limits. Failed master-password unlocks are counted in plain metadata (they
happen before any key is known) and at the policy's limit the cache is
erased. The offline time to live, the re-entry interval and the biometric
permission are read from the sealed state, so editing the file cannot extend
them. A device told it is revoked or must be wiped erases its cache at once.
"""

import base64
import binascii
import contextlib
import datetime
import json
import logging
import os
import secrets
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from strongroom.client import audit_queue, search_index
from strongroom.client import state as device_state
from strongroom.client import sync as sync_engine
from strongroom.client.cache import CacheStore, damaged, erase_files, sync_lock
from strongroom.client.clipboard import Clipboard, system_clipboard
from strongroom.client.config import ClientSettings
from strongroom.client.errors import (
    AlreadyPaired,
    BadPairingCode,
    BiometricUnavailable,
    CacheErased,
    CacheExpired,
    ClientError,
    DeviceRevoked,
    MasterPasswordRequired,
    NoOtpSecret,
    NotPaired,
    PinMismatch,
    ProfileNotWritable,
    RecordNotFound,
    ServerError,
    ServerGarbage,
    ServerRefused,
    ServerTimeout,
    ServerUnreachable,
    SessionInvalid,
    UsageError,
    WipeRequested,
    WrongMasterPassword,
)
from strongroom.client.keystore import KeyringKeystore, Keystore
from strongroom.client.models import (
    DeviceStatus,
    ListInfo,
    OtpCode,
    RecordSecrets,
    RecordSummary,
    RecordView,
    SyncSummary,
)
from strongroom.client.otp import current_code
from strongroom.client.state import DeviceState
from strongroom.client.transport import (
    Connector,
    ConnectorFactory,
    http_connector_factory,
)
from strongroom.crypto import aead, sealed_box
from strongroom.crypto.errors import DecryptionError
from strongroom.crypto.passwords import KdfParams, derive_key
from strongroom.protocol import PROTOCOL_VERSION
from strongroom.protocol.errors import ErrorCode
from strongroom.protocol.qr import NotAPairingCode, PairingPayload
from strongroom.protocol.schemas import (
    MAX_AUDIT_EVENTS,
    DeviceEvent,
    DeviceEventType,
    LogoutRequest,
    PairRequest,
    Policies,
    SyncRequest,
    SyncResponse,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime.datetime]

TOKEN_PREFIX = "srm1"  # noqa: S105 - a format marker, not a secret
INSTALLATION_FILE = "installation-id"
# How far the clock may go back before the cache counts as expired: a phone
# whose clock is turned back must not stretch the offline time to live.
CLOCK_SLACK = datetime.timedelta(minutes=10)
MAX_SYNC_ROUNDS = 20
COPY_FIELDS = ("password", "username")
# A public-key pin is the SHA-256 of the certificate's SubjectPublicKeyInfo.
PIN_BYTES = 32
# A wrapped cache key: the GCM nonce, the 256-bit key and the 16-byte tag.
WRAPPED_KEY_BYTES = aead.NONCE_BYTES + aead.KEY_BYTES + 16


def utcnow() -> datetime.datetime:
    """The current time, aware, in UTC."""
    return datetime.datetime.now(datetime.UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


PAIRING_UNREACHABLE_HINT = (
    "check that this device can reach the App Server and that it runs; "
    "nothing was paired, so the same QR code works once it answers"
)


class Device:
    """A device profile, locked: pair it, unlock it, ask its status, lock it."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        keystore: Keystore | Callable[[], Keystore] | None = None,
        clipboard: Clipboard | Callable[[], Clipboard] | None = None,
        connector_factory: ConnectorFactory | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._keystore = keystore
        self._clipboard = clipboard
        self.connector_factory = connector_factory or http_connector_factory(
            settings.connect_timeout_seconds, settings.read_timeout_seconds
        )

    # --- collaborators ---------------------------------------------------

    @property
    def profile(self) -> Path:
        """The profile directory."""
        return self.settings.home

    def keystore(self) -> Keystore:
        """The platform keystore (chosen on first use; BiometricUnavailable if none)."""
        if isinstance(self._keystore, Keystore):
            return self._keystore
        if self._keystore is not None:
            self._keystore = self._keystore()
        else:
            self._keystore = KeyringKeystore.choose(self.settings.keyring_backend)
        return self._keystore

    def clipboard(self) -> Clipboard:
        """The clipboard (ClipboardUnavailable where there is none)."""
        if isinstance(self._clipboard, Clipboard):
            return self._clipboard
        if self._clipboard is not None:
            self._clipboard = self._clipboard()
        else:
            self._clipboard = system_clipboard(self.settings.clipboard)
        return self._clipboard

    # --- reading a QR code ---------------------------------------------

    @staticmethod
    def parse_pairing(text: str) -> PairingPayload:
        """Parse a pairing URI; BadPairingCode when it is not one of ours."""
        try:
            payload = PairingPayload.from_uri(text)
        except NotAPairingCode as exc:
            raise BadPairingCode(
                str(exc), hint="scan the QR code from Strongroom's Preferences page"
            ) from exc
        check_pairing(payload)
        return payload

    @staticmethod
    def read_qr_image(path: Path) -> PairingPayload:
        """Decode the QR code in an image file (zxing-cpp) into a pairing payload."""
        import zxingcpp
        from PIL import Image, UnidentifiedImageError

        # A mistyped path is not a bad picture: say which, so the fix is clear.
        if not path.exists():
            raise BadPairingCode(
                f"there is no file {path}",
                hint="check the path of the QR code picture",
            )
        if path.is_dir():
            raise BadPairingCode(
                f"{path} is a folder, not a picture",
                hint="give the path of the QR code's PNG or JPEG file",
            )
        try:
            with Image.open(path) as image:
                image.load()
                codes = zxingcpp.read_barcodes(image)
        except Image.DecompressionBombError as exc:
            # Pillow refuses pictures so large that decoding them could
            # exhaust memory; no QR code needs one.
            raise BadPairingCode(
                f"{path} is too large a picture ({exc.args[0].split(' exceeds')[0]})",
                hint="give a smaller picture of the QR code",
            ) from exc
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise BadPairingCode(
                f"{path} cannot be read as a picture",
                hint="give a PNG or JPEG of the QR code",
            ) from exc
        texts = [code.text for code in codes if code.text]
        if not texts:
            raise BadPairingCode(
                f"no QR code was found in {path}",
                hint="take a sharper picture of the whole code",
            )
        errors = []
        for text in texts:
            try:
                return Device.parse_pairing(text)
            except BadPairingCode as exc:
                errors.append(exc)
        raise errors[0]

    # --- files -----------------------------------------------------------

    def _ensure_writable_profile(self) -> None:
        # Probe by writing: permission bits lie to root and to read-only
        # mounts, and a failure must come before the server registers us.
        try:
            self.profile.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.NamedTemporaryFile(dir=self.profile, prefix=".probe-"):
                pass
        except OSError as exc:
            raise ProfileNotWritable(
                f"cannot write in the profile directory {self.profile} "
                f"({exc.strerror or type(exc).__name__})",
                hint="choose a writable directory with --profile or "
                "STRONGROOM_MOBILE_HOME",
            ) from exc

    def _installation_id(self) -> str:
        path = self.profile / INSTALLATION_FILE
        with contextlib.suppress(OSError, ValueError):
            text = path.read_text().strip()
            uuid.UUID(text)
            return text
        value = str(uuid.uuid4())
        _write_atomically(path, value.encode())
        return value

    def is_paired(self) -> bool:
        """Tell whether this profile holds a cache."""
        return self.settings.cache_file.exists()

    def _open(self) -> CacheStore:
        if not self.settings.cache_file.exists():
            note = self._erased_note()
            if note is not None:
                raise CacheErased(note)
            raise NotPaired()
        return CacheStore.open(self.settings.cache_file)

    def _erased_note(self) -> str | None:
        try:
            return str(json.loads(self.settings.erased_file.read_text())["reason"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def erase(self, reason: str, *, leave_note: bool = True) -> None:
        """Delete the cache (and biometric key); leave a note saying why."""
        profile_id = None
        with contextlib.suppress(ClientError):
            store = CacheStore.open(self.settings.cache_file)
            profile_id = store.profile_id
            store.close()
        erase_files(self.settings.cache_file)
        if leave_note:
            note = {"reason": reason, "at": self.clock().isoformat()}
            with contextlib.suppress(OSError):
                _write_atomically(self.settings.erased_file, json.dumps(note).encode())
        if profile_id is not None:
            # Best effort: a keystore that cannot be reached holds only a key
            # that wraps nothing any more.
            with contextlib.suppress(ClientError):
                self.keystore().delete(profile_id)
        log.warning("cache_erased profile=%s reason=%s", self.profile, reason)

    # --- status ----------------------------------------------------------

    def status(self) -> DeviceStatus:
        """What the device knows without unlocking (never a secret)."""
        if not self.settings.cache_file.exists():
            return DeviceStatus(
                paired=False,
                profile=str(self.profile),
                erased_reason=self._erased_note(),
            )
        store = CacheStore.open(self.settings.cache_file)
        try:
            meta = store.meta()
            policies = Policies.model_validate(meta["policies"])
            last_sync = meta.get("last_sync_at")
            last = datetime.datetime.fromisoformat(last_sync) if last_sync else None
            ttl_left = None
            if last is not None:
                expiry = last + datetime.timedelta(days=policies.offline_ttl_days)
                ttl_left = max(datetime.timedelta(0), expiry - self.clock())
            return DeviceStatus(
                paired=True,
                profile=str(self.profile),
                server_url=str(meta.get("server_url")),
                username=str(meta.get("username")),
                device_id=str(meta.get("device_id")),
                last_sync_at=last,
                ttl_left=ttl_left,
                queued_events=store.event_count(),
                biometric=store.wrapped_key("biometric") is not None,
                policies=policies,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise damaged(store.path, "its status is unreadable") from exc
        finally:
            store.close()

    # --- pairing ---------------------------------------------------------

    def pair(
        self,
        payload: PairingPayload,
        master_password: str,
        *,
        device_name: str = "",
        device_platform: str = "cli",
    ) -> "Vault":
        """Pair with the App Server of `payload`; return the (unlocked, empty) vault.

        Everything that can fail locally (a used profile, an unwritable
        directory, the key derivation) fails before the server is asked, so a
        refusal never leaves a registered device without a cache.
        """
        if self.settings.cache_file.exists():
            raise AlreadyPaired(
                f"the profile {self.profile} is already paired",
                hint="run `strongroom-mobile logout` first, or use another --profile",
            )
        if not master_password:
            raise UsageError("the master password is empty")
        check_pairing(payload)
        self._ensure_writable_profile()
        installation_id = self._installation_id()

        # Keys: the box pair receives sealed secrets from the server, the
        # queue pair lets a locked device encrypt failed-unlock events.
        box_private, box_public = sealed_box.generate_keypair()
        queue_private, queue_public = sealed_box.generate_keypair()
        cache_key = aead.generate_key()
        # KdfParams' defaults are RFC 9106's second option: 64 MiB, 3 passes.
        params = KdfParams(salt=secrets.token_bytes(16))
        password_key = derive_key(master_password, params)

        connector = self.connector_factory(payload.url, payload.pin)
        try:
            reply = connector.pair(
                PairRequest(
                    protocol_version=PROTOCOL_VERSION,
                    instance_id=payload.instance_id,
                    username=payload.username,
                    pairing_token=payload.token,
                    master_password=master_password,
                    installation_id=installation_id,
                    device_name=device_name[:200],
                    device_platform=device_platform[:50],
                    box_public_key=_b64(box_public),
                )
            )
        except PinMismatch as exc:
            # Not paired yet: the key that failed is the one the QR code names.
            raise PinMismatch(pairing=True) from exc
        except (ServerUnreachable, ServerTimeout) as exc:
            # Not paired yet: there is no offline copy to fall back on, so the
            # usual "your offline copy still works" would mislead.
            exc.hint = PAIRING_UNREACHABLE_HINT
            raise
        finally:
            connector.close()
        if reply.instance_id != payload.instance_id:
            raise ServerGarbage(payload.url, "it is not the server this QR code names")

        now = self.clock()
        state = DeviceState(
            server_url=payload.url,
            pin=payload.pin,
            instance_id=reply.instance_id,
            username=payload.username,
            device_id=reply.device_id,
            credential=reply.device_credential,
            cursor=None,
            box_private_key=box_private,
            queue_private_key=queue_private,
            policies=reply.policies,
            paired_at=now,
            last_sync_at=None,
            last_password_unlock_at=now,
            last_seen_at=now,
        )

        def populate(draft: CacheStore, conn: sqlite3.Connection) -> None:
            wrapped = aead.seal(password_key, cache_key, _wrap_aad(draft, "password"))
            conn.execute(
                "INSERT INTO wrapped_keys (kind, blob) VALUES (?, ?)",
                ("password", wrapped),
            )
            device_state.save(draft, conn, cache_key, state)

        store = CacheStore.create(
            self.settings.cache_file,
            {
                "profile_id": str(uuid.uuid4()),
                "kdf": params.to_dict(),
                "failed_unlocks": 0,
                "queue_public_key": _b64(queue_public),
                "user_display_name": reply.user_display_name,
            },
            populate,
        )
        with contextlib.suppress(OSError):
            self.settings.erased_file.unlink()
        log.info("device_paired device_id=%s", reply.device_id)
        return Vault(self, store, cache_key, state, method="password")

    # --- unlocking -------------------------------------------------------

    def check_intact(self) -> None:
        """Raise, before a password is asked for, what unlocking would find
        wrong without one: NotPaired, CacheErased, or CacheCorrupt when the
        copy is damaged so that no password could be checked against it."""
        store = self._open()
        try:
            _kdf_params(store)
            _password_key(store)
            if store.sealed_blob(device_state.STATE_ROW) is None:
                raise damaged(store.path, "the device state is missing")
        finally:
            store.close()

    def unlock(self, master_password: str) -> "Vault":
        """Unlock with the master password; failures count toward erasure."""
        store = self._open()
        try:
            params = _kdf_params(store)
            wrapped = _password_key(store)
            try:
                key = aead.open_sealed(
                    derive_key(master_password, params),
                    wrapped,
                    _wrap_aad(store, "password"),
                )
            except DecryptionError:
                raise self._failed_unlock(store) from None
            now = self.clock()
            with store.transaction() as conn:
                # Read inside the write transaction: a sync committing in
                # between must not have its new credential overwritten.
                state = device_state.load(store, key)
                state = state.evolve(
                    last_password_unlock_at=now,
                    last_seen_at=max(now, state.last_seen_at),
                )
                store.set_meta(conn, failed_unlocks=0)
                device_state.save(store, conn, key, state)
                audit_queue.add_sealed(
                    store,
                    conn,
                    key,
                    audit_queue.new_event(
                        DeviceEventType.UNLOCK, now, field="password"
                    ),
                )
            log.info("device_unlocked method=password")
            return Vault(self, store, key, state, method="password")
        except BaseException:
            store.close()
            raise

    def _failed_unlock(self, store: CacheStore) -> ClientError:
        """Count a failed unlock (erasing at the limit); return the error to raise."""
        event = audit_queue.new_event(
            DeviceEventType.UNLOCK_FAILED, self.clock(), field="password"
        )
        with store.transaction() as conn:
            # Counted inside the write transaction, so failures tried in
            # parallel cannot overwrite each other's count.
            meta = store.meta()
            try:
                failures = int(meta.get("failed_unlocks", 0)) + 1
                limit = Policies.model_validate(meta["policies"]).failed_unlock_limit
                public_key = base64.b64decode(meta["queue_public_key"], validate=True)
            except (KeyError, TypeError, ValueError) as exc:
                raise damaged(store.path, "its unlock metadata is unreadable") from exc
            store.set_meta(conn, failed_unlocks=failures)
            audit_queue.add_public(store, conn, public_key, event)
        log.warning("device_unlock_failed failures=%d limit=%d", failures, limit)
        if failures >= limit:
            store.close()
            reason = f"the master password was entered wrongly {failures} times"
            self.erase(reason)
            return CacheErased(reason)
        return WrongMasterPassword(limit - failures)

    def unlock_biometric(self) -> "Vault":
        """Unlock with the key held in the platform keystore (biometric unlock)."""
        store = self._open()
        try:
            wrapped = store.wrapped_key("biometric")
            if wrapped is None:
                raise BiometricUnavailable(
                    "biometric unlock is not turned on for this device",
                    hint="unlock with your master password, then run "
                    "`strongroom-mobile biometric on`",
                )
            secret = self.keystore().get(store.profile_id)
            if secret is None:
                raise BiometricUnavailable(
                    "the key store no longer holds this device's unlock key",
                    hint="use your master password, then turn biometrics on again",
                )
            try:
                key = aead.open_sealed(secret, wrapped, _wrap_aad(store, "biometric"))
            except DecryptionError:
                raise BiometricUnavailable(
                    "the key store's key does not open this device's cache",
                    hint="use your master password, then turn biometrics on again",
                ) from None
            self._check_second_factor_allowed(
                device_state.load(store, key), biometric=True
            )
            now = self.clock()
            with store.transaction() as conn:
                # Read again inside the write transaction (see `unlock`).
                state = device_state.load(store, key)
                state = state.evolve(last_seen_at=max(now, state.last_seen_at))
                device_state.save(store, conn, key, state)
                audit_queue.add_sealed(
                    store,
                    conn,
                    key,
                    audit_queue.new_event(
                        DeviceEventType.UNLOCK, now, field="biometric"
                    ),
                )
            log.info("device_unlocked method=biometric")
            return Vault(self, store, key, state, method="biometric")
        except BaseException:
            store.close()
            raise

    def _check_second_factor_allowed(
        self, state: DeviceState, *, biometric: bool
    ) -> None:
        # Read from the sealed state: a file edit cannot re-enable biometrics
        # or stretch the interval.
        if biometric and not state.policies.biometric_allowed:
            raise BiometricUnavailable(
                "your organisation does not allow biometric unlock",
                hint="unlock with your master password",
            )
        hours = state.policies.master_password_reentry_hours
        if self.clock() - state.last_password_unlock_at > datetime.timedelta(
            hours=hours
        ):
            raise MasterPasswordRequired(hours)

    def resume(self, token: str) -> "Vault":
        """Unlock from a session token that `unlock` printed."""
        session_id, secret = _parse_token(token)
        store = self._open()
        try:
            self._purge_idle_sessions(store)
            row = store.session_row(session_id)
            if row is None:
                raise SessionInvalid("has ended (locked, idle too long, or not ours)")
            wrapped, method, _last_used = row
            try:
                key = aead.open_sealed(
                    secret, wrapped, store.aad("sessions", session_id)
                )
            except DecryptionError:
                raise SessionInvalid("is not valid") from None
            state = device_state.load(store, key)
            self._check_second_factor_allowed(state, biometric=method == "biometric")
            with store.transaction() as conn:
                conn.execute(
                    "UPDATE sessions SET last_used_at = ? WHERE id = ?",
                    (self.clock().isoformat(), session_id),
                )
            return Vault(self, store, key, state, method="session")
        except BaseException:
            store.close()
            raise

    def _purge_idle_sessions(self, store: CacheStore) -> None:
        cutoff = self.clock() - datetime.timedelta(
            minutes=self.settings.session_idle_minutes
        )
        with store.transaction() as conn:
            conn.execute(
                "DELETE FROM sessions WHERE last_used_at < ?", (cutoff.isoformat(),)
            )

    def lock(self) -> int:
        """End every session of this profile; return how many were open."""
        if not self.settings.cache_file.exists():
            return 0
        store = CacheStore.open(self.settings.cache_file)
        try:
            with store.transaction() as conn:
                ended = conn.execute("DELETE FROM sessions").rowcount
        finally:
            store.close()
        log.info("device_locked sessions=%d", ended)
        return int(ended)


# Bounds on stored Argon2id parameters: a damaged or edited file must give a
# clear error, not a crash in libargon2 or a derivation that eats the memory.
_KDF_LIMITS = {"time_cost": (1, 64), "memory_kib": (8, 4 * 1024 * 1024)}


def _password_key(store: CacheStore) -> bytes:
    """The cache key wrapped under the master password; CacheCorrupt when it
    is missing or malformed (damage, not a wrong password: it must not count
    toward erasure)."""
    wrapped = store.wrapped_key("password")
    if wrapped is None:
        raise damaged(store.path, "the master-password key is missing")
    if len(wrapped) != WRAPPED_KEY_BYTES:
        raise damaged(store.path, "the master-password key is malformed")
    return wrapped


def _kdf_params(store: CacheStore) -> KdfParams:
    """The stored Argon2id parameters; CacheCorrupt when they cannot be used."""
    try:
        params = KdfParams.from_dict(store.meta()["kdf"])
    except (KeyError, TypeError, ValueError) as exc:
        raise damaged(store.path, "its key-derivation parameters are missing") from exc
    usable = len(params.salt) >= 8 and 1 <= params.parallelism <= 64
    for name, (low, high) in _KDF_LIMITS.items():
        usable = usable and low <= getattr(params, name) <= high
    if not usable or params.memory_kib < 8 * params.parallelism:
        raise damaged(store.path, "its key-derivation parameters are not usable")
    return params


def check_pairing(payload: PairingPayload) -> None:
    """Refuse a pairing payload whose address or pin cannot be what the QR meant.

    A pin that is not a SHA-256 would fail every handshake with a message
    about a foreign server; saying that the code itself is broken is true.
    """
    hint = "ask your administrator for a new QR code"
    parts = urlsplit(payload.url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port in (-1, 0):
        raise BadPairingCode(
            f"the pairing code's server address {payload.url!r} is not usable",
            hint=hint,
        )
    try:
        pin = base64.b64decode(payload.pin, validate=True)
    except (binascii.Error, ValueError):
        pin = b""
    if len(pin) != PIN_BYTES:
        raise BadPairingCode(
            "the pairing code's key pin is not a SHA-256 pin", hint=hint
        )


def _wrap_aad(store: CacheStore, kind: str) -> bytes:
    return store.aad("wrapped_keys", kind)


def _parse_token(token: str) -> tuple[str, bytes]:
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise SessionInvalid("is not a Strongroom session token")
    try:
        secret = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        uuid.UUID(parts[1])
    except (binascii.Error, ValueError):
        raise SessionInvalid("is not a Strongroom session token") from None
    if len(secret) != aead.KEY_BYTES:
        raise SessionInvalid("is not a Strongroom session token")
    return parts[1], secret


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Vault:
    """An unlocked device: read, copy, sync. Call `lock()` when done."""

    def __init__(
        self,
        device: Device,
        store: CacheStore,
        key: bytes,
        state: DeviceState,
        *,
        method: str,
    ) -> None:
        self.device = device
        self.store = store
        self._key: bytes | None = key
        self.state = state
        self.method = method
        self._summaries: dict[str, RecordSummary] | None = None
        self._lists: dict[str, ListInfo] | None = None
        self._haystacks: dict[str, str] | None = None

    # --- state -----------------------------------------------------------

    @property
    def key(self) -> bytes:
        """The cache key; UsageError once locked."""
        if self._key is None:
            raise UsageError("the vault is locked", hint="unlock it again")
        return self._key

    def lock(self) -> None:
        """Forget the cache key and close the cache file."""
        self._key = None
        self._summaries = self._lists = self._haystacks = None
        self.store.close()

    def __enter__(self) -> "Vault":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.lock()

    def _now(self) -> datetime.datetime:
        return self.device.clock()

    def expired(self) -> CacheExpired | None:
        """Why the cache may not be shown now, or None when it is fresh."""
        now = self._now()
        days = self.state.policies.offline_ttl_days
        if self.state.last_sync_at is None:
            return CacheExpired(days, "this device has not synced yet")
        if now + CLOCK_SLACK < self.state.last_seen_at:
            return CacheExpired(days, "the device clock went back in time")
        if now > self.state.last_sync_at + datetime.timedelta(days=days):
            return CacheExpired(days)
        return None

    def _require_fresh(self) -> None:
        # Past the time to live the cache shows nothing: an administrator's
        # revocation may be waiting on the server.
        problem = self.expired()
        if problem is not None:
            raise problem

    def _audit(self, event: DeviceEvent) -> None:
        with self.store.transaction() as conn:
            audit_queue.add_sealed(self.store, conn, self.key, event)

    # --- reading ---------------------------------------------------------

    def _load(self) -> tuple[dict[str, RecordSummary], dict[str, ListInfo]]:
        if self._summaries is None:
            key = self.key
            summaries = {}
            for record_id, blob in self.store.summary_rows():
                data = self.store.open_json(
                    key, blob, self.store.aad("records", record_id, "summary")
                )
                summaries[record_id] = RecordSummary.from_json(data)
            self._summaries = summaries
        return self._summaries, self._load_lists()

    def _load_lists(self) -> dict[str, ListInfo]:
        # Lists are few: opening them never costs what opening every record does.
        if self._lists is None:
            lists = sync_engine.read_lists(self.store, self.key)
            self._lists = {info.id: info for info in lists}
        return self._lists

    def lists(self) -> list[ListInfo]:
        """Every list, folders first by path, alphabetically (case-insensitive)."""
        self._require_fresh()
        lists = self._load_lists()
        return sorted(lists.values(), key=lambda info: info.path.casefold())

    def records(self, list_id: str | None = None) -> list[RecordSummary]:
        """Records (of one list, or all), alphabetically by title."""
        self._require_fresh()
        summaries, _ = self._load()
        chosen = [
            s for s in summaries.values() if list_id is None or s.list_id == list_id
        ]
        return sorted(chosen, key=lambda s: (s.title.casefold(), s.id))

    def list_path(self, list_id: str) -> str:
        """The path of a list, or an empty string when the list is unknown."""
        info = self._load_lists().get(list_id)
        return info.path if info else ""

    def search(self, text: str) -> list[RecordSummary]:
        """Records whose title, username, description, URL or path hold `text`."""
        self._require_fresh()
        needle = text.strip().casefold()
        if not needle:
            raise UsageError("give some text to search for")
        hits = [
            self._summary(rid)
            for rid, hay in self._search_texts().items()
            if needle in hay
        ]
        return sorted(hits, key=lambda s: (s.title.casefold(), s.id))

    def _search_texts(self) -> dict[str, str]:
        """What search looks at, by record id: the index's text and the list path."""
        if self._haystacks is None:
            paths = {i.id: i.path for i in self._load_lists().values()}
            index = search_index.read(self.store, self.key)
            if index is None:  # a cache from before the index: open every record
                summaries, _ = self._load()
                index = {rid: search_index.entry_of(s) for rid, s in summaries.items()}
            self._haystacks = {
                rid: f"{text}\n{paths.get(list_id, '').casefold()}"
                for rid, (list_id, text) in index.items()
            }
        return self._haystacks

    def _summary(self, record_id: str) -> RecordSummary:
        """One record's summary, opening only that record when nothing is loaded."""
        if self._summaries is not None and record_id in self._summaries:
            return self._summaries[record_id]
        blob = self.store.summary_row(record_id)
        if blob is None:
            raise damaged(self.store.path, "its search index names a missing record")
        data = self.store.open_json(
            self.key, blob, self.store.aad("records", record_id, "summary")
        )
        return RecordSummary.from_json(data)

    def resolve(self, record_id: str) -> RecordSummary:
        """The record with this id, or the one whose id starts with it."""
        self._require_fresh()
        # The index knows every id: show, copy and otp open one record only.
        ids = self._search_texts()
        wanted = record_id.strip().lower()
        if wanted in ids:
            return self._summary(wanted)
        matches = [rid for rid in ids if rid.startswith(wanted)]
        if len(wanted) < 4 or not matches:
            raise RecordNotFound(record_id)
        if len(matches) > 1:
            raise RecordNotFound(record_id, ambiguous=True)
        return self._summary(matches[0])

    def _secrets(self, summary: RecordSummary) -> RecordSecrets:
        blob = self.store.secrets_row(summary.id)
        if blob is None:
            raise RecordNotFound(summary.id)
        data = self.store.open_json(
            self.key, blob, self.store.aad("records", summary.id, "secrets")
        )
        return RecordSecrets.from_json(data)

    def get(self, record_id: str) -> RecordView:
        """A record with its secrets masked (audited as a view)."""
        summary = self.resolve(record_id)
        self._audit(
            audit_queue.new_event(
                DeviceEventType.VIEW,
                self._now(),
                record_id=summary.id,
                list_id=summary.list_id,
            )
        )
        return RecordView(summary, self.list_path(summary.list_id))

    def reveal(self, record_id: str) -> RecordView:
        """A record with its secrets in the clear (audited as a reveal)."""
        summary = self.resolve(record_id)
        secrets_ = self._secrets(summary)
        self._audit(
            audit_queue.new_event(
                DeviceEventType.REVEAL,
                self._now(),
                record_id=summary.id,
                list_id=summary.list_id,
            )
        )
        return RecordView(summary, self.list_path(summary.list_id), secrets_)

    def copy(self, record_id: str, field: str = "password") -> int:
        """Copy a field to the clipboard; return the seconds until it is cleared."""
        if field not in COPY_FIELDS:
            raise UsageError(f"cannot copy {field!r}; choose password or username")
        summary = self.resolve(record_id)
        clipboard = self.device.clipboard()
        value = (
            summary.username if field == "username" else self._secrets(summary).password
        )
        if not value:
            raise UsageError(f"this record has no {field} to copy")
        seconds = self.device.settings.clipboard_clear_seconds
        clipboard.copy(value)
        clipboard.clear_later(value, seconds)
        self._audit(
            audit_queue.new_event(
                DeviceEventType.COPY,
                self._now(),
                record_id=summary.id,
                list_id=summary.list_id,
                field=field,
            )
        )
        return seconds

    def otp(self, record_id: str) -> OtpCode:
        """The record's current TOTP code (audited as an OTP view)."""
        summary = self.resolve(record_id)
        if not summary.has_otp:
            raise NoOtpSecret(
                "this record has no one-time-password secret",
                hint="add one on the server, then sync",
            )
        code = current_code(self._secrets(summary).otp_secret, self._now())
        self._audit(
            audit_queue.new_event(
                DeviceEventType.OTP_VIEW,
                self._now(),
                record_id=summary.id,
                list_id=summary.list_id,
            )
        )
        return code

    # --- sessions and biometrics -------------------------------------------

    def start_session(self) -> str:
        """Open a session and return its token (see the module docstring)."""
        session_id = str(uuid.uuid4())
        secret = aead.generate_key()
        now = self._now().isoformat()
        wrapped = aead.seal(secret, self.key, self.store.aad("sessions", session_id))
        method = "biometric" if self.method == "biometric" else "password"
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO sessions (id, wrapped, method, created_at, last_used_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (session_id, wrapped, method, now, now),
            )
        encoded = base64.urlsafe_b64encode(secret).rstrip(b"=").decode()
        log.info("session_started session_id=%s", session_id)
        return f"{TOKEN_PREFIX}.{session_id}.{encoded}"

    def enable_biometric(self) -> str:
        """Turn biometric unlock on; return the keystore's name."""
        if not self.state.policies.biometric_allowed:
            raise BiometricUnavailable(
                "your organisation does not allow biometric unlock",
                hint="keep unlocking with your master password",
            )
        keystore = self.device.keystore()
        secret = aead.generate_key()
        keystore.put(self.store.profile_id, secret)
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO wrapped_keys (kind, blob) VALUES (?, ?) "
                "ON CONFLICT (kind) DO UPDATE SET blob = excluded.blob",
                (
                    "biometric",
                    aead.seal(secret, self.key, _wrap_aad(self.store, "biometric")),
                ),
            )
        return keystore.name

    def disable_biometric(self) -> None:
        """Turn biometric unlock off and forget the keystore's key."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM wrapped_keys WHERE kind = 'biometric'")
        with contextlib.suppress(ClientError):
            self.device.keystore().delete(self.store.profile_id)

    # --- sync and logout -------------------------------------------------

    def sync(self) -> SyncSummary:
        """Upload queued events, fetch changes, and apply them in one transaction.

        A revoked or wiped device erases its cache here and raises. Another
        sync of the same profile (another command, the app) is waited for.
        """
        with self._sync_lock():
            return self._sync_locked()

    @contextlib.contextmanager
    def _sync_lock(self) -> Iterator[None]:
        settings = self.device.settings
        wait = settings.connect_timeout_seconds + settings.read_timeout_seconds
        with sync_lock(self.device.profile, wait):
            # Another process may have synced since this vault was opened: its
            # credential and cursor are the ones the server expects now.
            self.state = device_state.load(self.store, self.key)
            yield

    def _sync_locked(self) -> SyncSummary:
        connector = self.device.connector_factory(self.state.server_url, self.state.pin)
        try:
            summary = self._sync_round(connector)
            rounds = 1
            # More than one request's worth of events: keep going while each
            # round makes progress.
            while self.store.event_count() and rounds < MAX_SYNC_ROUNDS:
                before = self.store.event_count()
                summary = self._sync_round(connector)
                rounds += 1
                if self.store.event_count() >= before:
                    break
        finally:
            connector.close()
        self._after_policies()
        return summary

    def _unregister(self, *, force: bool) -> None:
        connector = self.device.connector_factory(self.state.server_url, self.state.pin)
        try:
            connector.logout(
                LogoutRequest(
                    protocol_version=PROTOCOL_VERSION,
                    device_id=self.state.device_id,
                    device_credential=self.state.credential,
                )
            )
        except (DeviceRevoked, WipeRequested):
            pass
        except ServerError:
            if not force:
                raise
        finally:
            connector.close()

    def _sync_round(self, connector: Connector) -> SyncSummary:
        self._drop_unreadable_events()
        events = audit_queue.pending(
            self.store, self.key, self.state.queue_private_key, MAX_AUDIT_EVENTS
        )
        request = SyncRequest(
            protocol_version=PROTOCOL_VERSION,
            device_id=self.state.device_id,
            device_credential=self.state.credential,
            cursor=self.state.cursor,
            events=events,
        )
        try:
            reply = self._send(connector, request)
        except ServerRefused as exc:
            if exc.code is not ErrorCode.CURSOR_INVALID or request.cursor is None:
                raise
            # The server cannot use our cursor: ask for everything again.
            reply = self._send(connector, request.model_copy(update={"cursor": None}))
        decoded = sync_engine.decode_upserts(
            reply, self.state.box_private_key, self.state.server_url
        )
        self.state, summary = sync_engine.apply_reply(
            self.store, self.key, self.state, reply, decoded, self._now()
        )
        self._summaries = self._lists = self._haystacks = None
        return summary

    def _send(self, connector: Connector, request: SyncRequest) -> SyncResponse:
        try:
            return connector.sync(request)
        except (DeviceRevoked, WipeRequested) as exc:
            # Fail closed: the server said this device may hold nothing.
            self._erase_for(exc)
            raise

    def _erase_for(self, exc: ServerRefused) -> None:
        why = {
            ErrorCode.WIPE_REQUESTED: "an administrator ordered this device wiped",
            ErrorCode.CREDENTIAL_REPLAYED: "a copy of this device was caught and the "
            "device revoked",
        }.get(exc.code, "this device was revoked")
        self.lock()
        self.device.erase(why)

    def _drop_unreadable_events(self) -> None:
        bad = audit_queue.unreadable_ids(
            self.store, self.key, self.state.queue_private_key, MAX_AUDIT_EVENTS
        )
        if bad:
            with self.store.transaction() as conn:
                audit_queue.drop(conn, bad)

    def _after_policies(self) -> None:
        # A policy that no longer allows biometrics takes effect now, not at
        # the next biometric unlock.
        if not self.state.policies.biometric_allowed and self.store.wrapped_key(
            "biometric"
        ):
            self.disable_biometric()

    def logout(self, *, force: bool = False) -> None:
        """Upload queued events, revoke this device on the server, erase the cache.

        Without `force`, a server that cannot be reached stops the logout, so
        no queued audit event is lost; with it, the cache is erased anyway.
        """
        with self._sync_lock():
            try:
                self._sync_locked()
            except (DeviceRevoked, WipeRequested):
                return  # already erased by sync
            except ServerError:
                if not force:
                    raise
            self._unregister(force=force)
            self.lock()
            self.device.erase("you logged out", leave_note=False)
        log.info("device_logged_out device_id=%s", self.state.device_id)
