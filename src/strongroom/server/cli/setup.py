"""`strongroom init`, `db upgrade` and `keys rotate`."""

from pathlib import Path

import typer
from sqlalchemy import func, select

from strongroom.server.audit import service as audit
from strongroom.server.cli.common import STATE, console, done, operation
from strongroom.server.core.db import Database
from strongroom.server.core.errors import ConfigurationError
from strongroom.server.core.instance import initialise, refuse_missing_sqlite_file
from strongroom.server.core.keys import (
    InstanceKeyring,
    rewrap_data_keys,
    rotation_lock,
)
from strongroom.server.core.models import DataKey
from strongroom.server.core.schema import current_revision, head_revision, upgrade

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Instance and data keys.", no_args_is_help=True)


def init(
    admin: str = typer.Option("admin", help="Login name of the first administrator."),
    app_server_url: str | None = typer.Option(
        None, help="URL phones use to reach the App Server (https://host:port)."
    ),
    hostname: list[str] = typer.Option(
        [], "--hostname", help="Names for the App Server certificate (repeatable)."
    ),
) -> None:
    """Create a new instance: key, database, certificate and first admin."""
    result = initialise(
        STATE.settings(),
        admin_name=admin,
        admin_password=None,
        app_server_url=app_server_url,
        hostnames=hostname or None,
    )
    console.print(f"Initialised Strongroom in [bold]{result.data_dir}[/bold]")
    console.print(f"  instance id      {result.instance_id}")
    console.print(f"  App Server URL   {result.app_server_url}")
    console.print(f"  certificate      {result.cert_file}")
    console.print(f"  public-key pin   {result.pin}")
    console.print(f"  administrator    {result.admin_name}")
    console.print(
        f"  password         [bold]{result.admin_password}[/bold]"
        "  (shown once: store it now)",
        highlight=False,
    )
    console.print(
        "Keep instance.key safe and backed up: without it no secret can be read."
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration the database lacks (back it up first)."""
    settings = STATE.settings()
    # Upgrading a file that is not there would make an empty database that
    # then looks like an instance to every other command.
    refuse_missing_sqlite_file(settings)
    db = Database(settings.resolved_database_url)
    before = current_revision(db)
    upgrade(db)
    after = current_revision(db)
    db.dispose()
    if after == before:
        done(f"Database schema already up to date at {after}: nothing to apply.")
        return
    done(f"Database schema at {after or head_revision()} (was {before or 'empty'}).")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every data key under a new instance key, without downtime.

    The new key is added to instance.key first, so running servers can open
    data keys wrapped either way; the old key is removed once every data key
    is re-wrapped.
    """
    settings = STATE.settings()
    if settings.instance_key is not None:
        raise ConfigurationError(
            "the instance key comes from STRONGROOM_INSTANCE_KEY",
            hint="unset it, rotate with the key file, then set the new key again",
        )
    # Refused before the lock is taken: a missing or open key file must not
    # gain a lock file beside it.
    InstanceKeyring.load(settings.key_file)
    with rotation_lock(settings.key_file):
        count, new_id = _rotate(settings.key_file)
    done(f"Instance key rotated; {count} data key(s) now under {new_id}.")


def _rotate(key_file: Path) -> tuple[int, str]:
    # Read under the lock, so the file written back holds every key it had.
    keyring = InstanceKeyring.load(key_file)
    fresh = InstanceKeyring.generate()
    old_ids = set(keyring.keys)

    # Step 1: both keys in the file, the new one current.
    keyring.keys[fresh.current_id] = fresh.current
    keyring.current_id = fresh.current_id
    keyring.save(key_file)

    # Step 2: re-wrap in one transaction.
    with operation() as (_instance, session, actor):
        count = rewrap_data_keys(session, keyring, fresh.current_id, fresh.current)
        audit.record(
            session,
            actor,
            "keys.rotated",
            target_type="instance_key",
            target_id=fresh.current_id,
            details={"data_keys": count},
        )

    # Step 3: the old keys wrap nothing any more.
    for old in old_ids:
        keyring.keys.pop(old, None)
    keyring.save(key_file)
    return count, fresh.current_id


@keys_app.command("status")
def keys_status() -> None:
    """Show the current instance key id and how many data keys it wraps."""
    with operation() as (instance, session, _actor):
        count = session.scalar(
            select(func.count())
            .select_from(DataKey)
            .where(DataKey.instance_key_id == instance.cipher.keyring.current_id)
        )
        key_id = instance.cipher.keyring.current_id
        done(f"Instance key {key_id} wraps {count} data key(s).")
