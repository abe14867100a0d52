"""Decode a FIT file into plain messages.

``read_messages`` is the single decode step of the package: the converter uses only
``Message`` and ``Field`` objects, so the decoder behind it can be replaced without
touching the CSV code.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fitdecode

from fit_converter.errors import ConversionError, EmptyFileError, NotFitError

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


def check_fit_header(path: Path) -> int:
    """Check that ``path`` starts with a FIT header and return its declared total size.

    The total is header size + data size + 2 bytes of CRC, so callers can tell a
    complete file from one still being copied.
    """
    with path.open("rb") as handle:
        header = handle.read(14)

    if not header:
        raise EmptyFileError(path, "the file is empty (0 bytes)", "Export the activity again.")

    if len(header) < FIT_HEADER_MIN_SIZE or header[8:12] != b".FIT":
        raise NotFitError(
            path,
            "not a FIT file (no '.FIT' signature in the first 12 bytes)",
            "Only .fit activity files can be converted; export the original FIT file "
            "from the device or its app, not a GPX, TCX or CSV export.",
        )

    header_size = header[0]
    data_size = int.from_bytes(header[4:8], "little")
    return header_size + data_size + 2


def _field_name(field: Any) -> str:
    definition = field.field_def
    if definition is not None and getattr(definition, "is_dev", False):
        return f"{definition.dev_data_index}.{field.name}"
    return str(field.name)


def read_messages(path: Path, problems: list[str]) -> Iterator[Message]:
    """Yield every data message of the FIT file at ``path``.

    Decoding stops at the first unreadable byte; what was read before it is kept and
    the reason is appended to ``problems`` instead of being raised. A file that is
    not FIT at all raises NotFitError or EmptyFileError.
    """
    check_fit_header(path)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with fitdecode.FitReader(
                str(path),
                check_crc=fitdecode.CrcCheck.WARN,
                error_handling=fitdecode.ErrorHandling.WARN,
            ) as reader:
                for frame in reader:
                    if not isinstance(frame, fitdecode.FitDataMessage):
                        continue
                    fields = tuple(
                        Field(_field_name(field), field.value, field.units)
                        for field in frame.fields
                    )
                    yield Message(str(frame.name), fields)
        except fitdecode.FitEOFError as error:
            problems.append(f"file is truncated, kept what was readable ({error})")
        except fitdecode.FitError as error:
            problems.append(f"decoding stopped early, kept what was readable ({error})")
        except OSError as error:
            raise ConversionError(path, f"cannot read the file ({error})", "Check it.") from error
        finally:
            for warning in caught:
                problems.append(str(warning.message))
