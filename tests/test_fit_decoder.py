"""Hand-built FIT files, one per hard case of the format."""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path
from typing import Any

import pytest

from fit_converter.convert import convert_file
from fit_converter.decode import read_messages
from fit_converter.errors import ConversionError, NotFitError
from fit_converter.fit import (
    FitCRCError,
    FitDecoder,
    FitFormatError,
    FitHeaderError,
    FitTrailingDataError,
    FitTruncatedError,
)
from fitbuild import compressed, data, definition, fit_file, header

UINT8, UINT16, UINT32, SINT32 = 0x02, 0x84, 0x86, 0x85
ENUM, STRING, BYTE, FLOAT32 = 0x00, 0x07, 0x0D, 0x88
RECORD, EVENT, MONITORING, HRV, DEVICE_INFO = 20, 21, 55, 78, 23
FIELD_DESCRIPTION, DEVELOPER_DATA_ID = 206, 207
T0 = 1_000_000_000  # seconds since the FIT epoch: 2021-09-08T01:46:40Z


def decode(content: bytes, **options: Any) -> tuple[list[tuple[str, dict[str, Any]]], FitDecoder]:
    decoder = FitDecoder(content, **options)
    return list(decoder.messages()), decoder


def records(content: bytes) -> list[dict[str, Any]]:
    return [values for name, values in decode(content)[0] if name == "record"]


def record_definition(local: int = 0) -> bytes:
    return definition(local, RECORD, [(253, 4, UINT32), (3, 1, UINT8), (6, 2, UINT16)])


def record(local: int, timestamp: int, heart_rate: int, speed: int) -> bytes:
    return data(local, struct.pack("<IBH", timestamp, heart_rate, speed))


def test_scale_invalid_and_speed_component() -> None:
    content = fit_file(
        record_definition(), record(0, T0, 150, 8230), record(0, T0 + 1, 0xFF, 0xFFFF)
    )
    first, second = records(content)
    assert first == {"timestamp": T0, "heart_rate": 150, "speed": 8.23, "enhanced_speed": 8.23}
    assert second["heart_rate"] is None
    assert second["speed"] is None
    assert second["enhanced_speed"] is None


def test_altitude_without_float_noise() -> None:
    content = fit_file(definition(0, RECORD, [(2, 2, UINT16)]), data(0, struct.pack("<H", 2824)))
    (values,) = records(content)
    assert values["altitude"] == 64.8
    assert values["enhanced_altitude"] == 64.8


def test_compressed_timestamp_header() -> None:
    content = fit_file(
        record_definition(),
        record(0, T0, 120, 1000),
        definition(1, RECORD, [(3, 1, UINT8)]),
        compressed(1, (T0 + 3) & 0x1F, bytes([121])),
        compressed(1, (T0 + 33) & 0x1F, bytes([122])),  # the 5-bit offset rolled over
    )
    stamps = [values["timestamp"] for values in records(content)]
    assert stamps == [T0, T0 + 3, T0 + 33]


def test_timestamp_16_rebuilds_full_timestamp() -> None:
    content = fit_file(
        definition(0, MONITORING, [(253, 4, UINT32)]),
        data(0, struct.pack("<I", T0)),
        definition(1, MONITORING, [(26, 2, UINT16), (27, 1, UINT8)]),
        data(1, struct.pack("<HB", (T0 + 40000) & 0xFFFF, 61)),
    )
    messages, _ = decode(content)
    assert messages[1][1]["timestamp"] == T0 + 40000
    assert messages[1][1]["heart_rate"] == 61


def test_compressed_speed_distance_and_accumulation() -> None:
    def speed_distance(speed: int, distance: int) -> bytes:
        packed = speed | (distance << 12)
        return data(0, packed.to_bytes(3, "little"))

    content = fit_file(
        definition(0, RECORD, [(8, 3, BYTE)]),
        speed_distance(250, 4000),
        speed_distance(260, 4095),
        speed_distance(270, 10),  # the 12-bit distance counter rolled over
    )
    values = records(content)
    assert [v["speed"] for v in values] == [2.5, 2.6, 2.7]
    assert [v["distance"] for v in values] == [4000 / 16, 4095 / 16, (4096 + 10) / 16]


def test_accumulated_cycles() -> None:
    content = fit_file(
        definition(0, RECORD, [(18, 1, UINT8)]),
        data(0, bytes([250])),
        data(0, bytes([5])),
    )
    assert [v["total_cycles"] for v in records(content)] == [250, 261]


def test_event_sub_field_and_components() -> None:
    content = fit_file(
        definition(0, EVENT, [(0, 1, ENUM), (1, 1, ENUM), (3, 4, UINT32)]),
        data(0, struct.pack("<BBI", 0, 0, 1)),  # timer event: data is timer_trigger
        data(0, struct.pack("<BBI", 43, 3, 0x02340B11)),  # rear_gear_change
    )
    (_, timer), (_, gears) = decode(content)[0]
    assert timer["event"] == "timer"
    assert timer["timer_trigger"] == "auto"
    assert gears["event"] == "rear_gear_change"
    assert gears["rear_gear_num"] == 0x11
    assert gears["rear_gear"] == 0x0B
    assert gears["front_gear_num"] == 0x34
    assert gears["front_gear"] == 0x02


def test_arrays() -> None:
    content = fit_file(
        definition(0, HRV, [(0, 6, UINT16)]),
        data(0, struct.pack("<3H", 812, 0xFFFF, 1001)),
    )
    ((name, values),) = decode(content)[0]
    assert name == "hrv"
    assert values["time"] == (0.812, None, 1.001)


def test_invalid_utf8_string_is_replaced() -> None:
    content = fit_file(
        definition(0, DEVICE_INFO, [(27, 8, STRING)]),
        data(0, b"Edge\xff\xfe\x00\x00"),
    )
    ((_, values),) = decode(content)[0]
    assert values["product_name"] == "Edge\ufffd\ufffd"


def developer_messages(*, with_application_id: bool, units: bytes | None) -> list[bytes]:
    dev_id_fields = [(3, 1, UINT8)] + ([(1, 16, BYTE)] if with_application_id else [])
    dev_id = struct.pack("<B", 0) + (bytes(range(16)) if with_application_id else b"")
    description_fields = [(0, 1, UINT8), (1, 1, UINT8), (2, 1, UINT8), (3, 8, STRING)]
    description = struct.pack("<BBB8s", 0, 7, FLOAT32, b"Power")
    if units is not None:
        description_fields.append((8, 4, STRING))
        description += units.ljust(4, b"\x00")
    return [
        definition(1, DEVELOPER_DATA_ID, dev_id_fields),
        data(1, dev_id),
        definition(2, FIELD_DESCRIPTION, description_fields),
        data(2, description),
    ]


def dev_record_definition() -> bytes:
    return definition(0, RECORD, [(253, 4, UINT32), (7, 2, UINT16)], [(7, 4, 0)])


def dev_record(power: float) -> bytes:
    return data(0, struct.pack("<IHf", T0, 200, power))


def test_developer_field_with_units() -> None:
    content = fit_file(
        *developer_messages(with_application_id=True, units=b"W"),
        dev_record_definition(),
        dev_record(250.5),
    )
    decoder = FitDecoder(content)
    (values,) = [v for n, v in decoder.messages() if n == "record"]
    assert values["power"] == 200
    assert values["0.Power"] == 250.5
    assert decoder.dev_units["0.Power"] == "W"
    assert "0.Power" in decoder.field_names["record"]


def test_developer_field_without_application_id_or_units() -> None:
    content = fit_file(
        *developer_messages(with_application_id=False, units=None),
        dev_record_definition(),
        dev_record(99.0),
    )
    decoder = FitDecoder(content)
    (values,) = [v for n, v in decoder.messages() if n == "record"]
    assert values["0.Power"] == 99.0
    assert decoder.dev_units["0.Power"] is None


def test_developer_description_arriving_late() -> None:
    content = fit_file(
        dev_record_definition(),
        dev_record(1.0),
        *developer_messages(with_application_id=True, units=b"W"),
        dev_record(2.0),
    )
    first, second = records(content)
    assert first["0.field_7"] == tuple(struct.pack("<f", 1.0))
    assert second["0.Power"] == 2.0


def test_misaligned_field_is_read_as_bytes() -> None:
    content = fit_file(
        definition(0, RECORD, [(253, 4, UINT32), (7, 3, UINT16)]),
        data(0, struct.pack("<I", T0) + b"\x01\x02\x03"),
    )
    (values,) = records(content)
    assert values["power"] == (1, 2, 3)


def test_same_field_twice_keeps_first_valid_value() -> None:
    content = fit_file(
        definition(0, RECORD, [(3, 1, UINT8), (3, 1, UINT8), (4, 1, UINT8), (4, 1, UINT8)]),
        data(0, bytes([0xFF, 140, 90, 91])),
    )
    (values,) = records(content)
    assert values["heart_rate"] == 140
    assert values["cadence"] == 90


def test_big_endian_definition() -> None:
    content = fit_file(
        definition(0, RECORD, [(253, 4, UINT32), (0, 4, SINT32)], big_endian=True),
        data(0, struct.pack(">Ii", T0, -123456789)),
    )
    (values,) = records(content)
    assert values["timestamp"] == T0
    assert values["position_lat"] == -123456789


@pytest.mark.parametrize("header_size", [12, 14])
def test_header_crc_zero_and_short_header_are_valid(header_size: int) -> None:
    content = fit_file(
        record_definition(), record(0, T0, 100, 0), header_size=header_size, header_crc=0
    )
    messages, decoder = decode(content)
    assert len(messages) == 1
    assert decoder.problems == []


def test_wrong_header_crc_is_reported() -> None:
    content = fit_file(record_definition(), record(0, T0, 100, 0), header_crc=0x1234)
    messages, decoder = decode(content)
    assert len(messages) == 1
    assert [type(p) for p in decoder.problems] == [FitCRCError]
    assert decoder.problems[0].offset == 0


def test_chained_files_reset_definitions() -> None:
    first = fit_file(record_definition(), record(0, T0, 100, 0))
    second = fit_file(definition(0, RECORD, [(4, 1, UINT8)]), data(0, bytes([77])))
    messages, decoder = decode(first + second)
    assert [values for _, values in messages][1] == {"cadence": 77}
    assert decoder.file_count == 2
    assert decoder.problems == []


def test_truncated_file_keeps_complete_messages() -> None:
    content = fit_file(record_definition(), *(record(0, T0 + i, 100, 0) for i in range(10)))
    cut = content[:-6]  # the CRC and half of the last record are missing
    messages, decoder = decode(cut)
    assert len(messages) == 9
    (problem,) = decoder.problems
    assert isinstance(problem, FitTruncatedError)
    assert problem.offset == len(cut) - 4
    assert problem.expected_size == len(content)


def test_bad_file_crc_keeps_messages() -> None:
    content = bytearray(fit_file(record_definition(), record(0, T0, 100, 0)))
    content[-1] ^= 0xFF
    messages, decoder = decode(bytes(content))
    assert len(messages) == 1
    (problem,) = decoder.problems
    assert isinstance(problem, FitCRCError)
    assert problem.offset == len(content) - 2


def test_garbage_after_the_end_is_reported() -> None:
    content = fit_file(record_definition(), record(0, T0, 100, 0))
    messages, decoder = decode(content + b"garbage that is not FIT")
    assert len(messages) == 1
    (problem,) = decoder.problems
    assert isinstance(problem, FitTrailingDataError)
    assert problem.offset == len(content)


def test_undefined_local_message_stops_that_file() -> None:
    content = fit_file(record_definition(), record(0, T0, 100, 0), data(5, b""))
    messages, decoder = decode(content)
    assert len(messages) == 1
    (problem,) = decoder.problems
    assert isinstance(problem, FitFormatError)
    assert "local message type 5" in str(problem)


def test_strict_mode_raises_first_problem() -> None:
    content = bytearray(fit_file(record_definition(), record(0, T0, 100, 0)))
    content[-1] ^= 0xFF
    with pytest.raises(FitCRCError, match="file CRC mismatch"):
        decode(bytes(content), strict=True)


def test_not_fit_raises_header_error() -> None:
    with pytest.raises(FitHeaderError) as caught:
        decode(b"hello world, this is not FIT")
    assert caught.value.offset == 0


def test_skip_still_tracks_timestamps() -> None:
    content = fit_file(
        record_definition(),
        record(0, T0, 120, 1000),
        definition(1, EVENT, [(0, 1, ENUM)]),
        compressed(1, (T0 + 5) & 0x1F, bytes([0])),
    )
    messages = list(FitDecoder(content).messages(skip=frozenset({RECORD})))
    assert messages == [("event", {"event": "timer", "timestamp": T0 + 5})]


def test_header_helper_declares_data_size() -> None:
    assert struct.unpack_from("<I", header(123), 4)[0] == 123


def test_read_messages_rejects_short_header(tmp_path: Path) -> None:
    # The signature is in place but the header size is below 12 bytes.
    content = bytearray(fit_file(record_definition(), record(0, T0, 100, 0)))
    content[0] = 8
    path = tmp_path / "short.fit"
    path.write_bytes(bytes(content))
    with pytest.raises(NotFitError, match="not a FIT file"):
        list(read_messages(path, []))


def test_read_messages_fields_and_datetimes(tmp_path: Path) -> None:
    path = tmp_path / "ride.fit"
    path.write_bytes(fit_file(record_definition(), record(0, T0, 150, 8230)))
    problems: list[str] = []
    (message,) = list(read_messages(path, problems))
    fields = {field.name: field for field in message.fields}
    assert message.name == "record"
    assert fields["timestamp"].value == dt.datetime(2021, 9, 8, 1, 46, 40, tzinfo=dt.UTC)
    assert fields["timestamp"].units is None
    assert fields["speed"].value == 8.23
    assert fields["speed"].units == "m/s"
    assert problems == []


def test_convert_without_readable_records(tmp_path: Path) -> None:
    path = tmp_path / "empty-ride.fit"
    path.write_bytes(fit_file(record_definition()))
    with pytest.raises(ConversionError, match="contains none that could be read"):
        convert_file(path, tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.csv"))
