"""The browser UI in a real browser: Playwright driving Debian's Chromium.

The real app runs over HTTPS on 127.0.0.1 (uvicorn in a thread, the
instance's certificate), next to the real App Server, so the flow ends with a
`strongroom.client` device pairing from the QR code in the page and syncing.
Screenshots of every page at desktop and phone widths land in
test-artifacts/screenshots/ for a person to look at.

Skipped with the reason outside CI when /usr/bin/chromium is missing (install
it with scripts/install-test-tools); with CI=true its absence fails the run.
"""

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from strongroom.client.clipboard import MemoryClipboard
from strongroom.client.config import ClientSettings
from strongroom.client.device import Device, Vault
from strongroom.client.errors import DeviceRevoked, WipeRequested
from strongroom.client.keystore import MemoryKeystore
from strongroom.protocol.qr import PairingPayload
from strongroom.server.accounts import service as accounts
from strongroom.server.appserver.app import create_appserver_app
from strongroom.server.appserver.runner import RunningServer, run_in_thread
from strongroom.server.core.instance import Instance
from strongroom.server.core.instance import operator as cli_operator
from strongroom.server.settings import service as settings
from strongroom.server.vault import service as vault
from strongroom.server.web.app import create_web_app
from tests.conftest import ADMIN_PASSWORD, IN_CI
from tests.server.web.conftest import USER_PASSWORD, events

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The instance's certificate is self-signed; the context also ignores it.
    "--ignore-certificate-errors",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
MASTER = "phone-master-passphrase-42"


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (run scripts/install-test-tools)"
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def servers(instance: Instance) -> Iterator[tuple[RunningServer, RunningServer]]:
    """The web UI and the App Server over HTTPS on 127.0.0.1, both stopped after
    (the test asks for them before the browser, so the browser closes first
    and no keep-alive connection delays the shutdown)."""
    cert, key = instance.settings.cert_file, instance.settings.cert_key_file
    web = run_in_thread(create_web_app(instance), tls_cert=cert, tls_key=key)
    app_server = run_in_thread(
        create_appserver_app(instance), tls_cert=cert, tls_key=key
    )
    with instance.db.session() as session:
        settings.set_value(session, cli_operator(), "app_server_url", app_server.url)
    try:
        yield web, app_server
    finally:
        web.stop()
        app_server.stop()


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium (Debian's), never a downloaded browser."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True
        )
        yield launched
        launched.close()


def _org(instance: Instance) -> dict[str, str]:
    """alice in group 'Mobile staff'; list Infra/Servers with two records."""
    op = cli_operator()
    with instance.db.session() as session:
        alice = accounts.create_user(session, op, "alice", password=USER_PASSWORD)
        group = accounts.create_group(session, op, "Mobile staff")
        accounts.add_member(session, op, group, alice)
        servers = vault.create_list(session, op, "Infra/Servers", create_folders=True)
        ids = {"list": servers.id, "alice": alice.id, "group": group.id}
        for title, password in (("web1", "w3b-one-pass"), ("db1", "d8-one-pass")):
            record = vault.create_record(
                session,
                op,
                instance.cipher,
                servers,
                vault.RecordInput(
                    title=title,
                    username="root",
                    password=password,
                    otp_secret="JBSWY3DPEHPK3PXP",
                ),
            )
            ids[title] = record.id
        # The admin needs View to open records (management alone shows none).
        vault.grant(
            session,
            op,
            servers,
            vault.Level.ADMIN,
            user=accounts.find_user(session, "admin"),
            mobile_access=True,
        )
    return ids


def _sign_in(page: object, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("#f-username", name)  # type: ignore[attr-defined]
    page.fill("#f-password", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/vault")  # type: ignore[attr-defined]


def _mobile_state(page: object, group: str) -> str:
    row = page.locator("table.permissions-grid tr", has_text=group)  # type: ignore[attr-defined]
    return str(row.locator("td.mobile-cell").get_attribute("data-mobile-access"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_admin_and_user_flows_end_to_end(
    servers: tuple[RunningServer, RunningServer],
    browser: object,
    instance: Instance,
    tmp_path: Path,
) -> None:
    """Admin grants the Mobile App feature to a group, grants it View with
    Mobile Access No (no tick), bulk-enables Mobile Access (tick); the user
    sets a master password (the strength meter rising as she types), the QR
    code on the page is decoded from a screenshot and pairs a real device,
    which syncs the list. More phones pair; she revokes one, the admin revokes
    one and remote-wipes another, she clears her master password, then
    changes her web password."""
    from playwright.sync_api import expect

    web, _app_server = servers
    base = web.url
    ids = _org(instance)
    context = browser.new_context(  # type: ignore[attr-defined]
        ignore_https_errors=True, viewport=DESKTOP
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    _sign_in(page, base, "admin", ADMIN_PASSWORD)

    # Keyboard users meet the skip link first; it jumps to the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # Feature Access: search the group, tick it, save.
    page.goto(f"{base}/admin/feature-access")
    page.fill("#f-q", "Mobile")
    page.click("form[role=search] button")
    page.check(f"input[name=add][value='group:{ids['group']}']")
    page.click("#feature-form button[type=submit]")
    assert "1 added, 0 removed" in page.inner_text(".flash")

    # Grant the group View with Mobile Access No: no tick.
    page.goto(f"{base}/lists/{ids['list']}/permissions")
    page.fill("#f-q", "Mobile")
    page.press("#f-q", "Enter")
    page.check(f"input[name=grantee][value='group:{ids['group']}']")
    page.select_option("#f-level", "view")
    page.check("input[name=mobile_access][value=no]")
    page.click("text=Grant permission")
    assert _mobile_state(page, "Mobile staff") == "no"

    # Bulk processing: Yes on the list, confirm the count, apply.
    page.goto(f"{base}/admin/bulk-mobile-access")
    page.check("input[name=value][value=yes]")
    page.check(f"input[name=lists][value='{ids['list']}']")
    page.click("text=Continue")
    assert page.inner_text("#bulk-count").startswith("1 permission will change")
    page.click("text=Apply to")
    page.goto(f"{base}/lists/{ids['list']}/permissions")
    assert _mobile_state(page, "Mobile staff") == "yes"

    # The list page searches as one types (htmx swaps the records in place).
    page.goto(f"{base}/lists/{ids['list']}")
    page.fill("#f-q", "web")
    expect(page.locator(".record-count")).to_have_text("1 record matching “web”")
    assert page.url.endswith("q=web&sort=title&dir=asc")

    # The record page's script reveals in place (no page load): CSP lets it run.
    page.goto(f"{base}/records/{ids['web1']}")
    assert page.inner_text("#value-password").startswith("•")
    page.click("#reveal-form button")
    expect(page.locator("#value-password")).to_have_text("w3b-one-pass")
    assert page.url.endswith(f"/records/{ids['web1']}")
    assert re.fullmatch(r"\d{3} \d{3}", page.inner_text("#otp-code"))

    # The countdown runs; Copy puts the password on the clipboard (audited).
    left = page.inner_text("#otp-remaining")
    expect(page.locator("#otp-remaining")).not_to_have_text(left, timeout=3000)
    page.click("form[data-field=password] button")
    expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == "w3b-one-pass"
    assert events(instance, "record.copied")[-1].record_id == ids["web1"]

    # The record form's Generate button fills the password field in place.
    page.goto(f"{base}/lists/{ids['list']}/records/new")
    page.click("button.js-generate")
    expect(page.locator("#f-password")).to_have_value(re.compile(r"^.{20}$"))

    # The user sets a master password; the QR code pairs a real device.
    user_context = browser.new_context(ignore_https_errors=True, viewport=DESKTOP)  # type: ignore[attr-defined]
    user_page = user_context.new_page()
    _sign_in(user_page, base, "alice", USER_PASSWORD)
    user_page.goto(f"{base}/preferences/mobile")
    # The strength meter rises, and its word changes, as she types on.
    meter = user_page.locator("#strength")
    expect(meter).to_be_visible()
    field = user_page.locator("#f-master_password")
    readings = []
    for more, word in (("abc", "Weak"), ("defghij", "Fair"), ("K7", "Good")):
        field.press_sequentially(more)
        expect(user_page.locator("#strength-text")).to_have_text(word)
        readings.append(float(meter.evaluate("m => m.value")))
    field.fill(MASTER)
    expect(user_page.locator("#strength-text")).to_have_text("Strong")
    readings.append(float(meter.evaluate("m => m.value")))
    assert readings[0] < readings[1] < readings[2] < readings[3] == 100, readings
    user_page.fill("#f-confirm_master_password", MASTER)
    user_page.click("text=Save")
    user_page.wait_for_selector("#pairing-qr svg")
    assert "must be paired again" in user_page.inner_text(".qr-section")
    shot = user_page.locator("#pairing-qr svg").screenshot()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "pairing-qr.png").write_bytes(shot)
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert decoded, "zxing-cpp found no QR code in the screenshot"
    payload = PairingPayload.from_uri(decoded[0].text)
    assert payload.username == "alice"

    opened = _pair(tmp_path, payload, "Test phone")
    summary = opened.sync()
    assert summary.records == 2
    assert sorted(r.title for r in opened.records()) == ["db1", "web1"]
    assert [info.path for info in opened.lists()] == ["Infra/Servers"]
    opened.lock()

    # The device now shows under the user's devices, with its last sync.
    user_page.goto(f"{base}/preferences/mobile")
    assert "Test phone" in user_page.inner_text("#devs + div, #devs ~ div")
    assert not [p for p in problems if "Content Security Policy" in p], problems

    _screenshot_every_page(browser, base, ids)
    _devices_revoked_wiped_and_cleared(page, user_page, base, ids, payload, tmp_path)
    _web_password_changed(user_page, base)
    user_context.close()
    context.close()


def _pair(tmp_path: Path, payload: PairingPayload, name: str) -> Vault:
    """A `strongroom.client` device named `name`, paired from `payload`."""
    device = Device(
        ClientSettings(
            home=tmp_path / name.replace(" ", "-"), connect_timeout_seconds=5
        ),
        keystore=MemoryKeystore(),
        clipboard=MemoryClipboard(),
    )
    return device.pair(payload, MASTER, device_name=name)


def _device_row(page: object, name: str) -> object:
    """The row of device `name` in the Devices table of the page."""
    return page.locator("section[aria-labelledby=devs] tbody tr", has_text=name)  # type: ignore[attr-defined]


def _status(page: object, name: str) -> str:
    """The status the Devices table shows for device `name` (first line), once
    the page has loaded (so what is absent from it is really absent)."""
    page.wait_for_load_state()  # type: ignore[attr-defined]
    cell = _device_row(page, name).locator("td[data-label=Status]")  # type: ignore[attr-defined]
    return str(cell.inner_text()).splitlines()[0]


def _devices_revoked_wiped_and_cleared(
    admin: object,
    user: object,
    base: str,
    ids: dict[str, str],
    payload: PairingPayload,
    tmp_path: Path,
) -> None:
    """alice revokes a phone of hers in Preferences; the administrator revokes
    another and orders a remote wipe of a third (each after its confirmation
    page), which that phone carries out on its next sync; alice clears her
    master password, which revokes her last phone. Each page shows the
    device's new status."""
    from playwright.sync_api import expect

    page, user_page = admin, user
    phones = {
        name: _pair(tmp_path, payload, name)
        for name in ("Spare phone", "Old phone", "Work tablet")
    }

    # alice: Revoke on her own phone, the confirmation, the new status.
    user_page.goto(f"{base}/preferences/mobile")  # type: ignore[attr-defined]
    assert _status(user_page, "Spare phone") == "active"
    _device_row(user_page, "Spare phone").locator("a", has_text="Revoke").click()  # type: ignore[attr-defined]
    expect(user_page.locator(".confirm-step h1")).to_have_text(  # type: ignore[attr-defined]
        "Revoke your phone “Spare phone”?"
    )
    user_page.click(".confirm-step button:text('Revoke phone')")  # type: ignore[attr-defined]
    expect(user_page.locator(".flash")).to_have_text("Device Spare phone revoked.")  # type: ignore[attr-defined]
    assert _status(user_page, "Spare phone") == "revoked"
    assert _device_row(user_page, "Spare phone").locator("a").count() == 0  # type: ignore[attr-defined]
    assert _status(user_page, "Old phone") == "active"

    # The administrator, on alice's page: Revoke, confirmed.
    page.goto(f"{base}/admin/users/{ids['alice']}")  # type: ignore[attr-defined]
    assert _status(page, "Spare phone") == "revoked"
    assert _status(page, "Old phone") == "active"
    _device_row(page, "Old phone").locator("a", has_text="Revoke").click()  # type: ignore[attr-defined]
    expect(page.locator(".confirm-step h1")).to_have_text(  # type: ignore[attr-defined]
        "Revoke the phone “Old phone” of alice?"
    )
    page.click(".confirm-step button:text('Revoke phone')")  # type: ignore[attr-defined]
    expect(page.locator(".flash")).to_have_text("Device Old phone revoked.")  # type: ignore[attr-defined]
    assert _status(page, "Old phone") == "revoked"
    assert _device_row(page, "Old phone").locator("a", has_text="Revoke").count() == 0  # type: ignore[attr-defined]

    # Remote wipe: Cancel changes nothing; Confirm orders it.
    _device_row(page, "Work tablet").locator("a", has_text="Remote wipe").click()  # type: ignore[attr-defined]
    confirm = page.locator(".confirm-step")  # type: ignore[attr-defined]
    expect(confirm.locator("h1")).to_have_text(
        "Remote wipe the phone “Work tablet” of alice?"
    )
    assert "erase its offline copy the next time it contacts" in confirm.inner_text()
    confirm.locator("text=Cancel").click()
    assert _status(page, "Work tablet") == "active"
    _device_row(page, "Work tablet").locator("a", has_text="Remote wipe").click()  # type: ignore[attr-defined]
    page.click(".confirm-step button:text('Remote wipe')")  # type: ignore[attr-defined]
    expect(page.locator(".flash")).to_have_text("Remote wipe ordered for Work tablet.")  # type: ignore[attr-defined]
    assert _status(page, "Work tablet") == "wipe requested"
    assert _device_row(page, "Work tablet").locator("a").count() == 0  # type: ignore[attr-defined]
    with pytest.raises(WipeRequested):
        phones["Work tablet"].sync()
    page.reload()  # type: ignore[attr-defined]
    assert _status(page, "Work tablet") == "wiped"

    # alice clears her master password: the page counts her one active phone.
    user_page.goto(f"{base}/preferences/mobile")  # type: ignore[attr-defined]
    assert _status(user_page, "Work tablet") == "wiped"
    user_page.click("text=Clear master password")  # type: ignore[attr-defined]
    confirm = user_page.locator(".confirm-step")  # type: ignore[attr-defined]
    expect(confirm.locator("h1")).to_have_text("Clear your master password?")
    assert "1 paired phone is revoked now" in confirm.inner_text()
    confirm.locator("button:text('Clear master password')").click()
    expect(user_page.locator(".flash")).to_have_text(  # type: ignore[attr-defined]
        "Mobile credentials cleared; 1 device(s) revoked."
    )
    assert "No master password is set yet." in user_page.inner_text("main")  # type: ignore[attr-defined]
    assert _status(user_page, "Test phone") == "revoked"
    assert user_page.locator("text=Clear master password").count() == 0  # type: ignore[attr-defined]
    assert user_page.locator("text=Show QR code").count() == 0  # type: ignore[attr-defined]
    with pytest.raises(DeviceRevoked):
        phones["Spare phone"].sync()


def _web_password_changed(user_page: object, base: str) -> None:
    """alice changes her web password (a wrong current one is named first);
    then only the new one signs her in."""
    from playwright.sync_api import expect

    page = user_page
    new_password = "alice-new-long-password-7"
    page.goto(f"{base}/preferences")  # type: ignore[attr-defined]
    page.fill("#f-current_password", "not-her-password")  # type: ignore[attr-defined]
    page.fill("#f-new_password", new_password)  # type: ignore[attr-defined]
    page.fill("#f-confirm_password", new_password)  # type: ignore[attr-defined]
    page.click("button:text('Change password')")  # type: ignore[attr-defined]
    expect(page.locator("#e-current_password")).to_have_text(  # type: ignore[attr-defined]
        "That is not your current password."
    )
    page.fill("#f-current_password", USER_PASSWORD)  # type: ignore[attr-defined]
    page.fill("#f-new_password", new_password)  # type: ignore[attr-defined]
    page.fill("#f-confirm_password", new_password)  # type: ignore[attr-defined]
    page.click("button:text('Change password')")  # type: ignore[attr-defined]
    expect(page.locator(".flash")).to_have_text(  # type: ignore[attr-defined]
        "Your password is changed; other browsers were signed out."
    )
    page.click("text=Sign out")  # type: ignore[attr-defined]
    page.fill("#f-username", "alice")  # type: ignore[attr-defined]
    page.fill("#f-password", USER_PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    expect(page.locator("#login-problem")).to_have_text(  # type: ignore[attr-defined]
        "The user name or password is not right."
    )
    _sign_in(page, base, "alice", new_password)


PAGES = [
    ("login", "/login", None),
    ("vault", "/vault", "admin"),
    ("list", "/lists/{list}", "admin"),
    ("list-search", "/lists/{list}?q=web", "admin"),
    ("record", "/records/{web1}", "admin"),
    ("record-edit", "/records/{web1}/edit", "admin"),
    ("record-new", "/lists/{list}/records/new", "admin"),
    ("record-delete", "/records/{db1}/delete", "admin"),
    ("generator", "/generator", "admin"),
    ("permissions", "/lists/{list}/permissions?q=a", "admin"),
    ("preferences", "/preferences", "admin"),
    ("preferences-mobile", "/preferences/mobile", "alice"),
    ("admin", "/admin", "admin"),
    ("admin-users", "/admin/users", "admin"),
    ("admin-user", "/admin/users/{alice}", "admin"),
    ("admin-groups", "/admin/groups", "admin"),
    ("admin-group", "/admin/groups/{group}?q=a", "admin"),
    ("admin-feature-access", "/admin/feature-access?q=a", "admin"),
    ("admin-settings", "/admin/settings", "admin"),
    ("admin-pairing-secret", "/admin/settings/pairing-secret", "admin"),
    ("admin-bulk", "/admin/bulk-mobile-access", "admin"),
    ("admin-audit", "/admin/audit", "admin"),
    ("admin-audit-verify", "/admin/audit/verify", "admin"),
    ("admin-diagnostics", "/admin/diagnostics?user=alice", "admin"),
    ("admin-api-keys", "/admin/api-keys", "admin"),
    ("admin-disable-confirm", "/admin/users/{alice}/active", "admin"),
    ("admin-clear-confirm", "/admin/users/{alice}/mobile-clear", "admin"),
    ("preferences-clear-confirm", "/preferences/mobile/clear", "alice"),
    ("error-403", "/admin", "alice"),
    ("error-404", "/no/such/page", "alice"),
]


# The elements sticking out on the right, to name the culprit of an overflow.
WIDEST = """() => {
  const edge = document.documentElement.clientWidth + 1;
  return Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getBoundingClientRect().right > edge)
    .slice(0, 5)
    .map(e => e.tagName + '.' + e.className);
}"""
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
# Tables whose scroll box hides columns (the actions among them) on a phone.
CLIPPED = """() => Array.from(document.querySelectorAll('.table-wrap'))
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => (e.querySelector('table') || e).className)"""


def _screenshot_every_page(browser: object, base: str, ids: dict[str, str]) -> None:
    """Full-page screenshots of every page at 1280 and 390 pixels wide; on the
    phone width no page may scroll sideways, nor hide a table's columns."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        pages = {}
        for who, password in (("admin", ADMIN_PASSWORD), ("alice", USER_PASSWORD)):
            context = browser.new_context(  # type: ignore[attr-defined]
                ignore_https_errors=True, viewport=viewport
            )
            page = context.new_page()
            _sign_in(page, base, who, password)
            pages[who] = page
        anonymous = browser.new_context(ignore_https_errors=True, viewport=viewport)  # type: ignore[attr-defined]
        pages[None] = anonymous.new_page()
        for name, path, who in PAGES:
            page = pages[who]
            page.goto(base + path.format(**ids))
            page.screenshot(
                path=str(SCREENSHOTS / f"{name}-{width_name}.png"), full_page=True
            )
            if width_name == "phone":
                overflow = page.evaluate(OVERFLOW)
                assert overflow <= 1, (
                    f"{name} scrolls sideways by {overflow}px on a phone: "
                    + str(page.evaluate(WIDEST))
                )
                clipped = page.evaluate(CLIPPED)
                assert not clipped, f"{name} hides table columns on a phone: {clipped}"
        for page in pages.values():
            page.context.close()
    assert len(list(SCREENSHOTS.glob("*-phone.png"))) == len(PAGES)
    assert os.access(SCREENSHOTS, os.W_OK)


NO_SCRIPT_SHOTS = SCREENSHOTS / "no-script"


class _Walk:
    """One browser tab walking the UI, with a screenshot of each step."""

    def __init__(self, page: object, base: str, prefix: str) -> None:
        self.page = page
        self.base = base
        self.prefix = prefix
        NO_SCRIPT_SHOTS.mkdir(parents=True, exist_ok=True)

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)  # type: ignore[attr-defined]

    def shot(self, name: str) -> None:
        self.page.screenshot(  # type: ignore[attr-defined]
            path=str(NO_SCRIPT_SHOTS / f"{self.prefix}-{name}.png"), full_page=True
        )

    def text(self, selector: str) -> str:
        return str(self.page.inner_text(selector))  # type: ignore[attr-defined]

    def flash(self) -> str:
        return self.text(".flash")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_form_works_without_javascript(
    servers: tuple[RunningServer, RunningServer],
    browser: object,
    instance: Instance,
) -> None:
    """With scripting off, at a phone's width, an admin and a user do every
    job of the UI by plain forms and links: folders and lists, a record with
    field errors, reveal, copy, edit and delete, the generator, permissions,
    users, groups, feature access, settings with the pin, the pairing secret,
    bulk Mobile Access, auditing with paging, CSV export and chain check, API keys,
    diagnostics, Mobile App Settings and two-step sign-in."""
    import httpx
    import pyotp
    from playwright.sync_api import expect

    web, _app_server = servers
    base = web.url
    ids = _org(instance)
    context = browser.new_context(  # type: ignore[attr-defined]
        ignore_https_errors=True, viewport=PHONE, java_script_enabled=False
    )
    page = context.new_page()
    walk = _Walk(page, base, "admin")
    _sign_in(page, base, "admin", ADMIN_PASSWORD)

    # Vault: a folder, then a list with a missing name first.
    page.fill("#f-folder_name", "Network")
    page.click("text=Create folder")
    assert "Folder 'Network' created." in walk.flash()
    page.select_option("#f-list_folder", label="Network")
    page.click("text=Create list")
    assert walk.text("#e-list_name") == "Enter the list name."
    walk.shot("list-name-missing")
    page.fill("#f-list_name", "Routers")
    page.click("text=Create list")
    assert page.url.endswith("/permissions")
    assert "Password list 'Routers' created" in walk.flash()

    # A record: every problem next to its field, then saved.
    walk.go(f"/lists/{ids['list']}")
    page.click("text=Add record")
    page.fill("#f-otp_secret", "not base32!")
    page.click("text=Save")
    assert walk.text("#e-title") == "Enter the title."
    assert "base32" in walk.text("#e-otp_secret")
    walk.shot("record-errors")
    page.fill("#f-title", "core-sw")
    page.fill("#f-password", "sw-pass-1")
    page.fill("#f-otp_secret", "JBSWY3DPEHPK3PXP")
    page.click("text=Save")
    assert "Record 'core-sw' added." in walk.flash()
    assert page.inner_text("#value-password").startswith("•")
    assert re.fullmatch(r"\d{3} \d{3}", walk.text("#otp-code"))

    # Reveal and copy are plain form posts that answer with a page.
    page.click("#reveal-form button")
    assert walk.text("#value-password") == "sw-pass-1"
    page.click("form[data-field=password] button")
    assert page.input_value("#copied-value") == "sw-pass-1"
    walk.shot("record-copied")
    page.click("text=Edit")
    page.fill("#f-title", "core-sw-2")
    page.click("text=Save")
    assert walk.flash() == "Record saved."
    page.click("a:text('Delete')")
    page.click("text=Delete record")
    assert "Record 'core-sw-2' deleted." in walk.flash()

    # The generator's form.
    walk.go("/generator")
    page.fill("#f-length", "32")
    page.uncheck("input[name=classes][value=symbols]")
    page.click("text=Generate another")
    generated = page.input_value("#generated")
    assert len(generated) == 32 and generated.isalnum()

    # Permissions: search, grant (Mobile Access preselected Yes), switch the
    # flag off, change the level, remove.
    walk.go(f"/lists/{ids['list']}/permissions")
    page.fill("#f-q", "Mobile")
    page.click("form[role=search] button")
    assert page.is_checked("input[name=mobile_access][value=yes]")
    page.check(f"input[name=grantee][value='group:{ids['group']}']")
    page.click("text=Grant permission")
    assert _mobile_state(page, "Mobile staff") == "yes"
    row = page.locator("table.permissions-grid tr", has_text="Mobile staff")
    row.locator("text=Turn off").click()
    assert _mobile_state(page, "Mobile staff") == "no"
    row = page.locator("table.permissions-grid tr", has_text="Mobile staff")
    row.locator("select").select_option("modify")
    row.locator("text=Change").click()
    assert walk.flash() == "Level changed to modify."
    walk.shot("permissions")
    page.locator("table.permissions-grid tr", has_text="Mobile staff").locator(
        "text=Remove"
    ).click()
    page.click("button:text('Remove permission')")
    assert walk.flash() == "Permission removed."
    assert (
        page.locator("table.permissions-grid tr", has_text="Mobile staff").count() == 0
    )

    # Users: add (the generated password shows once), reset, time to live,
    # disable after the confirmation, enable.
    walk.go("/admin/users")
    page.fill("#f-login_name", "carol")
    page.click("button:text('Add user')")
    first_password = page.input_value("#new-password")
    assert len(first_password) >= 12
    page.reload()
    assert page.locator("#new-password").count() == 0
    page.click("button:text('Reset password')")
    assert page.input_value("#new-password") not in ("", first_password)
    page.select_option("#f-offline_ttl_days", "3")
    page.click("text=Save offline time to live")
    assert walk.flash().startswith("Offline time to live saved")
    assert page.input_value("#f-offline_ttl_days") == "3"
    page.click("text=Disable user")
    walk.shot("disable-confirm")
    page.click("button:text('Disable')")
    assert "Disabled" in walk.text("dl.record-fields")
    page.click("text=Enable user")
    assert "Active" in walk.text("dl.record-fields")

    # Security Groups: add one, add carol, remove her again.
    walk.go("/admin/groups")
    page.fill("#f-group_name", "Night shift")
    page.click("button:text('Add group')")
    walk.go("/admin/groups")
    page.click("text=Night shift")
    page.fill("#f-q", "carol")
    page.click("form[role=search] button")
    page.click("button:text('Add')")
    assert "carol" in walk.text("#members + ul")
    page.click("#members + ul >> text=Remove")
    page.click("button:text('Remove')")
    assert "No member yet." in walk.text("main")

    # Feature Access: search, tick, save; then remove.
    walk.go("/admin/feature-access")
    page.fill("#f-q", "Night")
    page.click("form[role=search] button")
    page.check("input[name=add]")
    page.click("#feature-form button[type=submit]")
    assert walk.flash() == "Mobile App feature: 1 added, 0 removed."
    page.check("input[name=remove] >> nth=-1")
    page.click("#feature-form button[type=submit]")
    assert "0 added, 1 removed" in walk.flash()

    # System Settings: a wrong limit is named; Query stores the live pin;
    # Clear forgets it; a new pairing secret after its confirmation.
    walk.go("/admin/settings")
    page.fill("#f-failed_login_limit", "0")
    page.click("#settings-form button:text('Save settings') >> nth=-1")
    assert walk.text("#e-failed_login_limit")
    walk.shot("settings-error")
    page.fill("#f-failed_login_limit", "7")
    page.click("#settings-form button:text('Save settings') >> nth=-1")
    assert page.input_value("#f-failed_login_limit") == "7"
    page.click("#query-pin")
    assert len(page.input_value("#f-app_server_pin")) == 44
    page.click("#clear-pin")
    assert page.input_value("#f-app_server_pin") == ""
    page.click("#query-pin")  # phones cannot pair without it
    page.click("text=Generate New App Pairing Secret")
    page.click("form button.danger")
    assert "pairing secret" in walk.flash().lower()

    # Bulk Mobile Access: the count first, then the change.
    walk.go("/admin/bulk-mobile-access")
    page.check("input[name=value][value=no]")
    page.check("input[name=scope][value=all]")
    page.click("text=Continue")
    assert "will change to Mobile Access No" in walk.text("#bulk-count")
    walk.shot("bulk-confirm")
    page.click("text=Apply to")
    assert "Mobile Access" in walk.flash()

    # Auditing: filter, export what the filter shows, verify the chain.
    walk.go("/admin/audit")
    page.select_option("#f-event_type", "record.copied")
    page.click("button:text('Filter')")
    assert walk.text(".audit-log tbody").count("record.copied") == 1
    walk.shot("audit-filtered")
    with page.expect_download() as download:
        page.click("text=Export CSV")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("seq,id,")
    assert len(lines) == 2 and ",record.copied," in lines[1]
    page.click("text=Verify the chain")
    assert walk.text("#chain-status").startswith("Intact")

    # Paging through a filtered log: Next and Previous keep the filter.
    with instance.db.session() as session:
        for n in range(1, 56):
            accounts.create_group(session, cli_operator(), f"Team {n:02d}")
    walk.go("/admin/audit")
    page.select_option("#f-event_type", "group.created")
    page.click("button:text('Filter')")
    counted = page.locator("main p", has_text=re.compile(r"^\d+ events$"))
    total = int(counted.inner_text().split()[0])
    assert total > 55
    assert walk.text(".pager [aria-current=page]") == "Page 1 of 2"
    page.wait_for_load_state()
    first = walk.text(".audit-log tbody")
    assert page.locator(".audit-log tbody tr").count() == 50
    assert "Team 55" in first and "Team 01" not in first
    assert page.locator(".pager >> text=Previous").count() == 0
    page.click(".pager >> text=Next")
    assert walk.text(".pager [aria-current=page]") == "Page 2 of 2"
    page.wait_for_load_state()
    assert page.input_value("#f-event_type") == "group.created"
    second = walk.text(".audit-log tbody")
    assert page.locator(".audit-log tbody tr").count() == total - 50
    assert "Team 01" in second and "Team 55" not in second
    assert second.count("group.created") == total - 50
    assert page.locator(".pager >> text=Next").count() == 0
    walk.shot("audit-page-2")
    page.click(".pager >> text=Previous")
    assert walk.text(".pager [aria-current=page]") == "Page 1 of 2"
    assert walk.text(".audit-log tbody") == first

    # API keys: created and shown once, works, revoked after asking.
    walk.go("/admin/api-keys")
    page.fill("#f-key_name", "nightly export")
    page.check("input[name=scope][value=system]")
    page.click("text=Create API key")
    key = page.input_value("#new-api-key")
    walk.shot("api-key-created")
    me = httpx.get(
        f"{base}/api/v1/me", headers={"Authorization": f"Bearer {key}"}, verify=False
    )
    assert me.status_code == 200
    walk.go("/admin/api-keys")
    page.click("#api-keys >> text=Revoke")
    page.click("button:text('Revoke')")
    gone = httpx.get(
        f"{base}/api/v1/me", headers={"Authorization": f"Bearer {key}"}, verify=False
    )
    assert gone.status_code == 401

    # Mobile diagnostics: the GET form runs the troubleshooter.
    walk.go("/admin/diagnostics")
    page.fill("#f-user", "alice")
    page.click("text=Diagnose")
    assert "mobile:alice" in walk.text("#report-title")
    context.close()

    # The user: Mobile App Settings, then two-step sign-in set up and used.
    user_context = browser.new_context(  # type: ignore[attr-defined]
        ignore_https_errors=True, viewport=PHONE, java_script_enabled=False
    )
    user_page = user_context.new_page()
    user = _Walk(user_page, base, "alice")
    _sign_in(user_page, base, "alice", USER_PASSWORD)
    user.go("/preferences/mobile")
    user_page.fill("#f-master_password", MASTER)
    user_page.fill("#f-confirm_master_password", MASTER + "x")
    user_page.click("button:text('Save')")
    assert user.text("#e-confirm_master_password")
    user_page.fill("#f-master_password", MASTER)
    user_page.fill("#f-confirm_master_password", MASTER)
    user_page.click("button:text('Save')")
    # count() does not wait: the page after the redirect may still be loading.
    expect(user_page.locator("#pairing-qr svg")).to_have_count(1)
    user.shot("mobile-qr")

    user.go("/preferences")
    user_page.click("text=Set up two-step sign-in")
    secret = user.text("main code").replace(" ", "")
    user_page.fill("#f-code", "000000")
    user_page.click("text=Turn on")
    assert "does not match" in user.text("#e-code")
    user_page.fill("#f-code", pyotp.TOTP(secret).now())
    user_page.click("text=Turn on")
    assert "Two-step sign-in is on" in user.flash()
    user_page.click("text=Sign out")
    user_page.fill("#f-username", "alice")
    user_page.fill("#f-password", USER_PASSWORD)
    user_page.click("button[type=submit]")
    user_page.wait_for_url(re.compile(r".*/login/second-factor.*"))
    user.shot("second-factor")
    user_page.fill("#f-code", pyotp.TOTP(secret).now())
    user_page.click("text=Verify")
    user_page.wait_for_url(f"{base}/vault")
    user_context.close()


def _tab_to(page: object, selector: str, limit: int = 60) -> None:
    """Press Tab until `selector` has the focus (a keyboard user's only way)."""
    for _ in range(limit):
        if page.evaluate(  # type: ignore[attr-defined]
            "s => document.activeElement && document.activeElement.matches(s)",
            selector,
        ):
            return
        page.keyboard.press("Tab")  # type: ignore[attr-defined]
    raise AssertionError(f"{selector} cannot be reached with Tab")


NO_CLIPBOARD = """Object.defineProperty(navigator, 'clipboard', {
  value: { writeText: () => Promise.reject(new Error('denied')) }
});"""

# Whether an element draws a focus ring: an outline, or a box-shadow with a
# visible colour and a spread (Pico's way of marking the focus).
RING = """s => {
  const style = getComputedStyle(document.querySelector(s));
  if (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) {
    return true;
  }
  const shadow = /rgba?\\(([^)]*)\\)\\s+\\S+\\s+\\S+\\s+\\S+\\s+([\\d.]+)px/g;
  for (const m of style.boxShadow.matchAll(shadow)) {
    const parts = m[1].split(',').map(Number);
    const alpha = parts.length > 3 ? parts[3] : 1;
    if (alpha > 0 && parseFloat(m[2]) > 0) { return true; }
  }
  return false;
}"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_keyboard_alone_does_the_main_jobs(
    servers: tuple[RunningServer, RunningServer],
    browser: object,
    instance: Instance,
) -> None:
    """With Tab, typing and Enter only, an admin signs in, opens a record,
    reveals it, copies it (the browser refusing the clipboard, the value is
    shown selected) and switches a permission's Mobile Access; the element
    with the focus is always visibly marked."""
    from playwright.sync_api import expect

    web, _app_server = servers
    base = web.url
    ids = _org(instance)
    # Reduced motion: Pico then draws the focus ring at once, not mid-fade.
    context = browser.new_context(  # type: ignore[attr-defined]
        ignore_https_errors=True, viewport=DESKTOP, reduced_motion="reduce"
    )
    # A browser that refuses clipboard access (as one may, per site).
    context.add_init_script(NO_CLIPBOARD)
    page = context.new_page()

    page.goto(f"{base}/login")
    _tab_to(page, "#f-username")
    page.keyboard.type("admin")
    _tab_to(page, "#f-password")
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/vault")

    listed = "a[href='/lists/{list}']".format(**ids)
    _tab_to(page, listed)
    assert page.evaluate(RING, listed)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/lists/{ids['list']}")
    _tab_to(page, "a[href='/records/{web1}']".format(**ids))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/records/{ids['web1']}")
    _tab_to(page, "#reveal-form button")
    assert page.evaluate(RING, "#reveal-form button")
    assert not page.evaluate(RING, "a[href$='/edit']"), "a ring without focus"
    page.keyboard.press("Enter")
    expect(page.locator("#value-password")).to_have_text("w3b-one-pass")

    # Copy without clipboard access shows the value selected, audited once.
    copied = len(events(instance, "record.copied"))
    _tab_to(page, "form[data-field=password] button")
    page.keyboard.press("Enter")
    expect(page.locator("#copied-value")).to_have_value("w3b-one-pass")
    assert page.evaluate("document.activeElement.id") == "copied-value"
    assert len(events(instance, "record.copied")) == copied + 1

    page.goto(f"{base}/lists/{ids['list']}/permissions")
    _tab_to(page, "td.mobile-cell button")
    assert page.evaluate(RING, "td.mobile-cell button")
    page.keyboard.press("Enter")
    expect(page.locator("td.mobile-cell").first).to_have_attribute(
        "data-mobile-access", "no"
    )
    context.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_long_names_without_spaces_fit_a_phone(
    servers: tuple[RunningServer, RunningServer],
    browser: object,
    instance: Instance,
) -> None:
    """Names typed without a space, at the 100-character limit, wrap instead
    of pushing a phone's page sideways: the breadcrumbs of a list, a record and
    its permissions, a user's and a group's page, the bulk Mobile Access list
    and the mobile username in Mobile App Settings."""
    web, _app_server = servers
    base = web.url
    long = "W" * 100
    op = cli_operator()
    with instance.db.session() as session:
        person = accounts.create_user(session, op, long, password=USER_PASSWORD)
        accounts.grant_feature(session, op, "mobile", user=person)
        group = accounts.create_group(session, op, long)
        folder = vault.create_list(session, op, f"{long}/{long}", create_folders=True)
        record = vault.create_record(
            session,
            op,
            instance.cipher,
            folder,
            vault.RecordInput(title=long, username=long, password="pw-1"),
        )
        for grantee in (person, accounts.find_user(session, "admin")):
            vault.grant(session, op, folder, vault.Level.ADMIN, user=grantee)
        vault.grant(session, op, folder, vault.Level.VIEW, group=group)
        ids = {"list": folder.id, "record": record.id}
        ids |= {"user": person.id, "group": group.id}
    pages = {
        "admin": [
            f"/lists/{ids['list']}",
            f"/records/{ids['record']}",
            f"/records/{ids['record']}/edit",
            f"/lists/{ids['list']}/permissions",
            f"/admin/users/{ids['user']}",
            f"/admin/groups/{ids['group']}",
            "/admin/bulk-mobile-access",
        ],
        long: ["/preferences/mobile"],
    }
    for who, paths in pages.items():
        context = browser.new_context(ignore_https_errors=True, viewport=PHONE)  # type: ignore[attr-defined]
        page = context.new_page()
        _sign_in(page, base, who, ADMIN_PASSWORD if who == "admin" else USER_PASSWORD)
        for path in paths:
            page.goto(base + path)
            assert long[:20] in page.inner_text("main"), path
            overflow = page.evaluate(OVERFLOW)
            assert overflow <= 1, (
                f"{path} scrolls sideways by {overflow}px on a phone: "
                + str(page.evaluate(WIDEST))
            )
        context.close()


# Evidence values short enough for a line of their own ("36013", a cipher,
# an address) that the browser nevertheless split over two lines.
SPLIT_VALUES = """() => Array.from(document.querySelectorAll('.evidence dd'))
  .filter(dd => !dd.querySelector('ul'))
  .map(dd => [dd.textContent.trim(), dd.getClientRects().length])
  .filter(([text, lines]) => text && !/\\s/.test(text) && text.length <= 30
    && lines > 1)
  .map(([text]) => text)"""
# How far below `a` (its bottom) `b` starts (its top), in pixels.
GAP = """([a, b]) => document.querySelector(b).getBoundingClientRect().top
  - document.querySelector(a).getBoundingClientRect().bottom"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_diagnostics_and_mobile_settings_read_well_on_a_phone(
    servers: tuple[RunningServer, RunningServer],
    browser: object,
    instance: Instance,
) -> None:
    """At 390 px, Mobile diagnostics splits no port, cipher or address in the
    middle (a name and its value wrap together) and leaves room between the
    Diagnose button and the report; Mobile App Settings puts the "Clearing
    revokes..." note under its button, not squeezed beside it."""
    web, _app_server = servers
    base = web.url
    op = cli_operator()
    with instance.db.session() as session:
        alice = accounts.create_user(session, op, "alice", password=USER_PASSWORD)
        accounts.grant_feature(session, op, "mobile", user=alice)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(ignore_https_errors=True, viewport=PHONE)  # type: ignore[attr-defined]
    user_page = context.new_page()
    _sign_in(user_page, base, "alice", USER_PASSWORD)
    user_page.goto(f"{base}/preferences/mobile")
    user_page.fill("#f-master_password", MASTER)
    user_page.fill("#f-confirm_master_password", MASTER)
    user_page.click("text=Save")
    user_page.wait_for_selector("#pairing-qr svg")
    user_page.goto(f"{base}/preferences/mobile")
    user_page.screenshot(
        path=str(SCREENSHOTS / "phone-mobile-settings-clear.png"), full_page=True
    )
    assert (
        user_page.evaluate(GAP, [".action-note [role=button]", ".action-note small"])
        >= 0
    )
    context.close()

    context = browser.new_context(ignore_https_errors=True, viewport=PHONE)  # type: ignore[attr-defined]
    page = context.new_page()
    _sign_in(page, base, "admin", ADMIN_PASSWORD)
    page.goto(f"{base}/admin/diagnostics?user=alice")
    page.screenshot(path=str(SCREENSHOTS / "phone-diagnostics.png"), full_page=True)
    text = page.inner_text("main")
    assert "TLS" in text and "pin" in text, text
    assert page.evaluate(SPLIT_VALUES) == []
    assert page.evaluate(GAP, [".search-form button", "#report-title"]) >= 16
    assert page.evaluate(OVERFLOW) <= 1, page.evaluate(WIDEST)
    context.close()
