"""Post/Redirect/Get: every successful change in Administration and
Preferences answers 303 to a page that shows what happened, so a reload never
submits the form again. (Generated passwords ride the redirect in the session;
a new API key is the one page rendered straight from its POST, see
test_api_keys_page.py.)"""

import html

import pytest
from fastapi.testclient import TestClient

from tests.server.web.conftest import USER_PASSWORD, Sample, csrf_of

# (who, path, form fields, where the redirect leads, the flash shown there)
CHANGES = [
    ("admin", "/admin/users", {"login_name": "carol"}, None, "carol added."),
    (
        "admin",
        "/admin/users/{alice}/password",
        {"new_password": "a-typed-long-password"},
        "/admin/users/{alice}",
        "Password of alice reset.",
    ),
    (
        "admin",
        "/admin/users/{alice}/unlock",
        {},
        "/admin/users/{alice}",
        "alice is unlocked.",
    ),
    (
        "admin",
        "/admin/users/{alice}/totp-reset",
        {},
        "/admin/users/{alice}",
        "Two-step sign-in removed for alice.",
    ),
    (
        "admin",
        "/admin/users/{alice}/offline-ttl",
        {"offline_ttl_days": "3"},
        "/admin/users/{alice}",
        "Offline time to live saved",
    ),
    ("admin", "/admin/groups", {"group_name": "ops"}, None, "Group 'ops' created"),
    (
        "admin",
        "/admin/groups/{group}/members",
        {"user_id": "{bob}"},
        "/admin/groups/{group}",
        "bob added to staff.",
    ),
    (
        "admin",
        "/admin/feature-access",
        {"add": "user:{bob}"},
        "/admin/feature-access",
        "Mobile App feature: 1 added, 0 removed.",
    ),
    (
        "admin",
        "/admin/settings",
        {"offline_ttl_days": "3"},
        "/admin/settings",
        "Saved: offline_ttl_days.",
    ),
    (
        "admin",
        "/admin/settings/pin/clear",
        {},
        "/admin/settings",
        "The App Server pin is cleared",
    ),
    (
        "alice",
        "/preferences/password",
        {
            "current_password": USER_PASSWORD,
            "new_password": "a-new-long-password-1",
            "confirm_password": "a-new-long-password-1",
        },
        "/preferences",
        "Your password is changed",
    ),
    (
        "alice",
        "/preferences/mobile/password",
        {
            "master_password": "a-long-master-password-1",
            "confirm_master_password": "a-long-master-password-1",
        },
        "/preferences/mobile?show=qr",
        "Master password saved.",
    ),
]


def _fill(value: str, sample: Sample) -> str:
    return value.format(alice=sample.alice_id, bob=sample.bob_id, group=sample.group_id)


@pytest.mark.parametrize(
    ("who", "path", "fields", "target", "flash"),
    CHANGES,
    ids=[change[1] for change in CHANGES],
)
def test_successful_change_redirects_with_a_flash(
    admin: TestClient,
    alice: TestClient,
    sample: Sample,
    who: str,
    path: str,
    fields: dict[str, str],
    target: str | None,
    flash: str,
) -> None:
    """The POST answers 303; the page it leads to shows the outcome once."""
    client = admin if who == "admin" else alice
    token = csrf_of(client.get("/preferences").text)
    data = {name: _fill(value, sample) for name, value in fields.items()}
    response = client.post(
        _fill(path, sample),
        data={"csrf_token": token, **data},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    if target is not None:
        assert location == _fill(target, sample)
    assert flash in html.unescape(client.get(location).text)
    assert flash not in html.unescape(client.get(location).text)
