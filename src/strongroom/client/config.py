"""The device's one settings object: environment `STRONGROOM_MOBILE_*` over defaults.

Nothing else in `strongroom.client` reads the environment. The CLI's
`--profile` flag overrides `STRONGROOM_MOBILE_HOME`.
"""

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

CACHE_FILE_NAME = "cache.sqlite3"
ERASED_FILE_NAME = "erased.json"


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "strongroom-mobile"


class ClientSettings(BaseSettings):
    """Everything the device core and its CLI need to know from the outside."""

    model_config = SettingsConfigDict(env_prefix="STRONGROOM_MOBILE_", extra="ignore")

    home: Path = Field(
        default_factory=_default_home,
        description="The profile directory holding this device's cache.",
    )
    session: SecretStr | None = Field(
        default=None, description="A token printed by `strongroom-mobile unlock`."
    )
    session_idle_minutes: int = Field(default=15, ge=1, le=1440)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    read_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    clipboard: Literal["auto", "wayland", "xclip", "xsel", "macos", "none"] = "auto"
    clipboard_clear_seconds: int = Field(default=30, ge=1, le=3600)
    keyring_backend: str | None = Field(
        default=None,
        description="Dotted class name of the keyring backend to use for biometric "
        "unlock; by default the most trusted secure one installed.",
    )

    @property
    def cache_file(self) -> Path:
        """The SQLite file of this profile."""
        return self.home / CACHE_FILE_NAME

    @property
    def erased_file(self) -> Path:
        """The note left behind when the cache was erased."""
        return self.home / ERASED_FILE_NAME


def load_client_settings(**overrides: Any) -> ClientSettings:
    """Build the settings, letting explicit `overrides` (CLI flags) win."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return ClientSettings(**clean)
