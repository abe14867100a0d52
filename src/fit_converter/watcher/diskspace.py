"""The free-space floor: intake pauses while a folder it writes to is nearly full."""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger("fit_converter.watcher")

#: errno values that mean "no space left", as opposed to a failure worth retrying.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(error: OSError) -> bool:
    """Return True when ``error`` means the file system or the user's quota is full."""
    return error.errno in DISK_FULL_ERRNOS


class SpaceGuard:
    """Watch the free space of the folders intake writes to, against a floor in bytes.

    Intake pauses while any of them has less than ``floor`` bytes free. After a write
    failed with ENOSPC it also stays paused until 1 MiB more is free than at that
    moment, so a floor of 0 cannot loop on a full disk.
    """

    def __init__(self, folders: list[Path], floor: int) -> None:
        self.folders = folders
        self.floor = floor
        self.paused = False
        self._free_when_full: int | None = None

    def lowest(self) -> tuple[Path, int]:
        """Return the folder with the least free space and its free bytes."""
        seen: dict[int, tuple[Path, int]] = {}
        for folder in self.folders:
            try:
                device = os.stat(folder).st_dev
                if device not in seen:
                    seen[device] = (folder, shutil.disk_usage(folder).free)
            except OSError as error:
                log.debug("cannot measure free space of %s: %s", folder, error)
        if not seen:
            return self.folders[0], 0
        return min(seen.values(), key=lambda item: item[1])

    def disk_full(self, error: OSError) -> None:
        """Pause after a write failed with ENOSPC or EDQUOT."""
        folder, free = self.lowest()
        self._free_when_full = free
        if not self.paused:
            self.paused = True
            log.warning(
                "pausing intake: writing failed (%s) with %.1f MiB free in %s;"
                " it resumes by itself when space is freed",
                error.strerror or error,
                free / 2**20,
                folder,
            )

    def check(self) -> bool:
        """Update the pause state from the current free space; return True if paused."""
        folder, free = self.lowest()
        below_floor = free < self.floor
        # One MiB more than at the failure, so a few freed bytes do not restart a
        # conversion that is bound to fail again.
        still_full = self._free_when_full is not None and free < self._free_when_full + 2**20
        if below_floor or still_full:
            if not self.paused:
                self.paused = True
                log.warning(
                    "pausing intake: %s has %.1f MiB free, below the floor of %.1f MiB"
                    " (FIT_CONVERTER_MIN_FREE_MB); it resumes by itself when space is freed",
                    folder,
                    free / 2**20,
                    self.floor / 2**20,
                )
            return True
        if self.paused:
            self.paused = False
            self._free_when_full = None
            log.info("resuming intake: %s has %.1f MiB free", folder, free / 2**20)
        return False
