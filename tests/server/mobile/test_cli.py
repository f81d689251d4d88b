"""The `strongroom mobile ...` commands, through the real command line parser."""

import json
import logging
import os
import socket
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from strongroom.crypto.certificates import make_self_signed
from strongroom.protocol.qr import PairingPayload
from strongroom.server.audit.models import AuditEvent
from strongroom.server.cli.common import STATE
from strongroom.server.cli.main import app
from strongroom.server.core.config import Settings
from strongroom.server.core.errors import (
    ConfigurationError,
    StrongroomError,
    UsageError,
)
from strongroom.server.mobile import pairing
from strongroom.server.mobile.models import Device, MobileCredential
from tests.server.cli.conftest import STRONGROOM_BIN
from tests.server.mobile.helpers import MASTER_PASSWORD, WEB_PASSWORD, Phone, World


@pytest.fixture
def cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[CliRunner, list[str]]]:
    """A runner and the leading arguments naming the test instance."""
    if settings.database_url:
        monkeypatch.setenv("STRONGROOM_DATABASE_URL", settings.database_url)
    yield CliRunner(), ["--data-dir", str(settings.data_dir)]
    STATE.close()


def _run(
    cli: tuple[CliRunner, list[str]], *args: str, stdin: str | None = None
) -> Result:
    runner, base = cli
    result = runner.invoke(app, [*base, *args], input=stdin)
    STATE.close()
    return result


def _generation(world: World) -> int:
    with world.session() as session:
        row = session.get(MobileCredential, world.alice_id)
        assert row is not None
        return row.generation


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 12 characters"),
        (WEB_PASSWORD, "differ from the web password"),
    ],
    ids=["too short", "same as web password"],
)
def test_set_password_refuses_weak_or_reused(
    cli: tuple[CliRunner, list[str]], world: World, password: str, problem: str
) -> None:
    """The command refuses a weak master password or the web password."""
    before = _generation(world)
    result = _run(
        cli,
        "mobile",
        "set-password",
        "alice",
        "--password-stdin",
        stdin=password + "\n",
    )
    assert isinstance(result.exception, StrongroomError)
    assert problem in result.exception.message
    assert _generation(world) == before


def test_set_password_and_clear(cli: tuple[CliRunner, list[str]], world: World) -> None:
    """Setting moves the generation on; clearing revokes devices."""
    before = _generation(world)
    result = _run(
        cli,
        "mobile",
        "set-password",
        "alice",
        "--password-stdin",
        stdin="brand-new-master-77\n",
    )
    assert result.exit_code == 0, result.output
    assert "set" in result.output
    assert _generation(world) == before + 1

    result = _run(cli, "mobile", "clear", "alice")
    assert result.exit_code == 0, result.output
    assert "0 device(s) revoked" in result.output
    assert _generation(world) == before + 2


def test_qr_png_decodes_to_the_pairing_uri(
    cli: tuple[CliRunner, list[str]], world: World, tmp_path: Path
) -> None:
    """`mobile qr --png/--svg` writes private files; the PNG scans back to a
    payload that pairs."""
    png, svg = tmp_path / "alice.png", tmp_path / "alice.svg"
    result = _run(cli, "mobile", "qr", "alice", "--png", str(png), "--svg", str(svg))
    assert result.exit_code == 0, result.output

    assert stat.S_IMODE(png.stat().st_mode) == 0o600
    assert svg.read_text().lstrip().startswith("<?xml")
    decoded = zxingcpp.read_barcodes(Image.open(png))
    assert len(decoded) == 1
    payload = PairingPayload.from_uri(decoded[0].text)
    assert (payload.username, payload.instance_id) == ("alice", world.qr.instance_id)

    phone = Phone.new()
    paired = pairing.pair(
        world.instance, phone.pair_request(payload, MASTER_PASSWORD), ip=None
    )
    assert paired.device_id


def test_qr_in_terminal(cli: tuple[CliRunner, list[str]], world: World) -> None:
    """Without a file option the QR code is drawn in the terminal."""
    result = _run(cli, "mobile", "qr", "alice")
    assert result.exit_code == 0, result.output
    assert "█" in result.output or "▀" in result.output


def test_devices_revoke_and_wipe(
    cli: tuple[CliRunner, list[str]], world: World
) -> None:
    """Devices are listed as JSON; revoke and wipe change their status."""
    ids = []
    for _ in range(2):
        phone = Phone.new()
        ids.append(
            pairing.pair(
                world.instance, phone.pair_request(world.qr), ip=None
            ).device_id
        )

    listed = json.loads(_run(cli, "mobile", "devices", "alice", "--json").output)
    assert sorted(d["id"] for d in listed) == sorted(ids)
    assert {d["status"] for d in listed} == {"active"}
    assert {"last_sync_at", "last_failure_reason"} <= set(listed[0])

    assert "revoked" in _run(cli, "mobile", "revoke", ids[0]).output
    assert "wipe_requested" in _run(cli, "mobile", "wipe", ids[1]).output
    with world.session() as session:
        statuses = {session.get(Device, i).status for i in ids}  # type: ignore[union-attr]
    assert statuses == {"revoked", "wipe_requested"}

    result = _run(cli, "mobile", "revoke", "no-such-device")
    assert isinstance(result.exception, StrongroomError)

    table = _run(cli, "mobile", "devices")
    assert table.exit_code == 0 and "alice" in table.output


def test_regenerate_pairing_secret_revokes_every_paired_device(
    cli: tuple[CliRunner, list[str]], world: World
) -> None:
    """A new pairing secret revokes every paired device and says how many, and
    that each phone must be paired again from a new QR code."""
    for _ in range(2):
        pairing.pair(world.instance, Phone.new().pair_request(world.qr), ip=None)

    result = _run(cli, "mobile", "regenerate-pairing-secret")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "earlier QR codes no longer pair" in said
    assert "2 paired devices were revoked" in said
    assert "Every phone must be paired again from a new QR code" in said
    listed = json.loads(_run(cli, "mobile", "devices", "alice", "--json").output)
    assert [d["status"] for d in listed] == ["revoked", "revoked"]

    again = _run(cli, "mobile", "regenerate-pairing-secret")
    assert "0 paired devices were revoked" in " ".join(again.output.split())


def test_appserver_needs_cert_and_key_together(
    cli: tuple[CliRunner, list[str]], world: World, tmp_path: Path
) -> None:
    """`appserver --cert` without `--key` is a usage error, before serving."""
    result = _run(cli, "appserver", "--cert", str(tmp_path / "c.pem"))
    assert isinstance(result.exception, StrongroomError)
    assert "--cert and --key" in result.exception.message


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the root logger back after a server command configured it.

    `appserver` points logging at the stderr CliRunner captures and closes;
    later tests would log into that closed stream.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _write_pair(directory: Path, name: str) -> tuple[Path, Path]:
    pair = make_self_signed(["localhost"])
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    return cert, key


def _not_pem(directory: Path) -> list[str]:
    junk = directory / "junk.pem"
    junk.write_text("not a certificate\n")
    return ["--cert", str(junk), "--key", str(junk)]


def _mismatched(directory: Path) -> list[str]:
    cert, _ = _write_pair(directory, "one")
    _, key = _write_pair(directory, "two")
    return ["--cert", str(cert), "--key", str(key)]


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (_not_pem, "a file is not a PEM certificate or key"),
        (_mismatched, "the key does not belong to the certificate"),
        (
            lambda _d: ["--host", "203.0.113.9", "--port", "9443"],
            "cannot listen on 203.0.113.9:9443: this machine has no such address",
        ),
    ],
    ids=["not PEM", "key of another certificate", "address not of this machine"],
)
@pytest.mark.usefixtures("restored_logging")
def test_appserver_refuses_unusable_tls_files_and_addresses(
    cli: tuple[CliRunner, list[str]],
    world: World,
    tmp_path: Path,
    make_args: Callable[[Path], list[str]],
    message: str,
) -> None:
    """A bad certificate, a key of another certificate or an address this
    machine lacks is one error naming it, before anything listens."""
    result = _run(cli, "appserver", "--host", "127.0.0.1", *make_args(tmp_path))
    assert isinstance(result.exception, ConfigurationError), result.output
    assert message in result.exception.message
    assert result.exception.hint
    assert "App Server on" not in result.output


def test_appserver_on_a_busy_port_prints_one_error_line(
    settings: Settings, world: World
) -> None:
    """The real command on a port already in use says so in one line and
    exits 1: no traceback from inside the server."""
    env = {**os.environ, "STRONGROOM_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["STRONGROOM_DATABASE_URL"] = settings.database_url
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            [str(STRONGROOM_BIN), "appserver", "--host", "127.0.0.1", "--port", port],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert (
        f"error: cannot listen on 127.0.0.1:{port}: the address is already in use"
        in done.stderr
    )
    assert "fix: stop what listens there" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def _qr_issued(world: World) -> int:
    with world.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.event_type == "mobile.qr_issued")
            )
            or 0
        )


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (lambda d: d, "is a directory"),
        (lambda d: d / "a-file" / "alice.png", "cannot write the QR code to"),
    ],
    ids=["a directory", "under a plain file"],
)
def test_qr_to_a_path_that_cannot_be_written_says_so(
    cli: tuple[CliRunner, list[str]],
    world: World,
    tmp_path: Path,
    make_path: Callable[[Path], Path],
    message: str,
) -> None:
    """A --png path that is a directory or cannot be created is one error
    naming it; no QR code is recorded as issued."""
    (tmp_path / "a-file").write_text("in the way\n")
    before = _qr_issued(world)
    result = _run(cli, "mobile", "qr", "alice", "--png", str(make_path(tmp_path)))
    assert isinstance(result.exception, UsageError), result.output
    assert message in result.exception.message
    assert result.exception.hint
    assert _qr_issued(world) == before


def test_qr_into_a_missing_folder_is_refused_not_created(
    cli: tuple[CliRunner, list[str]], world: World, tmp_path: Path
) -> None:
    """`--png` in a folder that is not there: one error naming the folder and
    the fix (create it first); no folder made and no QR code recorded as issued."""
    before = _qr_issued(world)
    folder = tmp_path / "nonexistent" / "dir"
    png = folder / "a.png"
    result = _run(cli, "mobile", "qr", "alice", "--png", str(png))
    assert isinstance(result.exception, UsageError), result.output
    assert (
        result.exception.message == f"--png {png}: the folder {folder} does not exist"
    )
    assert result.exception.hint == (
        f"create it first (mkdir -p {folder}) or choose a file in a folder that exists"
    )
    assert result.stdout == ""
    assert not (tmp_path / "nonexistent").exists()
    assert _qr_issued(world) == before
