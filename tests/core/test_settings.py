"""Settings: safe embedded defaults, a generated secret, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings


def test_embedded_defaults_and_generated_secret(tmp_path: Path) -> None:
    settings = load_settings({"PORTEVOIX_DATA_DIR": str(tmp_path)}, dotenv=None)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/portevoix.db"
    assert settings.redis_url == "" and settings.timezone == "Europe/Paris"
    stored = (tmp_path / "secret_key").read_text()
    assert settings.secret_key == stored and len(stored) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    # the same key on the next start: sessions and encrypted credentials survive a restart
    assert load_settings({"PORTEVOIX_DATA_DIR": str(tmp_path)}, dotenv=None).secret_key == stored


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"PORTEVOIX_DATA_DIR={tmp_path}\nPORTEVOIX_TIMEZONE=America/Cayenne\nPORTEVOIX_LOG_LEVEL=DEBUG\n")
    settings = load_settings({"PORTEVOIX_LOG_LEVEL": "WARNING"}, dotenv=dotenv)
    assert settings.timezone == "America/Cayenne" and settings.log_level == "WARNING"


def test_channel_settings_are_grouped_by_key(tmp_path: Path) -> None:
    settings = load_settings(
        {"PORTEVOIX_DATA_DIR": str(tmp_path), "PORTEVOIX_CHANNEL_MASTODON_BASE_URL": "http://127.0.0.1:9"},
        dotenv=None,
    )
    assert settings.channels == {"mastodon": {"base_url": "http://127.0.0.1:9"}}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "mysql://db", "DATABASE_URL"),
        ("REDIS_URL", "http://cache", "REDIS_URL"),
        ("SECRET_KEY", "too-short", "SECRET_KEY"),
        ("PORTEVOIX_TIMEZONE", "Mars/Olympus", "PORTEVOIX_TIMEZONE"),
        ("PORTEVOIX_SIMULATED_NETWORKS", "perhaps", "PORTEVOIX_SIMULATED_NETWORKS"),
        ("PORTEVOIX_DEFAULT_LOCALE", "de", "PORTEVOIX_DEFAULT_LOCALE"),
        ("PORTEVOIX_COLOUR", "blue", "unknown setting PORTEVOIX_COLOUR"),
    ],
)
def test_bad_values_name_the_variable_and_what_it_expects(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings({"PORTEVOIX_DATA_DIR": str(tmp_path), variable: value}, dotenv=None)
    assert "expected" in str(caught.value) or "known" in str(caught.value)
