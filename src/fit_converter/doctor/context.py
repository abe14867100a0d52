"""Everything the checks read from the machine, gathered once and replaceable in tests.

Checks never call ``subprocess`` or open URLs themselves: they go through ``run`` and
``http_get`` here, so tests can stand in a stopped service or a missing ``systemctl``.
"""

from __future__ import annotations

import datetime as dt
import grp
import os
import pwd
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fit_converter.config import Settings, load_settings
from fit_converter.errors import ConfigError

#: Environment files of the Debian package, read in this order (later files win).
PACKAGE_ENV_FILES = (Path("/etc/fit-converter/app.env"), Path("/etc/fit-converter/watcher.env"))
PACKAGE_VENV = Path("/opt/fit-converter/.venv")
SERVICE_USER = "fitconv"
APP_UNIT = "fit-converter-app.service"
WATCHER_UNIT = "fit-converter-watcher.service"
APP_URL = "http://127.0.0.1:8080"
CADDYFILE = Path("/etc/caddy/Caddyfile")

#: Replaces FLASK_SECRET_KEY while loading settings, so that doctor never generates a
#: key file as a side effect. The secret-key check reads the real value.
_PLACEHOLDER_SECRET = "doctor-placeholder-secret-key"

Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]
HttpGet = Callable[[str, float], tuple[int, str]]


def run_command(command: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in the C locale; raises FileNotFoundError if it is not installed."""
    return subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "LC_ALL": "C", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"},
    )


def http_get(url: str, timeout: float) -> tuple[int, str]:
    """Return the status and body of a GET, ignoring proxy variables (loopback only)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status), response.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return int(error.code), error.read(4096).decode("utf-8", "replace")


@dataclass
class EnvFile:
    """One ``KEY=VALUE`` file as systemd's ``EnvironmentFile=`` reads it."""

    path: Path
    values: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def parse_env_file(path: Path) -> EnvFile:
    """Read ``path``; an unreadable file is returned with ``error`` set, not raised."""
    env_file = EnvFile(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        env_file.error = error.strerror or str(error)
        return env_file

    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env_file.values[key] = value
    return env_file


@dataclass
class Context:
    """The machine as the checks see it."""

    env: dict[str, str]
    env_files: list[EnvFile]
    service_user: pwd.struct_passwd | None
    service_user_name: str
    run: Runner = run_command
    http_get: HttpGet = http_get
    uid: int = field(default_factory=os.getuid)
    app_url: str = APP_URL
    https_host: str = "localhost"
    https_port: int = 443
    venv: Path | None = None
    systemd_dir: Path = Path("/run/systemd/system")
    proc: Path = Path("/proc")
    caddy_binary: Path = Path("/usr/bin/caddy")
    system_python: Path = Path("/usr/bin/python3")
    command_timeout: float = 8.0
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    _settings: Settings | None = None
    _settings_error: ConfigError | None = None

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    @property
    def user_name(self) -> str:
        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return str(self.uid)

    @property
    def service_group_name(self) -> str:
        """Return the service user's primary group, such as ``fitconv`` or ``nogroup``."""
        if self.service_user is None:
            return self.service_user_name
        try:
            return grp.getgrgid(self.service_user.pw_gid).gr_name
        except KeyError:
            return str(self.service_user.pw_gid)

    @property
    def is_service_user(self) -> bool:
        return self.service_user is not None and self.service_user.pw_uid == self.uid

    @property
    def has_systemd(self) -> bool:
        """True when systemd is the running init system, as sd_booted(3) tests it."""
        return self.systemd_dir.is_dir()

    def settings(self) -> Settings:
        """Return the settings the services use; raises ConfigError if they are invalid."""
        if self._settings is None and self._settings_error is None:
            try:
                self._settings = load_settings(
                    {**self.env, "FLASK_SECRET_KEY": _PLACEHOLDER_SECRET}
                )
            except ConfigError as error:
                self._settings_error = error
        if self._settings_error is not None:
            raise self._settings_error
        assert self._settings is not None
        return self._settings

    def command(self, *command: str) -> subprocess.CompletedProcess[str]:
        """Run a command with the per-command timeout; FileNotFoundError if it is absent."""
        return self.run(command, self.command_timeout)

    def as_root_hint(self) -> str:
        return "Run it as root to check this: sudo fit-converter doctor"


def caddy_site_name(caddyfile: Path) -> str | None:
    """Return the first host name among the Caddyfile's site addresses, or None.

    Site addresses are the words before ``{`` on lines at the top level. Addresses
    without a host (``:443``), placeholders and snippets are skipped.
    """
    try:
        text = caddyfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    depth = 0
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if depth == 0 and line and not line.startswith(("{", "(", "import ")):
            for address in line.rstrip("{").replace(",", " ").split():
                host = address.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
                if host and "{" not in host and "*" not in host:
                    return host
        depth += line.count("{") - line.count("}")
    return None


def find_service_user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def build_context(
    *,
    env_file_paths: Sequence[Path] | None = None,
    service_user: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Context:
    """Gather the environment the services see: this process's plus their env files."""
    if env_file_paths is None:
        env_file_paths = [path for path in PACKAGE_ENV_FILES if path.exists()]
    env_files = [parse_env_file(path) for path in env_file_paths]

    env = dict(os.environ if environ is None else environ)
    for env_file in env_files:
        env.update(env_file.values)

    if service_user is None:
        service_user = SERVICE_USER if find_service_user(SERVICE_USER) else None
    if service_user is None:
        account = pwd.getpwuid(os.getuid())
        service_user = account.pw_name

    venv = PACKAGE_VENV if PACKAGE_VENV.is_dir() else None
    if venv is None and sys.prefix != sys.base_prefix:
        venv = Path(sys.prefix)

    return Context(
        env=env,
        env_files=env_files,
        service_user=find_service_user(service_user),
        service_user_name=service_user,
        venv=venv,
    )
