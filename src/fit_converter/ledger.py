"""The ledger: one SQLite history of every conversion, from inbox, web and CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    original_name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    rows INTEGER,
    seconds REAL,
    outputs TEXT NOT NULL DEFAULT '[]',
    warnings TEXT NOT NULL DEFAULT '[]',
    stored_input TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS conversions_sha256 ON conversions (sha256);
"""

#: Columns added after the first schema, as (name, SQL type). ``_migrate`` adds the
#: missing ones, so an old ledger opens without losing its history.
ADDED_COLUMNS = (
    # Output path without ".csv", relative to the outbox, chosen before converting, so
    # a conversion resumed after a crash rewrites the same files instead of new ones.
    ("output_stem", "TEXT"),
    # Id of the converted entry with the same SHA-256, for status "duplicate".
    ("duplicate_of", "INTEGER"),
    # How often the process stopped while this entry was "running" (crash, kill -9),
    # so a file that kills the converter every time is set aside instead of retried.
    ("interruptions", "INTEGER NOT NULL DEFAULT 0"),
)


@dataclass(frozen=True)
class Entry:
    """One row of the ledger."""

    id: int
    sha256: str
    source: str
    original_name: str
    status: str
    created_at: str
    finished_at: str | None
    rows: int | None
    seconds: float | None
    outputs: list[str]
    warnings: list[str]
    stored_input: str | None
    error: str | None
    output_stem: str | None = None
    duplicate_of: int | None = None
    interruptions: int = 0


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Ledger:
    """Open the ledger at ``path``; each call runs in its own transaction.

    Each thread keeps one connection open. Closing the last connection to a WAL
    database checkpoints it, which cost more than the conversion of a small file when
    every call opened and closed its own. A connection inherited through ``fork`` is
    never used: the child opens its own. ``close`` or garbage collection of the Ledger
    closes them all (Python 3.13 warns about a connection collected while open).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _close_all, self._connections, self._lock)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.executescript(SCHEMA)
            _migrate(connection)

    def _connection(self) -> sqlite3.Connection:
        cached: tuple[int, sqlite3.Connection] | None = getattr(self._local, "connection", None)
        if cached is not None and cached[0] == os.getpid():
            return cached[1]
        # check_same_thread=False only so that ``close`` may run in any thread; each
        # connection is still used by the one thread that opened it.
        connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        self._local.connection = (os.getpid(), connection)
        with self._lock:
            self._connections.append((os.getpid(), connection))
        return connection

    def close(self) -> None:
        """Close every connection this Ledger opened; later calls open new ones."""
        _close_all(self._connections, self._lock)
        self._local = threading.local()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        with connection:
            yield connection

    def start(
        self, sha256: str, source: str, original_name: str, *, output_stem: str | None = None
    ) -> int:
        """Record a conversion as started and return its id."""
        with self._connect() as connection:
            cursor = connection.execute(
                "INSERT INTO conversions"
                " (sha256, source, original_name, status, created_at, output_stem)"
                " VALUES (?, ?, ?, 'running', ?, ?)",
                (sha256, source, original_name, _now(), output_stem),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def finish(
        self,
        entry_id: int,
        *,
        status: str,
        rows: int | None = None,
        seconds: float | None = None,
        outputs: list[str] | None = None,
        warnings: list[str] | None = None,
        stored_input: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record the outcome of a conversion started with ``start``."""
        with self._connect() as connection:
            connection.execute(
                "UPDATE conversions SET status = ?, finished_at = ?, rows = ?, seconds = ?,"
                " outputs = ?, warnings = ?, stored_input = ?, error = ? WHERE id = ?",
                (
                    status,
                    _now(),
                    rows,
                    seconds,
                    json.dumps(outputs or []),
                    json.dumps(warnings or []),
                    stored_input,
                    error,
                    entry_id,
                ),
            )

    def get(self, entry_id: int) -> Entry | None:
        """Return one entry, or None if there is no such id."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT * FROM conversions WHERE id = ?", (entry_id,)
            ).fetchone()
        return _entry(row) if row else None

    def recent(self, limit: int = 100) -> list[Entry]:
        """Return the newest entries first."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT * FROM conversions ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_entry(row) for row in rows]

    def count(self) -> int:
        """Return the number of entries."""
        with self._connect() as connection:
            row = connection.execute("SELECT COUNT(*) FROM conversions").fetchone()
        return int(row[0])

    def page(self, offset: int, limit: int) -> list[Entry]:
        """Return ``limit`` entries, newest first, after skipping the ``offset`` newest."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT * FROM conversions ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return [_entry(row) for row in rows]

    def get_many(self, entry_ids: list[int]) -> list[Entry]:
        """Return the entries with these ids, newest first; unknown ids are left out."""
        if not entry_ids:
            return []
        marks = ", ".join("?" for _ in entry_ids)
        with self._connect() as connection:
            rows = connection.execute(
                f"SELECT * FROM conversions WHERE id IN ({marks}) ORDER BY id DESC", entry_ids
            ).fetchall()
        return [_entry(row) for row in rows]

    def delete(self, entry_id: int) -> bool:
        """Delete one entry; return False if there was no such id."""
        with self._connect() as connection:
            cursor = connection.execute("DELETE FROM conversions WHERE id = ?", (entry_id,))
        return cursor.rowcount > 0

    def find_converted(self, sha256: str) -> Entry | None:
        """Return the oldest entry that converted content with this SHA-256, if any."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT * FROM conversions WHERE sha256 = ? AND status = 'converted'"
                " ORDER BY id LIMIT 1",
                (sha256,),
            ).fetchone()
        return _entry(row) if row else None

    def find_unfinished(self, sha256: str, source: str) -> Entry | None:
        """Return the newest "running" or "interrupted" entry for this content and source."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT * FROM conversions WHERE sha256 = ? AND source = ?"
                " AND status IN ('running', 'interrupted') ORDER BY id DESC LIMIT 1",
                (sha256, source),
            ).fetchone()
        return _entry(row) if row else None

    def output_stems_in_use(self) -> set[str]:
        """Return the output stems of entries still "running" or "interrupted"."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT output_stem FROM conversions"
                " WHERE status IN ('running', 'interrupted') AND output_stem IS NOT NULL"
            ).fetchall()
        return {str(row[0]) for row in rows}

    def resume(self, entry_id: int) -> None:
        """Mark an unfinished entry as "running" again before its conversion is retried."""
        with self._connect() as connection:
            connection.execute(
                "UPDATE conversions SET status = 'running', finished_at = NULL, error = NULL"
                " WHERE id = ?",
                (entry_id,),
            )

    def record_duplicate(
        self, sha256: str, source: str, original_name: str, *, duplicate_of: int, stored_input: str
    ) -> int:
        """Record content that was converted before as a finished "duplicate" entry."""
        now = _now()
        with self._connect() as connection:
            cursor = connection.execute(
                "INSERT INTO conversions (sha256, source, original_name, status, created_at,"
                " finished_at, stored_input, duplicate_of)"
                " VALUES (?, ?, ?, 'duplicate', ?, ?, ?, ?)",
                (sha256, source, original_name, now, now, stored_input, duplicate_of),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def interrupt_running(self, source: str) -> int:
        """Mark every "running" entry of ``source`` as "interrupted"; return how many.

        Only the single process that owns ``source`` may call this, at start, because a
        "running" entry of another live process would be marked by mistake.
        """
        with self._connect() as connection:
            cursor = connection.execute(
                "UPDATE conversions SET status = 'interrupted', finished_at = ?,"
                " error = 'the process stopped before the conversion finished',"
                " interruptions = interruptions + 1"
                " WHERE status = 'running' AND source = ?",
                (_now(), source),
            )
            return cursor.rowcount


def _close_all(connections: list[tuple[int, sqlite3.Connection]], lock: threading.Lock) -> None:
    """Close the connections this process opened; drop those inherited through fork.

    SQLite forbids using a connection in a forked child, and closing one there could
    checkpoint the database under the parent, so the child leaves them alone.
    """
    with lock:
        for pid, connection in connections:
            if pid == os.getpid():
                connection.close()
        connections.clear()


def _migrate(connection: sqlite3.Connection) -> None:
    """Add the columns of ``ADDED_COLUMNS`` that an older ledger lacks."""
    present = {str(row[1]) for row in connection.execute("PRAGMA table_info(conversions)")}
    for name, sql_type in ADDED_COLUMNS:
        if name in present:
            continue
        try:
            connection.execute(f"ALTER TABLE conversions ADD COLUMN {name} {sql_type}")
        except sqlite3.OperationalError as error:
            # Another process opening the ledger at the same moment added it first.
            if "duplicate column" not in str(error):
                raise


def _entry(row: sqlite3.Row) -> Entry:
    values = dict(row)
    values["outputs"] = json.loads(values["outputs"])
    values["warnings"] = json.loads(values["warnings"])
    return Entry(**values)
