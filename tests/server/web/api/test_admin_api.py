"""Users, groups, feature access and the audit log through the REST API."""

from collections.abc import Callable
from typing import Any, get_args

from fastapi.testclient import TestClient

from strongroom.server.accounts.models import User
from strongroom.server.core.actor import PLATFORMS
from strongroom.server.core.instance import Instance
from strongroom.server.web.api.audit import Platform
from tests.server.web.conftest import OFFLINE_EVENTS, phone_with_history

API = "/api/v1"


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_users_are_created_disabled_and_given_passwords(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """An admin creates a user (also DOMAIN\\name), reads it, disables it."""
    h = admin_headers
    made = _ok(
        client.post(
            f"{API}/users",
            json={
                "name": "corp\\erin",
                "password": "a-long-password-1",
                "email": "e@x.io",
            },
            headers=h,
        ),
        201,
    )
    assert (made["name"], made["domain"], made["active"]) == (
        "CORP\\erin",
        "CORP",
        True,
    )
    assert "password" not in made and "password_hash" not in made

    changed = _ok(
        client.patch(
            f"{API}/users/{made['id']}",
            json={"active": False, "password": "another-long-pw-2"},
            headers=h,
        )
    )
    assert changed["active"] is False
    listing = _ok(client.get(f"{API}/users?limit=1&offset=1", headers=h))
    assert (listing["total"], [u["name"] for u in listing["items"]]) == (
        2,
        ["CORP\\erin"],
    )

    clash = client.post(
        f"{API}/users",
        json={"name": "CORP\\erin", "password": "a-long-password-1"},
        headers=h,
    )
    assert clash.status_code == 409
    weak = client.post(
        f"{API}/users", json={"name": "frank", "password": "short"}, headers=h
    )
    assert (weak.status_code, weak.json()["error"]["field"]) == (422, "password")


def test_an_admin_key_cannot_disable_its_own_user(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """As in the web UI, an administrator cannot disable their own account
    (the last one would lock everyone out): 422 naming `active`, and nothing
    of the request is applied, not even its password change."""
    me = _ok(client.get(f"{API}/me", headers=admin_headers))
    refused = client.patch(
        f"{API}/users/{me['user_id']}",
        json={"active": False, "password": "another-long-pw-2"},
        headers=admin_headers,
    )

    assert refused.status_code == 422
    error = refused.json()["error"]
    assert (error["field"], error["message"]) == (
        "active",
        "you cannot disable your own account",
    )
    assert error["hint"] == "ask another administrator"
    still = _ok(client.get(f"{API}/users/{me['user_id']}", headers=admin_headers))
    assert still["active"] is True
    changes = _ok(
        client.get(f"{API}/audit?event_type=user.password_set", headers=admin_headers)
    )
    assert changes["total"] == 0


def test_groups_and_members(client: TestClient, admin_headers: dict[str, str]) -> None:
    """An admin creates a group, adds and removes a member."""
    h = admin_headers
    user = _ok(
        client.post(
            f"{API}/users",
            json={"name": "gus", "password": "a-long-password-1"},
            headers=h,
        ),
        201,
    )
    group = _ok(client.post(f"{API}/groups", json={"name": "Ops"}, headers=h), 201)
    url = f"{API}/groups/{group['id']}/members/{user['id']}"

    added = _ok(client.put(url, headers=h))
    assert [m["name"] for m in added["members"]] == ["gus"]
    assert _ok(client.get(f"{API}/groups", headers=h))["items"][0]["member_count"] == 1
    assert _ok(client.delete(url, headers=h))["members"] == []
    assert client.delete(url, headers=h).status_code == 404


def test_feature_access_grant_and_revoke(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """The Mobile App feature is granted to a group, listed, and taken back."""
    h = admin_headers
    group = _ok(client.post(f"{API}/groups", json={"name": "Phones"}, headers=h), 201)
    url = f"{API}/features/mobile/grants"

    grant = _ok(client.post(url, json={"group_id": group["id"]}, headers=h), 201)
    assert (grant["grantee_kind"], grant["grantee_name"]) == ("group", "Phones")
    assert (
        client.post(url, json={"group_id": group["id"]}, headers=h).status_code == 200
    )
    assert [g["id"] for g in _ok(client.get(url, headers=h))["items"]] == [grant["id"]]

    _ok(client.delete(f"{url}/{grant['id']}", headers=h))
    assert _ok(client.get(url, headers=h))["items"] == []
    unknown = client.get(f"{API}/features/teleport/grants", headers=h)
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (422, "feature")


def test_audit_query_filters_and_chain(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """The audit log answers filters by platform and event type, pages, and verifies."""
    h = admin_headers
    client.post(f"{API}/groups", json={"name": "A"}, headers=h)
    client.post(f"{API}/groups", json={"name": "B"}, headers=h)

    api_groups = _ok(
        client.get(
            f"{API}/audit?platform=api&event_type=group.created&limit=1", headers=h
        )
    )
    assert api_groups["total"] == 2
    assert api_groups["items"][0]["target_name"] == "B"
    future = _ok(client.get(f"{API}/audit?since=2999-01-01T00:00:00Z", headers=h))
    assert future["total"] == 0
    naive = client.get(f"{API}/audit?since=2020-01-01T00:00:00", headers=h)
    assert (naive.status_code, naive.json()["error"]["field"]) == (422, "since")
    assert _ok(client.get(f"{API}/audit/verify", headers=h))["ok"] is True


def _events(client: TestClient, headers: dict[str, str], **params: str) -> list[Any]:
    """(occurred_at, event_type, actor_name) of every matching event, newest
    first, after checking that `total` agrees."""
    page = _ok(client.get(f"{API}/audit", params=params, headers=headers))
    assert page["total"] == len(page["items"])
    return [
        (e["occurred_at"][:16], e["event_type"], e["actor_name"]) for e in page["items"]
    ]


def test_audit_query_by_user_time_range_and_device_platform(
    client: TestClient,
    admin_headers: dict[str, str],
    instance: Instance,
    make_user: Callable[..., User],
) -> None:
    """`user_id` answers exactly that user's events, `since`/`until` exactly
    those in the range (events before and after left out) and
    `platform=device` exactly the events of phones' pairing and syncs."""
    h = admin_headers
    alice, bob = make_user("alice"), make_user("bob")
    phone_with_history(instance, "alice", OFFLINE_EVENTS)
    phone_with_history(instance, "bob")
    _ok(client.post(f"{API}/groups", json={"name": "Ops"}, headers=h), 201)

    def kinds(**params: str) -> list[tuple[str, str]]:
        return [(kind, who) for _at, kind, who in _events(client, h, **params)]

    assert kinds(user_id=alice.id) == [
        ("device.sync", "alice"),
        ("device.record_revealed", "alice"),
        ("device.record_copied", "alice"),
        ("device.record_viewed", "alice"),
        ("mobile.pair", "alice"),
    ]
    assert kinds(user_id=bob.id) == [("device.sync", "bob"), ("mobile.pair", "bob")]

    # Uploaded at noon on 1, 5 and 10 March 2024 (device time); the rest today.
    assert _events(
        client, h, since="2024-03-02T00:00:00Z", until="2024-03-10T00:00:00Z"
    ) == [("2024-03-05T12:00", "device.record_copied", "alice")]
    assert _events(
        client, h, since="2024-03-05T12:00:00Z", until="2024-03-10T12:00:01+00:00"
    ) == [
        ("2024-03-10T12:00", "device.record_revealed", "alice"),
        ("2024-03-05T12:00", "device.record_copied", "alice"),
    ]
    # `until` is exclusive: the event at exactly noon on 10 March is not in.
    assert kinds(since="2024-03-01T00:00:00Z", until="2024-03-10T12:00:00Z") == [
        ("device.record_copied", "alice"),
        ("device.record_viewed", "alice"),
    ]

    # Neither the admin's group nor anything else of platform api is there.
    assert kinds(platform="device") == [
        ("device.sync", "bob"),
        ("mobile.pair", "bob"),
        ("device.sync", "alice"),
        ("device.record_revealed", "alice"),
        ("device.record_copied", "alice"),
        ("device.record_viewed", "alice"),
        ("mobile.pair", "alice"),
    ]
    ((kind, who),) = kinds(platform="api")
    assert (kind, who.startswith("admin (API key ")) == ("group.created", True)


def test_audit_platform_filter_knows_every_platform() -> None:
    """The API's platform filter offers exactly the platforms actors carry."""
    assert set(get_args(Platform)) == set(PLATFORMS)
