"""`diagnose_mobile`: each failure provoked for real, the other checks truthful.

The App Server here is a small TLS server presenting a chosen certificate and
answering /health like an App Server would; test_appserver.py runs the real
App Server for the health, instance and healthy cases.
"""

import datetime
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update

from strongroom.crypto.certificates import CertificatePair, make_self_signed
from strongroom.crypto.pins import pin_of_pem
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.core.db import utcnow
from strongroom.server.core.errors import NotFound
from strongroom.server.core.instance import Instance, operator
from strongroom.server.doctor.probe import NetworkProbe
from strongroom.server.doctor.report import Report, Status
from strongroom.server.doctor.service import diagnose_mobile
from strongroom.server.mobile import service as mobile
from strongroom.server.mobile.models import MobileCredential
from strongroom.server.settings import service as settings_service
from strongroom.server.settings.models import SystemSetting
from strongroom.server.vault import service as vault
from tests.server.doctor.conftest import (
    FAST,
    Served,
    expired_pair,
    instance_pair,
    loopback_name,
    set_url,
)

DB_CHECKS = ["account_active", "mobile_feature", "mobile_lists", "master_password"]
NETWORK_AFTER_TLS = [
    "certificate_name",
    "certificate_validity",
    "pin",
    "health",
    "same_instance",
]


def statuses(report: Report) -> dict[str, str]:
    """Each check's status by id."""
    return {check.id: str(check.status) for check in report.checks}


def instance_id(instance: Instance) -> str:
    """Our instance id."""
    with instance.db.session() as session:
        return settings_service.instance_id(session)


@pytest.fixture
def app_server_like(
    instance: Instance, tls_server: Callable[..., Served]
) -> Callable[..., Served]:
    """Serve a certificate with a healthy /health naming our instance; store URL+pin."""

    def start(
        pair: CertificatePair,
        *,
        host: str = "127.0.0.1",
        pin: str | None = None,
        body: dict[str, Any] | None = None,
        status: int = 200,
    ) -> Served:
        answer = body or {
            "status": "ok",
            "database": "ok",
            "instance_id": instance_id(instance),
        }
        served = tls_server(pair, status=status, body=answer)
        set_url(instance, served.url(host), pin=pin or pin_of_pem(pair.cert_pem))
        return served

    return start


def test_order_of_checks(instance: Instance, phone_user: Callable[..., User]) -> None:
    """Checks come in the order a phone depends on them."""
    phone_user()
    report = diagnose_mobile(instance, "alice", timeout=FAST)
    assert [check.id for check in report.checks] == [
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
    assert report.subject == "mobile:alice"


def test_unknown_user_is_not_found(instance: Instance) -> None:
    """An unknown user raises NotFound naming them, not a report."""
    with pytest.raises(NotFound, match="no user called 'nobody'"):
        diagnose_mobile(instance, "nobody", timeout=FAST)


def test_without_mobile_feature(
    instance: Instance,
    phone_user: Callable[..., User],
    app_server_like: Callable[..., Served],
) -> None:
    """Without the feature only that check fails; lists still report their flags."""
    app_server_like(instance_pair(instance))
    phone_user(feature=False)
    report = diagnose_mobile(instance, "alice", timeout=FAST)

    feature = report.get("mobile_feature")
    assert feature.status is Status.FAIL
    assert feature.evidence == {"granted": False, "direct": False, "via_groups": []}
    assert "feature grant mobile --user alice" in (feature.fix or "")
    lists = report.get("mobile_lists")
    assert lists.status is Status.PASS
    assert lists.evidence["records_on_mobile_lists"] == 2
    assert lists.evidence["records_that_would_sync"] == 0
    # The title does not promise records the missing feature keeps off the phone.
    assert (
        lists.title
        == "Mobile Access on 1 of 1 lists, 2 records on them, 0 would sync now"
    )
    failed = [c.id for c in report.checks if c.status is Status.FAIL]
    assert failed == ["mobile_feature"]
    assert not report.ok


def test_feature_via_group_is_evidence(
    instance: Instance, phone_user: Callable[..., User]
) -> None:
    """A feature held through a group names the group."""
    phone_user()
    check = diagnose_mobile(instance, "alice", timeout=FAST).get("mobile_feature")
    assert check.status is Status.PASS
    assert check.evidence == {
        "granted": True,
        "direct": False,
        "via_groups": ["alice-team"],
    }


def test_all_lists_without_mobile_access(
    instance: Instance,
    phone_user: Callable[..., User],
    app_server_like: Callable[..., Served],
) -> None:
    """Permissions whose flags are all off fail the lists check, naming the lists."""
    app_server_like(instance_pair(instance))
    phone_user(mobile_access=False)
    report = diagnose_mobile(instance, "alice", timeout=FAST)

    lists = report.get("mobile_lists")
    assert lists.status is Status.FAIL
    assert (
        lists.title
        == "Mobile Access is off on the only list alice holds a permission on"
    )
    assert lists.evidence["lists_with_permission"] == 1
    assert lists.evidence["lists_with_mobile_access"] == 0
    assert lists.evidence["lists_without_mobile_access"] == ["Ops/alice-servers"]
    assert lists.evidence["records_that_would_sync"] == 0
    assert "Ops/alice-servers" in (lists.fix or "")
    assert "Mobile Access on" in (lists.fix or "")
    assert report.get("mobile_feature").status is Status.PASS
    assert [c.id for c in report.checks if c.status is Status.FAIL] == ["mobile_lists"]


def test_group_grant_with_flag_counts(
    instance: Instance, phone_user: Callable[..., User]
) -> None:
    """A flagged group grant makes a list mobile though the direct grant is off."""
    user = phone_user(mobile_access=False, records=3)
    with instance.db.session() as session:
        plist = vault.find_list(session, "Ops/alice-servers")
        team = accounts.find_group(session, "alice-team")
        vault.grant(
            session, operator(), plist, vault.Level.VIEW, group=team, mobile_access=True
        )
    lists = diagnose_mobile(instance, user.login_name, timeout=FAST).get("mobile_lists")
    assert lists.status is Status.PASS
    assert lists.evidence["mobile_lists"] == ["Ops/alice-servers"]
    assert lists.evidence["records_that_would_sync"] == 3


def test_without_master_password(
    instance: Instance, phone_user: Callable[..., User]
) -> None:
    """No credential row: the password check fails and the QR check is skipped."""
    phone_user(master_password=False)
    report = diagnose_mobile(instance, "alice", timeout=FAST)
    check = report.get("master_password")
    assert check.status is Status.FAIL
    assert check.evidence["set"] is False
    assert "mobile set-password alice" in (check.fix or "")
    assert report.get("qr_current").status is Status.SKIPPED
    assert report.get("mobile_feature").status is Status.PASS


def test_cleared_master_password(
    instance: Instance, phone_user: Callable[..., User]
) -> None:
    """A cleared password (hash NULL, generation moved on) fails the same way."""
    user = phone_user()
    with instance.db.session() as session:
        mobile.clear_master_password(session, operator(), session.merge(user))
    check = diagnose_mobile(instance, "alice", timeout=FAST).get("master_password")
    assert check.status is Status.FAIL
    assert check.evidence["set"] is False
    assert check.evidence["generation"] == 2


def test_locked_out_user_is_told_how_to_lift_it(
    instance: Instance, phone_user: Callable[..., User]
) -> None:
    """A mobile lock-out warns and names the command that lifts it, which works."""
    user = phone_user()
    until = utcnow() + datetime.timedelta(minutes=10)
    with instance.db.session() as session:
        session.execute(
            update(MobileCredential)
            .where(MobileCredential.user_id == user.id)
            .values(locked_until=until)
        )

    check = diagnose_mobile(instance, "alice", timeout=FAST).get("master_password")
    assert check.status is Status.WARN
    assert "locked out" in check.title
    assert "`strongroom mobile unlock alice`" in (check.fix or "")

    with instance.db.session() as session:
        mobile.lift_lockout(session, operator(), session.merge(user))
    after = diagnose_mobile(instance, "alice", timeout=FAST).get("master_password")
    assert after.status is Status.PASS


def test_qr_older_than_secret_regeneration(
    instance: Instance, phone_user: Callable[..., User]
) -> None:
    """A QR shown before the pairing secret was regenerated is reported dead."""
    user = phone_user()
    with instance.db.session() as session:
        mobile.pairing_payload(
            session, operator(), instance.cipher, session.merge(user)
        )
    before = diagnose_mobile(instance, "alice", timeout=FAST).get("qr_current")
    assert before.status is Status.PASS

    with instance.db.session() as session:
        mobile.regenerate_pairing_secret(session, operator(), instance.cipher)
    check = diagnose_mobile(instance, "alice", timeout=FAST).get("qr_current")
    assert check.status is Status.FAIL
    assert "pairing secret was regenerated" in check.title
    assert check.evidence["valid_since"] == check.evidence["pairing_secret_changed_at"]
    assert check.evidence["qr_issued_at"] < check.evidence["valid_since"]
    assert "mobile qr alice" in (check.fix or "")

    # Showing a fresh code makes it current again.
    with instance.db.session() as session:
        mobile.pairing_payload(
            session, operator(), instance.cipher, session.merge(user)
        )
    after = diagnose_mobile(instance, "alice", timeout=FAST).get("qr_current")
    assert after.status is Status.PASS


def test_qr_older_than_url_change(
    instance: Instance, phone_user: Callable[..., User]
) -> None:
    """Changing the App Server URL kills QR codes shown before it."""
    phone_user()
    set_url(instance, "https://vault.example.com:9443")
    check = diagnose_mobile(instance, "alice", timeout=0.2).get("qr_current")
    assert check.status is Status.FAIL
    assert "App Server URL changed" in check.title
    assert check.evidence["valid_since"] == check.evidence["app_server_url_changed_at"]


def test_disabled_account(instance: Instance, phone_user: Callable[..., User]) -> None:
    """A disabled account fails the first check, with the command that enables it."""
    user = phone_user()
    with instance.db.session() as session:
        accounts.set_active(session, operator(), session.merge(user), False)
    check = diagnose_mobile(instance, "alice", timeout=FAST).get("account_active")
    assert check.status is Status.FAIL
    assert check.evidence["active"] is False
    assert "strongroom user enable alice" in (check.fix or "")


# --- the network path -------------------------------------------------------------


def test_unresolvable_host(instance: Instance, phone_user: Callable[..., User]) -> None:
    """A host under .invalid fails DNS; later network steps are skipped with why."""
    phone_user()
    set_url(instance, "https://vault.strongroom.invalid:9443")
    report = diagnose_mobile(instance, "alice", timeout=FAST)

    dns = report.get("dns")
    assert dns.status is Status.FAIL
    assert dns.evidence["host"] == "vault.strongroom.invalid"
    assert dns.evidence["error_kind"] == "dns"
    assert "does not resolve" in dns.evidence["error"]
    for later in ["tcp_port", "tls_handshake", *NETWORK_AFTER_TLS]:
        assert report.get(later).status is Status.SKIPPED
        assert report.get(later).evidence["reason"]
    assert report.get("app_server_url").status is Status.PASS
    for earlier in DB_CHECKS:
        assert report.get(earlier).status is Status.PASS


def test_nothing_listens(
    instance: Instance, phone_user: Callable[..., User], closed_port: int
) -> None:
    """A port where nothing listens fails the TCP step with the address and port."""
    phone_user()
    set_url(instance, f"https://127.0.0.1:{closed_port}")
    report = diagnose_mobile(instance, "alice", timeout=FAST)

    assert report.get("dns").status is Status.PASS
    assert report.get("dns").evidence["addresses"] == ["127.0.0.1"]
    tcp = report.get("tcp_port")
    assert tcp.status is Status.FAIL
    assert tcp.evidence["port"] == closed_port
    [row] = tcp.evidence["addresses"]
    assert row["address"] == "127.0.0.1"
    assert row["open"] is False
    assert row["error_kind"] == "refused"
    assert "strongroom appserver" in (tcp.fix or "")
    assert report.get("tls_handshake").status is Status.SKIPPED
    assert (
        report.get("tls_handshake").evidence["reason"]
        == "no address accepted a TCP connection"
    )


def test_hanging_peer_times_out(
    instance: Instance, phone_user: Callable[..., User], silent_port: int
) -> None:
    """A peer that accepts and never answers TLS: the handshake says it timed out."""
    phone_user()
    set_url(instance, f"https://127.0.0.1:{silent_port}")
    report = diagnose_mobile(instance, "alice", timeout=0.5)

    assert report.get("tcp_port").status is Status.PASS
    tls = report.get("tls_handshake")
    assert tls.status is Status.FAIL
    assert tls.evidence["error_kind"] == "timeout"
    assert "timed out after 0.5 s" in tls.evidence["error"]
    assert "timed out" in (tls.fix or "")
    for later in NETWORK_AFTER_TLS:
        assert report.get(later).status is Status.SKIPPED


def test_different_key_than_pinned(
    instance: Instance,
    phone_user: Callable[..., User],
    app_server_like: Callable[..., Served],
) -> None:
    """A server presenting another key fails the pin check with both pins shown."""
    impostor = make_self_signed(["localhost", "127.0.0.1"])
    stored = pin_of_pem(instance_pair(instance).cert_pem)
    app_server_like(impostor, pin=stored)
    phone_user()
    report = diagnose_mobile(instance, "alice", timeout=FAST)

    pin = report.get("pin")
    assert pin.status is Status.FAIL
    assert pin.evidence["stored_pin"] == stored
    assert pin.evidence["live_pin"] == pin_of_pem(impostor.cert_pem)
    assert "query-pin" in (pin.fix or "")
    for truthful in ["tls_handshake", "certificate_name", "certificate_validity"]:
        assert report.get(truthful).status is Status.PASS
    assert report.get("health").status is Status.PASS


def test_certificate_for_another_host(
    instance: Instance,
    phone_user: Callable[..., User],
    app_server_like: Callable[..., Served],
) -> None:
    """A certificate naming another host fails the name check, listing its names."""
    other = make_self_signed(["vault.other.example"])
    app_server_like(other)
    phone_user()
    report = diagnose_mobile(instance, "alice", timeout=FAST)

    name = report.get("certificate_name")
    assert name.status is Status.FAIL
    assert name.evidence["host"] == "127.0.0.1"
    assert name.evidence["names"] == ["vault.other.example"]
    assert "vault.other.example" in (name.fix or "")
    assert report.get("certificate_validity").status is Status.PASS
    assert report.get("pin").status is Status.PASS


def test_expired_certificate(
    instance: Instance,
    phone_user: Callable[..., User],
    app_server_like: Callable[..., Served],
) -> None:
    """An expired certificate fails the validity check with its dates."""
    pair = expired_pair()
    app_server_like(pair)
    phone_user()
    report = diagnose_mobile(instance, "alice", timeout=FAST)

    validity = report.get("certificate_validity")
    assert validity.status is Status.FAIL
    assert validity.evidence["days_left"] < 0
    assert validity.evidence["not_after"] < utcnow().isoformat()
    assert "expired on" in (validity.fix or "")
    assert report.get("certificate_name").status is Status.PASS
    assert report.get("pin").status is Status.PASS


def test_certificate_expiring_soon_warns(
    instance: Instance,
    phone_user: Callable[..., User],
    app_server_like: Callable[..., Served],
) -> None:
    """A certificate with under 30 days left warns without failing."""
    app_server_like(make_self_signed(["127.0.0.1"], days=10))
    phone_user()
    validity = diagnose_mobile(instance, "alice", timeout=FAST).get(
        "certificate_validity"
    )
    assert validity.status is Status.WARN
    assert validity.evidence["days_left"] in (9, 10)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("vault.example.com:9443", "https:// URL"),
        ("https://vault.example.com:70000", "port"),
        (12345, "https:// URL"),
    ],
)
def test_malformed_url_in_settings(
    instance: Instance, phone_user: Callable[..., User], raw: Any, error: str
) -> None:
    """A URL written past validation fails its check; the network steps skip."""
    phone_user()
    with instance.db.session() as session:
        session.execute(
            update(SystemSetting)
            .where(SystemSetting.key == "app_server_url")
            .values(value=raw)
        )
    report = diagnose_mobile(instance, "alice", timeout=FAST)
    url = report.get("app_server_url")
    assert url.status is Status.FAIL
    assert url.evidence["url"] == raw
    assert error in url.evidence["error"]
    assert "settings set app_server_url" in (url.fix or "")
    assert report.get("dns").status is Status.SKIPPED


def test_missing_url(instance: Instance, phone_user: Callable[..., User]) -> None:
    """An empty App Server URL fails with the command that sets it."""
    phone_user()
    set_url(instance, "")
    url = diagnose_mobile(instance, "alice", timeout=FAST).get("app_server_url")
    assert url.status is Status.FAIL
    assert url.title == "No App Server URL is set"


def test_health_answer_without_database(
    instance: Instance,
    phone_user: Callable[..., User],
    app_server_like: Callable[..., Served],
) -> None:
    """A 503 health answer fails with its status and body as evidence."""
    body = {"status": "degraded", "instance_id": None, "database": "db down"}
    app_server_like(instance_pair(instance), status=503, body=body)
    phone_user()
    report = diagnose_mobile(instance, "alice", timeout=FAST)
    health = report.get("health")
    assert health.status is Status.FAIL
    assert health.evidence["http_status"] == 503
    assert health.evidence["body"] == body
    assert "db down" in (health.fix or "")
    assert report.get("same_instance").status is Status.SKIPPED


def test_localhost_name_resolves(
    instance: Instance,
    phone_user: Callable[..., User],
    app_server_like: Callable[..., Served],
) -> None:
    """With a host name, DNS lists its addresses and every one is checked."""
    host = loopback_name()
    served = app_server_like(instance_pair(instance), host=host)
    phone_user()
    report = diagnose_mobile(instance, "alice", timeout=FAST)
    assert report.get("dns").evidence["addresses"] == ["127.0.0.1"]
    assert report.get("tcp_port").evidence["addresses"][0]["open"] is True
    assert report.get("certificate_name").evidence["host"] == host
    assert (
        report.get("health").evidence["url"] == f"https://{host}:{served.port}/health"
    )


def test_health_that_never_answers_times_out(
    instance: Instance,
    phone_user: Callable[..., User],
    tls_server: Callable[..., Served],
) -> None:
    """A server that completes TLS and never answers HTTP: health says timed out."""
    pair = instance_pair(instance)
    served = tls_server(pair, hang=True)
    set_url(instance, served.url())
    phone_user()
    report = diagnose_mobile(instance, "alice", timeout=0.5)
    health = report.get("health")
    assert health.status is Status.FAIL
    assert health.evidence["error_kind"] == "timeout"
    assert "did not answer GET /health within 0.5 s" in health.evidence["error"]
    assert report.get("pin").status is Status.PASS
    assert report.get("same_instance").status is Status.SKIPPED


class OneMoreAddress(NetworkProbe):
    """The real network, except that DNS also returns a second loopback address
    where nothing listens (as a name with a dead second node would)."""

    def resolve(self, host: str, port: int, *, timeout: float) -> list[str]:
        return [*super().resolve(host, port, timeout=timeout), "127.0.0.2"]


def test_every_address_is_checked(
    instance: Instance,
    phone_user: Callable[..., User],
    app_server_like: Callable[..., Served],
) -> None:
    """The TCP step tries every address; the dead one fails it, the live one goes on."""
    host = loopback_name()
    served = app_server_like(instance_pair(instance), host=host)
    phone_user()
    report = diagnose_mobile(instance, "alice", timeout=FAST, probe=OneMoreAddress())

    assert report.get("dns").evidence["addresses"] == ["127.0.0.1", "127.0.0.2"]
    tcp = report.get("tcp_port")
    assert tcp.status is Status.FAIL
    assert tcp.title == f"TCP port {served.port} not reachable on 127.0.0.2"
    assert [row["open"] for row in tcp.evidence["addresses"]] == [True, False]
    assert report.get("tls_handshake").status is Status.PASS
    assert report.get("tls_handshake").evidence["address"] == "127.0.0.1"
    assert report.get("health").status is Status.PASS


def test_dns_that_hangs_times_out(
    instance: Instance, phone_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resolver that never answers: the DNS step gives up in time and says so."""
    stuck = threading.Event()
    real = socket.getaddrinfo

    def hanging(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "vault.example.com":
            stuck.wait(10)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    set_url(instance, "https://vault.example.com:9443")
    phone_user()
    started = time.monotonic()
    try:
        report = diagnose_mobile(instance, "alice", timeout=0.5)
    finally:
        stuck.set()
    assert time.monotonic() - started < 5
    dns = report.get("dns")
    assert dns.status is Status.FAIL
    assert dns.evidence["error_kind"] == "timeout"
    assert (
        dns.evidence["error"]
        == "the DNS lookup of vault.example.com timed out after 0.5 s"
    )
    assert report.get("tcp_port").status is Status.SKIPPED


def test_report_is_plain_json(
    instance: Instance, phone_user: Callable[..., User], closed_port: int
) -> None:
    """The document serialises without help: every evidence value is JSON."""
    set_url(instance, f"https://127.0.0.1:{closed_port}")
    phone_user()
    document = diagnose_mobile(instance, "alice", timeout=FAST).to_dict()
    assert json.loads(json.dumps(document)) == document


def test_locked_out_user_warns(
    instance: Instance, phone_user: Callable[..., User]
) -> None:
    """A user locked out after wrong master passwords gets a warning with the time."""
    user = phone_user()
    until = utcnow() + datetime.timedelta(minutes=15)
    with instance.db.session() as session:
        credential = session.get(MobileCredential, user.id)
        assert credential is not None
        credential.failed_attempts = 5
        credential.locked_until = until
    check = diagnose_mobile(instance, "alice", timeout=FAST).get("master_password")
    assert check.status is Status.WARN
    assert check.evidence["locked_until"] == until.isoformat()
    assert until.strftime("%Y-%m-%d %H:%M:%S UTC") in (check.fix or "")
