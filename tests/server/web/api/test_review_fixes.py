"""API fixes from the first user test: key scope, no-op changes, OTP secrets,
oversized and broken bodies."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.instance import Instance, operator
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, PasswordList
from tests.server.web.api.conftest import MakeKey

API = "/api/v1"


def _list_with_admin(instance: Instance, user: User) -> PasswordList:
    with instance.db.session() as session:
        plist = vault.create_list(session, operator(), "Ops/Keys", create_folders=True)
        vault.grant(
            session, operator(), plist, Level.ADMIN, user=session.get(User, user.id)
        )
        return plist


def _event_count(instance: Instance) -> int:
    with instance.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_list_scoped_key_cannot_delete_its_list_or_change_permissions(
    client: TestClient,
    instance: Instance,
    make_user: Callable[..., User],
    make_key: MakeKey,
) -> None:
    """A key scoped to a list its user administers may not delete the list, nor
    grant, change or revoke permissions on it; a system-wide key of the same
    user may."""
    alice = make_user("alice")
    bob = make_user("bob")
    plist = _list_with_admin(instance, alice)
    scoped = make_key("alice", lists=[plist])
    base = f"{API}/lists/{plist.id}"
    perm_id = client.get(f"{base}/permissions", headers=make_key("alice")).json()[
        "items"
    ][0]["id"]

    calls = [
        ("POST", f"{base}/permissions", {"user_id": bob.id, "level": "admin"}),
        ("PATCH", f"{base}/permissions/{perm_id}", {"level": "view"}),
        ("DELETE", f"{base}/permissions/{perm_id}", None),
        ("DELETE", base, None),
    ]
    for method, path, body in calls:
        response = client.request(method, path, json=body, headers=scoped)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "permission_denied"

    system = make_key("alice")
    granted = client.post(
        f"{base}/permissions",
        json={"user_id": bob.id, "level": "view"},
        headers=system,
    )
    assert granted.status_code == 201, granted.text
    assert client.delete(base, headers=system).status_code == 200


def test_unchanged_grant_and_patch_are_not_recorded(
    client: TestClient,
    instance: Instance,
    make_user: Callable[..., User],
    admin_headers: dict[str, str],
) -> None:
    """Granting the level someone already holds, or a PATCH that changes
    nothing, answers 200 with the permission but writes no audit event."""
    bob = make_user("bob")
    with instance.db.session() as session:
        plist = vault.create_list(session, operator(), "Same", create_folders=True)
    base = f"{API}/lists/{plist.id}/permissions"
    body = {"user_id": bob.id, "level": "view", "mobile_access": False}
    first = client.post(base, json=body, headers=admin_headers)
    assert first.status_code == 201
    before = _event_count(instance)

    again = client.post(base, json=body, headers=admin_headers)
    patched = client.patch(
        f"{base}/{first.json()['id']}",
        json={"level": "view", "mobile_access": False},
        headers=admin_headers,
    )
    assert again.status_code == 200
    assert patched.status_code == 200
    assert patched.json()["level"] == "view"
    assert _event_count(instance) == before


@pytest.mark.parametrize(
    ("secret", "status"),
    [
        ("not base32 at all!", 422),
        ("otpauth://totp/x?secret=%21%21", 422),
        ("JBSWY3DPEHPK3PXP", 201),
        ("", 201),
    ],
)
def test_api_checks_otp_secrets_like_the_form(
    client: TestClient,
    instance: Instance,
    admin_headers: dict[str, str],
    secret: str,
    status: int,
) -> None:
    """The API refuses an OTP secret the web form refuses, naming the field."""
    with instance.db.session() as session:
        plist = vault.create_list(session, operator(), "Otp", create_folders=True)
        vault.grant(session, operator(), plist, Level.ADMIN, user=_admin(session))
    response = client.post(
        f"{API}/lists/{plist.id}/records",
        json={"title": "t", "otp_secret": secret},
        headers=admin_headers,
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert response.json()["error"]["field"] == "otp_secret"


def _admin(session: Session) -> User:
    return accounts.find_user(session, "admin")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sr_bad_key"}])
def test_broken_json_without_a_key_is_401(
    client: TestClient, instance: Instance, headers: dict[str, str]
) -> None:
    """A POST with a broken body and no valid key answers 401, not 400: the key
    is judged before the body."""
    response = client.post(
        f"{API}/lists",
        content=b"{not json",
        headers={"Content-Type": "application/json", **headers},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_broken_json_with_a_key_is_still_400(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """With a valid key, a broken body still gets its precise 400."""
    response = client.post(
        f"{API}/lists",
        content=b"{not json",
        headers={"Content-Type": "application/json", **admin_headers},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
