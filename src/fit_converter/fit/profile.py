"""The FIT profile (message and field names, types, scale, offset, units, components).

The profile is read at import from fitdecode's generated, MIT-licensed ``profile``
module (fitdecode 0.11.0, FIT SDK 21.171), pinned in pyproject.toml. Only its data
is used: decoding is done by this package.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from fitdecode import profile as _profile

MESSAGE_TYPES: dict[int, Any] = _profile.MESSAGE_TYPES
MESG_NUMS_BY_NAME: dict[str, int] = {m.name: number for number, m in MESSAGE_TYPES.items()}

#: Global message numbers the decoder treats specially.
MESG_NUM_FILE_ID = 0
MESG_NUM_RECORD = 20
MESG_NUM_HRV = 78
MESG_NUM_HR = 132
MESG_NUM_FIELD_DESCRIPTION = 206
MESG_NUM_DEVELOPER_DATA_ID = 207

FIELD_NUM_TIMESTAMP = 253

#: Seconds between the Unix epoch and the FIT epoch (1989-12-31T00:00:00Z).
FIT_EPOCH_UNIX = 631065600

#: ``date_time`` values below this are seconds since the device was switched on.
FIT_DATETIME_MIN = 0x10000000


@dataclass(frozen=True, slots=True)
class BaseType:
    """A FIT base type: struct format character, size in bytes and invalid marker."""

    number: int
    name: str
    format: str
    size: int
    invalid: int | float | None


def _base(number: int, name: str, fmt: str, invalid: int | float | None) -> BaseType:
    return BaseType(number, name, fmt, struct.calcsize(fmt), invalid)


#: Base types by number. Float invalid markers are NaN and checked with ``x != x``.
BASE_TYPES: dict[int, BaseType] = {
    0x00: _base(0x00, "enum", "B", 0xFF),
    0x01: _base(0x01, "sint8", "b", 0x7F),
    0x02: _base(0x02, "uint8", "B", 0xFF),
    0x83: _base(0x83, "sint16", "h", 0x7FFF),
    0x84: _base(0x84, "uint16", "H", 0xFFFF),
    0x85: _base(0x85, "sint32", "i", 0x7FFFFFFF),
    0x86: _base(0x86, "uint32", "I", 0xFFFFFFFF),
    0x07: _base(0x07, "string", "s", None),
    0x88: _base(0x88, "float32", "f", None),
    0x89: _base(0x89, "float64", "d", None),
    0x0A: _base(0x0A, "uint8z", "B", 0),
    0x8B: _base(0x8B, "uint16z", "H", 0),
    0x8C: _base(0x8C, "uint32z", "I", 0),
    0x0D: _base(0x0D, "byte", "B", None),
    0x8E: _base(0x8E, "sint64", "q", 0x7FFFFFFFFFFFFFFF),
    0x8F: _base(0x8F, "uint64", "Q", 0xFFFFFFFFFFFFFFFF),
    0x90: _base(0x90, "uint64z", "Q", 0),
}
BASE_TYPE_BYTE = BASE_TYPES[0x0D]
BASE_TYPE_NUMBERS_BY_NAME = {base.name: number for number, base in BASE_TYPES.items()}

#: Field type names whose values are FIT date-times (seconds since the FIT epoch).
DATE_TIME_TYPES = frozenset({"date_time", "local_date_time"})


def message_name(mesg_num: int) -> str:
    """Return the profile name of a global message number, or ``unknown_<number>``."""
    message_type = MESSAGE_TYPES.get(mesg_num)
    return str(message_type.name) if message_type else f"unknown_{mesg_num}"


def _collect_field_info() -> dict[str, dict[str, tuple[str | None, str]]]:
    """Map message name -> field or sub-field name -> (units, type name)."""
    info: dict[str, dict[str, tuple[str | None, str]]] = {}
    for message_type in MESSAGE_TYPES.values():
        fields: dict[str, tuple[str | None, str]] = {}
        for field in message_type.fields.values():
            fields.setdefault(field.name, (field.units, field.type.name))
            for sub_field in field.subfields or ():
                fields.setdefault(sub_field.name, (sub_field.units, sub_field.type.name))
        info[message_type.name] = fields
    return info


FIELD_INFO = _collect_field_info()


def _collect_accumulated_targets() -> frozenset[tuple[int, int]]:
    """Return (message number, field number) of fields that accumulating components add to."""
    targets: set[tuple[int, int]] = set()
    for message_type in MESSAGE_TYPES.values():
        for field in message_type.fields.values():
            sources = [field, *(field.subfields or ())]
            for source in sources:
                for component in source.components or ():
                    if component.accumulate:
                        targets.add((message_type.mesg_num, component.def_num))
    return frozenset(targets)


#: A native value of one of these fields restarts the running total of its components,
#: as in the FIT SDK (e.g. hr.event_timestamp before its event_timestamp_12 parts).
ACCUMULATED_TARGETS = _collect_accumulated_targets()


def field_info(message: str, field: str) -> tuple[str | None, str | None]:
    """Return (units, type name) of a profile field, or (None, None) for unknown fields."""
    found = FIELD_INFO.get(message, {}).get(field)
    return found if found else (None, None)


def _collect_base_types() -> dict[str, dict[str, str]]:
    """Map message name -> field or sub-field name -> base type name."""
    found: dict[str, dict[str, str]] = {}
    for message_type in MESSAGE_TYPES.values():
        fields: dict[str, str] = {}
        for field in message_type.fields.values():
            fields.setdefault(field.name, field.base_type.name)
            for sub_field in field.subfields or ():
                fields.setdefault(sub_field.name, sub_field.base_type.name)
        found[message_type.name] = fields
    return found


FIELD_BASE_TYPES = _collect_base_types()
