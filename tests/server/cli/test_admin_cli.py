"""`strongroom settings get|set` and `strongroom audit show|verify`."""

import json

import sqlalchemy as sa

from strongroom.server.core.config import Settings
from strongroom.server.core.db import Database
from tests.server.cli.conftest import Cli


def _sql(settings: Settings, statement: str) -> None:
    db = Database(settings.resolved_database_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        db.dispose()


SETTING_REFUSALS = [
    (["settings", "set", "pairing_secret", "x"], 2, "kept by Strongroom itself"),
    (["settings", "get", "instance_id"], 2, "kept by Strongroom itself"),
    (["settings", "set", "no_such_key", "1"], 1, "no setting called 'no_such_key'"),
    (["settings", "set", "offline_ttl_days", "5"], 1, "give one of 1, 3, 7, 14"),
    (["settings", "set", "mobile_access_default", "perhaps"], 1, "yes or no"),
    (["settings", "set", "app_server_url", "http://x"], 1, "https://"),
    (["settings", "set", "app_server_url", " "], 1, "cannot be made blank"),
]


def test_settings_get_all_one_and_set(cli: Cli) -> None:
    """All settings list with defaults; set parses the value; get shows it;
    internal keys, unknown keys and badly typed values are refused in one line."""
    rows = json.loads(cli("settings", "get", "--json").stdout)
    keys = {row["key"] for row in rows}
    assert {"mobile_access_default", "offline_ttl_days", "app_server_url"} <= keys
    assert "pairing_secret" not in keys and "instance_id" not in keys

    result = cli("settings", "set", "offline_ttl_days", "14")
    assert result.exit_code == 0, result.stderr
    one = json.loads(cli("settings", "get", "offline_ttl_days", "--json").stdout)
    assert (one["key"], one["value"], one["default"]) == ("offline_ttl_days", 14, 7)

    for args, exit_code, words in SETTING_REFUSALS:
        refused = cli(*args)
        assert refused.exit_code == exit_code, args
        assert refused.stderr.startswith("error: ") and words in refused.stderr, args


def test_settings_set_takes_a_negative_value_to_the_settings_own_check(
    cli: Cli,
) -> None:
    """`-3` is a value, not an unknown option: the setting names its range (exit
    1), nothing changes, and `--help` is still an option."""
    refused = cli("settings", "set", "offline_ttl_days", "-3")
    assert refused.exit_code == 1
    assert (
        refused.stderr
        == "error: offline_ttl_days: give one of 1, 3, 7, 14 or 30 (days)\n"
    )
    assert "No such option" not in refused.stdout + refused.stderr
    one = json.loads(cli("settings", "get", "offline_ttl_days", "--json").stdout)
    assert one["value"] == 7

    assert cli("settings", "set", "failed_unlock_limit", "-1").exit_code == 1
    helped = cli("settings", "set", "--help")
    assert helped.exit_code == 0 and "The new value." in helped.stdout


def test_audit_show_filters(cli: Cli) -> None:
    """Events are newest first and filter by type, list, time and limit; a bad
    time, platform or event type is a usage error."""
    cli("list", "add", "A")
    cli("list", "add", "B")
    cli("settings", "set", "offline_ttl_days", "3")

    newest = json.loads(cli("audit", "show", "--limit", "1", "--json").stdout)
    assert [e["event_type"] for e in newest] == ["setting.changed"]
    created = json.loads(
        cli("audit", "show", "--type", "list.created", "--json").stdout
    )
    assert [e["target"] for e in created] == ["B", "A"]
    on_a = json.loads(cli("audit", "show", "--list", "A", "--json").stdout)
    assert [e["event_type"] for e in on_a] == ["list.created"]
    assert all(e["platform"] == "cli" for e in created)
    future = json.loads(cli("audit", "show", "--since", "2999-01-01", "--json").stdout)
    assert future == []
    table = cli("audit", "show")
    assert table.exit_code == 0 and "list.created" in table.stdout

    # A time that is not ISO, or an unknown platform, is a usage error.
    assert cli("audit", "show", "--since", "yesterday").exit_code == 2
    assert cli("audit", "show", "--platform", "fax").exit_code == 2
    # A mistyped event type names the types the log holds, not an empty log.
    typo = cli("audit", "show", "--type", "list.create")
    assert typo.exit_code == 2 and typo.stdout == ""
    assert "no event of type 'list.create' is in the audit log" in typo.stderr
    assert "list.created" in typo.stderr and "setting.changed" in typo.stderr


def test_audit_verify_names_the_first_broken_link(cli: Cli, settings: Settings) -> None:
    """verify passes; fails naming seq 3 once its content is altered; passes
    again once it is put back; and names seq 4 once that row is deleted."""
    cli("list", "add", "A")
    ok = cli("audit", "verify")
    assert ok.exit_code == 0 and "intact" in ok.stdout

    _sql(settings, "UPDATE audit_events SET outcome = 'failure' WHERE seq = 3")
    altered = cli("audit", "verify")
    assert altered.exit_code == 1
    assert "broken at seq 3: its content was altered" in altered.stderr

    _sql(settings, "UPDATE audit_events SET outcome = 'success' WHERE seq = 3")
    assert cli("audit", "verify").exit_code == 0

    _sql(settings, "UPDATE audit_events SET target_name = 'x' WHERE seq = 5")
    assert "broken at seq 5" in cli("audit", "verify").stderr
    _sql(settings, "DELETE FROM audit_events WHERE seq = 4")
    deleted = cli("audit", "verify")
    assert deleted.exit_code == 1
    assert "broken at seq 4: a row is missing" in deleted.stderr
