"""The troubleshooter's entry points: diagnose a user's phone path, or the server.

`diagnose_mobile` walks the path a phone depends on, in order (DESIGN.md,
"Troubleshooter"): the account, the Mobile App feature, the lists with Mobile
Access, the master password and QR code, then the network from the App Server
URL to its health and instance, and last the user's devices. `diagnose_server`
checks the installation. Both return a Report (see report.py) and never raise
for what they find; only an unknown user raises NotFound.
"""

import logging

from strongroom.server.accounts import service as accounts
from strongroom.server.core.config import Settings
from strongroom.server.core.db import Database, utcnow
from strongroom.server.core.errors import ConfigurationError
from strongroom.server.core.instance import Instance
from strongroom.server.core.keys import InstanceKeyring, load_keyring
from strongroom.server.doctor import checks, network
from strongroom.server.doctor.probe import NetworkProbe, Probe
from strongroom.server.doctor.report import Check, Report, Status
from strongroom.server.doctor.server_checks import server_checks
from strongroom.server.settings import service as settings_service

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3.0


def diagnose_mobile(
    instance: Instance,
    user_name: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    probe: Probe | None = None,
) -> Report:
    """Every reason `user_name`'s phone might not connect or sync.

    Each network step waits at most `timeout` seconds. Raises NotFound when
    there is no such user; everything else lands in the report.
    """
    now = utcnow()
    with instance.db.session() as session:
        user = accounts.find_user(session, user_name)
        credential = checks.credential_of(session, user)
        password_check = checks.master_password(credential, user, now)
        found: list[Check] = [
            checks.account_active(user),
            checks.mobile_feature(session, user),
            checks.mobile_lists(session, user),
            password_check,
        ]
        if credential is not None and password_check.status is not Status.FAIL:
            found.append(checks.qr_current(session, credential, user))
        else:
            found.append(
                Check(
                    "qr_current",
                    "QR code is current",
                    Status.SKIPPED,
                    {"reason": "there is no master password, so no QR code"},
                )
            )
        expected = network.Expected(
            url=settings_service.get(session, "app_server_url"),
            stored_pin=str(settings_service.get(session, "app_server_pin") or ""),
            instance_id=settings_service.instance_id(session),
        )
        device_check = checks.devices(session, user)
        subject = f"mobile:{user.qualified_name}"
        user_id = user.id

    found += network.app_server_checks(
        expected, probe or NetworkProbe(), timeout=timeout, now=now
    )
    found.append(device_check)
    report = Report(subject=subject, checks=found)
    log.info(
        "doctor_mobile user_id=%s ok=%s counts=%s", user_id, report.ok, report.counts()
    )
    return report


def diagnose_server(instance: Instance, *, timeout: float = DEFAULT_TIMEOUT) -> Report:
    """The health of the installation an opened instance belongs to."""
    report = Report(
        subject="server",
        checks=server_checks(
            instance.settings, instance.db, instance.cipher.keyring, timeout=timeout
        ),
    )
    log.info("doctor_server ok=%s counts=%s", report.ok, report.counts())
    return report


def diagnose_installation(
    settings: Settings, *, timeout: float = DEFAULT_TIMEOUT
) -> Report:
    """Like `diagnose_server`, for an installation that may not open at all.

    A missing or unreadable instance key, or a schema that is behind, stops
    `Instance.open`; here they become failed checks instead, which is what an
    operator running the troubleshooter needs to see.
    """
    keyring: InstanceKeyring | None
    try:
        env_key = (
            settings.instance_key.get_secret_value() if settings.instance_key else None
        )
        keyring = load_keyring(settings.key_file, env_key)
    except ConfigurationError as exc:
        log.warning("doctor_key_unreadable reason=%s", exc.code)
        keyring = None
    db = Database(settings.resolved_database_url)
    try:
        found = server_checks(settings, db, keyring, timeout=timeout)
    finally:
        db.dispose()
    report = Report(subject="server", checks=found)
    log.info("doctor_server ok=%s counts=%s", report.ok, report.counts())
    return report
