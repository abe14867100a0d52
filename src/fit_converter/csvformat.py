"""Cell formatting for the CSV tables: one formatter per column, chosen once per file.

The decoder yields integers for date-times and semicircles, which need formatting.
Ints, strings and floats that need no conversion are left to ``csv.writer``, which
writes floats with ``repr``: the shortest text that reads back as the same number.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable
from typing import Any

from fit_converter.fit.profile import FIT_DATETIME_MIN, FIT_EPOCH_UNIX

#: Degrees per semicircle: FIT stores positions as 32-bit fractions of 180 degrees.
DEGREES_PER_SEMICIRCLE = 180.0 / 2**31

#: Decimal places kept for positions in degrees: 1e-9 degrees is about 0.1 mm.
POSITION_DECIMALS = 9

Formatter = Callable[[Any], Any]

_FLOAT32 = struct.Struct("<f")


class TimestampFormatter:
    """Format FIT date-times as ISO 8601, shifted by ``offset`` seconds.

    UTC times end in ``Z``; local times have no zone suffix. A relative time (below
    ``FIT_DATETIME_MIN``) becomes an empty cell, so a column never mixes numbers and
    dates; ``elapsed_device_seconds`` writes those values. The text up to the minute
    is cached because consecutive records usually share it.
    """

    def __init__(self, offset: int = 0, *, utc: bool = True) -> None:
        self.offset = offset
        self.suffix = "Z" if utc else ""
        self._minute = -1
        self._prefix = ""

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, int):
            return value
        if value < FIT_DATETIME_MIN:
            # Seconds since the device was switched on, not a date.
            return ""
        minute, second = divmod(value + FIT_EPOCH_UNIX + self.offset, 60)
        if minute != self._minute:
            self.prefix(minute)
        return self._prefix + SECONDS[second] + self.suffix

    def prefix(self, minute: int) -> str:
        """Return (and cache) the text of a time up to its minute, e.g. ``2024-06-01T08:30:``."""
        if minute != self._minute:
            self._minute = minute
            moment = dt.datetime.fromtimestamp(minute * 60, dt.UTC)
            self._prefix = moment.strftime("%Y-%m-%dT%H:%M:")
        return self._prefix


SECONDS = tuple(f"{second:02d}" for second in range(60))


def elapsed_device_seconds(value: Any) -> Any:
    """Return a relative FIT time (seconds since the device was switched on), else ''.

    The FIT SDK defines date_time values below ``FIT_DATETIME_MIN`` (0x10000000) as
    relative. Absolute times go to the ISO 8601 columns instead.
    """
    if isinstance(value, int) and value < FIT_DATETIME_MIN:
        return value
    return ""


def format_fractional_time(seconds_since_fit_epoch: float) -> str:
    """Format a FIT time with a fraction of a second as ISO 8601 UTC with milliseconds."""
    moment = dt.datetime.fromtimestamp(FIT_EPOCH_UNIX + seconds_since_fit_epoch, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def semicircles_to_degrees(value: Any) -> Any:
    """Return a semicircle integer as degrees text, rounded to ``POSITION_DECIMALS`` places.

    Formatting straight to text is about twice as fast as ``round`` plus the CSV
    writer's ``repr``, and gives the same digits without trailing zeros.
    """
    if not isinstance(value, int):
        return value
    text = f"{value * DEGREES_PER_SEMICIRCLE:.9f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def float32_text(value: Any) -> Any:
    """Return the shortest text that reads back as the same float32 (``3.3``, not ``3.2999999``)."""
    if not isinstance(value, float):
        return value
    packed = _FLOAT32.pack(value)
    for digits in range(6, 10):
        text = f"{value:.{digits}g}"
        if _FLOAT32.pack(float(text)) == packed:
            # Keep floats recognisable as floats, as repr does: "1.0", not "1".
            return text if any(char in text for char in ".en") else text + ".0"
    return repr(value)


def join_array(item_formatter: Formatter | None) -> Formatter:
    """Return a formatter that joins an array with ``|``; an all-invalid array is empty."""

    def format_array(value: Any) -> Any:
        if not isinstance(value, tuple):
            return item_formatter(value) if item_formatter else value
        if all(item is None for item in value):
            return ""
        return "|".join(
            ""
            if item is None
            else str(item_formatter(item) if item_formatter else plain_text(item))
            for item in value
        )

    format_array.inner = item_formatter  # type: ignore[attr-defined]
    return format_array


def plain_text(value: Any) -> str:
    """Return the CSV text of one value as ``csv.writer`` would write it."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def with_decimal_comma(inner: Formatter | None) -> Formatter:
    """Return a formatter that writes numbers with a decimal comma (``64,8``)."""

    def format_decimal_comma(value: Any) -> Any:
        if inner is not None:
            value = inner(value)
        if isinstance(value, float):
            return repr(value).replace(".", ",")
        if isinstance(value, str) and value[:1] in "-0123456789" and value.count(".") == 1:
            head, _, tail = value.partition(".")
            if head.lstrip("-").isdigit() and tail.replace("e-", "").replace("e+", "").isdigit():
                return f"{head},{tail}"
        return value

    return format_decimal_comma


METERS_PER_MILE = 1609.344
METERS_PER_FOOT = 0.3048
MPH_PER_METER_PER_SECOND = 3600 / METERS_PER_MILE


def scaled(factor: float, decimals: int) -> Formatter:
    """Return a formatter that multiplies a number by ``factor`` and rounds it."""

    def format_scaled(value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return round(value * factor, decimals)
        return value

    return format_scaled


def fahrenheit(value: Any) -> Any:
    """Convert degrees Celsius to Fahrenheit, to 0.1 degree."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(value * 9 / 5 + 32, 1)
    return value


def pace(meters: float) -> Formatter:
    """Return a formatter that turns a speed in m/s into a pace per ``meters`` as ``m:ss``.

    A speed of zero (standing still) has no pace and gives an empty cell.
    """

    def format_pace(value: Any) -> Any:
        if not isinstance(value, int | float) or value <= 0:
            return ""
        minutes, seconds = divmod(round(meters / value), 60)
        return f"{minutes}:{seconds:02d}"

    return format_pace
