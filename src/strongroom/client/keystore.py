"""The platform keystore that holds the biometric unlock key.

`Keystore` is the interface; `KeyringKeystore` uses the `keyring` library on
desktops (a phone app brings its own Keychain/Keystore implementation), and
`MemoryKeystore` is the in-memory twin for tests.

The keyring backend is chosen explicitly from an allow-list of stores that
encrypt at rest and guard access (Secret Service, KWallet, macOS Keychain,
Windows Credential Locker). `keyring`'s own default is never used: on a
headless machine it is `fail.Keyring`, and with `keyrings.alt` installed it
silently becomes a plaintext file, which would turn "biometric unlock" into
"anyone who copies the home directory unlocks".
"""

import base64
import binascii
import importlib
import logging
from abc import ABC, abstractmethod

from strongroom.client.errors import BiometricUnavailable

log = logging.getLogger(__name__)

SERVICE_NAME = "strongroom-mobile"

# Module prefixes of keyring backends that encrypt at rest and ask the
# operating system before handing a secret out.
SECURE_BACKENDS = (
    "keyring.backends.SecretService",
    "keyring.backends.libsecret",
    "keyring.backends.kwallet",
    "keyring.backends.macOS",
    "keyring.backends.Windows",
)

# Never acceptable, even when named explicitly: they store nothing, fail, or
# keep secrets in a file anyone with the home directory can read.
INSECURE_BACKENDS = (
    "keyring.backends.fail",
    "keyring.backends.null",
    "keyring.backends.chainer",
    "keyrings.alt",
)


class Keystore(ABC):
    """Where a device keeps the key that wraps its cache key for biometric unlock."""

    name: str = "keystore"

    @abstractmethod
    def get(self, account: str) -> bytes | None:
        """The secret stored for `account`, or None."""

    @abstractmethod
    def put(self, account: str, secret: bytes) -> None:
        """Store `secret` for `account`, replacing any earlier one."""

    @abstractmethod
    def delete(self, account: str) -> None:
        """Forget the secret of `account` (no error when there is none)."""


class MemoryKeystore(Keystore):
    """A keystore in a dict: for tests, and for a process that wants no persistence."""

    name = "memory"

    def __init__(self) -> None:
        self.secrets: dict[str, bytes] = {}

    def get(self, account: str) -> bytes | None:
        """The secret stored for `account`, or None."""
        return self.secrets.get(account)

    def put(self, account: str, secret: bytes) -> None:
        """Store `secret` for `account`."""
        self.secrets[account] = bytes(secret)

    def delete(self, account: str) -> None:
        """Forget `account`."""
        self.secrets.pop(account, None)


def _dotted(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_insecure(dotted: str) -> bool:
    return dotted.startswith(INSECURE_BACKENDS)


class KeyringKeystore(Keystore):
    """A keystore backed by one explicitly chosen `keyring` backend."""

    def __init__(self, backend: object) -> None:
        dotted = _dotted(backend)
        if _is_insecure(dotted):
            raise BiometricUnavailable(
                f"the key store {dotted} is not secure enough for biometric unlock",
                hint="unlock with your master password instead",
            )
        self.backend = backend
        self.name = dotted

    @classmethod
    def choose(cls, preferred: str | None = None) -> "KeyringKeystore":
        """Pick the backend: `preferred` (a dotted class name) or the best secure one.

        Raises BiometricUnavailable when no secure store is installed and usable.
        """
        from keyring.backend import get_all_keyring

        if preferred:
            return cls(_load_backend(preferred))
        viable = [
            backend
            for backend in get_all_keyring()
            if _dotted(backend).startswith(SECURE_BACKENDS)
            and getattr(backend, "priority", 0) > 0
        ]
        if not viable:
            raise BiometricUnavailable(
                "this device has no secure key store (such as the Secret Service "
                "or the macOS Keychain) to hold a biometric unlock key",
                hint="unlock with your master password instead",
            )
        best = max(viable, key=lambda b: float(getattr(b, "priority", 0)))
        log.info("keystore_chosen backend=%s", _dotted(best))
        return cls(best)

    def get(self, account: str) -> bytes | None:
        """The secret stored for `account`, or None."""
        text = self._call("get_password", SERVICE_NAME, account)
        if text is None:
            return None
        try:
            return base64.b64decode(str(text), validate=True)
        except (binascii.Error, ValueError):
            log.warning("keystore_entry_unreadable account=%s", account)
            return None

    def put(self, account: str, secret: bytes) -> None:
        """Store `secret` for `account`."""
        self._call(
            "set_password", SERVICE_NAME, account, base64.b64encode(secret).decode()
        )

    def delete(self, account: str) -> None:
        """Forget `account`; a missing entry is not an error."""
        from keyring.errors import PasswordDeleteError

        try:
            self._call("delete_password", SERVICE_NAME, account)
        except BiometricUnavailable as exc:
            if isinstance(exc.__cause__, PasswordDeleteError):
                return
            raise

    def _call(self, method: str, *args: str) -> object:
        from keyring.errors import KeyringError

        try:
            return getattr(self.backend, method)(*args)
        except KeyringError as exc:
            raise BiometricUnavailable(
                f"the key store refused ({type(exc).__name__})",
                hint="unlock the key store, or use your master password",
            ) from exc


def _load_backend(dotted: str) -> object:
    if _is_insecure(dotted):
        raise BiometricUnavailable(
            f"the key store {dotted} is not secure enough for biometric unlock",
            hint="unset STRONGROOM_MOBILE_KEYRING_BACKEND or name a secure store",
        )
    module_name, _, class_name = dotted.rpartition(".")
    try:
        backend_class = getattr(importlib.import_module(module_name), class_name)
        return backend_class()
    except (ImportError, AttributeError, ValueError, RuntimeError) as exc:
        raise BiometricUnavailable(
            f"the key store {dotted} is not available here ({exc})",
            hint="unset STRONGROOM_MOBILE_KEYRING_BACKEND or install it",
        ) from exc
