"""The browser UI in a real browser: Playwright driving Debian's Chromium.

The real app runs over HTTPS on 127.0.0.1 (uvicorn in a thread, the
instance's certificate), next to the real App Server, so the flow ends with a
`strongroom.client` device pairing from the QR code in the page and syncing.
Screenshots of every page at desktop and phone widths land in
test-artifacts/screenshots/ for a person to look at.

Skipped with the reason outside CI when /usr/bin/chromium is missing (install
it with scripts/install-chromium); with CI=true its absence fails the run.
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
from strongroom.client.device import Device
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
from tests.server.web.conftest import USER_PASSWORD

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
    reason = f"{CHROMIUM} is missing (run scripts/install-chromium)"
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
    sets a master password, the QR code on the page is decoded from a
    screenshot and pairs a real device, which syncs the list."""
    from playwright.sync_api import expect

    web, _app_server = servers
    base = web.url
    ids = _org(instance)
    context = browser.new_context(ignore_https_errors=True, viewport=DESKTOP)  # type: ignore[attr-defined]
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

    # The record page's script reveals in place (no page load): CSP lets it run.
    page.goto(f"{base}/records/{ids['web1']}")
    assert page.inner_text("#value-password").startswith("•")
    page.click("#reveal-form button")
    expect(page.locator("#value-password")).to_have_text("w3b-one-pass")
    assert page.url.endswith(f"/records/{ids['web1']}")
    assert re.fullmatch(r"\d{3} \d{3}", page.inner_text("#otp-code"))

    # The user sets a master password; the QR code pairs a real device.
    user_context = browser.new_context(ignore_https_errors=True, viewport=DESKTOP)  # type: ignore[attr-defined]
    user_page = user_context.new_page()
    _sign_in(user_page, base, "alice", USER_PASSWORD)
    user_page.goto(f"{base}/preferences/mobile")
    user_page.fill("#f-master_password", MASTER)
    assert user_page.is_visible("#strength")
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

    device = Device(
        ClientSettings(home=tmp_path / "phone", connect_timeout_seconds=5),
        keystore=MemoryKeystore(),
        clipboard=MemoryClipboard(),
    )
    opened = device.pair(payload, MASTER, device_name="Test phone")
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
    user_context.close()
    context.close()


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


def _screenshot_every_page(browser: object, base: str, ids: dict[str, str]) -> None:
    """Full-page screenshots of every page at 1280 and 390 pixels wide; on the
    phone width no page may scroll sideways."""
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
        for page in pages.values():
            page.context.close()
    assert len(list(SCREENSHOTS.glob("*-phone.png"))) == len(PAGES)
    assert os.access(SCREENSHOTS, os.W_OK)
