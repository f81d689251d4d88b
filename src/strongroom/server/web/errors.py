"""Errors only the browser UI raises; `handlers` turns them into pages.

StrongroomError (server/core/errors.py)
 └── PermissionDenied
      ├── AuditedDenial     a refusal written to the audit log (403)
      └── CsrfRejected      a form without the session's token (403)
LoginRequired               no live session: redirect to the sign-in page
"""

from strongroom.server.core.actor import Actor
from strongroom.server.core.errors import PermissionDenied


class LoginRequired(Exception):
    """The request has no live session; `reason` says why (expired, ...)."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason or "sign in required")
        self.reason = reason


class AuditedDenial(PermissionDenied):
    """A refusal that is a security matter: the handler audits it as `event`."""

    def __init__(
        self,
        actor: Actor,
        message: str,
        *,
        event: str = "web.access_denied",
        list_id: str | None = None,
        record_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.actor = actor
        self.event = event
        self.list_id = list_id
        self.record_id = record_id


class CsrfRejected(AuditedDenial):
    """A state-changing request without the right CSRF token."""

    def __init__(self, actor: Actor | None) -> None:
        super().__init__(
            actor or Actor(user_id=None, name="(not signed in)", platform="web"),
            "This form was out of date or was not sent from this site, so nothing "
            "was changed.",
            event="web.csrf_rejected",
            hint="Go back, reload the page and submit the form again.",
        )
