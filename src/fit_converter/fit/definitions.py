"""Compiled definition messages: one precompiled ``struct.Struct`` and field plan each.

A definition message lists the fields, with their size and base type, that follow in
the data messages of one local message type. Compiling it once turns every later data
message into one ``unpack_from`` call plus a few loops over precomputed tuples.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fit_converter.fit import profile
from fit_converter.fit.profile import BASE_TYPE_BYTE, BASE_TYPES, BaseType

#: Kinds of raw slot, each turned into a value in its own way.
KIND_INT = 0  # one integer, compared with the base type's invalid marker
KIND_FLOAT = 1  # one float, invalid when NaN
KIND_STRING = 2  # bytes up to the first NUL, decoded as UTF-8 with replacement
KIND_BYTES = 3  # bytes as a tuple of ints, invalid when every byte is 0xFF
KIND_ARRAY = 4  # several values of one base type


@dataclass(slots=True)
class FieldPlan:
    """How to decode one native field that needs more than the fast paths offer."""

    index: int
    count: int
    kind: int
    invalid: int | float | None
    def_num: int
    name: str
    field: Any  # fitdecode.types.Field, or None for a field missing from the profile
    skip_scale: bool = False
    #: The field is the target of accumulating components, so its value restarts their total.
    seeds_accumulator: bool = False


@dataclass(slots=True)
class DevFieldPlan:
    """One developer field slot: decoded later with the field description in force."""

    index: int
    developer_data_index: int
    field_number: int
    size: int


@dataclass(slots=True)
class Definition:
    """A compiled definition message."""

    mesg_num: int
    name: str
    message_type: Any
    endian: str
    size: int
    unpack_from: Any
    #: (slot, name, invalid) of scalar integers taken as they are.
    plain: tuple[tuple[int, str, int | float | None], ...]
    #: (slot, name, invalid, scale, scaled offset): value = (raw - scaled offset) / scale.
    scaled: tuple[tuple[int, str, int | float | None, float, float], ...]
    #: (source, target): components that copy a whole field, e.g. speed -> enhanced_speed.
    aliases: tuple[tuple[str, str], ...]
    general: tuple[FieldPlan, ...]
    dev_fields: tuple[DevFieldPlan, ...]
    #: Slot of a uint32 ``timestamp`` field, or -1.
    timestamp_slot: int
    #: Field definition number -> slots of scalar integer fields, for sub-field references.
    reference_slots: dict[int, list[int]]
    #: Accumulated components whose running total restarts with this definition.
    accumulators: tuple[tuple[int, int], ...]
    #: Output names in definition order, components after their source field.
    field_names: tuple[str, ...]
    dev_keys: tuple[tuple[int, int], ...] = ()
    #: Output names whose values may be tuples: arrays, bytes and repeated components.
    array_names: tuple[str, ...] = ()
    #: Native field and sub-field name -> position of its field in the definition.
    positions: dict[str, int] | None = None
    #: (slot, name, invalid, enum names) of scalar enum fields without sub-fields.
    enums: tuple[tuple[int, str, int | float | None, dict[int, str]], ...] = ()
    #: (slot, accumulator key, invalid) of scalar fields that restart a running total.
    seeds: tuple[tuple[int, tuple[int, int], int | float | None], ...] = ()


def _scalar_int_base(base: BaseType) -> bool:
    return base.format not in ("s", "f", "d")


def _effective(value: float | None, default: float) -> float:
    return default if not value else float(value)


def _is_alias(source: Any, component: Any, target: Any, base: BaseType) -> bool:
    """Tell whether ``component`` copies the whole value of ``source`` into ``target``."""
    return bool(
        target is not None
        and not component.accumulate
        and not component.bit_offset
        and component.bits >= base.size * 8
        and _effective(component.scale, 1.0) == _effective(source.scale, 1.0)
        and _effective(component.offset, 0.0) == _effective(source.offset, 0.0)
        and _effective(target.scale, 1.0) == _effective(source.scale, 1.0)
        and _effective(target.offset, 0.0) == _effective(source.offset, 0.0)
        and not target.type.enum
        and not target.subfields
        and target.type.name not in ("bool",)
    )


def compile_definition(
    mesg_num: int,
    endian: str,
    field_defs: list[tuple[int, int, int]],
    dev_defs: list[tuple[int, int, int]],
) -> Definition:
    """Compile the fields of one definition message into a ``Definition``.

    ``field_defs`` contains (field definition number, size, base type number) and
    ``dev_defs`` contains (field number, size, developer data index), as in the file.
    """
    message_type = profile.MESSAGE_TYPES.get(mesg_num)
    fields = message_type.fields if message_type else {}
    name = message_type.name if message_type else f"unknown_{mesg_num}"

    formats: list[str] = []
    slot = 0
    plans: list[tuple[int, int, int, BaseType, int, Any, bool]] = []
    for def_num, size, base_number in field_defs:
        base = BASE_TYPES.get(base_number, BASE_TYPE_BYTE)
        misaligned = size == 0 or size % base.size != 0
        if misaligned or base.format == "s" or base is BASE_TYPE_BYTE:
            kind = KIND_STRING if base.format == "s" and not misaligned else KIND_BYTES
            formats.append(f"{size}s")
            count = 1
        else:
            count = size // base.size
            formats.append(f"{count}{base.format}")
            if count > 1:
                kind = KIND_ARRAY
            elif base.format in ("f", "d"):
                kind = KIND_FLOAT
            else:
                kind = KIND_INT
        plans.append((slot, count, kind, base, def_num, fields.get(def_num), misaligned))
        slot += count

    dev_fields: list[DevFieldPlan] = []
    for field_number, size, developer_data_index in dev_defs:
        formats.append(f"{size}s")
        dev_fields.append(DevFieldPlan(slot, developer_data_index, field_number, size))
        slot += 1

    unpacker = struct.Struct(endian + "".join(formats))
    names = [
        (field.name if field is not None else f"unknown_{def_num}")
        for (_, _, _, _, def_num, field, _) in plans
    ]
    repeated = {n for n, c in Counter(names).items() if c > 1}

    plain: list[tuple[int, str, int | float | None]] = []
    scaled: list[tuple[int, str, int | float | None, float, float]] = []
    aliases: list[tuple[str, str]] = []
    general: list[FieldPlan] = []
    reference_slots: dict[int, list[int]] = {}
    accumulators: list[tuple[int, int]] = []
    output_names: dict[str, None] = {}
    timestamp_slot = -1
    array_names: list[str] = []
    seeds: list[tuple[int, tuple[int, int], int | float | None]] = []
    enums: list[tuple[int, str, int | float | None, dict[int, str]]] = []

    positions: dict[str, int] = {}
    for position, ((index, count, kind, base, def_num, field, misaligned), field_name) in enumerate(
        zip(plans, names, strict=True)
    ):
        output_names[field_name] = None
        positions.setdefault(field_name, position)
        for sub_field in (field.subfields or ()) if field is not None else ():
            positions.setdefault(sub_field.name, position)
        if kind == KIND_INT:
            reference_slots.setdefault(def_num, []).append(index)
        if def_num == profile.FIELD_NUM_TIMESTAMP and kind == KIND_INT and base.format == "I":
            timestamp_slot = index
        seeds_accumulator = (mesg_num, def_num) in profile.ACCUMULATED_TARGETS

        components = field.components if field is not None and not misaligned else None
        for sub_field in (field.subfields or ()) if field is not None else ():
            output_names[sub_field.name] = None
            for component in sub_field.components or ():
                target = fields.get(component.def_num)
                if target is not None:
                    output_names[target.name] = None
        for component in components or ():
            if component.accumulate:
                accumulators.append((mesg_num, component.def_num))
            target = fields.get(component.def_num)
            if target is not None:
                output_names[target.name] = None

        plan = FieldPlan(
            index,
            count,
            kind,
            base.invalid,
            def_num,
            field_name,
            field,
            misaligned,
            seeds_accumulator,
        )
        simple_int = kind == KIND_INT and field_name not in repeated
        if seeds_accumulator and simple_int:
            seeds.append((index, (mesg_num, def_num), base.invalid))
        if field is None:
            if simple_int:
                plain.append((index, field_name, base.invalid))
            else:
                general.append(plan)
                array_names.append(field_name)
            continue

        copy_components = [
            fields[c.def_num].name
            for c in components or ()
            if _is_alias(field, c, fields.get(c.def_num), base)
        ]
        all_copies = len(copy_components) == len(components or ())
        fast = (
            simple_int
            and not field.type.enum
            and not field.subfields
            and field.type.name != "bool"
            and all_copies
        )
        plain_enum = not field.subfields and not components and not field.scale and not field.offset
        if simple_int and field.type.enum and plain_enum:
            enums.append((index, field_name, base.invalid, field.type.enum))
            continue
        if not fast:
            general.append(plan)
            if kind in (KIND_ARRAY, KIND_BYTES):
                array_names.append(field_name)
                array_names.extend(sub.name for sub in field.subfields or ())
            array_names.extend(
                fields[c.def_num].name for c in components or () if c.def_num in fields
            )
            continue

        aliases.extend((field_name, target_name) for target_name in copy_components)
        if field.scale or field.offset:
            scale = _effective(field.scale, 1.0)
            scaled.append(
                (index, field_name, base.invalid, scale, _effective(field.offset, 0.0) * scale)
            )
        else:
            plain.append((index, field_name, base.invalid))

    return Definition(
        mesg_num=mesg_num,
        name=name,
        message_type=message_type,
        endian=endian,
        size=unpacker.size,
        unpack_from=unpacker.unpack_from,
        plain=tuple(plain),
        scaled=tuple(scaled),
        aliases=tuple(aliases),
        general=tuple(general),
        dev_fields=tuple(dev_fields),
        timestamp_slot=timestamp_slot,
        reference_slots=reference_slots,
        accumulators=tuple(accumulators),
        field_names=tuple(output_names),
        dev_keys=tuple((d.developer_data_index, d.field_number) for d in dev_fields),
        array_names=tuple(array_names),
        positions=positions,
        seeds=tuple(seeds),
        enums=tuple(enums),
    )
