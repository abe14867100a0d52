"""Claim inbox files by renaming them into a work folder on the same file system.

A claimed file leaves the inbox in one atomic rename, so no scan or second process
can take it again, and a crash leaves it in the work folder to be resumed at start.
Each claim gets its own folder, ``<work>/<claim id>/<path inside the inbox>``, so two
files of the same name from different subfolders never meet.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

log = logging.getLogger("fit_converter.watcher")

#: Work folder inside the inbox, used when the data folder is on another file system
#: (a rename cannot cross file systems). Hidden names are never scanned.
INBOX_WORK_NAME = ".fit-converter-work"


@dataclass(frozen=True)
class Claim:
    """A file renamed into the work folder, with the inbox path it came from."""

    path: Path
    relative: PurePosixPath
    claim_folder: Path

    @property
    def folder(self) -> str:
        """Subfolder inside the inbox, "" for the inbox itself."""
        parent = self.relative.parent
        return "" if parent == PurePosixPath(".") else str(parent)


def work_root(inbox: Path, work: Path) -> Path:
    """Return ``work`` when it shares a file system with ``inbox``, else a hidden inbox folder."""
    work.mkdir(parents=True, exist_ok=True)
    if os.stat(inbox).st_dev == os.stat(work).st_dev:
        return work
    inside = inbox / INBOX_WORK_NAME
    inside.mkdir(exist_ok=True)
    log.info(
        "%s is on another file system than the inbox %s: claiming files into %s",
        work,
        inbox,
        inside,
    )
    return inside


class WorkFolder:
    """The claim folders under one work root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._counter = 0

    def claim(self, inbox: Path, relative: PurePosixPath) -> Claim:
        """Rename ``inbox / relative`` into a new claim folder (raises OSError on failure)."""
        self._counter += 1
        claim_folder = self.root / f"{time.time_ns()}-{os.getpid()}-{self._counter}"
        target = claim_folder / relative
        target.parent.mkdir(parents=True)
        source = inbox / relative
        try:
            os.rename(source, target)
        except OSError:
            shutil.rmtree(claim_folder, ignore_errors=True)
            raise
        # No fsync: if a power cut undoes the rename, the file is back in the inbox and
        # is taken again, and the ledger's SHA-256 check keeps it from being converted
        # twice.
        return Claim(target, relative, claim_folder)

    def leftovers(self) -> list[Claim]:
        """Return the files that a stopped or killed watcher left in the work folder."""
        claims: list[Claim] = []
        if not self.root.is_dir():
            return claims
        for claim_folder in sorted(self.root.iterdir()):
            if not claim_folder.is_dir():
                continue
            files = sorted(path for path in claim_folder.rglob("*") if path.is_file())
            for path in files:
                relative = PurePosixPath(path.relative_to(claim_folder).as_posix())
                claims.append(Claim(path, relative, claim_folder))
            if not files:
                self.release_folder(claim_folder)
        return claims

    def release(self, claim: Claim) -> None:
        """Remove the claim folder once its file moved to the archive or ``failed/``."""
        self.release_folder(claim.claim_folder)

    def release_folder(self, claim_folder: Path) -> None:
        """Remove an empty claim folder and its empty subfolders; keep any file in it."""
        for folder in sorted(claim_folder.rglob("*"), key=lambda path: -len(path.parts)):
            if folder.is_dir():
                _remove_if_empty(folder)
        _remove_if_empty(claim_folder)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError as error:
        log.debug("keeping %s: %s", folder, error)
