"""Folders, lists, records and permissions through the REST API."""

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.instance import Instance, operator
from strongroom.server.settings import service as system_settings
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, Record
from tests.server.web.api.conftest import MakeKey

API = "/api/v1"


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _audit(instance: Instance, event_type: str) -> list[AuditEvent]:
    with instance.db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.event_type == event_type)
                .order_by(AuditEvent.seq)
            )
        )


def test_folder_crud(client: TestClient, admin_headers: dict[str, str]) -> None:
    """An admin creates nested folders, renames one, deletes only an empty one."""
    h = admin_headers
    top = _ok(
        client.post(
            f"{API}/folders",
            json={"path": "IT/Servers", "create_parents": True},
            headers=h,
        ),
        201,
    )
    assert top["path"] == "IT/Servers"
    _ok(client.post(f"{API}/lists", json={"path": "IT/Servers/Prod"}, headers=h), 201)

    renamed = _ok(
        client.patch(f"{API}/folders/{top['id']}", json={"name": "Hosts"}, headers=h)
    )
    assert renamed["path"] == "IT/Hosts"
    listing = _ok(client.get(f"{API}/folders", headers=h))
    assert [f["path"] for f in listing["items"]] == ["IT", "IT/Hosts"]

    refused = client.delete(f"{API}/folders/{renamed['parent_id']}", headers=h)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "folder"

    empty = _ok(client.post(f"{API}/folders", json={"path": "Spare"}, headers=h), 201)
    _ok(client.delete(f"{API}/folders/{empty['id']}", headers=h))
    assert client.get(f"{API}/folders/{empty['id']}", headers=h).status_code == 404


def test_list_crud_gives_the_creator_admin(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """A list made through the API is administered by the key's user, who can
    then read it, see its permissions and delete it."""
    h = admin_headers
    made = _ok(
        client.post(
            f"{API}/lists",
            json={
                "path": "Finance/Bank",
                "description": "cards",
                "create_folders": True,
            },
            headers=h,
        ),
        201,
    )
    assert (made["path"], made["folder_path"], made["records"]) == (
        "Finance/Bank",
        "Finance",
        0,
    )
    assert (
        _ok(client.get(f"{API}/lists/{made['id']}", headers=h))["description"]
        == "cards"
    )
    grid = _ok(client.get(f"{API}/lists/{made['id']}/permissions", headers=h))
    assert [(p["grantee_name"], p["level"]) for p in grid["items"]] == [
        ("admin", "admin")
    ]

    clash = client.post(f"{API}/lists", json={"path": "Finance/Bank"}, headers=h)
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "already_exists"

    assert _ok(client.delete(f"{API}/lists/{made['id']}", headers=h))["records"] == 0
    assert client.get(f"{API}/lists/{made['id']}", headers=h).status_code == 404


def _new_list(client: TestClient, h: dict[str, str], path: str = "Team") -> str:
    return str(
        _ok(client.post(f"{API}/lists", json={"path": path}, headers=h), 201)["id"]
    )


def test_record_crud_and_audited_reveal(
    client: TestClient, instance: Instance, admin_headers: dict[str, str]
) -> None:
    """Records are created, listed without secrets, revealed only on request
    (audited as record.revealed on platform api), replaced, patched, deleted."""
    h = admin_headers
    list_id = _new_list(client, h)
    body = {
        "title": "db1",
        "username": "root",
        "password": "s3cret-pw",
        "notes": "rotate monthly",
        "otp_secret": "JBSWY3DPEHPK3PXP",
        "expires_at": "2030-01-31",
        "fields": [
            {"name": "pin", "value": "1234", "secret": True},
            {"name": "rack", "value": "B2"},
        ],
    }
    created = _ok(
        client.post(f"{API}/lists/{list_id}/records", json=body, headers=h), 201
    )
    record_id = created["id"]
    assert (created["password"], created["has_password"], created["revealed"]) == (
        None,
        True,
        False,
    )
    assert created["fields"] == [
        {"name": "pin", "value": None, "secret": True},
        {"name": "rack", "value": "B2", "secret": False},
    ]

    listing = _ok(client.get(f"{API}/lists/{list_id}/records", headers=h))
    assert listing["total"] == 1
    assert "password" not in listing["items"][0]

    hidden = _ok(client.get(f"{API}/records/{record_id}", headers=h))
    assert (hidden["password"], hidden["notes"], hidden["otp_secret"]) == (
        None,
        None,
        None,
    )
    assert _audit(instance, "record.revealed") == []
    assert len(_audit(instance, "record.viewed")) == 1

    shown = _ok(client.get(f"{API}/records/{record_id}?reveal=true", headers=h))
    assert (shown["password"], shown["notes"], shown["otp_secret"]) == (
        "s3cret-pw",
        "rotate monthly",
        "JBSWY3DPEHPK3PXP",
    )
    assert shown["fields"][0]["value"] == "1234"
    [revealed] = _audit(instance, "record.revealed")
    assert (revealed.platform, revealed.record_id, revealed.list_id) == (
        "api",
        record_id,
        list_id,
    )
    assert "API key" in revealed.actor_name

    patched = _ok(
        client.patch(
            f"{API}/records/{record_id}", json={"password": "n3w-pw"}, headers=h
        )
    )
    assert (patched["title"], patched["username"], patched["has_notes"]) == (
        "db1",
        "root",
        True,
    )
    again = _ok(client.get(f"{API}/records/{record_id}?reveal=true", headers=h))
    assert (again["password"], again["notes"], again["fields"][0]["value"]) == (
        "n3w-pw",
        "rotate monthly",
        "1234",
    )

    replaced = _ok(
        client.put(f"{API}/records/{record_id}", json={"title": "db1-new"}, headers=h)
    )
    assert (replaced["title"], replaced["has_password"], replaced["fields"]) == (
        "db1-new",
        False,
        [],
    )

    _ok(client.delete(f"{API}/records/{record_id}", headers=h))
    assert client.get(f"{API}/records/{record_id}", headers=h).status_code == 404


def test_record_listing_pages_and_searches(
    client: TestClient, instance: Instance, admin_headers: dict[str, str]
) -> None:
    """Records come back by title in pages, and `q` narrows them."""
    h = admin_headers
    list_id = _new_list(client, h)
    with instance.db.session() as session:
        plist = vault.get_list(session, list_id)
        for n in range(7):
            vault.create_record(
                session,
                operator(),
                instance.cipher,
                plist,
                vault.RecordInput(title=f"host-{n}", url=f"https://h{n}.example"),
            )

    page = _ok(client.get(f"{API}/lists/{list_id}/records?limit=3&offset=3", headers=h))
    assert (page["total"], [r["title"] for r in page["items"]]) == (
        7,
        ["host-3", "host-4", "host-5"],
    )
    found = _ok(client.get(f"{API}/lists/{list_id}/records?q=H5.EX", headers=h))
    assert [r["title"] for r in found["items"]] == ["host-5"]
    literal = _ok(client.get(f"{API}/lists/{list_id}/records?q=%25", headers=h))
    assert literal["total"] == 0


def test_writes_need_modify(
    client: TestClient,
    instance: Instance,
    admin_headers: dict[str, str],
    make_user: Callable[..., User],
    make_key: MakeKey,
) -> None:
    """A user with View reads records but gets 403 creating, changing or deleting."""
    list_id = _new_list(client, admin_headers)
    record = _ok(
        client.post(
            f"{API}/lists/{list_id}/records", json={"title": "x"}, headers=admin_headers
        ),
        201,
    )
    viewer = make_user("viewer")
    with instance.db.session() as session:
        vault.grant(
            session,
            operator(),
            vault.get_list(session, list_id),
            Level.VIEW,
            user=session.get(User, viewer.id),
        )
    h = make_key("viewer")

    assert client.get(f"{API}/records/{record['id']}", headers=h).status_code == 200
    for response in (
        client.post(f"{API}/lists/{list_id}/records", json={"title": "y"}, headers=h),
        client.put(f"{API}/records/{record['id']}", json={"title": "y"}, headers=h),
        client.patch(f"{API}/records/{record['id']}", json={"title": "y"}, headers=h),
        client.delete(f"{API}/records/{record['id']}", headers=h),
        client.get(f"{API}/lists/{list_id}/permissions", headers=h),
    ):
        assert response.status_code == 403, response.text
    with instance.db.session() as session:
        assert [r.title for r in session.scalars(select(Record))] == ["x"]


def test_permissions_with_mobile_access_flag(
    client: TestClient,
    instance: Instance,
    admin_headers: dict[str, str],
    make_user: Callable[..., User],
) -> None:
    """A new grant takes Mobile Access from the system setting unless told; the
    flag changes per row; a grant is revoked; grantees are checked."""
    h = admin_headers
    list_id = _new_list(client, h)
    alice, bob = make_user("alice"), make_user("bob")
    with instance.db.session() as session:
        group = accounts.create_group(session, operator(), "Ops")
        group_id = group.id
    url = f"{API}/lists/{list_id}/permissions"

    by_default = _ok(
        client.post(url, json={"user_id": alice.id, "level": "view"}, headers=h), 201
    )
    assert by_default["mobile_access"] is True

    with instance.db.session() as session:
        system_settings.set_value(session, operator(), "mobile_access_default", "no")
    off = _ok(
        client.post(url, json={"group_id": group_id, "level": "modify"}, headers=h), 201
    )
    assert (off["grantee_kind"], off["level"], off["mobile_access"]) == (
        "group",
        "modify",
        False,
    )
    explicit = _ok(
        client.post(
            url,
            json={"user_id": bob.id, "level": "view", "mobile_access": True},
            headers=h,
        ),
        201,
    )
    assert explicit["mobile_access"] is True

    changed = _ok(
        client.patch(f"{url}/{off['id']}", json={"mobile_access": True}, headers=h)
    )
    assert (changed["mobile_access"], changed["level"]) == (True, "modify")
    regrant = client.post(url, json={"user_id": alice.id, "level": "admin"}, headers=h)
    assert regrant.status_code == 200
    assert (regrant.json()["level"], regrant.json()["mobile_access"]) == ("admin", True)

    _ok(client.delete(f"{url}/{explicit['id']}", headers=h))
    grid = _ok(client.get(url, headers=h))["items"]
    assert sorted(
        (p["grantee_name"], p["level"], p["mobile_access"]) for p in grid
    ) == [
        ("Ops", "modify", True),
        ("admin", "admin", True),  # the creator's grant, made while the default was on
        ("alice", "admin", True),
    ]
    assert [e.platform for e in _audit(instance, "permission.revoked")] == ["api"]

    both = client.post(
        url,
        json={"user_id": alice.id, "group_id": group_id, "level": "view"},
        headers=h,
    )
    assert (both.status_code, both.json()["error"]["field"]) == (422, "user_id")
    ghost = client.post(
        url,
        json={"user_id": "00000000-0000-0000-0000-000000000000", "level": "view"},
        headers=h,
    )
    assert ghost.status_code == 404


def test_the_last_admin_permission_is_neither_lowered_nor_removed(
    client: TestClient,
    instance: Instance,
    admin_headers: dict[str, str],
    make_user: Callable[..., User],
) -> None:
    """As in the web UI, the list's only Admin permission cannot be lowered
    (PATCH, or a new grant of a lower level) nor removed: 422 saying so, and
    the grid stays as it was. With a second Admin, both work."""
    h = admin_headers
    list_id = _new_list(client, h)
    url = f"{API}/lists/{list_id}/permissions"
    (mine,) = _ok(client.get(url, headers=h))["items"]
    me = _ok(client.get(f"{API}/me", headers=h))["user_id"]

    refusals = [
        client.patch(f"{url}/{mine['id']}", json={"level": "view"}, headers=h),
        client.post(url, json={"user_id": me, "level": "modify"}, headers=h),
        client.delete(f"{url}/{mine['id']}", headers=h),
    ]

    for response, field in zip(refusals, ["level", "level", "permission_id"]):
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert (error["field"], error["message"]) == (
            field,
            "this is the last Admin permission of the list",
        )
        assert error["hint"].startswith("grant Admin to someone else first")
    assert _ok(client.get(url, headers=h))["items"] == [mine]
    assert _audit(instance, "permission.revoked") == []

    alice = make_user("alice")
    _ok(client.post(url, json={"user_id": alice.id, "level": "admin"}, headers=h), 201)
    lowered = _ok(
        client.patch(f"{url}/{mine['id']}", json={"level": "view"}, headers=h)
    )
    assert lowered["level"] == "view"


def test_bulk_mobile_access_counts_then_sets(
    client: TestClient,
    instance: Instance,
    admin_headers: dict[str, str],
    make_user: Callable[..., User],
) -> None:
    """A dry run says how many permissions would change; the real run changes them."""
    h = admin_headers
    first, second = _new_list(client, h, "One"), _new_list(client, h, "Two")
    user = make_user("dana")
    for list_id in (first, second):
        _ok(
            client.post(
                f"{API}/lists/{list_id}/permissions",
                json={"user_id": user.id, "level": "view", "mobile_access": False},
                headers=h,
            ),
            201,
        )
    url = f"{API}/permissions/mobile-access"

    dry = _ok(client.post(url, json={"value": False, "dry_run": True}, headers=h))
    assert dry == {"changed": 2, "dry_run": True}  # the creator's own two grants
    one = _ok(client.post(url, json={"value": True, "list_ids": [first]}, headers=h))
    assert one == {"changed": 1, "dry_run": False}
    rest = _ok(client.post(url, json={"value": True}, headers=h))
    assert rest["changed"] == 1
    with instance.db.session() as session:
        assert vault.count_mobile_access_changes(session, True) == 0


def test_unknown_ids_are_404_json(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """Every lookup of a missing object answers 404 in the JSON error shape."""
    ghost = "00000000-0000-0000-0000-000000000000"
    for path in (
        f"/folders/{ghost}",
        f"/lists/{ghost}",
        f"/lists/{ghost}/records",
        f"/records/{ghost}",
        f"/users/{ghost}",
        f"/groups/{ghost}",
    ):
        response = client.get(API + path, headers=admin_headers)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
