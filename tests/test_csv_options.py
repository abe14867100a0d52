"""CSV layout and options: units, delimiters, local time, enhanced fields, extra tables."""

from __future__ import annotations

import csv
import struct
from pathlib import Path

import pytest

from conftest import sample
from fit_converter.config import CsvOptions
from fit_converter.convert import convert_file, hrv_start_time
from fit_converter.heartrate import hr_samples, merge_heart_rate
from fitbuild import data, definition, fit_file

T0 = 1_000_000_000


def read_rows(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def write_fit(tmp_path: Path, content: bytes, name: str = "ride.fit") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_enhanced_speed_fills_speed(tmp_path: Path) -> None:
    content = fit_file(
        definition(0, 20, [(253, 4, 0x86), (73, 4, 0x86), (78, 4, 0x86)]),
        data(0, struct.pack("<III", T0, 5123, 2824)),
    )
    report = convert_file(write_fit(tmp_path, content), tmp_path / "out")
    header, row = read_rows(report.outputs[0])
    values = dict(zip(header, row, strict=True))
    assert values["speed [m/s]"] == "5.123"
    assert values["altitude [m]"] == "64.8"
    assert values["enhanced_speed [m/s]"] == "5.123"


def test_developer_field_column_name_and_units(tmp_path: Path) -> None:
    path = sample("fitparse/developer-types-sample.fit")
    report = convert_file(path, tmp_path)
    header = read_rows(report.outputs[0])[0]
    assert "0.Form Power [Watts]" in header
    assert header.index("0.Form Power [Watts]") > header.index("heart_rate [bpm]")


def test_timestamp_local_uses_file_offset(tmp_path: Path) -> None:
    path = sample("goldencheetah/rides/MultiSport-2019-11-24.fit")
    report = convert_file(
        path, tmp_path, options=CsvOptions(columns=("timestamp", "timestamp_local"))
    )
    header, first = read_rows(report.outputs[0])[:2]
    assert header == ["timestamp", "timestamp_local"]
    assert first == ["2019-11-24T12:54:18Z", "2019-11-24T07:54:18"]


def test_no_units_semicolon_and_decimal_comma(tmp_path: Path) -> None:
    path = sample("synthetic/24h_1hz.fit")
    options = CsvOptions(
        units_in_header=False,
        delimiter=";",
        decimal_comma=True,
        columns=("timestamp", "position_lat", "distance", "heart_rate"),
    )
    report = convert_file(path, tmp_path, options=options)
    header, first = read_rows(report.outputs[0], ";")[:2]
    assert header == ["timestamp", "position_lat", "distance", "heart_rate"]
    assert first == ["2024-06-01T00:00:00Z", "47,376973964", "8,23", "120"]


def test_drop_empty_columns(tmp_path: Path) -> None:
    path = sample("synthetic/24h_1hz.fit")
    report = convert_file(path, tmp_path, options=CsvOptions(drop_empty_columns=True))
    header = read_rows(report.outputs[0])[0]
    assert "timestamp_local" not in header
    assert "heart_rate [bpm]" in header


def test_extra_tables(tmp_path: Path) -> None:
    path = sample("goldencheetah/rides/HRV-Data.fit")
    report = convert_file(path, tmp_path, options=CsvOptions(tables=("laps", "hrv", "events")))
    names = [output.name for output in report.outputs]
    assert names == ["HRV-Data.csv", "HRV-Data.events.csv", "HRV-Data.hrv.csv", "HRV-Data.laps.csv"]
    hrv = read_rows(tmp_path / "HRV-Data.hrv.csv")
    assert hrv[0] == ["time", "rr_interval [s]"]
    assert hrv[1][0].endswith("Z")
    assert report.rows["hrv"] == len(hrv) - 1
    laps = read_rows(tmp_path / "HRV-Data.laps.csv")
    assert laps[0][0] == "timestamp"


def test_all_tables_one_file_per_message(tmp_path: Path) -> None:
    path = sample("fitparse/Activity.fit")
    report = convert_file(path, tmp_path, options=CsvOptions(tables=("all",)))
    names = {output.name for output in report.outputs}
    assert "Activity.file_id.csv" in names
    assert "Activity.session.csv" in names
    assert "Activity.record.csv" not in names


def test_imperial_and_pace_columns(tmp_path: Path) -> None:
    path = sample("synthetic/24h_1hz.fit")
    options = CsvOptions(
        units=("metric", "imperial", "pace"),
        columns=("distance", "distance_mi", "speed", "speed_mph", "pace", "pace_mi"),
    )
    report = convert_file(path, tmp_path, options=options)
    header, first = read_rows(report.outputs[0])[:2]
    assert header == [
        "timestamp",
        "distance [m]",
        "distance_mi [mi]",
        "speed [m/s]",
        "speed_mph [mph]",
        "pace [min/km]",
        "pace_mi [min/mi]",
    ]
    assert first == [
        "2024-06-01T00:00:00Z",
        "8.23",
        "0.00511",
        "8.231",
        "18.412",
        "2:01",
        "3:16",
    ]


def test_swim_strap_heart_rate_merged_into_records(tmp_path: Path) -> None:
    path = sample("goldencheetah/swims/GarminHRMswim.FIT")
    report = convert_file(path, tmp_path)
    header, *rows = read_rows(report.outputs[0])
    column = header.index("heart_rate [bpm]")
    assert len(rows) == 2630
    assert all(row[column] for row in rows)
    assert rows[0][column] == "93"


def test_hr_events_placed_from_their_anchor() -> None:
    messages = [
        {"timestamp": T0, "event_timestamp": 5000.25, "filtered_bpm": 100},
        {"event_timestamp": (5001.25, 5003.75), "filtered_bpm": (101, 102)},
    ]
    assert hr_samples(messages) == [(T0, 100), (T0 + 1.0, 101), (T0 + 3.5, 102)]
    records = [
        {"timestamp": T0 + 1},
        {"timestamp": T0 + 3, "heart_rate": 90},
        {"timestamp": T0 + 9},
    ]
    merged = list(merge_heart_rate(records, hr_samples(messages)))
    assert [r.get("heart_rate") for r in merged] == [101, 90, None]


def test_late_developer_description_in_csv(tmp_path: Path) -> None:
    from test_fit_decoder import dev_record, dev_record_definition, developer_messages

    content = fit_file(
        dev_record_definition(),
        dev_record(1.0),
        *developer_messages(with_application_id=True, units=b"W"),
        dev_record(2.5),
    )
    report = convert_file(write_fit(tmp_path, content), tmp_path / "out")
    header, first, second = read_rows(report.outputs[0])
    assert header == ["timestamp", "timestamp_local", "power [watts]", "0.Power [W]"]
    assert first[3] == "1.0"
    assert second[3] == "2.5"


def test_unknown_messages_reported_with_all_tables(tmp_path: Path) -> None:
    path = sample("goldencheetah/rides/MultiSport-2019-11-24.fit")
    report = convert_file(path, tmp_path, options=CsvOptions(tables=("all",)))
    assert "MultiSport-2019-11-24.unknown_22.csv" in {p.name for p in report.outputs}
    assert any("missing from the FIT profile" in warning for warning in report.warnings)


def test_column_selection_applies_to_records_only(tmp_path: Path) -> None:
    path = sample("goldencheetah/rides/HRV-Data.fit")
    options = CsvOptions(
        columns=("timestamp", "heart_rate"),
        tables=("laps", "hrv"),
        decimal_comma=True,
        delimiter=";",
    )
    report = convert_file(path, tmp_path, options=options)
    assert read_rows(report.outputs[0], ";")[0] == ["timestamp", "heart_rate [bpm]"]
    laps = read_rows(tmp_path / "HRV-Data.laps.csv", ";")
    assert len(laps[0]) > 10
    hrv = read_rows(tmp_path / "HRV-Data.hrv.csv", ";")
    assert "," in hrv[1][1]


def test_invalid_local_offset_leaves_local_time_empty(tmp_path: Path) -> None:
    # Zwift writes activity.local_timestamp 0, an offset of -876098089 s (about -27 years).
    path = sample("fitparse/null_compressed_speed_dist.fit")
    report = convert_file(
        path, tmp_path, options=CsvOptions(columns=("timestamp", "timestamp_local"))
    )
    first = read_rows(report.outputs[0])[1]
    assert first == ["2017-10-05T00:04:07Z", ""]
    assert any("-876098089 s" in warning for warning in report.warnings)


@pytest.mark.parametrize(
    "relative", ["fitparse/compressed-speed-distance.fit", "fitparse/antfs-dump.63.fit"]
)
def test_relative_times_get_own_column(relative: str, tmp_path: Path) -> None:
    report = convert_file(sample(relative), tmp_path, options=CsvOptions(tables=("laps",)))
    rows = read_rows(report.outputs[0])
    header = rows[0]
    assert header[:3] == ["timestamp", "elapsed_device_time [s]", "timestamp_local"]
    assert all(row[0] == "" and row[2] == "" for row in rows[1:])
    assert all(row[1].isdigit() and int(row[1]) < 0x10000000 for row in rows[1:])
    assert any("elapsed_device_time" in warning for warning in report.warnings)

    laps = read_rows(report.outputs[1])
    assert laps[0][:2] == ["timestamp", "elapsed_device_time [s]"]
    assert laps[1][0] == ""
    assert laps[1][1].isdigit()


def test_columns_keep_timestamp_and_request_order(tmp_path: Path) -> None:
    path = sample("synthetic/24h_1hz.fit")
    options = CsvOptions(columns=("heart_rate [bpm]", "distance", "bogus", "timestamp_local"))
    report = convert_file(path, tmp_path, options=options)
    header, first = read_rows(report.outputs[0])[:2]
    assert header == ["timestamp", "heart_rate [bpm]", "distance [m]", "timestamp_local"]
    assert first == ["2024-06-01T00:00:00Z", "120", "8.23", ""]
    assert len(report.warnings) == 1
    assert "unknown column(s) bogus" in report.warnings[0]
    assert "position_lat" in report.warnings[0]


def test_columns_absent_from_file_keep_header(tmp_path: Path) -> None:
    # Records with a timestamp and a cadence only: none of the requested columns exist.
    content = fit_file(
        definition(0, 20, [(253, 4, 0x86), (4, 1, 0x02)]),
        *(data(0, struct.pack("<IB", T0 + second, 80)) for second in range(15)),
    )
    options = CsvOptions(columns=("heart_rate", "power", "bogus"))
    report = convert_file(write_fit(tmp_path, content), tmp_path / "out", options=options)
    rows = read_rows(report.outputs[0])
    assert rows[0] == ["timestamp"]
    assert len(rows) == 16
    assert all(row[0].endswith("Z") for row in rows[1:])
    assert len(report.warnings) == 1
    assert "unknown column(s) heart_rate, power, bogus" in report.warnings[0]
    assert "cadence" in report.warnings[0]


def test_drop_empty_columns_keeps_timestamp(tmp_path: Path) -> None:
    content = fit_file(
        definition(0, 20, [(253, 4, 0x86), (4, 1, 0x02)]),
        data(0, struct.pack("<IB", 5, 80)),
    )
    options = CsvOptions(drop_empty_columns=True)
    report = convert_file(write_fit(tmp_path, content), tmp_path / "out", options=options)
    rows = read_rows(report.outputs[0])
    assert rows[0] == ["timestamp", "elapsed_device_time [s]", "cadence [rpm]"]
    assert rows[1] == ["", "5", "80"]


def test_hrv_start_ignores_relative_time() -> None:
    timer_start = {"event": "timer", "event_type": "start", "timestamp": 17217864}
    assert hrv_start_time([("event", timer_start)]) is None
    assert hrv_start_time([("event", {**timer_start, "timestamp": T0})]) == T0
