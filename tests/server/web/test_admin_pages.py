"""Administration pages: users, groups, feature access, settings (pin and
pairing secret), bulk Mobile Access, auditing and mobile diagnostics."""

import contextlib
import csv
import datetime
import io
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from sqlalchemy import update

from strongroom.crypto.certificates import make_self_signed
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import FEATURE_MOBILE
from strongroom.server.appserver.runner import RunningServer, run_in_thread
from strongroom.server.audit.models import AuditEvent
from strongroom.server.core.db import utcnow
from strongroom.server.core.instance import InitResult, Instance
from strongroom.server.core.instance import operator as cli_operator
from strongroom.server.mobile.models import (
    DEVICE_REVOKED,
    DEVICE_WIPE_REQUESTED,
    Device,
)
from strongroom.server.settings import service as settings
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import Level, Permission
from strongroom.server.web.routes import admin_mobile
from tests.server.web.conftest import (
    OFFLINE_EVENTS,
    USER_PASSWORD,
    Sample,
    csrf_of,
    events,
    field_error,
    phone_with_history,
    sign_in,
    user_named,
)


def test_users_add_with_messages_and_generated_password(
    admin: TestClient, instance: Instance, make_client: "object"
) -> None:
    """Adding a user reports each bad field; without a typed password one is
    generated and shown once, and it signs in."""
    token = csrf_of(admin.get("/admin/users").text)
    cases = [
        ({"login_name": ""}, "login_name", "Enter the login name."),
        ({"login_name": "a/b"}, "login_name", "must not contain"),
        ({"login_name": "carol", "password": "short"}, "password", "at least 12"),
        ({"login_name": "carol", "email": "nope"}, "email", "needs an @"),
        ({"login_name": "admin"}, "login_name", "already exists"),
    ]
    for data, field, message in cases:
        response = admin.post("/admin/users", data={"csrf_token": token, **data})
        assert response.status_code == 422, data
        assert message in field_error(response.text, field), data
    made = admin.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "login_name": "CORP\\carol",
            "display_name": "Carol",
        },
    )
    password = re.search(
        r'id="new-password" type="text" readonly value="([^"]+)"', made.text
    )
    assert password, made.text
    assert "CORP\\carol" in made.text
    sign_in(make_client(), "CORP\\carol", password.group(1).replace("&amp;", "&"))  # type: ignore[operator]


def test_disable_reset_unlock_and_ttl(
    admin: TestClient, alice: TestClient, sample: Sample, instance: Instance
) -> None:
    """Disabling alice ends her session; a reset password is shown once; the
    offline time to live override is stored and validated."""
    url = f"/admin/users/{sample.alice_id}"
    token = csrf_of(admin.get(url).text)
    admin.post(
        f"{url}/active", data={"csrf_token": token, "value": "no", "confirm": "yes"}
    )
    assert not user_named(instance, "alice").active
    assert alice.get("/vault", follow_redirects=False).status_code == 303
    admin.post(f"{url}/active", data={"csrf_token": token, "value": "yes"})

    reset = admin.post(f"{url}/password", data={"csrf_token": token})
    assert "shown only now" in reset.text
    short = admin.post(
        f"{url}/password", data={"csrf_token": token, "new_password": "x"}
    )
    assert "at least 12" in field_error(short.text, "new_password")

    bad = admin.post(
        f"{url}/offline-ttl", data={"csrf_token": token, "offline_ttl_days": "5"}
    )
    assert bad.status_code == 422
    assert "1, 3, 7, 14 or 30" in field_error(bad.text, "offline_ttl_days")
    admin.post(
        f"{url}/offline-ttl", data={"csrf_token": token, "offline_ttl_days": "3"}
    )
    assert user_named(instance, "alice").offline_ttl_days == 3
    admin.post(
        f"{url}/offline-ttl", data={"csrf_token": token, "offline_ttl_days": "inherit"}
    )
    assert user_named(instance, "alice").offline_ttl_days is None
    assert events(instance, "user.offline_ttl_set")[-1].details == {
        "old": 3,
        "new": None,
    }

    own = admin.post(
        f"/admin/users/{user_named(instance, 'admin').id}/active",
        data={"csrf_token": token, "value": "no", "confirm": "yes"},
    )
    assert own.status_code == 422
    assert "cannot disable your own account" in own.text


def _device(instance: Instance, user_id: str, name: str) -> str:
    with instance.db.session() as session:
        device = Device(
            user_id=user_id,
            name=name,
            platform="android",
            box_public_key=b"k" * 32,
            credential_hash="0" * 64,
            last_sync_at=utcnow(),
            last_failure_at=utcnow(),
            last_failure_reason="credential replayed",
        )
        session.add(device)
        session.flush()
        return device.id


def test_devices_revoke_and_remote_wipe(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """The user page lists devices with last sync and failure; revoke and
    remote wipe change their status (audited)."""
    phone = _device(instance, sample.alice_id, "Pixel")
    tablet = _device(instance, sample.alice_id, "Tab")
    page = admin.get(f"/admin/users/{sample.alice_id}").text
    assert "Pixel" in page and "credential replayed" in page
    token = csrf_of(page)
    admin.post(
        f"/admin/users/{sample.alice_id}/devices/{phone}/revoke",
        data={"csrf_token": token, "confirm": "yes"},
    )
    admin.post(
        f"/admin/users/{sample.alice_id}/devices/{tablet}/wipe",
        data={"csrf_token": token, "confirm": "yes"},
    )
    with instance.db.session() as session:
        assert session.get(Device, phone).status == DEVICE_REVOKED  # type: ignore[union-attr]
        assert session.get(Device, tablet).status == DEVICE_WIPE_REQUESTED  # type: ignore[union-attr]
    assert events(instance, "device.revoked") and events(
        instance, "device.wipe_requested"
    )
    other = admin.post(
        f"/admin/users/{sample.bob_id}/devices/{phone}/revoke",
        data={"csrf_token": token, "confirm": "yes"},
    )
    assert other.status_code == 404


def test_groups_and_members(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """Groups are created (duplicates refused next to the field) and members
    found, added and removed."""
    token = csrf_of(admin.get("/admin/groups").text)
    dup = admin.post("/admin/groups", data={"csrf_token": token, "group_name": "staff"})
    assert "already exists" in field_error(dup.text, "group_name")
    made = admin.post(
        "/admin/groups",
        data={"csrf_token": token, "group_name": "ops"},
        follow_redirects=False,
    )
    group_url = made.headers["location"]
    found = admin.get(group_url, params={"q": "bob"}).text
    assert "bob" in found
    admin.post(
        f"{group_url}/members", data={"csrf_token": token, "user_id": sample.bob_id}
    )
    with instance.db.session() as session:
        ops = accounts.find_group(session, "ops")
        assert [u.login_name for u in accounts.members(session, ops)] == ["bob"]
    admin.post(
        f"{group_url}/members/{sample.bob_id}/remove",
        data={"csrf_token": token, "confirm": "yes"},
    )
    with instance.db.session() as session:
        assert accounts.members(session, accounts.find_group(session, "ops")) == []


def test_feature_access_search_add_remove_save(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """Feature Access searches users and groups; one Save adds the ticked
    candidates and removes the ticked holders."""
    found = admin.get("/admin/feature-access", params={"q": "staff"}).text
    assert f'value="group:{sample.group_id}"' in found
    token = csrf_of(found)
    admin.post(
        "/admin/feature-access",
        data={
            "csrf_token": token,
            "add": [f"group:{sample.group_id}", f"user:{sample.bob_id}"],
        },
    )
    with instance.db.session() as session:
        alice = accounts.get_user(session, sample.alice_id)
        assert accounts.has_feature(session, alice, FEATURE_MOBILE)
    page = admin.get("/admin/feature-access").text
    assert "Remove group <strong>staff</strong>" in page
    saved = admin.post(
        "/admin/feature-access",
        data={"csrf_token": token, "remove": [f"user:{sample.bob_id}"]},
    )
    assert "0 added, 1 removed" in saved.text
    assert [e.event_type for e in events(instance, "feature.revoked")] == [
        "feature.revoked"
    ]


SETTING_ERRORS = [
    ("app_server_url", "http://plain.example", "https://"),
    ("app_server_pin", "tooshort", "44 characters"),
    ("offline_ttl_days", "5", "1, 3, 7, 14 or 30"),
    ("failed_unlock_limit", "0", "from 1 to 50"),
    ("lockout_minutes", "lots", "whole number"),
    ("failed_login_limit", "51", "from 1 to 50"),
    ("mobile_access_default", "maybe", "yes or no"),
    ("biometric_allowed", "2", "yes or no"),
    ("master_password_reentry_hours", "721", "from 1 to 720"),
    ("session_idle_minutes", "-5", "from 1 to 1440"),
    ("session_absolute_hours", "169", "from 1 to 168"),
]


def test_settings_page_covers_every_setting_and_validates(
    admin: TestClient, instance: Instance
) -> None:
    """Every defined setting has a field; a bad value is named next to its
    field and nothing is stored; good values are saved and audited."""
    page = admin.get("/admin/settings").text
    for key in settings.DEFINITIONS:
        assert f'name="{key}"' in page, key
    assert {row[0] for row in SETTING_ERRORS} == set(settings.DEFINITIONS)
    token = csrf_of(page)
    for key, value, message in SETTING_ERRORS:
        response = admin.post(
            "/admin/settings",
            data={"csrf_token": token, "failed_login_limit": "7", key: value},
        )
        assert response.status_code == 422, key
        assert message in field_error(response.text, key), key
    with instance.db.session() as session:
        assert settings.get(session, "failed_login_limit") == 5
    admin.post(
        "/admin/settings",
        data={
            "csrf_token": token,
            "app_server_url": "https://vault.example.com:9443",
            "mobile_access_default": "no",
            "offline_ttl_days": "14",
        },
    )
    with instance.db.session() as session:
        values = settings.all_values(session)
    assert values["app_server_url"] == "https://vault.example.com:9443"
    assert values["mobile_access_default"] is False
    assert values["offline_ttl_days"] == 14

    # An emptied URL field would kill every unused QR code: refused by name.
    blanked = admin.post(
        "/admin/settings", data={"csrf_token": token, "app_server_url": ""}
    )
    assert blanked.status_code == 422
    assert "cannot be made blank" in field_error(blanked.text, "app_server_url")
    with instance.db.session() as session:
        assert settings.get(session, "app_server_url") == (
            "https://vault.example.com:9443"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_pin_query_names_failures_and_stores_the_live_pin(
    admin: TestClient, instance: Instance, initialised: InitResult
) -> None:
    """Query reports DNS and refused connections by name; against a live HTTPS
    server with the instance certificate it stores that certificate's pin;
    Clear empties it."""
    token = csrf_of(admin.get("/admin/settings").text)
    dns = admin.post(
        "/admin/settings/pin/query",
        data={"csrf_token": token, "app_server_url": "https://nothing.invalid:9443"},
    )
    assert "Query failed (DNS" in field_error(dns.text, "app_server_pin")
    refused = admin.post(
        "/admin/settings/pin/query",
        data={
            "csrf_token": token,
            "app_server_url": f"https://127.0.0.1:{_free_port()}",
        },
    )
    assert "connection refused" in field_error(refused.text, "app_server_pin")

    admin.post("/admin/settings/pin/clear", data={"csrf_token": token})
    with instance.db.session() as session:
        assert settings.get(session, "app_server_pin") == ""

    tiny = FastAPI()
    tiny.get("/")(lambda: PlainTextResponse("Status OK"))
    server = run_in_thread(
        tiny,
        tls_cert=instance.settings.cert_file,
        tls_key=instance.settings.cert_key_file,
    )
    try:
        stored = admin.post(
            "/admin/settings/pin/query",
            data={"csrf_token": token, "app_server_url": server.url},
        )
    finally:
        server.stop()
    assert "Pin stored from" in stored.text
    with instance.db.session() as session:
        assert settings.get(session, "app_server_pin") == initialised.pin


def _tls_server(tmp_path: Path, names: list[str], **validity: Any) -> RunningServer:
    """An HTTPS server on 127.0.0.1 presenting a certificate for `names`."""
    pair = make_self_signed(names, **validity)
    cert, key = tmp_path / "other.crt", tmp_path / "other.key"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    tiny = FastAPI()
    tiny.get("/")(lambda: PlainTextResponse("Status OK"))
    return run_in_thread(tiny, tls_cert=cert, tls_key=key)


@pytest.mark.parametrize("kind", ["timeout", "tls", "name_mismatch", "expired"])
def test_pin_query_names_every_other_failure(
    admin: TestClient,
    instance: Instance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    """Query against a server that never answers, one that speaks no TLS, a
    certificate for another name and an expired one: the message next to the
    pin names the failure, and no pin is stored."""
    monkeypatch.setattr(admin_mobile, "PIN_QUERY_TIMEOUT", 1.0)
    with instance.db.session() as session:
        pin_before = settings.get(session, "app_server_pin")
    with contextlib.ExitStack() as stack:
        if kind == "timeout":
            silent = stack.enter_context(socket.socket())
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)  # accepts TCP, never says a word of TLS
            url = f"https://127.0.0.1:{silent.getsockname()[1]}"
        elif kind == "tls":
            plain = FastAPI()
            server = run_in_thread(plain)
            stack.callback(server.stop)
            url = server.url.replace("http://", "https://")
        elif kind == "name_mismatch":
            server = _tls_server(tmp_path, ["vault.example.com"])
            stack.callback(server.stop)
            url = server.url
        else:
            start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
            server = _tls_server(tmp_path, ["127.0.0.1"], not_before=start, days=29)
            stack.callback(server.stop)
            url = server.url
        page = admin.get("/admin/settings").text
        answer = admin.post(
            "/admin/settings/pin/query",
            data={"csrf_token": csrf_of(page), "app_server_url": url},
        )
    assert answer.status_code == 422
    label = admin_mobile.PROBE_KINDS[kind]
    assert f"Query failed ({label})" in field_error(answer.text, "app_server_pin")
    with instance.db.session() as session:
        assert settings.get(session, "app_server_pin") == pin_before


def test_generate_new_pairing_secret(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """The confirmation page states how many paired devices will be revoked;
    confirming makes a new secret generation and revokes them (audited)."""
    phone = _device(instance, sample.alice_id, "Pixel")
    tablet = _device(instance, sample.bob_id, "Tab")
    with instance.db.session() as session:
        before = settings.pairing_secret(session, instance.cipher)
    page = admin.get("/admin/settings/pairing-secret").text
    assert "2 paired devices will be revoked." in page
    assert "stops working" in page
    assert "paired again from a new QR code" in page
    done = admin.post(
        "/admin/settings/pairing-secret",
        data={"csrf_token": csrf_of(page), "confirm": "yes"},
    )
    assert f"generation {before[1] + 1}" in done.text
    assert "2 paired devices were revoked" in done.text
    with instance.db.session() as session:
        after = settings.pairing_secret(session, instance.cipher)
        statuses = {session.get(Device, d).status for d in (phone, tablet)}  # type: ignore[union-attr]
    assert after[1] == before[1] + 1 and after[0] != before[0]
    assert statuses == {DEVICE_REVOKED}
    revoked = events(instance, "device.revoked")
    assert {e.target_id for e in revoked} == {phone, tablet}
    assert {e.details["reason"] for e in revoked} == {"pairing secret regenerated"}
    assert (
        events(instance, "mobile.pairing_secret_regenerated")[-1].details[
            "devices_revoked"
        ]
        == 2
    )

    # With nothing left to revoke, the page says so before confirming.
    again = admin.get("/admin/settings/pairing-secret").text
    assert "0 paired devices will be revoked." in again


def test_bulk_mobile_access_confirms_the_count_then_applies(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """Bulk processing asks for a choice, states how many permissions change,
    and only the apply step changes them (audited)."""
    with instance.db.session() as session:
        secret = vault.get_list(session, sample.secret_id)
        bob = accounts.get_user(session, sample.bob_id)
        vault.grant(
            session, cli_operator(), secret, Level.VIEW, user=bob, mobile_access=False
        )
    token = csrf_of(admin.get("/admin/bulk-mobile-access").text)
    empty = admin.post("/admin/bulk-mobile-access/confirm", data={"csrf_token": token})
    assert field_error(empty.text, "value") == "Choose Yes or No."
    assert "Tick at least one list" in field_error(empty.text, "lists")

    chosen = {
        "csrf_token": token,
        "value": "yes",
        "scope": "chosen",
        "lists": [sample.shared_id],
    }
    confirm = admin.post("/admin/bulk-mobile-access/confirm", data=chosen)
    assert re.search(r"<strong>1 permission</strong> will change", confirm.text)
    with instance.db.session() as session:
        assert (
            session.query(Permission).filter(Permission.mobile_access.is_(True)).count()
            == 0
        )

    everything = admin.post(
        "/admin/bulk-mobile-access/confirm",
        data={"csrf_token": token, "value": "yes", "scope": "all"},
    )
    assert "<strong>2 permissions</strong>" in everything.text
    unconfirmed = admin.post("/admin/bulk-mobile-access/apply", data=chosen)
    assert re.search(r"<strong>1 permission</strong> will change", unconfirmed.text)
    assert not events(instance, "permission.mobile_access_bulk")
    applied = admin.post(
        "/admin/bulk-mobile-access/apply", data={**chosen, "confirm": "yes"}
    )
    assert "1 permission changed" in applied.text
    assert events(instance, "permission.mobile_access_bulk")[-1].details["changed"] == 1


def _log(client: TestClient, **params: str) -> str:
    """The audit table's body for these filters (without the filter menus)."""
    html = client.get("/admin/audit", params=params).text
    return html.split('<table class="striped audit-log stack">')[1].split("</table>")[0]


def test_audit_filters_pages_exports_and_verifies(
    admin: TestClient, sample: Sample, instance: Instance
) -> None:
    """The audit log filters by user, type, list and platform, exports CSV
    (formula-like cells neutralised) and reports the chain's state, also when
    a row was tampered with."""
    with instance.db.session() as session:
        accounts.create_user(session, cli_operator(), "=cmd", password=USER_PASSWORD)
    page = _log(admin, event_type="user.created")
    assert "user.created" in page and "auth.login" not in page
    by_list = _log(admin, list=sample.shared_id)
    assert "record.created" in by_list and "group.created" not in by_list
    by_platform = _log(admin, platform="web")
    assert "auth.login" in by_platform and "user.created" not in by_platform
    bad = admin.get(
        "/admin/audit", params={"since": "2030-01-02", "until": "2030-01-01"}
    )
    assert bad.status_code == 422
    assert "before the from date" in field_error(bad.text, "until")

    exported = admin.get("/admin/audit.csv", params={"event_type": "user.created"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    names = {row["target_name"] for row in rows}
    assert names == {"admin", "alice", "bob", "'=cmd"}
    assert events(instance, "audit.exported")

    assert "Intact" in admin.get("/admin/audit/verify").text
    with instance.db.session() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.seq == 3).values(target_name="forged")
        )
    broken = admin.get("/admin/audit/verify").text
    assert "Broken at event 3" in broken


ROW = re.compile(
    r'<td data-label="When">([^<]*).*?<td data-label="Event">([^<]*)</td>'
    r'.*?<td data-label="Who">([^<]*)</td>',
    re.S,
)


def _rows(client: TestClient, **params: str) -> list[tuple[str, str, str]]:
    """(when, event, who) of every row the audit page shows for these
    filters, after checking that the count above the table agrees."""
    html = client.get("/admin/audit", params=params).text
    rows = ROW.findall(html.split('<table class="striped audit-log stack">')[1])
    count = len(rows)
    assert f"<p>{count} event{'' if count == 1 else 's'}</p>" in html
    return rows


def _shown(client: TestClient, **params: str) -> list[tuple[str, str]]:
    """(event, who) of every row shown for these filters, newest first."""
    return [(event, who) for _when, event, who in _rows(client, **params)]


def test_audit_filters_by_user_date_range_and_device_platform(
    admin: TestClient,
    sample: Sample,
    instance: Instance,
    make_client: Callable[..., TestClient],
) -> None:
    """The user filter shows exactly that user's events; a date range only the
    events of its days (both ends included); platform `device` exactly the
    events that came from phones' pairing and syncs, newest first."""
    phone_with_history(instance, "alice", OFFLINE_EVENTS)
    phone_with_history(instance, "bob")
    sign_in(make_client(), "bob", USER_PASSWORD)

    assert _shown(admin, user=sample.alice_id) == [
        ("device.sync", "alice"),
        ("device.record_revealed", "alice"),
        ("device.record_copied", "alice"),
        ("device.record_viewed", "alice"),
        ("mobile.pair", "alice"),
    ]
    assert _shown(admin, user=sample.bob_id) == [
        ("auth.login", "bob"),
        ("device.sync", "bob"),
        ("mobile.pair", "bob"),
    ]

    # 1 and 10 March 2024 lie outside 2-9 March, 5 March inside; today outside.
    assert _rows(admin, since="2024-03-02", until="2024-03-09") == [
        ("2024-03-05 12:00 UTC", "device.record_copied", "alice")
    ]
    # The to date counts whole: the event at noon on 10 March is in.
    assert _rows(admin, since="2024-03-05", until="2024-03-10") == [
        ("2024-03-10 12:00 UTC", "device.record_revealed", "alice"),
        ("2024-03-05 12:00 UTC", "device.record_copied", "alice"),
    ]
    assert _rows(admin, since="2024-02-01", until="2024-02-29") == []

    # Platform `device`: both phones, not bob's web sign-in nor the admin's.
    assert _shown(admin, platform="device") == [
        ("device.sync", "bob"),
        ("mobile.pair", "bob"),
        ("device.sync", "alice"),
        ("device.record_revealed", "alice"),
        ("device.record_copied", "alice"),
        ("device.record_viewed", "alice"),
        ("mobile.pair", "alice"),
    ]
    assert _shown(admin, platform="device", user=sample.bob_id) == [
        ("device.sync", "bob"),
        ("mobile.pair", "bob"),
    ]


def test_audit_paging(admin: TestClient, instance: Instance) -> None:
    """More than 50 events page, newest first."""
    with instance.db.session() as session:
        for i in range(60):
            settings.set_value(session, cli_operator(), "lockout_minutes", 10 + i)
    first = admin.get("/admin/audit", params={"event_type": "setting.changed"}).text
    assert "Page 1 of 2" in first
    second = admin.get(
        "/admin/audit", params={"event_type": "setting.changed", "page": "2"}
    )
    assert "Page 2 of 2" in second.text


def test_mobile_diagnostics_page(admin: TestClient, sample: Sample) -> None:
    """The page runs the troubleshooter for a user and shows each check with
    its status and fix; an unknown user is named as such next to the field."""
    report = admin.get("/admin/diagnostics", params={"user": "alice"})
    assert report.status_code == 200
    assert 'id="check-mobile_feature" data-status="fail"' in report.text
    assert "Fix:" in report.text
    assert "problems found" in report.text
    unknown = admin.get("/admin/diagnostics", params={"user": "nobody"})
    assert unknown.status_code == 422
    assert "nobody" in field_error(unknown.text, "user")


@pytest.mark.parametrize("path", ["/admin", "/admin/users", "/admin/settings"])
def test_admin_menu_lists_every_area(admin: TestClient, path: str) -> None:
    """Each admin page carries the administration menu with all areas."""
    page = admin.get(path).text
    for label in (
        "Users",
        "Security Groups",
        "Feature Access",
        "System Settings",
        "Auditing",
        "Mobile diagnostics",
    ):
        assert f">{label}</a>" in page
