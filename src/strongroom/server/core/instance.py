"""An opened installation (settings, database, keys) and its creation by `init`."""

import getpass
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from strongroom.crypto.certificates import make_self_signed
from strongroom.crypto.pins import pin_of_pem
from strongroom.server.core.actor import Actor
from strongroom.server.core.config import Settings
from strongroom.server.core.db import Database
from strongroom.server.core.errors import AlreadyExists, ConfigurationError
from strongroom.server.core.files import write_atomically
from strongroom.server.core.keys import (
    FieldCipher,
    InstanceKeyring,
    create_data_key,
    load_keyring,
)
from strongroom.server.core.models import DataKey
from strongroom.server.core.schema import ensure_current, upgrade

log = logging.getLogger(__name__)


@dataclass
class Instance:
    """Everything a server process holds: settings, database and field cipher."""

    settings: Settings
    db: Database
    cipher: FieldCipher

    @classmethod
    def open(cls, settings: Settings, *, check_schema: bool = True) -> "Instance":
        """Open an initialised installation; refuses a schema that is behind."""
        env_key = (
            settings.instance_key.get_secret_value() if settings.instance_key else None
        )
        keyring = load_keyring(settings.key_file, env_key)
        refuse_missing_sqlite_file(settings)
        db = Database(settings.resolved_database_url)
        if check_schema:
            ensure_current(db)
        cipher = FieldCipher(keyring)
        if check_schema:
            attach_audit_key(db, cipher)
        return cls(settings=settings, db=db, cipher=cipher)

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()


def refuse_missing_sqlite_file(settings: Settings) -> None:
    """Raise ConfigurationError when the SQLite database file is missing."""
    # Opening a missing SQLite file would create an empty one and then advise
    # a schema upgrade, leaving an instance with no users and no secrets.
    url = settings.resolved_database_url
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    if not path.exists():
        raise ConfigurationError(
            f"the database file {path} does not exist",
            hint="check --data-dir / STRONGROOM_DATA_DIR and STRONGROOM_DATABASE_URL, "
            "or restore the file from your backup",
        )


def attach_audit_key(db: Database, cipher: FieldCipher) -> None:
    """Give every session of `db` the audit chain key (made on first use)."""
    # Late imports: features sit above core.
    from strongroom.server.audit.service import CHAIN_KEY_INFO
    from strongroom.server.settings import service as system_settings

    with db.session() as session:
        key = system_settings.audit_chain_key(session, cipher)
    db.session_info[CHAIN_KEY_INFO] = key


def _holds_data_keys(db: Database) -> bool:
    if not sa.inspect(db.engine).has_table(DataKey.__tablename__):
        return False
    with db.engine.connect() as conn:
        return bool(
            conn.execute(sa.select(sa.func.count()).select_from(DataKey)).scalar()
        )


def _refuse_existing_instance(db: Database, settings: Settings) -> None:
    # A data directory whose key went missing still holds an instance: making
    # a new key and certificate over it would strand every secret and break
    # every paired phone's pin. The fix is restoring the key, never init.
    if _holds_data_keys(db) or settings.cert_file.exists():
        db.dispose()
        raise AlreadyExists(
            "this database or data directory already holds a Strongroom "
            "instance, but its instance key is missing",
            hint=f"restore instance.key from your backup into {settings.data_dir} "
            "(or set STRONGROOM_INSTANCE_KEY); init would make its data unreadable",
        )


@dataclass(frozen=True)
class InitResult:
    """What `init` made, for the operator to read once."""

    data_dir: Path
    database_url: str
    admin_name: str
    admin_password: str
    instance_id: str
    cert_file: Path
    pin: str
    app_server_url: str


def operator() -> Actor:
    """The actor for commands run by whoever holds the installation."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = str(os.getuid())
    return Actor.cli_operator(name)


def initialise(
    settings: Settings,
    *,
    admin_name: str,
    admin_password: str | None,
    app_server_url: str | None = None,
    hostnames: list[str] | None = None,
) -> InitResult:
    """Create a new installation in the data directory.

    Makes the directory (0700), the instance key, the database schema, the
    instance id, the App Pairing Secret, a self-signed App Server certificate
    and a first administrator. Refuses a directory that already has a key.
    """
    # Late imports: features sit above core, and init is the one place in
    # core that seeds them.
    from strongroom.server.accounts import service as accounts
    from strongroom.server.settings import service as system_settings

    data_dir = settings.data_dir
    if settings.key_file.exists():
        raise AlreadyExists(
            f"{data_dir} already holds an instance",
            hint="use it as it is, or choose another --data-dir",
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)

    keyring = InstanceKeyring.generate()
    db = Database(settings.resolved_database_url)
    _refuse_existing_instance(db, settings)
    upgrade(db)
    cipher = FieldCipher(keyring)
    actor = Actor.system()

    names = hostnames or ["localhost", "127.0.0.1"]
    pair = make_self_signed(names)
    write_atomically(settings.cert_file, pair.cert_pem, mode=0o644)
    write_atomically(settings.cert_key_file, pair.key_pem, mode=0o600)
    pin = pin_of_pem(pair.cert_pem)
    url = app_server_url or f"https://{names[0]}:{settings.appserver_port}"
    password = admin_password or accounts.generate_password()

    with db.session() as session:
        create_data_key(session, keyring)
    attach_audit_key(db, cipher)
    with db.session() as session:
        instance_id = system_settings.instance_id(session)
        system_settings.regenerate_pairing_secret(session, actor, cipher)
        system_settings.set_value(session, actor, "app_server_url", url)
        system_settings.set_value(session, actor, "app_server_pin", pin)
        accounts.create_user(
            session, actor, admin_name, password=password, is_admin=True
        )
    # The key is written last: a failure above leaves no key, so `init` can be
    # run again instead of leaving a half-made instance that claims to exist.
    keyring.save(settings.key_file)
    db.dispose()
    log.info("instance_initialised instance_id=%s", instance_id)
    return InitResult(
        data_dir=data_dir,
        database_url=db.url,
        admin_name=admin_name,
        admin_password=password,
        instance_id=instance_id,
        cert_file=settings.cert_file,
        pin=pin,
        app_server_url=url,
    )
