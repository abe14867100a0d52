"""Command line of the watcher: flags that override the FIT_CONVERTER_* settings."""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fit_converter.config import LOG_LEVELS, WATCH_MODES, load_settings
from fit_converter.errors import ConfigError
from fit_converter.ledger import Ledger
from fit_converter.logs import log_startup, setup_logging
from fit_converter.watcher.service import Watcher

log = logging.getLogger("fit_converter.watcher")

#: Flag name -> settings variable it overrides.
OVERRIDES = {
    "log_level": "FIT_CONVERTER_LOG_LEVEL",
    "poll": "FIT_CONVERTER_POLL_INTERVAL",
    "retries": "FIT_CONVERTER_RETRIES",
    "stable": "FIT_CONVERTER_STABLE_SECONDS",
    "incomplete_wait": "FIT_CONVERTER_INCOMPLETE_SECONDS",
    "rescan": "FIT_CONVERTER_RESCAN_SECONDS",
    "mode": "FIT_CONVERTER_WATCH_MODE",
    "archive_days": "FIT_CONVERTER_ARCHIVE_DAYS",
    "failed_days": "FIT_CONVERTER_FAILED_DAYS",
}


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of the watcher."""
    parser = argparse.ArgumentParser(
        prog="python -m fit_converter.watcher",
        description="Convert every FIT file dropped into the inbox into CSV in the outbox. "
        "Each flag overrides the FIT_CONVERTER_* variable named in its help.",
    )
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, help="log level (FIT_CONVERTER_LOG_LEVEL, default INFO)"
    )
    parser.add_argument(
        "--poll",
        metavar="SECONDS",
        help="seconds between scans in polling mode (FIT_CONVERTER_POLL_INTERVAL, default 2)",
    )
    parser.add_argument(
        "--retries",
        metavar="N",
        help="retries of a transient failure per file (FIT_CONVERTER_RETRIES, default 3)",
    )
    parser.add_argument(
        "--stable",
        metavar="SECONDS",
        help="seconds a file's size and mtime must hold still before it is taken "
        "(FIT_CONVERTER_STABLE_SECONDS, default 2)",
    )
    parser.add_argument(
        "--incomplete-wait",
        metavar="SECONDS",
        help="seconds a FIT file shorter than its header declares must hold still before "
        "it is converted as far as readable (FIT_CONVERTER_INCOMPLETE_SECONDS, default 300)",
    )
    parser.add_argument(
        "--rescan",
        metavar="SECONDS",
        help="seconds between full rescans in inotify mode "
        "(FIT_CONVERTER_RESCAN_SECONDS, default 300)",
    )
    parser.add_argument(
        "--mode",
        choices=WATCH_MODES,
        help="auto: poll on network and FUSE file systems, inotify elsewhere "
        "(FIT_CONVERTER_WATCH_MODE, default auto)",
    )
    parser.add_argument(
        "--archive-days",
        metavar="DAYS",
        help="days to keep originals in archive/, 0 for ever (FIT_CONVERTER_ARCHIVE_DAYS)",
    )
    parser.add_argument(
        "--failed-days",
        metavar="DAYS",
        help="days to keep files in failed/, 0 for ever (FIT_CONVERTER_FAILED_DAYS)",
    )
    parser.add_argument(
        "--oneshot", action="store_true", help="process what is in the inbox now, then exit"
    )
    return parser


@contextmanager
def single_instance(lock_path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on ``lock_path``; yield False if another process holds it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield True


def main(argv: list[str] | None = None) -> int:
    """Run the watcher until stopped; return the process exit status."""
    args = build_parser().parse_args(argv)
    overrides = {
        variable: str(getattr(args, option))
        for option, variable in OVERRIDES.items()
        if getattr(args, option) is not None
    }

    try:
        settings = load_settings({**os.environ, **overrides})
    except ConfigError as error:
        print(f"fit-converter watcher: {error}", file=sys.stderr)
        return 2

    setup_logging(
        settings.log_level,
        logs_dir=settings.logs_dir if settings.log_to_file else None,
        service="watcher",
    )
    log_startup(log, settings, service="watcher")
    lock_path = settings.state_dir / "watcher.lock"
    with single_instance(lock_path) as acquired:
        if not acquired:
            log.error(
                "another watcher is running with the state folder %s (it has the lock %s);"
                " stop it first",
                settings.state_dir,
                lock_path,
            )
            return 1
        ledger = Ledger(settings.ledger_path)
        watcher = Watcher(settings, ledger, oneshot=args.oneshot)
        watcher.install_signal_handlers()
        try:
            watcher.run()
        finally:
            ledger.close()
    return 0
