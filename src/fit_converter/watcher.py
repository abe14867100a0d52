"""Inbox watcher: convert every FIT file that appears in the inbox.

Run with ``python -m fit_converter.watcher``. inotify wakes the loop as soon as a
file is written or moved in; a scan every poll interval also finds files that arrived
while the watcher was down or that inotify cannot see. A file is taken only once its
size and mtime held still for one poll interval and, for FIT, once it is as long as
its header declares.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from inotify_simple import INotify
from inotify_simple import flags as inotify_flags

from fit_converter import __version__
from fit_converter.config import LOG_LEVELS, Settings, load_settings
from fit_converter.decode import check_fit_header
from fit_converter.errors import ConfigError, ConversionError
from fit_converter.files import move_without_overwrite
from fit_converter.intake import process_file
from fit_converter.ledger import Ledger
from fit_converter.logs import setup_logging

log = logging.getLogger("fit_converter.watcher")

WATCH_FLAGS = inotify_flags.CLOSE_WRITE | inotify_flags.MOVED_TO | inotify_flags.CREATE


@dataclass
class Candidate:
    """A file seen in the inbox, with the size and mtime of its last observation."""

    path: Path
    size: int
    mtime_ns: int
    observed_at: float
    attempts: int = 0
    retry_after: float = 0.0


def is_candidate_name(path: Path) -> bool:
    """Return True for names that look like FIT files and not like temporary copies."""
    return path.suffix.lower() == ".fit" and not path.name.startswith(".")


class Watcher:
    """Watch ``settings.inbox`` and hand stable files to ``process_file``."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.pending: dict[Path, Candidate] = {}
        self.stopping = False

    def scan(self) -> None:
        """Add every FIT file now in the inbox to the pending set, refreshing stats."""
        now = time.monotonic()
        for path in sorted(self.settings.inbox.iterdir()):
            if not is_candidate_name(path):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if not path.is_file():
                continue
            known = self.pending.get(path)
            if known is None:
                log.info("seen %s (%d bytes)", path.name, stat.st_size)
                self.pending[path] = Candidate(path, stat.st_size, stat.st_mtime_ns, now)
            elif (known.size, known.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                known.size, known.mtime_ns, known.observed_at = (
                    stat.st_size,
                    stat.st_mtime_ns,
                    now,
                )

    def _is_ready(self, candidate: Candidate, now: float) -> bool:
        if now - candidate.observed_at < self.settings.poll_interval:
            return False
        if now < candidate.retry_after or candidate.size == 0:
            return False
        try:
            expected = check_fit_header(candidate.path)
        except ConversionError:
            return True  # not FIT: process_file moves it to failed/ with the reason
        except OSError:
            return False
        return candidate.size >= expected

    def process_ready(self) -> None:
        """Convert every pending file that is stable and complete."""
        now = time.monotonic()
        for path, candidate in list(self.pending.items()):
            if self.stopping:
                return
            if not path.exists():
                del self.pending[path]
                continue
            if not self._is_ready(candidate, now):
                continue
            try:
                process_file(path, self.settings, self.ledger, source="inbox")
            except OSError as error:
                self._retry_or_fail(candidate, error)
                continue
            del self.pending[path]

    def _retry_or_fail(self, candidate: Candidate, error: OSError) -> None:
        candidate.attempts += 1
        if candidate.attempts <= self.settings.retries:
            delay = min(60.0, 2.0**candidate.attempts)
            candidate.retry_after = time.monotonic() + delay
            log.warning(
                "retrying %s in %.0f s (attempt %d of %d): %s",
                candidate.path.name,
                delay,
                candidate.attempts,
                self.settings.retries,
                error,
            )
            return
        log.error(
            "giving up on %s after %d attempts: %s; moving it to %s",
            candidate.path.name,
            candidate.attempts,
            error,
            self.settings.failed,
        )
        try:
            move_without_overwrite(candidate.path, self.settings.failed)
        except OSError as move_error:
            log.error("cannot move %s to failed/: %s", candidate.path.name, move_error)
        del self.pending[candidate.path]

    def run(self, *, oneshot: bool = False) -> None:
        """Process the inbox until SIGTERM or SIGINT (or once, with ``oneshot``)."""
        self.settings.ensure_folders()
        inotify = INotify()
        inotify.add_watch(self.settings.inbox, WATCH_FLAGS)
        log.info(
            "watching %s (inotify, scan every %.1f s); CSV to %s; originals to %s",
            self.settings.inbox,
            self.settings.poll_interval,
            self.settings.outbox,
            self.settings.archive,
        )

        timeout_ms = int(self.settings.poll_interval * 1000)
        try:
            while not self.stopping:
                self.scan()
                self.process_ready()
                if oneshot and not self.pending:
                    break
                inotify.read(timeout=timeout_ms)
        finally:
            inotify.close()
        log.info("watcher stopped")

    def stop(self, signum: int, frame: FrameType | None) -> None:
        """Signal handler: finish the current file, then leave the loop."""
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stopping = True


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of the watcher."""
    parser = argparse.ArgumentParser(
        prog="python -m fit_converter.watcher",
        description="Convert every FIT file dropped into the inbox into CSV in the outbox.",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="log level (default: INFO)")
    parser.add_argument("--poll", type=float, metavar="SECONDS", help="seconds between inbox scans")
    parser.add_argument(
        "--retries", type=int, metavar="N", help="retries of a transient failure per file"
    )
    parser.add_argument(
        "--oneshot", action="store_true", help="process what is in the inbox now, then exit"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the watcher until stopped; return the process exit status."""
    args = build_parser().parse_args(argv)
    overrides: dict[str, str] = {}
    if args.log_level:
        overrides["FIT_CONVERTER_LOG_LEVEL"] = args.log_level
    if args.poll is not None:
        overrides["FIT_CONVERTER_POLL_INTERVAL"] = str(args.poll)
    if args.retries is not None:
        overrides["FIT_CONVERTER_RETRIES"] = str(args.retries)

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
    log.info("fit-converter %s watcher starting", __version__)
    watcher = Watcher(settings, Ledger(settings.ledger_path))
    signal.signal(signal.SIGTERM, watcher.stop)
    signal.signal(signal.SIGINT, watcher.stop)
    watcher.run(oneshot=args.oneshot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
