"""Turn the raw slots of one field into its value: invalid markers, sub-fields, components.

These are the slow paths of the decoder, used for fields that the compiled fast paths
in ``definitions`` do not cover (enums, arrays, strings, bytes, floats, sub-fields,
components, developer fields).
"""

from __future__ import annotations

import struct
from typing import Any

from fit_converter.fit.definitions import (
    KIND_BYTES,
    KIND_FLOAT,
    KIND_INT,
    KIND_STRING,
    Definition,
    DevFieldPlan,
    FieldPlan,
)
from fit_converter.fit.profile import BASE_TYPE_BYTE, BASE_TYPES


def parse_string(raw: bytes) -> str | None:
    """Decode a FIT string: up to the first NUL, UTF-8 with replacement, '' is invalid."""
    end = raw.find(0)
    text = (raw if end < 0 else raw[:end]).decode("utf-8", errors="replace")
    return text or None


def parse_bytes(raw: bytes) -> tuple[int, ...] | None:
    """Return bytes as a tuple of ints, or None when every byte is 0xFF (or there are none)."""
    if raw.count(0xFF) == len(raw):
        return None
    return tuple(raw)


def is_missing(value: Any) -> bool:
    """Tell whether a decoded value is invalid: None, or an array of only invalid values."""
    if value is None:
        return True
    return isinstance(value, tuple) and all(item is None for item in value)


def store(values: dict[str, Any], name: str, value: Any) -> None:
    """Set ``values[name]`` unless it already has a valid value (the first valid one wins)."""
    if is_missing(values.get(name)):
        values[name] = value


def raw_value(plan: FieldPlan, raw: tuple[Any, ...]) -> Any:
    """Return the raw value of one field with invalid markers turned into None."""
    kind = plan.kind
    if kind == KIND_INT:
        value = raw[plan.index]
        return None if value == plan.invalid else value
    if kind == KIND_FLOAT:
        value = raw[plan.index]
        return None if value != value else value
    if kind == KIND_STRING:
        return parse_string(raw[plan.index])
    if kind == KIND_BYTES:
        return parse_bytes(raw[plan.index])
    items = raw[plan.index : plan.index + plan.count]
    if plan.invalid is None:
        return tuple(None if item != item else item for item in items)
    return tuple(None if item == plan.invalid else item for item in items)


def render(field: Any, value: Any) -> Any:
    """Replace an enum value by its profile name; other values stay as they are."""
    enum = field.type.enum
    if enum and value is not None and not isinstance(value, tuple) and value in enum:
        return enum[value]
    if field.type.name == "bool" and value is not None and not isinstance(value, tuple):
        return bool(value)
    return value


def apply_scale(field: Any, value: Any) -> Any:
    """Apply the profile's scale and offset to a number or to each number of an array."""
    if isinstance(value, tuple):
        if not field.scale and not field.offset:
            return value
        return tuple(
            item if item is None or isinstance(item, str) else apply_scale(field, item)
            for item in value
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        scale = field.scale
        offset = field.offset
        if scale and offset:
            return (value - offset * scale) / scale
        if scale:
            return value / scale
        if offset:
            return value - offset
    return value


def resolve_sub_field(field: Any, definition: Definition, raw: tuple[Any, ...]) -> Any:
    """Return the sub-field selected by the reference fields of this message, or ``field``."""
    for sub_field in field.subfields or ():
        for reference in sub_field.ref_fields:
            for index in definition.reference_slots.get(reference.def_num, ()):
                if raw[index] == reference.raw_value:
                    return sub_field
    return field


def accumulate(value: int, total: int, bits: int) -> int:
    """Add a rolled-over ``bits``-wide counter to a running total, as the FIT SDK does."""
    span = 1 << bits
    mask = span - 1
    result = value + (total & ~mask)
    if value < (total & mask):
        result += span
    return result


def component_bits(component: Any, value: Any) -> int | None:
    """Extract a component's bits from an integer or a little-endian byte array."""
    if isinstance(value, tuple):
        if component.bit_offset and component.bit_offset >= len(value) * 8:
            return None
        if any(item is None or not isinstance(item, int) for item in value):
            return None
        number = 0
        for item in reversed(value):
            number = (number << 8) + item
        value = number
    if isinstance(value, int):
        return int((value >> component.bit_offset) & ((1 << component.bits) - 1))
    return None


class DecodeState:
    """Running state of one FIT file: timestamps, accumulators and developer fields."""

    __slots__ = (
        "accumulators",
        "compressed_timestamp",
        "dev_fields",
        "last_timestamp",
        "raw_enums",
    )

    def __init__(self, *, raw_enums: bool = False) -> None:
        #: Keep enum and bool fields as numbers, as the FIT SDK's FitCSVTool writes them.
        self.raw_enums = raw_enums
        self.accumulators: dict[tuple[int, int], int] = {}
        self.compressed_timestamp = 0
        self.last_timestamp = 0
        #: (developer_data_index, field number) -> (name, base type number, units).
        self.dev_fields: dict[tuple[int, int], tuple[str, int, str | None]] = {}


def decode_field(
    plan: FieldPlan,
    definition: Definition,
    raw: tuple[Any, ...],
    values: dict[str, Any],
    expanded: list[tuple[str, Any]],
    state: DecodeState,
) -> None:
    """Decode one general field into ``values``; component values go to ``expanded``."""
    value = raw_value(plan, raw)
    field = plan.field
    if field is None:
        store(values, plan.name, value)
        return

    if plan.seeds_accumulator and isinstance(value, int):
        state.accumulators[(definition.mesg_num, plan.def_num)] = value

    field = resolve_sub_field(field, definition, raw)
    if plan.skip_scale:
        # Bytes of a field whose size is not a multiple of its base type: kept as read.
        store(values, field.name, value)
        return

    if field.components:
        expand_components(field, value, definition, raw, expanded, state)
    if not state.raw_enums:
        value = render(field, value)
    store(values, field.name, apply_scale(field, value))


def expand_components(
    field: Any,
    value: Any,
    definition: Definition,
    raw: tuple[Any, ...],
    expanded: list[tuple[str, Any]],
    state: DecodeState,
) -> None:
    """Append (name, value) of each component of ``field`` to ``expanded``."""
    fields = definition.message_type.fields
    for component in field.components:
        if value is None:
            bits: Any = None
        elif isinstance(value, int | tuple):
            bits = component_bits(component, value)
            if bits is None:
                continue
        else:
            bits = value

        if component.accumulate and isinstance(bits, int):
            key = (definition.mesg_num, component.def_num)
            bits = accumulate(bits, state.accumulators.get(key, 0), component.bits)
            state.accumulators[key] = bits

        target = fields.get(component.def_num)
        if target is None:
            continue
        target = resolve_sub_field(target, definition, raw)
        component_value = apply_scale(component, bits)
        if not state.raw_enums:
            component_value = render(target, component_value)
        expanded.append((target.name, component_value))


def store_expanded(values: dict[str, Any], expanded: list[tuple[str, Any]]) -> None:
    """Fill in component values where the message has no valid value of the same name.

    Several values of one name (e.g. the eight ``hr.event_timestamp`` components) become
    one tuple.
    """
    grouped: dict[str, list[Any]] = {}
    for name, value in expanded:
        grouped.setdefault(name, []).append(value)
    for name, items in grouped.items():
        store(values, name, items[0] if len(items) == 1 else tuple(items))


_DEV_STRUCTS: dict[tuple[str, int, str], struct.Struct] = {}


def decode_dev_field(
    plan: DevFieldPlan, endian: str, raw: tuple[Any, ...], state: DecodeState
) -> tuple[str, Any]:
    """Return (name, value) of one developer field, decoded with its field description.

    A field without a description is named ``field_<number>`` and kept as bytes.
    """
    # NOTE: The scale and offset a field description may declare are not applied (as in
    # fitdecode 0.11.0); no file of the sample corpus sets them.
    data = raw[plan.index]
    description = state.dev_fields.get((plan.developer_data_index, plan.field_number))
    if description is None:
        return f"{plan.developer_data_index}.field_{plan.field_number}", parse_bytes(data)

    name, base_number, _units = description
    full_name = f"{plan.developer_data_index}.{name}"
    base = BASE_TYPES.get(base_number, BASE_TYPE_BYTE)
    if base.format == "s" and base is not BASE_TYPE_BYTE and data:
        return full_name, parse_string(data)
    if base is BASE_TYPE_BYTE or not data or len(data) % base.size:
        return full_name, parse_bytes(data)

    count = len(data) // base.size
    key = (endian, count, base.format)
    unpacker = _DEV_STRUCTS.get(key)
    if unpacker is None:
        unpacker = _DEV_STRUCTS[key] = struct.Struct(f"{endian}{count}{base.format}")
    items = unpacker.unpack(data)
    if base.invalid is None:
        cleaned = tuple(None if item != item else item for item in items)
    else:
        cleaned = tuple(None if item == base.invalid else item for item in items)
    return full_name, cleaned[0] if count == 1 else cleaned
