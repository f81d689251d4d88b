"""API keys: created and revoked by administrators, checked on every API call.

A key is shown once, at creation, as `sr_<id>_<secret>`. The id finds the row;
the secret is compared in constant time against the SHA-256 stored for it, so
a dump of the database yields no usable key.

A key acts as one user and never holds more than that user's permissions. A
list-scoped key is further confined to its lists and never acts as an
administrator; only a system-wide key of an administrator reaches the admin
endpoints.
"""

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.crypto import tokens
from strongroom.server.accounts.api_key_models import KEY_NAME_MAX, ApiKey, ApiKeyList
from strongroom.server.accounts.models import User
from strongroom.server.audit import service as audit
from strongroom.server.core.actor import PLATFORM_API, Actor
from strongroom.server.core.db import new_id, utcnow
from strongroom.server.core.errors import NotFound, PermissionDenied, ValidationError
from strongroom.server.vault import service as vault
from strongroom.server.vault.models import PasswordList

log = logging.getLogger(__name__)

TOKEN_PREFIX = "sr_"  # noqa: S105 - a format marker, not a secret
SECRET_BYTES = 32
# Longest token worth looking at: prefix, a 36-character id, "_", 43 characters
# of secret, with room to spare. Anything longer is refused unread.
TOKEN_MAX = 200
_ID_CHARS = frozenset("0123456789abcdef-")
# Shortest id prefix accepted where a key is named (the audit log shows 8).
PREFIX_MIN = 8
# Writing `last_used_at` on every call would turn each read into a write; a
# minute's resolution is plenty to see which keys are alive.
LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)
# Compared against when the id is unknown, so that a miss costs the same hash
# and comparison as a hit and timing does not tell them apart.
_DUMMY_HASH = tokens.sha256_hex("strongroom: no such api key")


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: `token` is the only copy of the secret, shown once."""

    key: ApiKey
    token: str


@dataclass(frozen=True)
class KeyPrincipal:
    """Who a valid key acts as, and where it may act."""

    key_id: str
    key_name: str
    user_id: str
    user_name: str
    user_is_admin: bool
    system_wide: bool
    list_ids: frozenset[str]

    @property
    def is_admin(self) -> bool:
        """True only for a system-wide key acting as an administrator."""
        return self.system_wide and self.user_is_admin

    def allows_list(self, list_id: str) -> bool:
        """Tell whether this key may touch the list (its user's rights aside)."""
        return self.system_wide or list_id in self.list_ids

    def actor(self, ip: str | None = None) -> Actor:
        """The actor for service calls made with this key (platform `api`)."""
        return Actor(
            user_id=self.user_id,
            # The key id in the name lets the audit log tell a user's keys
            # apart; the 300-character column bounds the whole name.
            name=f"{self.user_name} (API key {self.key_id[:8]})"[:300],
            platform=PLATFORM_API,
            is_admin=self.is_admin,
            ip=ip,
        )


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed for administrators (never its secret or hash)."""

    id: str
    name: str
    user_id: str
    user_name: str
    system_wide: bool
    list_ids: list[str]
    list_paths: list[str]
    created_by: str
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    revoked_at: datetime.datetime | None

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None


def _require_admin(actor: Actor) -> None:
    if not (actor.is_admin or actor.operator):
        raise PermissionDenied("only administrators may manage API keys")


def _check_key_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError("name", "the key name must not be empty")
    if len(name) > KEY_NAME_MAX:
        raise ValidationError(
            "name",
            f"the key name is {len(name)} characters; the limit is {KEY_NAME_MAX}",
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ValidationError(
            "name", "the key name must not contain control characters"
        )
    return name


def create_key(
    session: Session,
    actor: Actor,
    name: str,
    *,
    user: User,
    lists: Sequence[PasswordList] = (),
    system_wide: bool = False,
) -> IssuedKey:
    """Create a key acting as `user`, scoped to `lists` or system-wide.

    Only administrators create keys. An administrator signed in to the web UI
    may only make keys that act as themselves; the operator (CLI) may name any
    user, e.g. a service account made for a script.
    """
    _require_admin(actor)
    # A key acting as someone else would let an administrator read lists they
    # hold no permission on; only whoever holds the installation may do that.
    if not actor.operator and actor.user_id != user.id:
        raise PermissionDenied(
            "an administrator may only create keys that act as themselves",
            hint="create keys for other users with `strongroom api-key create --as`",
        )
    name = _check_key_name(name)
    if system_wide == bool(lists):
        raise ValidationError(
            "scope", "choose either system-wide or at least one password list"
        )
    if not user.active:
        raise ValidationError("user", f"{user.qualified_name} is disabled")

    # The secret is 256 random bits: far beyond guessing, so one SHA-256 is a
    # sufficient hash. A slow password hash (Argon2id) would only cost every
    # API call ~0.2 s and buy nothing for a secret nobody chose.
    secret = tokens.random_token(SECRET_BYTES)
    key = ApiKey(
        id=new_id(),
        name=name,
        secret_hash=tokens.sha256_hex(secret),
        user_id=user.id,
        system_wide=system_wide,
        created_by=actor.name[:300],
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    list_ids = sorted({plist.id for plist in lists})
    session.add_all(ApiKeyList(key_id=key.id, list_id=lid) for lid in list_ids)
    session.flush()

    audit.record(
        session,
        actor,
        "api_key.created",
        target_type="api_key",
        target_id=key.id,
        target_name=name,
        details={
            "user_id": user.id,
            "user": user.qualified_name,
            "system_wide": system_wide,
            "lists": list_ids,
        },
    )
    log.info("api_key_created key_id=%s user_id=%s", key.id, user.id)
    return IssuedKey(key=key, token=f"{TOKEN_PREFIX}{key.id}_{secret}")


_LIST_HINT = "`strongroom api-key list` shows the keys"


def get_key(session: Session, key_id: str) -> ApiKey:
    """The key with this id, or with this unique id prefix of 8 or more
    characters (the form the audit log names keys by); NotFound otherwise."""
    key_id = key_id.strip().lower()
    if not _well_formed_id(key_id):
        raise NotFound(f"there is no API key {key_id!r}", hint=_LIST_HINT)
    key = session.get(ApiKey, key_id)
    if key is None and len(key_id) >= PREFIX_MIN:
        # A uuid contains no LIKE wildcards, and _well_formed_id admits none.
        matches = session.scalars(
            select(ApiKey).where(ApiKey.id.startswith(key_id)).limit(2)
        ).all()
        if len(matches) > 1:
            raise ValidationError(
                "id",
                f"several API keys start with {key_id!r}",
                hint="give more of the id; `strongroom api-key list` shows the keys",
            )
        key = matches[0] if matches else None
    if key is None:
        raise NotFound(f"there is no API key {key_id!r}", hint=_LIST_HINT)
    return key


def revoke_key(session: Session, actor: Actor, key: ApiKey) -> bool:
    """Revoke a key at once; False when it was already revoked."""
    _require_admin(actor)
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "api_key.revoked",
        target_type="api_key",
        target_id=key.id,
        target_name=key.name,
    )
    log.info("api_key_revoked key_id=%s", key.id)
    return True


def list_keys(session: Session) -> list[KeyInfo]:
    """Every key, newest first, with its user and list paths."""
    rows = session.execute(
        select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id)
    ).all()
    scopes: dict[str, list[PasswordList]] = {}
    for key_id, plist in session.execute(
        select(ApiKeyList.key_id, PasswordList).join(
            PasswordList, PasswordList.id == ApiKeyList.list_id
        )
    ).all():
        scopes.setdefault(key_id, []).append(plist)
    return [
        KeyInfo(
            id=key.id,
            name=key.name,
            user_id=user.id,
            user_name=user.qualified_name,
            system_wide=key.system_wide,
            list_ids=sorted(p.id for p in scopes.get(key.id, [])),
            list_paths=sorted(
                vault.list_path(session, p) for p in scopes.get(key.id, [])
            ),
            created_by=key.created_by,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )
        for key, user in rows
    ]


def _well_formed_id(key_id: str) -> bool:
    return 0 < len(key_id) <= 36 and set(key_id) <= _ID_CHARS


def _split_token(token: str) -> tuple[str, str] | None:
    if len(token) > TOKEN_MAX or not token.startswith(TOKEN_PREFIX):
        return None
    key_id, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if not sep or not secret or not _well_formed_id(key_id):
        return None
    return key_id, secret


def authenticate(
    session: Session, token: str, *, ip: str | None = None
) -> KeyPrincipal | None:
    """Check a presented token; return who it acts as, or None.

    A rejected token is audited (`api_key.rejected`, outcome `failure`) in the
    caller's session, which must therefore be committed even when this returns
    None. The reason is recorded in the log but never told to the caller.
    """
    parts = _split_token(token)
    key = session.get(ApiKey, parts[0]) if parts else None

    # Always hash and compare, even for an unknown id, so a miss and a wrong
    # secret take the same time.
    presented = tokens.sha256_hex(parts[1] if parts else token[:TOKEN_MAX])
    matches = tokens.equal(presented, key.secret_hash if key else _DUMMY_HASH)

    user = session.get(User, key.user_id) if key is not None and matches else None
    reason = _rejection(parts is not None, key, matches, user)
    if reason is not None:
        _audit_rejection(session, parts[0] if parts else None, key, reason, ip)
        return None
    # _rejection returned None, so both exist; re-check for the type checker.
    if key is None or user is None:
        return None

    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
    list_ids = frozenset(
        session.scalars(select(ApiKeyList.list_id).where(ApiKeyList.key_id == key.id))
    )
    return KeyPrincipal(
        key_id=key.id,
        key_name=key.name,
        user_id=user.id,
        user_name=user.qualified_name,
        user_is_admin=user.is_admin,
        system_wide=key.system_wide,
        list_ids=list_ids,
    )


def _rejection(
    well_formed: bool, key: ApiKey | None, matches: bool, user: User | None
) -> str | None:
    if not well_formed:
        return "malformed"
    if key is None:
        return "unknown key"
    if not matches:
        return "wrong secret"
    if key.revoked_at is not None:
        return "revoked"
    if user is None or not user.active:
        return "user disabled"
    return None


def _audit_rejection(
    session: Session,
    key_id: str | None,
    key: ApiKey | None,
    reason: str,
    ip: str | None,
) -> None:
    # A forged or stale key is a security matter: record who tried (by
    # address) and which key id they named, never what they sent as secret.
    audit.record(
        session,
        Actor(user_id=None, name="api-client", platform=PLATFORM_API, ip=ip),
        "api_key.rejected",
        outcome="failure",
        target_type="api_key",
        target_id=key.id if key is not None else None,
        target_name=key.name if key is not None else None,
        details={"reason": reason, "key_id": key_id},
    )
    log.warning("api_key_rejected key_id=%s reason=%s", key_id, reason)
