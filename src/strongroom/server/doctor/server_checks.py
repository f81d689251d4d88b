"""The checks of `doctor server`: the installation itself.

Check ids and their evidence keys:

    database             dialect, url (password hidden), latency_ms (or error)
    schema               current, expected
    instance_key         source, path, mode, owner_uid, process_uid, key_id (or error)
    pairing_secret       set, generation, changed_at (or error)
    certificate          path, subject, names, not_before, not_after, days_left,
                         pin, stored_pin
    certificate_host     url, host, names
    clock                server_time, database_time, skew_seconds

The database steps run with a timeout in a helper thread, so a database that
never answers makes this report say so instead of hanging.
"""

import datetime
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import make_url

from strongroom.crypto.errors import CryptoError
from strongroom.server.core.config import Settings
from strongroom.server.core.db import Database, utcnow
from strongroom.server.core.errors import StrongroomError
from strongroom.server.core.keys import FieldCipher, InstanceKeyring
from strongroom.server.core.schema import current_revisions, head_revisions
from strongroom.server.doctor.certs import CertificateInfo, inspect_pem
from strongroom.server.doctor.checks import iso
from strongroom.server.doctor.probe import ProbeFailed, parse_target
from strongroom.server.doctor.report import Check, Status
from strongroom.server.settings import service as settings_service

EXPIRY_WARNING_DAYS = 30
CLOCK_WARN_SECONDS = 5.0
CLOCK_FAIL_SECONDS = 300.0

T = TypeVar("T")


class _TimedOut(Exception):
    """A database step did not finish within its timeout."""


def within(timeout: float, work: Callable[[], T]) -> T:
    """Run `work` in a helper thread and give up after `timeout` seconds."""
    result: list[T] = []
    errors: list[BaseException] = []
    finished = threading.Event()

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed back to the caller below
            errors.append(exc)
        finally:
            finished.set()

    # A daemon thread: a driver blocked on a dead host cannot be cancelled,
    # and must not keep the process alive once the report is printed.
    threading.Thread(target=run, name="doctor-db", daemon=True).start()
    if not finished.wait(timeout):
        raise _TimedOut(f"no answer within {timeout:g} s")
    if errors:
        raise errors[0]
    return result[0]


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, StrongroomError):
        return exc.message
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@dataclass
class ServerState:
    """What earlier server checks learned, for the checks after them."""

    db_ok: bool = False
    stored: dict[str, Any] | None = None


def check_database(db: Database, timeout: float, state: ServerState) -> Check:
    """The database answers a trivial query; its round trip is the latency."""
    # TODO: a PostgreSQL URL naming several hosts (libpq's host=a,b) is checked
    # as one connection to whichever host the driver picks, not host by host.
    url = make_url(db.url).render_as_string(hide_password=True)
    evidence: dict[str, Any] = {"dialect": db.engine.dialect.name, "url": url}
    sqlite_file = make_url(db.url).database if db.is_sqlite else None
    if sqlite_file and sqlite_file != ":memory:" and not Path(sqlite_file).exists():
        # Connecting would create an empty file and hide that the data is gone.
        evidence["error"] = f"there is no database file at {sqlite_file}"
        return Check(
            "database",
            "Database file is missing",
            Status.FAIL,
            evidence,
            fix="Check --data-dir / STRONGROOM_DATA_DIR, or restore the database "
            "from your backup.",
        )
    try:
        started = time.monotonic()
        within(timeout, db.ping)
        evidence["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    except Exception as exc:
        evidence["error"] = _error_text(exc)
        return Check(
            "database",
            "Database does not answer",
            Status.FAIL,
            evidence,
            fix="Start the database, or correct STRONGROOM_DATABASE_URL.",
        )
    state.db_ok = True
    return Check(
        "database",
        f"Database reachable ({evidence['latency_ms']} ms)",
        Status.PASS,
        evidence,
    )


def check_schema(db: Database, timeout: float) -> Check:
    """The database is at every migration head this version ships."""
    expected = sorted(head_revisions())
    try:
        current = sorted(within(timeout, lambda: current_revisions(db)))
    except Exception as exc:
        return Check(
            "schema",
            "Database schema could not be read",
            Status.FAIL,
            {"expected": expected, "error": _error_text(exc)},
            fix="Check the database answers, then run `strongroom db upgrade`.",
        )
    evidence = {"current": current, "expected": expected}
    if current == expected:
        return Check("schema", "Database schema is up to date", Status.PASS, evidence)
    return Check(
        "schema",
        "Database schema is behind" if current else "Database schema is empty",
        Status.FAIL,
        evidence,
        fix="Back the database up, then run `strongroom db upgrade`.",
    )


def check_instance_key(settings: Settings, keyring: InstanceKeyring | None) -> Check:
    """The instance key is present and only its owner may read the file."""
    if settings.instance_key is not None:
        evidence: dict[str, Any] = {"source": "environment"}
        if keyring is not None:
            evidence["key_id"] = keyring.current_id
        return Check(
            "instance_key",
            "Instance key comes from STRONGROOM_INSTANCE_KEY",
            Status.PASS if keyring is not None else Status.FAIL,
            evidence,
            None if keyring is not None else "Set the key `strongroom init` wrote.",
        )
    return _key_file(settings.key_file, keyring)


def _key_file(path: Path, keyring: InstanceKeyring | None) -> Check:
    evidence: dict[str, Any] = {"source": "file", "path": str(path)}
    if not path.exists():
        return Check(
            "instance_key",
            "Instance key file is missing",
            Status.FAIL,
            evidence,
            fix="Restore instance.key from your backup (or set "
            "STRONGROOM_INSTANCE_KEY); without it no secret can be read.",
        )
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    evidence.update(mode=f"{mode:04o}", owner_uid=info.st_uid, process_uid=os.getuid())
    if mode & 0o077:
        # A key anyone else on the machine can read protects nothing.
        return Check(
            "instance_key",
            f"Instance key file is readable by others (mode {mode:04o})",
            Status.FAIL,
            evidence,
            fix=f"Run `chmod 600 {path}`.",
        )
    if keyring is None:
        return Check(
            "instance_key",
            "Instance key file cannot be read",
            Status.FAIL,
            evidence,
            fix="Restore instance.key from your backup; the file is damaged.",
        )
    evidence["key_id"] = keyring.current_id
    if info.st_uid != os.getuid():
        return Check(
            "instance_key",
            "Instance key file belongs to another user",
            Status.WARN,
            evidence,
            fix=f"Give the file to the account the server runs as (`chown` {path}).",
        )
    return Check(
        "instance_key",
        f"Instance key present, readable only by its owner (mode {mode:04o})",
        Status.PASS,
        evidence,
    )


def check_pairing_secret(
    db: Database, cipher: FieldCipher | None, timeout: float
) -> Check:
    """An App Pairing Secret is set and this instance key opens it."""
    if cipher is None:
        return Check(
            "pairing_secret",
            "Pairing secret",
            Status.SKIPPED,
            {"reason": "the instance key could not be loaded"},
        )

    def read() -> tuple[int, datetime.datetime | None] | None:
        with db.session() as session:
            if not settings_service.has_pairing_secret(session):
                return None
            _secret, generation = settings_service.pairing_secret(session, cipher)
            changed = settings_service.changed_at(
                session, settings_service.PAIRING_SECRET_CHANGED_AT
            )
            return generation, changed

    fix = (
        "Run `strongroom mobile regenerate-pairing-secret` (every QR code made "
        "before stops pairing and every paired phone must pair again)."
    )
    try:
        found = within(timeout, read)
    except (StrongroomError, CryptoError, _TimedOut) as exc:
        return Check(
            "pairing_secret",
            "Pairing secret is not usable",
            Status.FAIL,
            {"set": True, "error": _error_text(exc)},
            fix=fix,
        )
    if found is None:
        # No secret stored at all: no QR code can be made, no phone can pair.
        return Check(
            "pairing_secret",
            "Pairing secret is not set",
            Status.FAIL,
            {"set": False},
            fix=fix,
        )
    generation, changed = found
    return Check(
        "pairing_secret",
        f"Pairing secret set (generation {generation})",
        Status.PASS,
        {"set": True, "generation": generation, "changed_at": iso(changed)},
    )


def _stored_settings(db: Database, timeout: float) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with db.session() as session:
            return {
                "app_server_url": settings_service.get(session, "app_server_url"),
                "app_server_pin": settings_service.get(session, "app_server_pin"),
            }

    return within(timeout, read)


def load_certificate(path: Path) -> CertificateInfo:
    """Read the App Server's certificate file."""
    return inspect_pem(path.read_bytes())


def check_certificate(
    path: Path, stored_pin: str | None, now: datetime.datetime
) -> tuple[Check, CertificateInfo | None]:
    """The App Server certificate is valid and not expiring within 30 days."""
    evidence: dict[str, Any] = {"path": str(path)}
    try:
        info = load_certificate(path)
    except (OSError, ValueError) as exc:
        evidence["error"] = _error_text(exc)
        check = Check(
            "certificate",
            "App Server certificate cannot be read",
            Status.FAIL,
            evidence,
            fix="Put the App Server's certificate at this path, or point "
            "STRONGROOM_TLS_CERT_FILE at it.",
        )
        return check, None
    evidence.update(info.evidence())
    evidence.update(days_left=info.days_left(now), stored_pin=stored_pin)
    return _certificate_verdict(info, evidence, stored_pin, now), info


def _certificate_verdict(
    info: CertificateInfo,
    evidence: dict[str, Any],
    stored_pin: str | None,
    now: datetime.datetime,
) -> Check:
    until = info.not_after.date().isoformat()
    renew = "then run `strongroom mobile query-pin` and have phones pair again."
    if info.expired(now):
        return Check(
            "certificate",
            f"App Server certificate expired on {until}",
            Status.FAIL,
            evidence,
            f"Replace the certificate, {renew}",
        )
    if info.not_yet_valid(now):
        return Check(
            "certificate",
            "App Server certificate is not valid yet",
            Status.FAIL,
            evidence,
            "Check the clock of this machine; the certificate starts "
            f"{info.not_before.isoformat()}.",
        )
    if info.days_left(now) < EXPIRY_WARNING_DAYS:
        return Check(
            "certificate",
            f"App Server certificate expires in {info.days_left(now)} days",
            Status.WARN,
            evidence,
            f"Replace the certificate before {until}, {renew}",
        )
    if stored_pin and stored_pin != info.pin:
        return Check(
            "certificate",
            "App Server certificate's key is not the pinned one",
            Status.WARN,
            evidence,
            "Phones pinned another key: if the App Server serves this certificate, "
            "run `strongroom mobile query-pin` and have phones pair again.",
        )
    return Check(
        "certificate",
        f"App Server certificate valid until {until}",
        Status.PASS,
        evidence,
    )


def check_certificate_host(url: Any, info: CertificateInfo | None) -> Check:
    """The App Server URL's host is among the certificate's names."""
    evidence: dict[str, Any] = {"url": url}
    if info is None:
        return Check(
            "certificate_host",
            "App Server URL's host in the certificate",
            Status.SKIPPED,
            {**evidence, "reason": "the certificate could not be read"},
        )
    try:
        target = parse_target(str(url or ""))
        settings_service.parse_app_server_url(url or "")
    except (ProbeFailed, ValueError) as exc:
        evidence["error"] = _error_text(exc)
        return Check(
            "certificate_host",
            "App Server URL is missing or malformed",
            Status.FAIL,
            evidence,
            fix="Set it: `strongroom settings set app_server_url https://HOST:PORT`.",
        )
    evidence.update(host=target.host, names=info.names)
    if info.names_host(target.host):
        return Check(
            "certificate_host",
            f"Certificate names the App Server URL's host {target.host}",
            Status.PASS,
            evidence,
        )
    return Check(
        "certificate_host",
        f"Certificate does not name {target.host}",
        Status.FAIL,
        evidence,
        fix=f"The certificate names {', '.join(info.names)}: make one for "
        f"{target.host}, or use one of those names in the App Server URL.",
    )


def check_clock(db: Database, timeout: float) -> Check:
    """This machine's clock agrees with the database server's."""

    def read() -> tuple[Any, datetime.datetime, datetime.datetime]:
        before = utcnow()
        with db.engine.connect() as conn:
            value = conn.execute(text("SELECT CURRENT_TIMESTAMP")).scalar_one()
        return value, before, utcnow()

    try:
        value, before, after = within(timeout, read)
    except Exception as exc:
        return Check(
            "clock",
            "Clock could not be compared with the database",
            Status.FAIL,
            {"error": _error_text(exc)},
            fix="Check the database answers.",
        )
    return clock_verdict(_as_utc(value), before + (after - before) / 2)


def clock_verdict(theirs: datetime.datetime, ours: datetime.datetime) -> Check:
    """Judge the skew between the database's clock and ours."""
    skew = round((theirs - ours).total_seconds(), 1)
    # SQLite's CURRENT_TIMESTAMP has whole seconds: a second of skew is noise.
    evidence = {
        "server_time": ours.isoformat(),
        "database_time": theirs.isoformat(),
        "skew_seconds": skew,
    }
    if abs(skew) <= CLOCK_WARN_SECONDS:
        return Check(
            "clock",
            f"Clock agrees with the database ({skew:+} s)",
            Status.PASS,
            evidence,
        )
    status = Status.FAIL if abs(skew) > CLOCK_FAIL_SECONDS else Status.WARN
    return Check(
        "clock",
        f"Clock differs from the database by {skew:+} s",
        status,
        evidence,
        fix="Synchronise the clocks of this machine and the database server (NTP); "
        "certificates, lock-outs and device times depend on them.",
    )


def _as_utc(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        moment = datetime.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        # SQLite answers CURRENT_TIMESTAMP in UTC without a zone.
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def server_checks(
    settings: Settings,
    db: Database,
    keyring: InstanceKeyring | None,
    *,
    timeout: float,
) -> list[Check]:
    """Every installation check, in dependency order."""
    state = ServerState()
    now = utcnow()
    cipher = FieldCipher(keyring) if keyring is not None else None
    checks = [check_database(db, timeout, state)]
    stored: dict[str, Any] = {}
    if state.db_ok:
        checks.append(check_schema(db, timeout))
        stored = _read_settings_or_none(db, timeout)
    else:
        checks.append(_db_skipped("schema", "Database schema"))
    checks.append(check_instance_key(settings, keyring))
    if state.db_ok:
        checks.append(check_pairing_secret(db, cipher, timeout))
    else:
        checks.append(_db_skipped("pairing_secret", "Pairing secret"))
    cert_check, info = check_certificate(
        settings.cert_file, stored.get("app_server_pin"), now
    )
    checks.append(cert_check)
    if state.db_ok and stored:
        checks.append(check_certificate_host(stored.get("app_server_url"), info))
    else:
        checks.append(
            _db_skipped("certificate_host", "App Server URL's host in the certificate")
        )
    if state.db_ok:
        checks.append(check_clock(db, timeout))
    else:
        checks.append(_db_skipped("clock", "Clock"))
    return checks


def _read_settings_or_none(db: Database, timeout: float) -> dict[str, Any]:
    try:
        return _stored_settings(db, timeout)
    except Exception:
        # The schema check above already says why the settings are unreadable.
        return {}


def _db_skipped(check_id: str, title: str) -> Check:
    return Check(
        check_id, title, Status.SKIPPED, {"reason": "the database does not answer"}
    )
