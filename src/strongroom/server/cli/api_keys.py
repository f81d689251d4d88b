"""`strongroom api-key create|list|revoke`: keys for the REST API.

A key is printed once, when it is made; only its hash is stored, so a lost
key cannot be shown again, only revoked and replaced.
"""

import json

import typer

from strongroom.server.accounts import api_keys
from strongroom.server.accounts import service as accounts
from strongroom.server.cli.common import JsonOption, console, done, emit, operation
from strongroom.server.core.errors import UsageError
from strongroom.server.vault import service as vault

api_key_app = typer.Typer(
    help="API keys for the REST API: create, list, revoke.", no_args_is_help=True
)


@api_key_app.command("create")
def create(
    name: str = typer.Argument(..., help="A name saying what the key is for."),
    lists: list[str] = typer.Option(
        [],
        "--lists",
        "--list",
        help="A password list path the key may touch (repeat for several).",
    ),
    system: bool = typer.Option(
        False, "--system", help="Let the key reach every list its user can."
    ),
    as_user: str | None = typer.Option(
        None, "--as", help="The user the key acts as (name or DOMAIN\\name)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create a key; it is printed once and never shown again."""
    if not as_user:
        # The CLI runs as the operator, who is no user: the key must borrow
        # someone's permissions, and choosing whose is too important to guess.
        raise UsageError(
            "name the user the key acts as with --as USER",
            hint="e.g. a service account made with `strongroom user add`",
        )
    if system == bool(lists):
        raise UsageError("give either --system or at least one --lists PATH")
    with operation() as (_instance, session, actor):
        user = accounts.find_user(session, as_user)
        chosen = [vault.find_list(session, path) for path in lists]
        issued = api_keys.create_key(
            session, actor, name, user=user, lists=chosen, system_wide=system
        )
        key_id, token = issued.key.id, issued.token
    # Printed only after the transaction committed: a key shown must work.
    if as_json:
        typer.echo(json.dumps({"id": key_id, "name": name, "key": token}))
        return
    done(f"API key {key_id} created, acting as {as_user}.")
    console.print(token, highlight=False, markup=False, soft_wrap=True)
    done(
        "Store it now: it is shown only once. Send it as `Authorization: Bearer <key>`."
    )


@api_key_app.command("list")
def list_keys(as_json: bool = JsonOption) -> None:
    """List every key: whom it acts as, its scope, when last used."""
    with operation() as (_instance, session, _actor):
        keys = api_keys.list_keys(session)
    rows = [
        {
            "id": k.id,
            "name": k.name,
            "user": k.user_name,
            "scope": "system" if k.system_wide else ", ".join(k.list_paths),
            "list_ids": k.list_ids,
            "created_by": k.created_by,
            "created_at": k.created_at.isoformat(),
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            "active": k.active,
        }
        for k in keys
    ]
    emit(
        rows,
        ["id", "name", "user", "scope", "last_used_at", "active"],
        as_json=as_json,
        title="API keys",
    )


@api_key_app.command("revoke")
def revoke(
    key_id: str = typer.Argument(
        ..., help="The key's id, or its first 8+ characters (see `list`)."
    ),
) -> None:
    """Revoke a key at once; calls made with it fail from now on."""
    with operation() as (_instance, session, actor):
        key = api_keys.get_key(session, key_id)
        changed = api_keys.revoke_key(session, actor, key)
        full_id = key.id
    done(
        f"API key {full_id} revoked."
        if changed
        else f"API key {full_id} was already revoked."
    )
