"""Typed system settings: their definitions, defaults, parsing and storage.

Settings an operator may change are listed in DEFINITIONS. Internal values
(instance id, pairing secret and the times things changed) share the table but
are written only through the functions made for them.
"""

import base64
import datetime
import ipaddress
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.crypto.tokens import random_token
from strongroom.server.audit import service as audit
from strongroom.server.core.actor import Actor
from strongroom.server.core.db import new_id, utcnow
from strongroom.server.core.errors import ConfigurationError, NotFound, ValidationError
from strongroom.server.core.keys import FieldCipher
from strongroom.server.settings.models import SystemSetting

log = logging.getLogger(__name__)

TTL_CHOICES = (1, 3, 7, 14, 30)


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"yes", "true", "on", "1"}:
        return True
    if text in {"no", "false", "off", "0"}:
        return False
    raise ValueError("give yes or no")


def _int_between(low: int, high: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError(f"give a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"give a whole number from {low} to {high}")
        return value

    return parse


def _parse_ttl(raw: Any) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = -1
    if value not in TTL_CHOICES:
        raise ValueError("give one of 1, 3, 7, 14 or 30 (days)")
    return value


def parse_app_server_url(raw: Any) -> str:
    """Accept an https URL with a host (and optional port), nothing else."""
    text = str(raw).strip()
    if text == "":
        return ""
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(
            "give an https:// URL with a host name, e.g. https://vault.example.com:9443"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("leave out credentials, query and fragment")
    if port == 0:
        raise ValueError("the port is not a number from 1 to 65535")
    if not _HOST_NAME.fullmatch(parts.hostname) and not _is_ip(parts.hostname):
        raise ValueError(
            f"{parts.hostname!r} is not a valid host name (letters, digits, "
            "hyphens and dots only)"
        )
    return text.rstrip("/")


# RFC 1123 labels: letters, digits and inner hyphens, dot-separated.
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?",
    re.IGNORECASE,
)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _parse_pin(raw: Any) -> str:
    text = str(raw).strip()
    if text == "":
        return ""
    try:
        digest = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError(
            "a pin is the base64 SHA-256 of the key (44 characters)"
        ) from None
    if len(digest) != 32:
        raise ValueError("a pin is the base64 SHA-256 of the key (44 characters)")
    return text


@dataclass(frozen=True)
class SettingDef:
    """One operator-visible setting."""

    key: str
    default: Any
    parse: Callable[[Any], Any]
    description: str


DEFINITIONS: dict[str, SettingDef] = {
    d.key: d
    for d in (
        SettingDef(
            "mobile_access_default",
            True,
            _parse_bool,
            "Enable Mobile Access by default on new permissions",
        ),
        SettingDef(
            "app_server_url", "", parse_app_server_url, "The App Server URL phones use"
        ),
        SettingDef(
            "app_server_pin",
            "",
            _parse_pin,
            "SHA-256 pin (base64) of the App Server certificate's public key",
        ),
        SettingDef(
            "offline_ttl_days",
            7,
            _parse_ttl,
            "Days a phone's offline copy stays readable",
        ),
        SettingDef(
            "failed_unlock_limit",
            5,
            _int_between(1, 50),
            "Failed master-password attempts before lock-out or cache erase",
        ),
        SettingDef(
            "lockout_minutes",
            15,
            _int_between(1, 1440),
            "Minutes a user stays locked out after too many failures",
        ),
        SettingDef(
            "failed_login_limit",
            5,
            _int_between(1, 50),
            "Failed web sign-ins before the account is locked out",
        ),
        SettingDef(
            "biometric_allowed", True, _parse_bool, "Phones may unlock with biometrics"
        ),
        SettingDef(
            "master_password_reentry_hours",
            72,
            _int_between(1, 720),
            "Hours after which the master password is needed even with biometrics",
        ),
        SettingDef(
            "session_idle_minutes",
            30,
            _int_between(1, 1440),
            "Web sessions end after this many idle minutes",
        ),
        SettingDef(
            "session_absolute_hours",
            12,
            _int_between(1, 168),
            "Web sessions end this many hours after sign-in, active or not",
        ),
    )
}

# Internal keys: written by their own functions, never by `settings set`.
INSTANCE_ID = "instance_id"
PAIRING_SECRET = "pairing_secret"  # noqa: S105 - a key name, not a secret
PAIRING_SECRET_GENERATION = "pairing_secret_generation"  # noqa: S105
PAIRING_SECRET_CHANGED_AT = "pairing_secret_changed_at"  # noqa: S105
APP_SERVER_URL_CHANGED_AT = "app_server_url_changed_at"


def _row(session: Session, key: str) -> SystemSetting | None:
    return session.get(SystemSetting, key)


def _store(session: Session, key: str, value: Any) -> None:
    row = _row(session, key)
    if row is None:
        session.add(SystemSetting(key=key, value=value, updated_at=utcnow()))
    else:
        row.value = value
        row.updated_at = utcnow()
    session.flush()


def definition(key: str) -> SettingDef:
    """Return the definition of `key`, or NotFound listing the known keys."""
    found = DEFINITIONS.get(key)
    if found is None:
        raise NotFound(
            f"there is no setting called {key!r}",
            hint="known settings: " + ", ".join(sorted(DEFINITIONS)),
        )
    return found


def get(session: Session, key: str) -> Any:
    """Return the value of an operator setting, or its default."""
    spec = definition(key)
    row = _row(session, key)
    return spec.default if row is None else row.value


def all_values(session: Session) -> dict[str, Any]:
    """Every operator setting with its current value."""
    stored = {row.key: row.value for row in session.scalars(select(SystemSetting))}
    return {key: stored.get(key, spec.default) for key, spec in DEFINITIONS.items()}


def set_value(session: Session, actor: Actor, key: str, raw: Any) -> Any:
    """Parse, validate and store a setting; audited. Returns the stored value."""
    spec = definition(key)
    try:
        value = spec.parse(raw)
    except ValueError as exc:
        raise ValidationError(key, f"{key}: {exc}") from None

    old = get(session, key)
    if key == "app_server_url" and old and not value:
        # A blank URL would kill every unused QR code and leave phones with
        # nowhere to pair: almost always an emptied form field, not a wish.
        raise ValidationError(
            key,
            f"{key}: the App Server URL cannot be made blank",
            hint="give the https:// URL phones reach, e.g. "
            "https://vault.example.com:9443",
        )
    _store(session, key, value)
    if key == "app_server_url" and value != old:
        _store(session, APP_SERVER_URL_CHANGED_AT, utcnow().isoformat())
    audit.record(
        session,
        actor,
        "setting.changed",
        target_type="setting",
        target_id=key,
        target_name=key,
        details={"old": old, "new": value},
    )
    log.info("setting_changed key=%s", key)
    return value


def instance_id(session: Session) -> str:
    """This installation's id, made on first use."""
    row = _row(session, INSTANCE_ID)
    if row is not None:
        return str(row.value)
    value = new_id()
    _store(session, INSTANCE_ID, value)
    return value


def regenerate_pairing_secret(
    session: Session, actor: Actor, cipher: FieldCipher, *, devices_revoked: int = 0
) -> int:
    """Store a new App Pairing Secret (audited); every earlier QR code dies.

    Revoking the devices paired under the old secret is the caller's part
    (`mobile.service.regenerate_pairing_secret`); `devices_revoked` is how many
    it revoked, for the audit event. Returns the new secret generation.
    """
    sealed = cipher.seal(session, random_token(32), aad="setting/pairing_secret")
    _store(session, PAIRING_SECRET, base64.b64encode(sealed).decode())
    generation = int(_stored(session, PAIRING_SECRET_GENERATION, 0)) + 1
    _store(session, PAIRING_SECRET_GENERATION, generation)
    _store(session, PAIRING_SECRET_CHANGED_AT, utcnow().isoformat())
    audit.record(
        session,
        actor,
        "mobile.pairing_secret_regenerated",
        target_type="setting",
        target_id=PAIRING_SECRET,
        target_name="App Pairing Secret",
        details={"generation": generation, "devices_revoked": devices_revoked},
    )
    return generation


def has_pairing_secret(session: Session) -> bool:
    """Whether an App Pairing Secret is stored at all (readable or not)."""
    return _stored(session, PAIRING_SECRET, None) is not None


def pairing_secret(session: Session, cipher: FieldCipher) -> tuple[str, int]:
    """The current pairing secret and its generation."""
    stored = _stored(session, PAIRING_SECRET, None)
    if stored is None:
        raise ConfigurationError(
            "no App Pairing Secret is set",
            hint="run `strongroom mobile regenerate-pairing-secret`",
        )
    secret = cipher.open(
        session, base64.b64decode(stored), aad="setting/pairing_secret"
    )
    return secret, int(_stored(session, PAIRING_SECRET_GENERATION, 0))


AUDIT_CHAIN_KEY = "audit_chain_key"


def audit_chain_key(session: Session, cipher: FieldCipher) -> bytes:
    """The key of the audit log's hash chain, made on first use, stored sealed.

    It is sealed under a data key rather than derived from the instance key,
    so rotating the instance key leaves every existing link verifiable.
    """
    stored = _stored(session, AUDIT_CHAIN_KEY, None)
    if stored is None:
        key = os.urandom(32)
        sealed = cipher.seal(session, key.hex(), aad="setting/audit_chain_key")
        _store(session, AUDIT_CHAIN_KEY, base64.b64encode(sealed).decode())
        return key
    opened = cipher.open(
        session, base64.b64decode(stored), aad="setting/audit_chain_key"
    )
    return bytes.fromhex(opened)


def _stored(session: Session, key: str, default: Any) -> Any:
    row = _row(session, key)
    return default if row is None else row.value


def changed_at(session: Session, key: str) -> datetime.datetime | None:
    """When the pairing secret or App Server URL last changed (internal keys)."""
    stored = _stored(session, key, None)
    return None if stored is None else datetime.datetime.fromisoformat(str(stored))


def store_pin(session: Session, actor: Actor, pin: str) -> None:
    """Store the App Server pin fetched by a query (audited)."""
    set_value(session, actor, "app_server_pin", pin)
