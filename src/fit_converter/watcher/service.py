"""The watcher's main loop: detect, wait for readiness, claim, convert, retry, report.

One thread does all the work, one file at a time, so the ledger, the work folder and
the outbox see no concurrent writers from this process. A helper thread only keeps
the systemd watchdog and the heartbeat fresh while one long conversion runs.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import FrameType

from fit_converter.config import Settings
from fit_converter.files import move_without_overwrite, remove_abandoned_parts
from fit_converter.intake import process_file, set_aside, sha256_of
from fit_converter.ledger import Ledger
from fit_converter.watcher import retention
from fit_converter.watcher.claim import INBOX_WORK_NAME, Claim, WorkFolder
from fit_converter.watcher.diskspace import SpaceGuard, is_disk_full
from fit_converter.watcher.heartbeat import (
    HEARTBEAT_CHANGE_SECONDS,
    HEARTBEAT_SECONDS,
    LastResult,
    utc_now,
    write_heartbeat,
)
from fit_converter.watcher.monitor import InboxMonitor
from fit_converter.watcher.readiness import Candidate, Readiness, Tracker
from fit_converter.watcher.systemd import Notifier
from fit_converter.watcher.unpack import is_archive, unpack_into_inbox
from fit_converter.web.staging import UploadRejected

log = logging.getLogger("fit_converter.watcher")

#: Maximum wait between retries of a transient failure, and between claim attempts.
MAX_BACKOFF_SECONDS = 300.0
#: After this many seconds in one conversion the watchdog is no longer fed, so
#: systemd restarts a watcher stuck in one file. The next start resumes the file.
MAX_CONVERSION_SECONDS = 900.0


#: Interrupted conversions of one file after which it goes to failed/ instead of being
#: resumed, so a file that crashes or hangs the converter cannot do so at every start.
MAX_INTERRUPTIONS = 3


class AbandonFile(BaseException):
    """Raised by a second SIGTERM or SIGINT to leave the current file unfinished.

    A BaseException so that no ``except Exception`` on the way swallows it. The file
    stays in the work folder and is resumed at the next start.
    """


@dataclass
class InFlight:
    """A claimed file: converting now, resumed after a restart, or waiting to retry."""

    claim: Claim
    sha256: str | None
    attempts: int = 0
    retry_after: float = 0.0


class Watcher:
    """Watch ``settings.inbox`` and hand every ready file to ``process_file``."""

    def __init__(self, settings: Settings, ledger: Ledger, *, oneshot: bool = False) -> None:
        self.settings = settings
        self.ledger = ledger
        self.oneshot = oneshot
        self.inbox = settings.inbox
        self.tracker = Tracker(self.inbox, settings.stable_seconds, settings.incomplete_seconds)
        self.in_flight: dict[Path, InFlight] = {}
        self.space = SpaceGuard(
            [settings.outbox, settings.archive, settings.failed, settings.state_dir],
            settings.min_free_bytes,
        )
        self.notifier = Notifier()
        self.monitor = InboxMonitor(settings, self.tracker)
        self.last_result: LastResult | None = None
        self.stopping = False
        self.stop_requests = 0
        #: Monotonic start time of the conversion in progress, None between files.
        self.converting_since: float | None = None
        self.keepalive = Keepalive(self)
        self.heartbeat_failed = False
        self.heartbeat_lock = threading.Lock()
        now = time.monotonic()
        self.next_heartbeat = now
        self.last_heartbeat = now
        self.next_retention = now
        self._wakeup_read, self._wakeup_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    # Start and stop.

    def start(self) -> None:
        """Prepare folders, arm detection, queue leftovers and scan the inbox."""
        self.settings.ensure_folders()
        for folder in (
            self.settings.outbox,
            self.settings.archive,
            self.settings.failed,
            self.settings.state_dir,
        ):
            remove_abandoned_parts(folder)
        interrupted = self.ledger.interrupt_running("inbox")
        if interrupted:
            log.warning(
                "%d conversion(s) were cut short by the last stop; files left in the work"
                " folder are converted again",
                interrupted,
            )

        self.monitor.arm()
        self.queue_leftovers()
        self.monitor.full_scan()
        self.sweep_retention()
        self.write_heartbeat()
        self.keepalive.start()
        self.notifier.ready(self.status_text())
        log.info(
            "ready: %d file(s) waiting in the inbox, %d to resume",
            len(self.tracker),
            len(self.in_flight),
        )

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """Signal handler: finish the current file and stop; a second signal abandons it."""
        self.stop_requests += 1
        name = signal.Signals(signum).name
        if self.stop_requests == 1:
            log.info("received %s: finishing the current file, then stopping", name)
        self.stopping = True
        if self.stop_requests > 1 and self.converting_since is not None:
            raise AbandonFile(name)

    def install_signal_handlers(self) -> None:
        """Handle SIGTERM and SIGINT, and wake the main loop's wait when they arrive."""
        signal.set_wakeup_fd(self._wakeup_write, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    def close(self) -> None:
        """Close inotify, send STOPPING=1 to systemd and write a last heartbeat."""
        self.notifier.stopping()
        if self.keepalive.thread.is_alive():
            self.keepalive.stop()
        self.monitor.close()
        self.write_heartbeat()
        log.info(
            "watcher stopped; %d file(s) left in the inbox, %d in the work folder",
            len(self.tracker),
            len(self.in_flight),
        )

    def run(self) -> None:
        """Process the inbox until SIGTERM or SIGINT, or until idle with ``oneshot``."""
        self.start()
        try:
            while not self.stopping:
                self.step()
                if self.oneshot and self.idle():
                    break
                if not self.stopping:
                    self.wait()
        finally:
            self.close()

    # Intake.

    def step(self) -> None:
        """Run one round: check the inbox, read events, scan if due, take ready files."""
        self.monitor.step()
        if not self.space.check():
            self.process_in_flight()
            self.take_ready_files()

        self.report()
        if time.monotonic() >= self.next_retention:
            self.sweep_retention()

    def process_in_flight(self) -> None:
        """Convert claimed files that are due: leftovers from the last run and retries."""
        for item in sorted(self.in_flight.values(), key=lambda item: item.retry_after):
            if self.stopping or self.space.paused:
                return
            if item.retry_after <= time.monotonic():
                self.convert(item)
                self.report()

    def take_ready_files(self) -> None:
        """Claim and convert every candidate that is stable and complete."""
        for candidate in self.tracker.due(time.monotonic()):
            if self.stopping or self.space.paused:
                return
            readiness = self.tracker.check(candidate, time.monotonic())
            if readiness is Readiness.TAKE:
                self.take(candidate)
                self.report()

    def take(self, candidate: Candidate) -> None:
        """Hash a ready file, claim it into the work folder and convert it."""
        relative = candidate.relative
        path = self.inbox / relative
        try:
            digest = sha256_of(path)
        except FileNotFoundError:
            self.tracker.forget(relative)
            return
        except OSError as error:
            self._postpone(candidate, f"cannot read it ({error.strerror or error})")
            return
        log.info("stable %s (sha256 %s, %d bytes)", relative, digest[:12], candidate.size)

        try:
            claim = self._claim(relative)
        except FileNotFoundError:
            self.tracker.forget(relative)
            return
        except OSError as error:
            self._postpone(candidate, f"cannot claim it ({error.strerror or error})")
            return
        self.tracker.forget(relative)
        log.info("claimed %s (sha256 %s) into %s", relative, digest[:12], claim.claim_folder)

        item = InFlight(claim, digest)
        self.in_flight[claim.path] = item
        self.convert(item)

    def _claim(self, relative: PurePosixPath) -> Claim:
        """Claim a file, switching to the work folder inside the inbox on EXDEV.

        A bind mount (a container volume, for one) shares the device number of the
        file system below it, yet rename() across it fails with EXDEV, so only trying
        the rename shows it.
        """
        try:
            return self.monitor.work.claim(self.inbox, relative)
        except OSError as error:
            inside = self.inbox / INBOX_WORK_NAME
            if error.errno != errno.EXDEV or self.monitor.work.root == inside:
                raise
        inside.mkdir(exist_ok=True)
        log.info(
            "cannot rename from %s into %s (another mount): claiming files into %s",
            self.inbox,
            self.monitor.work.root,
            inside,
        )
        self.monitor.work = WorkFolder(inside)
        return self.monitor.work.claim(self.inbox, relative)

    def _postpone(self, candidate: Candidate, reason: str) -> None:
        """Try a file again later, backing off up to MAX_BACKOFF_SECONDS; it stays put."""
        candidate.postponed += 1
        delay = min(MAX_BACKOFF_SECONDS, 2.0**candidate.postponed)
        candidate.changed_at = time.monotonic() + delay - self.settings.stable_seconds
        log.warning(
            "%s stays in the inbox: %s; trying again in %.0f s", candidate.relative, reason, delay
        )

    def queue_leftovers(self) -> None:
        """Queue files that a stopped or killed watcher left in either work folder.

        Both are read because the inbox may have moved to or from another file system
        since the last run, which switches the work folder.
        """
        roots = {self.settings.work, self.inbox / INBOX_WORK_NAME, self.monitor.work.root}
        claims = [claim for root in sorted(roots) for claim in WorkFolder(root).leftovers()]
        for claim in claims:
            try:
                digest: str | None = sha256_of(claim.path)
            except OSError as error:
                log.warning("cannot read %s in the work folder: %s", claim.path, error)
                digest = None
            log.info(
                "resuming %s (sha256 %s) left in %s",
                claim.relative,
                digest[:12] if digest else "unknown",
                claim.claim_folder,
            )
            item = InFlight(claim, digest)
            self.in_flight[claim.path] = item

            entry = self.ledger.find_unfinished(digest, "inbox") if digest else None
            if entry is not None and entry.interruptions >= MAX_INTERRUPTIONS:
                self.set_aside(
                    item,
                    reason=f"the watcher stopped {entry.interruptions} times while converting"
                    " this file (a crash, kill -9 or power cut)",
                    hint="If this file stops the converter again, report it as a bug with the "
                    "file attached. Moving it back into the inbox tries again.",
                )

    def convert(self, item: InFlight) -> None:
        """Hand one claimed file to ``process_file`` and record what became of it."""
        claim = item.claim
        if is_archive(claim.relative.name):
            self.unpack(item)
            return
        self.converting_since = time.monotonic()
        try:
            outcome = process_file(
                claim.path,
                self.settings,
                self.ledger,
                source="inbox",
                name=claim.relative.name,
                folder=claim.folder,
                skip_duplicates=True,
                resume=True,
            )
        except (OSError, sqlite3.OperationalError) as error:
            # sqlite3.OperationalError: the ledger was locked or its disk failed.
            self.transient_failure(item, error)
            return
        except AbandonFile:
            log.warning(
                "abandoned %s (sha256 %s) on a second stop request; it stays in %s and is"
                " resumed at the next start",
                claim.relative,
                (item.sha256 or "unknown")[:12],
                claim.claim_folder,
            )
            return
        except Exception as error:
            # A bug, not the file's fault alone. Setting the file aside keeps it from
            # stopping the watcher at every start.
            log.exception("unexpected error while converting %s", claim.relative)
            self.set_aside(
                item,
                reason=f"unexpected error in fit-converter ({describe(error)})",
                hint="This is a bug in fit-converter. Please report it with this file; "
                "moving the file back into the inbox tries again.",
            )
            return
        finally:
            self.converting_since = None

        del self.in_flight[claim.path]
        self.monitor.work.release(claim)
        self.last_result = LastResult(str(claim.relative), outcome.status, utc_now())

    def unpack(self, item: InFlight) -> None:
        """Unpack a claimed .zip or .fit.gz into the inbox, then move it to ``archive/``."""
        claim = item.claim
        try:
            placed, result = unpack_into_inbox(
                claim.path, claim.relative.name, claim.folder, self.settings
            )
        except UploadRejected as rejected:
            log.warning("cannot unpack %s: %s", claim.relative, rejected.reason)
            self.set_aside(
                item,
                reason=rejected.reason,
                hint=f"{rejected.hint} You can also unpack it yourself and drop the .fit "
                "files into the inbox, or upload it on the web page.",
            )
            return
        except OSError as error:
            self.transient_failure(item, error)
            return

        # NOTE: if this move fails, the retry unpacks the archive again, and the second
        # copies of its members are recorded as duplicates.
        try:
            stored = move_without_overwrite(
                claim.path, self.settings.archive / claim.folder, claim.relative.name
            )
        except OSError as error:
            self.transient_failure(item, error)
            return
        log.info(
            "unpacked %s: %d FIT file(s) moved into the inbox, %d entries skipped%s;"
            " archive moved to %s",
            claim.relative,
            len(placed),
            len(result.skipped),
            f" ({'; '.join(result.skipped)})" if result.skipped else "",
            stored,
        )
        del self.in_flight[claim.path]
        self.monitor.work.release(claim)
        self.last_result = LastResult(str(claim.relative), "unpacked", utc_now())

    def transient_failure(self, item: InFlight, error: Exception) -> None:
        """Retry after a transient error with backoff, or set the file aside after the retries."""
        claim = item.claim
        short = (item.sha256 or "unknown")[:12]
        if isinstance(error, OSError) and is_disk_full(error):
            self.space.disk_full(error)
            item.retry_after = 0.0
            log.warning(
                "%s (sha256 %s) waits in the work folder until space is freed: %s",
                claim.relative,
                short,
                error,
            )
            return

        item.attempts += 1
        if item.attempts <= self.settings.retries:
            delay = min(MAX_BACKOFF_SECONDS, 2.0**item.attempts)
            item.retry_after = time.monotonic() + delay
            log.warning(
                "retrying %s (sha256 %s) in %.0f s (attempt %d of %d): %s",
                claim.relative,
                short,
                delay,
                item.attempts,
                self.settings.retries,
                error,
            )
            return

        self.set_aside(
            item,
            reason=f"{describe(error)}, still failing after {item.attempts} attempts",
            hint="Fix the cause (free space, permissions or the network share of the outbox "
            "and archive), then move this file back into the inbox.",
        )

    def set_aside(self, item: InFlight, *, reason: str, hint: str) -> None:
        """Move a claimed file to ``failed/`` with a note, and record it as failed."""
        claim = item.claim
        short = (item.sha256 or "unknown")[:12]
        try:
            stored = set_aside(
                claim.path,
                self.settings,
                folder=claim.folder,
                name=claim.relative.name,
                reason=reason,
                hint=hint,
                sha256=item.sha256,
            )
        except OSError as move_error:
            item.retry_after = time.monotonic() + MAX_BACKOFF_SECONDS
            log.error(
                "cannot move %s (sha256 %s) to %s (%s); it stays in %s, next try in %.0f s",
                claim.relative,
                short,
                self.settings.failed,
                move_error,
                claim.claim_folder,
                MAX_BACKOFF_SECONDS,
            )
            return

        digest = item.sha256 or ""
        entry = self.ledger.find_unfinished(digest, "inbox") if digest else None
        if entry is None:
            entry_id = self.ledger.start(digest, "inbox", str(claim.relative))
        else:
            entry_id = entry.id
        self.ledger.finish(entry_id, status="failed", stored_input=str(stored), error=reason)
        log.error("failed %s (sha256 %s): %s; moved to %s", claim.relative, short, reason, stored)

        del self.in_flight[claim.path]
        self.monitor.work.release(claim)
        self.last_result = LastResult(str(claim.relative), "failed", utc_now())

    # Waiting and reporting.

    def idle(self) -> bool:
        """Return True when ``oneshot`` may exit: nothing left but incomplete files."""
        if self.space.paused:
            log.warning("oneshot: intake is paused for low disk space; leaving the rest")
            return True
        if self.in_flight:
            return False
        return all(candidate.incomplete for candidate in self.tracker.candidates.values())

    def wait(self) -> None:
        """Sleep until an inotify event, a signal or the next deadline."""
        now = time.monotonic()
        deadlines = [self.monitor.next_scan, self.next_heartbeat, self.next_retention]
        if self.space.paused or self.monitor.inbox_identity is None:
            deadlines.append(now + self.settings.poll_interval)
        else:
            next_check = self.tracker.next_check(now)
            if next_check is not None:
                deadlines.append(now + next_check)
            deadlines.extend(item.retry_after for item in self.in_flight.values())
        if self.notifier.watchdog_interval is not None:
            deadlines.append(now + self.notifier.watchdog_interval)
        timeout = max(0.0, min(deadlines) - now)

        poller = select.poll()
        poller.register(self._wakeup_read, select.POLLIN)
        if self.monitor.tree is not None:
            poller.register(self.monitor.tree.fileno(), select.POLLIN)
        poller.poll(timeout * 1000 + 1)
        with contextlib.suppress(BlockingIOError):
            os.read(self._wakeup_read, 512)

    def status_text(self) -> str:
        """Return the STATUS= line: mode, pending count, pause and the last result."""
        text = f"{self.monitor.mode}: {len(self.tracker) + len(self.in_flight)} pending"
        if self.space.paused:
            text += ", paused for low disk space"
        if self.last_result is not None:
            text += f"; last: {self.last_result.file} {self.last_result.status}"
        return text

    def report(self) -> None:
        """Send STATUS= and WATCHDOG=1, and rewrite the heartbeat when due or changed.

        A change of the STATUS= text (pending count, pause, last result) brings the next
        rewrite forward to one second after the previous one, so a burst of small files
        does not spend its time in fsync.
        """
        status = self.status_text()
        changed = status != self.notifier.last_status
        self.notifier.status(status)
        self.notifier.watchdog()
        now = time.monotonic()
        if changed:
            self.next_heartbeat = min(
                self.next_heartbeat, self.last_heartbeat + HEARTBEAT_CHANGE_SECONDS
            )
        if now >= self.next_heartbeat:
            self.write_heartbeat()

    def write_heartbeat(self) -> None:
        """Rewrite the heartbeat file; log a failure once until it works again."""
        self.last_heartbeat = time.monotonic()
        self.next_heartbeat = self.last_heartbeat + HEARTBEAT_SECONDS
        with self.heartbeat_lock:
            try:
                write_heartbeat(
                    self.settings.heartbeat_path,
                    mode=self.monitor.mode,
                    pending=len(self.tracker) + len(self.in_flight),
                    paused=self.space.paused,
                    last_result=self.last_result,
                )
            except OSError as error:
                if not self.heartbeat_failed:
                    log.warning("cannot write %s: %s", self.settings.heartbeat_path, error)
                self.heartbeat_failed = True
                return
        if self.heartbeat_failed:
            log.info("heartbeat %s written again", self.settings.heartbeat_path)
        self.heartbeat_failed = False

    def sweep_retention(self) -> None:
        """Delete archived and failed files past their retention."""
        self.next_retention = time.monotonic() + retention.SWEEP_SECONDS
        retention.sweep(self.settings.archive, self.settings.archive_days)
        retention.sweep(self.settings.failed, self.settings.failed_days)


def describe(error: BaseException) -> str:
    """Return an error as one line: the OSError text and file name, or type and message."""
    if isinstance(error, OSError) and error.strerror:
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror}{where}"
    return f"{type(error).__name__}: {error}"


class Keepalive:
    """Keep the watchdog and the heartbeat fresh while the main thread converts a file.

    Stops doing so once one conversion has run for MAX_CONVERSION_SECONDS, so that
    systemd's watchdog restarts a watcher that is stuck inside one file.
    """

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="keepalive", daemon=True)

    def start(self) -> None:
        """Start the helper thread."""
        self.thread.start()

    def stop(self) -> None:
        """Stop the helper thread and wait for it."""
        self.done.set()
        self.thread.join()

    def _run(self) -> None:
        interval = min(HEARTBEAT_SECONDS, self.watcher.notifier.watchdog_interval or 1e9)
        reported: float | None = None
        while not self.done.wait(interval):
            since = self.watcher.converting_since
            if since is None:
                continue
            if time.monotonic() - since > MAX_CONVERSION_SECONDS:
                if reported != since:
                    reported = since
                    log.error(
                        "a conversion has run for more than %.0f s; no longer sending"
                        " WATCHDOG=1, so systemd restarts the watcher",
                        MAX_CONVERSION_SECONDS,
                    )
                continue
            self.watcher.notifier.watchdog()
            if time.monotonic() >= self.watcher.next_heartbeat:
                self.watcher.write_heartbeat()
