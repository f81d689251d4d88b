"""A list's permissions grid: the Mobile Access column, per-row changes and
Grant New Permissions with the system default preselected."""

import re

import pytest
from fastapi.testclient import TestClient

from strongroom.server.accounts import service as accounts
from strongroom.server.core.instance import Instance
from strongroom.server.core.instance import operator as cli_operator
from strongroom.server.settings import service as settings
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level
from tests.server.web.conftest import Sample, csrf_of, events, field_error


def _grants(instance: Instance, list_id: str) -> dict[str, tuple[str, bool]]:
    with instance.db.session() as session:
        plist = vault.get_list(session, list_id)
        return {
            g.grantee_name: (g.level.label, g.mobile_access)
            for g in vault.grants_on(session, plist)
        }


def _mobile_cell(html: str, name: str) -> str:
    row = re.search(
        rf'<tr id="grant-[^"]+">(?:(?!</tr>).)*{re.escape(name)}(?:(?!</tr>).)*</tr>',
        html,
        re.S,
    )
    assert row, f"no row for {name}"
    cell = re.search(r'data-mobile-access="(yes|no)"', row.group(0))
    assert cell
    return cell.group(1)


def test_grid_shows_mobile_access_and_toggles_a_row(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """The grid lists group 'staff' with View and no Mobile Access tick; the
    row control turns it on (audited) and off again."""
    page = admin.get(f"/lists/{sample.shared_id}/permissions").text
    assert "Mobile Access" in page
    assert _mobile_cell(page, "staff") == "no"
    assert 'aria-label="Mobile Access off"' in page
    perm_id = re.search(r'<tr id="grant-([^"]+)"', page).group(1)  # type: ignore[union-attr]
    token = csrf_of(page)
    on = admin.post(
        f"/lists/{sample.shared_id}/permissions/{perm_id}/mobile-access",
        data={"csrf_token": token, "value": "yes"},
    )
    assert _mobile_cell(on.text, "staff") == "yes"
    assert "Mobile Access turned on." in on.text
    assert _grants(instance, sample.shared_id)["staff"] == ("view", True)
    assert events(instance, "permission.changed")[-1].details["mobile_access"] is True

    # htmx asks for the row alone.
    row = admin.post(
        f"/lists/{sample.shared_id}/permissions/{perm_id}/mobile-access",
        data={"csrf_token": token, "value": "no"},
        headers={"HX-Request": "true"},
    )
    assert row.text.lstrip().startswith(f'<tr id="grant-{perm_id}"')
    assert _mobile_cell(row.text, "staff") == "no"


@pytest.mark.parametrize("default", [True, False])
def test_grant_form_preselects_the_system_default(
    admin: TestClient, sample: Sample, instance: Instance, default: bool
) -> None:
    """Grant New Permissions has Yes or No preselected from the setting
    'enable Mobile Access by default on new permissions'."""
    with instance.db.session() as session:
        settings.set_value(session, cli_operator(), "mobile_access_default", default)
    page = admin.get(f"/lists/{sample.shared_id}/permissions").text
    checked = re.search(r'name="mobile_access" value="(yes|no)" checked', page)
    assert checked and checked.group(1) == ("yes" if default else "no")


def test_search_and_grant_with_validation(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """Searching finds users and groups; granting without a choice names the
    problem; a full grant stores level and flag exactly as chosen."""
    url = f"/lists/{sample.shared_id}/permissions"
    found = admin.get(url, params={"q": "bo"}).text
    assert f'value="user:{sample.bob_id}"' in found
    partial = admin.get(
        f"{url}/grantees", params={"q": "sta"}, headers={"HX-Request": "1"}
    )
    assert partial.text.lstrip().startswith('<fieldset id="grantees"')
    assert f'value="group:{sample.group_id}"' in partial.text

    token = csrf_of(found)
    missing = admin.post(url, data={"csrf_token": token, "level": "view"})
    assert missing.status_code == 422
    assert "Search for a user or group" in missing.text
    assert (
        field_error(missing.text, "mobile_access")
        == "Choose Yes or No for Mobile Access."
    )
    gone = admin.post(
        url,
        data={
            "csrf_token": token,
            "grantee": "user:nope",
            "level": "view",
            "mobile_access": "no",
        },
    )
    assert "no longer exists" in gone.text

    admin.post(
        url,
        data={
            "csrf_token": token,
            "grantee": f"user:{sample.bob_id}",
            "level": "modify",
            "mobile_access": "yes",
        },
    )
    assert _grants(instance, sample.shared_id)["bob"] == ("modify", True)
    assert events(instance, "permission.granted")[-1].target_name == "bob"


def test_level_change_and_revoke(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """A row's level can be raised, lowered and the row removed, except that
    the list's last Admin permission stays."""
    page = admin.get(f"/lists/{sample.shared_id}/permissions").text
    perm_id = re.search(r'<tr id="grant-([^"]+)"', page).group(1)  # type: ignore[union-attr]
    token = csrf_of(page)
    admin.post(
        f"/lists/{sample.shared_id}/permissions/{perm_id}/level",
        data={"csrf_token": token, "level": "admin"},
    )
    assert _grants(instance, sample.shared_id)["staff"] == ("admin", False)
    bad = admin.post(
        f"/lists/{sample.shared_id}/permissions/{perm_id}/level",
        data={"csrf_token": token, "level": "owner"},
    )
    assert bad.status_code == 422
    # The only Admin permission can be neither lowered nor removed.
    lowered = admin.post(
        f"/lists/{sample.shared_id}/permissions/{perm_id}/level",
        data={"csrf_token": token, "level": "modify"},
    )
    assert lowered.status_code == 422
    assert "last Admin permission" in lowered.text
    assert _grants(instance, sample.shared_id)["staff"] == ("admin", False)
    admin.post(
        f"/lists/{sample.shared_id}/permissions",
        data={
            "csrf_token": token,
            "grantee": f"user:{sample.bob_id}",
            "level": "admin",
            "mobile_access": "no",
        },
    )
    admin.post(
        f"/lists/{sample.shared_id}/permissions/{perm_id}/level",
        data={"csrf_token": token, "level": "modify"},
    )
    assert _grants(instance, sample.shared_id)["staff"] == ("modify", False)
    admin.post(
        f"/lists/{sample.shared_id}/permissions/{perm_id}/revoke",
        data={"csrf_token": token, "confirm": "yes"},
    )
    assert _grants(instance, sample.shared_id) == {"bob": ("admin", False)}


def test_list_admin_who_is_no_system_admin_manages_permissions(
    alice: TestClient, sample: Sample, instance: Instance
) -> None:
    """Admin level on a list is enough to manage its permissions; View is not."""
    assert alice.get(f"/lists/{sample.shared_id}/permissions").status_code == 403
    with instance.db.session() as session:
        plist = vault.get_list(session, sample.shared_id)
        vault.grant(
            session,
            cli_operator(),
            plist,
            Level.ADMIN,
            user=accounts.find_user(session, "alice"),
        )
    page = alice.get(f"/lists/{sample.shared_id}/permissions")
    assert page.status_code == 200
    assert "Grant New Permissions" in page.text
