"""doctor's configuration checks: variables, secret key and owner password."""

from __future__ import annotations

from pathlib import Path

from werkzeug.security import generate_password_hash

from doctor_helpers import make_context
from fit_converter.doctor.checks.configuration import (
    check_owner_password,
    check_secret_key,
    check_variables,
)
from fit_converter.doctor.context import EnvFile, build_context, parse_env_file
from fit_converter.doctor.framework import Status


def test_variables_valid(tmp_path: Path) -> None:
    result = check_variables(make_context(tmp_path, env={"FIT_CONVERTER_RETRIES": "2"}))
    assert result.status is Status.OK
    assert result.hint is None


def test_variables_invalid_value_named(tmp_path: Path) -> None:
    context = make_context(
        tmp_path, env={"FIT_CONVERTER_RETRIES": "many", "FIT_CONVERTER_LOG_LEVEL": "LOUD"}
    )
    result = check_variables(context)
    assert result.status is Status.ERROR
    assert "2 invalid settings" in result.message
    assert any("FIT_CONVERTER_RETRIES='many'" in line for line in result.details)
    assert any("FIT_CONVERTER_LOG_LEVEL='LOUD'" in line for line in result.details)
    assert result.hint is not None
    assert "systemctl restart" in result.hint


def test_variables_unknown_warned(tmp_path: Path) -> None:
    context = make_context(tmp_path, env={"FIT_CONVERTER_POLL_INTERVALL": "3"})
    result = check_variables(context)
    assert result.status is Status.WARNING
    assert "FIT_CONVERTER_POLL_INTERVALL" in result.message


def test_variables_host_and_port_known(tmp_path: Path) -> None:
    context = make_context(
        tmp_path, env={"FIT_CONVERTER_HOST": "127.0.0.1", "FIT_CONVERTER_PORT": "80"}
    )
    assert check_variables(context).status is Status.OK


def test_variables_app_and_watcher_differ(tmp_path: Path) -> None:
    app = EnvFile(Path("/etc/fit-converter/app.env"), {"FIT_CONVERTER_DATA_DIR": "/srv/a"})
    watcher = EnvFile(Path("/etc/fit-converter/watcher.env"), {"FIT_CONVERTER_DATA_DIR": "/srv/b"})
    result = check_variables(make_context(tmp_path, env_files=[app, watcher]))
    assert result.status is Status.ERROR
    assert "differs between the app and the watcher" in result.message


def test_variables_unreadable_env_file(tmp_path: Path) -> None:
    unreadable = EnvFile(Path("/etc/fit-converter/app.env"), error="Permission denied")
    result = check_variables(make_context(tmp_path, env_files=[unreadable]))
    assert result.status is Status.SKIPPED
    assert result.message.startswith("cannot check: cannot read /etc/fit-converter/app.env")


def test_env_file_parsed_like_systemd(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    path.write_text(
        "# comment\n; other comment\nFIT_CONVERTER_RETRIES=4\n"
        'FLASK_SECRET_KEY="quoted value"\nexport FIT_CONVERTER_LOG_LEVEL=debug\n\nnot a line\n'
    )
    env_file = parse_env_file(path)
    assert env_file.error is None
    assert env_file.values == {
        "FIT_CONVERTER_RETRIES": "4",
        "FLASK_SECRET_KEY": "quoted value",
        "FIT_CONVERTER_LOG_LEVEL": "debug",
    }


def test_env_files_override_environment(tmp_path: Path) -> None:
    path = tmp_path / "watcher.env"
    path.write_text(f"FIT_CONVERTER_DATA_DIR={tmp_path / 'from-file'}\n")
    context = build_context(
        env_file_paths=[path], environ={"FIT_CONVERTER_DATA_DIR": str(tmp_path / "from-env")}
    )
    assert context.settings().data_dir == tmp_path / "from-file"


def test_secret_key_from_private_env_file(tmp_path: Path) -> None:
    env_path = tmp_path / "app.env"
    env_path.write_text("FLASK_SECRET_KEY=0f3c9a1b7d2e4f6a8b0c1d2e3f4a5b6c\n")
    env_path.chmod(0o640)
    context = make_context(tmp_path, env_files=[parse_env_file(env_path)])
    context.env["FLASK_SECRET_KEY"] = "0f3c9a1b7d2e4f6a8b0c1d2e3f4a5b6c"
    result = check_secret_key(context)
    assert result.status is Status.OK, result.message


def test_secret_key_world_readable(tmp_path: Path) -> None:
    env_path = tmp_path / "app.env"
    env_path.write_text("FLASK_SECRET_KEY=0f3c9a1b7d2e4f6a8b0c1d2e3f4a5b6c\n")
    env_path.chmod(0o644)
    context = make_context(tmp_path, env_files=[parse_env_file(env_path)])
    context.env["FLASK_SECRET_KEY"] = "0f3c9a1b7d2e4f6a8b0c1d2e3f4a5b6c"
    result = check_secret_key(context)
    assert result.status is Status.ERROR
    assert result.hint is not None
    assert f"chmod o-rwx {env_path}" in result.hint


def test_secret_key_placeholder(tmp_path: Path) -> None:
    result = check_secret_key(
        make_context(tmp_path, env={"FLASK_SECRET_KEY": "change-me-please-now"})
    )
    assert result.status is Status.ERROR
    assert "placeholder" in result.message
    assert result.hint is not None
    assert "secrets.token_hex" in result.hint


def test_secret_key_too_short(tmp_path: Path) -> None:
    result = check_secret_key(make_context(tmp_path, env={"FLASK_SECRET_KEY": "a1b2c3"}))
    assert result.status is Status.ERROR
    assert "too short (6 characters" in result.message


def test_secret_key_never_in_output(tmp_path: Path) -> None:
    key = "change-me-0123456789abcdef"
    result = check_secret_key(make_context(tmp_path, env={"FLASK_SECRET_KEY": key}))
    assert key not in result.message
    assert key not in (result.hint or "")


def test_secret_key_missing_variable(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    del context.env["FLASK_SECRET_KEY"]
    result = check_secret_key(context)
    assert result.status is Status.WARNING
    assert "not set" in result.message
    assert not (tmp_path / "state" / "secret_key").exists()


def test_secret_key_generated_file(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    del context.env["FLASK_SECRET_KEY"]
    key_file = tmp_path / "state" / "secret_key"
    key_file.write_text("9" * 20 + "abcdef" * 4 + "\n")
    key_file.chmod(0o600)
    assert check_secret_key(context).status is Status.OK
    key_file.chmod(0o644)
    assert check_secret_key(context).status is Status.ERROR


def test_password_missing(tmp_path: Path) -> None:
    result = check_owner_password(make_context(tmp_path))
    assert result.status is Status.ERROR
    assert result.hint is not None
    assert "fit-converter set-password" in result.hint


def test_password_set(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    path = context.settings().password_path
    path.write_text(generate_password_hash("correct horse battery staple") + "\n")
    path.chmod(0o600)
    assert check_owner_password(context).status is Status.OK


def test_password_not_a_hash(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    path = context.settings().password_path
    path.write_text("hunter2\n")
    path.chmod(0o600)
    result = check_owner_password(context)
    assert result.status is Status.ERROR
    assert "does not contain a password hash" in result.message
    assert "hunter2" not in result.message


def test_password_world_readable(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    path = context.settings().password_path
    path.write_text(generate_password_hash("correct horse battery staple") + "\n")
    path.chmod(0o644)
    result = check_owner_password(context)
    assert result.status is Status.ERROR
    assert "readable by every user" in result.message
