"""Logging set-up shared by every entry point.

Under systemd (``JOURNAL_STREAM`` is set) each record goes to stderr as one line with a
``<N>`` syslog priority prefix, which journald turns into the entry's priority. journald
adds the time itself. Elsewhere records are readable lines with a timestamp.
``FIT_CONVERTER_LOG_TO_FILE=true`` adds a rotating file in the logs folder. Every
handler redacts secrets and rate-limits repeated identical warnings and errors.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from fit_converter import __version__
from fit_converter.config import Settings

#: syslog priorities that journald reads from a ``<N>`` line prefix.
_JOURNAL_PRIORITIES = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}

PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(name)s: %(message)s"
LOG_FILE_MAX_BYTES = 5 * 1024 * 1024
LOG_FILE_BACKUPS = 5

REDACTED = "[redacted]"

#: Text that carries a secret whatever its value: assignments to secret-looking names,
#: HTTP credentials and werkzeug password hashes.
_SECRET_PATTERNS = (
    re.compile(
        r"(?i)\b([\w-]*(?:secret|password|passwd|token|api[_-]?key)[\w-]*\s*[=:]\s*)"
        r"(\"[^\"]*\"|'[^']*'|[^\s,;&\"']+)"
    ),
    re.compile(r"(?i)\b(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic|token)\s+)([^\s'\"]+)"),
    re.compile(r"()\b((?:scrypt|pbkdf2):[\w:]+\$[^\s$]+\$[0-9a-f]+)"),
)

#: Values registered with ``register_secret``, replaced wherever they appear.
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Redact ``value`` from every log line from now on.

    Values under 8 characters are ignored, because they cannot be distinguished from ordinary words.
    """
    if len(value) >= 8:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with registered secrets and secret-looking assignments hidden."""
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        text = text.replace(value, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A Formatter that hides secrets in the message and in the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JournalFormatter(RedactingFormatter):
    """Format records for journald: a ``<N>`` priority prefix and one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        priority = _JOURNAL_PRIORITIES.get(record.levelno, 6)
        # journald starts a new entry at each newline of the stream, so a traceback's
        # lines are joined with a visible mark to keep the record in one entry.
        return f"<{priority}>" + text.replace("\n", " \u21b5 ")


class RateLimitFilter(logging.Filter):
    """Let the first of identical warnings or errors through, then one per ``interval``.

    Identical means the same logger, level and formatted message. The first record let
    through after suppressed copies states how many were dropped. Records below
    ``level`` always pass.
    """

    def __init__(
        self,
        interval: float = 60.0,
        *,
        level: int = logging.WARNING,
        max_keys: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.level = level
        self.max_keys = max_keys
        self.clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        # One filter serves several handlers, so a record is judged once.
        decision = getattr(record, "_rate_limit_passed", None)
        if isinstance(decision, bool):
            return decision
        decision = self._judge(record)
        record._rate_limit_passed = decision
        return decision

    def _judge(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        key = (record.name, record.levelno, record.getMessage())
        now = self.clock()
        with self._lock:
            last_emitted, suppressed = self._seen.get(key, (float("-inf"), 0))
            if now - last_emitted < self.interval:
                self._seen[key] = (last_emitted, suppressed + 1)
                return False
            if len(self._seen) >= self.max_keys:
                self._forget_oldest(now)
            self._seen[key] = (now, 0)
        if suppressed:
            record.msg = f"{record.getMessage()} (repeated {suppressed} more time(s) before)"
            record.args = None
        return True

    def _forget_oldest(self, now: float) -> None:
        expired = [
            key for key, (emitted, _) in self._seen.items() if now - emitted >= self.interval
        ]
        for key in expired or list(self._seen)[: self.max_keys // 2]:
            del self._seen[key]


def setup_logging(
    level: str, *, logs_dir: Path | None = None, service: str = "fit-converter"
) -> None:
    """Send logs to stderr (journald under systemd) and, if ``logs_dir`` is set, to a file."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    rate_limit = RateLimitFilter()

    console = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        console.setFormatter(JournalFormatter(JOURNAL_FORMAT))
    else:
        console.setFormatter(RedactingFormatter(PLAIN_FORMAT))
    console.addFilter(rate_limit)
    root.addHandler(console)

    if logs_dir is not None:
        logs_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            logs_dir / f"{service}.log",
            maxBytes=LOG_FILE_MAX_BYTES,
            backupCount=LOG_FILE_BACKUPS,
            encoding="utf-8",
        )
        file_handler.setFormatter(RedactingFormatter(PLAIN_FORMAT))
        file_handler.addFilter(rate_limit)
        root.addHandler(file_handler)


def log_startup(
    logger: logging.Logger,
    settings: Settings,
    *,
    service: str,
    mode: str | None = None,
    extra: Iterable[str] = (),
) -> None:
    """Log the start of a service: version, settings summary, folders and mode.

    The secret key is registered for redaction and only its presence is logged.
    """
    register_secret(settings.secret_key)
    key_source = "FLASK_SECRET_KEY" if os.environ.get("FLASK_SECRET_KEY") else "generated file"
    logger.info(
        "fit-converter %s %s starting (Python %s, pid %d%s)",
        __version__,
        service,
        sys.version.split()[0],
        os.getpid(),
        f", mode {mode}" if mode else "",
    )
    logger.info(
        "settings: log level %s, log file %s, poll interval %g s, retries %d, max upload "
        "%d MiB, min free %d MiB, secret key set (%s)",
        settings.log_level,
        settings.logs_dir if settings.log_to_file else "off",
        settings.poll_interval,
        settings.retries,
        settings.max_upload_bytes // (1024 * 1024),
        settings.min_free_bytes // (1024 * 1024),
        key_source,
    )
    logger.info(
        "folders: inbox %s, outbox %s, archive %s, failed %s, state %s",
        settings.inbox,
        settings.outbox,
        settings.archive,
        settings.failed,
        settings.state_dir,
    )
    for line in extra:
        logger.info("%s", line)
