"""`strongroom appserver`, `strongroom serve` and the `strongroom mobile` group.

    strongroom appserver [--host H] [--port P] [--cert F --key F]
    strongroom serve
    strongroom mobile set-password USER [--password-stdin]
    strongroom mobile clear USER
    strongroom mobile qr USER [--png FILE] [--svg FILE]
    strongroom mobile regenerate-pairing-secret
    strongroom mobile devices [USER] [--json]
    strongroom mobile revoke DEVICE_ID
    strongroom mobile wipe DEVICE_ID

Other modules may add commands to `mobile_app` (the troubleshooter adds
`query-pin`).
"""

import datetime
import io
import logging
from pathlib import Path

import segno
import typer

from strongroom.server.accounts import service as accounts
from strongroom.server.appserver.app import create_appserver_app
from strongroom.server.appserver.runner import ServedApp, serve_apps
from strongroom.server.cli.common import (
    STATE,
    JsonOption,
    PasswordStdinOption,
    console,
    done,
    emit,
    operation,
    read_secret,
    refuse_missing_folder,
)
from strongroom.server.core import logging_setup
from strongroom.server.core.errors import UsageError
from strongroom.server.core.files import write_atomically
from strongroom.server.mobile import service as mobile

log = logging.getLogger(__name__)

mobile_app = typer.Typer(
    help="Mobile master passwords, QR codes and paired devices.",
    no_args_is_help=True,
)


# --- servers -----------------------------------------------------------------


def _configure_server_logging() -> None:
    settings = STATE.settings()
    logging_setup.configure(level=settings.log_level, fmt=settings.log_format)


def appserver(
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on (default: appserver_host setting)."
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        min=1,
        max=65535,
        help="Port to listen on (default: appserver_port setting, 9443).",
    ),
    cert: Path | None = typer.Option(
        None, "--cert", help="TLS certificate (PEM); default: the one `init` made."
    ),
    key: Path | None = typer.Option(
        None, "--key", help="The certificate's private key (PEM)."
    ),
) -> None:
    """Serve the mobile API over HTTPS (the App Server)."""
    if (cert is None) != (key is None):
        raise UsageError("give --cert and --key together")
    _configure_server_logging()
    settings = STATE.settings()
    instance = STATE.instance()
    served: ServedApp = (
        create_appserver_app(instance),
        host or settings.appserver_host,
        port or settings.appserver_port,
        cert or settings.cert_file,
        key or settings.cert_key_file,
    )

    def listening() -> None:
        console.print(
            f"App Server on https://{served[1]}:{served[2]} (Ctrl-C stops it)",
            highlight=False,
            markup=False,
        )

    serve_apps([served], on_listening=listening)


def serve() -> None:
    """Run the web UI and the App Server together (one machine)."""
    _configure_server_logging()
    settings = STATE.settings()
    instance = STATE.instance()
    apps: list[ServedApp] = []
    lines: list[str] = []
    try:
        # Imported here: the web layer is optional for an App Server host.
        from strongroom.server.web.app import create_web_app
    except ModuleNotFoundError as exc:
        if exc.name != "strongroom.server.web.app":
            raise
        console.print(
            "The web UI is not available in this build; serving the App Server alone.",
            highlight=False,
            markup=False,
        )
    else:
        web_tls = settings.web_tls
        apps.append(
            (
                create_web_app(instance),
                settings.web_host,
                settings.web_port,
                settings.cert_file if web_tls else None,
                settings.cert_key_file if web_tls else None,
            )
        )
        scheme = "https" if web_tls else "http"
        lines.append(f"Web UI on {scheme}://{settings.web_host}:{settings.web_port}")
    apps.append(
        (
            create_appserver_app(instance),
            settings.appserver_host,
            settings.appserver_port,
            settings.cert_file,
            settings.cert_key_file,
        )
    )
    lines.append(
        f"App Server on https://{settings.appserver_host}:{settings.appserver_port}"
        + (" (Ctrl-C stops both)" if len(apps) > 1 else " (Ctrl-C stops it)")
    )

    def listening() -> None:
        for line in lines:
            console.print(line, highlight=False, markup=False)

    serve_apps(apps, on_listening=listening)


# --- master password and QR ----------------------------------------------------


@mobile_app.command("set-password")
def set_password(
    user: str = typer.Argument(..., help="The user: name or DOMAIN\\name."),
    password_stdin: bool = PasswordStdinOption,
) -> None:
    """Set or reset a user's mobile master password (revokes their devices)."""
    password = read_secret(password_stdin, "Master password", confirm=True)
    with operation() as (_instance, session, actor):
        target = accounts.find_user(session, user)
        change = mobile.set_master_password(session, actor, target, password)
    done(
        f"Mobile master password of {target.qualified_name} set; earlier QR codes "
        f"no longer pair; {change.devices_revoked} device(s) revoked."
    )


@mobile_app.command("clear")
def clear(
    user: str = typer.Argument(..., help="The user: name or DOMAIN\\name."),
) -> None:
    """Remove a user's mobile master password and revoke their devices."""
    with operation() as (_instance, session, actor):
        target = accounts.find_user(session, user)
        revoked = mobile.clear_master_password(session, actor, target)
    done(
        f"Mobile credentials of {target.qualified_name} cleared; "
        f"{revoked} device(s) revoked."
    )


@mobile_app.command("unlock")
def unlock(
    user: str = typer.Argument(..., help="The user: name or DOMAIN\\name."),
) -> None:
    """Lift a user's mobile lock-out (failed master passwords); devices stay."""
    with operation() as (_instance, session, actor):
        target = accounts.find_user(session, user)
        lifted = mobile.lift_lockout(session, actor, target)
    if lifted:
        done(f"{target.qualified_name} may pair and sync again.")
    else:
        done(f"{target.qualified_name} was not locked out.")


@mobile_app.command("qr")
def qr(
    user: str = typer.Argument(..., help="The user: name or DOMAIN\\name."),
    png: Path | None = typer.Option(None, "--png", help="Write the QR code as PNG."),
    svg: Path | None = typer.Option(None, "--svg", help="Write the QR code as SVG."),
) -> None:
    """Show the user's pairing QR code (in the terminal unless --png/--svg)."""
    outputs = [(path, kind) for path, kind in ((png, "png"), (svg, "svg")) if path]
    for path, kind in outputs:
        if path.is_dir():
            raise UsageError(
                f"--{kind} {path} is a directory",
                hint=f"give a file name, e.g. --{kind} {path / ('qr.' + kind)}",
            )
        refuse_missing_folder(path, f"--{kind}")
    with operation() as (instance, session, actor):
        target = accounts.find_user(session, user)
        payload = mobile.pairing_payload(session, actor, instance.cipher, target)
        code = segno.make(payload.to_uri(), error="m", micro=False)
        # Written inside the transaction: a file that cannot be written
        # leaves no "QR code issued" behind in the audit log.
        for path, kind in outputs:
            _write_qr(code, path, kind)
    for path, _kind in outputs:
        done(f"QR code for {target.qualified_name} written to {path}.")
    if not outputs:
        code.terminal(compact=True)
        done(
            f"Scan this with the Strongroom app to pair {target.qualified_name}'s "
            "phone."
        )


def _write_qr(code: segno.QRCode, path: Path, kind: str) -> None:
    buffer = io.BytesIO()
    code.save(buffer, kind=kind, scale=8, border=4)
    try:
        # The code carries a pairing token: keep the file private.
        write_atomically(path, buffer.getvalue(), mode=0o600)
    except OSError as exc:
        raise UsageError(
            f"cannot write the QR code to {path}: {exc.strerror or type(exc).__name__}",
            hint="choose a file in a directory you may write to",
        ) from exc


@mobile_app.command("regenerate-pairing-secret")
def regenerate_pairing_secret() -> None:
    """Make a new App Pairing Secret: every QR code stops pairing and every
    paired device is revoked (its phone erases its cache on its next contact)."""
    with operation() as (instance, session, actor):
        result = mobile.regenerate_pairing_secret(session, actor, instance.cipher)
    revoked = result.devices_revoked
    devices = f"{revoked} paired device{'' if revoked == 1 else 's'}"
    done(
        f"Pairing secret regenerated (generation {result.generation}): earlier QR "
        f"codes no longer pair and {devices} {'was' if revoked == 1 else 'were'} "
        "revoked. Every phone must be paired again from a new QR code."
    )


# --- devices -----------------------------------------------------------------

_DEVICE_COLUMNS = (
    "id",
    "user",
    "name",
    "platform",
    "status",
    "paired_at",
    "last_sync_at",
    "last_failure_at",
    "last_failure_reason",
)


def _when(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


@mobile_app.command("devices")
def devices(
    user: str | None = typer.Argument(None, help="Only this user's devices."),
    as_json: bool = JsonOption,
) -> None:
    """List paired devices with their last sync and last failure."""
    with operation() as (_instance, session, actor):
        target = accounts.find_user(session, user) if user else None
        rows = [
            {
                "id": info.id,
                "user": info.user_name,
                "name": info.name,
                "platform": info.platform,
                "status": info.status,
                "paired_at": _when(info.paired_at),
                "last_seen_at": _when(info.last_seen_at),
                "last_sync_at": _when(info.last_sync_at),
                "last_failure_at": _when(info.last_failure_at),
                "last_failure_reason": info.last_failure_reason,
                "revoked_reason": info.revoked_reason,
            }
            for info in mobile.list_devices(session, actor, target)
        ]
    emit(rows, _DEVICE_COLUMNS, as_json=as_json, title="Paired devices")


@mobile_app.command("revoke")
def revoke(device_id: str = typer.Argument(..., help="The device id.")) -> None:
    """Revoke a device: it erases its cache on its next contact."""
    with operation() as (_instance, session, actor):
        device = mobile.revoke_device(session, actor, device_id)
        status = device.status
    done(f"Device {device_id} is {status}.")


@mobile_app.command("wipe")
def wipe(device_id: str = typer.Argument(..., help="The device id.")) -> None:
    """Order a device to erase its cache on its next contact (and revoke it)."""
    with operation() as (_instance, session, actor):
        device = mobile.request_wipe(session, actor, device_id)
        status = device.status
    done(f"Device {device_id} is {status}; it erases its cache on its next contact.")
