"""Errors raised while reading or writing import/export files.

    StrongroomError (core)
     └── InterchangeError          anything wrong with an import/export file
          ├── UnsupportedFormat    not a format Strongroom reads (or an old version)
          ├── UnreadableFile       the file cannot be opened at all
          ├── MalformedFile        the file breaks its format's rules or our limits
          ├── PasswordRequired     the file is encrypted and no password was given
          ├── WrongPassword        the password or key file does not open it
          └── IntegrityError       the file's own checksum says it was altered

Every message names the place (row, entry or item) and the fix, so the CLI and
the web can show it as it is. Messages never contain a secret value.
"""

from strongroom.server.core.errors import StrongroomError


class InterchangeError(StrongroomError):
    """Root of the import/export errors; nothing of an import has been kept."""

    code = "interchange"


class UnsupportedFormat(InterchangeError):
    """The file is not in a format Strongroom reads, or is an unsupported version."""

    code = "unsupported_format"


class UnreadableFile(InterchangeError):
    """The file could not be opened or read from disk."""

    code = "unreadable_file"


class MalformedFile(InterchangeError):
    """The file breaks its format's rules or exceeds a server limit.

    The message names the row, entry or item and the problem.
    """

    code = "malformed_file"


class PasswordRequired(InterchangeError):
    """The file is encrypted and the caller gave no password."""

    code = "password_required"


class WrongPassword(InterchangeError):
    """The password or key file given does not decrypt the file."""

    code = "wrong_password"


class IntegrityError(InterchangeError):
    """A checksum stored in the file does not match its contents."""

    code = "integrity_error"
