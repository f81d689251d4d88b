"""Preferences of the app itself, kept beside the cache in the profile directory.

Only harmless choices live here (theme, auto-lock delay): nothing secret, and
nothing the organisation's policy decides. Biometric unlock is the core's
business (it needs a key in the platform keystore) and is not stored here.
"""

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from strongroom.client.app.theme import THEME_CHOICES

log = logging.getLogger(__name__)

FILE_NAME = "app-preferences.json"

# Minutes of no interaction before the app locks itself; 0 would be "never",
# which a password manager should not offer.
AUTO_LOCK_CHOICES: tuple[tuple[str, str], ...] = (
    ("1", "1 minute"),
    ("2", "2 minutes"),
    ("5", "5 minutes"),
    ("15", "15 minutes"),
    ("60", "1 hour"),
)
DEFAULT_AUTO_LOCK_MINUTES = 5


@dataclass(frozen=True)
class Preferences:
    """What a person chose in Settings."""

    theme: str = "system"
    auto_lock_minutes: int = DEFAULT_AUTO_LOCK_MINUTES

    def with_theme(self, theme: str) -> "Preferences":
        """A copy with another theme (unknown names fall back to "system")."""
        known = {key for key, _ in THEME_CHOICES}
        return replace(self, theme=theme if theme in known else "system")

    def with_auto_lock(self, minutes: int) -> "Preferences":
        """A copy with another auto-lock delay (clamped to the offered range)."""
        allowed = sorted(int(key) for key, _ in AUTO_LOCK_CHOICES)
        nearest = min(allowed, key=lambda m: abs(m - minutes))
        return replace(self, auto_lock_minutes=nearest)


def load(profile: Path) -> Preferences:
    """The saved preferences; the defaults when absent or unreadable."""
    path = profile / FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Preferences()
    except (OSError, ValueError) as exc:
        # A damaged preferences file must not keep the vault from opening.
        log.warning("app_preferences_unreadable error=%s", type(exc).__name__)
        return Preferences()
    prefs = Preferences()
    if isinstance(data, dict):
        prefs = prefs.with_theme(str(data.get("theme", prefs.theme)))
        minutes = data.get("auto_lock_minutes", prefs.auto_lock_minutes)
        if isinstance(minutes, int):
            prefs = prefs.with_auto_lock(minutes)
    return prefs


def save(profile: Path, prefs: Preferences) -> None:
    """Write `prefs` atomically (temporary file, then replace)."""
    profile.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".prefs-", dir=profile)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(prefs), handle)
        os.replace(tmp, profile / FILE_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
