"""Settings read from the environment, validated once at start-up.

Every setting comes from a ``FIT_CONVERTER_*`` variable (or ``FLASK_SECRET_KEY``).
The Debian package sets them in ``/etc/fit-converter/*.env``; a local run falls back
to the XDG base directories of the user who runs it.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fit_converter.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")

#: Every variable this module reads, with a one-line description for docs and doctor.
VARIABLES: dict[str, str] = {
    "FIT_CONVERTER_DATA_DIR": "folder that holds inbox, outbox, archive and failed",
    "FIT_CONVERTER_STATE_DIR": "folder for the ledger, secrets and other state",
    "FIT_CONVERTER_LOGS_DIR": "folder for log files when FIT_CONVERTER_LOG_TO_FILE is on",
    "FIT_CONVERTER_INBOX": "inbox folder, relative to the data dir unless absolute",
    "FIT_CONVERTER_OUTBOX": "outbox folder, relative to the data dir unless absolute",
    "FIT_CONVERTER_LOG_LEVEL": "one of " + ", ".join(LOG_LEVELS),
    "FIT_CONVERTER_LOG_TO_FILE": "true or false: also write a rotating log file",
    "FIT_CONVERTER_POLL_INTERVAL": "seconds between inbox scans (positive number)",
    "FIT_CONVERTER_RETRIES": "retries of a transient failure before a file goes to failed/",
    "FIT_CONVERTER_MAX_UPLOAD_MB": "largest accepted upload in MiB",
    "FIT_CONVERTER_MIN_FREE_MB": "free space (MiB) below which intake pauses",
    "FIT_CONVERTER_STABLE_SECONDS": "seconds a file's size and mtime must hold still before intake",
    "FIT_CONVERTER_INCOMPLETE_SECONDS": "seconds a FIT file shorter than its header declares "
    "must hold still before it is converted as far as readable",
    "FIT_CONVERTER_RESCAN_SECONDS": "seconds between full inbox rescans in inotify mode",
    "FIT_CONVERTER_WATCH_MODE": "auto, inotify or poll: how the watcher detects new files",
    "FIT_CONVERTER_ARCHIVE_DAYS": "days to keep originals in archive/ (0 keeps them forever)",
    "FIT_CONVERTER_FAILED_DAYS": "days to keep files in failed/ (0 keeps them forever)",
    "FIT_CONVERTER_TABLES": "extra CSV tables, comma-separated: laps, sessions, lengths, "
    "events, device_info, hrv, all, fitcsv (the FIT SDK's FitCSVTool layout)",
    "FIT_CONVERTER_UNITS": "metric, plus imperial and/or pace as extra columns, comma-separated",
    "FIT_CONVERTER_CSV_UNITS_IN_HEADER": "true or false: units in column headers",
    "FIT_CONVERTER_CSV_DELIMITER": "CSV delimiter: comma, semicolon, tab or pipe",
    "FIT_CONVERTER_CSV_DECIMAL_COMMA": "true or false: write 64,8 instead of 64.8",
    "FIT_CONVERTER_CSV_COLUMNS": "records columns to write after timestamp, comma-separated, "
    "in this order (empty: all)",
    "FIT_CONVERTER_CSV_DROP_EMPTY_COLUMNS": "true or false: leave out columns without values",
    "FLASK_SECRET_KEY": "key that signs the web app's session cookies",
    "FIT_CONVERTER_ZIP_MAX_FILES": "most entries a .zip upload may contain",
    "FIT_CONVERTER_ZIP_MAX_MB": "largest total uncompressed size of a .zip upload in MiB",
    "FIT_CONVERTER_SESSION_HOURS": "hours a web login lasts without a request",
}

#: Extra tables a conversion can write besides the records CSV.
CSV_TABLES = ("laps", "sessions", "lengths", "events", "device_info", "hrv", "all", "fitcsv")
#: Unit systems of the records CSV; metric is always written, the others add columns.
UNIT_SYSTEMS = ("metric", "imperial", "pace")
#: CSV delimiters by name; spreadsheets in locales with a decimal comma expect semicolons.
CSV_DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}

DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_RETRIES = 3
DEFAULT_MAX_UPLOAD_MB = 50
DEFAULT_MIN_FREE_MB = 100
DEFAULT_ZIP_MAX_FILES = 5000
DEFAULT_ZIP_MAX_MB = 2048
DEFAULT_SESSION_HOURS = 12
DEFAULT_STABLE_SECONDS = 2.0
DEFAULT_INCOMPLETE_SECONDS = 300.0
DEFAULT_RESCAN_SECONDS = 300.0
WATCH_MODES = ("auto", "inotify", "poll")

log = logging.getLogger("fit_converter.config")


@dataclass(frozen=True)
class CsvOptions:
    """Options of the CSV files: header units, delimiter, columns and extra tables."""

    units_in_header: bool = True
    delimiter: str = ","
    decimal_comma: bool = False
    #: Only these columns (names without units), in table order; None keeps all.
    columns: tuple[str, ...] | None = None
    drop_empty_columns: bool = False
    tables: tuple[str, ...] = ()
    #: "metric" always; "imperial" and "pace" add converted columns to the records CSV.
    units: tuple[str, ...] = ("metric",)


@dataclass(frozen=True)
class Settings:
    """Resolved, validated configuration of one process."""

    data_dir: Path
    state_dir: Path
    logs_dir: Path
    inbox: Path
    outbox: Path
    log_level: str
    log_to_file: bool
    poll_interval: float
    retries: int
    max_upload_bytes: int
    min_free_bytes: int
    secret_key: str
    zip_max_files: int = DEFAULT_ZIP_MAX_FILES
    zip_max_bytes: int = DEFAULT_ZIP_MAX_MB * 1024 * 1024
    session_hours: int = DEFAULT_SESSION_HOURS
    stable_seconds: float = DEFAULT_STABLE_SECONDS
    incomplete_seconds: float = DEFAULT_INCOMPLETE_SECONDS
    rescan_seconds: float = DEFAULT_RESCAN_SECONDS
    watch_mode: str = "auto"
    archive_days: int = 0
    failed_days: int = 0
    csv: CsvOptions = CsvOptions()

    @property
    def archive(self) -> Path:
        """Folder where originals go once their CSV is written."""
        return self.data_dir / "archive"

    @property
    def failed(self) -> Path:
        """Folder for inputs that could not be converted, each with an ``.error.txt``."""
        return self.data_dir / "failed"

    @property
    def ledger_path(self) -> Path:
        """SQLite database with the history of every conversion."""
        return self.state_dir / "ledger.sqlite3"

    @property
    def work(self) -> Path:
        """Folder for files being converted; on the same file system as the inbox."""
        return self.data_dir / ".work"

    @property
    def heartbeat_path(self) -> Path:
        """JSON file the watcher rewrites from its main loop: time, pending count, last result."""
        return self.state_dir / "watcher-heartbeat.json"

    @property
    def password_path(self) -> Path:
        """Hash of the owner's web password, written by ``fit-converter set-password``."""
        return self.state_dir / "owner-password.hash"

    def folders(self) -> list[Path]:
        """Return every folder the appliance writes to."""
        return [
            self.inbox,
            self.outbox,
            self.archive,
            self.failed,
            self.state_dir,
            self.logs_dir,
        ]

    def ensure_folders(self) -> None:
        """Create every folder the appliance writes to, if missing."""
        for folder in self.folders():
            folder.mkdir(parents=True, exist_ok=True)


def _xdg_dir(env: Mapping[str, str], variable: str, fallback: str) -> Path:
    base = env.get(variable) or str(Path.home() / fallback)
    return Path(base) / "fit-converter"


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise ConfigError(name, raw, "an absolute path, such as /var/lib/fit-converter/data")
    return path


def _subfolder(env: Mapping[str, str], name: str, data_dir: Path, default: str) -> Path:
    raw = env.get(name, "").strip() or default
    path = Path(raw).expanduser()
    if path.is_absolute():
        return path
    if ".." in path.parts:
        raise ConfigError(
            name, raw, "a folder name inside the data dir (no '..') or an absolute path"
        )
    return data_dir / path


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = raw.upper()
    if value not in choices:
        raise ConfigError(name, raw, "one of " + ", ".join(choices))
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in TRUE_WORDS:
        return True
    if raw.lower() in FALSE_WORDS:
        return False
    raise ConfigError(name, raw, "true or false (also accepted: 1/0, yes/no, on/off)")


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigError(name, raw, "a positive number of seconds, such as 2 or 0.5")
    return value


def _int_at_least(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(name, raw, f"a whole number of at least {minimum}")
    return value


def split_words(raw: str) -> tuple[str, ...]:
    """Return the lower-case words of a comma-separated list, without empty ones."""
    return tuple(word.strip().lower() for word in raw.split(",") if word.strip())


def _word_list(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    words = split_words(raw)
    unknown = [word for word in words if word not in choices]
    if unknown:
        raise ConfigError(name, raw, "a comma-separated list of " + ", ".join(choices))
    return words


#: Accepted delimiter values, for error messages and help texts.
DELIMITER_CHOICES = "one of " + ", ".join(CSV_DELIMITERS) + " (or the character: , ; | or a tab)"


def parse_delimiter(text: str) -> str | None:
    """Return the delimiter character for a name (``semicolon``) or character, else None."""
    if text in CSV_DELIMITERS.values():
        return text
    return CSV_DELIMITERS.get(text.strip().lower())


def _delimiter(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name, "")
    if not raw.strip() and raw != "\t":
        return ","
    delimiter = parse_delimiter(raw)
    if delimiter is None:
        raise ConfigError(name, raw, DELIMITER_CHOICES)
    return delimiter


def _secret_key(env: Mapping[str, str], state_dir: Path) -> str:
    """Return FLASK_SECRET_KEY, or a key kept in the state dir for local runs."""
    raw = env.get("FLASK_SECRET_KEY", "").strip()
    if raw:
        if len(raw) < 16:
            raise ConfigError(
                "FLASK_SECRET_KEY",
                "<hidden, " + str(len(raw)) + " characters>",
                "at least 16 random characters, such as the output of "
                "'python3 -c \"import secrets; print(secrets.token_hex(32))\"'",
            )
        return raw

    key_file = state_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text(encoding="ascii").strip()

    state_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    log.info("FLASK_SECRET_KEY is not set: generated one in %s", key_file)
    return key


def load_csv_options(env: Mapping[str, str] | None = None) -> CsvOptions:
    """Read and validate only the CSV options, raising ConfigError on an invalid value.

    Unlike ``load_settings`` this touches no folder and needs no secret key, so the
    ``convert`` command can use it anywhere.
    """
    if env is None:
        env = os.environ

    units = _word_list(env, "FIT_CONVERTER_UNITS", UNIT_SYSTEMS)
    columns = tuple(
        column.strip()
        for column in env.get("FIT_CONVERTER_CSV_COLUMNS", "").split(",")
        if column.strip()
    )
    return CsvOptions(
        tables=_word_list(env, "FIT_CONVERTER_TABLES", CSV_TABLES),
        units=("metric", *(u for u in units if u != "metric")),
        units_in_header=_bool(env, "FIT_CONVERTER_CSV_UNITS_IN_HEADER", True),
        delimiter=_delimiter(env, "FIT_CONVERTER_CSV_DELIMITER"),
        decimal_comma=_bool(env, "FIT_CONVERTER_CSV_DECIMAL_COMMA", False),
        columns=columns or None,
        drop_empty_columns=_bool(env, "FIT_CONVERTER_CSV_DROP_EMPTY_COLUMNS", False),
    )


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings, raising ConfigError on the first invalid value."""
    if env is None:
        env = os.environ

    data_dir = _path(env, "FIT_CONVERTER_DATA_DIR", _xdg_dir(env, "XDG_DATA_HOME", ".local/share"))
    state_dir = _path(
        env, "FIT_CONVERTER_STATE_DIR", _xdg_dir(env, "XDG_STATE_HOME", ".local/state")
    )
    logs_dir = _path(env, "FIT_CONVERTER_LOGS_DIR", state_dir / "logs")

    max_upload_mb = _int_at_least(env, "FIT_CONVERTER_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB, 1)
    csv_options = load_csv_options(env)

    return Settings(
        data_dir=data_dir,
        state_dir=state_dir,
        logs_dir=logs_dir,
        inbox=_subfolder(env, "FIT_CONVERTER_INBOX", data_dir, "inbox"),
        outbox=_subfolder(env, "FIT_CONVERTER_OUTBOX", data_dir, "outbox"),
        log_level=_choice(env, "FIT_CONVERTER_LOG_LEVEL", LOG_LEVELS, "INFO"),
        log_to_file=_bool(env, "FIT_CONVERTER_LOG_TO_FILE", False),
        poll_interval=_positive_float(env, "FIT_CONVERTER_POLL_INTERVAL", DEFAULT_POLL_INTERVAL),
        retries=_int_at_least(env, "FIT_CONVERTER_RETRIES", DEFAULT_RETRIES, 0),
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        min_free_bytes=_int_at_least(env, "FIT_CONVERTER_MIN_FREE_MB", DEFAULT_MIN_FREE_MB, 0)
        * 1024
        * 1024,
        secret_key=_secret_key(env, state_dir),
        zip_max_files=_int_at_least(env, "FIT_CONVERTER_ZIP_MAX_FILES", DEFAULT_ZIP_MAX_FILES, 1),
        zip_max_bytes=_int_at_least(env, "FIT_CONVERTER_ZIP_MAX_MB", DEFAULT_ZIP_MAX_MB, 1)
        * 1024
        * 1024,
        session_hours=_int_at_least(env, "FIT_CONVERTER_SESSION_HOURS", DEFAULT_SESSION_HOURS, 1),
        stable_seconds=_positive_float(env, "FIT_CONVERTER_STABLE_SECONDS", DEFAULT_STABLE_SECONDS),
        incomplete_seconds=_positive_float(
            env, "FIT_CONVERTER_INCOMPLETE_SECONDS", DEFAULT_INCOMPLETE_SECONDS
        ),
        rescan_seconds=_positive_float(env, "FIT_CONVERTER_RESCAN_SECONDS", DEFAULT_RESCAN_SECONDS),
        watch_mode=_choice(
            env, "FIT_CONVERTER_WATCH_MODE", tuple(mode.upper() for mode in WATCH_MODES), "AUTO"
        ).lower(),
        archive_days=_int_at_least(env, "FIT_CONVERTER_ARCHIVE_DAYS", 0, 0),
        failed_days=_int_at_least(env, "FIT_CONVERTER_FAILED_DAYS", 0, 0),
        csv=csv_options,
    )
