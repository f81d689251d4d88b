"""Creating and opening an instance, and refusing a schema that is behind."""

import stat

import pytest
import sqlalchemy as sa

from strongroom.crypto.pins import pin_of_pem
from strongroom.server.core.config import Settings
from strongroom.server.core.errors import AlreadyExists, SchemaBehind
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
