"""Helpers shared by the checks: settings, the heartbeat, durations and fix commands."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fit_converter.config import Settings
from fit_converter.doctor.context import Context
from fit_converter.doctor.framework import Result
from fit_converter.errors import ConfigError

#: The watcher counts as alive while its heartbeat is at most this many seconds old.
HEARTBEAT_MAX_AGE = 120.0


def settings_or_result(context: Context) -> Settings | Result:
    """Return the settings, or the result to report when they cannot be known."""
    unreadable = [env_file for env_file in context.env_files if env_file.error]
    if unreadable:
        names = ", ".join(f"{env_file.path} ({env_file.error})" for env_file in unreadable)
        return Result.cannot_check(
            f"cannot read {names} as user {context.user_name}", context.as_root_hint()
        )
    try:
        return context.settings()
    except ConfigError as error:
        return Result.cannot_check(
            f"the configuration is invalid ({error.variable})", "Fix configuration.variables first."
        )


def sudo(context: Context, command: str) -> str:
    """Prefix ``command`` with sudo unless doctor already runs as root."""
    return command if context.is_root else f"sudo {command}"


def as_service_user(context: Context, command: str) -> str:
    """Return ``command`` as the service user runs it, e.g. ``sudo -u fitconv ...``."""
    if context.is_service_user:
        return command
    return f"sudo -u {context.service_user_name} {command}"


def age_text(seconds: float) -> str:
    """Return a duration such as ``45 s``, ``12 min``, ``3 h`` or ``2 days``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


@dataclass
class Heartbeat:
    """The watcher's heartbeat file, or why it could not be read."""

    data: dict[str, Any] | None
    problem: str | None
    permission_denied: bool = False

    @property
    def mode(self) -> str | None:
        if self.data is None:
            return None
        mode = self.data.get("mode")
        return mode if isinstance(mode, str) else None


def read_heartbeat(settings: Settings) -> Heartbeat:
    path = settings.heartbeat_path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Heartbeat(None, f"{path} does not exist")
    except PermissionError:
        return Heartbeat(None, f"{path} is not readable", permission_denied=True)
    except OSError as error:
        return Heartbeat(None, f"cannot read {path}: {error.strerror or error}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return Heartbeat(None, f"{path} is not valid JSON ({error})")
    if not isinstance(data, dict):
        return Heartbeat(None, f"{path} does not contain a JSON object")
    return Heartbeat(data, None)
