"""`strongroom folder|list|record ...`, `grant`, `revoke`, `mobile-access`,
`permissions` on both databases."""

import json

import pytest
from sqlalchemy import select

from strongroom.server.audit.models import AuditEvent
from strongroom.server.cli import common
from strongroom.server.core.instance import Instance
from strongroom.server.vault import service as vault
from tests.server.cli.conftest import Cli

SECRETS = {
    "password": "pw-Quartz-981",
    "notes": "first line\nsecond line",
    "otp_secret": "JBSWY3DPEHPK3PXP",
    "fields": {"PIN": "4711"},
}


def _add_record(cli: Cli, list_path: str = "Infra/Servers", title: str = "db1") -> str:
    result = cli(
        "record",
        "add",
        list_path,
        "--title",
        title,
        "--username",
        "root",
        "--url",
        "https://db1.example.org",
        "--host-name",
        "db1",
        "--expires",
        "2031-05-06",
        "--field",
        "Port=5432",
        "--secrets-json-stdin",
        input=json.dumps(SECRETS),
    )
    assert result.exit_code == 0, result.stderr
    records = json.loads(cli("record", "list", list_path, "--json").stdout)
    return next(r["id"] for r in records if r["title"] == title)


@pytest.fixture
def with_list(cli: Cli) -> Cli:
    """The CLI with the list Infra/Servers made."""
    assert cli("list", "add", "Infra/Servers", "--create-folders").exit_code == 0
    return cli


def test_folders_and_lists(cli: Cli) -> None:
    """Folders nest, lists are created in them and listed with counts by path."""
    assert cli("folder", "add", "Finance").exit_code == 0
    assert cli("folder", "add", "Finance/Banking/EU", "--parents").exit_code == 0
    missing_parent = cli("folder", "add", "Nope/Child")
    assert missing_parent.exit_code == 1
    result = cli("list", "add", "Finance/Banking/EU/Main", "--description", "bank")
    assert result.exit_code == 0, result.stderr
    assert cli("list", "add", "Top").exit_code == 0
    # Confirmed as stored: trimmed, in the existing folders' spelling.
    spelled = cli("list", "add", " finance/banking / Cards ")
    assert spelled.stdout.strip() == "Password list Finance/Banking/Cards created."
    rows = json.loads(cli("list", "list", "--json").stdout)
    assert [(r["path"], r["records"], r["description"]) for r in rows] == [
        ("Finance/Banking/Cards", 0, ""),
        ("Finance/Banking/EU/Main", 0, "bank"),
        ("Top", 0, ""),
    ]


def test_list_delete_needs_yes_without_a_terminal(with_list: Cli) -> None:
    """`list delete` refuses to run unconfirmed, and deletes with --yes."""
    cli = with_list
    _add_record(cli)
    refused = cli("list", "delete", "Infra/Servers")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert len(json.loads(cli("list", "list", "--json").stdout)) == 1
    deleted = cli("list", "delete", "Infra/Servers", "--yes")
    assert deleted.exit_code == 0 and "1 record" in deleted.stdout
    assert json.loads(cli("list", "list", "--json").stdout) == []


def test_record_add_show_masked_and_revealed(
    with_list: Cli, instance: Instance
) -> None:
    """Secrets are masked unless --reveal, and only the reveal is a reveal event."""
    cli = with_list
    record_id = _add_record(cli)

    masked = json.loads(cli("record", "show", record_id, "--json").stdout)
    assert masked["password"] is None and masked["notes"] is None
    assert masked["otp_secret"] is None
    assert masked["fields"] == [
        {"name": "Port", "value": "5432", "secret": False},
        {"name": "PIN", "value": None, "secret": True},
    ]
    table = cli("record", "show", record_id)
    assert "********" in table.stdout and SECRETS["password"] not in table.stdout

    shown = json.loads(
        cli("record", "show", record_id[:8], "--reveal", "--json").stdout
    )
    assert shown["password"] == SECRETS["password"]
    assert shown["notes"] == SECRETS["notes"]
    assert shown["otp_secret"] == SECRETS["otp_secret"]
    assert shown["expires"] == "2031-05-06"
    assert shown["host_name"] == "db1"
    assert {"name": "PIN", "value": "4711", "secret": True} in shown["fields"]

    with instance.db.session() as session:
        types = session.scalars(
            select(AuditEvent.event_type).where(AuditEvent.record_id == record_id)
        ).all()
    assert sorted(types) == [
        "record.created",
        "record.revealed",
        "record.viewed",
        "record.viewed",
    ]


def test_record_add_with_password_stdin(with_list: Cli) -> None:
    """--password-stdin sets the password and nothing else secret; without a
    secret source and no terminal the command is a usage error."""
    cli = with_list
    result = cli(
        "record",
        "add",
        "Infra/Servers",
        "--title",
        "web",
        "--password-stdin",
        input="only-the-password\n",
    )
    assert result.exit_code == 0, result.stderr
    record_id = json.loads(cli("record", "list", "Infra/Servers", "--json").stdout)[0][
        "id"
    ]
    shown = json.loads(cli("record", "show", record_id, "--reveal", "--json").stdout)
    assert (shown["password"], shown["notes"], shown["otp_secret"]) == (
        "only-the-password",
        "",
        "",
    )

    # With no terminal and no stdin flag the command refuses instead of guessing.
    refused = cli("record", "add", "Infra/Servers", "--title", "x")
    assert refused.exit_code == 2
    assert "--password-stdin" in refused.stderr


def test_record_edit_then_delete(with_list: Cli) -> None:
    """Plain options, fields and secrets change one by one and the rest stays;
    a deleted record is gone from its list and cannot be shown."""
    cli = with_list
    record_id = _add_record(cli)
    result = cli(
        "record",
        "edit",
        record_id,
        "--title",
        "db1-renamed",
        "--remove-field",
        "Port",
        "--field",
        "Env=prod",
        "--expires",
        "never",
    )
    assert result.exit_code == 0, result.stderr
    result = cli(
        "record",
        "edit",
        record_id,
        "--secrets-json-stdin",
        input=json.dumps({"notes": "", "fields": {"PIN": "0000"}}),
    )
    assert result.exit_code == 0, result.stderr
    shown = json.loads(cli("record", "show", record_id, "--reveal", "--json").stdout)
    assert shown["title"] == "db1-renamed"
    assert shown["username"] == "root"
    assert shown["password"] == SECRETS["password"]
    assert shown["notes"] == ""
    assert shown["expires"] is None
    assert shown["fields"] == [
        {"name": "PIN", "value": "0000", "secret": True},
        {"name": "Env", "value": "prod", "secret": False},
    ]

    assert cli("record", "delete", record_id).exit_code == 0
    assert json.loads(cli("record", "list", "Infra/Servers", "--json").stdout) == []
    gone = cli("record", "show", record_id)
    assert gone.exit_code == 1 and "there is no record" in gone.stderr


def test_grant_revoke_and_permissions_grid(with_list: Cli) -> None:
    """Grants show in the grid with level and flag; revoke removes them; a new
    grant takes its flag from mobile_access_default."""
    cli = with_list
    cli("user", "add", "alice", "--password-stdin", input="alice-password-1\n")
    cli("group", "add", "Ops")
    assert (
        cli("grant", "Infra/Servers", "--group", "Ops", "--level", "modify").exit_code
        == 0
    )
    result = cli(
        "grant",
        "Infra/Servers",
        "--user",
        "alice",
        "--level",
        "view",
        "--mobile-access",
        "no",
    )
    assert result.exit_code == 0, result.stderr
    grid = json.loads(cli("permissions", "Infra/Servers", "--json").stdout)
    assert grid == [
        {
            "grantee_kind": "group",
            "grantee": "Ops",
            "level": "modify",
            "mobile_access": True,
        },
        {
            "grantee_kind": "user",
            "grantee": "alice",
            "level": "view",
            "mobile_access": False,
        },
    ]
    assert cli("revoke", "Infra/Servers", "--user", "alice").exit_code == 0
    grid = json.loads(cli("permissions", "Infra/Servers", "--json").stdout)
    assert [g["grantee"] for g in grid] == ["Ops"]
    again = cli("revoke", "Infra/Servers", "--user", "alice")
    assert again.exit_code == 1 and "holds no permission" in again.stderr

    # With mobile_access_default=no a grant without --mobile-access is off.
    assert cli("settings", "set", "mobile_access_default", "no").exit_code == 0
    cli("grant", "Infra/Servers", "--user", "alice", "--level", "view")
    grid = json.loads(cli("permissions", "Infra/Servers", "--json").stdout)
    assert [g["mobile_access"] for g in grid] == [True, False]


BULK_CASES = [
    # (arguments, permissions changed, flags afterwards), applied in order
    (["--all", "no"], 3, {"A": False, "B": False, "C": False}),
    (["A", "C", "yes"], 2, {"A": True, "B": False, "C": True}),
    (["A", "no"], 1, {"A": False, "B": False, "C": True}),
    (["B", "C", "no"], 1, {"A": False, "B": False, "C": False}),
    (["--all", "no"], 0, {"A": False, "B": False, "C": False}),
    (["--all", "yes"], 3, {"A": True, "B": True, "C": True}),
]


USAGE_CASES = [
    ["mobile-access", "set"],
    ["mobile-access", "set", "A"],
    ["mobile-access", "set", "--all"],
    ["mobile-access", "set", "--all", "A", "yes"],
    ["mobile-access", "set", "A", "maybe"],
]


def test_mobile_access_set_in_bulk(cli: Cli, instance: Instance) -> None:
    """`mobile-access set LIST... yes|no` and `--all yes|no` report the count
    changed and set exactly the lists named; malformed calls exit 2."""
    cli("group", "add", "Ops")
    for name in "ABC":
        cli("list", "add", name)
        cli("grant", name, "--group", "Ops", "--level", "view")
    for args, changed, flags in BULK_CASES:
        result = cli("mobile-access", "set", *args)
        assert result.exit_code == 0, (args, result.stderr)
        assert f"{changed} permission(s) changed" in result.stdout, args
        with instance.db.session() as session:
            found = {
                name: vault.grants_on(session, vault.find_list(session, name))[
                    0
                ].mobile_access
                for name in "ABC"
            }
        assert found == flags, args

    # Missing value, lists with --all, or a value other than yes/no exit 2.
    for args in USAGE_CASES:
        result = cli(*args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("error: "), args


def test_prompts_on_a_terminal(with_list: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal, record add asks for the password twice, the notes, the OTP
    secret and each --secret-field; edit keeps what is left empty; list delete
    asks before deleting."""
    cli = with_list
    monkeypatch.setattr(common, "stdin_is_terminal", lambda: True)
    answers = "typed-pw\ntyped-pw\none-line notes\nJBSWY3DPEHPK3PXP\n9876\n"
    result = cli(
        "record",
        "add",
        "Infra/Servers",
        "--title",
        "prompted",
        "--secret-field",
        "PIN",
        input=answers,
    )
    assert result.exit_code == 0, result.stderr
    assert "typed-pw" not in result.stdout
    (row,) = json.loads(cli("record", "list", "Infra/Servers", "--json").stdout)
    shown = json.loads(cli("record", "show", row["id"], "--reveal", "--json").stdout)
    assert (shown["password"], shown["notes"], shown["otp_secret"]) == (
        "typed-pw",
        "one-line notes",
        "JBSWY3DPEHPK3PXP",
    )
    assert shown["fields"] == [{"name": "PIN", "value": "9876", "secret": True}]

    # On edit, an empty answer keeps the stored secret.
    edited = cli(
        "record", "edit", row["id"], "--prompt-secrets", input="\n\nnew notes\n\n"
    )
    assert edited.exit_code == 0, edited.stderr
    shown = json.loads(cli("record", "show", row["id"], "--reveal", "--json").stdout)
    assert (shown["password"], shown["notes"], shown["otp_secret"]) == (
        "typed-pw",
        "new notes",
        "JBSWY3DPEHPK3PXP",
    )

    declined = cli("list", "delete", "Infra/Servers", input="n\n")
    assert declined.exit_code == 1
    assert len(json.loads(cli("list", "list", "--json").stdout)) == 1
    accepted = cli("list", "delete", "Infra/Servers", input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert json.loads(cli("list", "list", "--json").stdout) == []


def test_confirmation_stays_on_one_line_in_a_narrow_terminal(cli: Cli) -> None:
    """`record add` piped or in 40 columns prints its confirmation, id included,
    on one line, so the id can be copied or cut out of the output."""
    cli("list", "add", "Infrastructure")
    narrow = Cli({**cli.env, "COLUMNS": "40"})
    result = narrow(
        "record",
        "add",
        "Infrastructure",
        "--title",
        "database server one",
        "--password-stdin",
        input="p\n",
    )
    assert result.exit_code == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith("Record database server one added to Infrastructure (id ")
    assert line.endswith(").")
