"""Users, security groups, memberships and feature access."""

import logging
import secrets
import string
import unicodedata
from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from strongroom.crypto.passwords import hash_password
from strongroom.server.accounts.models import (
    FEATURES,
    FeatureAccess,
    Group,
    GroupMember,
    User,
)
from strongroom.server.audit import service as audit
from strongroom.server.core import counters
from strongroom.server.core.actor import Actor
from strongroom.server.core.db import folded
from strongroom.server.core.errors import (
    AlreadyExists,
    NotFound,
    PermissionDenied,
    ValidationError,
)

log = logging.getLogger(__name__)

NAME_MAX = 100
DISPLAY_NAME_MAX = 200
EMAIL_MAX = 254
DESCRIPTION_MAX = 255
PASSWORD_MIN = 12
# zxcvbn's scale runs 0-4; 3 means about 10**10 guesses are needed.
STRENGTH_MIN = 3
_NAME_FORBIDDEN = set("\\/\x00\r\n\t")


def generate_password(length: int = 20) -> str:
    """A random password drawn from letters, digits and a few symbols."""
    alphabet = string.ascii_letters + string.digits + "-_.!@#%+="
    return "".join(secrets.choice(alphabet) for _ in range(length))


def check_password_strength(
    field: str, password: str, *, user_inputs: Sequence[str] = ()
) -> None:
    """Refuse passwords too short or too easy to guess.

    zxcvbn estimates how many guesses an attacker needs, knowing common
    passwords, keyboard patterns, repeats and `user_inputs` (the user's own
    names). Score 3 ("safely unguessable" for an online attack) is the floor;
    offline attacks on a phone's cache are slowed further by Argon2id.
    """
    if len(password) < PASSWORD_MIN:
        raise ValidationError(
            field,
            f"the password must be at least {PASSWORD_MIN} characters long",
            hint="a few unrelated words make a long password easy to remember",
        )
    # zxcvbn refuses input over 72 characters; judging the first 72 is
    # conservative, since what follows can only add guesses.
    verdict = zxcvbn(password[:72], user_inputs=[u for u in user_inputs if u])
    if verdict["score"] < STRENGTH_MIN:
        warning = verdict["feedback"].get("warning") or "it follows a common pattern"
        raise ValidationError(
            field,
            f"the password is too easy to guess: {warning.rstrip('.').lower()}",
            hint="use a longer password of unrelated words, not your name",
        )


def user_inputs_of(user: User) -> list[str]:
    """The user's own words, which a strong password must not lean on."""
    return [user.login_name, user.display_name, user.email, user.domain]


def has_control_characters(value: str) -> bool:
    """Tell whether `value` holds control or invisible formatting characters.

    Terminal escapes (ESC) and bidirectional overrides (U+202E) in a name can
    spoof what an admin reads on a page or in a terminal.
    """
    return any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in value)


def split_qualified(name: str) -> tuple[str, str]:
    """Split `DOMAIN\\name` into (domain, login name); local names have no domain."""
    if "\\" in name:
        domain, _, login = name.partition("\\")
        return domain.strip().upper(), login.strip()
    return "", name.strip()


def _require_admin(actor: Actor) -> None:
    if not (actor.is_admin or actor.operator):
        raise PermissionDenied("only administrators may do this")


def _check_name(field: str, value: str, limit: int = NAME_MAX) -> str:
    value = value.strip()
    if not value:
        raise ValidationError(field, f"the {field} must not be empty")
    if len(value) > limit:
        raise ValidationError(
            field, f"the {field} is {len(value)} characters; the limit is {limit}"
        )
    if set(value) & _NAME_FORBIDDEN or has_control_characters(value):
        raise ValidationError(
            field, f"the {field} must not contain \\, / or control characters"
        )
    return value


def _check_optional(field: str, value: str, limit: int) -> str:
    # The columns are sized to these limits; PostgreSQL would refuse a longer
    # value only at the INSERT, as a database error naming no field.
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(
            field,
            f"the {field} is {len(value)} characters; the limit is {limit}",
            hint=f"shorten the {field}",
        )
    if has_control_characters(value):
        raise ValidationError(field, f"the {field} must not contain control characters")
    return value


def create_user(
    session: Session,
    actor: Actor,
    qualified_name: str,
    *,
    password: str,
    display_name: str = "",
    email: str = "",
    is_admin: bool = False,
    domain: str | None = None,
) -> User:
    """Create an active user; `qualified_name` may be `DOMAIN\\name`."""
    _require_admin(actor)
    parsed_domain, login = split_qualified(qualified_name)
    if domain and parsed_domain and domain.strip().upper() != parsed_domain:
        # Silently preferring one would file the account under a domain the
        # admin did not mean in one of the two places they typed it.
        raise ValidationError(
            "domain",
            f"the name says domain {parsed_domain!r} but --domain says "
            f"{domain.strip().upper()!r}",
            hint="give the domain once: DOMAIN\\name or --domain DOMAIN",
        )
    domain = (domain or parsed_domain).strip().upper()
    login = _check_name("login name", login)
    if domain:
        _check_name("domain", domain)
    display_name = _check_optional("display name", display_name, DISPLAY_NAME_MAX)
    email = _check_optional("email", email, EMAIL_MAX)
    check_password_strength(
        "password", password, user_inputs=[login, display_name, email, domain]
    )
    # Names are unique regardless of case: "Alice" beside "alice" would invite
    # impersonation in grant searches and in the audit log.
    if session.scalar(
        select(User.id).where(
            folded(User.login_name) == folded(login), User.domain == domain
        )
    ):
        raise AlreadyExists(
            f"a user called {_shown(domain, login)!r} already exists "
            "(names are compared ignoring case)",
            hint="choose another name or edit the existing user",
        )

    user = User(
        login_name=login,
        domain=domain,
        display_name=display_name.strip() or login,
        email=email.strip(),
        is_admin=is_admin,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.created",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
        details={"admin": is_admin},
    )
    log.info("user_created user_id=%s", user.id)
    return user


def _shown(domain: str, login: str) -> str:
    return f"{domain}\\{login}" if domain else login


def find_user(session: Session, qualified_name: str) -> User:
    """Look a user up by `name` or `DOMAIN\\name`; NotFound names the user."""
    domain, login = split_qualified(qualified_name)
    user = session.scalar(
        select(User).where(
            folded(User.login_name) == folded(login), User.domain == domain
        )
    )
    if user is None:
        raise NotFound(
            f"there is no user called {qualified_name!r}",
            hint="`strongroom user list` shows the users",
        )
    return user


def get_user(session: Session, user_id: str) -> User:
    """Return the user with this id, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("that user does not exist")
    return user


def list_users(session: Session) -> list[User]:
    """All users, by domain and login name."""
    return list(session.scalars(select(User).order_by(User.domain, User.login_name)))


def set_active(session: Session, actor: Actor, user: User, active: bool) -> None:
    """Enable or disable a user; a disabled user's phones receive nothing.

    Nobody disables their own account (an API key acts as its user): the
    last administrator could otherwise lock everyone out of the web UI.
    """
    _require_admin(actor)
    if not active and actor.user_id == user.id:
        raise ValidationError(
            "active",
            "you cannot disable your own account",
            hint="ask another administrator",
        )
    if user.active == active:
        return
    user.active = active
    counters.bump(session, counters.ACCESS)
    audit.record(
        session,
        actor,
        "user.enabled" if active else "user.disabled",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
    )


def set_password(session: Session, actor: Actor, user: User, password: str) -> None:
    """Set a user's web password (admins, or the user themselves)."""
    if actor.user_id != user.id:
        _require_admin(actor)
    check_password_strength("password", password, user_inputs=user_inputs_of(user))
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    audit.record(
        session,
        actor,
        "user.password_set",
        target_type="user",
        target_id=user.id,
        target_name=user.qualified_name,
    )


# --- groups -----------------------------------------------------------------


def create_group(
    session: Session, actor: Actor, name: str, description: str = ""
) -> Group:
    """Create a security group with a unique name."""
    _require_admin(actor)
    name = _check_name("group name", name, 200)
    description = _check_optional("description", description, DESCRIPTION_MAX)
    if session.scalar(select(Group.id).where(folded(Group.name) == folded(name))):
        raise AlreadyExists(f"a group called {name!r} already exists")
    group = Group(name=name, description=description.strip())
    session.add(group)
    session.flush()
    audit.record(
        session,
        actor,
        "group.created",
        target_type="group",
        target_id=group.id,
        target_name=name,
    )
    return group


def find_group(session: Session, name: str) -> Group:
    """Look a group up by name; NotFound names it."""
    group = session.scalar(
        select(Group).where(folded(Group.name) == folded(name.strip()))
    )
    if group is None:
        raise NotFound(
            f"there is no group called {name!r}",
            hint="`strongroom group list` shows the groups",
        )
    return group


def list_groups(session: Session) -> list[tuple[Group, int]]:
    """All groups with their member counts."""
    groups = list(session.scalars(select(Group).order_by(Group.name)))
    counts: dict[str, int] = {
        str(gid): int(n)
        for gid, n in session.execute(
            select(GroupMember.group_id, func.count()).group_by(GroupMember.group_id)
        ).all()
    }
    return [(g, counts.get(g.id, 0)) for g in groups]


def members(session: Session, group: Group) -> list[User]:
    """The users in `group`."""
    return list(
        session.scalars(
            select(User)
            .join(GroupMember, GroupMember.user_id == User.id)
            .where(GroupMember.group_id == group.id)
            .order_by(User.login_name)
        )
    )


def add_member(session: Session, actor: Actor, group: Group, user: User) -> bool:
    """Add `user` to `group`; False when already a member."""
    _require_admin(actor)
    if session.get(GroupMember, (group.id, user.id)):
        return False
    session.add(GroupMember(group_id=group.id, user_id=user.id))
    counters.bump(session, counters.ACCESS)
    audit.record(
        session,
        actor,
        "group.member_added",
        target_type="group",
        target_id=group.id,
        target_name=group.name,
        details={"user_id": user.id, "user": user.qualified_name},
    )
    return True


def remove_member(session: Session, actor: Actor, group: Group, user: User) -> bool:
    """Remove `user` from `group`; False when not a member."""
    _require_admin(actor)
    row = session.get(GroupMember, (group.id, user.id))
    if row is None:
        return False
    session.delete(row)
    counters.bump(session, counters.ACCESS)
    audit.record(
        session,
        actor,
        "group.member_removed",
        target_type="group",
        target_id=group.id,
        target_name=group.name,
        details={"user_id": user.id, "user": user.qualified_name},
    )
    return True


# --- feature access ---------------------------------------------------------


def _check_feature(feature: str) -> None:
    if feature not in FEATURES:
        raise ValidationError(
            "feature", f"unknown feature {feature!r}; known: {', '.join(FEATURES)}"
        )


def grant_feature(
    session: Session,
    actor: Actor,
    feature: str,
    *,
    user: User | None = None,
    group: Group | None = None,
) -> bool:
    """Grant `feature` to one user or one group; False if already granted."""
    _require_admin(actor)
    _check_feature(feature)
    grantee = _one_grantee(user, group)
    column = FeatureAccess.user_id if user else FeatureAccess.group_id
    if session.scalar(
        select(FeatureAccess.id).where(
            FeatureAccess.feature == feature, column == grantee
        )
    ):
        return False
    session.add(
        FeatureAccess(
            feature=feature,
            user_id=user.id if user else None,
            group_id=group.id if group else None,
        )
    )
    counters.bump(session, counters.ACCESS)
    _audit_feature(session, actor, "feature.granted", feature, user, group)
    return True


def revoke_feature(
    session: Session,
    actor: Actor,
    feature: str,
    *,
    user: User | None = None,
    group: Group | None = None,
) -> bool:
    """Take `feature` back from one user or group; False if it was not granted."""
    _require_admin(actor)
    _check_feature(feature)
    grantee = _one_grantee(user, group)
    column = FeatureAccess.user_id if user else FeatureAccess.group_id
    result = session.execute(
        delete(FeatureAccess).where(FeatureAccess.feature == feature, column == grantee)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    counters.bump(session, counters.ACCESS)
    _audit_feature(session, actor, "feature.revoked", feature, user, group)
    return True


def _one_grantee(user: User | None, group: Group | None) -> str:
    if (user is None) == (group is None):
        raise ValidationError("grantee", "name exactly one of a user or a group")
    return user.id if user else group.id  # type: ignore[union-attr]


def _audit_feature(
    session: Session,
    actor: Actor,
    event: str,
    feature: str,
    user: User | None,
    group: Group | None,
) -> None:
    audit.record(
        session,
        actor,
        event,
        target_type="user" if user else "group",
        target_id=user.id if user else group.id,  # type: ignore[union-attr]
        target_name=user.qualified_name if user else group.name,  # type: ignore[union-attr]
        details={"feature": feature},
    )


def feature_grants(session: Session, feature: str) -> list[FeatureAccess]:
    """Every grant of `feature`."""
    return list(
        session.scalars(select(FeatureAccess).where(FeatureAccess.feature == feature))
    )


def has_feature_clause(user_id: str, feature: str) -> ColumnElement[bool]:
    """An SQL condition true when `user_id` holds `feature` directly or via a group."""
    return exists().where(
        FeatureAccess.feature == feature,
        or_(
            FeatureAccess.user_id == user_id,
            FeatureAccess.group_id.in_(
                select(GroupMember.group_id).where(GroupMember.user_id == user_id)
            ),
        ),
    )


def has_feature(session: Session, user: User, feature: str) -> bool:
    """Tell whether `user` holds `feature`, directly or through a group."""
    return bool(session.scalar(select(has_feature_clause(user.id, feature))))
