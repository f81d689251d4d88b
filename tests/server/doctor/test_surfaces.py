"""Every provoked failure as an admin sees it: the report, the CLI and the web page.

Each case below breaks one thing for real (a setting, a certificate, a port,
the App Server's database, a cloned phone) and states the status every one
of the fifteen checks must then have: the broken step fails (or warns) with
its evidence and fix, the steps it blocks are skipped, and everything else
still passes. The same report must then read the same in `strongroom doctor
mobile alice` and on Administration > Mobile diagnostics.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import update

from strongroom.crypto.certificates import CertificatePair, make_self_signed
from strongroom.crypto.pins import pin_of_pem
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.appserver.runner import RunningServer
from strongroom.server.core.config import Settings
from strongroom.server.core.db import Database
from strongroom.server.core.instance import InitResult, Instance, initialise, operator
from strongroom.server.doctor.report import Report, Status
from strongroom.server.doctor.service import diagnose_mobile
from strongroom.server.mobile import service as mobile
from strongroom.server.settings import service as settings_service
from strongroom.server.settings.models import SystemSetting
from strongroom.server.vault import service as vault
from strongroom.server.web.app import create_web_app
from tests.conftest import ADMIN_PASSWORD
from tests.server.cli.conftest import Cli, cli_env
from tests.server.doctor.conftest import (
    FAST,
    MASTER_PASSWORD,
    WEB_PASSWORD,
    HttpPhone,
    expired_pair,
    free_port,
    instance_pair,
    loopback_name,
    set_url,
    show_qr,
    silent_listener,
)
from tests.server.support import _CHEAP, use_cheap_hashing
from tests.server.web.conftest import sign_in

CHECK_IDS = [
    "account_active",
    "mobile_feature",
    "mobile_lists",
    "master_password",
    "qr_current",
    "app_server_url",
    "dns",
    "tcp_port",
    "tls_handshake",
    "certificate_name",
    "certificate_validity",
    "pin",
    "health",
    "same_instance",
    "devices",
]
AFTER_DNS = CHECK_IDS[CHECK_IDS.index("tcp_port") : CHECK_IDS.index("devices")]
AFTER_TLS = CHECK_IDS[CHECK_IDS.index("certificate_name") : CHECK_IDS.index("devices")]
LABELS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skipped": "SKIP"}
STATUS_LINE = re.compile(r"^ (PASS|WARN|FAIL|SKIP)  (.*)$")


@pytest.fixture
def initialised(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> InitResult:
    """An instance whose passwords hash cheaply, so the admin signs in quickly."""
    use_cheap_hashing(monkeypatch)
    monkeypatch.setattr("strongroom.server.mobile.service.hash_password", _CHEAP.hash)
    return initialise(settings, admin_name="admin", admin_password=ADMIN_PASSWORD)


@dataclass
class Faults:
    """What a case needs to break things: the instance, servers, a phone."""

    instance: Instance
    make_user: Callable[..., User]
    start_appserver: Callable[..., RunningServer]
    tmp_path: Path
    closing: list[Instance]

    def serve(
        self,
        pair: CertificatePair | None = None,
        *,
        served: Instance | None = None,
        pin: str | None = None,
    ) -> RunningServer:
        """Run the real App Server and point the settings at it (URL, pin)."""
        pair = pair or instance_pair(self.instance)
        server = self.start_appserver(served or self.instance, pair)
        set_url(
            self.instance,
            f"https://127.0.0.1:{server.port}",
            pin=pin or pin_of_pem(pair.cert_pem),
        )
        return server

    def our_pin(self) -> str:
        """The pin of the certificate `init` made."""
        return pin_of_pem(instance_pair(self.instance).cert_pem)

    def other_instance(self) -> Instance:
        """A second instance, with a database and instance id of its own."""
        other_settings = Settings(data_dir=self.tmp_path / "other", environment="test")
        initialise(other_settings, admin_name="admin", admin_password=None)
        other = Instance.open(other_settings)
        self.closing.append(other)
        return other

    def cut_off(self) -> Instance:
        """This instance as an App Server sees it when its database is gone."""
        missing = self.tmp_path / "no-such-dir" / "strongroom.db"
        cut = Instance(
            settings=self.instance.settings,
            db=Database(f"sqlite:///{missing}"),
            cipher=self.instance.cipher,
        )
        self.closing.append(cut)
        return cut


# Each case sets things up and returns one piece of evidence (key, value as
# both surfaces print it) that the broken check must show.
Setup = Callable[[Faults], tuple[str, str]]


def no_mobile_feature(f: Faults) -> tuple[str, str]:
    f.serve()
    f.make_user(feature=False)
    return "granted", "no"


def mobile_access_off(f: Faults) -> tuple[str, str]:
    f.serve()
    f.make_user(mobile_access=False)
    return "lists_without_mobile_access", "Ops/alice-servers"


def no_master_password(f: Faults) -> tuple[str, str]:
    f.serve()
    f.make_user(master_password=False)
    return "set", "no"


def qr_older_than_regeneration(f: Faults) -> tuple[str, str]:
    f.serve()
    f.make_user()
    show_qr(f.instance, "alice")
    with f.instance.db.session() as session:
        mobile.regenerate_pairing_secret(session, operator(), f.instance.cipher)
    return "qr_issued_at", ""


def unresolvable_host(f: Faults) -> tuple[str, str]:
    set_url(f.instance, "https://vault.strongroom.invalid:9443")
    f.make_user()
    return "error_kind", "dns"


def nothing_listens(f: Faults) -> tuple[str, str]:
    port = free_port()
    set_url(f.instance, f"https://127.0.0.1:{port}")
    f.make_user()
    return "port", str(port)


def different_key_than_pinned(f: Faults) -> tuple[str, str]:
    f.serve(make_self_signed(["localhost", "127.0.0.1"]), pin=f.our_pin())
    f.make_user()
    return "stored_pin", f.our_pin()


def certificate_for_another_host(f: Faults) -> tuple[str, str]:
    f.serve(make_self_signed(["vault.other.example"]))
    f.make_user()
    return "names", "vault.other.example"


def expired_certificate(f: Faults) -> tuple[str, str]:
    f.serve(expired_pair())
    f.make_user()
    return "days_left", "-1"


def app_server_without_database(f: Faults) -> tuple[str, str]:
    f.serve(served=f.cut_off())
    f.make_user()
    return "http_status", "503"


def app_server_of_another_instance(f: Faults) -> tuple[str, str]:
    other = f.other_instance()
    f.serve(served=other)
    f.make_user()
    with other.db.session() as session:
        return "app_server_instance_id", settings_service.instance_id(session)


def replayed_device_credential(f: Faults) -> tuple[str, str]:
    server = f.serve()
    f.make_user()
    phone = HttpPhone(server.url, instance_pair(f.instance).cert_pem)
    phone.pair(show_qr(f.instance, "alice"))
    first = phone.credential
    assert phone.sync().status_code == 200
    assert phone.sync().status_code == 200
    assert phone.sync(credential=first).status_code == 401
    return "active", "0"


def phone_paired_before_regeneration(f: Faults) -> tuple[str, str]:
    server = f.serve()
    f.make_user()
    phone = HttpPhone(server.url, instance_pair(f.instance).cert_pem)
    phone.pair(show_qr(f.instance, "alice"))
    assert phone.sync().status_code == 200
    with f.instance.db.session() as session:
        mobile.regenerate_pairing_secret(session, operator(), f.instance.cipher)
    refused = phone.sync()
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "device_revoked"
    return "active", "0"


def malformed_url_in_settings(f: Faults) -> tuple[str, str]:
    f.make_user()
    # Written past the settings' validation, as a hand-edited database would.
    with f.instance.db.session() as session:
        session.execute(
            update(SystemSetting)
            .where(SystemSetting.key == "app_server_url")
            .values(value="htps:/nowhere")
        )
    return "url", "htps:/nowhere"


@dataclass(frozen=True)
class Case:
    """One way to break the path, and the status each check must then have."""

    setup: Setup
    broken: str
    statuses: dict[str, str]


def _case(setup: Setup, broken: str, **statuses: str) -> Case:
    # Without a paired phone the device check warns in every case but those
    # where a phone was paired and then refused for good.
    return Case(setup, broken, {"devices": "warn", **statuses})


def _skipped(ids: list[str]) -> dict[str, str]:
    return dict.fromkeys(ids, "skipped")


CASES = {
    "no Mobile App feature": _case(
        no_mobile_feature, "mobile_feature", mobile_feature="fail"
    ),
    "Mobile Access off on every list": _case(
        mobile_access_off, "mobile_lists", mobile_lists="fail"
    ),
    "no master password": _case(
        no_master_password,
        "master_password",
        master_password="fail",
        qr_current="skipped",
    ),
    "QR older than the pairing-secret regeneration": _case(
        qr_older_than_regeneration, "qr_current", qr_current="fail"
    ),
    "host under .invalid": _case(
        unresolvable_host, "dns", dns="fail", **_skipped(AFTER_DNS)
    ),
    "port where nothing listens": _case(
        nothing_listens,
        "tcp_port",
        tcp_port="fail",
        **_skipped(AFTER_DNS[1:]),
    ),
    "different key than the stored pin": _case(
        different_key_than_pinned, "pin", pin="fail"
    ),
    "certificate for another host": _case(
        certificate_for_another_host, "certificate_name", certificate_name="fail"
    ),
    "expired certificate": _case(
        expired_certificate, "certificate_validity", certificate_validity="fail"
    ),
    "App Server without its database": _case(
        app_server_without_database,
        "health",
        health="fail",
        same_instance="skipped",
    ),
    "App Server of another instance": _case(
        app_server_of_another_instance, "same_instance", same_instance="fail"
    ),
    "device that replayed a stale credential": _case(
        replayed_device_credential, "devices", devices="fail"
    ),
    "phone paired before the pairing-secret regeneration": _case(
        phone_paired_before_regeneration,
        "devices",
        devices="fail",
        qr_current="fail",
    ),
    "malformed URL in the settings": _case(
        malformed_url_in_settings,
        "app_server_url",
        app_server_url="fail",
        **_skipped(["dns", *AFTER_DNS]),
    ),
}


@pytest.fixture
def faults(
    instance: Instance,
    phone_user: Callable[..., User],
    appserver: Callable[..., RunningServer],
    tmp_path: Path,
) -> Iterator[Faults]:
    """The means to break things; extra instances close at the end."""
    made = Faults(instance, phone_user, appserver, tmp_path, [])
    yield made
    for other in made.closing:
        other.close()


@pytest.fixture
def admin_page(instance: Instance) -> Iterator[Callable[[str], str]]:
    """GET Administration > Mobile diagnostics for a user, signed in as admin."""
    with TestClient(create_web_app(instance), base_url="https://testserver") as web:
        sign_in(web, "admin", ADMIN_PASSWORD)

        def get(user: str) -> str:
            page = web.get("/admin/diagnostics", params={"user": user})
            assert page.status_code == 200, page.text
            return page.text

        yield get


def cli_lines(stdout: str) -> list[tuple[str, str]]:
    """(label, title) of every check line the CLI printed, in order."""
    found = [STATUS_LINE.match(line) for line in stdout.splitlines()]
    return [(m.group(1), m.group(2)) for m in found if m]


def cli_block(stdout: str, title: str) -> str:
    """The evidence and fix lines the CLI printed under the check titled `title`."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(f"  {title}"))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("        "):
            break
        block.append(line.strip())
    return "\n".join(block)


def page_row(html: str, check_id: str) -> str:
    """The table row of one check on the diagnostics page."""
    found = re.search(rf'<tr id="check-{check_id}".*?</tr>', html, re.DOTALL)
    assert found, f"no row for {check_id}"
    return found.group(0)


def _expected(case: Case) -> dict[str, str]:
    return {check_id: case.statuses.get(check_id, "pass") for check_id in CHECK_IDS}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_each_failure_reads_the_same_everywhere(
    case: Case,
    faults: Faults,
    settings: Settings,
    admin_page: Callable[[str], str],
) -> None:
    """The broken check (and only it) fails with its evidence and fix in the
    report, the CLI and the web page; blocked steps skip, the rest pass."""
    key, value = case.setup(faults)

    # The report itself: every check's status, exactly.
    report: Report = diagnose_mobile(faults.instance, "alice", timeout=FAST)
    assert {c.id: str(c.status) for c in report.checks} == _expected(case)
    broken = report.get(case.broken)
    assert broken.fix, "a check that does not pass says what to do"
    assert key in broken.evidence
    if broken.status is Status.WARN:
        assert report.ok

    # The CLI: one line per check with the same status and title, the
    # evidence beneath the broken one, its fix, and the exit code.
    result = Cli(cli_env(settings))("doctor", "mobile", "alice", "--timeout", "1")
    assert result.exit_code == (0 if report.ok else 1), result.stdout
    assert cli_lines(result.stdout) == [
        (LABELS[str(c.status)], c.title) for c in report.checks
    ]
    block = cli_block(result.stdout, broken.title)
    assert f"{key}={value}" in block
    assert "fix: " + broken.fix.split(" ")[0] in block
    assert "Traceback" not in result.stdout + result.stderr

    # The web page: the same statuses, the evidence and the fix in the row.
    html = admin_page("alice")
    for check in report.checks:
        assert f'id="check-{check.id}" data-status="{check.status}"' in html
    row = page_row(html, case.broken)
    assert str(escape(broken.title)) in row
    shown = rf"<dt>{re.escape(key.replace('_', ' '))}</dt>\s*<dd>"
    assert re.search(shown + re.escape(str(escape(value))), row), (key, value)
    assert f"<strong>Fix:</strong> {escape(broken.fix)}" in row
    assert ("problems found" in html) is not report.ok


def test_a_step_that_hangs_says_it_timed_out_everywhere(
    faults: Faults, settings: Settings, admin_page: Callable[[str], str]
) -> None:
    """A peer that accepts TCP and never answers TLS: each surface says it timed
    out after its timeout, and nothing waits longer than that."""
    with silent_listener() as port:
        set_url(faults.instance, f"https://127.0.0.1:{port}")
        faults.make_user()
        result = Cli(cli_env(settings))("doctor", "mobile", "alice", "--timeout", "0.5")
        html = admin_page("alice")

    assert result.exit_code == 1
    assert " FAIL  TLS handshake failed on 127.0.0.1" in result.stdout
    assert f"127.0.0.1:{port} timed out after 0.5 s" in result.stdout
    assert "error_kind=timeout" in result.stdout
    row = page_row(html, "tls_handshake")
    assert 'data-status="fail"' in row
    # The page gives every network step 3 seconds.
    assert "timed out after 3 s" in row
    for later in AFTER_TLS:
        assert f'id="check-{later}" data-status="skipped"' in html


def test_an_unknown_user_is_one_line_and_a_field_error(
    instance: Instance, settings: Settings
) -> None:
    """An unknown user: one error line naming them (exit 1), and on the page
    the name next to the field (422), never a report or a traceback."""
    result = Cli(cli_env(settings))("doctor", "mobile", "nobody")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: there is no user called 'nobody'",
        "  fix: `strongroom user list` shows the users",
    ]
    with TestClient(create_web_app(instance), base_url="https://testserver") as web:
        sign_in(web, "admin", ADMIN_PASSWORD)
        page = web.get("/admin/diagnostics", params={"user": "nobody"})
    assert page.status_code == 422
    assert "There is no user called &#39;nobody&#39;." in page.text
    assert "report-title" not in page.text


README = Path(__file__).resolve().parents[3] / "README.md"
KEY = re.compile(r"(?:^|\s)([a-z_]+)=")


def _shape(stdout: str) -> list[tuple[str, str, list[str]]]:
    """Per check: its label, its title with numbers as N, its evidence keys.

    Values (ids, times, pins, ports) differ from run to run and wrap
    differently; what a reader relies on is the lines and what each shows.
    """
    shape: list[tuple[str, str, list[str]]] = []
    for line in stdout.splitlines():
        found = STATUS_LINE.match(line)
        if found:
            shape.append((found.group(1), re.sub(r"\d+", "N", found.group(2)), []))
        elif shape and line.startswith("        ") and "fix:" not in line:
            shape[-1][2].extend(KEY.findall(line))
    return shape


def test_readme_shows_what_the_command_prints(
    instance: Instance, settings: Settings, appserver: Callable[..., RunningServer]
) -> None:
    """The README's healthy run is what `strongroom doctor mobile alice` prints
    after its "From nothing to a phone" steps: the same lines, titles and
    evidence, and the same verdict."""
    if loopback_name() != "localhost":
        pytest.skip("localhost does not resolve to 127.0.0.1 alone on this machine")
    text = README.read_text(encoding="utf-8")
    after = text.split("$ strongroom doctor mobile alice\n", 1)[1]
    block = after.split("\n```", 1)[0].split("\n$ ", 1)[0]

    # The README's steps: Ops holds the feature and View with Mobile Access on
    # Infrastructure/Servers, with one record; alice's phone paired and synced.
    server = appserver(instance, instance_pair(instance))
    set_url(instance, f"https://localhost:{server.port}", pin=_our_pin(instance))
    with instance.db.session() as session:
        actor = operator()
        alice = accounts.create_user(session, actor, "alice", password=WEB_PASSWORD)
        ops = accounts.create_group(session, actor, "Ops")
        accounts.add_member(session, actor, ops, alice)
        accounts.grant_feature(session, actor, "mobile", group=ops)
        servers = vault.create_list(
            session, actor, "Infrastructure/Servers", create_folders=True
        )
        vault.create_record(
            session,
            actor,
            instance.cipher,
            servers,
            vault.RecordInput(title="db1", username="root", password="S3cret-pa55"),
        )
        vault.grant(
            session, actor, servers, vault.Level.VIEW, group=ops, mobile_access=True
        )
        mobile.set_master_password(session, actor, alice, MASTER_PASSWORD)
    phone = HttpPhone(
        server.url,
        instance_pair(instance).cert_pem,
        device_name="",
        device_platform="cli",
    )
    phone.pair(show_qr(instance, "alice"))
    assert phone.sync().status_code == 200

    result = Cli(cli_env(settings))("doctor", "mobile", "alice")

    assert result.exit_code == 0, result.stdout
    assert _shape(result.stdout) == _shape(block)
    assert result.stdout.splitlines()[-1] == block.splitlines()[-1]
    assert block.splitlines()[0] == "Strongroom doctor · mobile:alice"


def _our_pin(instance: Instance) -> str:
    return pin_of_pem(instance_pair(instance).cert_pem)
