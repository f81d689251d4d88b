"""Preferences: the web password, and Mobile App Settings with the master
password, its QR code and the user's own devices."""

import re

from fastapi.testclient import TestClient

from strongroom.server.accounts import service as accounts
from strongroom.server.core.instance import Instance
from strongroom.server.core.instance import operator as cli_operator
from strongroom.server.mobile import service as mobile
from strongroom.server.mobile.models import DEVICE_ACTIVE, DEVICE_REVOKED, Device
from strongroom.server.settings import service as settings
from strongroom.server.web import qr
from tests.server.web.conftest import USER_PASSWORD, Sample, csrf_of, field_error

MOBILE = "/preferences/mobile"
MASTER = "phone-master-passphrase-42"


def test_change_own_password(alice: TestClient, instance: Instance) -> None:
    """The current password is required, both new ones must match, and the
    change keeps this browser signed in."""
    token = csrf_of(alice.get("/preferences").text)
    url = "/preferences/password"
    wrong = alice.post(
        url,
        data={
            "csrf_token": token,
            "current_password": "nope",
            "new_password": "a-new-long-password",
            "confirm_password": "a-new-long-password",
        },
    )
    assert field_error(wrong.text, "current_password") == (
        "That is not your current password."
    )
    differ = alice.post(
        url,
        data={
            "csrf_token": token,
            "current_password": USER_PASSWORD,
            "new_password": "a-new-long-password",
            "confirm_password": "another-long-password",
        },
    )
    assert "differ" in field_error(differ.text, "confirm_password")
    short = alice.post(
        url,
        data={
            "csrf_token": token,
            "current_password": USER_PASSWORD,
            "new_password": "short",
            "confirm_password": "short",
        },
    )
    assert "at least 12" in field_error(short.text, "new_password")
    done = alice.post(
        url,
        data={
            "csrf_token": token,
            "current_password": USER_PASSWORD,
            "new_password": "a-new-long-password",
            "confirm_password": "a-new-long-password",
        },
    )
    assert "Your password is changed" in done.text
    assert alice.get("/vault").status_code == 200


def test_mobile_username_is_shown_as_the_phone_types_it(
    make_client: "object", instance: Instance
) -> None:
    """A directory account's mobile username reads DOMAIN\\name."""
    from tests.server.web.conftest import sign_in

    with instance.db.session() as session:
        accounts.create_user(
            session, cli_operator(), "CORP\\dave", password=USER_PASSWORD
        )
    dave = sign_in(make_client(), "CORP\\dave", USER_PASSWORD)  # type: ignore[operator]
    page = dave.get(MOBILE).text
    assert (
        '<code class="mobile-username" id="mobile-username">CORP\\dave</code>' in page
    )
    assert "does not have the Mobile App feature" in page


def test_master_password_rules_are_shown_next_to_the_field(alice: TestClient) -> None:
    """Too short, not repeated the same, or equal to the web password: each
    gets its message beside the field."""
    token = csrf_of(alice.get(MOBILE).text)
    cases = [
        ("short", "short", "master_password", "at least 12"),
        (MASTER, MASTER + "x", "confirm_master_password", "differ"),
        (
            USER_PASSWORD,
            USER_PASSWORD,
            "master_password",
            "must differ from the web password",
        ),
        ("", "", "master_password", "Enter the master password."),
    ]
    for new, confirm, field, message in cases:
        response = alice.post(
            f"{MOBILE}/password",
            data={
                "csrf_token": token,
                "master_password": new,
                "confirm_master_password": confirm,
            },
        )
        assert response.status_code == 422, field
        assert message in field_error(response.text, field), (
            field,
            response.text[-2000:],
        )


def _svg(html: str) -> str:
    found = re.search(r'<div class="qr-code" id="pairing-qr">(.*?)</div>', html, re.S)
    assert found, "no QR code on the page"
    return found.group(1).strip()


def test_saving_a_master_password_shows_the_pairing_qr(
    alice: TestClient, instance: Instance, sample: Sample
) -> None:
    """Save shows the QR code (SVG) of the pairing payload for this user with
    the line that the phone must be paired again; the old devices are revoked."""
    with instance.db.session() as session:
        old = Device(
            user_id=sample.alice_id,
            name="Old phone",
            box_public_key=b"k" * 32,
            credential_hash="1" * 64,
        )
        session.add(old)
    token = csrf_of(alice.get(MOBILE).text)
    page = alice.post(
        f"{MOBILE}/password",
        data={
            "csrf_token": token,
            "master_password": MASTER,
            "confirm_master_password": MASTER,
        },
    )
    assert "Your phone must be paired again" in page.text
    assert "Master password saved." in page.text
    with instance.db.session() as session:
        user = accounts.get_user(session, sample.alice_id)
        payload = mobile.pairing_payload(session, cli_operator(), instance.cipher, user)
        assert session.get(Device, old.id).status == DEVICE_REVOKED  # type: ignore[union-attr]
    assert payload.username == "alice"
    assert _svg(page.text) == str(
        qr.svg(payload.to_uri(), title="Strongroom pairing code")
    )


def test_qr_needs_the_admin_setup(alice: TestClient, instance: Instance) -> None:
    """Without an App Server pin the page says why there is no QR code."""
    with instance.db.session() as session:
        settings.set_value(session, cli_operator(), "app_server_pin", "")
    token = csrf_of(alice.get(MOBILE).text)
    page = alice.post(
        f"{MOBILE}/password",
        data={
            "csrf_token": token,
            "master_password": MASTER,
            "confirm_master_password": MASTER,
        },
    )
    assert "No QR code can be made yet" in page.text
    assert "pin is not set" in page.text


def test_clear_and_revoke_own_devices(
    alice: TestClient, instance: Instance, sample: Sample
) -> None:
    """Users revoke their own devices (not others'), and Clear revokes all."""
    with instance.db.session() as session:
        user = accounts.get_user(session, sample.alice_id)
        mobile.set_master_password(session, cli_operator(), user, MASTER)
        mine = [
            Device(
                user_id=sample.alice_id,
                name=f"Phone {i}",
                box_public_key=b"k" * 32,
                credential_hash=str(i) * 64,
            )
            for i in range(2)
        ]
        bobs = Device(
            user_id=sample.bob_id,
            name="Bob's",
            box_public_key=b"k" * 32,
            credential_hash="9" * 64,
        )
        session.add_all([*mine, bobs])
    page = alice.get(MOBILE).text
    assert "Phone 0" in page and "Bob&#39;s" not in page
    token = csrf_of(page)
    yes = {"csrf_token": token, "confirm": "yes"}
    alice.post(f"{MOBILE}/devices/{mine[0].id}/revoke", data=yes)
    assert alice.post(f"{MOBILE}/devices/{bobs.id}/revoke", data=yes).status_code == 404
    assert alice.get(f"{MOBILE}/devices/{bobs.id}/revoke").status_code == 404
    cleared = alice.post(f"{MOBILE}/clear", data=yes)
    assert "1 device(s) revoked" in cleared.text
    assert "No master password is set yet." in cleared.text
    with instance.db.session() as session:
        assert {session.get(Device, d.id).status for d in mine} == {DEVICE_REVOKED}  # type: ignore[union-attr]
        assert session.get(Device, bobs.id).status == DEVICE_ACTIVE  # type: ignore[union-attr]
