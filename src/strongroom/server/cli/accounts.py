"""`strongroom user ...`, `group ...` and `feature ...`: people and what they may use.

Passwords never come from the command line: `--password-stdin` reads one line
from standard input; without it `user add` generates one and prints it once.
"""

import logging

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from strongroom.server.accounts import service as accounts
from strongroom.server.accounts.models import FEATURES, Group, User
from strongroom.server.cli.common import (
    JsonOption,
    PasswordStdinOption,
    console,
    done,
    emit,
    err_console,
    operation,
    read_secret,
)
from strongroom.server.core.errors import UsageError

log = logging.getLogger(__name__)

user_app = typer.Typer(help="Users: add, list, disable, enable.", no_args_is_help=True)
group_app = typer.Typer(help="Security groups and their members.", no_args_is_help=True)
feature_app = typer.Typer(
    help="Feature access (the Mobile App) for users and groups.", no_args_is_help=True
)

UserOption = typer.Option(None, "--user", help="A user name (or DOMAIN\\name).")
GroupOption = typer.Option(None, "--group", help="A security group name.")


def _user_row(user: User, groups: list[str]) -> dict[str, object]:
    return {
        "id": user.id,
        "name": user.qualified_name,
        "display_name": user.display_name,
        "email": user.email,
        "admin": user.is_admin,
        "active": user.active,
        "groups": groups,
        "created_at": user.created_at.isoformat(),
    }


# --- users --------------------------------------------------------------------


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="Login name, or DOMAIN\\name."),
    admin: bool = typer.Option(False, "--admin", help="Make the user an admin."),
    domain: str | None = typer.Option(
        None, "--domain", help="Directory domain (shown as DOMAIN\\name)."
    ),
    display_name: str = typer.Option("", "--display-name", help="Full name."),
    email: str = typer.Option("", "--email", help="E-mail address."),
    password_stdin: bool = PasswordStdinOption,
) -> None:
    """Add a user; without --password-stdin a password is generated and shown once."""
    generated = not password_stdin
    password = (
        read_secret(True, "Password")
        if password_stdin
        else accounts.generate_password()
    )
    with operation() as (_instance, session, actor):
        user = accounts.create_user(
            session,
            actor,
            name,
            password=password,
            display_name=display_name,
            email=email,
            is_admin=admin,
            domain=domain,
        )
        qualified = user.qualified_name
    done(f"User {qualified} added{' (admin)' if admin else ''}.")
    if generated:
        # Printed once, here, and stored only as an Argon2id hash: nobody can
        # read it back later, so the operator must copy it now.
        console.print(
            f"  password  {password}  (shown once: give it to the user now)",
            highlight=False,
            markup=False,
        )


@user_app.command("list")
def user_list(as_json: bool = JsonOption) -> None:
    """List every user with their groups."""
    with operation() as (_instance, session, _actor):
        memberships: dict[str, list[str]] = {}
        for group, _count in accounts.list_groups(session):
            for member in accounts.members(session, group):
                memberships.setdefault(member.id, []).append(group.name)
        rows = [
            _user_row(user, memberships.get(user.id, []))
            for user in accounts.list_users(session)
        ]
    if not as_json:
        for row in rows:
            row["groups"] = ", ".join(row["groups"])  # type: ignore[arg-type]
    emit(
        rows,
        ["name", "display_name", "email", "admin", "active", "groups"],
        as_json=as_json,
        title="Users",
    )


@user_app.command("disable")
def user_disable(name: str = typer.Argument(..., help="The user to disable.")) -> None:
    """Disable a user: no sign-in, and their phones receive nothing more."""
    with operation() as (_instance, session, actor):
        user = accounts.find_user(session, name)
        accounts.set_active(session, actor, user, False)
        # Allowed (a stolen admin account must be stoppable at once), but the
        # web UI then has nobody who can administer it: say so, and the way back.
        last_admin = user.is_admin and not session.scalar(
            select(User.id).where(User.is_admin.is_(True), User.active.is_(True))
        )
    done(f"User {name} disabled.")
    if last_admin:
        err_console.print(
            f"warning: {name} was the last active administrator: nobody can use "
            f"Administration in the web UI until `strongroom user enable {name}` "
            "or `strongroom user add NAME --admin`",
            highlight=False,
            markup=False,
        )


@user_app.command("enable")
def user_enable(name: str = typer.Argument(..., help="The user to enable.")) -> None:
    """Enable a disabled user again."""
    with operation() as (_instance, session, actor):
        user = accounts.find_user(session, name)
        accounts.set_active(session, actor, user, True)
    done(f"User {name} enabled.")


@user_app.command("set-password")
def user_set_password(
    name: str = typer.Argument(..., help="The user whose web password to set."),
    password_stdin: bool = PasswordStdinOption,
) -> None:
    """Set a user's web password (read from stdin or a no-echo prompt)."""
    password = read_secret(password_stdin, "New password", confirm=True)
    with operation() as (_instance, session, actor):
        user = accounts.find_user(session, name)
        accounts.set_password(session, actor, user, password)
    done(f"Password of {name} set.")


# --- groups ---------------------------------------------------------------------


@group_app.command("add")
def group_add(
    name: str = typer.Argument(..., help="The group's name."),
    description: str = typer.Option("", "--description", help="What it is for."),
) -> None:
    """Create a security group."""
    with operation() as (_instance, session, actor):
        accounts.create_group(session, actor, name, description)
    done(f"Group {name} added.")


@group_app.command("list")
def group_list(as_json: bool = JsonOption) -> None:
    """List the groups with their member counts."""
    with operation() as (_instance, session, _actor):
        rows = [
            {
                "id": group.id,
                "name": group.name,
                "description": group.description,
                "members": count,
            }
            for group, count in accounts.list_groups(session)
        ]
    emit(rows, ["name", "members", "description"], as_json=as_json, title="Groups")


@group_app.command("members")
def group_members(
    name: str = typer.Argument(..., help="The group."), as_json: bool = JsonOption
) -> None:
    """List the members of a group."""
    with operation() as (_instance, session, _actor):
        group = accounts.find_group(session, name)
        rows = [
            {
                "id": user.id,
                "name": user.qualified_name,
                "display_name": user.display_name,
                "active": user.active,
            }
            for user in accounts.members(session, group)
        ]
    emit(rows, ["name", "display_name", "active"], as_json=as_json, title=name)


@group_app.command("add-member")
def group_add_member(
    group: str = typer.Argument(..., help="The group."),
    user: str = typer.Argument(..., help="The user to add."),
) -> None:
    """Add a user to a group."""
    with operation() as (_instance, session, actor):
        found_group = accounts.find_group(session, group)
        found_user = accounts.find_user(session, user)
        added = accounts.add_member(session, actor, found_group, found_user)
    done(f"{user} added to {group}." if added else f"{user} is already in {group}.")


@group_app.command("remove-member")
def group_remove_member(
    group: str = typer.Argument(..., help="The group."),
    user: str = typer.Argument(..., help="The user to remove."),
) -> None:
    """Remove a user from a group; their phones lose what the group gave them."""
    with operation() as (_instance, session, actor):
        found_group = accounts.find_group(session, group)
        found_user = accounts.find_user(session, user)
        removed = accounts.remove_member(session, actor, found_group, found_user)
    done(f"{user} removed from {group}." if removed else f"{user} is not in {group}.")


# --- feature access ---------------------------------------------------------------


def _check_feature(feature: str) -> str:
    if feature not in FEATURES:
        raise UsageError(
            f"unknown feature {feature!r}",
            hint=f"the features are: {', '.join(FEATURES)}",
        )
    return feature


def _grantee(
    session: Session, user: str | None, group: str | None
) -> tuple[User | None, Group | None, str]:
    if (user is None) == (group is None):
        raise UsageError("name exactly one grantee", hint="give --user U or --group G")
    if user is not None:
        return accounts.find_user(session, user), None, f"user {user}"
    return None, accounts.find_group(session, group or ""), f"group {group}"


@feature_app.command("grant")
def feature_grant(
    feature: str = typer.Argument(..., help="The feature: mobile."),
    user: str | None = UserOption,
    group: str | None = GroupOption,
) -> None:
    """Grant a feature (mobile: the Mobile App) to a user or a group."""
    _check_feature(feature)
    with operation() as (_instance, session, actor):
        found_user, found_group, label = _grantee(session, user, group)
        granted = accounts.grant_feature(
            session, actor, feature, user=found_user, group=found_group
        )
    done(
        f"Feature {feature} granted to {label}."
        if granted
        else f"{label} already holds feature {feature}."
    )


@feature_app.command("revoke")
def feature_revoke(
    feature: str = typer.Argument(..., help="The feature: mobile."),
    user: str | None = UserOption,
    group: str | None = GroupOption,
) -> None:
    """Take a feature back from a user or a group."""
    _check_feature(feature)
    with operation() as (_instance, session, actor):
        found_user, found_group, label = _grantee(session, user, group)
        revoked = accounts.revoke_feature(
            session, actor, feature, user=found_user, group=found_group
        )
    done(
        f"Feature {feature} revoked from {label}."
        if revoked
        else f"{label} did not hold feature {feature} directly."
    )


@feature_app.command("list")
def feature_list(as_json: bool = JsonOption) -> None:
    """List who holds each feature, directly or as a group."""
    with operation() as (_instance, session, _actor):
        rows: list[dict[str, object]] = []
        for feature in FEATURES:
            for grant in accounts.feature_grants(session, feature):
                if grant.user_id is not None:
                    name = accounts.get_user(session, grant.user_id).qualified_name
                    kind = "user"
                else:
                    found = session.get(Group, grant.group_id)
                    name = found.name if found else "?"
                    kind = "group"
                rows.append({"feature": feature, "grantee_kind": kind, "grantee": name})
    rows.sort(key=lambda r: (r["feature"], r["grantee_kind"], str(r["grantee"])))
    emit(
        rows, ["feature", "grantee_kind", "grantee"], as_json=as_json, title="Features"
    )
