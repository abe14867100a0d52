"""systemd service notifications: READY=1, WATCHDOG=1, STATUS= and STOPPING=1.

The sdnotify library sends the datagrams; this module adds the watchdog interval from
``WATCHDOG_USEC`` and logs a failing socket once instead of failing the watcher.
"""

from __future__ import annotations

import logging
import os
import time

import sdnotify

log = logging.getLogger("fit_converter.watcher")


class Notifier:
    """Send notifications to systemd when ``NOTIFY_SOCKET`` is set; do nothing otherwise."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notifier: sdnotify.SystemdNotifier | None = None
        self._failed = False
        #: The last STATUS= text, sent or not (also when systemd is absent).
        self.last_status = ""
        self.watchdog_interval = _watchdog_interval()
        self._last_watchdog = 0.0
        if self.enabled:
            try:
                self._notifier = sdnotify.SystemdNotifier(debug=True)
            except OSError as error:
                log.warning("cannot connect to NOTIFY_SOCKET: %s; systemd is not notified", error)
                self.enabled = False

    def _send(self, message: str) -> None:
        if self._notifier is None or self._failed:
            return
        try:
            self._notifier.notify(message)
        except OSError as error:
            self._failed = True
            log.warning("cannot notify systemd (%s): %s; no further attempts", message, error)

    def ready(self, status: str) -> None:
        """Tell systemd the start-up scan is done."""
        self.last_status = status
        self._send(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        """Send a STATUS= line when it differs from the previous one."""
        if status != self.last_status:
            self.last_status = status
            self._send(f"STATUS={status}")

    def watchdog(self) -> None:
        """Send WATCHDOG=1 at most twice per watchdog timeout."""
        if self.watchdog_interval is None:
            return
        now = time.monotonic()
        if now - self._last_watchdog >= self.watchdog_interval:
            self._last_watchdog = now
            self._send("WATCHDOG=1")

    def stopping(self) -> None:
        """Tell systemd the watcher is shutting down."""
        self._send("STOPPING=1\nSTATUS=stopping")


def _watchdog_interval() -> float | None:
    """Return half the watchdog timeout in seconds, or None when no watchdog is set.

    systemd sets ``WATCHDOG_USEC`` and ``WATCHDOG_PID``. The pid check keeps a child
    process from sending WATCHDOG=1 on behalf of its parent.
    """
    raw = os.environ.get("WATCHDOG_USEC", "")
    owner = os.environ.get("WATCHDOG_PID", "")
    if not raw.isdigit() or int(raw) == 0:
        return None
    if owner and owner != str(os.getpid()):
        return None
    return int(raw) / 1_000_000 / 2
