"""Sign-in, sessions, lockout, TOTP and sign-out in the browser UI."""

import datetime
import html
import re
from collections.abc import Callable

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from strongroom.server.accounts import service as accounts
from strongroom.server.core.instance import Instance
from strongroom.server.core.instance import operator as cli_operator
from strongroom.server.settings import service as settings
from strongroom.server.web import auth
from strongroom.server.web.models import WebSession
from tests.conftest import ADMIN_PASSWORD
from tests.server.web.conftest import (
    USER_PASSWORD,
    Sample,
    csrf_of,
    events,
    field_error,
    sign_in,
    user_named,
)


def _attempt(client: TestClient, name: str, password: str) -> "object":
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


@pytest.mark.parametrize(
    ("base_url", "cookie", "secure"),
    [
        ("https://testserver", "__Host-sr_session", True),
        ("http://testserver", "sr_session", False),
    ],
)
def test_sign_in_sets_a_strict_httponly_cookie(
    make_client: Callable[..., TestClient], base_url: str, cookie: str, secure: bool
) -> None:
    """Signing in sets a HttpOnly SameSite=Strict session cookie, __Host- and
    Secure on HTTPS only, and lands on the vault."""
    client = make_client(base_url)
    response = _attempt(client, "admin", ADMIN_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/vault"
    set_cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(cookie + "=")
    )
    flags = {part.strip().lower() for part in set_cookie.split(";")}
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert "path=/" in flags
    assert ("secure" in flags) is secure
    assert not any(f.startswith("domain=") for f in flags)
    assert "Vault" in client.get("/vault").text


@pytest.mark.parametrize("name", ["admin", "nobody-here", ""])
def test_wrong_credentials_get_one_vague_answer(
    make_client: Callable[..., TestClient], instance: Instance, name: str
) -> None:
    """A wrong password and an unknown name get the same message (and no
    session); both are audited as failed sign-ins."""
    client = make_client()
    response = _attempt(client, name, "not-the-password")
    if not name:
        assert response.status_code == 422
        assert field_error(response.text, "username") == "Enter the user name."
        return
    assert response.status_code == 401
    assert "The user name or password is not right." in response.text
    assert client.get("/vault", follow_redirects=False).status_code == 303
    failed = events(instance, "auth.login_failed")
    assert failed[-1].target_name == name
    assert failed[-1].outcome == "failure"


def test_lockout_after_the_configured_failures(
    make_client: Callable[..., TestClient], instance: Instance
) -> None:
    """After `failed_login_limit` wrong passwords the account is locked: even the
    right password is refused with the minutes to wait, and it is audited."""
    with instance.db.session() as session:
        settings.set_value(session, cli_operator(), "failed_login_limit", 3)
        settings.set_value(session, cli_operator(), "lockout_minutes", 10)
    client = make_client()
    statuses = [
        _attempt(client, "admin", "wrong-password").status_code for _ in range(3)
    ]
    assert statuses == [401, 401, 429]
    locked = _attempt(client, "admin", ADMIN_PASSWORD)
    assert locked.status_code == 429
    assert "locked after too many failed sign-ins" in locked.text
    assert "10 minutes" in locked.text
    assert len(events(instance, "auth.locked_out")) == 1
    assert user_named(instance, "admin").locked_until is not None


def test_address_throttle_stops_guessing_across_accounts(
    make_client: Callable[..., TestClient], instance: Instance, sample: Sample
) -> None:
    """One address failing on many names is throttled before any account locks."""
    with instance.db.session() as session:
        settings.set_value(session, cli_operator(), "failed_login_limit", 2)
    client = make_client()
    # Each name fails once (under its own limit of 2), the address eight times.
    for i in range(2 * auth.ADDRESS_BUDGET_FACTOR):
        assert _attempt(client, f"ghost{i}", "guess").status_code == 401
    throttled = _attempt(client, "alice", USER_PASSWORD)
    assert throttled.status_code == 429
    assert "Too many failed sign-ins came from this address" in throttled.text
    assert "reset the password" not in throttled.text
    assert events(instance, "auth.login_throttled")


def test_login_form_without_its_token_is_refused(
    make_client: Callable[..., TestClient], instance: Instance
) -> None:
    """A sign-in posted without the form's token (login CSRF) is a 403 page."""
    client = make_client()
    response = client.post(
        "/login", data={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 403
    assert "was not sent from this site" in response.text
    assert events(instance, "web.csrf_rejected")


@pytest.mark.parametrize(
    ("column", "age"),
    [
        ("last_seen_at", datetime.timedelta(minutes=31)),
        ("created_at", datetime.timedelta(hours=13)),
    ],
)
def test_expired_session_redirects_to_sign_in(
    admin: TestClient, instance: Instance, column: str, age: datetime.timedelta
) -> None:
    """Past the idle (30 min) or absolute (12 h) timeout the next page is the
    sign-in page, saying the session expired, and the session row is gone."""
    past = datetime.datetime.now(datetime.UTC) - age
    with instance.db.session() as session:
        session.execute(update(WebSession).values({column: past}))
    response = admin.get("/vault", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?expired=1")
    assert "Your session expired" in admin.get(response.headers["location"]).text
    with instance.db.session() as session:
        assert session.query(WebSession).count() == 0


def test_background_refresh_does_not_keep_a_session_alive(
    alice: TestClient, sample: Sample, instance: Instance
) -> None:
    """The one-time code's timed refresh (flagged as background) is answered
    but does not count as activity, so a tab left open still idles out; a
    page the person opens does count."""
    url = f"/records/{sample.record_id}/otp"
    background = {"Accept": "application/json", "X-Strongroom-Background": "1"}

    def idle_for(minutes: int) -> None:
        past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=minutes)
        with instance.db.session() as session:
            session.execute(update(WebSession).values(last_seen_at=past))

    def last_seen() -> datetime.datetime:
        with instance.db.session() as session:
            return session.query(WebSession).one().last_seen_at

    idle_for(20)
    before = last_seen()
    assert alice.get(url, headers=background).status_code == 200
    assert last_seen() == before
    assert alice.get(url).status_code == 200
    assert last_seen() > before

    idle_for(31)
    gone = alice.get(url, headers=background)
    assert gone.status_code == 401
    assert gone.json()["error"]["code"] == "login_required"


def test_next_page_is_kept_but_only_local(
    make_client: Callable[..., TestClient],
) -> None:
    """An unauthenticated visit remembers the page; a foreign `next` is ignored."""
    client = make_client()
    first = client.get("/admin/users?x=1", follow_redirects=False)
    assert first.headers["location"] == "/login?next=%2Fadmin%2Fusers%3Fx%3D1"
    page = client.get("/login?next=//evil.example/")
    response = client.post(
        "/login",
        data={
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/vault"


def test_logout_ends_the_session(admin: TestClient, instance: Instance) -> None:
    """Signing out deletes the server-side session; the old cookie is useless."""
    cookies = dict(admin.cookies)
    page = admin.get("/vault")
    response = admin.post(
        "/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert response.headers["location"] == "/login?signed_out=1"
    admin.cookies.update(cookies)
    assert admin.get("/vault", follow_redirects=False).status_code == 303
    assert events(instance, "auth.logout")


def test_password_change_elsewhere_ends_sessions(
    admin: TestClient, instance: Instance
) -> None:
    """A password reset (here through the service, as the CLI does) ends every
    browser session signed in with the old password."""
    with instance.db.session() as session:
        user = accounts.find_user(session, "admin")
        accounts.set_password(session, cli_operator(), user, "a-brand-new-password")
    assert admin.get("/vault", follow_redirects=False).status_code == 303


def _enable_totp(instance: Instance, name: str) -> str:
    secret = pyotp.random_base32()
    with instance.db.session() as session:
        user = accounts.find_user(session, name)
        auth.enable_totp(session, instance.cipher, user, secret, cli_operator())
    return secret


def test_totp_second_factor(
    make_client: Callable[..., TestClient], instance: Instance
) -> None:
    """With TOTP on, the password leads to the code page; a wrong code is
    refused, the right one signs in, and the same code cannot be used twice."""
    secret = _enable_totp(instance, "admin")
    client = make_client()
    first = _attempt(client, "admin", ADMIN_PASSWORD)
    assert first.headers["location"].startswith("/login/second-factor")
    # Half signed in is not signed in.
    assert client.get("/vault", follow_redirects=False).headers["location"] == (
        "/login/second-factor"
    )
    page = client.get("/login/second-factor")
    token = csrf_of(page.text)
    wrong = client.post(
        "/login/second-factor", data={"code": "000000", "csrf_token": token}
    )
    assert wrong.status_code == 401
    code = pyotp.TOTP(secret).now()
    right = client.post(
        "/login/second-factor",
        data={"code": code, "csrf_token": token},
        follow_redirects=False,
    )
    assert right.status_code == 303
    assert client.get("/vault").status_code == 200

    replay = make_client()
    _attempt(replay, "admin", ADMIN_PASSWORD)
    page = replay.get("/login/second-factor")
    again = replay.post(
        "/login/second-factor", data={"code": code, "csrf_token": csrf_of(page.text)}
    )
    assert again.status_code == 401
    assert "already used" in again.text


def test_second_factor_keeps_the_page_asked_for(
    make_client: Callable[..., TestClient], instance: Instance
) -> None:
    """A page asked for before signing in (query string and all) is where the
    right code leads, past the password and the code pages."""
    secret = _enable_totp(instance, "admin")
    client = make_client()
    asked = client.get("/admin/audit?platform=web&event_type=auth.login")
    next_path = asked.url.params["next"]
    password = client.post(
        "/login",
        data={
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "next": next_path,
            "csrf_token": csrf_of(asked.text),
        },
    )
    assert password.url.path == "/login/second-factor"
    action = re.search(r'<form method="post" action="([^"]+)"', password.text)
    assert action and action.group(1).startswith("/login/second-factor?next=")
    right = client.post(
        html.unescape(action.group(1)),
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(password.text)},
        follow_redirects=False,
    )
    assert (
        right.headers["location"] == "/admin/audit?platform=web&event_type=auth.login"
    )


def test_totp_enrolment_in_preferences(admin: TestClient, instance: Instance) -> None:
    """Preferences shows a QR code and key; confirming a code from it turns
    TOTP on, stored sealed (not as the base32 text)."""
    page = admin.get("/preferences")
    admin.post("/preferences/totp/start", data={"csrf_token": csrf_of(page.text)})
    setup = admin.get("/preferences/totp")
    assert '<svg role="img"' in setup.text
    key = setup.text.split("Key: <code>")[1].split("</code>")[0].replace(" ", "")
    bad = admin.post(
        "/preferences/totp/confirm",
        data={"code": "123", "csrf_token": csrf_of(setup.text)},
    )
    assert bad.status_code == 422
    assert "does not match" in field_error(bad.text, "code")
    good = admin.post(
        "/preferences/totp/confirm",
        data={"code": pyotp.TOTP(key).now(), "csrf_token": csrf_of(setup.text)},
    )
    assert "Two-step sign-in is <strong>on</strong>" in good.text
    user = user_named(instance, "admin")
    assert user.totp_secret is not None
    assert key.encode() not in user.totp_secret
    with instance.db.session() as session:
        assert auth.open_totp_secret(session, instance.cipher, user) == key


def test_disabled_user_cannot_sign_in(
    make_client: Callable[..., TestClient], instance: Instance, sample: Sample
) -> None:
    """A disabled user gets the same vague refusal as a wrong password."""
    with instance.db.session() as session:
        accounts.set_active(
            session, cli_operator(), accounts.get_user(session, sample.alice_id), False
        )
    response = _attempt(make_client(), "alice", USER_PASSWORD)
    assert response.status_code == 401
    assert "The user name or password is not right." in response.text
    assert events(instance, "auth.login_failed")[-1].details["reason"] == "disabled"


def test_sign_in_helper_works_for_users(alice: TestClient) -> None:
    """A plain user reaches the vault and sees no Administration link."""
    page = alice.get("/vault")
    assert page.status_code == 200
    assert 'href="/admin"' not in page.text
    assert "Team" in page.text


def test_second_factor_page_without_pending_session(
    make_client: Callable[..., TestClient],
) -> None:
    """Opening the code page without a half-finished sign-in goes to sign-in."""
    client = make_client()
    response = client.get("/login/second-factor", follow_redirects=False)
    assert response.headers["location"] == "/login?expired=1"
    sign_in(client, "admin", ADMIN_PASSWORD)
    assert client.get("/vault").status_code == 200
