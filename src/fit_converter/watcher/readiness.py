"""Decide when a file in the inbox is ready: stable, and complete by its FIT header."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath

from fit_converter.decode import check_fit_header
from fit_converter.errors import ConversionError

log = logging.getLogger("fit_converter.watcher")


class Readiness(Enum):
    """Decision about a candidate: keep waiting, take it, or drop it because it is gone."""

    WAIT = "wait"
    TAKE = "take"
    GONE = "gone"


@dataclass
class Candidate:
    """A file in the inbox and the size and mtime of its last observed change."""

    relative: PurePosixPath
    size: int
    mtime_ns: int
    changed_at: float
    incomplete: bool = False
    #: How often reading or claiming it failed; sets the backoff of the next attempt.
    postponed: int = 0

    def ready_at(self, stable_seconds: float, incomplete_seconds: float) -> float:
        """Return the monotonic time at which this file may be taken."""
        return self.changed_at + (incomplete_seconds if self.incomplete else stable_seconds)

    def update(self, stat: os.stat_result, now: float) -> bool:
        """Record a new observation; return True when size or mtime changed."""
        if (stat.st_size, stat.st_mtime_ns) == (self.size, self.mtime_ns):
            return False
        self.size, self.mtime_ns, self.changed_at = stat.st_size, stat.st_mtime_ns, now
        self.incomplete = False
        return True


class Tracker:
    """The files seen in the inbox and not yet claimed, keyed by path inside the inbox.

    A file is taken once its size and mtime held still for ``stable_seconds``. A file
    that starts with a FIT header but is shorter than the header declares waits
    ``incomplete_seconds`` instead, then is taken anyway, because a truncated file is
    converted as far as it is readable. Any change restarts both clocks, so a file
    that is still growing is never given up on.
    """

    def __init__(self, inbox: Path, stable_seconds: float, incomplete_seconds: float) -> None:
        self.inbox = inbox
        self.stable_seconds = stable_seconds
        self.incomplete_seconds = max(incomplete_seconds, stable_seconds)
        self.candidates: dict[PurePosixPath, Candidate] = {}

    def __len__(self) -> int:
        return len(self.candidates)

    def observe(self, relative: PurePosixPath, stat: os.stat_result, now: float) -> None:
        """Add a file seen by a scan or an event, or refresh its size and mtime."""
        known = self.candidates.get(relative)
        if known is None:
            if stat.st_size == 0:
                log.debug("ignoring %s: 0 bytes so far", relative)
                return
            self.candidates[relative] = Candidate(relative, stat.st_size, stat.st_mtime_ns, now)
            log.info("seen %s (%d bytes)", relative, stat.st_size)
            return
        if known.update(stat, now):
            log.debug("%s changed: now %d bytes", relative, stat.st_size)

    def forget(self, relative: PurePosixPath) -> None:
        """Drop a file that was claimed, deleted or moved away."""
        self.candidates.pop(relative, None)

    def keep_only(self, present: set[PurePosixPath]) -> None:
        """Drop every candidate that a full scan did not find."""
        for relative in list(self.candidates):
            if relative not in present:
                log.debug("%s left the inbox before it was taken", relative)
                del self.candidates[relative]

    def next_check(self, now: float) -> float | None:
        """Return seconds until the earliest candidate may be ready, or None if none."""
        if not self.candidates:
            return None
        soonest = min(
            candidate.ready_at(self.stable_seconds, self.incomplete_seconds)
            for candidate in self.candidates.values()
        )
        return max(0.0, soonest - now)

    def due(self, now: float) -> list[Candidate]:
        """Return candidates whose stability delay has passed, oldest change first."""
        ready = [
            candidate
            for candidate in self.candidates.values()
            if now >= candidate.ready_at(self.stable_seconds, self.incomplete_seconds)
        ]
        return sorted(ready, key=lambda candidate: (candidate.changed_at, candidate.relative))

    def check(self, candidate: Candidate, now: float) -> Readiness:
        """Stat the file again and decide whether to take it now."""
        path = self.inbox / candidate.relative
        try:
            stat = path.stat()
        except FileNotFoundError:
            self.forget(candidate.relative)
            return Readiness.GONE
        if candidate.update(stat, now) or stat.st_size == 0:
            return Readiness.WAIT
        if now - candidate.changed_at < self.stable_seconds:
            return Readiness.WAIT

        try:
            expected = check_fit_header(path)
        except ConversionError:
            return Readiness.TAKE  # not FIT: intake moves it to failed/ with the reason
        except OSError as error:
            log.warning("cannot read %s yet (%s); will try again", candidate.relative, error)
            candidate.changed_at = now
            return Readiness.WAIT

        if stat.st_size >= expected:
            return Readiness.TAKE
        waited = now - candidate.changed_at
        if waited >= self.incomplete_seconds:
            log.warning(
                "taking %s although it is shorter than its FIT header declares (%d of %d"
                " bytes): unchanged for %.0f s, so it is converted as far as readable",
                candidate.relative,
                stat.st_size,
                expected,
                waited,
            )
            return Readiness.TAKE
        if not candidate.incomplete:
            candidate.incomplete = True
            log.info(
                "waiting for %s: %d of %d bytes that its FIT header declares",
                candidate.relative,
                stat.st_size,
                expected,
            )
        return Readiness.WAIT
