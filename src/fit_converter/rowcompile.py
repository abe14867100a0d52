"""Compile one function per definition that turns raw slots straight into a CSV row.

Most record definitions hold only scalar integer fields, each either taken as it is or
scaled. For those the generic path (a dict per message, then a list per row, then a
formatter loop) costs more than decoding itself, so the writer compiles a function
with one expression per column instead, for example::

    def build(raw, f0=<timestamp formatter>):
        v0 = raw[0]
        v1 = raw[3]
        return (f0(v0) if v0 != 4294967295 else None,
                (v1 - 2500.0) / 5.0 if v1 != 65535 else None)

Only numbers, ``repr`` of numbers and ``repr`` of column names enter the source.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from fit_converter.csvformat import (
    DEGREES_PER_SEMICIRCLE,
    POSITION_DECIMALS,
    SECONDS,
    TimestampFormatter,
    semicircles_to_degrees,
)
from fit_converter.fit.definitions import Definition
from fit_converter.fit.profile import BASE_TYPES, FIT_DATETIME_MIN, FIT_EPOCH_UNIX
from fit_converter.tables import Column


def compile_row_builder(
    definition: Definition,
    columns: list[Column],
    line_delimiter: str | None = None,
    dev_descriptions: tuple[dict[tuple[int, int], str], dict[str, int]] = ({}, {}),
) -> Callable[[tuple[Any, ...]], Any] | None:
    """Return a function raw slots -> formatted row for ``columns``, or None if unsuitable.

    With ``line_delimiter`` the function returns the finished CSV line instead of a
    tuple. Use it only when no cell can contain the delimiter, a quote or a newline.
    ``dev_descriptions`` contains the decoder's ``dev_field_names`` and ``dev_base_types``.
    Definitions with general fields, or with developer fields that are not one number
    each, are left to the generic path.
    """
    if definition.general:
        return None
    unpackers: dict[str, Any] = {}
    dev_sources: dict[str, tuple[int, Any, bool]] = {}
    dev_names, base_types = dev_descriptions
    for dev in definition.dev_fields:
        name = dev_names.get((dev.developer_data_index, dev.field_number))
        base = BASE_TYPES.get(base_types.get(f"{dev.developer_data_index}.{name}", -1))
        if name is None or base is None or base.format == "s" or dev.size != base.size:
            return None
        full_name = f"{dev.developer_data_index}.{name}"
        unpackers[full_name] = struct.Struct(definition.endian + base.format).unpack
        dev_sources.setdefault(full_name, (dev.index, base.invalid, base.invalid is None))

    # name -> (slot, invalid marker, scale, scaled offset); scale None means "as it is".
    sources: dict[str, tuple[int, Any, float | None, float]] = {}
    for index, name, invalid in definition.plain:
        sources[name] = (index, invalid, None, 0.0)
    for index, name, invalid, scale, offset in definition.scaled:
        sources[name] = (index, invalid, scale, offset)
    for source, target in definition.aliases:
        if target not in sources and source in sources:
            sources[target] = sources[source]
    enum_names: dict[str, dict[int, str]] = {}
    for index, name, invalid, labels in definition.enums:
        sources[name] = (index, invalid, None, 0.0)
        enum_names[name] = labels

    formatters: list[Any] = [column.formatter for column in columns]
    lines = ["def build(raw, formatters=formatters, enums=enums, unpackers=unpackers):"]
    cells: list[str] = []
    slot_names: dict[int, str] = {}

    def slot_variable(index: int) -> str:
        if index not in slot_names:
            slot_names[index] = f"v{index}"
            lines.append(f"    v{index} = raw[{index}]")
        return slot_names[index]

    def cell(number: int, column: Column, found: tuple[int, Any, float | None, float]) -> str:
        index, invalid, scale, offset = found
        variable = slot_variable(index)
        value = variable if scale is None else f"({variable} - {offset!r}) / {scale!r}"
        if column.key in enum_names:
            value = f"enums[{number}].get({variable}, {variable})"
        if isinstance(column.formatter, TimestampFormatter) and scale is None:
            # Inlined TimestampFormatter: the minute's text is cached on the formatter.
            formatter = f"formatters[{number}]"
            shift = FIT_EPOCH_UNIX + column.formatter.offset
            minute, second = f"m{number}_{index}", f"s{number}_{index}"
            lines.append(f"    {minute}, {second} = divmod({variable} + {shift}, 60)")
            suffix = column.formatter.suffix  # "Z" or "", never a quote
            text = f'{formatter}.prefix({minute}) + SECONDS[{second}] + "{suffix}"'
            # Relative times (seconds since power-on) get an empty cell, as in the formatter.
            return (
                f'({text} if {variable} >= {FIT_DATETIME_MIN} else "") '
                f"if {variable} != {invalid!r} else "
            )
        if column.formatter is semicircles_to_degrees:
            # Inlined for speed; unlike the function, 8.0 degrees becomes "8".
            value = (
                f'format({value} * {DEGREES_PER_SEMICIRCLE!r}, ".{POSITION_DECIMALS}f")'
                '.rstrip("0").rstrip(".")'
            )
        elif column.formatter is not None:
            value = f"formatters[{number}]({value})"
        return f"{value} if {variable} != {invalid!r} else "

    for number, column in enumerate(columns):
        if column.key in dev_sources:
            index, invalid, is_float = dev_sources[column.key]
            variable = f"d{number}"
            lines.append(f"    {variable} = unpackers[{column.key!r}](raw[{index}])[0]")
            value = variable
            # One number each, so the array-joining wrapper is not needed.
            formatter = getattr(column.formatter, "inner", column.formatter)
            if formatter is not None:
                formatters[number] = formatter
                value = f"formatters[{number}]({variable})"
            empty = '""' if line_delimiter is not None else "None"
            check = f"{variable} == {variable}" if is_float else f"{variable} != {invalid!r}"
            cells.append(f"({value} if {check} else {empty})")
            continue
        candidates = [sources.get(column.key)]
        if column.fallback is not None:
            candidates.append(sources.get(column.fallback))
        found = [candidate for candidate in candidates if candidate is not None]
        if any(not isinstance(candidate[1], int) for candidate in found):
            return None
        # The first valid of the column's own field and its fallback, else an empty cell.
        empty = '""' if line_delimiter is not None else "None"
        cells.append("(" + "".join(cell(number, column, item) for item in found) + empty + ")")

    if line_delimiter is not None:
        if any(char in line_delimiter for char in "{}'\\\n\r"):
            return None
        lines.append("    return f'" + line_delimiter.join("{" + c + "}" for c in cells) + "\\n'")
    else:
        lines.append("    return (" + ", ".join(cells) + ",)")
    namespace: dict[str, Any] = {
        "formatters": formatters,
        "enums": [enum_names.get(column.key) for column in columns],
        "unpackers": unpackers,
        "SECONDS": SECONDS,
    }
    exec("\n".join(lines), namespace)
    builder: Callable[[tuple[Any, ...]], tuple[Any, ...]] = namespace["build"]
    return builder
