"""The one configuration object: environment `STRONGROOM_*` over
`strongroom.toml` in the data directory over defaults.

Nothing else in the server reads the environment.
"""

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_NAME = "strongroom.toml"
DEFAULT_DATA_DIR = Path("strongroom-data")


def _data_dir_before_parsing(init_source: PydanticBaseSettingsSource) -> Path:
    # The TOML file lives inside the data directory, so the directory has to be
    # known before pydantic-settings reads anything else: a flag wins over the
    # environment, which wins over the default.
    explicit = getattr(init_source, "init_kwargs", {}).get("data_dir")
    if explicit is not None:
        return Path(explicit)
    return Path(os.environ.get("STRONGROOM_DATA_DIR", DEFAULT_DATA_DIR))


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    """Everything a server process needs to know before it opens the database."""

    model_config = SettingsConfigDict(env_prefix="STRONGROOM_", extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means SQLite in the data directory.",
    )
    instance_key: SecretStr | None = Field(
        default=None,
        description="Base64 instance key; overrides the key file when set.",
    )
    environment: Literal["production", "development", "test"] = "production"
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8443, ge=1, le=65535)
    web_tls: bool = True
    appserver_host: str = "0.0.0.0"  # noqa: S104 - phones must reach it
    appserver_port: int = Field(default=9443, ge=1, le=65535)
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        # Checked here, not when logging is set up: a server would otherwise
        # die with a traceback from the logging module.
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"give one of {', '.join(LOG_LEVELS)}")
        return level

    @model_validator(mode="after")
    def _refuse_placeholder_key(self) -> "Settings":
        # A key copied from documentation protects nothing; refuse it where it
        # matters instead of running with it.
        key = self.instance_key.get_secret_value() if self.instance_key else ""
        if self.environment == "production" and key.lower() in {"changeme", "secret"}:
            raise ValueError(
                "STRONGROOM_INSTANCE_KEY holds a placeholder; set the key that "
                "`strongroom init` wrote or remove the variable"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: arguments, environment, TOML file, defaults."""
        toml_file = _data_dir_before_parsing(init_settings) / CONFIG_FILE_NAME
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'strongroom.db').resolve()}"

    @property
    def key_file(self) -> Path:
        """Where the instance key file lives."""
        return self.data_dir / "instance.key"

    @property
    def cert_file(self) -> Path:
        """The App Server's TLS certificate (made by `init` unless configured)."""
        return self.tls_cert_file or self.data_dir / "tls" / "appserver.crt"

    @property
    def cert_key_file(self) -> Path:
        """The App Server certificate's private key."""
        return self.tls_key_file or self.data_dir / "tls" / "appserver.key"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, letting explicit `overrides` (CLI flags) win."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)
