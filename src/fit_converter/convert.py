"""Turn one FIT file into a records CSV: one row per ``record`` message."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fit_converter.decode import read_messages
from fit_converter.errors import ConversionError
from fit_converter.files import unique_path, write_atomically

#: Degrees per semicircle: FIT stores positions as 32-bit fractions of 180 degrees.
DEGREES_PER_SEMICIRCLE = 180.0 / 2**31

log = logging.getLogger("fit_converter.convert")


@dataclass
class ConversionReport:
    """What one conversion produced: output files, row counts and warnings."""

    source: Path
    outputs: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """Return one line for logs and the CLI."""
        counts = ", ".join(f"{rows} {table} rows" for table, rows in self.rows.items())
        names = ", ".join(path.name for path in self.outputs)
        text = f"{self.source.name} -> {names} ({counts}, {self.seconds:.2f} s)"
        if self.warnings:
            text += f"; {len(self.warnings)} warning(s): " + "; ".join(self.warnings)
        return text


def format_value(name: str, value: Any, units: str | None) -> str:
    """Format one field value for a CSV cell; None (invalid in FIT) becomes ''."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        moment: dt.datetime = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if units == "semicircles" and isinstance(value, int):
        return repr(round(value * DEGREES_PER_SEMICIRCLE, 9))
    if isinstance(value, float):
        return repr(round(value, 9))
    if isinstance(value, tuple | list):
        return "|".join(format_value(name, item, units) for item in value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def convert_file(
    source: Path, outbox: Path, *, stem: str | None = None, overwrite: bool = False
) -> ConversionReport:
    """Convert ``source`` into ``<stem>.csv`` in ``outbox`` and return the report.

    The CSV is written to a temporary name, flushed to disk and renamed, so readers of
    the outbox never see a half-written file. Without ``overwrite`` an existing CSV of
    the same name is kept and the new one gets a numbered name.
    """
    started = time.monotonic()
    report = ConversionReport(source=source)

    columns: dict[str, None] = {"timestamp": None}
    rows: list[dict[str, str]] = []
    for message in read_messages(source, report.warnings):
        if message.name != "record":
            continue
        row: dict[str, str] = {}
        for item in message.fields:
            cell = format_value(item.name, item.value, item.units)
            if item.name in row and row[item.name] != "":
                continue
            row[item.name] = cell
            columns.setdefault(item.name, None)
        rows.append(row)

    if not rows:
        raise ConversionError(
            source,
            "the file has no record messages, so there is nothing to put in a CSV",
            "Settings, workout and course files hold no recorded activity; "
            "convert an activity file instead.",
        )

    outbox.mkdir(parents=True, exist_ok=True)
    target = outbox / f"{stem or source.stem}.csv"
    if not overwrite:
        target = unique_path(target)

    def write(handle: Any) -> None:
        writer = csv.DictWriter(handle, fieldnames=list(columns), restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    write_atomically(target, write)

    report.outputs.append(target)
    report.rows["records"] = len(rows)
    report.seconds = time.monotonic() - started
    log.debug("converted %s in %.3f s (pid %d)", source, report.seconds, os.getpid())
    return report
