"""`doctor server`: the installation's own checks, each failure provoked for real."""

import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from strongroom.crypto.certificates import make_self_signed
from strongroom.server.core.config import Settings
from strongroom.server.core.db import utcnow
from strongroom.server.core.instance import Instance
from strongroom.server.doctor.report import Report, Status
from strongroom.server.doctor.server_checks import clock_verdict
from strongroom.server.doctor.service import diagnose_installation, diagnose_server
from strongroom.server.settings.models import SystemSetting
from tests.server.doctor.conftest import FAST, set_url

ORDER = [
    "database",
    "schema",
    "instance_key",
    "pairing_secret",
    "certificate",
    "certificate_host",
    "clock",
]


def by_id(report: Report) -> dict[str, Status]:
    """Each check's status by id."""
    return {check.id: check.status for check in report.checks}


def test_healthy_installation(instance: Instance) -> None:
    """A fresh instance passes every server check, with evidence to show for it."""
    report = diagnose_server(instance, timeout=FAST)
    assert [c.id for c in report.checks] == ORDER
    assert set(by_id(report).values()) == {Status.PASS}, report.to_dict()
    assert report.ok
    assert report.subject == "server"

    assert report.get("database").evidence["latency_ms"] >= 0
    assert (
        report.get("schema").evidence["current"]
        == report.get("schema").evidence["expected"]
    )
    assert report.get("instance_key").evidence["mode"] == "0600"
    assert report.get("pairing_secret").evidence["generation"] == 1
    cert = report.get("certificate")
    assert cert.evidence["names"] == ["localhost", "127.0.0.1"]
    assert cert.evidence["days_left"] > 800
    assert cert.evidence["pin"] == cert.evidence["stored_pin"]
    assert report.get("certificate_host").evidence["host"] == "localhost"
    assert abs(report.get("clock").evidence["skew_seconds"]) <= 5


def test_key_file_readable_by_others(settings: Settings, instance: Instance) -> None:
    """A key file others may read fails the key check; the rest still runs."""
    settings.key_file.chmod(0o644)
    report = diagnose_installation(settings, timeout=FAST)
    key = report.get("instance_key")
    assert key.status is Status.FAIL
    assert key.evidence["mode"] == "0644"
    assert f"chmod 600 {settings.key_file}" in (key.fix or "")
    assert report.get("database").status is Status.PASS
    assert report.get("schema").status is Status.PASS
    # Without a usable key the secret cannot be opened, and says why.
    assert report.get("pairing_secret").status is Status.SKIPPED


def test_key_file_missing(settings: Settings, instance: Instance) -> None:
    """A missing key file fails the key check with the restore advice."""
    settings.key_file.unlink()
    key = diagnose_installation(settings, timeout=FAST).get("instance_key")
    assert key.status is Status.FAIL
    assert key.title == "Instance key file is missing"
    assert key.evidence["path"] == str(settings.key_file)


def test_wrong_instance_key(settings: Settings, instance: Instance) -> None:
    """A key that does not open this database's data keys fails the secret check."""
    from strongroom.server.core.keys import InstanceKeyring

    InstanceKeyring.generate().save(settings.key_file)
    report = diagnose_installation(settings, timeout=FAST)
    assert report.get("instance_key").status is Status.PASS
    secret = report.get("pairing_secret")
    assert secret.status is Status.FAIL
    assert "instance key" in secret.evidence["error"]
    assert secret.evidence["set"] is True


def test_pairing_secret_not_set(instance: Instance) -> None:
    """An installation without a pairing secret (no QR code can be made) fails
    that check, says how to make one, and every other check still passes."""
    with instance.db.session() as session:
        session.execute(
            sa.delete(SystemSetting).where(SystemSetting.key == "pairing_secret")
        )
    report = diagnose_server(instance, timeout=FAST)
    secret = report.get("pairing_secret")
    assert secret.status is Status.FAIL
    assert secret.title == "Pairing secret is not set"
    assert secret.evidence == {"set": False}
    assert "`strongroom mobile regenerate-pairing-secret`" in (secret.fix or "")
    assert not report.ok
    others = {i: s for i, s in by_id(report).items() if i != "pairing_secret"}
    assert set(others.values()) == {Status.PASS}


def _write_cert(settings: Settings, names: list[str], **kwargs: object) -> None:
    pair = make_self_signed(names, **kwargs)  # type: ignore[arg-type]
    settings.cert_file.write_bytes(pair.cert_pem)


@pytest.mark.parametrize(
    ("days", "not_before_days_ago", "status", "title"),
    [
        (20, 1, Status.WARN, "expires in"),
        (10, 30, Status.FAIL, "expired on"),
        (400, -2, Status.FAIL, "not valid yet"),
    ],
)
def test_certificate_validity(
    settings: Settings,
    instance: Instance,
    days: int,
    not_before_days_ago: int,
    status: Status,
    title: str,
) -> None:
    """Certificates expiring within 30 days warn; expired or future ones fail."""
    start = utcnow() - datetime.timedelta(days=not_before_days_ago)
    _write_cert(settings, ["localhost"], days=days, not_before=start)
    cert = diagnose_server(instance, timeout=FAST).get("certificate")
    assert cert.status is status
    assert title in cert.title
    assert cert.fix


def test_certificate_file_missing(settings: Settings, instance: Instance) -> None:
    """No certificate file fails its check and skips the host check."""
    settings.cert_file.unlink()
    report = diagnose_server(instance, timeout=FAST)
    assert report.get("certificate").status is Status.FAIL
    assert report.get("certificate_host").status is Status.SKIPPED


def test_url_host_not_in_certificate(instance: Instance) -> None:
    """An App Server URL whose host the certificate does not name fails."""
    set_url(instance, "https://vault.example.com:9443")
    check = diagnose_server(instance, timeout=FAST).get("certificate_host")
    assert check.status is Status.FAIL
    assert check.evidence["host"] == "vault.example.com"
    assert check.evidence["names"] == ["localhost", "127.0.0.1"]


def test_replaced_certificate_warns_about_pin(
    settings: Settings, instance: Instance
) -> None:
    """A certificate file whose key is not the pinned one warns."""
    _write_cert(settings, ["localhost", "127.0.0.1"])
    cert = diagnose_server(instance, timeout=FAST).get("certificate")
    assert cert.status is Status.WARN
    assert cert.evidence["pin"] != cert.evidence["stored_pin"]
    assert "query-pin" in (cert.fix or "")


def test_schema_behind(instance: Instance) -> None:
    """A database missing migrations fails the schema check with the upgrade hint."""
    engine = instance.db.engine
    with engine.begin() as conn:
        saved = [
            row[0]
            for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        ]
        conn.execute(sa.text("DELETE FROM alembic_version"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0001')"))
    try:
        check = diagnose_server(instance, timeout=FAST).get("schema")
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM alembic_version"))
            for version in saved:
                conn.execute(
                    sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                    {"v": version},
                )
    assert check.status is Status.FAIL
    assert check.title == "Database schema is behind"
    assert check.evidence["current"] == ["0001"]
    assert "strongroom db upgrade" in (check.fix or "")


def test_database_refuses(tmp_path: Path, closed_port: int) -> None:
    """A database that refuses connections fails; its dependants are skipped."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"postgresql://postgres@127.0.0.1:{closed_port}/x",
        environment="test",
    )
    report = diagnose_installation(settings, timeout=FAST)
    db = report.get("database")
    assert db.status is Status.FAIL
    assert db.evidence["dialect"] == "postgresql"
    assert "did not answer" in db.evidence["error"]
    for later in ["schema", "pairing_secret", "certificate_host", "clock"]:
        assert report.get(later).status is Status.SKIPPED
    assert not report.ok


def test_database_that_hangs(tmp_path: Path, silent_port: int) -> None:
    """A database host that accepts and never answers times out instead of hanging."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"postgresql://postgres@127.0.0.1:{silent_port}/x",
        environment="test",
    )
    report = diagnose_installation(settings, timeout=0.5)
    db = report.get("database")
    assert db.status is Status.FAIL
    assert db.evidence["error"] == "no answer within 0.5 s"


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    """A data directory without a database fails instead of making an empty one."""
    settings = Settings(data_dir=tmp_path, environment="test")
    report = diagnose_installation(settings, timeout=FAST)
    assert report.get("database").title == "Database file is missing"
    assert not (tmp_path / "strongroom.db").exists()


@pytest.mark.parametrize(
    ("skew", "status"),
    [(0.0, Status.PASS), (4.0, Status.PASS), (-7.0, Status.WARN), (600.0, Status.FAIL)],
)
def test_clock_verdict(skew: float, status: Status) -> None:
    """Skew within 5 s passes, above warns, above 5 minutes fails."""
    ours = utcnow()
    check = clock_verdict(ours + datetime.timedelta(seconds=skew), ours)
    assert check.status is status
    assert check.evidence["skew_seconds"] == skew
