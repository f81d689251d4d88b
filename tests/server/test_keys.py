"""`strongroom keys rotate`: secrets stay readable, running servers follow, the
old key is gone, and a key file others can read is refused."""

import base64
import json
import os
import stat

import pytest
from sqlalchemy import select

from strongroom.server.core.config import Settings
from strongroom.server.core.errors import ConfigurationError, MissingInstanceKey
from strongroom.server.core.instance import InitResult, Instance, operator
from strongroom.server.core.keys import FieldCipher, InstanceKeyring, rotation_lock
from strongroom.server.core.models import DataKey
from strongroom.server.settings import service as system_settings
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Record
from tests.server.cli.conftest import Cli, cli_env

SECRET = "rotate-me-not-9931"


def _store(instance: Instance) -> str:
    actor = operator()
    with instance.db.session() as session:
        plist = vault.create_list(session, actor, "Keys")
        record = vault.create_record(
            session,
            actor,
            instance.cipher,
            plist,
            vault.RecordInput(title="r", password=SECRET, notes="n"),
        )
        return record.id


def _password(instance: Instance, record_id: str) -> str:
    with instance.db.session() as session:
        record = session.get(Record, record_id)
        assert record is not None
        return vault.open_record(session, instance.cipher, record).password


def _key_ids(settings: Settings) -> set[str]:
    return set(json.loads(settings.key_file.read_text())["keys"])


def test_rotation_keeps_secrets_and_retires_the_old_key(
    settings: Settings, instance: Instance
) -> None:
    """After `keys rotate` every secret reads, in a fresh process and in one
    opened before the rotation; the file holds only the new key, 0600."""
    record_id = _store(instance)
    # Opened before the rotation and never used: its keyring holds only the
    # old key and it has no data key cached, like a server started earlier.
    early = Instance.open(settings)
    old_keyring = InstanceKeyring.load(settings.key_file)
    old_ids = _key_ids(settings)

    cli = Cli(cli_env(settings))
    result = cli("keys", "rotate")
    assert result.exit_code == 0, result.stderr

    new_ids = _key_ids(settings)
    assert new_ids and not new_ids & old_ids
    assert stat.S_IMODE(settings.key_file.stat().st_mode) == 0o600
    assert _password(early, record_id) == SECRET
    early.close()

    fresh = Instance.open(settings)
    try:
        assert _password(fresh, record_id) == SECRET
        with fresh.db.session() as session:
            wrapping = set(session.scalars(select(DataKey.instance_key_id)))
            secret, _generation = system_settings.pairing_secret(session, fresh.cipher)
        assert wrapping == new_ids and secret
    finally:
        fresh.close()

    # The old key alone no longer opens anything.
    old_keyring.path = None
    stale = Instance(settings=settings, db=instance.db, cipher=FieldCipher(old_keyring))
    with pytest.raises(MissingInstanceKey):
        _password(stale, record_id)

    status = cli("keys", "status")
    assert next(iter(new_ids)) in status.stdout
    assert cli("audit", "verify").exit_code == 0


def test_a_key_file_others_can_read_is_refused(
    settings: Settings, initialised: InitResult
) -> None:
    """A key file with group/other permissions is refused with the chmod fix,
    by Instance.open and by `keys rotate`, which leaves it untouched."""
    settings.key_file.chmod(0o644)
    before = settings.key_file.read_bytes()
    with pytest.raises(ConfigurationError) as caught:
        Instance.open(settings)
    assert caught.value.hint == f"run `chmod 600 {settings.key_file}`"

    result = Cli(cli_env(settings))("keys", "rotate")
    assert result.exit_code == 1
    assert "readable by other users" in result.stderr
    assert "chmod 600" in result.stderr
    assert settings.key_file.read_bytes() == before


def test_rotation_refuses_a_key_from_the_environment(
    settings: Settings, initialised: InitResult
) -> None:
    """With STRONGROOM_INSTANCE_KEY set there is no file to rotate: one line says
    how to proceed and the key file is not touched."""
    keyring = InstanceKeyring.load(settings.key_file)
    env = cli_env(settings)
    env["STRONGROOM_INSTANCE_KEY"] = base64.b64encode(keyring.current).decode()
    before = settings.key_file.read_bytes()
    result = Cli(env)("keys", "rotate")
    assert result.exit_code == 1
    assert "STRONGROOM_INSTANCE_KEY" in result.stderr
    assert settings.key_file.read_bytes() == before
    assert os.environ.get("STRONGROOM_INSTANCE_KEY") is None


def test_a_second_rotation_at_the_same_time_is_refused(
    settings: Settings, initialised: InitResult
) -> None:
    """While one rotation holds the key file's lock, another is refused in one
    line and leaves the key file as it was (two writers could each drop the
    key the other re-wrapped everything under)."""
    before = settings.key_file.read_bytes()
    with rotation_lock(settings.key_file):
        result = Cli(cli_env(settings))("keys", "rotate")
    assert result.exit_code == 1
    assert "another `strongroom keys rotate` is running" in result.stderr
    assert settings.key_file.read_bytes() == before

    # Released, the next rotation goes through.
    assert Cli(cli_env(settings))("keys", "rotate").exit_code == 0
    assert settings.key_file.read_bytes() != before
