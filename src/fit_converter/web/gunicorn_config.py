"""gunicorn settings for a Raspberry Pi 4 (4 cores, 1 to 8 GB of RAM, an SD card).

One worker process with threads: the conversion queue and the login rate limits live
in the worker's memory, and threads cost far less RAM than processes. Threads wait on
slow uploads while the conversion thread uses a core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Request threads. Each slow upload occupies one thread until its body has arrived.
DEFAULT_THREADS = 8

#: Seconds a worker may stay silent before the arbiter restarts it. The gthread
#: worker's main loop keeps reporting while request threads read an upload, so this
#: only catches a hung worker. 5 MB over a 256 kbit/s uplink takes about 160 s;
#: the limit leaves room for that even with a sync worker.
WORKER_TIMEOUT = 300

#: Seconds running requests get to finish after SIGTERM before they are cut off.
GRACEFUL_TIMEOUT = 30

#: Seconds an idle keep-alive connection from Caddy stays open.
KEEPALIVE = 5

SHARED_MEMORY = Path("/dev/shm")


def gunicorn_options(host: str, port: int, threads: int, log_level: str) -> dict[str, Any]:
    """Return the gunicorn settings for serving the app on ``host:port``."""
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": WORKER_TIMEOUT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": KEEPALIVE,
        "loglevel": log_level.lower(),
        "accesslog": "-",
        # The X-Forwarded-* headers are read by werkzeug's ProxyFix, one proxy deep.
        "forwarded_allow_ips": "127.0.0.1,::1",
    }
    # The worker updates its heartbeat file every second. gunicorn's documentation
    # recommends tmpfs for it because a worker can stall on a slow disk. On tmpfs
    # none of those writes reach the SD card.
    if SHARED_MEMORY.is_dir():
        options["worker_tmp_dir"] = str(SHARED_MEMORY)
    return options
