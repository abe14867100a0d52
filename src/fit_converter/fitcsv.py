"""The FIT SDK's FitCSVTool layout: every definition and data message, one row each.

Rows are ``Type,Local Number,Message`` then ``Field n,Value n,Units n`` triplets, as
the FIT SDK's FitCSVTool writes them. Enums and date-times are numbers and invalid
fields are left out. Native fields come in definition order (sub-fields under their
own names), then component fields, then developer fields under their own names. Every row is
padded to the widest one, so the header is written last through a temporary file.
"""

from __future__ import annotations

import csv
import tempfile
from typing import IO, Any

from fit_converter.csvformat import float32_text
from fit_converter.fit import FitDecoder
from fit_converter.fit.definitions import Definition
from fit_converter.fit.profile import (
    BASE_TYPE_BYTE,
    BASE_TYPES,
    FIELD_BASE_TYPES,
    MESSAGE_TYPES,
    field_info,
)

FLOAT32 = 0x88

#: Name FitCSVTool gives fields and messages missing from the profile.
UNKNOWN = "unknown"


def csv_name(name: str) -> str:
    """Return the FitCSVTool name of a field: ``unknown`` or a developer field's own name."""
    if name.startswith("unknown_"):
        return UNKNOWN
    if "." in name:
        return name.split(".", 1)[1]
    return name


# NOTE: This layout differs from FitCSVTool in three known ways. Invalid elements inside
# arrays are empty where the tool writes the raw marker (65535). Only the first string
# of a string array is kept. A field with two matching sub-fields takes the first match.
def cell_text(value: Any) -> str:
    """Return the text of one value: floats with ``repr``, arrays joined with ``|``."""
    if isinstance(value, tuple):
        return "|".join("" if item is None else cell_text(item) for item in value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def definition_row(
    local: int,
    definition: Definition,
    field_defs: list[tuple[int, int, int]],
    dev_defs: list[tuple[int, int, int]],
    decoder: FitDecoder,
) -> list[str]:
    """Return the row of one definition message: field names and element counts."""
    row = ["Definition", str(local), definition.name if definition.message_type else UNKNOWN]
    fields = MESSAGE_TYPES[definition.mesg_num].fields if definition.message_type else {}
    for number, size, base_number in field_defs:
        field = fields.get(number)
        base = BASE_TYPES.get(base_number, BASE_TYPE_BYTE)
        count = size // base.size if size % base.size == 0 and base.format != "s" else 1
        row += [field.name if field is not None else UNKNOWN, str(max(count, 1)), ""]
    for number, size, developer_data_index in dev_defs:
        name = decoder.dev_field_names.get((developer_data_index, number), f"field_{number}")
        row += [name, str(size), ""]
    return row


def data_row(
    local: int, name: str, values: dict[str, Any], definition: Definition, decoder: FitDecoder
) -> list[str]:
    """Return the row of one data message, fields in FitCSVTool's order."""
    positions = definition.positions or {}
    ordered = sorted(
        (item for item in values.items() if item[1] is not None),
        key=lambda item: (
            (2, 0)
            if "." in item[0]
            else (0, positions[item[0]])
            if item[0] in positions
            else (1, 0)
        ),
    )
    row = ["Data", str(local), name if definition.message_type else UNKNOWN]
    rebuilt_timestamp = "timestamp" not in positions and "timestamp_16" in values
    for field_name, value in ordered:
        if rebuilt_timestamp and field_name == "timestamp":
            # Rebuilt from timestamp_16 by the decoder; the file itself has no such field.
            continue
        if isinstance(value, tuple) and all(item is None for item in value):
            continue
        if "." in field_name:
            units = decoder.dev_units.get(field_name)
            is_float32 = decoder.dev_base_types.get(field_name) == FLOAT32
        else:
            units = field_info(name, field_name)[0]
            is_float32 = FIELD_BASE_TYPES.get(name, {}).get(field_name) == "float32"
        text = float32_text(value) if is_float32 and isinstance(value, float) else None
        row += [csv_name(field_name), text or cell_text(value), units or ""]
    return row


def write_fitcsv(decoder: FitDecoder, handle: IO[str]) -> int:
    """Write every message of ``decoder``'s file in the FitCSVTool layout; return the rows."""
    decoder.raw_enums = True
    definitions: dict[int, Definition] = {}
    width = 0
    count = 0

    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as body:
        writer = csv.writer(body, lineterminator="\n")

        def on_definition(
            local: int,
            definition: Definition,
            field_defs: list[tuple[int, int, int]],
            dev_defs: list[tuple[int, int, int]],
        ) -> None:
            nonlocal width, count
            definitions[local] = definition
            row = definition_row(local, definition, field_defs, dev_defs, decoder)
            width = max(width, (len(row) - 3) // 3)
            writer.writerow(row)
            count += 1

        decoder.on_definition = on_definition
        try:
            for name, values in decoder.messages():
                row = data_row(
                    decoder.local_number, name, values, definitions[decoder.local_number], decoder
                )
                width = max(width, (len(row) - 3) // 3)
                writer.writerow(row)
                count += 1
        finally:
            decoder.on_definition = None
            decoder.raw_enums = False

        header = ["Type", "Local Number", "Message"]
        for number in range(1, width + 1):
            header += [f"Field {number}", f"Value {number}", f"Units {number}"]
        output = csv.writer(handle, lineterminator="\n")
        output.writerow(header)
        body.seek(0)
        for row in csv.reader(body):
            output.writerow(row + [""] * (3 + 3 * width - len(row)))
    return count
