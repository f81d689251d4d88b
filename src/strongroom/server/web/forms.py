"""Reading browser forms and query strings without ever failing on bad input.

Every value a browser sends is untrusted text. `FormReader` turns it into
Python values and collects one message per field instead of raising, so a page
can show every problem next to its field in one go.
"""

import datetime
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData, QueryParams

from strongroom.server.core.errors import ValidationError

# Far beyond any field the UI has; stops a megabyte pasted into a name box
# from travelling further than this module.
DEFAULT_MAX = 65_536


def _clean(value: Any) -> str | None:
    # Uploads where text is expected, and anything not a string, read as absent.
    return value if isinstance(value, str) else None


class FormReader:
    """Typed access to one submitted form (or query string), with field errors."""

    def __init__(self, data: FormData | QueryParams | Mapping[str, str]) -> None:
        self._data = data
        self.errors: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        """True when no field had a problem."""
        return not self.errors

    def error(self, name: str, message: str) -> None:
        """Attach `message` to field `name` (the first message wins)."""
        self.errors.setdefault(name, message)

    def raw(self, name: str) -> str | None:
        """The value as sent, or None when absent or not text."""
        return _clean(self._data.get(name))

    def values(self, name: str) -> list[str]:
        """Every text value sent under `name` (checkboxes, multi-selects)."""
        getlist = getattr(self._data, "getlist", None)
        found = getlist(name) if getlist else [self._data.get(name)]
        return [v for v in found if isinstance(v, str) and "\x00" not in v]

    def text(
        self,
        name: str,
        *,
        label: str | None = None,
        required: bool = False,
        max_len: int = DEFAULT_MAX,
        strip: bool = True,
    ) -> str:
        """A text field; empty string when absent. Records an error when invalid."""
        value = self.raw(name) or ""
        if strip:
            value = value.strip()
        label = label or name.replace("_", " ")
        # PostgreSQL refuses NUL in text; no legitimate form value carries it.
        if "\x00" in value:
            verb = "contain" if _plural(label) else "contains"
            self.error(name, f"The {label} {verb} a character that is not allowed.")
            return ""
        if required and not value:
            self.error(name, f"Enter the {label}.")
        elif len(value) > max_len:
            verb = "are" if _plural(label) else "is"
            self.error(
                name,
                f"The {label} {verb} {len(value)} characters; the limit is {max_len}.",
            )
        return value

    def integer(
        self, name: str, *, low: int, high: int, default: int, label: str | None = None
    ) -> int:
        """A whole number within [low, high]; `default` when absent or invalid."""
        text = (self.raw(name) or "").strip()
        if not text:
            return default
        label = label or name.replace("_", " ")
        try:
            value = int(text)
        except ValueError:
            self.error(name, f"The {label} must be a whole number.")
            return default
        if not low <= value <= high:
            self.error(name, f"The {label} must be from {low} to {high}.")
            return default
        return value

    def choice(
        self,
        name: str,
        options: Mapping[str, Any] | list[str],
        *,
        default: str,
        label: str | None = None,
    ) -> str:
        """One of `options`; anything else records an error and gives `default`.

        With `label` the message names the field (for forms whose errors are
        read away from the field, such as filter bars and plain-text replies).
        """
        value = (self.raw(name) or "").strip()
        if not value:
            return default
        if value not in options:
            where = f" for the {label}" if label else ""
            self.error(name, f"Choose one of the offered options{where}.")
            return default
        return value

    def flag(self, name: str) -> bool:
        """A checkbox: present and not a 'no'-like value."""
        value = (self.raw(name) or "").strip().lower()
        return value in {"on", "yes", "true", "1"}

    def date(self, name: str, *, label: str | None = None) -> datetime.date | None:
        """An ISO date (YYYY-MM-DD) or None when empty."""
        text = (self.raw(name) or "").strip()
        if not text:
            return None
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            label = label or name.replace("_", " ")
            self.error(name, f"The {label} must be a date like 2030-12-31.")
            return None


def page_number(params: QueryParams, name: str = "page") -> int:
    """A 1-based page number from the query string, 1 when absent or invalid."""
    text = params.get(name) or ""
    try:
        value = int(text)
    except ValueError:
        return 1
    return min(max(value, 1), 1_000_000)


def _plural(label: str) -> bool:
    """Labels that are plural nouns ("notes") take "are", not "is"."""
    return label in {"notes", "details", "settings"}


def sentence(text: str) -> str:
    """`text` with a capital first letter and a final full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def error_for(exc: ValidationError, mapping: Mapping[str, str]) -> tuple[str, str]:
    """Map a service ValidationError to (form field name, message).

    Services name fields as people do ("host name", "OTP secret"); forms use
    their own input names. Unknown fields go to "__all__" (shown on top).
    """
    name = mapping.get(exc.field, "__all__")
    message = sentence(exc.message)
    if exc.hint:
        # Services write hints in lower case for every edge; a page shows
        # them as a sentence of their own after the message.
        message += " " + sentence(exc.hint)
    return name, message
