"""Bad input gets a 4xx JSON error naming the field, never a 500 or a write."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from strongroom.server.web.api.errors import MAX_BODY_BYTES
from tests.server.support import row_counts

API = "/api/v1"


@pytest.fixture
def list_id(client: TestClient, admin_headers: dict[str, str]) -> str:
    """A list the admin key may write to."""
    response = client.post(f"{API}/lists", json={"path": "Bad"}, headers=admin_headers)
    return str(response.json()["id"])


RECORD_CASES = [
    ({"title": "t" * 256}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "ok", "password": "p" * 4097}, "password"),
    ({"title": "ok", "url": "u" * 2049}, "url"),
    ({"title": "ok", "extra": 1}, "extra"),
    ({"title": "nul\x00byte"}, "title"),
    ({"title": "ok", "expires_at": "not-a-date"}, "expires_at"),
    ({"title": "ok", "fields": [{"name": "", "value": "v"}]}, "fields.0.name"),
    ({"title": 5}, "title"),
    ({}, "title"),
]


def test_invalid_record_fields_are_named(
    client: TestClient,
    admin_headers: dict[str, str],
    list_id: str,
    database_url: str,
) -> None:
    """Each invalid record body gets 422 whose error names the offending field,
    and nothing is written."""
    before = row_counts(database_url)["records"]

    for body, field in RECORD_CASES:
        response = client.post(
            f"{API}/lists/{list_id}/records", json=body, headers=admin_headers
        )

        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("invalid_field", field), body
        assert field.split(".")[0] in error["message"]

    assert row_counts(database_url)["records"] == before


def test_unpaired_surrogate_is_refused(
    client: TestClient, admin_headers: dict[str, str], list_id: str
) -> None:
    """JSON may escape a lone surrogate; it is refused as invalid text, not stored."""
    response = client.post(
        f"{API}/lists/{list_id}/records",
        content=b'{"title": "\\ud800"}',
        headers={**admin_headers, "Content-Type": "application/json"},
    )

    assert (response.status_code, response.json()["error"]["field"]) == (422, "title")


GARBAGE_BODIES = [
    (b"{not json", "application/json", 400, "invalid_json"),
    (b"\xff\xfe\x00garbage", "application/json", 400, "invalid_json"),
    (b'{"title": "\xff"}', "application/json", 400, "invalid_json"),
    (b"[" * 100_000, "application/json", 400, "invalid_json"),
    (b"[1, 2, 3]", "application/json", 422, "invalid_field"),
    (b"title=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b"", "application/json", 422, "invalid_field"),
]


def test_garbage_bodies_get_json_errors(
    client: TestClient, admin_headers: dict[str, str], list_id: str
) -> None:
    """Bodies that are not a JSON object are refused with a JSON error."""
    for content, content_type, status, code in GARBAGE_BODIES:
        response = client.post(
            f"{API}/lists/{list_id}/records",
            content=content,
            headers={**admin_headers, "Content-Type": content_type},
        )

        assert response.status_code == status, (content, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain; charset=utf-8", "application/octet-stream"],
)
def test_json_sent_under_another_content_type_names_the_header(
    client: TestClient,
    admin_headers: dict[str, str],
    list_id: str,
    database_url: str,
    content_type: str,
) -> None:
    """A valid JSON body declared as something else gets 415 telling the
    caller to send Content-Type: application/json, not a riddle about a
    dictionary; nothing is written."""
    before = row_counts(database_url)["records"]

    response = client.post(
        f"{API}/lists/{list_id}/records",
        content=b'{"title": "Mail"}',
        headers={**admin_headers, "Content-Type": content_type},
    )

    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "application/json" in error["hint"]
    assert "dictionary" not in response.text
    assert row_counts(database_url)["records"] == before


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/x+json"],
)
def test_json_content_types_are_accepted(
    client: TestClient,
    admin_headers: dict[str, str],
    list_id: str,
    content_type: str,
) -> None:
    """Every Content-Type that declares JSON still creates the record."""
    response = client.post(
        f"{API}/lists/{list_id}/records",
        content=b'{"title": "Mail"}',
        headers={**admin_headers, "Content-Type": content_type},
    )

    assert response.status_code == 201, response.text


def test_wrong_content_type_without_a_key_answers_401(
    client: TestClient, list_id: str
) -> None:
    """The key is still judged before the Content-Type."""
    response = client.post(
        f"{API}/lists/{list_id}/records",
        content=b'{"title": "Mail"}',
        headers={"Content-Type": "text/plain"},
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"title": "\xff"}', b"[" * 100_000],
    ids=["not-json", "not-utf8", "too-deep"],
)
def test_a_broken_body_without_a_key_answers_401(
    client: TestClient, list_id: str, content: bytes
) -> None:
    """The key is checked before the body, however the body is broken: a
    caller without a key learns nothing about how its body was parsed."""
    response = client.post(
        f"{API}/lists/{list_id}/records",
        content=content,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_oversized_body_is_refused_unread(
    client: TestClient, admin_headers: dict[str, str], list_id: str
) -> None:
    """A body over the cap gets 413 JSON, whether its length is declared or streamed."""
    big = b'{"title": "' + b"x" * MAX_BODY_BYTES + b'"}'
    declared = client.post(
        f"{API}/lists/{list_id}/records",
        content=big,
        headers={**admin_headers, "Content-Type": "application/json"},
    )

    def chunks() -> Any:
        yield big[: len(big) // 2]
        yield big[len(big) // 2 :]

    streamed = client.post(
        f"{API}/lists/{list_id}/records",
        content=chunks(),
        headers={**admin_headers, "Content-Type": "application/json"},
    )

    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"


BAD_PARAMETERS = [
    ("/lists?limit=0", "limit"),
    ("/lists?limit=100000", "limit"),
    ("/lists?offset=-1", "offset"),
    ("/lists/not%20an%20id", "list_id"),
    ("/records/%00", "record_id"),
    ("/audit?since=9999-12-31T23:59:59-23:59", "since"),
    ("/audit?platform=fax", "platform"),
    ("/records/abc?reveal=perhaps", "reveal"),
]


def test_invalid_query_and_path_values_are_named(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """Bad paging, malformed ids and bad filters get 422 naming the parameter."""
    for path, field in BAD_PARAMETERS:
        response = client.get(API + path, headers=admin_headers)

        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["field"] == field, path


def test_unknown_paths_and_methods_answer_json(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    """An unknown path is a JSON 404; an unknown method a JSON 405 with Allow."""
    missing = client.get(f"{API}/nothing/here", headers=admin_headers)
    wrong = client.delete(f"{API}/lists", headers=admin_headers)

    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (
        405,
        "method_not_allowed",
    )
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
