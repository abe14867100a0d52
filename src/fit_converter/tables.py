"""CSV tables: column choice and order, header units and the streaming row writer."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from fit_converter.config import CSV_TABLES, CsvOptions
from fit_converter.csvformat import (
    METERS_PER_FOOT,
    METERS_PER_MILE,
    MPH_PER_METER_PER_SECOND,
    Formatter,
    TimestampFormatter,
    elapsed_device_seconds,
    fahrenheit,
    float32_text,
    join_array,
    pace,
    scaled,
    semicircles_to_degrees,
    with_decimal_comma,
)
from fit_converter.fit import FitDecoder
from fit_converter.fit.profile import (
    DATE_TIME_TYPES,
    FIELD_BASE_TYPES,
    FIT_DATETIME_MIN,
    field_info,
)

#: Leading columns of the records table, in this order, when the file has them.
COMMON_RECORD_COLUMNS = (
    "timestamp",
    "timestamp_local",
    "position_lat",
    "position_long",
    "distance",
    "altitude",
    "speed",
    "heart_rate",
    "cadence",
    "power",
    "temperature",
)

#: Columns filled from their enhanced form when a record has no value of its own.
ENHANCED_FALLBACKS = {"speed": "enhanced_speed", "altitude": "enhanced_altitude"}

#: Extra tables and the FIT message each one lists.
MESSAGE_TABLES = {
    "laps": "lap",
    "sessions": "session",
    "lengths": "length",
    "events": "event",
    "device_info": "device_info",
}
TABLE_NAMES = CSV_TABLES

#: Extra columns per unit system: metric source -> (title, units, formatter).
IMPERIAL_COLUMNS: dict[str, tuple[str, str, Formatter]] = {
    "distance": ("distance_mi", "mi", scaled(1 / METERS_PER_MILE, 5)),
    "altitude": ("altitude_ft", "ft", scaled(1 / METERS_PER_FOOT, 1)),
    "speed": ("speed_mph", "mph", scaled(MPH_PER_METER_PER_SECOND, 3)),
    "temperature": ("temperature_f", "F", fahrenheit),
}

#: Column of relative times, which devices without a set clock write in place of dates.
ELAPSED_DEVICE_TIME = "elapsed_device_time"

#: Key that no message has, for columns that stay empty (``timestamp_local`` without offset).
NO_VALUE = "\x00none"


@dataclass
class Column:
    """One CSV column: header title, the message value it shows and how to format it."""

    title: str
    key: str
    units: str | None = None
    formatter: Formatter | None = None
    fallback: str | None = None

    def header(self, options: CsvOptions) -> str:
        if options.units_in_header and self.units:
            return f"{self.title} [{self.units}]"
        return self.title


def make_column(
    message: str, name: str, decoder: FitDecoder, options: CsvOptions, key: str | None = None
) -> Column:
    """Return the column of one field, with units and a formatter for its type."""
    is_dev = "." in name
    if is_dev:
        units = decoder.dev_units.get(name)
        base = decoder.dev_base_types.get(name)
        type_name = None
        is_float32 = base == 0x88
    else:
        units, type_name = field_info(message, name)
        is_float32 = FIELD_BASE_TYPES.get(message, {}).get(name) == "float32"

    formatter: Formatter | None = None
    if name == "timestamp" or type_name in DATE_TIME_TYPES:
        formatter = TimestampFormatter(utc=type_name != "local_date_time")
        units = None
    elif units == "semicircles":
        formatter = semicircles_to_degrees
        units = "deg"
    elif is_float32:
        formatter = float32_text

    if options.decimal_comma:
        formatter = with_decimal_comma(formatter)
    if is_dev or name in decoder.array_names.get(message, ()):
        formatter = join_array(formatter)
    return Column(name, key or name, units, formatter)


def record_columns(
    decoder: FitDecoder,
    local_offset: int | None,
    options: CsvOptions,
    extra: tuple[str, ...] = (),
    *,
    relative_times: bool = False,
) -> list[Column]:
    """Return the columns of the records table in their documented order.

    ``extra`` names fields that records get from other messages (heart rate from
    ``hr`` messages). With ``relative_times`` an ``elapsed_device_time`` column after
    ``timestamp`` contains the times that are seconds since the device was switched on.
    """
    names = list(dict.fromkeys([*decoder.field_names.get("record", {}), *extra]))
    # Developer fields under the names of their descriptions, wherever these are.
    names = [name for name in names if "." not in name]
    for definition in decoder.definitions.get("record", []):
        for index, number in definition.dev_keys:
            name = decoder.dev_field_names.get((index, number), f"field_{number}")
            names.append(f"{index}.{name}")
    names = list(dict.fromkeys(names))
    present = set(names)
    columns: list[Column] = []
    for name in COMMON_RECORD_COLUMNS:
        if name == "timestamp":
            columns.append(make_column("record", "timestamp", decoder, options))
            if relative_times:
                columns.append(elapsed_device_time_column("timestamp"))
        elif name == "timestamp_local":
            formatter: Formatter | None = None
            key = NO_VALUE
            if local_offset is not None:
                key = "timestamp"
                formatter = TimestampFormatter(local_offset, utc=False)
            columns.append(Column("timestamp_local", key, None, formatter))
        elif name in present or ENHANCED_FALLBACKS.get(name) in present:
            column = make_column("record", name, decoder, options)
            enhanced = ENHANCED_FALLBACKS.get(name)
            if enhanced and any(
                enhanced in field_names and name not in field_names
                for field_names in decoder.definition_names.get("record", ())
            ):
                column.fallback = enhanced
            columns.append(column)

    placed = {column.title for column in columns} | alias_only_names(decoder, "record")
    native = [n for n in names if n not in placed and "." not in n]
    developer = [n for n in names if "." in n and n not in placed]
    columns.extend(make_column("record", name, decoder, options) for name in native + developer)
    return add_unit_columns(columns, options)


def elapsed_device_time_column(key: str, title: str = ELAPSED_DEVICE_TIME) -> Column:
    """Return the column of the relative times (seconds since power-on) of field ``key``."""
    return Column(title, key, "s", elapsed_device_seconds)


def alias_only_names(decoder: FitDecoder, message: str) -> set[str]:
    """Return the names that only ever copy another column, like enhanced_speed from speed.

    A file without a native ``enhanced_speed`` field gets that value only as a copy of
    ``speed`` (a component expansion); such columns would repeat their source.
    """
    definitions = decoder.definitions.get(message, [])
    targets = {target for d in definitions for _, target in d.aliases}
    native: set[str] = set()
    for definition in definitions:
        native.update(name for _, name, _ in definition.plain)
        native.update(item[1] for item in definition.scaled)
        native.update(plan.name for plan in definition.general)
    return targets - native


def add_unit_columns(columns: list[Column], options: CsvOptions) -> list[Column]:
    """Insert imperial and pace columns after the metric column they are computed from."""
    result: list[Column] = []
    for column in columns:
        result.append(column)
        derived: list[tuple[str, str, Formatter]] = []
        if "imperial" in options.units and column.title in IMPERIAL_COLUMNS:
            derived.append(IMPERIAL_COLUMNS[column.title])
        if "pace" in options.units and column.title == "speed":
            derived.append(("pace", "min/km", pace(1000.0)))
            if "imperial" in options.units:
                derived.append(("pace_mi", "min/mi", pace(METERS_PER_MILE)))
        for title, units, formatter in derived:
            if options.decimal_comma:
                formatter = with_decimal_comma(formatter)
            result.append(Column(title, column.key, units, formatter, column.fallback))
    return result


def message_columns(
    message: str, rows: list[dict[str, Any]], decoder: FitDecoder, options: CsvOptions
) -> list[Column]:
    """Return the columns of a table of ``message`` rows: timestamp first, then first seen."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    ordered = (["timestamp"] if "timestamp" in names else []) + [
        n for n in names if n != "timestamp"
    ]
    # The column selection names records columns, so extra tables keep all of theirs.
    columns: list[Column] = []
    for name in ordered:
        column = make_column(message, name, decoder, options)
        columns.append(column)
        if isinstance(column.formatter, TimestampFormatter) and any(
            isinstance(row.get(name), int) and row[name] < FIT_DATETIME_MIN for row in rows
        ):
            title = ELAPSED_DEVICE_TIME if name == "timestamp" else f"{name}_{ELAPSED_DEVICE_TIME}"
            columns.append(elapsed_device_time_column(name, title))
    return columns


#: Columns that every records table keeps, whatever the column selection.
KEPT_COLUMNS = ("timestamp", ELAPSED_DEVICE_TIME)


def select(columns: list[Column], options: CsvOptions) -> tuple[list[Column], list[str]]:
    """Return the requested columns in the requested order, and the unknown requested names.

    ``timestamp`` (and ``elapsed_device_time``) always come first. A name matches a
    column's title with or without its `` [unit]`` suffix.
    """
    if options.columns is None:
        return columns, []
    by_name: dict[str, Column] = {}
    for column in columns:
        by_name.setdefault(column.title, column)
        by_name.setdefault(column.header(CsvOptions(units_in_header=True)), column)

    selected = [column for column in columns if column.title in KEPT_COLUMNS]
    unknown: list[str] = []
    for name in options.columns:
        found = by_name.get(name)
        if found is None:
            unknown.append(name)
        elif found not in selected:
            selected.append(found)
    return selected, unknown


def write_rows(
    handle: IO[str], columns: list[Column], rows: Iterable[Any], options: CsvOptions
) -> int:
    """Write the header and one line per row; return the number of rows written."""
    writer = csv.writer(handle, delimiter=options.delimiter, lineterminator="\n")
    writer.writerow([column.header(options) for column in columns])

    keys = [column.key for column in columns]
    formatters = [(i, c.formatter) for i, c in enumerate(columns) if c.formatter is not None]
    fallbacks = [(i, c.fallback) for i, c in enumerate(columns) if c.fallback is not None]
    writerow = writer.writerow
    count = 0
    write_line = handle.write
    for values in rows:
        if type(values) is str:
            # A finished line from a compiled row builder.
            write_line(values)
            count += 1
            continue
        if type(values) is tuple:
            # Cells already formatted by a compiled row builder.
            writerow(values)
            count += 1
            continue
        get = values.get
        row = list(map(get, keys))
        for index, fallback in fallbacks:
            if row[index] is None:
                row[index] = get(fallback)
        for index, formatter in formatters:
            value = row[index]
            if value is not None:
                row[index] = formatter(value)
        writerow(row)
        count += 1
    return count


def drop_empty_columns(lines: Iterator[list[str]]) -> list[list[str]]:
    """Return the table without the columns after the first whose cells are all empty."""
    table = list(lines)
    if not table:
        return table
    header, body = table[0], table[1:]
    # The first column (timestamp) stays, so even a table without rows has a header.
    keep = [i for i in range(len(header)) if i == 0 or any(row[i] for row in body)]
    return [[row[i] for i in keep] for row in table]
