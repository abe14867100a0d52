"""Streaming FIT decoder: file headers, CRCs, chained files, definition and data messages.

``FitDecoder(data).messages()`` yields ``(message name, values)`` for every data
message, where ``values`` maps field names to values after scale and offset. Enums are
their profile names and positions stay semicircles. Date-times stay integers (seconds
since the FIT epoch, see ``profile.FIT_EPOCH_UNIX``), so writers can format them
without building datetime objects. Developer fields are named ``<developer_data_index>.<name>``.

Problems (truncation, CRC mismatches, undefined local message types, trailing garbage)
are appended to ``problems`` as ``FitDecodeError`` objects and decoding goes on with
whatever is still readable, unless ``strict`` is set, which raises the first one.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterator
from typing import Any

import crcmod.predefined

from fit_converter.fit import profile
from fit_converter.fit.definitions import Definition, compile_definition
from fit_converter.fit.errors import (
    FitCRCError,
    FitDecodeError,
    FitFormatError,
    FitHeaderError,
    FitTrailingDataError,
    FitTruncatedError,
)
from fit_converter.fit.values import (
    DecodeState,
    accumulate,
    decode_dev_field,
    decode_field,
    store_expanded,
)

#: FIT's CRC is CRC-16/ARC (polynomial 0x8005, reflected, initial value 0).
compute_crc = crcmod.predefined.mkCrcFun("crc-16")

FIT_SIGNATURE = b".FIT"
HEADER_MIN_SIZE = 12

#: Errors a corrupt message can raise while its values are converted.
_VALUE_ERRORS = (ValueError, TypeError, OverflowError, KeyError, IndexError, struct.error)

_UINT16_LE = struct.Struct("<H")
_UINT32_LE = struct.Struct("<I")
_BASE_TYPE_NUMBERS = profile.BASE_TYPE_NUMBERS_BY_NAME

log = logging.getLogger("fit_converter.fit")

Message = tuple[str, Any]
RowBuilder = Callable[[tuple[Any, ...]], Any]
RowFactory = Callable[[Definition], RowBuilder | None]

_UNSET: Any = object()


class FitDecoder:
    """Decode FIT bytes (one file or several chained files) into messages."""

    def __init__(self, data: bytes, *, strict: bool = False, raw_enums: bool = False) -> None:
        self.data = data
        self.strict = strict
        self.raw_enums = raw_enums
        #: Local message type of the data message last yielded.
        self.local_number = 0
        #: Called with (local message type, Definition, field definitions, developer
        #: field definitions) for each definition message, when set.
        self.on_definition: (
            Callable[
                [int, Definition, list[tuple[int, int, int]], list[tuple[int, int, int]]], None
            ]
            | None
        ) = None
        self.problems: list[FitDecodeError] = []
        #: Output field names seen in definitions, per message name, in first-seen order.
        self.field_names: dict[str, dict[str, None]] = {}
        #: Developer field name -> units, from the field descriptions.
        self.dev_units: dict[str, str | None] = {}
        #: (developer_data_index, field number) -> (name, base type, units) of every field
        #: description read so far, by this pass or an earlier one.
        self.dev_descriptions: dict[tuple[int, int], tuple[str, int, str | None]] = {}
        #: (developer_data_index, field number) -> field name, from the field descriptions.
        self.dev_field_names: dict[tuple[int, int], str] = {}
        #: Developer field name -> FIT base type number, from the field descriptions.
        self.dev_base_types: dict[str, int] = {}
        #: Distinct field name sets of the definitions seen, per message name.
        self.definition_names: dict[str, set[tuple[str, ...]]] = {}
        #: Output names whose values may be tuples, per message name.
        self.array_names: dict[str, set[str]] = {}
        #: Number of FIT files read from ``data`` (more than one when chained).
        self.file_count = 0
        #: Bytes of data messages and definitions read, for estimating lost messages.
        self.bytes_read = 0
        self._cache: dict[bytes, Definition] = {}
        self._row_factory: RowFactory | None = None
        self._row_builders: dict[int, RowBuilder | None] = {}
        #: Every compiled definition seen, per message name.
        self.definitions: dict[str, list[Definition]] = {}

    def _problem(self, error: FitDecodeError) -> None:
        if self.strict:
            raise error
        self.problems.append(error)

    def messages(
        self,
        skip: frozenset[int] = frozenset(),
        only: frozenset[int] | None = None,
        row_factory: RowFactory | None = None,
    ) -> Iterator[Message]:
        """Yield (name, values) of every data message, in file order.

        Data messages whose global message number is in ``skip``, or not in ``only``
        when given, are not decoded and not yielded. Their timestamps are still tracked
        for compressed-timestamp headers, and field descriptions are always decoded
        (but yielded only when requested).
        Each call starts again from the first byte and resets ``problems``.

        ``row_factory`` may compile a function from raw slots to an output row for a
        definition whose native fields all take the fast paths. Messages of such
        definitions without a compressed-timestamp header are then yielded as that
        function's result instead of a dict. The factory can read the developer field
        descriptions from ``dev_field_names`` and ``dev_base_types``.
        """
        self._row_factory = row_factory
        self._row_builders = {}
        self.problems = []
        self.file_count = 0
        data = self.data
        size = len(data)
        position = 0

        while position < size:
            header = self._read_header(position)
            if header is None:
                break
            header_size, data_size = header
            self.file_count += 1

            body_end = position + header_size + data_size
            truncated = body_end + 2 > size
            self.bytes_read = position + header_size
            yield from self._read_body(
                position + header_size, min(body_end, size), skip, only, truncated
            )

            if truncated:
                self._problem(
                    FitTruncatedError(
                        f"the file is truncated: its header declares {body_end + 2:,} bytes, "
                        f"{size:,} are present and the last complete message ends at byte "
                        f"{self.bytes_read:,}",
                        self.bytes_read,
                        body_end + 2,
                    )
                )
                break
            stored = _UINT16_LE.unpack_from(data, body_end)[0]
            computed = compute_crc(data[position:body_end])
            if stored != computed:
                self._problem(
                    FitCRCError(
                        f"file CRC mismatch: stored 0x{stored:04X}, computed 0x{computed:04X}",
                        body_end,
                    )
                )
            position = body_end + 2

    def _read_header(self, position: int) -> tuple[int, int] | None:
        """Check the FIT file header at ``position``; return (header size, data size).

        Returns None (after noting the problem) when the bytes there are not a FIT
        header, which for the first header means the data is not FIT at all.
        """
        data = self.data
        header_size = data[position]
        looks_valid = (
            len(data) - position >= HEADER_MIN_SIZE
            and header_size >= HEADER_MIN_SIZE
            and data[position + 8 : position + 12] == FIT_SIGNATURE
        )
        if not looks_valid:
            if position == 0:
                raise FitHeaderError("not a FIT file: no '.FIT' signature in its header", 0)
            self._problem(
                FitTrailingDataError(
                    f"{len(data) - position:,} bytes after the end of the FIT data are not "
                    "another FIT file and were ignored",
                    position,
                )
            )
            return None

        if position + header_size > len(data):
            self._problem(
                FitTruncatedError(
                    "the file ends inside a FIT file header",
                    len(data),
                    position + header_size,
                )
            )
            return None

        data_size = _UINT32_LE.unpack_from(data, position + 4)[0]
        if header_size >= 14:
            # A header CRC of 0x0000 means "not computed" and is valid by the FIT protocol.
            stored = _UINT16_LE.unpack_from(data, position + 12)[0]
            if stored:
                computed = compute_crc(data[position : position + 12])
                if stored != computed:
                    self._problem(
                        FitCRCError(
                            f"file header CRC mismatch: stored 0x{stored:04X}, "
                            f"computed 0x{computed:04X}",
                            position,
                        )
                    )
        return header_size, data_size

    def _read_definition(
        self, position: int, limit: int, definitions: dict[int, Definition], state: DecodeState
    ) -> int:
        """Compile the definition message at ``position``; return its end offset."""
        data = self.data
        record_header = data[position]
        fixed_end = position + 6
        if fixed_end > limit:
            raise _Truncated(position)
        endian = ">" if data[position + 2] else "<"
        field_count = data[position + 5]
        end = fixed_end + 3 * field_count
        has_dev = bool(record_header & 0x20)
        dev_count = 0
        if has_dev:
            if end + 1 > limit:
                raise _Truncated(position)
            dev_count = data[end]
            end += 1 + 3 * dev_count
        if end > limit:
            raise _Truncated(position)

        key = data[position + 1 : end] if not has_dev else bytes([1]) + data[position + 1 : end]
        definition = self._cache.get(key)
        if definition is None or self.on_definition is not None:
            mesg_num = struct.unpack_from(endian + "H", data, position + 3)[0]
            field_defs = [
                (data[i], data[i + 1], data[i + 2])
                for i in range(fixed_end, fixed_end + 3 * field_count, 3)
            ]
            dev_start = fixed_end + 3 * field_count + 1
            dev_defs = [
                (data[i], data[i + 1], data[i + 2])
                for i in range(dev_start, dev_start + 3 * dev_count, 3)
            ]
            if definition is None:
                definition = compile_definition(mesg_num, endian, field_defs, dev_defs)
                self._cache[key] = definition
            if self.on_definition is not None:
                self.on_definition(record_header & 0x0F, definition, field_defs, dev_defs)

        for key_pair in definition.accumulators:
            state.accumulators[key_pair] = 0
        names = self.field_names.setdefault(definition.name, {})
        names.update(dict.fromkeys(definition.field_names))
        self.definition_names.setdefault(definition.name, set()).add(definition.field_names)
        seen = self.definitions.setdefault(definition.name, [])
        if not any(known is definition for known in seen):
            seen.append(definition)
        if definition.array_names:
            self.array_names.setdefault(definition.name, set()).update(definition.array_names)
        for dev_key in definition.dev_keys:
            description = state.dev_fields.get(dev_key)
            dev_name = description[0] if description else f"field_{dev_key[1]}"
            names.setdefault(f"{dev_key[0]}.{dev_name}", None)
        definitions[record_header & 0x0F] = definition
        return end

    def _read_body(
        self,
        start: int,
        limit: int,
        skip: frozenset[int],
        only: frozenset[int] | None,
        truncated: bool,
    ) -> Iterator[Message]:
        """Yield the data messages between ``start`` and ``limit`` of one FIT file.

        ``truncated`` means the data ends before the file does, so a message cut short
        at ``limit`` is expected and left for the caller to report.
        """
        data = self.data
        definitions: dict[int, Definition] = {}
        state = DecodeState(raw_enums=self.raw_enums)
        # Descriptions from an earlier pass also decode developer fields that come first.
        state.dev_fields.update(self.dev_descriptions)
        position = start
        timestamp_name = "timestamp"
        row_builders = self._row_builders
        compiled_rows = self._row_factory is not None

        while position < limit:
            record_header = data[position]
            try:
                if record_header & 0x80:
                    local_number = (record_header >> 5) & 0x03
                    definition = definitions.get(local_number)
                    time_offset: int | None = record_header & 0x1F
                elif record_header & 0x40:
                    position = self._read_definition(position, limit, definitions, state)
                    continue
                else:
                    local_number = record_header & 0x0F
                    definition = definitions.get(local_number)
                    time_offset = None

                if definition is None:
                    self._problem(
                        FitFormatError(
                            f"data message of local message type {record_header & 0x0F} "
                            "has no definition; the rest of this FIT file was skipped",
                            position,
                        )
                    )
                    break
                end = position + 1 + definition.size
                if end > limit:
                    raise _Truncated(position)
                raw = definition.unpack_from(data, position + 1)
                message_start = position
                position = end

                mesg_num = definition.mesg_num
                skipped = mesg_num in skip or (only is not None and mesg_num not in only)
                if skipped and mesg_num != profile.MESG_NUM_FIELD_DESCRIPTION:
                    slot = definition.timestamp_slot
                    if slot >= 0 and raw[slot] != 0xFFFFFFFF:
                        state.last_timestamp = state.compressed_timestamp = raw[slot]
                    elif time_offset is not None:
                        state.compressed_timestamp = accumulate(
                            time_offset, state.compressed_timestamp, 5
                        )
                    continue

                for index, key, invalid in definition.seeds:
                    if raw[index] != invalid:
                        state.accumulators[key] = raw[index]

                if compiled_rows and time_offset is None:
                    builder = row_builders.get(id(definition), _UNSET)
                    if builder is _UNSET:
                        builder = self._row_builder(definition)
                    if builder is not None:
                        slot = definition.timestamp_slot
                        if slot >= 0 and raw[slot] != 0xFFFFFFFF:
                            state.last_timestamp = state.compressed_timestamp = raw[slot]
                        self.local_number = local_number
                        yield definition.name, builder(raw)
                        continue

                values: dict[str, Any] = {}
                for index, name, invalid in definition.plain:
                    value = raw[index]
                    values[name] = None if value == invalid else value
                for index, name, invalid, scale, offset in definition.scaled:
                    value = raw[index]
                    values[name] = None if value == invalid else (value - offset) / scale
                if definition.enums:
                    self._decode_enums(definition, raw, values)
                slot = definition.timestamp_slot
                if slot >= 0 and raw[slot] != 0xFFFFFFFF:
                    state.last_timestamp = state.compressed_timestamp = raw[slot]
                if definition.general or definition.dev_fields:
                    self._decode_slow_fields(definition, raw, values, state, message_start)
                for source, target in definition.aliases:
                    if values.get(target) is None:
                        values[target] = values[source]
                if time_offset is not None:
                    stamp = accumulate(time_offset, state.compressed_timestamp, 5)
                    state.compressed_timestamp = stamp
                    if values.get(timestamp_name) is None:
                        values[timestamp_name] = stamp
                elif "timestamp_16" in values:
                    self._expand_timestamp_16(values, state)

                if not skipped:
                    self.local_number = local_number
                    yield definition.name, values
            except _Truncated as cut:
                if not truncated:
                    self._problem(
                        FitFormatError(
                            "a message runs past the end of its FIT file; the rest of this "
                            "FIT file was skipped",
                            cut.position,
                        )
                    )
                break
        self.bytes_read = position

    def _decode_enums(
        self, definition: Definition, raw: tuple[Any, ...], values: dict[str, Any]
    ) -> None:
        for index, name, invalid, names in definition.enums:
            value = raw[index]
            if value == invalid:
                values[name] = None
            else:
                values[name] = value if self.raw_enums else names.get(value, value)

    def _row_builder(self, definition: Definition) -> RowBuilder | None:
        key = id(definition)
        if key not in self._row_builders:
            simple = not definition.general
            factory = self._row_factory
            built = factory(definition) if simple and factory is not None else None
            self._row_builders[key] = built
        return self._row_builders[key]

    def _decode_slow_fields(
        self,
        definition: Definition,
        raw: tuple[Any, ...],
        values: dict[str, Any],
        state: DecodeState,
        position: int,
    ) -> None:
        expanded: list[tuple[str, Any]] = []
        try:
            for plan in definition.general:
                decode_field(plan, definition, raw, values, expanded, state)
            for dev_plan in definition.dev_fields:
                name, value = decode_dev_field(dev_plan, definition.endian, raw, state)
                if name not in values or values[name] is None:
                    values[name] = value
        except _VALUE_ERRORS as error:
            self._problem(
                FitFormatError(
                    f"a {definition.name} message has an invalid value ({error})", position
                )
            )
        if expanded:
            store_expanded(values, expanded)

        if definition.mesg_num == profile.MESG_NUM_FIELD_DESCRIPTION:
            self._add_field_description(values, state)

    def _add_field_description(self, values: dict[str, Any], state: DecodeState) -> None:
        index = values.get("developer_data_index")
        number = values.get("field_definition_number")
        if not isinstance(index, int) or not isinstance(number, int):
            return
        base = values.get("fit_base_type_id")
        if isinstance(base, str):
            base = _BASE_TYPE_NUMBERS.get(base, 0x0D)
        name = values.get("field_name") or f"field_{number}"
        units = values.get("units")
        state.dev_fields[(index, number)] = (name, base if isinstance(base, int) else 0x0D, units)
        self.dev_units[f"{index}.{name}"] = units
        self.dev_field_names[(index, number)] = name
        self.dev_descriptions[(index, number)] = state.dev_fields[(index, number)]
        # Compiled rows decode developer fields with the descriptions known when compiled.
        self._row_builders.clear()
        self.dev_base_types[f"{index}.{name}"] = state.dev_fields[(index, number)][1]

    @staticmethod
    def _expand_timestamp_16(values: dict[str, Any], state: DecodeState) -> None:
        """Rebuild a full timestamp from ``timestamp_16`` and the last full timestamp."""
        low = values["timestamp_16"]
        if values.get("timestamp") is None and isinstance(low, int) and state.last_timestamp:
            last = state.last_timestamp
            stamp = last + ((low - last) & 0xFFFF)
            values["timestamp"] = stamp
            state.last_timestamp = stamp


class _Truncated(Exception):
    """A message runs past the end of the readable data."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position
