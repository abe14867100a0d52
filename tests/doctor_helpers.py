"""Builders for doctor tests: a context on temporary folders and a scripted runner."""

from __future__ import annotations

import datetime as dt
import os
import pwd
import secrets
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from fit_converter.doctor.context import Context, EnvFile
from fit_converter.errors import ConfigError

Reply = subprocess.CompletedProcess[str] | BaseException | Callable[[Sequence[str]], object]


def completed(
    stdout: str = "", returncode: int = 0, stderr: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], returncode, stdout, stderr)


class ScriptedRunner:
    """Replace commands with scripted replies by program name; others raise FileNotFoundError.

    A reply keyed by a tuple such as ("ufw", "app") matches commands that start with it;
    the longest matching key wins. Commands not scripted run for real when listed in
    ``real``.
    """

    def __init__(
        self, replies: dict[str | tuple[str, ...], Reply] | None = None, real: Sequence[str] = ()
    ) -> None:
        self.replies = {
            (key,) if isinstance(key, str) else key: value for key, value in (replies or {}).items()
        }
        self.real = set(real)
        self.calls: list[list[str]] = []

    def __call__(self, command: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        command = list(command)
        self.calls.append(command)
        matches = [key for key in self.replies if tuple(command[: len(key)]) == key]
        if matches:
            reply = self.replies[max(matches, key=len)]
            if isinstance(reply, BaseException):
                raise reply
            if callable(reply):
                result = reply(command)
                assert isinstance(result, subprocess.CompletedProcess)
                return result
            return reply
        if command[0] in self.real:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        raise FileNotFoundError(2, "No such file or directory", command[0])


def make_context(
    root: Path,
    *,
    env: dict[str, str] | None = None,
    env_files: list[EnvFile] | None = None,
    runner: ScriptedRunner | None = None,
    service_user: str | None = None,
    uid: int | None = None,
    create_folders: bool = True,
) -> Context:
    """Return a context whose folders live under ``root``, as a healthy local install."""
    values = {
        "FIT_CONVERTER_DATA_DIR": str(root / "data"),
        "FIT_CONVERTER_STATE_DIR": str(root / "state"),
        "FLASK_SECRET_KEY": secrets.token_hex(32),
    }
    values.update(env or {})
    values = {key: value for key, value in values.items() if value is not None}
    account = pwd.getpwnam(service_user) if service_user else pwd.getpwuid(os.getuid())
    context = Context(
        env=values,
        env_files=env_files or [],
        service_user=account,
        service_user_name=account.pw_name,
        run=runner or ScriptedRunner(real=["setpriv"]),
        uid=os.getuid() if uid is None else uid,
        systemd_dir=root / "no-systemd",
        command_timeout=5.0,
    )
    if create_folders:
        try:
            settings = context.settings()
        except ConfigError:
            return context
        settings.ensure_folders()
        settings.work.mkdir(parents=True, exist_ok=True)
    return context


def fixed_now(moment: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: moment
