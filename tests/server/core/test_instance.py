"""Creating and opening an instance, and refusing a schema that is behind."""

import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from strongroom.crypto.certificates import make_self_signed
from strongroom.crypto.pins import pin_of_pem
from strongroom.server.accounts import service as accounts
from strongroom.server.audit import service as audit
from strongroom.server.core.config import Settings
from strongroom.server.core.errors import (
    AlreadyExists,
    ConfigurationError,
    SchemaBehind,
    ValidationError,
)
from strongroom.server.core.instance import InitResult, Instance, initialise
from strongroom.server.settings import service as settings_service


def test_init_makes_key_cert_and_settings(
    settings: Settings, initialised: InitResult
) -> None:
    """Init writes a private key file, a certificate whose pin is stored, a secret."""
    mode = stat.S_IMODE(settings.key_file.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(settings.cert_key_file.stat().st_mode) == 0o600
    assert initialised.pin == pin_of_pem(settings.cert_file.read_bytes())

    instance = Instance.open(settings)
    with instance.db.session() as session:
        assert settings_service.get(session, "app_server_pin") == initialised.pin
        secret, generation = settings_service.pairing_secret(session, instance.cipher)
        assert len(secret) >= 40 and generation == 1
        assert settings_service.instance_id(session) == initialised.instance_id
    instance.close()


def test_init_refuses_existing_instance(
    settings: Settings, initialised: InitResult
) -> None:
    """A second init on the same data directory is refused."""
    with pytest.raises(AlreadyExists):
        initialise(settings, admin_name="admin", admin_password=None)


def test_open_refuses_schema_behind(
    settings: Settings, initialised: InitResult
) -> None:
    """Opening a database whose schema is behind names the upgrade command."""
    engine = sa.create_engine(Instance.open(settings, check_schema=False).db.url)
    with engine.begin() as conn:
        real = list(conn.execute(sa.text("SELECT version_num FROM alembic_version")))
        conn.execute(sa.text("DELETE FROM alembic_version"))
    try:
        with pytest.raises(SchemaBehind, match="schema is empty") as info:
            Instance.open(settings)
        assert "strongroom db upgrade" in (info.value.hint or "")
    finally:
        # The PostgreSQL database is shared by the whole test session.
        with engine.begin() as conn:
            for (version,) in real:
                conn.execute(
                    sa.text("INSERT INTO alembic_version VALUES (:v)"), {"v": version}
                )
        engine.dispose()


# (what init is given, the error, words of its message)
REFUSED_INITS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"app_server_url": "ftp://vault"}, ValidationError, "https:// URL"),
    ({"admin_name": "bad/name"}, ValidationError, "login name"),
    ({"admin_password": "short"}, ValidationError, "password"),
    ({"hostnames": ["vault.example", "bad host!"]}, ValidationError, "--hostname"),
]


@pytest.mark.parametrize(("given", "error", "words"), REFUSED_INITS)
def test_a_refused_init_leaves_nothing_and_can_be_run_again(
    settings: Settings, given: dict[str, Any], error: type[Exception], words: str
) -> None:
    """A bad URL, admin name, password or host name is refused before any key,
    certificate or row is kept, so the corrected init then succeeds (it used to
    leave a data key and a certificate that made init refuse for good)."""
    arguments: dict[str, Any] = {"admin_name": "admin", "admin_password": None}
    with pytest.raises(error, match=words):
        initialise(settings, **{**arguments, **given})
    assert not settings.key_file.exists()
    assert not settings.cert_file.exists() and not settings.cert_key_file.exists()

    result = initialise(settings, **arguments)
    instance = Instance.open(settings)
    try:
        with instance.db.session() as session:
            assert settings_service.instance_id(session) == result.instance_id
            assert [u.login_name for u in accounts.list_users(session)] == ["admin"]
            assert audit.verify(session).ok
    finally:
        instance.close()


def test_init_pins_the_operators_own_certificate(
    settings: Settings, tmp_path: Path
) -> None:
    """With STRONGROOM_TLS_CERT_FILE set, init stores that certificate's pin and
    leaves the file (and its key) alone instead of writing a self-signed one."""
    pair = make_self_signed(["vault.example.com"])
    own = tmp_path / "own.crt"
    own.write_bytes(pair.cert_pem)
    configured = settings.model_copy(update={"tls_cert_file": own})
    result = initialise(configured, admin_name="admin", admin_password=None)
    assert result.pin == pin_of_pem(pair.cert_pem)
    assert own.read_bytes() == pair.cert_pem
    assert not (settings.data_dir / "tls").exists()

    missing = settings.model_copy(
        update={"tls_cert_file": tmp_path / "nope.crt", "data_dir": tmp_path / "d2"}
    )
    with pytest.raises(ConfigurationError, match="not a readable PEM certificate"):
        initialise(missing, admin_name="admin", admin_password=None)
