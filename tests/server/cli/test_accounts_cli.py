"""`strongroom user|group|feature ...` on both databases."""

import json

from strongroom.crypto.passwords import verify_password
from strongroom.server.accounts import service as accounts
from strongroom.server.core.instance import Instance
from tests.server.cli.conftest import Cli


def _users(cli: Cli) -> dict[str, dict[str, object]]:
    result = cli("user", "list", "--json")
    assert result.exit_code == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_user_add_generates_a_password_shown_once(cli: Cli, instance: Instance) -> None:
    """Without --password-stdin a generated password is printed once and works."""
    result = cli("user", "add", "alice", "--email", "alice@example.org")
    assert result.exit_code == 0, result.stderr
    line = next(ln for ln in result.stdout.splitlines() if "password" in ln)
    password = line.split()[1]
    assert len(password) >= 16
    with instance.db.session() as session:
        user = accounts.find_user(session, "alice")
        assert user.email == "alice@example.org"
        assert verify_password(user.password_hash or "", password)
    assert password not in cli("user", "list", "--json").stdout


def test_user_add_reads_the_password_from_stdin(cli: Cli, instance: Instance) -> None:
    """--password-stdin takes the first line and prints no password."""
    result = cli(
        "user",
        "add",
        "bob",
        "--admin",
        "--domain",
        "corp",
        "--display-name",
        "Bob B",
        "--password-stdin",
        input="bob-password-123\n",
    )
    assert result.exit_code == 0, result.stderr
    assert "bob-password-123" not in result.stdout
    users = _users(cli)
    assert users["CORP\\bob"]["admin"] is True
    assert users["CORP\\bob"]["display_name"] == "Bob B"
    with instance.db.session() as session:
        user = accounts.find_user(session, "CORP\\bob")
        assert verify_password(user.password_hash or "", "bob-password-123")


def test_disable_enable_and_set_password(cli: Cli, instance: Instance) -> None:
    """disable/enable flip the active flag; set-password changes the hash."""
    cli("user", "add", "carol", "--password-stdin", input="carol-password-1\n")
    assert cli("user", "disable", "carol").exit_code == 0
    assert _users(cli)["carol"]["active"] is False
    assert cli("user", "enable", "carol").exit_code == 0
    assert _users(cli)["carol"]["active"] is True
    result = cli(
        "user", "set-password", "carol", "--password-stdin", input="new-password-42\n"
    )
    assert result.exit_code == 0, result.stderr
    with instance.db.session() as session:
        user = accounts.find_user(session, "carol")
        assert verify_password(user.password_hash or "", "new-password-42")


def test_disabling_the_last_active_admin_warns_with_the_way_back(cli: Cli) -> None:
    """Disabling the only active administrator works (a stolen account must be
    stoppable) but warns that the web UI has no administrator left, naming the
    commands that undo it; with another admin active there is no warning."""
    last = cli("user", "disable", "admin")
    assert last.exit_code == 0, last.stderr
    assert "User admin disabled." in last.stdout
    assert "warning: admin was the last active administrator" in last.stderr
    assert "`strongroom user enable admin`" in last.stderr
    assert cli("user", "enable", "admin").exit_code == 0

    cli("user", "add", "bob", "--admin", "--password-stdin", input="bob-password-1\n")
    cli("user", "add", "carol", "--password-stdin", input="carol-password-1\n")
    for name in ("admin", "carol"):
        quiet = cli("user", "disable", name)
        assert quiet.exit_code == 0 and "warning" not in quiet.stderr, name


def test_groups_and_members(cli: Cli) -> None:
    """Groups are created, listed with counts, and members come and go."""
    cli("user", "add", "dave", "--password-stdin", input="dave-password-1\n")
    assert cli("group", "add", "Ops", "--description", "operations").exit_code == 0
    assert cli("group", "add-member", "Ops", "dave").exit_code == 0
    again = cli("group", "add-member", "Ops", "dave")
    assert again.exit_code == 0 and "already" in again.stdout
    groups = json.loads(cli("group", "list", "--json").stdout)
    assert [(g["name"], g["members"]) for g in groups] == [("Ops", 1)]
    members = json.loads(cli("group", "members", "Ops", "--json").stdout)
    assert [m["name"] for m in members] == ["dave"]
    assert _users(cli)["dave"]["groups"] == ["Ops"]
    assert cli("group", "remove-member", "Ops", "dave").exit_code == 0
    assert json.loads(cli("group", "members", "Ops", "--json").stdout) == []


def test_feature_grant_list_revoke(cli: Cli) -> None:
    """The mobile feature is granted to a user and a group, listed, revoked;
    a wrong grantee or feature is a usage error."""
    cli("user", "add", "erin", "--password-stdin", input="erin-password-1\n")
    cli("group", "add", "Phones")
    assert cli("feature", "grant", "mobile", "--user", "erin").exit_code == 0
    assert cli("feature", "grant", "mobile", "--group", "Phones").exit_code == 0
    rows = json.loads(cli("feature", "list", "--json").stdout)
    assert rows == [
        {"feature": "mobile", "grantee_kind": "group", "grantee": "Phones"},
        {"feature": "mobile", "grantee_kind": "user", "grantee": "erin"},
    ]
    assert cli("feature", "revoke", "mobile", "--user", "erin").exit_code == 0
    rows = json.loads(cli("feature", "list", "--json").stdout)
    assert [r["grantee"] for r in rows] == ["Phones"]

    # Both or neither grantee, or an unknown feature, are usage errors.
    assert cli("feature", "grant", "mobile").exit_code == 2
    both = cli("feature", "grant", "mobile", "--user", "erin", "--group", "Phones")
    assert both.exit_code == 2
    unknown = cli("feature", "grant", "teleport", "--group", "Phones")
    assert unknown.exit_code == 2
    assert "unknown feature 'teleport'" in unknown.stderr
