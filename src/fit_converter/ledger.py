"""The ledger: one SQLite history of every conversion, from inbox, web and CLI."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Ledger:
    """Open the ledger at ``path``; each call uses its own short connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30)
        connection.row_factory = sqlite3.Row
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            with connection:
                yield connection
        finally:
            connection.close()

    def start(self, sha256: str, source: str, original_name: str) -> int:
        """Record a conversion as started and return its id."""
        with self._connect() as connection:
            cursor = connection.execute(
                "INSERT INTO conversions (sha256, source, original_name, status, created_at)"
                " VALUES (?, ?, ?, 'running', ?)",
                (sha256, source, original_name, _now()),
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


def _entry(row: sqlite3.Row) -> Entry:
    values = dict(row)
    values["outputs"] = json.loads(values["outputs"])
    values["warnings"] = json.loads(values["warnings"])
    return Entry(**values)
