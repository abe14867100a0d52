"""Delete files from ``archive/`` and ``failed/`` once they are older than the retention."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger("fit_converter.watcher")

#: Seconds between retention sweeps.
SWEEP_SECONDS = 3600.0


def sweep(folder: Path, days: int, *, now: float | None = None) -> list[Path]:
    """Delete files under ``folder`` that arrived more than ``days`` days ago.

    The arrival time is the ctime, which the move into the folder sets. The mtime is
    not used, because copy tools keep the activity's own mtime, which can be years
    old. ``days`` 0 keeps everything. Empty subfolders are removed. Returns the
    deleted files.
    """
    if days <= 0 or not folder.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - days * 86400
    deleted: list[Path] = []
    for current, subfolders, files in os.walk(folder, topdown=False):
        for name in files:
            path = Path(current, name)
            try:
                if path.lstat().st_ctime >= cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as error:
                log.warning("cannot delete %s for retention: %s", path, error.strerror or error)
                continue
            deleted.append(path)
        if Path(current) != folder and not subfolders and not os.listdir(current):
            Path(current).rmdir()
    if deleted:
        log.info(
            "deleted %d file(s) older than %d days from %s: %s",
            len(deleted),
            days,
            folder,
            ", ".join(str(path.relative_to(folder)) for path in deleted[:10])
            + (" ..." if len(deleted) > 10 else ""),
        )
    return deleted
