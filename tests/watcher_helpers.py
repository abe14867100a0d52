"""Run the real watcher process on temporary folders and observe it from outside."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from helpers import wait_for


class NotifySocket:
    """An abstract-namespace datagram socket that collects sd_notify messages."""

    def __init__(self) -> None:
        self.address = f"@fit-converter-test-{uuid.uuid4().hex}"
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind("\0" + self.address[1:])
        self.socket.settimeout(0.2)
        self.messages: list[str] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.socket.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append(data.decode())

    def lines(self) -> list[str]:
        """Return every KEY=value line received so far."""
        return [line for message in list(self.messages) for line in message.splitlines()]

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self.socket.close()


class WatcherProcess:
    """``python -m fit_converter.watcher`` with its own data, state and notify socket."""

    def __init__(
        self, root: Path, *, args: list[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.root = root
        self.data = root / "data"
        self.state = root / "state"
        self.args = args or []
        self.env = {
            "FIT_CONVERTER_DATA_DIR": str(self.data),
            "FIT_CONVERTER_STATE_DIR": str(self.state),
            "FLASK_SECRET_KEY": "watcher-test-secret-0123456789",
            "FIT_CONVERTER_STABLE_SECONDS": "0.3",
            "FIT_CONVERTER_MIN_FREE_MB": "0",
            "WATCHDOG_USEC": "2000000",
            **(env or {}),
        }
        self.log_path = root / "watcher.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.notify: NotifySocket | None = None
        self.runs = 0

    @property
    def inbox(self) -> Path:
        return Path(self.env.get("FIT_CONVERTER_INBOX", str(self.data / "inbox")))

    @property
    def outbox(self) -> Path:
        return self.data / "outbox"

    @property
    def archive(self) -> Path:
        return self.data / "archive"

    @property
    def failed(self) -> Path:
        return self.data / "failed"

    def start(self, *, wait_ready: bool = True) -> WatcherProcess:
        """Start the process and wait for READY=1 (appends to the same log file)."""
        self.runs += 1
        self.notify = NotifySocket()
        with self.log_path.open("ab") as log:
            log.write(f"--- run {self.runs} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fit_converter.watcher", *self.args],
                env={**os.environ, **self.env, "NOTIFY_SOCKET": self.notify.address},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait_ready:
            wait_for(
                lambda: "READY=1" in self.notify_lines() or self.process_exited(),
                what="READY=1 from the watcher",
            )
            assert not self.process_exited(), self.log()
        return self

    def notify_lines(self) -> list[str]:
        return self.notify.lines() if self.notify else []

    def process_exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, text: str, timeout: float = 30.0) -> None:
        wait_for(lambda: text in self.log(), timeout, what=f"{text!r} in the watcher log")

    def stop(self, timeout: float = 30.0) -> int:
        """Send SIGTERM and return the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            if self.notify is not None:
                self.notify.close()
        return code

    def kill(self) -> None:
        """Send SIGKILL, as a power cut or the OOM killer would."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        if self.notify is not None:
            self.notify.close()

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        if self.notify is not None:
            self.notify.close()
        return code

    def ledger(self) -> list[dict[str, Any]]:
        """Return every ledger row, oldest first (empty before the first start)."""
        path = self.state / "ledger.sqlite3"
        if not path.exists():
            return []
        connection = sqlite3.connect(path, timeout=30)
        connection.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in connection.execute("SELECT * FROM conversions")]
        finally:
            connection.close()

    def statuses(self) -> list[str]:
        return [row["status"] for row in self.ledger()]

    def wait_statuses(self, expected: list[str], timeout: float = 30.0) -> None:
        """Wait until the ledger's statuses, oldest first, equal ``expected``."""
        wait_for(lambda: self.statuses() == expected, timeout, what=f"ledger statuses {expected}")

    def heartbeat(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            (self.state / "watcher-heartbeat.json").read_text(encoding="utf-8")
        )
        return document


def files_under(folder: Path) -> list[str]:
    """Return the paths of all files under ``folder``, relative and sorted."""
    if not folder.is_dir():
        return []
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def visible_files(folder: Path) -> list[str]:
    """Like ``files_under`` but without hidden names (temporary files)."""
    return [name for name in files_under(folder) if not Path(name).name.startswith(".")]
