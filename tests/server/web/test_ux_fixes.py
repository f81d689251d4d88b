"""Review fixes U2, U6, B5, B6, B8 and B13 of the browser UI: Post/Redirect/Get
with one-time passwords, locked users, folder choices, the vertical vault
tree, audit filter errors and device button labels. (U1, the confirmation
steps, is in test_confirmations.py.)"""

import datetime
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from strongroom.server.accounts.models import User
from strongroom.server.core.db import utcnow
from strongroom.server.core.instance import Instance
from strongroom.server.core.instance import operator as cli_operator
from strongroom.server.mobile.models import Device
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Folder, Level, PasswordList
from tests.server.web.conftest import (
    Sample,
    csrf_of,
    events,
    field_error,
    user_named,
)

PASSWORD_RE = re.compile(r'id="new-password" type="text" readonly value="([^"]+)"')


def _device(instance: Instance, user_id: str, name: str) -> str:
    with instance.db.session() as session:
        device = Device(
            user_id=user_id,
            name=name,
            platform="android",
            box_public_key=b"k" * 32,
            credential_hash="0" * 64,
        )
        session.add(device)
        session.flush()
        return device.id


# --- U2: Post/Redirect/Get, one-time password shown once -------------------------


@pytest.mark.parametrize(
    ("path", "data", "flash"),
    [
        ("/admin/users", {"login_name": "carol"}, "carol added."),
        ("/admin/users/{alice}/password", {}, "Password of alice reset."),
    ],
)
def test_generated_password_redirects_and_shows_once(
    admin: TestClient, sample: Sample, path: str, data: dict[str, str], flash: str
) -> None:
    """Add user and Reset password answer 303 (a refresh cannot resubmit);
    the generated password is on the next page once and gone on a refresh."""
    token = csrf_of(admin.get("/admin/users").text)
    response = admin.post(
        path.format(alice=sample.alice_id),
        data={"csrf_token": token, **data},
        follow_redirects=False,
    )
    assert response.status_code == 303
    target = response.headers["location"]
    assert re.fullmatch(r"/admin/users/[0-9a-f-]+", target)

    first = admin.get(target).text
    assert PASSWORD_RE.search(first), first
    assert flash in first
    again = admin.get(target).text
    assert not PASSWORD_RE.search(again)
    assert "shown only now" not in again


def test_typed_password_reset_redirects_without_showing_it(
    admin: TestClient, sample: Sample
) -> None:
    """A typed password is never echoed back; the reset still redirects."""
    url = f"/admin/users/{sample.alice_id}"
    token = csrf_of(admin.get(url).text)
    response = admin.post(
        f"{url}/password",
        data={"csrf_token": token, "new_password": "a-typed-long-password"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = admin.get(url).text
    assert "a-typed-long-password" not in page
    assert "Password of alice reset." in page


def test_add_record_redirects(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """Adding a record answers 303 to the new record, so a refresh cannot add
    it twice."""
    with instance.db.session() as session:
        plist = session.get(PasswordList, sample.shared_id)
        admin_user = session.scalar(select(User).where(User.login_name == "admin"))
        vault.grant(session, cli_operator(), plist, Level.MODIFY, user=admin_user)  # type: ignore[arg-type]
    url = f"/lists/{sample.shared_id}/records/new"
    token = csrf_of(admin.get(url).text)
    response = admin.post(
        url, data={"csrf_token": token, "title": "NAS"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/records/")
    assert "NAS" in admin.get(response.headers["location"]).text


# --- B5: unknown folder ids ------------------------------------------------------


@pytest.mark.parametrize("folder_id", ["nope", "00000000-0000-0000-0000-000000000000"])
@pytest.mark.parametrize(
    ("path", "field", "name_field"),
    [
        ("/vault/folders", "parent_folder", "folder_name"),
        ("/vault/lists", "list_folder", "list_name"),
    ],
)
def test_unknown_folder_is_a_field_error(
    admin: TestClient,
    instance: Instance,
    folder_id: str,
    path: str,
    field: str,
    name_field: str,
) -> None:
    """A bad or unknown folder id is an error on the folder field, and nothing
    is created at the top level instead."""
    token = csrf_of(admin.get("/vault").text)
    response = admin.post(
        path, data={"csrf_token": token, field: folder_id, name_field: "Stray"}
    )
    assert response.status_code == 422
    assert "does not exist" in field_error(response.text, field)
    with instance.db.session() as session:
        assert session.scalar(select(Folder).where(Folder.name == "Stray")) is None
        assert (
            session.scalar(select(PasswordList).where(PasswordList.name == "Stray"))
            is None
        )


# --- B6: vertical tree -----------------------------------------------------------


def test_vault_tree_is_a_vertical_nested_list(
    admin: TestClient, instance: Instance
) -> None:
    """With six folders the tree is nested lists outside any <nav> (whose
    lists Pico lays out as flex rows), and the stylesheet stacks them."""
    with instance.db.session() as session:
        for i in range(6):
            vault.create_list(
                session, cli_operator(), f"Folder{i}/Sub/List{i}", create_folders=True
            )
    page = admin.get("/vault").text
    tree = re.search(
        r'<div role="navigation" aria-label="Folders and password lists" '
        r'class="vault-tree">(.*?)\n</div>',
        page,
        re.S,
    )
    assert tree, page
    markup = tree.group(1)
    assert "<nav" not in markup
    assert markup.count('<li class="tree-folder">') == 12
    # Each sub-folder's list sits inside its parent's item: nested, not a row.
    assert re.search(
        r'<summary>Folder0</summary>\s*<ul class="tree">\s*<li class="tree-folder">',
        markup,
    )
    css = admin.get("/static/app.css").text
    assert re.search(r"\.vault-tree ul\.tree \{[^}]*display: block", css)
    assert re.search(r"\.vault-tree li \{[^}]*display: block", css)


# --- B8: audit filter errors -----------------------------------------------------


@pytest.mark.parametrize(
    ("params", "label"),
    [
        ({"platform": "fax"}, "Platform"),
        ({"since": "yesterday"}, "From date"),
        ({"since": "2030-02-01", "until": "2030-01-01"}, "To date"),
    ],
)
def test_bad_audit_filter_names_the_field(
    admin: TestClient, params: dict[str, str], label: str
) -> None:
    """A bad filter names its field, shows no unfiltered table, and the CSV
    export answers 422 plain text naming the field."""
    page = admin.get("/admin/audit", params=params)
    assert page.status_code == 422
    assert re.search(rf'<a href="#f-[a-z_]+">{label}</a>:', page.text)
    assert "audit-log" not in page.text
    assert "Correct the filter to see the events." in page.text

    exported = admin.get("/admin/audit.csv", params=params)
    assert exported.status_code == 422
    assert exported.headers["content-type"].startswith("text/plain")
    assert f"{label}:" in exported.text


# --- U6: locked users -------------------------------------------------------------


def test_users_list_shows_locked_accounts(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """A locked user shows "Locked" with until when; an unlocked one does not."""
    until = utcnow() + datetime.timedelta(minutes=15)
    with instance.db.session() as session:
        alice = session.get(User, sample.alice_id)
        alice.locked_until = until  # type: ignore[union-attr]
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(
            r'<a href="/admin/users/[^"]+">([^<]+)</a>(.*?)</tr>',
            admin.get("/admin/users").text,
            re.S,
        )
    }
    assert "<strong>Locked</strong>" in rows["alice"]
    assert "until" in rows["alice"]
    assert "Locked" not in rows["bob"]


def test_locked_user_is_unlocked_from_the_user_page(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """The locked user's page says until when and offers Unlock; unlocking
    (audited) clears the lock, and the users list shows Active again."""
    with instance.db.session() as session:
        alice = session.get(User, sample.alice_id)
        alice.failed_logins = 5  # type: ignore[union-attr]
        alice.locked_until = utcnow() + datetime.timedelta(minutes=15)  # type: ignore[union-attr]
    url = f"/admin/users/{sample.alice_id}"
    page = admin.get(url).text
    assert "Active · locked until" in page
    assert f'<form method="post" action="{url}/unlock"' in page
    done = admin.post(
        f"{url}/unlock", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == url
    after = admin.get(url).text
    assert "alice is unlocked." in after and "locked until" not in after
    assert f"{url}/unlock" not in after
    assert "Locked" not in admin.get("/admin/users").text
    assert events(instance, "user.unlocked")
    assert user_named(instance, "alice").failed_logins == 0


# --- B13: device button labels ----------------------------------------------------


def test_device_buttons_name_the_device(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """Revoke and Remote wipe carry the device's name for screen readers, and
    a nameless device falls back to its id."""
    _device(instance, sample.alice_id, "Pixel")
    nameless = _device(instance, sample.alice_id, "")
    page = admin.get(f"/admin/users/{sample.alice_id}").text
    for button in ("Revoke", "Remote wipe"):
        assert f'{button}<span class="visually-hidden"> device Pixel</span>' in page
        assert (
            f'{button}<span class="visually-hidden"> device {nameless}</span>' in page
        )
