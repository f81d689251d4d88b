"""API keys at the door: who gets in, who is turned away, and what is audited."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from strongroom.server.accounts import api_keys
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.api_key_models import ApiKey
from strongroom.server.accounts.models import User
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.instance import Instance, operator
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, PasswordList
from tests.server.web.api.conftest import MakeKey, bearer


def _events(instance: Instance, event_type: str) -> list[AuditEvent]:
    with instance.db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.event_type == event_type)
                .order_by(AuditEvent.seq)
            )
        )


def _two_lists(instance: Instance, user: User) -> tuple[PasswordList, PasswordList]:
    with instance.db.session() as session:
        op = operator()
        first = vault.create_list(session, op, "Ops/First", create_folders=True)
        second = vault.create_list(session, op, "Ops/Second", create_folders=True)
        owner = session.get(User, user.id)
        for plist in (first, second):
            vault.grant(session, op, plist, Level.ADMIN, user=owner)
            vault.create_record(
                session,
                op,
                instance.cipher,
                plist,
                vault.RecordInput(title=f"{plist.name} db", password="pw-1"),
            )
        return first, second


def _error(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) <= {"error", "errors"}
    return body["error"]  # type: ignore[no-any-return]


def test_no_key_is_refused_with_a_json_401(client: TestClient) -> None:
    """A call without an Authorization header gets 401 and a JSON reason."""
    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert _error(response)["code"] == "authentication_failed"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_valid_key_identifies_itself(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """`/me` names the key's user and says it is system-wide and admin."""
    response = client.get("/api/v1/me", headers=admin_headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["user_name"], body["system_wide"], body["is_admin"]) == (
        "admin",
        True,
        True,
    )


def test_forged_key_with_a_real_id_is_refused_and_audited(
    client: TestClient, instance: Instance, admin_headers: dict[str, str]
) -> None:
    """Right key id, wrong secret: 401 and an `api_key.rejected` event naming it."""
    token = admin_headers["Authorization"].removeprefix("Bearer ")
    key_id = token.split("_")[1]
    forged = f"sr_{key_id}_{'A' * 43}"

    response = client.get("/api/v1/me", headers=bearer(forged))

    assert response.status_code == 401
    assert _error(response)["message"] == "the API key is not valid"
    [event] = _events(instance, "api_key.rejected")
    assert (event.outcome, event.platform, event.target_id) == (
        "failure",
        "api",
        key_id,
    )
    assert event.details["reason"] == "wrong secret"
    assert "A" * 43 not in str(event.details)
    assert event.source_ip == "testclient"


def test_revoked_key_is_refused(
    client: TestClient, instance: Instance, admin_headers: dict[str, str]
) -> None:
    """A key works until revoked, then gets 401 with the same vague message."""
    assert client.get("/api/v1/me", headers=admin_headers).status_code == 200
    with instance.db.session() as session:
        [key] = session.scalars(select(ApiKey)).all()
        api_keys.revoke_key(session, operator(), key)

    response = client.get("/api/v1/me", headers=admin_headers)

    assert response.status_code == 401
    assert _error(response)["message"] == "the API key is not valid"
    assert _events(instance, "api_key.rejected")[-1].details["reason"] == "revoked"


def test_key_of_a_disabled_user_is_refused(
    client: TestClient,
    instance: Instance,
    make_user: Callable[..., User],
    make_key: MakeKey,
) -> None:
    """Disabling the user a key acts as stops the key at once."""
    make_user("robot")
    headers = make_key("robot")
    with instance.db.session() as session:
        accounts.set_active(
            session, operator(), accounts.find_user(session, "robot"), False
        )

    assert client.get("/api/v1/me", headers=headers).status_code == 401


MALFORMED_OR_UNKNOWN = [
    "sr_",
    "sr_abc",
    "not-a-strongroom-key",
    "sr_00000000-0000-0000-0000-000000000000_secret",
    "sr_ZZZ_secret",
    "sr_" + "a" * 500,
]


def test_malformed_and_unknown_keys_are_refused(
    client: TestClient, instance: Instance
) -> None:
    """Tokens of the wrong shape or naming no key get 401 (audited), never a 500."""
    for token in MALFORMED_OR_UNKNOWN:
        response = client.get("/api/v1/lists", headers=bearer(token))

        assert response.status_code == 401, token
        assert _error(response)["code"] == "authentication_failed"

    reasons = [e.details["reason"] for e in _events(instance, "api_key.rejected")]
    assert reasons == ["malformed"] * 3 + ["unknown key"] + ["malformed"] * 2


def test_list_scoped_key_cannot_reach_another_list(
    client: TestClient,
    instance: Instance,
    make_user: Callable[..., User],
    make_key: MakeKey,
) -> None:
    """A key scoped to one list gets 403 (audited) on a list its user may open."""
    user = make_user("alice")
    first, second = _two_lists(instance, user)
    headers = make_key("alice", lists=[first])
    with instance.db.session() as session:
        other_record = vault.records_in(session, operator(), second)[0].id

    assert (
        client.get(f"/api/v1/lists/{first.id}/records", headers=headers).status_code
        == 200
    )
    for path in (
        f"/api/v1/lists/{second.id}",
        f"/api/v1/lists/{second.id}/records",
        f"/api/v1/lists/{second.id}/permissions",
        f"/api/v1/records/{other_record}?reveal=true",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, path
        assert _error(response)["code"] == "permission_denied"

    listed = client.get("/api/v1/lists", headers=headers).json()["items"]
    assert [item["path"] for item in listed] == ["Ops/First"]
    denied = _events(instance, "api.access_denied")
    assert len(denied) == 4
    assert {e.outcome for e in denied} == {"denied"}
    assert denied[0].actor_user_id == user.id
    assert denied[0].list_id == second.id
    assert _events(instance, "record.revealed") == []


def test_user_without_permission_gets_403(
    client: TestClient,
    instance: Instance,
    make_user: Callable[..., User],
    make_key: MakeKey,
) -> None:
    """A system-wide key is still bound by its user's list permissions."""
    owner = make_user("owner")
    first, _second = _two_lists(instance, owner)
    make_user("bob")

    response = client.get(f"/api/v1/lists/{first.id}/records", headers=make_key("bob"))

    assert response.status_code == 403
    assert "view permission" in _error(response)["message"]
    assert len(_events(instance, "api.access_denied")) == 1


ADMIN_ENDPOINTS = [
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", {"name": "mallory", "password": "a-long-password-1"}),
    ("GET", "/api/v1/groups", None),
    ("POST", "/api/v1/groups", {"name": "Crew"}),
    ("GET", "/api/v1/features/mobile/grants", None),
    ("GET", "/api/v1/audit", None),
    ("GET", "/api/v1/audit/verify", None),
    ("POST", "/api/v1/permissions/mobile-access", {"value": True}),
    ("POST", "/api/v1/lists", {"path": "New"}),
    ("POST", "/api/v1/folders", {"path": "New"}),
    ("GET", "/api/v1/folders", None),
]


@pytest.mark.parametrize("who", ["non-admin", "admin with a list-scoped key"])
def test_admin_endpoints_refuse_keys_without_admin_reach(
    client: TestClient,
    instance: Instance,
    make_user: Callable[..., User],
    make_key: MakeKey,
    who: str,
) -> None:
    """Users, groups, feature access, audit and bulk changes need an admin's
    system-wide key: anyone else gets 403 (audited) and nothing changes."""
    if who == "non-admin":
        make_user("carol")
        headers = make_key("carol")
    else:
        first, _ = _two_lists(instance, accounts_admin(instance))
        headers = make_key("admin", lists=[first])

    for method, path, body in ADMIN_ENDPOINTS:
        response = client.request(method, path, headers=headers, json=body)

        assert response.status_code == 403, (method, path)
        assert _error(response)["code"] == "permission_denied"

    assert len(_events(instance, "api.access_denied")) == len(ADMIN_ENDPOINTS)
    with instance.db.session() as session:
        assert accounts.list_groups(session) == []
        names = {u.login_name for u in accounts.list_users(session)}
        assert "mallory" not in names
        assert [s.path for s in vault.list_summaries(session, operator())] in (
            [],
            ["Ops/First", "Ops/Second"],
        )


def accounts_admin(instance: Instance) -> User:
    """The instance's first administrator."""
    with instance.db.session() as session:
        return accounts.find_user(session, "admin")


def test_last_used_time_is_recorded(
    client: TestClient, instance: Instance, admin_headers: dict[str, str]
) -> None:
    """A successful call stamps the key's last-used time."""
    with instance.db.session() as session:
        assert session.scalars(select(ApiKey.last_used_at)).one() is None

    client.get("/api/v1/me", headers=admin_headers)

    with instance.db.session() as session:
        assert session.scalars(select(ApiKey.last_used_at)).one() is not None
