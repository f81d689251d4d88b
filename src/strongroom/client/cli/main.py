"""`strongroom-mobile`: the device core on the command line.

Every reading command unlocks for itself (a no-echo prompt, `--password-stdin`,
or the session token in STRONGROOM_MOBILE_SESSION). One handler turns the
core's errors into one line (and the next step on a second), with the error's
own exit code. Secrets never travel on the command line.
"""

import functools
import json
import logging
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError

from strongroom.client.config import ClientSettings, load_client_settings
from strongroom.client.device import Device, Vault
from strongroom.client.errors import ClientError, UsageError
from strongroom.client.models import RecordSummary, RecordView
from strongroom.protocol.qr import PairingPayload

log = logging.getLogger(__name__)

MASK = "••••••••"
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Dependencies:
    """What the CLI builds its Device from; tests pass their own as `obj`."""

    make_device: Callable[[ClientSettings], Device] = field(default=Device)
    settings: ClientSettings | None = None


def handled(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command, turning ClientError into one line and its exit code."""

    @functools.wraps(command)
    def run_command(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ClientError as exc:
            report(exc)
            raise typer.Exit(exc.exit_code) from None

    return run_command


app = typer.Typer(
    name="strongroom-mobile",
    help="Strongroom on this device: pair, unlock, read offline, sync.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
biometric_app = typer.Typer(help="Biometric unlock on this device.")
app.add_typer(biometric_app, name="biometric")

PasswordStdin = typer.Option(
    False, "--password-stdin", help="Read the master password from standard input."
)
JsonOut = typer.Option(False, "--json", help="Print JSON.")


def report(exc: ClientError) -> None:
    """Print an error as one line, and what to do next on the following one."""
    typer.echo(f"error: {exc.message}", err=True)
    if exc.hint:
        typer.echo(f"  next: {exc.hint}", err=True)


@app.callback()
@handled
def main(
    ctx: typer.Context,
    profile: Path | None = typer.Option(
        None,
        "--profile",
        help="The profile directory (default: STRONGROOM_MOBILE_HOME or "
        "~/.local/share/strongroom-mobile).",
    ),
) -> None:
    """Strongroom on this device: pair, unlock, read offline, sync."""
    deps = ctx.obj if isinstance(ctx.obj, Dependencies) else Dependencies()
    try:
        settings = deps.settings or load_client_settings()
    except ValidationError as exc:
        raise _bad_setting(exc) from exc
    if profile is not None:
        settings = settings.model_copy(update={"home": profile})
    ctx.obj = deps.make_device(settings)


def _bad_setting(exc: ValidationError) -> UsageError:
    """One line naming the first STRONGROOM_MOBILE_* variable that is wrong."""
    first = exc.errors()[0]
    name = "STRONGROOM_MOBILE_" + "_".join(str(p) for p in first["loc"]).upper()
    return UsageError(
        f"{name} is not valid: {first['msg'].lower()}",
        hint=f"fix or unset {name} (docs/device.md lists the settings)",
    )


def _device(ctx: typer.Context) -> Device:
    device = ctx.find_root().obj
    if not isinstance(device, Device):
        raise UsageError("the command was started without a device")
    return device


def read_password(from_stdin: bool, prompt: str = "Master password") -> str:
    """Read the master password from stdin or a no-echo prompt, never argv."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():
        raise UsageError(
            "there is no terminal to ask for the master password",
            hint="pipe it in and pass --password-stdin",
        )
    else:
        value = typer.prompt(prompt, hide_input=True, err=True)
    if not value:
        raise UsageError("the master password is empty")
    return value


def unlock_with_password(device: Device, password_stdin: bool) -> Vault:
    """Unlock with the master password, asked for only once the offline copy
    is known to be paired and intact: a damaged copy could not check it."""
    device.check_intact()
    return device.unlock(read_password(password_stdin))


def open_vault(device: Device, password_stdin: bool) -> Vault:
    """Unlock for one command: the session token if set, else the master password."""
    token = device.settings.session
    if token is not None and not password_stdin:
        return device.resume(token.get_secret_value())
    return unlock_with_password(device, password_stdin)


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


# --- pairing -------------------------------------------------------------


@app.command()
@handled
def pair(
    ctx: typer.Context,
    qr_image: Path | None = typer.Option(
        None, "--qr-image", help="A picture (PNG, JPEG) of the pairing QR code."
    ),
    qr_text: str | None = typer.Option(
        None, "--qr-text", help="The pairing code's text (strongroom://pair?...)."
    ),
    password_stdin: bool = PasswordStdin,
    device_name: str = typer.Option("", "--device-name", help="A name for admins."),
    no_sync: bool = typer.Option(False, "--no-sync", help="Do not sync right away."),
) -> None:
    """Pair this device with the App Server named in a QR code."""
    device = _device(ctx)
    if (qr_image is None) == (qr_text is None):
        raise UsageError("give exactly one of --qr-image FILE or --qr-text URI")
    payload: PairingPayload = (
        Device.read_qr_image(qr_image)
        if qr_image is not None
        else Device.parse_pairing(qr_text or "")
    )
    typer.echo(f"Server:   {payload.url}")
    typer.echo(f"Username: {payload.username}")
    password = read_password(password_stdin, f"Master password for {payload.username}")
    vault = device.pair(payload, password, device_name=device_name)
    with vault:
        typer.echo(f"Paired as device {vault.state.device_id}.")
        if not no_sync:
            summary = vault.sync()
            typer.echo(f"Synced {summary.records} records.")


# --- unlock, lock, biometrics ----------------------------------------------


@app.command()
@handled
def unlock(
    ctx: typer.Context,
    biometric: bool = typer.Option(
        False, "--biometric", help="Unlock with the key in the platform keystore."
    ),
    password_stdin: bool = PasswordStdin,
) -> None:
    """Unlock and print a session token for STRONGROOM_MOBILE_SESSION."""
    device = _device(ctx)
    vault = (
        device.unlock_biometric()
        if biometric
        else unlock_with_password(device, password_stdin)
    )
    with vault:
        token = vault.start_session()
    idle = device.settings.session_idle_minutes
    typer.echo(
        f"Unlocked. Set STRONGROOM_MOBILE_SESSION to the token below; it works until "
        f"`strongroom-mobile lock` or {idle} idle minutes.",
        err=True,
    )
    typer.echo(token)


@app.command()
@handled
def lock(ctx: typer.Context) -> None:
    """End every session of this device."""
    ended = _device(ctx).lock()
    typer.echo(f"Locked ({ended} session{'s' if ended != 1 else ''} ended).")


@biometric_app.command("on")
@handled
def biometric_on(ctx: typer.Context, password_stdin: bool = PasswordStdin) -> None:
    """Turn biometric unlock on (needs a secure platform keystore)."""
    with unlock_with_password(_device(ctx), password_stdin) as vault:
        store = vault.enable_biometric()
    typer.echo(f"Biometric unlock is on (key kept in {store}).")


@biometric_app.command("off")
@handled
def biometric_off(ctx: typer.Context, password_stdin: bool = PasswordStdin) -> None:
    """Turn biometric unlock off and forget its key."""
    with open_vault(_device(ctx), password_stdin) as vault:
        vault.disable_biometric()
    typer.echo("Biometric unlock is off.")


# --- reading ---------------------------------------------------------------


# Unicode categories never printed as they are: controls (ESC, BEL, CSI) and
# invisible formatting (bidi overrides such as U+202E).
_INVISIBLE = {"Cc", "Cf"}


def safe(value: str) -> str:
    """`value` with control and invisible formatting characters made visible.

    Notes and passwords may hold anything a colleague with Modify rights typed
    or pasted; printed raw, an escape sequence would drive the reader's
    terminal (retitle it, rewrite the screen, even set its clipboard).
    Line breaks and tabs stay, everything else shows as a `\\x..` escape.
    """
    return "".join(
        ch
        if ch in "\n\t" or unicodedata.category(ch) not in _INVISIBLE
        else ascii(ch)[1:-1]
        for ch in value
    )


def _record_line(record: RecordSummary) -> str:
    user = f"  {safe(record.username)}" if record.username else ""
    return f"  {record.id[:8]}  {safe(record.title)}{user}"


@app.command("ls")
@handled
def list_command(
    ctx: typer.Context, as_json: bool = JsonOut, password_stdin: bool = PasswordStdin
) -> None:
    """Show folders, lists and their records, alphabetically."""
    with open_vault(_device(ctx), password_stdin) as vault:
        lists = vault.lists()
        grouped = [(info, vault.records(info.id)) for info in lists]
        known = {info.id for info in lists}
        orphans = [r for r in vault.records() if r.list_id not in known]
    if as_json:
        body = [
            {
                "id": info.id,
                "path": info.path,
                "folder": info.folder,
                "name": info.name,
                "description": info.description,
                "records": [r.to_json() for r in records],
            }
            for info, records in grouped
        ]
        _echo_json(body)
        return
    if not grouped and not orphans:
        typer.echo("No lists on this device.")
    for info, records in grouped:
        typer.echo(f"{safe(info.path)}  ({len(records)})")
        for record in records:
            typer.echo(_record_line(record))
    for record in orphans:
        typer.echo(_record_line(record))


@app.command()
@handled
def search(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="Text to look for (case-insensitive)."),
    as_json: bool = JsonOut,
    password_stdin: bool = PasswordStdin,
) -> None:
    """Find records by title, username, description, URL or folder path."""
    with open_vault(_device(ctx), password_stdin) as vault:
        hits = [(r, vault.list_path(r.list_id)) for r in vault.search(text)]
    if as_json:
        _echo_json([{**r.to_json(), "list_path": path} for r, path in hits])
        return
    if not hits:
        typer.echo("No record matches.")
    for record, path in hits:
        typer.echo(f"{_record_line(record)}  [{safe(path)}]")


def _show_lines(view: RecordView) -> list[str]:
    s, secrets = view.summary, view.secrets
    password = secrets.password if secrets else (MASK if s.has_password else "")
    lines = [
        ("Title", s.title),
        ("List", view.list_path),
        ("Username", s.username),
        ("Password", password),
        ("URL", s.url),
        ("Description", s.description),
        ("Domain", s.domain),
        ("Host name", s.host_name),
        ("Expires", s.expires_at.isoformat() if s.expires_at else ""),
        ("One-time code", "yes (`strongroom-mobile otp ID`)" if s.has_otp else ""),
    ]
    if secrets is not None and secrets.notes:
        lines.append(("Notes", secrets.notes))
    elif s.has_notes:
        lines.append(("Notes", MASK))
    for extra in s.fields:
        value = extra.value
        if extra.secret:
            value = secrets.secret_fields.get(extra.name, "") if secrets else MASK
        lines.append((extra.name, value))
    out = [f"{'ID:':<15} {s.id}"]
    out += [f"{safe(label) + ':':<15} {safe(value)}" for label, value in lines if value]
    return out


@app.command()
@handled
def show(
    ctx: typer.Context,
    record_id: str = typer.Argument(..., metavar="ID", help="Record id or prefix."),
    reveal: bool = typer.Option(False, "--reveal", help="Show secrets in the clear."),
    as_json: bool = JsonOut,
    password_stdin: bool = PasswordStdin,
) -> None:
    """Show a record; secrets stay masked unless --reveal."""
    with open_vault(_device(ctx), password_stdin) as vault:
        view = vault.reveal(record_id) if reveal else vault.get(record_id)
    if as_json:
        _echo_json(view.to_json())
        return
    for line in _show_lines(view):
        typer.echo(line)


@app.command()
@handled
def copy(
    ctx: typer.Context,
    record_id: str = typer.Argument(..., metavar="ID", help="Record id or prefix."),
    field_name: str = typer.Option("password", "--field", help="password or username."),
    password_stdin: bool = PasswordStdin,
) -> None:
    """Copy a record's password (or username) to the clipboard, cleared later."""
    with open_vault(_device(ctx), password_stdin) as vault:
        title = vault.resolve(record_id).title
        seconds = vault.copy(record_id, field_name)
    typer.echo(
        f"Copied the {field_name} of {safe(title)!r}; the clipboard is cleared in "
        f"{seconds} seconds."
    )


@app.command()
@handled
def otp(
    ctx: typer.Context,
    record_id: str = typer.Argument(..., metavar="ID", help="Record id or prefix."),
    as_json: bool = JsonOut,
    password_stdin: bool = PasswordStdin,
) -> None:
    """Show the record's current one-time code and how long it stays valid."""
    with open_vault(_device(ctx), password_stdin) as vault:
        code = vault.otp(record_id)
    if as_json:
        _echo_json({"code": code.code, "seconds_left": code.seconds_left})
        return
    typer.echo(f"{code.code}  (valid for {code.seconds_left} more seconds)")


# --- status, sync, logout ----------------------------------------------------


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h {rest // 60}m"


@app.command()
@handled
def status(ctx: typer.Context, as_json: bool = JsonOut) -> None:
    """Show the server, last sync, time to live left, queued events, biometrics."""
    info = _device(ctx).status()
    if as_json:
        _echo_json(info.to_json())
        return
    if not info.paired:
        typer.echo(f"Not paired (profile {info.profile}).")
        if info.erased_reason:
            typer.echo(f"The offline copy was erased: {info.erased_reason}.")
        return
    left = int(info.ttl_left.total_seconds()) if info.ttl_left else 0
    ttl = _duration(left) if left else "expired"
    rows = [
        ("Server", info.server_url),
        ("Username", info.username),
        ("Device", info.device_id),
        ("Last sync", info.last_sync_at.isoformat() if info.last_sync_at else "never"),
        ("Offline TTL left", ttl if info.last_sync_at else "sync first"),
        ("Queued audit events", str(info.queued_events)),
        ("Biometric unlock", "on" if info.biometric else "off"),
        ("Profile", info.profile),
    ]
    for label, value in rows:
        typer.echo(f"{label + ':':<21} {value}")


@app.command("sync")
@handled
def sync_command(ctx: typer.Context, password_stdin: bool = PasswordStdin) -> None:
    """Upload queued audit events and fetch what changed."""
    with open_vault(_device(ctx), password_stdin) as vault:
        summary = vault.sync()
    kind = "full" if summary.full else "changes"
    typer.echo(
        f"Synced ({kind}): {summary.records} records, {summary.upserted} new or "
        f"changed, {summary.removed} removed; {summary.events_uploaded} audit "
        "events uploaded."
    )


@app.command()
@handled
def logout(
    ctx: typer.Context,
    force: bool = typer.Option(
        False, "--force", help="Erase this device's copy even if the server is away."
    ),
    password_stdin: bool = PasswordStdin,
) -> None:
    """Upload queued events, unregister this device, and erase its offline copy."""
    from strongroom.client.errors import CacheCorrupt

    device = _device(ctx)
    try:
        vault = open_vault(device, password_stdin)
    except CacheCorrupt:
        if not force:
            raise
        # A damaged copy cannot be unlocked, nor a password checked against
        # it (it is found damaged before one is asked for): --force erases it.
        device.erase("you logged out", leave_note=False)
        typer.echo("The damaged offline copy was erased.")
        return
    vault.logout(force=force)
    typer.echo("Logged out; this device's offline copy is erased.")


def run() -> None:
    """Entry point of `strongroom-mobile`."""
    # The core never configures logging; the CLI shows errors only, since
    # every failure already reaches the person as one sentence.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(message)s")
    app()
