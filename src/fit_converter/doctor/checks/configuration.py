"""Checks of the environment variables, the secret key and the owner password."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fit_converter.config import VARIABLES, load_settings
from fit_converter.doctor.checks.common import as_service_user, settings_or_result, sudo
from fit_converter.doctor.context import Context
from fit_converter.doctor.framework import Result
from fit_converter.errors import ConfigError

#: Variables read outside config.py: the host and port of ``fit-converter run``.
OTHER_VARIABLES = frozenset({"FIT_CONVERTER_HOST", "FIT_CONVERTER_PORT"})

#: Settings that must be the same for the app and the watcher, because both use the folders.
SHARED_VARIABLES = (
    "FIT_CONVERTER_DATA_DIR",
    "FIT_CONVERTER_STATE_DIR",
    "FIT_CONVERTER_INBOX",
    "FIT_CONVERTER_OUTBOX",
)

#: Lower-case words that mark a secret key copied from an example.
PLACEHOLDER_WORDS = ("change", "replace", "example", "placeholder", "secret", "xxxx", "todo")

SECRET_KEY_COMMAND = "python3 -c 'import secrets; print(secrets.token_hex(32))'"

#: Method prefixes of werkzeug.security.generate_password_hash.
PASSWORD_HASH_PREFIXES = ("scrypt:", "pbkdf2:")


def _source_of(context: Context, variable: str) -> str:
    """Name the env file that sets ``variable`` (the last one wins), or the environment."""
    for env_file in reversed(context.env_files):
        if variable in env_file.values:
            return str(env_file.path)
    return "the environment"


def check_variables(context: Context) -> Result:
    """Validate each FIT_CONVERTER_* value on its own, so one bad value hides no other."""
    unreadable = [env_file for env_file in context.env_files if env_file.error]
    if unreadable:
        return Result.cannot_check(
            f"cannot read {unreadable[0].path} as user {context.user_name} ({unreadable[0].error})",
            context.as_root_hint(),
        )

    errors: list[str] = []
    first_invalid: str | None = None
    for variable in VARIABLES:
        if variable == "FLASK_SECRET_KEY" or variable not in context.env:
            continue
        try:
            load_settings({variable: context.env[variable], "FLASK_SECRET_KEY": "x" * 32})
        except ConfigError as error:
            errors.append(f"{error} (set in {_source_of(context, variable)})")
            first_invalid = first_invalid or variable

    for variable in SHARED_VARIABLES:
        values = {
            str(env_file.path): env_file.values[variable]
            for env_file in context.env_files
            if variable in env_file.values
        }
        if len(set(values.values())) > 1:
            listed = ", ".join(f"{value!r} in {path}" for path, value in values.items())
            errors.append(f"{variable} differs between the app and the watcher: {listed}")
            first_invalid = first_invalid or variable

    unknown = sorted(
        name
        for name in context.env
        if name.startswith("FIT_CONVERTER_") and name not in VARIABLES.keys() | OTHER_VARIABLES
    )
    files = ", ".join(str(env_file.path) for env_file in context.env_files) or "the environment"

    if first_invalid is not None:
        return Result.error(
            errors[0] if len(errors) == 1 else f"{len(errors)} invalid settings: {errors[0]}",
            f"Correct {first_invalid} in {_source_of(context, first_invalid)}, "
            "then restart the services: "
            + sudo(context, "systemctl restart fit-converter-app fit-converter-watcher"),
            errors + [f"unknown variable ignored: {name}" for name in unknown],
        )
    if unknown:
        return Result.warning(
            "unknown variable(s) ignored: " + ", ".join(unknown),
            f"Check the spelling in {files}; the known variables are listed in "
            "/usr/share/doc/fit-converter/README.md (section Configuration).",
            [f"{name} (set in {_source_of(context, name)})" for name in unknown],
        )
    count = sum(1 for name in context.env if name in VARIABLES)
    return Result.ok(f"{count} variable(s) set, all valid (read from {files})")


def _world_readable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IROTH)


def _placeholder(value: str) -> bool:
    lowered = value.lower()
    return len(set(value)) <= 2 or any(word in lowered for word in PLACEHOLDER_WORDS)


def check_secret_key(context: Context) -> Result:
    """Check that the key signing session cookies is set, random-looking and not world-readable."""
    value = context.env.get("FLASK_SECRET_KEY", "").strip()
    if value:
        source = _source_of(context, "FLASK_SECRET_KEY")
        if len(value) < 16:
            return Result.error(
                f"FLASK_SECRET_KEY in {source} is too short ({len(value)} characters, at least 16)",
                f"Set FLASK_SECRET_KEY in {source} to the output of {SECRET_KEY_COMMAND}",
            )
        if _placeholder(value):
            return Result.error(
                f"FLASK_SECRET_KEY in {source} looks like a placeholder, not a random key",
                f"Set FLASK_SECRET_KEY in {source} to the output of {SECRET_KEY_COMMAND}",
            )
        key_file = Path(source) if source != "the environment" else None
    else:
        settings = settings_or_result(context)
        if isinstance(settings, Result):
            return settings
        key_file = settings.state_dir / "secret_key"
        try:
            length = len(key_file.read_text(encoding="ascii").strip())
        except FileNotFoundError:
            return Result.warning(
                "FLASK_SECRET_KEY is not set and no key has been generated yet",
                f"Start the web app once to generate {key_file}, or set FLASK_SECRET_KEY "
                f"to the output of {SECRET_KEY_COMMAND}",
            )
        except PermissionError:
            return Result.cannot_check(
                f"{key_file} is not readable by user {context.user_name}",
                context.as_root_hint(),
            )
        if length < 16:
            return Result.error(
                f"the generated key in {key_file} is too short ({length} characters)",
                f"Delete it and restart the app to generate a new one: "
                f"{sudo(context, f'rm {key_file}')}",
            )

    if key_file is not None and _world_readable(key_file):
        return Result.error(
            f"{key_file} holds the secret key and every user can read it",
            sudo(context, f"chmod o-rwx {key_file}"),
        )
    where = key_file or "the environment"
    return Result.ok(f"secret key set ({where}) and not readable by other users")


def check_owner_password(context: Context) -> Result:
    """Check that the hash of the web app's owner password exists and is private."""
    settings = settings_or_result(context)
    if isinstance(settings, Result):
        return settings
    path = settings.password_path
    set_password = as_service_user(context, "fit-converter set-password")

    try:
        first_line = path.read_text(encoding="utf-8").partition("\n")[0].strip()
    except FileNotFoundError:
        if not os.access(path.parent, os.X_OK) and path.parent.exists():
            return Result.cannot_check(
                f"{path.parent} is not accessible to user {context.user_name}",
                context.as_root_hint(),
            )
        return Result.error(
            "no owner password is set, so nobody can sign in to the web app",
            f"Set one: {set_password}",
        )
    except PermissionError:
        return Result.cannot_check(
            f"{path} is not readable by user {context.user_name}", context.as_root_hint()
        )

    if not first_line.startswith(PASSWORD_HASH_PREFIXES) or "$" not in first_line:
        return Result.error(
            f"{path} does not contain a password hash", f"Set the password again: {set_password}"
        )
    if _world_readable(path):
        return Result.error(
            f"{path} (the owner password hash) is readable by every user",
            sudo(context, f"chmod o-rwx {path}"),
        )
    return Result.ok(f"owner password set ({path})")
