"""Fixes from the first user test of the browser UI: lockouts that do not tell
which names exist, the Origin check, proxy headers, the form macro, 413s,
copy fields and wording."""

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.datastructures import FormData

from strongroom.crypto.certificates import make_self_signed
from strongroom.server.appserver.runner import make_config
from strongroom.server.core.errors import ValidationError
from strongroom.server.core.instance import Instance
from strongroom.server.core.instance import operator as cli_operator
from strongroom.server.settings import service as settings
from strongroom.server.web.forms import FormReader, error_for
from strongroom.server.web.headers import MAX_BODY_BYTES
from tests.server.web.conftest import (
    USER_PASSWORD,
    Sample,
    csrf_of,
    events,
    user_named,
)


def _limit(instance: Instance, failures: int) -> None:
    with instance.db.session() as session:
        settings.set_value(session, cli_operator(), "failed_login_limit", failures)
        settings.set_value(session, cli_operator(), "lockout_minutes", 10)


def _attempt(client: TestClient, name: str, password: str) -> tuple[int, str]:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    problem = re.search(r'id="login-problem">([^<]*)<', response.text)
    return response.status_code, problem.group(1) if problem else ""


def test_unknown_names_lock_like_real_accounts(
    make_client: Callable[..., TestClient], instance: Instance, sample: Sample
) -> None:
    """After `failed_login_limit` failures a real name and an unknown one get
    the same statuses and the same words, so a guesser cannot tell them apart."""
    _limit(instance, 2)
    real = [_attempt(make_client(), "alice", "wrong-pw") for _ in range(3)]
    ghost = [_attempt(make_client(), "nobody-at-all", "wrong-pw") for _ in range(3)]
    assert [s for s, _ in real] == [401, 429, 429]
    assert real == ghost
    assert "This account is locked" in real[-1][1]
    assert user_named(instance, "alice").locked_until is not None


def test_wrong_current_password_counts_toward_the_lockout(
    make_client: Callable[..., TestClient], instance: Instance, sample: Sample
) -> None:
    """Wrong "current password" entries in Preferences are audited, lock the
    account at the limit and end the session."""
    _limit(instance, 2)
    client = make_client()
    page = client.get("/login")
    client.post(
        "/login",
        data={
            "username": "alice",
            "password": USER_PASSWORD,
            "csrf_token": csrf_of(page.text),
        },
    )
    form = {
        "current_password": "not-it",
        "new_password": "a-new-long-password-9",
        "confirm_password": "a-new-long-password-9",
        "csrf_token": csrf_of(client.get("/preferences").text),
    }
    first = client.post("/preferences/password", data=form, follow_redirects=False)
    assert first.status_code == 422
    second = client.post("/preferences/password", data=form, follow_redirects=False)
    assert second.status_code == 303
    assert second.headers["location"] == "/login?locked=1"
    assert "account is locked" in client.get("/login?locked=1").text
    assert client.get("/preferences", follow_redirects=False).status_code == 303
    reasons = [e.details["reason"] for e in events(instance, "auth.login_failed")]
    assert reasons.count("wrong_current_password") == 2
    assert len(events(instance, "auth.locked_out")) == 1
    assert user_named(instance, "alice").locked_until is not None


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 303),
        ({"Referer": "https://evil.example/page"}, 403),
        ({"Origin": "https://testserver"}, 303),
        ({"Referer": "https://testserver/vault"}, 303),
        ({}, 303),
    ],
)
def test_cross_site_origin_is_refused(
    admin: TestClient, headers: dict[str, str], status: int
) -> None:
    """A state-changing request from another origin gets the CSRF 403 page even
    with the right token; the app's own origin (or no header) passes."""
    token = csrf_of(admin.get("/preferences").text)
    response = admin.post(
        "/logout", data={"csrf_token": token}, headers=headers, follow_redirects=False
    )
    assert response.status_code == status
    if status == 403:
        assert "not sent from this site" in response.text


def test_login_checks_the_origin_too(make_client: Callable[..., TestClient]) -> None:
    """Even the sign-in form is refused when posted from another site."""
    client = make_client()
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": "admin", "password": "x", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(("tls", "trusted"), [(True, False), (False, True)])
def test_proxy_headers_only_without_tls(
    tmp_path: Path, tls: bool, trusted: bool
) -> None:
    """X-Forwarded-* are believed only when serving plain HTTP behind a proxy."""
    cert = key = None
    if tls:
        # A real pair: make_config refuses files that are not PEM.
        pair = make_self_signed(["127.0.0.1"])
        cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
        cert.write_bytes(pair.cert_pem)
        key.write_bytes(pair.key_pem)
    config = make_config(FastAPI(), "127.0.0.1", 0, cert, key)
    assert config.proxy_headers is trusted


def test_login_form_keeps_required_and_autocomplete(
    make_client: Callable[..., TestClient],
) -> None:
    """The field macro writes `required` and `autocomplete` as separate
    attributes, so browsers see both."""
    html = make_client().get("/login").text
    user_input = re.search(r'<input id="f-username"[^>]*>', html)
    assert user_input is not None
    tag = user_input.group(0)
    assert re.search(r"\srequired\s", tag)
    assert re.search(r'\sautocomplete="username"', tag)
    assert "requiredautocomplete" not in html


@pytest.mark.parametrize(
    ("path", "json_body"), [("/login", False), ("/api/v1/lists", True)]
)
def test_oversized_body_gets_a_proper_413(
    make_client: Callable[..., TestClient], path: str, json_body: bool
) -> None:
    """A body over 1 MiB gets JSON under /api/ and an HTML error page elsewhere."""
    response = make_client().post(
        path,
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 413
    if json_body:
        assert response.json()["error"]["code"] == "too_large"
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert "larger than this server accepts" in response.text


@pytest.mark.parametrize(
    ("field", "status"),
    [("bogus", 422), ("", 422), ("field-7", 422), ("otp_code", 200)],
)
def test_copy_refuses_unknown_fields(
    alice: TestClient, sample: Sample, field: str, status: int
) -> None:
    """Copy answers 422 for a field that is not there (never the password),
    and copies the current one-time code."""
    token = csrf_of(alice.get(f"/records/{sample.record_id}").text)
    response = alice.post(
        f"/records/{sample.record_id}/copy",
        data={"field": field, "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == status
    assert "s3cret-Router-pw" not in response.text
    if status == 200:
        assert re.fullmatch(r"\d{6}", response.json()["value"])


def test_not_found_page_knows_the_user_is_signed_in(admin: TestClient) -> None:
    """A 404 page of a signed-in user offers no sign-in link."""
    response = admin.get("/no-such-page")
    assert response.status_code == 404
    assert 'href="/login"' not in response.text


def test_audit_csv_details_are_json(admin: TestClient) -> None:
    """The CSV export's `details` column is JSON a script can parse."""
    exported = admin.get("/admin/audit.csv", params={"event_type": "auth.login"})
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows
    assert json.loads(rows[-1]["details"]) == {"method": "password"}


def test_favicon_is_not_a_404(make_client: Callable[..., TestClient]) -> None:
    """/favicon.ico answers 204 rather than an error page."""
    assert make_client().get("/favicon.ico").status_code == 204


@pytest.mark.parametrize(
    ("field", "label", "expected"),
    [
        ("notes", None, "The notes are 5 characters; the limit is 3."),
        ("title", None, "The title is 5 characters; the limit is 3."),
    ],
)
def test_length_messages_agree_in_number(
    field: str, label: str | None, expected: str
) -> None:
    """Length errors say "the notes are", not "the notes is"."""
    reader = FormReader(FormData([(field, "abcde")]))
    reader.text(field, label=label, max_len=3)
    assert reader.errors[field] == expected


def test_service_hints_read_as_sentences() -> None:
    """A service error's lower-case hint is shown as a capitalised sentence."""
    exc = ValidationError("name", "that name is taken", hint="choose another name")
    assert error_for(exc, {"name": "name"}) == (
        "name",
        "That name is taken. Choose another name.",
    )
