"""Security properties of the whole browser UI: headers, CSRF on every
state-changing route, the admin gate, audited refusals, and no 500 for garbage."""

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.server.core.instance import Instance
from strongroom.server.web.app import UI_ROUTERS
from tests.server.web.conftest import Sample, csrf_of, events

# Routes whose token is checked against a half-finished sign-in, not a
# session; test_auth covers them.
PRE_SESSION_POSTS = {"/login/second-factor", "/login/cancel"}


def _ui_routes(app: FastAPI, method: str) -> list[str]:
    """Every path of the UI's page routers answering `method`."""
    paths = [
        route.path
        for router in UI_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and method in route.methods
    ]
    return sorted(set(paths))


def _concrete(path: str, sample: Sample) -> str:
    values = {
        "list_id": sample.shared_id,
        "record_id": sample.record_id,
        "user_id": sample.alice_id,
        "group_id": sample.group_id,
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "no-such-id"), path)


def test_security_headers_on_every_page(admin: TestClient, sample: Sample) -> None:
    """Pages carry a CSP without inline script or style, framing and sniffing
    protection, no referrer, no caching, and HSTS (the client uses HTTPS)."""
    for path in ("/login", "/vault", f"/records/{sample.record_id}", "/admin/settings"):
        response = admin.get(path)
        csp = response.headers["content-security-policy"]
        assert "unsafe-inline" not in csp
        assert "script-src 'self'" in csp
        assert "style-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_no_hsts_over_plain_http(make_client: Callable[..., TestClient]) -> None:
    """HSTS is only sent over HTTPS, where it means something."""
    response = make_client("http://testserver").get("/login")
    assert "strict-transport-security" not in response.headers
    assert "content-security-policy" in response.headers


def test_pages_have_no_inline_script_or_style(
    admin: TestClient, sample: Sample
) -> None:
    """No page has an inline <script> body, a style attribute or an on* handler,
    which the CSP would block anyway (so the UI must not rely on them)."""
    for path in _ui_routes(admin.app, "GET"):  # type: ignore[arg-type]
        if path.endswith((".json", ".csv", "/otp")):
            continue
        html = admin.get(_concrete(path, sample)).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_every_state_changing_route_needs_the_csrf_token(
    admin: TestClient,
    app: FastAPI,
    sample: Sample,
    instance: Instance,
    token: str | None,
) -> None:
    """Every POST of the UI answers a missing or wrong CSRF token with the 403
    page and changes nothing; each refusal is audited."""
    before = len(events(instance, "web.csrf_rejected"))
    posts = [p for p in _ui_routes(app, "POST") if p not in PRE_SESSION_POSTS]
    assert len(posts) > 30
    for path in posts:
        data = {"csrf_token": token} if token else {}
        response = admin.post(
            _concrete(path, sample), data=data, follow_redirects=False
        )
        assert response.status_code == 403, path
        assert "was not sent from this site" in response.text, path
    assert len(events(instance, "web.csrf_rejected")) == before + len(posts)
    # The session itself is untouched: the admin is still signed in.
    assert admin.get("/admin").status_code == 200


def test_admin_pages_refuse_users_with_a_reason(
    alice: TestClient, app: FastAPI, sample: Sample, instance: Instance
) -> None:
    """Every administration page (GET and POST, with a valid token) gives a
    non-admin the 403 page saying why, audited as web.admin_denied."""
    token = csrf_of(alice.get("/vault").text)
    checked = 0
    for method in ("GET", "POST"):
        for path in _ui_routes(app, method):
            if not path.startswith("/admin"):
                continue
            url = _concrete(path, sample)
            if method == "GET":
                response = alice.get(url)
            else:
                response = alice.post(url, data={"csrf_token": token})
            assert response.status_code == 403, (method, path)
            assert "Administration is for administrators only" in response.text
            checked += 1
    denied = events(instance, "web.admin_denied")
    assert len(denied) == checked
    assert denied[-1].actor_name == "alice"


def test_opening_a_list_or_record_without_permission_is_refused_and_audited(
    make_client: Callable[..., TestClient], sample: Sample, instance: Instance
) -> None:
    """bob, with no permission, gets a 403 page for alice's list and record,
    and each attempt is audited with the list (and record) it aimed at."""
    from tests.server.web.conftest import USER_PASSWORD, sign_in

    bob = sign_in(make_client(), "bob", USER_PASSWORD)
    token = csrf_of(bob.get("/vault").text)
    attempts = [
        ("GET", f"/lists/{sample.shared_id}"),
        ("GET", f"/records/{sample.record_id}"),
        ("POST", f"/records/{sample.record_id}/reveal"),
        ("POST", f"/records/{sample.record_id}/copy"),
        ("GET", f"/records/{sample.record_id}/edit"),
        ("GET", f"/lists/{sample.shared_id}/permissions"),
    ]
    for method, url in attempts:
        response = bob.request(
            method, url, data={"csrf_token": token} if method == "POST" else None
        )
        assert response.status_code == 403, url
        assert "permission" in response.text
        assert "s3cret-Router-pw" not in response.text
    denied = events(instance, "web.access_denied")
    assert len(denied) == len(attempts)
    assert {e.list_id for e in denied} == {sample.shared_id}
    assert denied[1].record_id == sample.record_id
    assert all(e.outcome == "denied" and e.actor_name == "bob" for e in denied)


def test_unknown_things_are_404_pages(admin: TestClient) -> None:
    """Unknown pages, lists and records give a 404 page, not a stack trace."""
    for url in ("/no/such/page", "/lists/nope", "/records/nope", "/admin/users/nope"):
        response = admin.get(url)
        assert response.status_code == 404, url
        assert "Not found" in response.text


def test_nul_in_an_address_is_not_found(
    admin: TestClient, app: FastAPI, sample: Sample
) -> None:
    """An id holding NUL (which PostgreSQL cannot even compare) gives every
    page the 404 page, never a 500."""
    token = csrf_of(admin.get("/vault").text)
    checked = 0
    for method in ("GET", "POST"):
        for path in _ui_routes(app, method):
            if "{" not in path:
                continue
            url = re.sub(r"\{\w+\}", "%00", path)
            data = {"csrf_token": token, "confirm": "yes", "value": "yes"}
            response = admin.request(
                method, url, data=data if method == "POST" else None
            )
            assert response.status_code == 404, (method, path)
            assert "There is no page at this address" in response.text
            checked += 1
    assert checked > 30
    # The API names the malformed id itself.
    api = admin.get("/api/v1/lists/%00")
    assert api.status_code == 401
    # Still signed in: the refusal ended nothing.
    assert admin.get("/vault").status_code == 200


def test_value_the_database_refuses_is_a_422_page(
    admin: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value the database cannot store gets a page saying nothing changed
    (422), not the 500 page."""
    from sqlalchemy.exc import DataError

    def refuse(*args: object, **kwargs: object) -> None:
        raise DataError("SELECT 1", {}, ValueError("out of range"))

    monkeypatch.setattr("strongroom.server.web.queries.vault_tree", refuse)
    response = admin.get("/vault")
    assert response.status_code == 422
    assert "nothing was changed" in response.text
    assert "Something unexpected" not in response.text


def test_oversized_body_is_refused(admin: TestClient, sample: Sample) -> None:
    """A body over 1 MiB is refused with 413 before any handler reads it."""
    token = csrf_of(admin.get("/vault").text)
    response = admin.post(
        f"/lists/{sample.shared_id}/records/new",
        data={"csrf_token": token, "notes": "x" * 1_100_000},
    )
    assert response.status_code == 413


# Forms and the fields they read; garbage goes into every field at once.
GARBAGE_FORMS = [
    ("/vault/folders", ["parent_folder", "folder_name"]),
    ("/vault/lists", ["list_folder", "list_name", "list_description"]),
    (
        "/lists/{list_id}/records/new",
        [
            "title",
            "username",
            "password",
            "url",
            "description",
            "notes",
            "domain",
            "host_name",
            "otp_secret",
            "expires_at",
            "field_name_0",
            "field_value_0",
        ],
    ),
    ("/records/{record_id}/edit", ["title", "url", "otp_secret", "expires_at"]),
    ("/records/{record_id}/copy", ["field"]),
    ("/lists/{list_id}/permissions", ["grantee", "level", "mobile_access"]),
    ("/admin/users", ["login_name", "display_name", "email", "password", "is_admin"]),
    ("/admin/users/{user_id}/active", ["value"]),
    ("/admin/users/{user_id}/offline-ttl", ["offline_ttl_days"]),
    ("/admin/groups", ["group_name", "group_description"]),
    ("/admin/groups/{group_id}/members", ["user_id"]),
    ("/admin/feature-access", ["add", "remove"]),
    (
        "/admin/settings",
        [
            "mobile_access_default",
            "app_server_url",
            "app_server_pin",
            "offline_ttl_days",
            "failed_unlock_limit",
            "lockout_minutes",
            "failed_login_limit",
            "biometric_allowed",
            "master_password_reentry_hours",
            "session_idle_minutes",
            "session_absolute_hours",
        ],
    ),
    ("/admin/bulk-mobile-access/confirm", ["scope", "lists", "value"]),
    ("/admin/bulk-mobile-access/apply", ["scope", "lists", "value"]),
    ("/admin/api-keys", ["key_name", "scope", "lists"]),
    ("/admin/users/{user_id}/mobile-clear", ["confirm"]),
    ("/preferences/password", ["current_password", "new_password", "confirm_password"]),
    ("/preferences/mobile/password", ["master_password", "confirm_master_password"]),
    ("/preferences/totp/disable", ["totp_password"]),
]
GARBAGE_QUERIES = [
    ("/lists/{list_id}", ["q", "sort", "dir", "page"]),
    ("/generator", ["length", "classes"]),
    (
        "/admin/audit",
        ["user", "event_type", "list", "platform", "since", "until", "page"],
    ),
    ("/admin/audit.csv", ["user", "platform", "since"]),
    ("/admin/diagnostics", ["user"]),
    ("/lists/{list_id}/permissions", ["q"]),
    ("/admin/feature-access", ["q"]),
    ("/admin/groups/{group_id}", ["q"]),
]
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300
) | st.sampled_from(
    [
        "\x00",
        "-1",
        "99999999999999999999",
        "0",
        "yes",
        "1e9",
        "../../etc",
        "<b>x</b>",
        "2030-02-30",
        "https://",
        "user:",
        "group:nope",
        "' OR 1=1 --",
        "%00",
        "é" * 300,
    ]
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=TEXT)
def test_garbage_never_causes_a_server_error(
    admin: TestClient, sample: Sample, value: str
) -> None:
    """Any text in any field of any form or filter gives a page (2xx, 3xx or
    4xx), never a 500; the client raises if the app fails."""
    token = csrf_of(admin.get("/vault").text)
    for path, fields in GARBAGE_FORMS:
        data = {name: value for name in fields}
        data["csrf_token"] = token
        response = admin.post(
            _concrete(path, sample), data=data, follow_redirects=False
        )
        assert response.status_code < 500, (path, value)
    for path, names in GARBAGE_QUERIES:
        params = {name: value for name in names}
        response = admin.get(_concrete(path, sample), params=params)
        assert response.status_code < 500, (path, value)


def test_script_calls_get_json_errors(
    make_client: Callable[..., TestClient], sample: Sample
) -> None:
    """The page script's fetch calls (Accept: JSON) get JSON errors: 401 when
    the session is gone, 403 with a reason when the permission is missing."""
    from tests.server.web.conftest import USER_PASSWORD, sign_in

    anonymous = make_client()
    gone = anonymous.get(
        f"/records/{sample.record_id}/otp", headers={"Accept": "application/json"}
    )
    assert gone.status_code == 401
    assert gone.json()["error"]["code"] == "login_required"
    bob = sign_in(make_client(), "bob", USER_PASSWORD)
    denied = bob.post(
        f"/records/{sample.record_id}/copy",
        headers={
            "Accept": "application/json",
            "X-CSRF-Token": csrf_of(bob.get("/vault").text),
        },
    )
    assert denied.status_code == 403
    assert "permission" in denied.json()["error"]["message"]
