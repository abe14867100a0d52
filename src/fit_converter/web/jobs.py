"""Convert uploads on a background thread, so no request runs a conversion itself.

Each staged file gets its ledger row when it is queued, so the row id can be returned
at once as the job id. The file waits in ``<state>/uploads/job-<id>/`` until
``process_file`` moves it to the archive or to ``failed/``. A folder still there at
start-up belongs to a conversion that a restart interrupted, and is queued again.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from fit_converter.config import Settings
from fit_converter.files import move_without_overwrite, unique_path, write_atomically
from fit_converter.intake import process_file, sha256_of
from fit_converter.ledger import Ledger
from fit_converter.web.staging import StagedFile

#: Number of conversions that run at the same time. A conversion is CPU-bound
#: Python, so more threads would only slow down the page requests that share the
#: process with them.
CONVERSION_THREADS = 1

#: Seconds before the first retry of a transient I/O error; each retry doubles it.
RETRY_DELAY = 1.0

#: Age in seconds after which an incoming folder is left over from a crashed request.
STALE_INCOMING_SECONDS = 3600

#: Ledger statuses of a conversion that has not finished.
UNFINISHED = ("running", "interrupted")

log = logging.getLogger("fit_converter.web.jobs")


@contextmanager
def _claim(folder: Path) -> Iterator[bool]:
    """Hold an exclusive flock on a job folder; yield False if another process holds it.

    While gunicorn replaces a worker, the old and the new worker run at once, and the
    new one's ``recover`` would otherwise convert the job the old one is converting.
    The kernel releases the lock when its process dies.
    """
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)


class ReservedLedger(Ledger):
    """A ledger whose ``start`` reuses the row reserved when the job was queued."""

    def __init__(self, path: Path, entry_id: int) -> None:
        super().__init__(path)
        self.entry_id = entry_id

    def start(
        self, sha256: str, source: str, original_name: str, *, output_stem: str | None = None
    ) -> int:
        with self._connect() as connection:
            connection.execute(
                "UPDATE conversions SET sha256 = ?, source = ?, original_name = ?,"
                " status = 'running', output_stem = ? WHERE id = ?",
                (sha256, source, original_name, output_stem, self.entry_id),
            )
        return self.entry_id

    def record_duplicate(
        self, sha256: str, source: str, original_name: str, *, duplicate_of: int, stored_input: str
    ) -> int:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        with self._connect() as connection:
            connection.execute(
                "UPDATE conversions SET sha256 = ?, source = ?, original_name = ?,"
                " status = 'duplicate', finished_at = ?, stored_input = ?, duplicate_of = ?"
                " WHERE id = ?",
                (sha256, source, original_name, now, stored_input, duplicate_of, self.entry_id),
            )
        return self.entry_id


def _outputs_exist(ledger: Ledger, sha256: str) -> bool:
    """Return True if content with ``sha256`` was converted and all its outputs still exist."""
    earlier = ledger.find_converted(sha256)
    if earlier is None or not earlier.outputs:
        return False
    return all(Path(output).is_file() for output in earlier.outputs)


def staged_from_entry(path: Path, original_name: str) -> StagedFile:
    """Return ``path`` as a staged file for a ledger entry called ``original_name``.

    The name of an inbox entry includes its subfolder ("bob/ride.fit"), which the
    outputs keep when the file is converted again.
    """
    relative = PurePosixPath(original_name)
    folder = str(relative.parent)
    return StagedFile(path, relative.name, "" if folder == "." else folder)


class ConversionQueue:
    """Background conversions of staged uploads, recorded in the ledger."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.root = settings.state_dir / "uploads"
        self._executor = ThreadPoolExecutor(CONVERSION_THREADS, thread_name_prefix="convert")
        self._lock = threading.Lock()
        self._pending = 0
        self.retry_delay = RETRY_DELAY

    @property
    def pending(self) -> int:
        """Number of jobs queued or running."""
        with self._lock:
            return self._pending

    def submit(self, staged: StagedFile, source: str) -> int:
        """Reserve a ledger row for ``staged``, queue its conversion and return the row id."""
        digest = sha256_of(staged.path)
        entry_id = self.ledger.start(digest, source, staged.name)
        job_folder = self.root / f"job-{entry_id}"
        staged.path.parent.rename(job_folder)
        self._queue(
            StagedFile(job_folder / staged.path.name, staged.name, staged.folder), entry_id, source
        )
        log.info("queued %s as job %d (from %s)", staged.name, entry_id, source)
        return entry_id

    def _queue(self, staged: StagedFile, entry_id: int, source: str) -> None:
        with self._lock:
            self._pending += 1
        self._executor.submit(self._run, staged, entry_id, source)

    def recover(self) -> int:
        """Queue again the uploads that a restart interrupted; return how many."""
        if not self.root.is_dir():
            return 0
        # An incoming folder belongs to a request still being received, unless it is old.
        for stale in self.root.glob("incoming-*"):
            if time.time() - stale.stat().st_mtime > STALE_INCOMING_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)

        count = 0
        for folder in sorted(self.root.glob("job-*")):
            files = [path for path in folder.iterdir() if path.is_file()]
            entry = self.ledger.get(int(folder.name.removeprefix("job-")))
            if not files or entry is None or entry.status not in UNFINISHED:
                if not files:
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            log.warning("queueing job %d (%s) again after a restart", entry.id, files[0].name)
            self._queue(staged_from_entry(files[0], entry.original_name), entry.id, entry.source)
            count += 1
        return count

    def _run(self, staged: StagedFile, entry_id: int, source: str) -> None:
        folder = staged.path.parent
        try:
            with _claim(folder) as claimed:
                if not claimed:
                    log.info("job %d (%s) is converted by another process", entry_id, staged.name)
                    return
                if not staged.path.exists():
                    log.info("job %d (%s) was finished by another process", entry_id, staged.name)
                    return
                self._convert_with_retries(staged, entry_id, source)
        except Exception as error:  # a background thread has no caller to raise to
            log.exception("job %d (%s) crashed", entry_id, staged.name)
            self._fail(staged, entry_id, f"internal error: {error}")
        finally:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
            with self._lock:
                self._pending -= 1

    def _convert_with_retries(self, staged: StagedFile, entry_id: int, source: str) -> None:
        ledger = ReservedLedger(self.ledger.path, entry_id)
        attempts = self.settings.retries + 1
        # Content converted before is recorded as a duplicate of that entry, like in the
        # inbox, and the history offers the earlier CSV, which would be identical. After
        # its CSV was removed from the outbox, an upload converts the file again.
        skip_duplicates = _outputs_exist(ledger, sha256_of(staged.path))
        for attempt in range(1, attempts + 1):
            try:
                process_file(
                    staged.path,
                    self.settings,
                    ledger,
                    source=source,
                    name=staged.name,
                    folder=staged.folder,
                    skip_duplicates=skip_duplicates,
                )
                return
            except OSError as error:
                log.warning(
                    "job %d (%s): I/O error on attempt %d of %d: %s",
                    entry_id,
                    staged.name,
                    attempt,
                    attempts,
                    error,
                )
                if attempt == attempts:
                    self._fail(staged, entry_id, f"I/O error after {attempts} attempts: {error}")
                    return
                time.sleep(min(self.retry_delay * 2 ** (attempt - 1), 30.0))

    def _fail(self, staged: StagedFile, entry_id: int, reason: str) -> None:
        """Move a file that could not be processed to ``failed/`` with a note."""
        stored: Path | None = None
        if staged.path.exists():
            stored = move_without_overwrite(staged.path, self.settings.failed)
            note = unique_path(stored.with_name(stored.name + ".error.txt"))
            when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            text = f"File: {staged.name}\nFailed: {when}\nReason: {reason}\n"
            write_atomically(note, lambda handle: handle.write(text))
        self.ledger.finish(
            entry_id,
            status="failed",
            stored_input=str(stored) if stored else None,
            error=reason,
        )
        log.error("job %d (%s) failed: %s; input in %s", entry_id, staged.name, reason, stored)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is pending; return False on timeout."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.pending == 0

    def shutdown(self) -> None:
        """Finish the running job, drop queued ones (their files stay staged for recovery)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
