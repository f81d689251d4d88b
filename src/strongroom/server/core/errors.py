"""The server's one exception family; each error carries what the edge needs.

    StrongroomError                 message + hint, exit code 1, HTTP 400
     ├── UsageError                 the caller asked for something malformed (exit 2)
     ├── ValidationError            a field's value is wrong (names the field)
     ├── NotFound                   a named user, group, list, record... is absent (404)
     ├── AlreadyExists              a name is taken (409)
     ├── PermissionDenied           the actor may not do this (403)
     ├── AuthenticationFailed       credentials are wrong (401)
     │    └── LockedOut             too many failures; carries seconds until retry (429)
     ├── ConfigurationError         the installation is not set up right
     │    ├── MissingInstanceKey    the data directory has no instance key
     │    ├── SchemaBehind          the database needs `strongroom db upgrade`
     │    └── SchemaAhead           a newer Strongroom migrated the database
     └── ServiceUnavailable         the database or a dependency does not answer (503)

The web, App Server and CLI each have one handler that turns these into words.
"""


class StrongroomError(Exception):
    """A problem a user can act on: `message` says what, `hint` says how to fix."""

    exit_code = 1
    http_status = 400
    code = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(StrongroomError):
    """The command or request was put together wrongly."""

    exit_code = 2
    code = "usage"


class ValidationError(StrongroomError):
    """A field holds a value that is not allowed; `field` names it."""

    code = "invalid_field"
    http_status = 422

    def __init__(self, field: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class NotFound(StrongroomError):
    """The named thing does not exist."""

    code = "not_found"
    http_status = 404


class AlreadyExists(StrongroomError):
    """The name is already taken where it must be unique."""

    code = "already_exists"
    http_status = 409


class PermissionDenied(StrongroomError):
    """The actor lacks the permission this needs."""

    code = "permission_denied"
    http_status = 403


class AuthenticationFailed(StrongroomError):
    """The credentials did not match; messages stay vague on purpose."""

    code = "authentication_failed"
    http_status = 401


class LockedOut(AuthenticationFailed):
    """Too many failed attempts; `retry_after` says how long to wait."""

    code = "locked_out"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class ConfigurationError(StrongroomError):
    """The installation is missing something it needs."""

    code = "configuration"
    http_status = 500


class MissingInstanceKey(ConfigurationError):
    """No instance key could be found or read."""

    code = "missing_instance_key"


class SchemaBehind(ConfigurationError):
    """The database schema is older than this version of Strongroom."""

    code = "schema_behind"


class SchemaAhead(ConfigurationError):
    """The database was migrated by a newer version of Strongroom."""

    code = "schema_ahead"


class ServiceUnavailable(StrongroomError):
    """A dependency (usually the database) does not answer."""

    code = "unavailable"
    http_status = 503
