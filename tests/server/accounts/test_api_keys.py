"""API keys: made and revoked by administrators, stored only as a hash."""

import hashlib
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from strongroom.server.accounts import api_keys
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.api_key_models import ApiKey
from strongroom.server.accounts.models import User
from strongroom.server.audit.models import AuditEvent
from strongroom.server.cli.common import STATE
from strongroom.server.cli.main import app
from strongroom.server.core.actor import PLATFORM_WEB, Actor
from strongroom.server.core.config import Settings
from strongroom.server.core.errors import (
    NotFound,
    PermissionDenied,
    StrongroomError,
    ValidationError,
)
from strongroom.server.core.instance import InitResult, Instance, operator
from strongroom.server.vault import service as vault
from tests.server.support import use_cheap_hashing


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_hashing(monkeypatch)


@pytest.fixture
def admin(session: Session) -> User:
    """The instance's first administrator."""
    return accounts.find_user(session, "admin")


def _rejections(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(
            sa.select(AuditEvent).where(AuditEvent.event_type == "api_key.rejected")
        )
    )


def test_only_a_hash_of_the_secret_is_stored(
    instance: Instance, session: Session, admin: User
) -> None:
    """The raw row holds SHA-256 of the secret and nothing that reveals the key."""
    issued = api_keys.create_key(
        session, operator(), "ci", user=admin, system_wide=True
    )
    session.commit()
    prefix, key_id, secret = issued.token.split("_", 2)

    with instance.db.engine.connect() as conn:
        row = (
            conn.execute(
                sa.text("SELECT * FROM api_keys WHERE id = :id"), {"id": key_id}
            )
            .mappings()
            .one()
        )

    assert prefix == "sr"
    assert len(secret) >= 43  # 32 random bytes, base64url
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(value) for value in row.values())
    assert all(issued.token not in str(value) for value in row.values())


def test_authenticate_accepts_the_issued_token(session: Session, admin: User) -> None:
    """The token shown at creation authenticates as its user with its scope."""
    plist = vault.create_list(session, operator(), "Ops/Keys", create_folders=True)
    issued = api_keys.create_key(
        session, operator(), "deploy", user=admin, lists=[plist]
    )

    principal = api_keys.authenticate(session, issued.token, ip="10.0.0.5")

    assert principal is not None
    assert (principal.user_name, principal.system_wide, principal.is_admin) == (
        "admin",
        False,
        False,
    )
    assert principal.allows_list(plist.id)
    assert not principal.allows_list("some-other-list")
    actor = principal.actor("10.0.0.5")
    assert (actor.platform, actor.user_id, actor.is_admin, actor.operator) == (
        "api",
        admin.id,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), "wrong secret"),
        (
            lambda t: "sr_" + "0" * 8 + "-0000-0000-0000-000000000000_" + t[-43:],
            "unknown key",
        ),
        (lambda t: t.replace("sr_", "xx_", 1), "malformed"),
        (lambda t: t.split("_", 2)[0] + "_" + t.split("_", 2)[1], "malformed"),
    ],
)
def test_bad_tokens_are_refused_and_audited(
    session: Session, admin: User, mangle: object, reason: str
) -> None:
    """A forged, unknown or malformed token authenticates nobody and leaves an
    `api_key.rejected` event with the reason but never the secret."""
    issued = api_keys.create_key(
        session, operator(), "ci", user=admin, system_wide=True
    )
    token = mangle(issued.token)  # type: ignore[operator]

    assert api_keys.authenticate(session, token, ip="192.0.2.1") is None

    [event] = _rejections(session)
    assert (event.outcome, event.platform, event.source_ip) == (
        "failure",
        "api",
        "192.0.2.1",
    )
    assert event.details["reason"] == reason
    assert token.split("_")[-1] not in json.dumps(event.details)


def test_revoked_key_and_disabled_user_are_refused(
    session: Session, admin: User
) -> None:
    """Revoking a key, or disabling its user, stops it at once."""
    bob = accounts.create_user(session, operator(), "bob", password="a-long-password-1")
    revoked = api_keys.create_key(
        session, operator(), "old", user=admin, system_wide=True
    )
    bobs = api_keys.create_key(session, operator(), "bob", user=bob, system_wide=True)

    assert api_keys.revoke_key(session, operator(), revoked.key) is True
    assert api_keys.revoke_key(session, operator(), revoked.key) is False
    accounts.set_active(session, operator(), bob, False)

    assert api_keys.authenticate(session, revoked.token) is None
    assert api_keys.authenticate(session, bobs.token) is None
    reasons = sorted(e.details["reason"] for e in _rejections(session))
    assert reasons == ["revoked", "user disabled"]


def test_web_admin_may_only_make_keys_for_themselves(
    session: Session, admin: User
) -> None:
    """An admin signed in to the web makes keys as themselves, not as others."""
    other = accounts.create_user(
        session, operator(), "svc", password="a-long-password-1"
    )
    web_admin = Actor(
        user_id=admin.id, name="admin", platform=PLATFORM_WEB, is_admin=True
    )

    own = api_keys.create_key(session, web_admin, "mine", user=admin, system_wide=True)
    assert own.key.user_id == admin.id
    with pytest.raises(PermissionDenied):
        api_keys.create_key(session, web_admin, "theirs", user=other, system_wide=True)
    plain = Actor(user_id=other.id, name="svc", platform=PLATFORM_WEB)
    with pytest.raises(PermissionDenied):
        api_keys.create_key(session, plain, "self", user=other, system_wide=True)


@pytest.mark.parametrize(
    ("name", "system", "field"),
    [
        ("", True, "name"),
        ("x" * 101, True, "name"),
        ("tab\there", True, "name"),
        ("no scope", False, "scope"),
    ],
)
def test_key_input_is_validated(
    session: Session, admin: User, name: str, system: bool, field: str
) -> None:
    """Bad names and a missing scope are refused naming the field."""
    with pytest.raises(ValidationError) as info:
        api_keys.create_key(session, operator(), name, user=admin, system_wide=system)

    assert info.value.field == field


def test_creation_and_revocation_are_audited(session: Session, admin: User) -> None:
    """Making and revoking a key each leave an audit event naming the key."""
    issued = api_keys.create_key(
        session, operator(), "ci", user=admin, system_wide=True
    )
    api_keys.revoke_key(session, operator(), issued.key)

    events = session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.target_type == "api_key")
        .order_by(AuditEvent.seq)
    ).all()
    assert [(e.event_type, e.target_id) for e in events] == [
        ("api_key.created", issued.key.id),
        ("api_key.revoked", issued.key.id),
    ]
    with pytest.raises(NotFound):
        api_keys.get_key(session, "no-such-key")


def test_keys_are_found_by_id_or_the_audit_logs_short_id(
    session: Session, admin: User
) -> None:
    """A key is named by its id or by the 8-character prefix the audit log shows."""
    issued = api_keys.create_key(
        session, operator(), "ci", user=admin, system_wide=True
    )
    key_id = issued.key.id

    assert api_keys.get_key(session, key_id).id == key_id
    assert api_keys.get_key(session, key_id[:8].upper()).id == key_id
    with pytest.raises(NotFound):
        api_keys.get_key(session, key_id[:7])


# --- the CLI -------------------------------------------------------------------


@pytest.fixture
def cli_env(
    settings: Settings, initialised: InitResult
) -> Iterator[dict[str, str | None]]:
    """An environment pointing `strongroom` at the test's instance."""
    yield {
        "STRONGROOM_DATA_DIR": str(settings.data_dir),
        "STRONGROOM_DATABASE_URL": settings.database_url,
        "STRONGROOM_INSTANCE_KEY": None,
        "STRONGROOM_ENVIRONMENT": "test",
        "COLUMNS": "200",
    }
    STATE.close()


def _run(
    env: dict[str, str | None], *args: str
) -> tuple[int, str, StrongroomError | None]:
    result = CliRunner().invoke(app, list(args), env=env)
    STATE.close()
    error = result.exception if isinstance(result.exception, StrongroomError) else None
    if (
        result.exception is not None
        and error is None
        and not isinstance(result.exception, SystemExit)
    ):
        raise result.exception
    return (error.exit_code if error else result.exit_code), result.stdout, error


def test_cli_creates_lists_and_revokes_keys(
    cli_env: dict[str, str | None], settings: Settings
) -> None:
    """`api-key create` prints a working key once; `list` shows it without the
    secret; `revoke` stops it."""
    code, out, _ = _run(cli_env, "list", "add", "Ops/Deploy", "--create-folders")
    assert code == 0, out
    code, out, _ = _run(
        cli_env,
        "api-key",
        "create",
        "deploy bot",
        "--lists",
        "Ops/Deploy",
        "--as",
        "admin",
        "--json",
    )
    assert code == 0, out
    made = json.loads(out)
    assert made["key"].startswith(f"sr_{made['id']}_")

    code, out, _ = _run(cli_env, "api-key", "list", "--json")
    [listed] = json.loads(out)
    assert (listed["id"], listed["scope"], listed["active"]) == (
        made["id"],
        "Ops/Deploy",
        True,
    )
    assert made["key"].split("_", 2)[2] not in out

    code, out, _ = _run(cli_env, "api-key", "revoke", made["id"])
    assert code == 0 and "revoked" in out
    instance = Instance.open(settings)
    try:
        with instance.db.session() as session:
            assert api_keys.authenticate(session, made["key"]) is None
            assert session.scalars(sa.select(ApiKey.revoked_at)).one() is not None
    finally:
        instance.close()


CLI_REFUSALS = [
    (["api-key", "create", "k", "--system"], "--as USER"),
    (["api-key", "create", "k", "--as", "admin"], "--system or"),
    (
        ["api-key", "create", "k", "--system", "--lists", "X", "--as", "admin"],
        "--system or",
    ),
    (["api-key", "create", "k", "--system", "--as", "nobody"], "no user called"),
    (["api-key", "revoke", "nope"], "no API key"),
]


def test_cli_refuses_bad_requests(cli_env: dict[str, str | None]) -> None:
    """Missing user, scope, or unknown names end with one clear error each."""
    for args, message in CLI_REFUSALS:
        code, _out, error = _run(cli_env, *args)

        assert code != 0, args
        assert error is not None and message in error.message, args
