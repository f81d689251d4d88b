"""The settings object: environment over TOML over defaults."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from strongroom.server.core.config import CONFIG_FILE_NAME, load_settings


def test_toml_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A TOML value applies, and the environment overrides it."""
    (tmp_path / CONFIG_FILE_NAME).write_text('web_port = 9000\nlog_format = "json"\n')
    monkeypatch.delenv("STRONGROOM_WEB_PORT", raising=False)
    settings = load_settings(data_dir=tmp_path)
    assert settings.web_port == 9000
    assert settings.log_format == "json"

    monkeypatch.setenv("STRONGROOM_WEB_PORT", "9100")
    assert load_settings(data_dir=tmp_path).web_port == 9100


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    """Without a URL the database is strongroom.db inside the data directory."""
    settings = load_settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'strongroom.db'}"


def test_placeholder_key_refused_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A placeholder instance key is refused rather than used."""
    monkeypatch.setenv("STRONGROOM_INSTANCE_KEY", "changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        load_settings(data_dir=tmp_path)
