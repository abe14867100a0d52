"""The heartbeat file that the web app's /readyz and the doctor read.

JSON with "time" (ISO 8601 UTC), "unix", "pid", "version", "mode" ("inotify" or
"poll"), "pending", "paused" and "last_result" ({"file", "status", "time"} or null).
Readers call the watcher alive when "unix" is within 120 s of now.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fit_converter import __version__
from fit_converter.files import write_atomically

log = logging.getLogger("fit_converter.watcher")

#: Seconds between rewrites; readers allow 120 s, so a few missed beats do no harm.
HEARTBEAT_SECONDS = 10.0
#: Shortest time between rewrites after a change of pending count, pause or result.
HEARTBEAT_CHANGE_SECONDS = 1.0


@dataclass(frozen=True)
class LastResult:
    """The outcome of the most recent file: its inbox path, status and UTC time."""

    file: str
    status: str
    time: str


def utc_now() -> str:
    """Return the current time as ISO 8601 UTC with a Z suffix."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_heartbeat(
    path: Path, *, mode: str, pending: int, paused: bool, last_result: LastResult | None
) -> None:
    """Rewrite the heartbeat file atomically."""
    now = time.time()
    document = {
        "time": dt.datetime.fromtimestamp(now, dt.UTC).isoformat().replace("+00:00", "Z"),
        "unix": now,
        "pid": os.getpid(),
        "version": __version__,
        "mode": mode,
        "pending": pending,
        "paused": paused,
        "last_result": None if last_result is None else asdict(last_result),
    }
    write_atomically(path, lambda handle: handle.write(json.dumps(document) + "\n"))
