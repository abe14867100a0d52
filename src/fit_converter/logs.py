"""Logging set-up shared by every entry point."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

#: syslog priorities that journald reads from a ``<N>`` line prefix.
_JOURNAL_PRIORITIES = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class JournalFormatter(logging.Formatter):
    """Format records for journald: a ``<N>`` priority prefix and one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        priority = _JOURNAL_PRIORITIES.get(record.levelno, 6)
        # journald splits stdout on newlines, so tracebacks are kept in one record.
        return f"<{priority}>" + text.replace("\n", " \u21b5 ")


def setup_logging(
    level: str, *, logs_dir: Path | None = None, service: str = "fit-converter"
) -> None:
    """Send logs to stderr (journald under systemd) and, if ``logs_dir`` is set, to a file."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)

    console = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        console.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        console.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root.addHandler(console)

    if logs_dir is not None:
        logs_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            logs_dir / f"{service}.log", maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
        )
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )
        root.addHandler(file_handler)
