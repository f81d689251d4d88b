"""Administration > API keys: the list, creating a key (shown once), field
messages, and revoking with the confirmation step."""

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from strongroom.server.accounts import api_keys
from strongroom.server.accounts.api_key_models import ApiKey
from strongroom.server.core.instance import Instance
from strongroom.server.core.instance import operator as cli_operator
from strongroom.server.vault import service as vault
from tests.server.web.conftest import Sample, csrf_of, events, field_error, user_named

PAGE = "/admin/api-keys"
TOKEN_RE = re.compile(r'id="new-api-key" type="text" readonly value="(sr_[^"]+)"')


def _rows(page: str) -> dict[str, str]:
    """Each key's table row, by key name."""
    return {
        m.group(2): m.group(0)
        for m in re.finditer(
            r'<tr id="key-([^"]+)">\s*<td[^>]*>([^<]+)<.*?</tr>', page, re.S
        )
    }


def _create(admin: TestClient, **fields: object) -> str:
    token = csrf_of(admin.get(PAGE).text)
    response = admin.post(PAGE, data={"csrf_token": token, **fields})
    assert response.status_code == 200, response.text
    return response.text


def test_admin_menu_links_the_page(admin: TestClient, alice: TestClient) -> None:
    """The admin overview and menu link API keys; a non-admin is refused."""
    overview = admin.get("/admin").text
    assert '<a href="/admin/api-keys">API keys</a>: Keys scripts use' in overview
    assert "No API key has been created yet." in admin.get(PAGE).text
    assert alice.get(PAGE).status_code == 403


def test_system_wide_key_is_shown_once_and_works(
    admin: TestClient, instance: Instance
) -> None:
    """The new key is on the result page only, with the note; the list shows it
    active, system-wide, acting as admin, unused until a call uses it."""
    page = _create(admin, key_name="backup script", scope="system")
    found = TOKEN_RE.search(page)
    assert found, page
    token = found.group(1)
    assert "cannot be shown again" in page

    listing = admin.get(PAGE).text
    row = _rows(listing)["backup script"]
    assert token not in listing
    for shown in ("System-wide", "Active", "admin", "never"):
        assert shown in row, shown
    assert 'href="/admin/api-keys/' in row and "Revoke" in row

    me = admin.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert "never" not in _rows(admin.get(PAGE).text)["backup script"].split("</td>")[4]
    created = events(instance, "api_key.created")
    assert len(created) == 1 and token not in str(created[0].details)


def test_list_scoped_key_names_its_lists(
    admin: TestClient, instance: Instance, sample: Sample
) -> None:
    """A key for chosen lists shows their paths as its scope."""
    page = _create(
        admin,
        key_name="sync",
        scope="lists",
        lists=[sample.shared_id, sample.secret_id],
    )
    assert TOKEN_RE.search(page)
    row = _rows(admin.get(PAGE).text)["sync"]
    assert "Team/Shared, Vault/Secret" in row
    with instance.db.session() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.name == "sync"))
        assert key is not None and not key.system_wide


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"key_name": "", "scope": "system"}, "key_name", "Enter the key name."),
        ({"key_name": "x" * 101, "scope": "system"}, "key_name", "the limit is 100"),
        ({"key_name": "a\tb", "scope": "system"}, "key_name", "control characters"),
        ({"key_name": "k"}, "scope", "Choose system-wide or chosen lists."),
        ({"key_name": "k", "scope": "everything"}, "scope", "Choose one of"),
        ({"key_name": "k", "scope": "lists"}, "lists", "Tick at least one"),
        (
            {"key_name": "k", "scope": "lists", "lists": "nope"},
            "lists",
            "does not exist",
        ),
    ],
)
def test_bad_fields_are_named_next_to_the_field(
    admin: TestClient,
    instance: Instance,
    sample: Sample,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    """Each bad value gets its message by its field (422) and no key is made."""
    token = csrf_of(admin.get(PAGE).text)
    response = admin.post(PAGE, data={"csrf_token": token, **fields})
    assert response.status_code == 422
    assert message in html.unescape(field_error(response.text, field))
    assert not TOKEN_RE.search(response.text)
    assert not events(instance, "api_key.created")


def test_form_keeps_what_was_typed(admin: TestClient, sample: Sample) -> None:
    """After an error the name, scope and ticked lists are still filled in."""
    token = csrf_of(admin.get(PAGE).text)
    page = admin.post(
        PAGE,
        data={
            "csrf_token": token,
            "key_name": "x" * 101,
            "scope": "lists",
            "lists": sample.shared_id,
        },
    ).text
    assert 'name="scope" value="lists" checked' in page
    assert f'name="lists" value="{sample.shared_id}" checked' in page


def test_revoke_asks_first_then_revokes(admin: TestClient, instance: Instance) -> None:
    """Revoke leads to a confirmation page; confirmed, the key is revoked
    (audited), the list says so and the key stops working."""
    with instance.db.session() as session:
        issued = api_keys.create_key(
            session,
            cli_operator(),
            "old script",
            user=user_named(instance, "admin"),
            system_wide=True,
        )
        key_id, token = issued.key.id, issued.token
    ask = admin.get(f"{PAGE}/{key_id}/revoke")
    assert ask.status_code == 200
    assert "Revoke the API key “old script”?" in ask.text
    assert "Calls made with this key fail from now on" in ask.text
    assert f'<a href="{PAGE}" role="button"' in ask.text

    done = admin.post(
        f"{PAGE}/{key_id}/revoke",
        data={"csrf_token": csrf_of(ask.text), "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == PAGE
    listing = admin.get(PAGE).text
    assert "API key “old script” revoked." in listing
    assert "Revoked" in _rows(listing)["old script"]
    assert events(instance, "api_key.revoked")
    bearer = {"Authorization": f"Bearer {token}"}
    assert admin.get("/api/v1/me", headers=bearer).status_code == 401

    again = admin.get(f"{PAGE}/{key_id}/revoke").text
    assert "already revoked" in again and 'name="confirm"' not in again


def test_list_deleted_after_creation_still_lists(
    admin: TestClient, instance: Instance, sample: Sample
) -> None:
    """A key whose only list was deleted still shows, with no list left."""
    _create(admin, key_name="gone", scope="lists", lists=sample.secret_id)
    with instance.db.session() as session:
        vault.delete_list(
            session, cli_operator(), vault.get_list(session, sample.secret_id)
        )
    assert "(no list left)" in _rows(admin.get(PAGE).text)["gone"]
