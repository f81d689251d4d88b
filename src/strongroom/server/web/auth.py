"""Signing in to the browser UI: passwords, lockout, throttling and TOTP.

Two limits apply. Per account, `failed_login_limit` wrong passwords (or TOTP
codes) in a row lock it for `lockout_minutes`. Per source address, a larger
budget of failures within `lockout_minutes` stops one client from guessing
across many accounts. Every outcome is audited.
"""

import datetime
import hashlib
import logging
import time
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete
from sqlalchemy.orm import Session

from strongroom.crypto.passwords import burn_verification_time, verify_password
from strongroom.crypto.tokens import equal
from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import User
from strongroom.server.audit import service as audit
from strongroom.server.core.actor import PLATFORM_WEB, Actor
from strongroom.server.core.db import utcnow
from strongroom.server.core.errors import NotFound, ValidationError
from strongroom.server.core.keys import FieldCipher
from strongroom.server.settings import service as settings
from strongroom.server.web.models import LoginThrottle, TotpLastStep

log = logging.getLogger(__name__)

# One address may fail this many times the per-account limit in a window: a
# shared office NAT has several people mistyping, a guessing script has more.
ADDRESS_BUDGET_FACTOR = 4
TOTP_INTERVAL = 30
TOTP_ISSUER = "Strongroom"


@dataclass(frozen=True)
class SignIn:
    """The outcome of a password check.

    `status` is "ok" (signed in), "second_factor" (password right, TOTP next),
    "failed" (vague on purpose), "locked" (account locked) or "throttled"
    (too many failures from this address). `retry_after` is in seconds.
    """

    status: str
    user: User | None = None
    retry_after: int = 0


def user_actor(user: User, ip: str | None) -> Actor:
    """The actor for a signed-in browser user."""
    return Actor(
        user_id=user.id,
        name=user.qualified_name,
        platform=PLATFORM_WEB,
        is_admin=user.is_admin,
        ip=ip,
    )


def _anonymous(name: str, ip: str | None) -> Actor:
    return Actor(
        user_id=None, name=name[:100] or "(empty)", platform=PLATFORM_WEB, ip=ip
    )


def _limits(session: Session) -> tuple[int, datetime.timedelta]:
    limit = int(settings.get(session, "failed_login_limit"))
    minutes = int(settings.get(session, "lockout_minutes"))
    return limit, datetime.timedelta(minutes=minutes)


def _throttle_row(
    session: Session, ip: str, window: datetime.timedelta
) -> LoginThrottle:
    row = session.get(LoginThrottle, ip)
    now = utcnow()
    if row is None:
        row = LoginThrottle(source_ip=ip, failures=0, window_started_at=now)
        session.add(row)
    elif now - row.window_started_at > window:
        row.failures = 0
        row.window_started_at = now
    return row


def _address_retry_after(session: Session, ip: str | None) -> int:
    """Seconds this address must wait, 0 when it may try."""
    if not ip:
        return 0
    limit, window = _limits(session)
    row = session.get(LoginThrottle, ip)
    if row is None or row.failures < limit * ADDRESS_BUDGET_FACTOR:
        return 0
    remaining = row.window_started_at + window - utcnow()
    return max(int(remaining.total_seconds()), 0)


def _count_address_failure(session: Session, ip: str | None) -> None:
    if not ip:
        return
    _, window = _limits(session)
    # Windows that ran out mean nothing any more; dropping them here keeps
    # the table as small as the set of addresses failing right now.
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_started_at < utcnow() - window,
            LoginThrottle.source_ip != ip,
        )
    )
    row = _throttle_row(session, ip, window)
    row.failures += 1
    session.flush()


def _name_key(name: str) -> str:
    # Unknown names share the throttle table with addresses; a digest keeps the
    # key inside the column and apart from any address ("n:" never starts one).
    digest = hashlib.sha256(name.strip().casefold().encode()).hexdigest()
    return "n:" + digest[:60]


def _count_unknown_name_failure(session: Session, name: str) -> SignIn:
    """Count a failure for a name no account has, and lock it like an account.

    Why: if only real accounts locked, a guesser could tell which names exist
    (429 "locked" after N tries against 401 forever). So an unknown name gets
    the same count, the same limit, the same lock length and the same answer.
    `window_started_at` holds the last failure (or the lock's start), so the
    row ages out of the table a window after the name stops being tried.
    """
    limit, window = _limits(session)
    key = _name_key(name)
    now = utcnow()
    row = session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(source_ip=key, failures=0, window_started_at=now)
        session.add(row)
    elif row.failures >= limit:
        remaining = row.window_started_at + window - now
        if remaining.total_seconds() > 0:
            return SignIn("locked", retry_after=max(int(remaining.total_seconds()), 1))
        row.failures = 0
    row.failures += 1
    row.window_started_at = now
    session.flush()
    if row.failures >= limit:
        return SignIn("locked", retry_after=int(window.total_seconds()))
    return SignIn("failed")


def _locked_for(user: User) -> int:
    if user.locked_until is None:
        return 0
    return max(int((user.locked_until - utcnow()).total_seconds()), 0)


def _count_user_failure(
    session: Session, user: User, ip: str | None, reason: str
) -> SignIn:
    """Count a wrong password or code; lock the account at the limit (audited)."""
    limit, window = _limits(session)
    user.failed_logins += 1
    audit.record(
        session,
        _anonymous(user.qualified_name, ip),
        "auth.login_failed",
        outcome="failure",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
        details={"reason": reason, "failures": user.failed_logins},
    )
    if user.failed_logins < limit:
        return SignIn("failed")

    user.locked_until = utcnow() + window
    user.failed_logins = 0
    audit.record(
        session,
        _anonymous(user.qualified_name, ip),
        "auth.locked_out",
        outcome="failure",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
        details={"minutes": int(window.total_seconds() // 60)},
    )
    log.warning("web_user_locked_out user_id=%s", user.id)
    return SignIn("locked", user, int(window.total_seconds()))


def count_wrong_current_password(
    session: Session, user: User, ip: str | None
) -> SignIn:
    """Count a wrong "current password" typed by a signed-in user (audited).

    Why: a stolen session must not become an unlimited password oracle, so
    these tries spend the same `failed_login_limit` as sign-in failures and
    lock the account the same way ("locked" tells the caller to end sessions).
    """
    _count_address_failure(session, ip)
    return _count_user_failure(session, user, ip, "wrong_current_password")


def _find(session: Session, name: str) -> User | None:
    try:
        return accounts.find_user(session, name)
    except (NotFound, ValidationError):
        return None


@dataclass(frozen=True)
class Attempt:
    """What a sign-in needs to know before the (slow) password check."""

    name: str
    user_id: str | None
    password_hash: str | None
    throttled_for: int


def begin_attempt(session: Session, name: str, ip: str | None) -> Attempt:
    """Look up the account and the address budget before checking a password.

    The Argon2id check runs outside any transaction (`verify`), so a sign-in
    never holds the database's write lock for the tenth of a second it takes.
    """
    wait = _address_retry_after(session, ip)
    user = _find(session, name)
    return Attempt(
        name=name,
        user_id=user.id if user else None,
        password_hash=user.password_hash if user else None,
        throttled_for=wait,
    )


def verify(attempt: Attempt, password: str) -> bool:
    """Check the password; an unknown account costs the same time."""
    if attempt.throttled_for:
        return False
    if attempt.password_hash is None:
        # An unknown name costs the same Argon2id time as a wrong password, so
        # response times do not tell which accounts exist.
        burn_verification_time(password)
        return False
    return verify_password(attempt.password_hash, password)


def finish_attempt(
    session: Session, attempt: Attempt, password_ok: bool, ip: str | None
) -> SignIn:
    """Count failures and audit the outcome of a checked attempt."""
    name = attempt.name
    if attempt.throttled_for:
        # A throttled address is not even checked: it learns nothing more.
        audit.record(
            session,
            _anonymous(name, ip),
            "auth.login_throttled",
            outcome="failure",
            target_type="user",
            target_name=name[:300],
        )
        return SignIn("throttled", retry_after=attempt.throttled_for)

    user = session.get(User, attempt.user_id) if attempt.user_id else None
    if user is None or attempt.password_hash is None:
        _count_address_failure(session, ip)
        outcome = _count_unknown_name_failure(session, name)
        audit.record(
            session,
            _anonymous(name, ip),
            "auth.login_failed",
            outcome="failure",
            target_type="user",
            target_name=name[:300],
            details={"reason": "unknown_user"},
        )
        return outcome

    locked = _locked_for(user)
    if locked:
        # The lock is disclosed because its owner needs to know why they
        # cannot sign in; reaching it already took audited failures.
        audit.record(
            session,
            _anonymous(user.qualified_name, ip),
            "auth.login_failed",
            outcome="failure",
            target_type="user",
            target_id=user.id,
            target_name=user.qualified_name,
            details={"reason": "locked"},
        )
        return SignIn("locked", user, locked)

    # A password changed between the check and now makes the check void.
    if not password_ok or user.password_hash != attempt.password_hash:
        _count_address_failure(session, ip)
        return _count_user_failure(session, user, ip, "wrong_password")

    if not user.active:
        # Same words as a wrong password: a disabled account is not advertised.
        audit.record(
            session,
            _anonymous(user.qualified_name, ip),
            "auth.login_failed",
            outcome="failure",
            target_type="user",
            target_id=user.id,
            target_name=user.qualified_name,
            details={"reason": "disabled"},
        )
        return SignIn("failed")

    if user.totp_secret is not None:
        return SignIn("second_factor", user)
    complete_sign_in(session, user, ip, method="password")
    return SignIn("ok", user)


def complete_sign_in(session: Session, user: User, ip: str | None, method: str) -> None:
    """Reset the failure count and audit a successful sign-in."""
    user.failed_logins = 0
    user.locked_until = None
    audit.record(
        session,
        user_actor(user, ip),
        "auth.login",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
        details={"method": method},
    )
    log.info("web_signed_in user_id=%s", user.id)


# --- TOTP (RFC 6238) ---------------------------------------------------------


def totp_aad(user_id: str) -> str:
    """Associated data binding a sealed TOTP secret to its user."""
    return f"user/{user_id}/totp"


def open_totp_secret(session: Session, cipher: FieldCipher, user: User) -> str | None:
    """The user's TOTP secret in base32, or None when they have none."""
    if user.totp_secret is None:
        return None
    return cipher.open(session, user.totp_secret, aad=totp_aad(user.id))


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code equals `code`, allowing one step of clock skew."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // TOTP_INTERVAL)
    for step in (current - 1, current, current + 1):
        if equal(totp.at(step * TOTP_INTERVAL), code):
            return step
    return None


def check_second_factor(
    session: Session, cipher: FieldCipher, user: User, code: str, ip: str | None
) -> SignIn:
    """Check the TOTP code of a user whose password was right."""
    locked = _locked_for(user)
    if locked:
        return SignIn("locked", user, locked)
    secret = open_totp_secret(session, cipher, user)
    step = matching_step(secret, code) if secret else None

    # RFC 6238 section 5.2: a code accepted once must not be accepted again,
    # or a shoulder-surfed code would open a second session.
    last = session.get(TotpLastStep, user.id)
    if step is None or (last is not None and step <= last.last_step):
        _count_address_failure(session, ip)
        return _count_user_failure(session, user, ip, "wrong_totp")
    if last is None:
        session.add(TotpLastStep(user_id=user.id, last_step=step))
    else:
        last.last_step = step
    complete_sign_in(session, user, ip, method="password+totp")
    return SignIn("ok", user)


def new_totp_secret() -> str:
    """A fresh random base32 TOTP secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, user: User) -> str:
    """The otpauth:// URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.qualified_name, issuer_name=TOTP_ISSUER
    )


def enable_totp(
    session: Session, cipher: FieldCipher, user: User, secret: str, actor: Actor
) -> None:
    """Store a confirmed TOTP secret, sealed, and audit it."""
    user.totp_secret = cipher.seal(session, secret, aad=totp_aad(user.id))
    audit.record(
        session,
        actor,
        "user.totp_enabled",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
    )


def disable_totp(session: Session, user: User, actor: Actor) -> None:
    """Remove a user's TOTP secret (the user, or an admin resetting it)."""
    user.totp_secret = None
    audit.record(
        session,
        actor,
        "user.totp_disabled",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
    )


def current_code(secret: str, now: float | None = None) -> tuple[str, int]:
    """The TOTP code for now and the seconds it stays valid."""
    moment = now if now is not None else time.time()
    remaining = TOTP_INTERVAL - int(moment) % TOTP_INTERVAL
    return pyotp.TOTP(secret).at(int(moment)), remaining
