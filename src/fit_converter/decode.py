"""Decode a FIT file into plain messages.

``read_messages`` yields ``Message`` and ``Field`` objects with fitdecode-compatible
values (datetimes, enum names, values after scale and offset) for callers that show a
few messages. The CSV writer uses the faster ``fit_converter.fit.FitDecoder`` directly.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fit_converter.errors import ConversionError, EmptyFileError, NotFitError
from fit_converter.fit import FitDecoder, FitHeaderError, profile
from fit_converter.fit.profile import FIT_DATETIME_MIN, FIT_EPOCH_UNIX

NOT_FIT_HINT = (
    "Only .fit activity files can be converted; export the original FIT file "
    "from the device or its app, not a GPX, TCX or CSV export."
)

#: Smallest FIT header: size, protocol, profile (2), data size (4) and ".FIT".
FIT_HEADER_MIN_SIZE = 12

log = logging.getLogger("fit_converter.decode")


@dataclass(frozen=True, slots=True)
class Field:
    """One decoded field: its profile name, value after scale and offset, and units."""

    name: str
    value: Any
    units: str | None


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded data message, named after the FIT profile's message type."""

    name: str
    fields: tuple[Field, ...]


#: First bytes of a zip archive (local file header) and of a gzip stream.
ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"


def check_fit_header(path: Path) -> int:
    """Check that ``path`` starts with a FIT header and return its declared total size.

    The total is header size + data size + 2 bytes of CRC, so callers can tell a
    complete file from one still being copied.
    """
    with path.open("rb") as handle:
        header = handle.read(14)

    if not header:
        raise EmptyFileError(path, "the file is empty (0 bytes)", "Export the activity again.")

    if header.startswith((ZIP_MAGIC, GZIP_MAGIC)):
        kind = "a zip archive" if header.startswith(ZIP_MAGIC) else "gzip-compressed"
        raise NotFitError(
            path,
            f"the file is {kind}, not a bare FIT file",
            "Drop it into the inbox or upload it on the web page, which unpack .zip and "
            ".fit.gz files, or unpack it and convert the .fit files inside.",
        )

    if len(header) < FIT_HEADER_MIN_SIZE or header[8:12] != b".FIT":
        raise NotFitError(
            path, "not a FIT file (no '.FIT' signature in the first 12 bytes)", NOT_FIT_HINT
        )

    header_size = header[0]
    data_size = int.from_bytes(header[4:8], "little")
    return header_size + data_size + 2


def read_fit_file(path: Path) -> bytes:
    """Check the FIT header of ``path`` and return the whole file's bytes.

    Raises NotFitError or EmptyFileError for a file that is not FIT, and
    ConversionError when the file cannot be read.
    """
    check_fit_header(path)
    try:
        return path.read_bytes()
    except OSError as error:
        # NOTE: this makes a read error such as EIO permanent (the file goes to failed/),
        # while the same error from check_fit_header's open() escapes and is retried.
        raise ConversionError(
            path, f"cannot read the file ({error.strerror or error})", "Check its permissions."
        ) from error


def _convert_value(type_name: str | None, value: Any) -> Any:
    """Turn FIT date-time integers into datetime objects, as fitdecode does."""
    if value is None or isinstance(value, tuple):
        return value
    if type_name == "date_time" and value >= FIT_DATETIME_MIN:
        return dt.datetime.fromtimestamp(FIT_EPOCH_UNIX + value, dt.UTC)
    if type_name == "local_date_time":
        # Local wall-clock time, given as if it were UTC like fitdecode does.
        return dt.datetime.fromtimestamp(FIT_EPOCH_UNIX + value, dt.UTC)
    if type_name == "localtime_into_day":
        if value >= 86400:
            return dt.time.max
        minutes, seconds = divmod(int(value), 60)
        hours, minutes = divmod(minutes, 60)
        return dt.time(hours, minutes, seconds)
    return value


def read_messages(path: Path, problems: list[str]) -> Iterator[Message]:
    """Yield every data message of the FIT file at ``path``.

    Whatever is readable is kept: truncation, CRC mismatches and other problems are
    appended to ``problems`` as sentences instead of being raised. A file that is not
    FIT at all raises NotFitError or EmptyFileError; an unreadable one ConversionError.
    """
    decoder = FitDecoder(read_fit_file(path))
    types: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    try:
        messages = iter(decoder.messages())
        try:
            first = next(messages, None)
        except FitHeaderError as error:
            raise NotFitError(
                path, f"not a FIT file ({error.message})", NOT_FIT_HINT, offset=error.offset
            ) from error
        if first is None:
            return
        for name, values in itertools.chain([first], messages):
            fields = []
            for field_name, value in values.items():
                info = types.get((name, field_name))
                if info is None:
                    info = _field_info(decoder, name, field_name)
                    types[(name, field_name)] = info
                units, type_name = info
                converted = _convert_value(type_name, value)
                if converted is not value and isinstance(converted, dt.datetime | dt.time):
                    units = None
                fields.append(Field(field_name, converted, units))
            yield Message(name, tuple(fields))
    finally:
        problems.extend(str(problem) for problem in decoder.problems)


def _field_info(decoder: FitDecoder, message: str, field: str) -> tuple[str | None, str | None]:
    if field == "timestamp":
        return "s", "date_time"
    if "." in field:
        return decoder.dev_units.get(field), None
    return profile.field_info(message, field)
