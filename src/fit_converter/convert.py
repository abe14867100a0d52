"""Turn one FIT file into CSV tables: ``<stem>.csv`` (records) and optional extra tables.

The file is read twice by the decoder. The first pass decodes every message except
``record`` (few and small: laps, events, the activity's local time offset, developer
field descriptions) and learns the record columns from the definition messages. The
second pass streams the records straight into the CSV, so memory stays flat however
long the activity is.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from fit_converter.config import CsvOptions
from fit_converter.csvformat import (
    DEGREES_PER_SEMICIRCLE,
    format_fractional_time,
    with_decimal_comma,
)
from fit_converter.decode import NOT_FIT_HINT, read_fit_file
from fit_converter.errors import ConversionError, NotFitError
from fit_converter.files import unique_path, write_atomically
from fit_converter.fit import FitDecodeError, FitDecoder, FitHeaderError, FitTruncatedError
from fit_converter.fit.decoder import RowBuilder
from fit_converter.fit.definitions import Definition
from fit_converter.fit.profile import (
    FIT_DATETIME_MIN,
    MESG_NUM_HRV,
    MESG_NUM_RECORD,
    MESG_NUMS_BY_NAME,
)
from fit_converter.fitcsv import write_fitcsv
from fit_converter.heartrate import hr_samples, merge_heart_rate
from fit_converter.localtime import describe_invalid_offset, is_valid_utc_offset
from fit_converter.rowcompile import compile_row_builder
from fit_converter.tables import (
    MESSAGE_TABLES,
    Column,
    drop_empty_columns,
    message_columns,
    record_columns,
    select,
    write_rows,
)

RECORD_ONLY = frozenset({MESG_NUM_RECORD})
HRV_ONLY = frozenset({MESG_NUM_HRV})


log = logging.getLogger("fit_converter.convert")


@dataclass
class ConversionReport:
    """Result of one conversion: output files, row counts and warnings."""

    source: Path
    outputs: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """Return one line for logs and the CLI: ``ride.fit: 2809 rows in ride.csv (0.12 s)``."""
        # Each table's row count is added together with its output, so the orders match.
        outputs = ", ".join(
            f"{rows} rows in {path.name}"
            for path, rows in zip(self.outputs, self.rows.values(), strict=False)
        )
        text = f"{self.source.name}: {outputs} ({self.seconds:.2f} s)"
        if self.warnings:
            text += f"; {len(self.warnings)} warning(s): " + "; ".join(self.warnings)
        return text


def format_value(name: str, value: Any, units: str | None) -> str:
    """Format one ``read_messages`` value for display; None (invalid in FIT) becomes ''."""
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


def local_time_offset(messages: list[tuple[str, dict[str, Any]]]) -> int | None:
    """Return the activity's offset from UTC in seconds, or None when the file has none.

    The offset is ``activity.local_timestamp - activity.timestamp``, the device's own
    clock, never the server's zone. A relative ``activity.timestamp`` (seconds since
    the device was switched on) gives no offset. The caller checks the result with
    ``is_valid_utc_offset``.
    """
    for name, values in messages:
        if name != "activity":
            continue
        local = values.get("local_timestamp")
        utc = values.get("timestamp")
        if isinstance(local, int) and isinstance(utc, int) and utc >= FIT_DATETIME_MIN:
            return local - utc
    return None


def has_relative_times(decoder: FitDecoder, messages: list[tuple[str, dict[str, Any]]]) -> bool:
    """Return whether the file's times count from power-on instead of being dates.

    The FIT SDK defines date_time values below 0x10000000 as relative. The first of
    the first 100 records with a timestamp decides, else any other message's timestamp.
    """
    # NOTE: relative times stay relative even when the file contains an absolute
    # activity.local_timestamp: Forerunner 70 files of two different runs carry the
    # same local_timestamp, so it is no anchor for the record times.
    for _, values in itertools.islice(decoder.messages(only=RECORD_ONLY), 100):
        timestamp = values.get("timestamp")
        if isinstance(timestamp, int):
            return timestamp < FIT_DATETIME_MIN
    return any(
        isinstance(values.get("timestamp"), int) and values["timestamp"] < FIT_DATETIME_MIN
        for _, values in messages
    )


def describe_problems(problems: list[FitDecodeError], records: int, file_size: int) -> list[str]:
    """Turn decoder problems into report warnings, estimating what truncation lost."""
    warnings: list[str] = []
    seen: set[str] = set()
    for problem in problems:
        text = str(problem)
        if isinstance(problem, FitTruncatedError) and problem.offset > 0:
            estimate = round(records * problem.expected_size / max(problem.offset, 1))
            text = (
                f"truncated at byte {problem.offset:,} of {problem.expected_size:,}, "
                f"kept {records:,} of about {estimate:,} records"
            )
        if text not in seen:
            seen.add(text)
            warnings.append(text)
    return warnings


def hrv_start_time(messages: list[tuple[str, dict[str, Any]]]) -> int | None:
    """Return the time R-R intervals count from: the first timer start, else the first time.

    A relative time (seconds since power-on) is no date, so it gives None.
    """
    start: int | None = None
    for name, values in messages:
        if (
            name == "event"
            and values.get("event") == "timer"
            and values.get("event_type") == "start"
            and isinstance(values.get("timestamp"), int)
        ):
            start = int(values["timestamp"])
            break
    if start is None:
        start = next(
            (int(v["timestamp"]) for _, v in messages if isinstance(v.get("timestamp"), int)),
            None,
        )
    return start if start is not None and start >= FIT_DATETIME_MIN else None


def hrv_rows(start: int | None, messages: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield one row per R-R interval of the ``hrv`` messages, with its reconstructed time.

    Times count from ``start`` and add up the intervals.
    """
    # NOTE: hrv messages carry no timestamps, so intervals lost during a pause shift
    # every later time. The times are an estimate that drifts with such gaps.
    elapsed = 0.0
    for values in messages:
        intervals = values.get("time")
        if not isinstance(intervals, tuple):
            intervals = (intervals,)
        for interval in intervals:
            if interval is None:
                continue
            elapsed += interval
            moment = format_fractional_time(start + elapsed) if start is not None else None
            yield {"time": moment, "rr_interval": interval}


def _write_table(target: Path, columns: list[Column], rows: Any, options: CsvOptions) -> int:
    """Write one table atomically; return its row count."""
    count = 0

    def write(handle: IO[str]) -> None:
        nonlocal count
        if not options.drop_empty_columns:
            count = write_rows(handle, columns, rows, options)
            return
        buffer = io.StringIO()
        count = write_rows(buffer, columns, rows, options)
        buffer.seek(0)
        reader = csv.reader(buffer, delimiter=options.delimiter)
        writer = csv.writer(handle, delimiter=options.delimiter, lineterminator="\n")
        writer.writerows(drop_empty_columns(reader))

    write_atomically(target, write)
    return count


def _write_fitcsv(target: Path, decoder: FitDecoder) -> int:
    """Write the FitCSVTool layout atomically; return its row count."""
    count = 0

    def write(handle: IO[str]) -> None:
        nonlocal count
        count = write_fitcsv(decoder, handle)

    write_atomically(target, write)
    return count


def convert_file(
    source: Path,
    outbox: Path,
    *,
    stem: str | None = None,
    overwrite: bool = False,
    options: CsvOptions | None = None,
) -> ConversionReport:
    """Convert ``source`` into ``<stem>.csv`` (and extra tables) in ``outbox``.

    Every CSV is written to a temporary name, flushed to disk and renamed, so readers of
    the outbox never see a half-written file. Without ``overwrite`` an existing CSV of
    the same name is kept and the new one gets a numbered name.
    """
    options = options or CsvOptions()
    started = time.monotonic()
    report = ConversionReport(source=source)
    decoder = FitDecoder(read_fit_file(source))
    needed = messages_to_keep(options)
    others: list[tuple[str, dict[str, Any]]] = []
    heart_rates: list[dict[str, Any]] = []
    first_pass = (
        None
        if needed is None
        else frozenset(MESG_NUMS_BY_NAME[name] for name in (*needed, "hr", "developer_data_id"))
    )
    try:
        for name, values in decoder.messages(skip=RECORD_ONLY, only=first_pass):
            if name == "hr":
                heart_rates.append(values)
            if name != "hrv" and (needed is None or name in needed):
                others.append((name, values))
    except FitHeaderError as error:
        raise NotFitError(
            source, f"not a FIT file ({error.message})", NOT_FIT_HINT, offset=error.offset
        ) from error
    problems = list(decoder.problems)
    if "record" not in decoder.field_names:
        raise ConversionError(
            source,
            "the file has no record messages, so there is nothing to put in a CSV",
            "Settings, workout and course files hold no recorded activity; "
            "convert an activity file instead.",
        )

    outbox.mkdir(parents=True, exist_ok=True)
    base = stem or source.stem

    def output_path(name: str) -> Path:
        target = outbox / name
        return target if overwrite else unique_path(target)

    samples = hr_samples(heart_rates)
    del heart_rates
    local_offset = local_time_offset(others)
    if local_offset is not None and not is_valid_utc_offset(local_offset):
        report.warnings.append(describe_invalid_offset(local_offset))
        local_offset = None
    relative_times = has_relative_times(decoder, others)
    if relative_times:
        report.warnings.append(
            "the device clock was not set: times are seconds since it was switched on, "
            "so timestamp is empty and elapsed_device_time [s] holds those seconds"
        )
    available_columns = columns = record_columns(
        decoder,
        local_offset,
        options,
        extra=("heart_rate",) if samples else (),
        relative_times=relative_times,
    )
    columns, unknown_columns = select(columns, options)
    if unknown_columns:
        available = ", ".join(column.title for column in available_columns)
        report.warnings.append(
            f"unknown column(s) {', '.join(unknown_columns)} left out. "
            f"The records columns of this file are: {available}"
        )

    # Numbers and ISO times never contain a delimiter unless decimals use a comma.
    line_delimiter = None if options.decimal_comma else options.delimiter

    def row_factory(definition: Definition) -> RowBuilder | None:
        descriptions = (decoder.dev_field_names, decoder.dev_base_types)
        return compile_row_builder(definition, columns, line_delimiter, descriptions)

    messages = decoder.messages(only=RECORD_ONLY, row_factory=None if samples else row_factory)
    records: Iterable[Any] = map(itemgetter(1), messages)
    if samples:
        records = merge_heart_rate(records, samples)
    target = output_path(f"{base}.csv")
    report.rows["records"] = _write_table(target, columns, records, options)
    if not report.rows["records"]:
        target.unlink()
        raise ConversionError(
            source,
            "the file defines record messages but contains none that could be read",
            "The recording may have stopped at once or the file is cut short; "
            "convert a complete activity file.",
        )
    report.outputs.append(target)
    problems.extend(decoder.problems)

    for table, rows, message in _extra_tables(others, options, decoder):
        if table == "hrv":
            interval_format = with_decimal_comma(None) if options.decimal_comma else None
            table_columns = [
                Column("time", "time"),
                Column("rr_interval", "rr_interval", "s", interval_format),
            ]
        else:
            assert isinstance(rows, list)
            table_columns = message_columns(message, rows, decoder, options)
        table_target = output_path(f"{base}.{table}.csv")
        report.rows[table] = _write_table(table_target, table_columns, rows, options)
        report.outputs.append(table_target)

    if "fitcsv" in options.tables:
        fitcsv_target = output_path(f"{base}.fitcsv.csv")
        report.rows["fitcsv"] = _write_fitcsv(fitcsv_target, decoder)
        report.outputs.append(fitcsv_target)

    report.warnings.extend(describe_problems(problems, report.rows["records"], len(decoder.data)))
    unknown = sorted(int(name[8:]) for name in decoder.field_names if name.startswith("unknown_"))
    if unknown and {"all", "fitcsv"} & set(options.tables):
        numbers = ", ".join(str(number) for number in unknown)
        report.warnings.append(
            f"{len(unknown)} message type(s) are missing from the FIT profile and were "
            f"written as unknown_<number>: {numbers}"
        )
    report.seconds = time.monotonic() - started
    log.debug("converted %s in %.3f s (pid %d)", source, report.seconds, os.getpid())
    return report


def messages_to_keep(options: CsvOptions) -> set[str] | None:
    """Return the messages the first pass must keep for ``options``; None keeps all.

    ``hrv`` messages are never kept: their table is streamed from a pass of its own.
    """
    if "all" in options.tables:
        return None
    needed = {"activity"}
    for table in options.tables:
        if table in MESSAGE_TABLES:
            needed.add(MESSAGE_TABLES[table])
        elif table == "hrv":
            needed.add("event")
    return needed


def _extra_tables(
    others: list[tuple[str, dict[str, Any]]], options: CsvOptions, decoder: FitDecoder
) -> Iterator[tuple[str, Iterable[dict[str, Any]], str]]:
    """Yield (table name, rows, message name) of each extra table that was requested."""
    requested = set(options.tables)
    if "all" in requested:
        # One table per message type; hrv is written as R-R intervals with their times.
        by_message: dict[str, list[dict[str, Any]]] = {}
        for name, values in others:
            by_message.setdefault(name, []).append(values)
        for name, rows in by_message.items():
            yield name, rows, name
        requested.discard("all")
        requested.add("hrv")

    for table in sorted(requested):
        if table == "hrv" and "hrv" in decoder.field_names:
            messages = decoder.messages(only=HRV_ONLY)
            intervals = (values for name, values in messages if name == "hrv")
            yield "hrv", hrv_rows(hrv_start_time(others), intervals), "hrv"
        elif table in MESSAGE_TABLES:
            message = MESSAGE_TABLES[table]
            rows = [values for name, values in others if name == message]
            if rows:
                yield table, rows, message
