from __future__ import annotations

from pathlib import Path

import pytest

from fit_converter.config import load_settings
from fit_converter.errors import ConfigError


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "FIT_CONVERTER_DATA_DIR": str(tmp_path / "data"),
        "FIT_CONVERTER_STATE_DIR": str(tmp_path / "state"),
        "FLASK_SECRET_KEY": "0123456789abcdef0123",
    }


def test_defaults_resolve_inside_data_dir(tmp_path: Path) -> None:
    settings = load_settings(base_env(tmp_path))
    assert settings.inbox == tmp_path / "data" / "inbox"
    assert settings.outbox == tmp_path / "data" / "outbox"
    assert settings.logs_dir == tmp_path / "state" / "logs"
    assert settings.log_level == "INFO"
    assert settings.log_to_file is False


def test_xdg_defaults_for_local_run(tmp_path: Path) -> None:
    env = {
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
    }
    settings = load_settings(env)
    assert settings.data_dir == tmp_path / "xdg-data" / "fit-converter"
    assert settings.state_dir == tmp_path / "xdg-state" / "fit-converter"


def test_generated_secret_key_is_kept(tmp_path: Path) -> None:
    env = {
        "FIT_CONVERTER_STATE_DIR": str(tmp_path / "state"),
        "FIT_CONVERTER_DATA_DIR": str(tmp_path / "data"),
    }
    first = load_settings(env).secret_key
    second = load_settings(env).secret_key
    assert first == second
    assert len(first) == 64
    assert (tmp_path / "state" / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FIT_CONVERTER_LOG_LEVEL", "LOUD", "one of DEBUG"),
        ("FIT_CONVERTER_LOG_TO_FILE", "maybe", "true or false"),
        ("FIT_CONVERTER_POLL_INTERVAL", "-1", "positive number"),
        ("FIT_CONVERTER_POLL_INTERVAL", "soon", "positive number"),
        ("FIT_CONVERTER_RETRIES", "2.5", "whole number"),
        ("FIT_CONVERTER_RETRIES", "-1", "whole number"),
        ("FIT_CONVERTER_DATA_DIR", "relative/path", "absolute path"),
        ("FIT_CONVERTER_INBOX", "../elsewhere", "no '..'"),
        ("FIT_CONVERTER_MAX_UPLOAD_MB", "0", "whole number"),
    ],
)
def test_invalid_value_names_variable(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    env = base_env(tmp_path) | {variable: value}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert variable in message
    assert repr(value) in message
    assert expected in message


def test_short_secret_key_is_not_echoed(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"FLASK_SECRET_KEY": "short"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "short" not in str(caught.value)
    assert "FLASK_SECRET_KEY" in str(caught.value)


def test_valid_overrides(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {
        "FIT_CONVERTER_INBOX": "drop",
        "FIT_CONVERTER_OUTBOX": "/srv/csv",
        "FIT_CONVERTER_LOG_LEVEL": "debug",
        "FIT_CONVERTER_LOG_TO_FILE": "yes",
        "FIT_CONVERTER_POLL_INTERVAL": "0.5",
        "FIT_CONVERTER_RETRIES": "0",
    }
    settings = load_settings(env)
    assert settings.inbox == tmp_path / "data" / "drop"
    assert settings.outbox == Path("/srv/csv")
    assert settings.log_level == "DEBUG"
    assert settings.log_to_file is True
    assert settings.poll_interval == 0.5
    assert settings.retries == 0


def test_csv_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "FIT_CONVERTER_DATA_DIR": str(tmp_path / "data"),
            "FIT_CONVERTER_STATE_DIR": str(tmp_path / "state"),
            "FLASK_SECRET_KEY": "test-secret-key-0123456789",
            "FIT_CONVERTER_TABLES": "laps, hrv",
            "FIT_CONVERTER_UNITS": "pace",
            "FIT_CONVERTER_CSV_DELIMITER": "semicolon",
            "FIT_CONVERTER_CSV_DECIMAL_COMMA": "true",
            "FIT_CONVERTER_CSV_COLUMNS": "timestamp,heart_rate",
        }
    )
    assert settings.csv.tables == ("laps", "hrv")
    assert settings.csv.units == ("metric", "pace")
    assert settings.csv.delimiter == ";"
    assert settings.csv.decimal_comma is True
    assert settings.csv.columns == ("timestamp", "heart_rate")
    assert settings.csv.units_in_header is True


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FIT_CONVERTER_TABLES", "laps,bogus"),
        ("FIT_CONVERTER_UNITS", "furlongs"),
        ("FIT_CONVERTER_CSV_DELIMITER", "::"),
    ],
)
def test_invalid_csv_setting_is_rejected(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings(
            {
                "FIT_CONVERTER_DATA_DIR": str(tmp_path / "data"),
                "FIT_CONVERTER_STATE_DIR": str(tmp_path / "state"),
                "FLASK_SECRET_KEY": "test-secret-key-0123456789",
                variable: value,
            }
        )


def test_literal_tab_delimiter(tmp_path: Path) -> None:
    env = {"FIT_CONVERTER_DATA_DIR": str(tmp_path), "FIT_CONVERTER_STATE_DIR": str(tmp_path)}
    settings = load_settings({**env, "FIT_CONVERTER_CSV_DELIMITER": "\t"})
    assert settings.csv.delimiter == "\t"
