"""The keystore: one suite run against every implementation, and backend choice."""

from collections.abc import Iterator

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from strongroom.client.errors import BiometricUnavailable
from strongroom.client.keystore import KeyringKeystore, Keystore, MemoryKeystore


class FakeSecretService(KeyringBackend):
    """A keyring backend in memory that presents itself as the Secret Service."""

    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError("no such entry")


FakeSecretService.__module__ = "keyring.backends.SecretService"


@pytest.fixture(params=["memory", "keyring"])
def store(request: pytest.FixtureRequest) -> Iterator[Keystore]:
    """Every keystore implementation."""
    if request.param == "memory":
        yield MemoryKeystore()
    else:
        yield KeyringKeystore(FakeSecretService())


def test_put_get_delete_round_trip(store: Keystore) -> None:
    """A stored key comes back byte for byte and is gone after delete."""
    secret = bytes(range(32))
    assert store.get("profile-1") is None
    store.put("profile-1", secret)
    assert store.get("profile-1") == secret
    store.put("profile-1", b"\x00" * 32)
    assert store.get("profile-1") == b"\x00" * 32
    store.delete("profile-1")
    assert store.get("profile-1") is None
    store.delete("profile-1")  # deleting twice is not an error


def test_accounts_are_separate(store: Keystore) -> None:
    """Two profiles never see each other's key."""
    store.put("a", b"1" * 32)
    store.put("b", b"2" * 32)
    assert store.get("a") == b"1" * 32 and store.get("b") == b"2" * 32


def test_headless_machine_has_no_secure_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """With only the fail and plaintext backends, biometric unlock is refused."""
    import keyring.backend
    from keyring.backends.fail import Keyring as FailKeyring

    class Plaintext(FakeSecretService):
        pass

    Plaintext.__module__ = "keyrings.alt.file"
    monkeypatch.setattr(
        keyring.backend, "get_all_keyring", lambda: [FailKeyring(), Plaintext()]
    )
    with pytest.raises(BiometricUnavailable, match="no secure key store"):
        KeyringKeystore.choose()


def test_the_secure_backend_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Among installed backends the secure one is picked, never the plaintext one."""
    import keyring.backend

    class Plaintext(FakeSecretService):
        priority = 99  # type: ignore[assignment]

    Plaintext.__module__ = "keyrings.alt.file"
    secure = FakeSecretService()
    monkeypatch.setattr(
        keyring.backend, "get_all_keyring", lambda: [Plaintext(), secure]
    )
    assert KeyringKeystore.choose().backend is secure


@pytest.mark.parametrize(
    "name",
    [
        "keyrings.alt.file.PlaintextKeyring",
        "keyring.backends.fail.Keyring",
        "keyring.backends.null.Keyring",
        "keyring.backends.chainer.ChainerBackend",
    ],
)
def test_insecure_backends_are_refused_even_when_named(name: str) -> None:
    """Plaintext, failing and chaining backends are never used, even if configured."""
    with pytest.raises(BiometricUnavailable, match="not secure enough"):
        KeyringKeystore.choose(name)


def test_a_named_secure_backend_that_is_missing_is_a_clear_error() -> None:
    """A backend name that cannot be loaded says so."""
    with pytest.raises(BiometricUnavailable, match="not available"):
        KeyringKeystore.choose("keyring.backends.SecretService.NoSuchThing")


def test_insecure_backend_instance_is_refused() -> None:
    """Handing an insecure backend object directly is refused too."""
    from keyring.backends.fail import Keyring as FailKeyring

    with pytest.raises(BiometricUnavailable):
        KeyringKeystore(FailKeyring())
