"""`diagnose_mobile` against the real App Server over TLS on loopback.

The healthy install, an App Server that cannot reach its database, one that
belongs to another instance, a device whose last sync failed because it
presented a credential that had already been rotated, and a phone revoked by
a pairing-secret regeneration.
"""

from collections.abc import Callable
from pathlib import Path

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.appserver.runner import RunningServer
from strongroom.server.core.config import Settings
from strongroom.server.core.db import Database
from strongroom.server.core.instance import Instance, initialise, operator
from strongroom.server.doctor.report import Status
from strongroom.server.doctor.service import diagnose_mobile
from strongroom.server.mobile import service as mobile
from strongroom.server.settings import service as settings_service
from tests.server.doctor.conftest import (
    FAST,
    MASTER_PASSWORD,
    HttpPhone,
    instance_pair,
    loopback_name,
    set_url,
    show_qr,
)


def _our_id(instance: Instance) -> str:
    with instance.db.session() as session:
        return settings_service.instance_id(session)


def test_healthy_install_passes_everything(
    instance: Instance,
    phone_user: Callable[..., User],
    appserver: Callable[..., RunningServer],
) -> None:
    """A paired, synced phone on a healthy install: every check passes."""
    pair = instance_pair(instance)
    server = appserver(instance, pair)
    host = loopback_name()
    set_url(instance, f"https://{host}:{server.port}")
    phone_user()
    phone = HttpPhone(server.url, pair.cert_pem)
    phone.pair(show_qr(instance, "alice"))
    assert phone.sync().status_code == 200

    report = diagnose_mobile(instance, "alice", timeout=FAST)

    assert {c.id: str(c.status) for c in report.checks} == {
        c.id: "pass" for c in report.checks
    }, report.to_dict()
    assert report.ok
    assert report.get("dns").evidence["addresses"] == ["127.0.0.1"]
    assert report.get("tcp_port").evidence["port"] == server.port
    pin = report.get("pin").evidence
    assert pin["live_pin"] == pin["stored_pin"]
    health = report.get("health").evidence
    assert health["http_status"] == 200
    assert health["body"]["database"] == "ok"
    same = report.get("same_instance").evidence
    assert (
        same["app_server_instance_id"] == same["our_instance_id"] == _our_id(instance)
    )
    devices = report.get("devices").evidence
    assert devices["count"] == devices["active"] == 1
    [device] = devices["devices"]
    assert device["id"] == phone.device_id
    assert device["last_sync_at"] is not None
    assert device["last_failure_reason"] is None
    assert report.get("mobile_lists").evidence["records_that_would_sync"] == 2


def test_appserver_without_database(
    instance: Instance,
    phone_user: Callable[..., User],
    appserver: Callable[..., RunningServer],
    tmp_path: Path,
) -> None:
    """An App Server whose database is unreachable answers 503; health fails with it."""
    cut_off = Instance(
        settings=instance.settings,
        db=Database(f"sqlite:///{tmp_path / 'no-such-dir' / 'strongroom.db'}"),
        cipher=instance.cipher,
    )
    server = appserver(cut_off, instance_pair(instance))
    set_url(instance, f"https://127.0.0.1:{server.port}")
    phone_user()

    report = diagnose_mobile(instance, "alice", timeout=FAST)

    health = report.get("health")
    assert health.status is Status.FAIL
    assert health.evidence["http_status"] == 503
    assert health.evidence["body"]["status"] == "degraded"
    assert health.evidence["body"]["database"].startswith("unreachable")
    assert "cannot reach its database" in (health.fix or "")
    assert report.get("same_instance").status is Status.SKIPPED
    for truthful in [
        "tls_handshake",
        "certificate_name",
        "certificate_validity",
        "pin",
    ]:
        assert report.get(truthful).status is Status.PASS
    cut_off.close()


def test_appserver_of_another_instance(
    instance: Instance,
    phone_user: Callable[..., User],
    appserver: Callable[..., RunningServer],
    tmp_path: Path,
) -> None:
    """An App Server serving another instance's database fails the instance check."""
    other_settings = Settings(data_dir=tmp_path / "other", environment="test")
    initialise(other_settings, admin_name="admin", admin_password="other-admin-pass-1")
    other = Instance.open(other_settings)
    server = appserver(other, instance_pair(instance))
    set_url(instance, f"https://127.0.0.1:{server.port}")
    phone_user()

    report = diagnose_mobile(instance, "alice", timeout=FAST)

    same = report.get("same_instance")
    assert same.status is Status.FAIL
    assert same.title == "App Server belongs to another instance"
    with other.db.session() as session:
        theirs = settings_service.instance_id(session)
    assert same.evidence["app_server_instance_id"] == theirs
    assert same.evidence["our_instance_id"] == _our_id(instance)
    assert theirs in (same.fix or "")
    assert report.get("health").status is Status.PASS
    assert report.get("pin").status is Status.PASS
    other.close()


def test_device_whose_sync_failed_with_a_stale_credential(
    instance: Instance,
    phone_user: Callable[..., User],
    appserver: Callable[..., RunningServer],
) -> None:
    """A replayed, already rotated credential revoked alice's only phone: the
    devices check fails with the reason, and says to pair again."""
    pair = instance_pair(instance)
    server = appserver(instance, pair)
    set_url(instance, f"https://127.0.0.1:{server.port}")
    phone_user()
    phone = HttpPhone(server.url, pair.cert_pem)
    phone.pair(show_qr(instance, "alice"))
    first = phone.credential
    assert phone.sync().status_code == 200
    assert phone.sync().status_code == 200
    stale = phone.sync(credential=first)
    assert stale.status_code == 401

    report = diagnose_mobile(instance, "alice", timeout=FAST)

    check = report.get("devices")
    assert check.status is Status.FAIL
    assert check.title == (
        "None of alice's devices can sync: Alice's phone was revoked for a "
        "replayed credential"
    )
    assert check.evidence["active"] == 0
    [device] = check.evidence["devices"]
    assert device["id"] == phone.device_id
    assert device["status"] == "revoked"
    assert "replayed" in device["last_failure_reason"]
    assert device["last_failure_at"] > device["last_sync_at"]
    assert device["last_failed_event"]["event"] == "device.sync"
    assert device["last_failed_event"]["details"]["code"] == "credential_replayed"
    assert device["last_failed_event"]["outcome"] == "failure"
    assert "already used" in (check.fix or "")
    assert "pair it again from a new QR code" in (check.fix or "")
    assert "mobile qr alice" in (check.fix or "")
    # The rest of the path is fine, and says so; the verdict is a failure.
    assert report.get("health").status is Status.PASS
    assert report.get("qr_current").status is Status.PASS
    assert [c.id for c in report.checks if c.status is Status.FAIL] == ["devices"]
    assert not report.ok


def test_stale_credential_with_another_phone_still_syncing_warns(
    instance: Instance,
    phone_user: Callable[..., User],
    appserver: Callable[..., RunningServer],
) -> None:
    """One phone revoked for a replayed credential while another still syncs:
    the user is not cut off, so the devices check only warns."""
    pair = instance_pair(instance)
    server = appserver(instance, pair)
    set_url(instance, f"https://127.0.0.1:{server.port}")
    phone_user()
    tablet = HttpPhone(server.url, pair.cert_pem, device_name="Tablet")
    tablet.pair(show_qr(instance, "alice"))
    phone = HttpPhone(server.url, pair.cert_pem)
    phone.pair(show_qr(instance, "alice"))
    first = phone.credential
    assert phone.sync().status_code == 200
    assert phone.sync().status_code == 200
    assert phone.sync(credential=first).status_code == 401
    assert tablet.sync().status_code == 200

    report = diagnose_mobile(instance, "alice", timeout=FAST)

    check = report.get("devices")
    assert check.status is Status.WARN
    assert check.title == "Last sync of 1 of alice's devices failed"
    assert check.evidence["active"] == 1
    assert "already used" in (check.fix or "")
    assert report.ok


def test_regenerated_secret_revokes_the_paired_phone(
    instance: Instance,
    phone_user: Callable[..., User],
    appserver: Callable[..., RunningServer],
) -> None:
    """After a regeneration the paired phone is refused as revoked: the QR
    check and the devices check both fail and say to pair from a new code."""
    pair = instance_pair(instance)
    server = appserver(instance, pair)
    set_url(instance, f"https://127.0.0.1:{server.port}")
    phone_user()
    phone = HttpPhone(server.url, pair.cert_pem)
    phone.pair(show_qr(instance, "alice"))
    assert phone.sync().status_code == 200
    with instance.db.session() as session:
        mobile.regenerate_pairing_secret(session, operator(), instance.cipher)
    refused = phone.sync()
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "device_revoked"

    report = diagnose_mobile(instance, "alice", timeout=FAST)

    qr = report.get("qr_current")
    assert qr.status is Status.FAIL
    assert "pairing secret was regenerated" in qr.title
    assert "phones paired before then were revoked" in (qr.fix or "")
    devices = report.get("devices")
    assert devices.status is Status.FAIL
    assert devices.title == (
        "None of alice's devices can sync: Alice's phone was revoked"
    )
    [device] = devices.evidence["devices"]
    assert device["revoked_reason"] == "pairing secret regenerated"
    assert device["last_failed_event"]["details"]["code"] == "device_revoked"
    assert "pair the phone again from a new QR code" in (devices.fix or "")
    assert not report.ok


def test_remotely_wiped_only_phone_fails(
    instance: Instance,
    phone_user: Callable[..., User],
    appserver: Callable[..., RunningServer],
) -> None:
    """An admin wiped alice's only phone and the wipe was delivered: the
    devices check fails, naming who ordered it, and says to pair again."""
    pair = instance_pair(instance)
    server = appserver(instance, pair)
    set_url(instance, f"https://127.0.0.1:{server.port}")
    phone_user()
    phone = HttpPhone(server.url, pair.cert_pem)
    phone.pair(show_qr(instance, "alice"))
    assert phone.sync().status_code == 200
    with instance.db.session() as session:
        mobile.request_wipe(session, operator(), phone.device_id or "")
    assert phone.sync().status_code == 410

    check = diagnose_mobile(instance, "alice", timeout=FAST).get("devices")

    assert check.status is Status.FAIL
    assert check.title == "None of alice's devices can sync: Alice's phone was wiped"
    [device] = check.evidence["devices"]
    assert device["status"] == "wiped"
    assert device["revoked_reason"] in (check.fix or "")
    assert "pair the phone again from a new QR code" in (check.fix or "")


def test_a_phone_paired_again_makes_the_old_failure_history(
    instance: Instance,
    phone_user: Callable[..., User],
    appserver: Callable[..., RunningServer],
) -> None:
    """A device revoked by a password reset fails its next sync, and with no
    other device the check fails; once the user pairs a new phone the old
    failure is history and the check passes."""
    pair = instance_pair(instance)
    server = appserver(instance, pair)
    set_url(instance, f"https://127.0.0.1:{server.port}")
    phone_user()
    old = HttpPhone(server.url, pair.cert_pem)
    old.pair(show_qr(instance, "alice"))
    with instance.db.session() as session:
        user = accounts.find_user(session, "alice")
        mobile.set_master_password(session, operator(), user, MASTER_PASSWORD)
    assert old.sync().status_code == 401
    before = diagnose_mobile(instance, "alice", timeout=FAST).get("devices")
    assert before.status is Status.FAIL
    assert "master password changed" in (before.fix or "")
    assert "pair the phone again from a new QR code" in (before.fix or "")

    new = HttpPhone(server.url, pair.cert_pem)
    new.pair(show_qr(instance, "alice"))
    assert new.sync().status_code == 200

    check = diagnose_mobile(instance, "alice", timeout=FAST).get("devices")
    assert check.status is Status.PASS
    assert check.title == "alice has 1 active device, none failing"
    revoked = next(d for d in check.evidence["devices"] if d["id"] == old.device_id)
    assert revoked["status"] == "revoked"
    assert revoked["last_failure_reason"] is not None
