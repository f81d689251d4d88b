"""`strongroom-mobile` in-process (CliRunner) with the fake server and the twins."""

import json
import sqlite3
from pathlib import Path

import pytest
import segno
from pydantic import SecretStr
from typer.testing import CliRunner

from strongroom.client.cli.main import Dependencies, app
from strongroom.client.clipboard import MemoryClipboard
from strongroom.client.config import ClientSettings
from strongroom.client.device import Device, Vault
from strongroom.client.errors import ServerRefused, ServerTimeout, ServerUnreachable
from strongroom.client.keystore import MemoryKeystore
from strongroom.protocol.errors import ErrorCode
from tests.client.conftest import SECRET_PASSWORD
from tests.client.fakes import MASTER, PAYLOAD, FakeClock, FakeServer

runner = CliRunner()


@pytest.fixture
def deps(device: Device) -> Dependencies:
    """Dependencies that hand the CLI the test's device (fake server, twins)."""

    def make(settings: ClientSettings) -> Device:
        device.settings = settings
        return device

    return Dependencies(make_device=make, settings=device.settings)


def invoke(
    deps: Dependencies,
    *args: str,
    stdin: str | None = MASTER + "\n",
    env: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), input=stdin, obj=deps, env=env)


def test_ls_json_lists_folders_and_lists_alphabetically(
    deps: Dependencies, vault: Vault
) -> None:
    """`ls --json` gives each list by path with its records by title."""
    result = invoke(deps, "ls", "--json", "--password-stdin")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [entry["path"] for entry in body] == ["Finance/Bank", "Finance/Docs"]
    assert [r["title"] for r in body[0]["records"]] == ["Bank login", "Brokerage"]
    assert SECRET_PASSWORD not in result.stdout


def test_ls_text(deps: Dependencies, vault: Vault) -> None:
    """`ls` prints each list with its count and short record ids."""
    result = invoke(deps, "ls", "--password-stdin")
    assert result.exit_code == 0
    assert "Finance/Bank  (2)" in result.stdout
    assert "Bank login  alice@bank" in result.stdout


def test_show_masks_unless_reveal(deps: Dependencies, vault: Vault) -> None:
    """`show` masks the password; `show --reveal` prints it."""
    record_id = vault.search("bank login")[0].id
    masked = invoke(deps, "show", record_id[:8], "--password-stdin")
    assert masked.exit_code == 0
    assert SECRET_PASSWORD not in masked.stdout
    assert "Password:       ••••••••" in masked.stdout
    revealed = invoke(deps, "show", record_id, "--reveal", "--password-stdin")
    assert f"Password:       {SECRET_PASSWORD}" in revealed.stdout


def test_search_prints_matches(deps: Dependencies, vault: Vault) -> None:
    """`search` finds by URL and prints the list path."""
    result = invoke(deps, "search", "BROKER.example", "--password-stdin")
    assert result.exit_code == 0
    assert "Brokerage" in result.stdout and "[Finance/Bank]" in result.stdout


def test_copy_uses_the_clipboard(
    deps: Dependencies, vault: Vault, clipboard: MemoryClipboard
) -> None:
    """`copy` puts the password on the clipboard and says when it is cleared."""
    record_id = vault.search("bank login")[0].id
    result = invoke(deps, "copy", record_id, "--password-stdin")
    assert result.exit_code == 0
    assert clipboard.value == SECRET_PASSWORD
    assert "cleared in 30 seconds" in result.stdout
    assert SECRET_PASSWORD not in result.stdout


def test_copy_without_clipboard_is_one_clear_line(
    vault: Vault, tmp_path: Path, fake_server: FakeServer, clock: FakeClock
) -> None:
    """On a headless machine `copy` fails with one line, its next step, and exit 11."""
    headless = Device(
        vault.device.settings,
        keystore=MemoryKeystore(),
        connector_factory=lambda u, p: fake_server,
        clock=clock,
    )
    deps = Dependencies(make_device=lambda s: headless, settings=vault.device.settings)
    result = invoke(deps, "copy", vault.records()[0].id, "--password-stdin")
    assert result.exit_code == 11
    assert result.stderr.startswith("error: this device has no clipboard")
    assert len(result.stderr.strip().splitlines()) == 2
    assert "Traceback" not in result.output


def test_otp_json(deps: Dependencies, vault: Vault) -> None:
    """`otp --json` prints the code and the seconds left."""
    result = invoke(
        deps, "otp", vault.search("bank login")[0].id, "--json", "--password-stdin"
    )
    body = json.loads(result.stdout)
    assert len(body["code"]) == 6 and 0 < body["seconds_left"] <= 30


def test_status_without_password(deps: Dependencies, vault: Vault) -> None:
    """`status` needs no password and shows server, TTL, queue and biometrics."""
    result = invoke(deps, "status", stdin=None)
    assert result.exit_code == 0
    for text in (
        "https://127.0.0.1:9",
        "alice",
        "Offline TTL left:",
        "Queued audit events:",
        "Biometric unlock:     off",
    ):
        assert text in result.stdout
    as_json = json.loads(invoke(deps, "status", "--json", stdin=None).stdout)
    assert as_json["paired"] is True and as_json["ttl_left_seconds"] == 7 * 86400


def test_unlock_prints_a_token_that_the_environment_uses(
    deps: Dependencies, vault: Vault
) -> None:
    """`unlock` prints a token that replaces the password until `lock`."""
    result = invoke(deps, "unlock", "--password-stdin")
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert token.startswith("srm1.")
    env = {"STRONGROOM_MOBILE_SESSION": token}
    session_deps = Dependencies(
        make_device=deps.make_device,
        settings=vault.device.settings.model_copy(update={"session": SecretStr(token)}),
    )
    listed = invoke(session_deps, "ls", stdin=None, env=env)
    assert listed.exit_code == 0, listed.output
    assert invoke(deps, "lock", stdin=None).exit_code == 0
    refused = invoke(session_deps, "ls", stdin=None, env=env)
    assert refused.exit_code == 9
    assert "STRONGROOM_MOBILE_SESSION has ended" in refused.stderr


def test_wrong_password_is_one_line_and_counts(
    deps: Dependencies, vault: Vault
) -> None:
    """A wrong master password: one line saying attempts left, exit 9, nothing shown."""
    result = invoke(deps, "ls", "--password-stdin", stdin="wrong\n")
    assert result.exit_code == 9
    assert result.stderr.splitlines() == [
        "error: that master password is not right",
        "  next: 2 attempts left before this device erases its offline copy",
    ]
    assert result.stdout == ""


def test_no_terminal_without_password_stdin(deps: Dependencies, vault: Vault) -> None:
    """Without a terminal and without --password-stdin the CLI says how to pipe it."""
    result = invoke(deps, "ls", stdin="")
    assert result.exit_code == 2
    assert "--password-stdin" in result.stderr


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com",
        "strongroom://pair?v=1&url=http://x&pin=a&instance=i&user=u&token=t",
        "strongroom://pair?v=2&url=https://x&pin=a&instance=i&user=u&token=t",
        "strongroom://other?v=1",
        "",
    ],
)
def test_qr_text_not_ours(deps: Dependencies, text: str) -> None:
    """A pairing text that is not ours: one line, exit 5, nothing created."""
    result = invoke(deps, "pair", "--qr-text", text, "--password-stdin")
    assert result.exit_code == 5, result.output
    assert result.stderr.startswith("error: ")
    assert not deps.settings.cache_file.exists()  # type: ignore[union-attr]


def test_qr_image_not_ours_and_not_an_image(deps: Dependencies, tmp_path: Path) -> None:
    """A QR code of a web address, a file that is no picture, a missing file
    or a folder is refused, each named."""
    other = tmp_path / "other.png"
    segno.make("https://example.com/not-strongroom").save(other, scale=5)
    result = invoke(deps, "pair", "--qr-image", str(other), "--password-stdin")
    assert result.exit_code == 5
    assert "not a Strongroom pairing code" in result.stderr
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a picture")
    result = invoke(deps, "pair", "--qr-image", str(junk), "--password-stdin")
    assert result.exit_code == 5
    assert "cannot be read as a picture" in result.stderr
    missing = tmp_path / "missing.png"
    result = invoke(deps, "pair", "--qr-image", str(missing), "--password-stdin")
    assert result.exit_code == 5
    assert f"there is no file {missing}" in result.stderr
    assert "check the path" in result.stderr
    result = invoke(deps, "pair", "--qr-image", str(tmp_path), "--password-stdin")
    assert result.exit_code == 5
    assert f"{tmp_path} is a folder, not a picture" in result.stderr
    blank = tmp_path / "blank.png"
    segno.make("x").save(blank, scale=1, border=0, dark="white")
    assert (
        invoke(deps, "pair", "--qr-image", str(blank), "--password-stdin").exit_code
        == 5
    )


def test_pair_from_a_qr_image(deps: Dependencies, tmp_path: Path) -> None:
    """`pair --qr-image` decodes a real PNG, shows server and user, pairs and syncs."""
    png = tmp_path / "qr.png"
    segno.make(PAYLOAD.to_uri(), error="m").save(png, scale=4)
    result = invoke(deps, "pair", "--qr-image", str(png), "--password-stdin")
    assert result.exit_code == 0, result.output
    assert "Server:   https://127.0.0.1:9" in result.stdout
    assert "Username: alice" in result.stdout
    assert "Synced 3 records." in result.stdout


def test_profile_that_is_not_writable(deps: Dependencies, tmp_path: Path) -> None:
    """A profile path that cannot be written: one line, exit 3, nothing sent."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = invoke(
        deps,
        "--profile",
        str(blocker / "profile"),
        "pair",
        "--qr-text",
        PAYLOAD.to_uri(),
        "--password-stdin",
    )
    assert result.exit_code == 3, result.output
    assert "cannot write in the profile directory" in result.stderr


def test_logout_force_erases_a_damaged_cache(deps: Dependencies, vault: Vault) -> None:
    """`logout --force` removes a cache that can no longer be opened."""
    vault.lock()
    deps.settings.cache_file.write_bytes(b"garbage" * 100)  # type: ignore[union-attr]
    assert invoke(deps, "ls", "--password-stdin").exit_code == 6
    result = invoke(deps, "logout", "--force", "--password-stdin")
    assert result.exit_code == 0
    assert not deps.settings.cache_file.exists()  # type: ignore[union-attr]


DAMAGE = [
    "DELETE FROM meta WHERE key = 'kdf'",
    "UPDATE wrapped_keys SET blob = x'00' WHERE kind = 'password'",
    "DELETE FROM wrapped_keys",
    "DELETE FROM sealed",
]


def _damage(deps: Dependencies, edit: str) -> Path:
    path: Path = deps.settings.cache_file  # type: ignore[assignment]
    con = sqlite3.connect(path)
    con.execute(edit)
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


@pytest.mark.parametrize("edit", DAMAGE)
def test_logout_force_erases_a_damaged_copy_without_asking(
    deps: Dependencies, vault: Vault, edit: str
) -> None:
    """A copy no password could be checked against is erased by `logout
    --force` without asking for one: no terminal is needed, stdin not read."""
    vault.lock()
    path = _damage(deps, edit)

    result = invoke(deps, "logout", "--force", stdin=None)

    assert result.exit_code == 0, result.output
    assert "The damaged offline copy was erased." in result.stdout
    assert "master password" not in result.output
    assert not path.exists()


@pytest.mark.parametrize("edit", DAMAGE)
def test_logout_without_force_refuses_a_damaged_copy_before_asking(
    deps: Dependencies, vault: Vault, edit: str
) -> None:
    """Without --force a damaged copy gives its clear error, before any
    password prompt, and stays as it was."""
    vault.lock()
    path = _damage(deps, edit)
    before = path.read_bytes()

    result = invoke(deps, "logout", stdin=None)

    assert result.exit_code == 6, result.output
    assert result.stderr.startswith("error: the offline copy at ")
    assert "logout --force" in result.stderr
    assert "master password" not in result.output
    assert path.read_bytes() == before


def test_logout_force_on_an_intact_copy_still_checks_the_password(
    deps: Dependencies, vault: Vault
) -> None:
    """--force does not skip the password for a copy that can check it."""
    vault.lock()

    result = invoke(deps, "logout", "--force", "--password-stdin", stdin="wrong\n")

    assert result.exit_code == 9, result.output
    assert "master password is not right" in result.stderr
    assert deps.settings.cache_file.exists()  # type: ignore[union-attr]


def test_biometric_on_then_unlock_biometric(
    deps: Dependencies, vault: Vault, keystore: MemoryKeystore
) -> None:
    """`biometric on` stores a key; `unlock --biometric` then needs no password."""
    assert invoke(deps, "biometric", "on", "--password-stdin").exit_code == 0
    assert keystore.secrets
    result = invoke(deps, "unlock", "--biometric", stdin=None)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("srm1.")
    assert "Biometric unlock:     on" in invoke(deps, "status", stdin=None).stdout


@pytest.mark.parametrize(
    "edit",
    [
        "DELETE FROM meta WHERE key = 'kdf'",
        "UPDATE meta SET value = 'not json' WHERE key = 'kdf'",
        'UPDATE meta SET value = \'{"salt": "00", "time_cost": 1, '
        '"memory_kib": 8, "parallelism": 1}\' WHERE key = \'kdf\'',
        'UPDATE meta SET value = \'{"salt": "0011223344556677", "time_cost": 3, '
        '"memory_kib": 99999999999, "parallelism": 4}\' WHERE key = \'kdf\'',
        "UPDATE wrapped_keys SET blob = x'00' WHERE kind = 'password'",
        "DELETE FROM wrapped_keys",
        "DELETE FROM sealed",
    ],
)
def test_damaged_metadata_is_one_line_and_left_alone(
    deps: Dependencies, vault: Vault, edit: str
) -> None:
    """A cache whose unlock data is damaged: exit 6, two lines, no count, unchanged."""
    vault.lock()
    path = deps.settings.cache_file  # type: ignore[union-attr]
    con = sqlite3.connect(path)
    con.execute(edit)
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = path.read_bytes()
    result = invoke(deps, "ls", "--password-stdin")
    assert result.exit_code == 6, result.output
    assert result.stderr.startswith("error: the offline copy at ")
    assert len(result.stderr.strip().splitlines()) == 2
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE meta SET value = '\"x\"' WHERE key = 'policies'",
        "DELETE FROM meta WHERE key = 'queue_public_key'",
    ],
)
def test_damaged_lockout_data_with_a_wrong_password(
    deps: Dependencies, vault: Vault, edit: str
) -> None:
    """A wrong password on a cache whose lock-out data is damaged: exit 6, no trace."""
    vault.lock()
    con = sqlite3.connect(deps.settings.cache_file)  # type: ignore[union-attr]
    con.execute(edit)
    con.commit()
    con.close()
    result = invoke(deps, "ls", "--password-stdin", stdin="wrong\n")
    assert result.exit_code == 6, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"pin": "not-a-pin"}, "key pin is not a SHA-256 pin"),
        ({"pin": "AAAA"}, "key pin is not a SHA-256 pin"),
        ({"url": "https://"}, "server address 'https://' is not usable"),
        ({"url": "https://host:99999"}, "is not usable"),
    ],
)
def test_qr_text_with_a_broken_pin_or_address(
    deps: Dependencies, query: dict[str, str], says: str
) -> None:
    """A pairing code of ours whose pin or address is broken: exit 5, nothing sent."""
    import dataclasses

    payload = dataclasses.replace(PAYLOAD, **query)
    result = invoke(deps, "pair", "--qr-text", payload.to_uri(), "--password-stdin")
    assert result.exit_code == 5, result.output
    assert says in result.stderr
    assert not deps.settings.cache_file.exists()  # type: ignore[union-attr]


def test_qr_image_too_large_to_decode(deps: Dependencies, tmp_path: Path) -> None:
    """A picture too large to decode safely (a decompression bomb) is refused."""
    from PIL import Image

    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000), 1).save(bomb)
    result = invoke(deps, "pair", "--qr-image", str(bomb), "--password-stdin")
    assert result.exit_code == 5, result.output
    assert "is too large a picture" in result.stderr


def test_escape_sequences_in_a_record_never_reach_the_terminal(
    deps: Dependencies, tmp_path: Path, fake_server: FakeServer
) -> None:
    """Control characters a colleague put in notes are shown escaped, lines kept."""
    fake_server.add(
        "Trap",
        notes="line one\n\x1b]0;owned\x07\x1b[2Jline two\u202eevil",
        password="pw\x1b[31m",
    )
    paired = invoke(deps, "pair", "--qr-text", PAYLOAD.to_uri(), "--password-stdin")
    assert paired.exit_code == 0, paired.output
    trap = next(r for r in fake_server.records.values() if r.title == "Trap")
    result = invoke(deps, "show", trap.id, "--reveal", "--password-stdin")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "line one\n\\x1b]0;owned\\x07\\x1b[2Jline two\\u202eevil" in result.stdout
    assert "Password:       pw\\x1b[31m" in result.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STRONGROOM_MOBILE_SESSION_IDLE_MINUTES", "0"),
        ("STRONGROOM_MOBILE_CLIPBOARD", "carrier-pigeon"),
        ("STRONGROOM_MOBILE_READ_TIMEOUT_SECONDS", "soon"),
    ],
)
def test_a_bad_setting_names_its_variable(
    device: Device, tmp_path: Path, name: str, value: str
) -> None:
    """A STRONGROOM_MOBILE_* variable that is wrong: one line naming it, exit 2."""
    deps = Dependencies(make_device=lambda settings: device)
    env = {"STRONGROOM_MOBILE_HOME": str(tmp_path / "p"), name: value}
    result = invoke(deps, "status", stdin=None, env=env)
    assert result.exit_code == 2, result.output
    first, second = result.stderr.splitlines()
    assert first.startswith(f"error: {name} is not valid: ")
    assert second == f"  next: fix or unset {name} (docs/device.md lists the settings)"


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            ServerUnreachable("https://127.0.0.1:9", "[Errno 111] Connection refused"),
            "error: cannot reach the App Server at https://127.0.0.1:9",
        ),
        (
            ServerTimeout("https://127.0.0.1:9"),
            "error: the App Server at https://127.0.0.1:9 did not answer in time",
        ),
    ],
)
def test_pair_with_the_app_server_away_promises_no_offline_copy(
    deps: Dependencies,
    fake_server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    words: str,
) -> None:
    """Pairing while the App Server is down: one error line, exit 12, a hint
    that says nothing was paired (there is no offline copy yet), and no cache."""

    def away(request: object) -> object:
        raise error

    monkeypatch.setattr(fake_server, "pair", away)
    result = invoke(deps, "pair", "--qr-text", PAYLOAD.to_uri(), "--password-stdin")
    assert result.exit_code == 12, result.output
    assert words in result.stderr
    assert "nothing was paired, so the same QR code works" in result.stderr
    assert "offline copy" not in result.stderr
    assert not deps.settings.cache_file.exists()


def test_pair_while_locked_out_names_who_can_lift_it(
    deps: Dependencies, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock-out says how long once; the next line adds that an administrator
    can lift it now, instead of repeating the wait."""

    def locked(request: object) -> object:
        raise ServerRefused(
            ErrorCode.LOCKED_OUT,
            "too many failed attempts; try again in 15 minutes",
            retry_after_seconds=900,
        )

    monkeypatch.setattr(fake_server, "pair", locked)
    result = invoke(deps, "pair", "--qr-text", PAYLOAD.to_uri(), "--password-stdin")
    assert result.exit_code != 0
    assert result.stderr.splitlines() == [
        "error: the App Server refused: too many failed attempts; try again in "
        "15 minutes",
        "  next: wait, or ask your administrator to lift the lock-out now "
        "(`strongroom mobile unlock USER` on the server)",
    ]
    assert not deps.settings.cache_file.exists()
