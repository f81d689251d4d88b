"""An opened installation (settings, database, keys) and its creation by `init`."""

import getpass
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from strongroom.crypto.certificates import make_self_signed
from strongroom.crypto.pins import pin_of_pem
from strongroom.server.core.actor import Actor
from strongroom.server.core.config import Settings
from strongroom.server.core.db import Database
from strongroom.server.core.errors import (
    AlreadyExists,
    ConfigurationError,
    ValidationError,
)
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
    made_cert = settings.tls_cert_file is None and settings.cert_file.exists()
    if _holds_data_keys(db) or made_cert:
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
    (unless STRONGROOM_TLS_CERT_FILE names one of the operator's) and a first
    administrator. Refuses a directory that already has a key.

    All or nothing: the rows are written in one transaction and the files
    just before its commit, and a failure removes the files again, so a
    refused name or URL can be corrected and `init` run again.
    """
    # Late imports: features sit above core, and init is the one place in
    # core that seeds them.
    from strongroom.server.accounts import service as accounts

    data_dir = settings.data_dir
    if settings.key_file.exists():
        raise AlreadyExists(
            f"{data_dir} already holds an instance",
            hint="use it as it is, or choose another --data-dir",
        )
    names = hostnames or ["localhost", "127.0.0.1"]
    for name in names:
        _check_hostname(name)
    url = app_server_url or f"https://{_url_host(names[0])}:{settings.appserver_port}"
    own_cert = _operator_certificate(settings)

    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    keyring = InstanceKeyring.generate()
    db = Database(settings.resolved_database_url)
    _refuse_existing_instance(db, settings)
    upgrade(db)
    cipher = FieldCipher(keyring)
    pair = make_self_signed(names) if own_cert is None else None
    pin = pin_of_pem(pair.cert_pem if pair is not None else own_cert or b"")
    password = admin_password or accounts.generate_password()

    # One transaction for every row; the files are written inside it, just
    # before the commit, and removed again if anything fails, so a refused
    # name or URL leaves nothing behind and `init` can simply be run again.
    written: list[Path] = []
    try:
        with db.session() as session:
            instance_id = _seed(
                session, cipher, keyring, url, pin, admin_name, password
            )
            if pair is not None:
                _write(settings.cert_file, pair.cert_pem, 0o644, written)
                _write(settings.cert_key_file, pair.key_pem, 0o600, written)
            keyring.save(settings.key_file)
            written.append(settings.key_file)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    finally:
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


def _check_hostname(name: str) -> None:
    from strongroom.server.settings import service as system_settings

    try:
        system_settings.parse_app_server_url(f"https://{_url_host(name)}")
    except ValueError as exc:
        raise ValidationError(
            "hostname",
            f"--hostname {name!r} is not a host name or IP address: {exc}",
            hint="give the name phones use to reach the App Server",
        ) from None


def _url_host(name: str) -> str:
    # An IPv6 address goes in brackets inside a URL (RFC 3986, 3.2.2).
    return f"[{name}]" if ":" in name else name


def _operator_certificate(settings: Settings) -> bytes | None:
    # A certificate the operator configured is theirs: init pins it instead
    # of writing a self-signed one over it (and over its private key).
    if settings.tls_cert_file is None:
        return None
    try:
        pem = settings.tls_cert_file.read_bytes()
        pin_of_pem(pem)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"STRONGROOM_TLS_CERT_FILE names {settings.tls_cert_file}, which is "
            "not a readable PEM certificate",
            hint="point it at the App Server's certificate, or unset it to let "
            "init make a self-signed one",
        ) from exc
    return pem


def _write(path: Path, data: bytes, mode: int, written: list[Path]) -> None:
    write_atomically(path, data, mode=mode)
    written.append(path)


def _seed(
    session: Session,
    cipher: FieldCipher,
    keyring: InstanceKeyring,
    url: str,
    pin: str,
    admin_name: str,
    password: str,
) -> str:
    """Write the new instance's rows in `session`; return its id."""
    from strongroom.server.accounts import service as accounts
    from strongroom.server.audit.service import CHAIN_KEY_INFO
    from strongroom.server.settings import service as system_settings

    actor = Actor.system()
    create_data_key(session, keyring)
    # The chain key is made in this same transaction, so the events below
    # can be chained before anything is committed.
    session.info[CHAIN_KEY_INFO] = system_settings.audit_chain_key(session, cipher)
    instance_id = system_settings.instance_id(session)
    system_settings.regenerate_pairing_secret(session, actor, cipher)
    system_settings.set_value(session, actor, "app_server_url", url)
    system_settings.set_value(session, actor, "app_server_pin", pin)
    accounts.create_user(session, actor, admin_name, password=password, is_admin=True)
    return instance_id
