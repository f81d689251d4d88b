"""The issue's "Bad input" section: one line naming the problem and the fix,
exit 1 (2 for usage), and nothing half-written."""

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from strongroom.server.core.config import Settings
from strongroom.server.core.db import Database
from strongroom.server.core.schema import alembic_config, head_revision, upgrade
from tests.server.cli.conftest import Cli, cli_env
from tests.server.support import row_counts

LONG_256 = "x" * 256


@pytest.fixture
def prepared(cli: Cli) -> Cli:
    """An instance with the list Finance/Bank, one record, user alice, group Ops."""
    assert cli("list", "add", "Finance/Bank", "--create-folders").exit_code == 0
    cli(
        "record",
        "add",
        "Finance/Bank",
        "--title",
        "r1",
        "--password-stdin",
        input="p\n",
    )
    cli("user", "add", "alice", "--password-stdin", input="alice-password-1\n")
    cli("group", "add", "Ops")
    return cli


PW = "a-password\n"

CASES = [
    # (args, stdin, exit code, words in the message)
    (["list", "add", "Finance/Bank"], None, 1, "already exists"),
    (["folder", "add", "Finance"], None, 1, "already exists"),
    (["list", "add", "finance/BANK"], None, 1, "as 'Bank' (names are compared"),
    (["folder", "add", "FINANCE"], None, 1, "as 'Finance'"),
    (["group", "add", "Ops"], None, 1, "already exists"),
    (["user", "add", "alice", "--password-stdin"], "alice-password-2\n", 1, "already"),
    (
        ["list", "add", "y" * 201],
        None,
        1,
        "list name has 201 characters; the limit is 200",
    ),
    (["list", "add", "Finance/L", "--description", LONG_256], None, 1, "limit is 255"),
    (["list", "add", "Nowhere/L"], None, 1, "no folder 'Nowhere'"),
    (
        ["record", "add", "Finance/Bank", "--title", " ", "--password-stdin"],
        PW,
        1,
        "title must not be empty",
    ),
    (
        ["record", "add", "Finance/Bank", "--title", LONG_256, "--password-stdin"],
        PW,
        1,
        "title has 256 characters; the limit is 255",
    ),
    (
        [
            "record",
            "add",
            "Finance/Bank",
            "--title",
            "t",
            "--username",
            LONG_256,
            "--password-stdin",
        ],
        PW,
        1,
        "username has 256 characters; the limit is 255",
    ),
    (
        [
            "record",
            "add",
            "Finance/Bank",
            "--title",
            "t",
            "--description",
            LONG_256,
            "--password-stdin",
        ],
        PW,
        1,
        "description has 256 characters; the limit is 255",
    ),
    (
        [
            "record",
            "add",
            "Finance/Bank",
            "--title",
            "t",
            "--expires",
            "31/12/2030",
            "--password-stdin",
        ],
        PW,
        2,
        "YYYY-MM-DD",
    ),
    (
        [
            "record",
            "add",
            "Finance/Bank",
            "--title",
            "t",
            "--field",
            "novalue",
            "--password-stdin",
        ],
        PW,
        2,
        "NAME=VALUE",
    ),
    (
        ["record", "add", "Finance/Bank", "--title", "t", "--secrets-json-stdin"],
        "{not json",
        2,
        "not JSON",
    ),
    (
        ["record", "add", "No/Such", "--title", "t", "--password-stdin"],
        PW,
        1,
        "no password list 'No/Such'",
    ),
    (
        ["grant", "Finance/Bank", "--user", "nobody", "--level", "view"],
        None,
        1,
        "no user called 'nobody'",
    ),
    (
        ["grant", "Finance/Bank", "--group", "Nobody", "--level", "view"],
        None,
        1,
        "no group called 'Nobody'",
    ),
    (
        ["grant", "Finance/Bank", "--user", "alice", "--level", "superuser"],
        None,
        2,
        "no level 'superuser'",
    ),
    (
        [
            "grant",
            "Finance/Bank",
            "--user",
            "alice",
            "--level",
            "view",
            "--mobile-access",
            "sometimes",
        ],
        None,
        2,
        "yes or no",
    ),
    (["grant", "Finance/Bank", "--level", "view"], None, 2, "exactly one grantee"),
    (
        ["grant", "Finance/Nope", "--user", "alice", "--level", "view"],
        None,
        1,
        "no password list 'Finance/Nope'",
    ),
    (["revoke", "Finance/Bank", "--group", "Ops"], None, 1, "holds no permission"),
    (["group", "add-member", "Ops", "nobody"], None, 1, "no user called 'nobody'"),
    (["user", "disable", "nobody"], None, 1, "no user called 'nobody'"),
    (["import", "/no/such/file.csv", "--into", "X"], None, 2, "no file /no/such"),
    (
        ["user", "set-password", "alice", "--password-stdin"],
        "short\n",
        1,
        "at least 12 characters",
    ),
]


def test_bad_input_gets_one_line_and_writes_nothing(
    prepared: Cli, settings: Settings
) -> None:
    """Each refusal in CASES names the problem (and fix), exits 1 or 2, and
    changes no row (one instance serves the whole table: each case leaves the
    database as it found it, which is what is being proved)."""
    url = settings.resolved_database_url
    before = row_counts(url)
    for args, stdin, exit_code, words in CASES:
        result = prepared(*args, input=stdin)
        case = " ".join(args)[:80]
        assert result.exit_code == exit_code, (case, result.stdout, result.stderr)
        assert words in result.stderr, (case, result.stderr)
        lines = result.stderr.splitlines()
        assert lines[0].startswith("error: ") and len(lines) <= 2, (case, lines)
        assert all(line.startswith("  fix: ") for line in lines[1:]), (case, lines)
        assert row_counts(url) == before, case


@pytest.mark.parametrize(
    ("args", "stdin", "exit_code", "stderr"),
    [
        (
            ["mobile", "set-password", "alice", "--password-stdin"],
            "",
            2,
            "error: the master password is empty\n"
            "  fix: put the master password on the first line of standard input\n",
        ),
        (
            ["user", "set-password", "alice", "--password-stdin"],
            "\n",
            2,
            "error: the new password is empty\n"
            "  fix: put the new password on the first line of standard input\n",
        ),
        (
            ["api-key", "revoke", "nope"],
            None,
            1,
            "error: there is no API key 'nope'\n"
            "  fix: `strongroom api-key list` shows the keys\n",
        ),
    ],
    ids=["empty master password", "empty password", "unknown api key"],
)
def test_refusals_that_used_to_lack_a_fix_line_name_one(
    prepared: Cli,
    settings: Settings,
    args: list[str],
    stdin: str | None,
    exit_code: int,
    stderr: str,
) -> None:
    """An empty secret on standard input, or an API key id that is no id, is
    an error line followed by the fix; nothing changes."""
    before = row_counts(settings.resolved_database_url)
    result = prepared(*args, input=stdin)
    assert (result.exit_code, result.stderr) == (exit_code, stderr)
    assert row_counts(settings.resolved_database_url) == before


def test_record_edit_over_a_limit_leaves_the_record_as_it_was(
    prepared: Cli, settings: Settings
) -> None:
    """An edit with a 256-character title fails whole: the old title stays."""
    import json

    record = json.loads(prepared("record", "list", "Finance/Bank", "--json").stdout)[0]
    before = row_counts(settings.resolved_database_url)
    result = prepared("record", "edit", record["id"], "--title", LONG_256)
    assert result.exit_code == 1 and "limit is 255" in result.stderr
    after = json.loads(prepared("record", "list", "Finance/Bank", "--json").stdout)[0]
    assert after == record
    assert row_counts(settings.resolved_database_url) == before


def test_data_directory_without_a_key(
    prepared: Cli, settings: Settings, tmp_path: Path
) -> None:
    """A data directory with no instance.key is refused, pointing at init."""
    settings.key_file.rename(tmp_path / "elsewhere.key")
    result = prepared("list", "list")
    assert result.exit_code == 1
    assert "no instance key at" in result.stderr
    assert "strongroom init" in result.stderr


def test_empty_data_directory(settings: Settings, tmp_path: Path) -> None:
    """An empty data directory (no init yet) gets the same one-line refusal."""
    env = cli_env(settings)
    env["STRONGROOM_DATA_DIR"] = str(tmp_path / "never-initialised")
    env["STRONGROOM_DATABASE_URL"] = None
    result = Cli(env)("user", "list")
    assert result.exit_code == 1 and "no instance key" in result.stderr


def _alembic_rows(url: str) -> list[str]:
    db = Database(url)
    with db.engine.connect() as conn:
        rows = [
            r[0]
            for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        ]
    db.dispose()
    return rows


def _set_alembic_rows(url: str, rows: list[str]) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version"))
        for row in rows:
            conn.execute(
                sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                {"v": row},
            )
    db.dispose()


@pytest.mark.parametrize(
    ("stamp", "words"),
    [(["0001"], "at revision 0001"), ([], "schema is empty")],
)
def test_schema_behind_is_refused_with_the_upgrade_command(
    prepared: Cli, settings: Settings, stamp: list[str], words: str
) -> None:
    """A database stamped back (or unstamped) is refused with `db upgrade` as fix."""
    url = settings.resolved_database_url
    original = _alembic_rows(url)
    _set_alembic_rows(url, stamp)
    try:
        before = row_counts(url)
        result = prepared("list", "add", "Another")
        assert result.exit_code == 1
        assert words in result.stderr
        assert "strongroom db upgrade" in result.stderr
        assert row_counts(url) == before
    finally:
        # The PostgreSQL database is shared by the session: put it back.
        _set_alembic_rows(url, original)


def test_db_upgrade_brings_a_schema_behind_up_to_date(
    prepared: Cli, settings: Settings
) -> None:
    """A database really migrated back to 0001 (every later migration's
    downgrade run) is refused, then `db upgrade` brings it to head and the
    data written before is all there."""
    db = Database(settings.resolved_database_url)
    config = alembic_config(db.url)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    try:
        refused = prepared("list", "list")
        assert refused.exit_code == 1
        assert "at revision 0001" in refused.stderr
        assert "strongroom db upgrade" in refused.stderr

        upgraded = prepared("db", "upgrade")
        assert upgraded.exit_code == 0, upgraded.stderr
        assert upgraded.stdout == f"Database schema at {head_revision()} (was 0001).\n"
        listed = prepared("list", "list", "--json")
        assert [row["path"] for row in json.loads(listed.stdout)] == ["Finance/Bank"]
        assert prepared("audit", "verify").exit_code == 0
    finally:
        upgrade(db)
        db.dispose()


def test_db_upgrade_on_an_up_to_date_database_says_so(prepared: Cli) -> None:
    """With nothing to apply, `db upgrade` says plainly the schema is already up
    to date (naming the revisions) instead of `at X (was X)`."""
    heads = head_revision()
    result = prepared("db", "upgrade")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"Database schema already up to date at {heads}: nothing to apply.\n"
    )
    assert "(was" not in result.stdout


def test_db_upgrade_refuses_a_missing_database_file(
    settings: Settings, tmp_path: Path
) -> None:
    """`db upgrade` pointed at a directory without a database says so instead
    of making an empty one that other commands would take for an instance."""
    env = cli_env(settings)
    missing = tmp_path / "typo"
    missing.mkdir()
    env["STRONGROOM_DATA_DIR"] = str(missing)
    env["STRONGROOM_DATABASE_URL"] = None
    result = Cli(env)("db", "upgrade")
    assert result.exit_code == 1
    assert "does not exist" in result.stderr and "--data-dir" in result.stderr
    assert list(missing.iterdir()) == []


def test_a_database_from_a_newer_version_is_refused(
    prepared: Cli, settings: Settings
) -> None:
    """A revision this version does not ship means a newer Strongroom migrated
    the database: commands and `db upgrade` both say so in one line (upgrading
    cannot help) and change nothing."""
    url = settings.resolved_database_url
    original = _alembic_rows(url)
    _set_alembic_rows(url, [*original, "9999"])
    try:
        before = row_counts(url)
        for args in (["list", "list"], ["db", "upgrade"]):
            result = prepared(*args)
            assert result.exit_code == 1, args
            assert "revision 9999, which this version" in result.stderr, args
            assert "newer Strongroom" in result.stderr, args
        assert row_counts(url) == before
        assert sorted(_alembic_rows(url)) == sorted([*original, "9999"])
    finally:
        _set_alembic_rows(url, original)
