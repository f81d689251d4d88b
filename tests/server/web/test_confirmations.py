"""Destructive actions ask first, without JavaScript: the button is a link to
a page that says in plain words what will happen, with Confirm (a POST with
the CSRF token and `confirm=yes`) and Cancel. A POST without `confirm=yes`
changes nothing and shows that page instead."""

import html
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.core.instance import Instance
from strongroom.server.core.instance import operator as cli_operator
from strongroom.server.mobile import service as mobile
from strongroom.server.mobile.models import Device
from strongroom.server.vault.models import Permission
from tests.server.web.conftest import Sample, csrf_of, events, user_named


@dataclass(frozen=True)
class Setup:
    """The ids a case's paths are made of."""

    alice: str
    group: str
    shared: str
    device: str
    perm: str

    def fill(self, text: str) -> str:
        """`text` with {alice}, {device}, ... replaced by the ids."""
        return text.format(**self.__dict__)


@pytest.fixture
def setup(instance: Instance, sample: Sample) -> Setup:
    """alice with a master password and one paired phone, "Pixel 8"."""
    with instance.db.session() as session:
        alice = session.get(User, sample.alice_id)
        assert alice is not None
        mobile.set_master_password(session, cli_operator(), alice, "a-long-master-pw-9")
        device = Device(
            user_id=alice.id,
            name="Pixel 8",
            platform="android",
            box_public_key=b"k" * 32,
            credential_hash="0" * 64,
        )
        session.add(device)
        session.flush()
        perm = session.scalar(
            select(Permission.id).where(Permission.list_id == sample.shared_id)
        )
        assert perm is not None
        return Setup(
            sample.alice_id, sample.group_id, sample.shared_id, device.id, perm
        )


def _text(page: str) -> str:
    """The page's text as a person reads it (entities decoded)."""
    return html.unescape(page)


def _acted(instance: Instance, event: str) -> Callable[[], bool]:
    return lambda: bool(events(instance, event))


@dataclass(frozen=True)
class Case:
    """One destructive action: where its button is, what the page says."""

    who: str
    button_page: str
    path: str
    says: str
    flash: str
    event: str
    fields: tuple[tuple[str, str], ...] = ()


USER = "/admin/users/{alice}"
CASES = {
    "disable user": Case(
        "admin",
        USER,
        USER + "/active",
        "alice will be signed out of every browser at once (1 open session) and "
        "cannot sign in until an administrator enables the account again.",
        "alice is disabled.",
        "user.disabled",
        (("value", "no"),),
    ),
    "clear master password": Case(
        "admin",
        USER,
        USER + "/mobile-clear",
        "alice's phones will be unpaired and must be paired again with a new QR "
        "code, after alice sets a new master password.",
        "Mobile credentials of alice cleared; 1 device(s) revoked.",
        "mobile.credentials_cleared",
    ),
    "remote wipe": Case(
        "admin",
        USER,
        USER + "/devices/{device}/wipe",
        "The phone “Pixel 8” of alice will erase its offline copy the next time "
        "it contacts the App Server.",
        "Remote wipe ordered for Pixel 8.",
        "device.wipe_requested",
    ),
    "revoke device": Case(
        "admin",
        USER,
        USER + "/devices/{device}/revoke",
        "The phone “Pixel 8” of alice will be unpaired: it cannot sync any more "
        "and erases its offline copy the next time it contacts the App Server.",
        "Device Pixel 8 revoked.",
        "device.revoked",
    ),
    "remove group member": Case(
        "admin",
        "/admin/groups/{group}",
        "/admin/groups/{group}/members/{alice}/remove",
        "alice will lose the permissions and features that come only through staff.",
        "alice removed from staff.",
        "group.member_removed",
    ),
    "remove permission": Case(
        "admin",
        "/lists/{shared}/permissions",
        "/lists/{shared}/permissions/{perm}/revoke",
        "Members of the group staff will lose View access to Team/Shared, unless "
        "another permission (for example through a group) grants it.",
        "Permission removed.",
        "permission.revoked",
    ),
    "clear own master password": Case(
        "alice",
        "/preferences/mobile",
        "/preferences/mobile/clear",
        "Your phones will be unpaired and must be paired again with a new QR "
        "code, after you set a new master password.",
        "Mobile credentials cleared; 1 device(s) revoked.",
        "mobile.credentials_cleared",
    ),
    "revoke own device": Case(
        "alice",
        "/preferences/mobile",
        "/preferences/mobile/devices/{device}/revoke",
        "Your phone “Pixel 8” will be unpaired: it cannot sync any more and "
        "erases its offline copy the next time it contacts the App Server.",
        "Device Pixel 8 revoked.",
        "device.revoked",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_destructive_action_asks_then_acts(
    admin: TestClient,
    alice: TestClient,
    instance: Instance,
    setup: Setup,
    name: str,
) -> None:
    """The button leads to a page saying what will happen; posting without
    the confirm field changes nothing; Confirm acts, redirects and flashes."""
    case = CASES[name]
    client = admin if case.who == "admin" else alice
    button_page = setup.fill(case.button_page)
    path = setup.fill(case.path)
    assert f'href="{path}"' in client.get(button_page).text

    asked = client.get(path)
    assert asked.status_code == 200
    assert case.says in _text(asked.text)
    assert f'<form method="post" action="{path}">' in asked.text
    assert '<input type="hidden" name="confirm" value="yes">' in asked.text
    assert f'<a href="{button_page}" role="button"' in asked.text
    token = csrf_of(asked.text)
    fields = dict(case.fields)

    unconfirmed = client.post(path, data={"csrf_token": token, **fields})
    assert unconfirmed.status_code == 200
    assert case.says in _text(unconfirmed.text)
    assert not events(instance, case.event)

    done = client.post(
        path,
        data={"csrf_token": token, "confirm": "yes", **fields},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == button_page
    assert case.flash in _text(client.get(button_page).text)
    assert events(instance, case.event)


def test_confirm_without_csrf_token_is_refused(
    admin: TestClient, instance: Instance, setup: Setup
) -> None:
    """The Confirm POST needs the CSRF token like every other form."""
    response = admin.post(
        setup.fill(USER + "/devices/{device}/wipe"), data={"confirm": "yes"}
    )
    assert response.status_code == 403
    assert not events(instance, "device.wipe_requested")


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/nope/active",
        "/admin/users/{alice}/devices/nope/wipe",
        "/admin/users/{alice}/devices/{device}/explode",
        "/admin/groups/nope/members/{alice}/remove",
        "/admin/groups/{group}/members/nope/remove",
        "/lists/{shared}/permissions/nope/revoke",
        "/admin/api-keys/nope/revoke",
    ],
)
def test_confirmation_of_unknown_things_is_not_found(
    admin: TestClient, setup: Setup, path: str
) -> None:
    """Unknown ids give the 404 page, asking or confirming."""
    concrete = setup.fill(path)
    assert admin.get(concrete).status_code == 404
    token = csrf_of(admin.get("/admin").text)
    posted = admin.post(
        concrete, data={"csrf_token": token, "confirm": "yes", "value": "no"}
    )
    assert posted.status_code in (404, 405)


def test_another_users_device_is_not_found(
    admin: TestClient, alice: TestClient, sample: Sample, setup: Setup
) -> None:
    """A device asked for under the wrong user is a 404, not a confirmation
    page; under its own user it is asked about."""
    assert (
        admin.get(f"/admin/users/{sample.bob_id}/devices/{setup.device}/wipe")
    ).status_code == 404
    assert alice.get(f"/preferences/mobile/devices/{setup.device}/revoke").is_success


def test_own_account_cannot_be_disabled(admin: TestClient, instance: Instance) -> None:
    """The confirmation page of one's own account says why not and offers no
    Confirm button; a forced POST is refused too."""
    me = user_named(instance, "admin").id
    page = admin.get(f"/admin/users/{me}/active")
    assert "You cannot disable your own account" in page.text
    assert 'name="confirm"' not in page.text
    forced = admin.post(
        f"/admin/users/{me}/active",
        data={"csrf_token": csrf_of(page.text), "value": "no", "confirm": "yes"},
    )
    assert forced.status_code == 422
    assert user_named(instance, "admin").active


def test_enable_needs_no_confirmation(
    admin: TestClient, instance: Instance, sample: Sample
) -> None:
    """Enabling a disabled user is not destructive: one click, redirected."""
    with instance.db.session() as session:
        alice = session.get(User, sample.alice_id)
        accounts.set_active(session, cli_operator(), alice, False)  # type: ignore[arg-type]
    url = f"/admin/users/{sample.alice_id}"
    page = admin.get(url).text
    assert f'href="{url}/active"' not in page
    done = admin.post(
        f"{url}/active",
        data={"csrf_token": csrf_of(page), "value": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert user_named(instance, "alice").active
    # Asking to disable an already disabled user just goes back to the page.
    with instance.db.session() as session:
        accounts.set_active(
            session, cli_operator(), session.get(User, sample.alice_id), False
        )  # type: ignore[arg-type]
    back = admin.get(f"{url}/active", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == url


def test_last_admin_permission_is_refused_on_the_confirmation_page(
    admin: TestClient, instance: Instance, setup: Setup, sample: Sample
) -> None:
    """The last Admin permission of a list: the page says why it cannot go and
    has no Confirm button; a forced confirm answers 422 and keeps it."""
    url = f"/lists/{setup.shared}/permissions"
    token = csrf_of(admin.get(url).text)
    admin.post(
        f"{url}/{setup.perm}/level", data={"csrf_token": token, "level": "admin"}
    )
    page = admin.get(f"{url}/{setup.perm}/revoke").text
    assert "Members of the group staff will lose Admin access" in page
    assert "last Admin permission of the list" in page
    assert 'name="confirm"' not in page
    forced = admin.post(
        f"{url}/{setup.perm}/revoke", data={"csrf_token": token, "confirm": "yes"}
    )
    assert forced.status_code == 422
    assert "last Admin permission of the list" in forced.text
    assert not events(instance, "permission.revoked")
