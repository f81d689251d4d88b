"""Who is calling the API: the `Authorization: Bearer sr_...` key and its scope.

Every API route depends on `api_context`. It checks the key in a short
transaction of its own (so a rejected key is audited even though the request
fails) and hands the route an `ApiContext` whose `session()` opens the
request's one unit of work.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from strongroom.server.accounts import api_keys
from strongroom.server.core.actor import Actor
from strongroom.server.core.errors import (
    AuthenticationFailed,
    ConfigurationError,
    PermissionDenied,
)
from strongroom.server.core.instance import Instance

log = logging.getLogger(__name__)

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made by `strongroom api-key create`, sent as "
    "`Authorization: Bearer sr_<id>_<secret>`.",
)


@dataclass(frozen=True)
class ApiContext:
    """The instance, the key's principal and the actor for service calls."""

    instance: Instance
    principal: api_keys.KeyPrincipal
    actor: Actor

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction, committed when the block ends without an error."""
        with self.instance.db.session() as session:
            yield session

    def require_list(self, list_id: str) -> None:
        """Refuse a list outside a list-scoped key's scope (403, audited)."""
        if not self.principal.allows_list(list_id):
            raise PermissionDenied(
                "this API key is not scoped to that password list",
                hint="use a key scoped to the list, or a system-wide key",
            )

    def require_system(self) -> None:
        """Refuse a list-scoped key where only a system-wide key may act."""
        if not self.principal.system_wide:
            raise PermissionDenied(
                "this API key is scoped to password lists; this needs a "
                "system-wide key",
            )

    def require_permission_admin(self, list_id: str) -> None:
        """Refuse a list-scoped key for deleting a list or changing who may use it.

        Why: a key scoped to one list was meant to read and edit its records;
        letting it delete the list or grant Admin would let a leaked key widen
        its own reach. These need a system-wide key; the vault then checks
        that its user is Admin on the list (or a system administrator).
        """
        self.require_list(list_id)
        if not self.principal.system_wide:
            raise PermissionDenied(
                "a list-scoped API key may read the list and edit its records "
                "only; deleting the list or changing its permissions needs a "
                "system-wide key",
                hint="use a system-wide key of a user who is Admin on the list",
            )

    def require_admin(self) -> None:
        """Refuse anything but a system-wide key acting as an administrator."""
        self.require_system()
        if not self.principal.is_admin:
            raise PermissionDenied(
                "only administrators may do this",
                hint="use a system-wide key of an administrator",
            )


def instance_of(request: Request) -> Instance:
    """The Instance the application serves (`app.state.instance`)."""
    found = getattr(request.app.state, "instance", None)
    if not isinstance(found, Instance):
        raise ConfigurationError(
            "the API is not attached to an instance",
            hint="set app.state.instance when building the application",
        )
    return found


def _client_ip(request: Request) -> str | None:
    return request.client.host[:64] if request.client else None


def api_context(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiContext:
    """Authenticate the request's API key; 401 without a live one."""
    if credentials is None:
        raise AuthenticationFailed(
            "this endpoint needs an API key",
            hint="send the header `Authorization: Bearer sr_...`",
        )
    instance = instance_of(request)
    ip = _client_ip(request)
    with instance.db.session() as session:
        principal = api_keys.authenticate(session, credentials.credentials, ip=ip)
    if principal is None:
        # TODO: rejected keys are not rate-limited per address, so a client can
        # fill the audit log with api_key.rejected events; guessing a 256-bit
        # secret is hopeless either way, so only the log's size is at stake.
        # Deliberately one message for unknown, forged, revoked and disabled:
        # the caller learns nothing about which keys exist.
        raise AuthenticationFailed(
            "the API key is not valid",
            hint="check the key, or ask an administrator for a new one",
        )
    ctx = ApiContext(instance=instance, principal=principal, actor=principal.actor(ip))
    # Kept on the request so a later 403 can be audited with the right actor.
    request.state.api_ctx = ctx
    log.debug("api_request key_id=%s user_id=%s", principal.key_id, principal.user_id)
    return ctx


Context = Annotated[ApiContext, Depends(api_context)]
