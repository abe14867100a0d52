"""Conversion against the public sample corpus, cross-checked with fitdecode and fitparse."""

from __future__ import annotations

import csv
import datetime as dt
import math
import warnings
from pathlib import Path
from typing import Any

import fitdecode
import pytest

from conftest import sample, sample_files
from fit_converter.convert import DEGREES_PER_SEMICIRCLE, convert_file, format_value
from fit_converter.errors import ConversionError, EmptyFileError, NotFitError
from fit_converter.fit import FitDecoder

#: Files from many producers and sports whose values are compared field by field.
DIVERSE_FILES = [
    "fitparse/2013-02-06-12-11-14.fit",
    "fitparse/2015-10-13-08-43-15.fit",
    "fitparse/20170518-191602-1740899583.fit",
    "fitparse/2019-02-17-062644-ELEMNT-297E-195-0.fit",
    "fitparse/developer-types-sample.fit",
    "fitparse/compressed-speed-distance.fit",
    "goldencheetah/rides/moxy.fit",
    "goldencheetah/roundtrip/Fr955v19.28andStryd.fit",
    "goldencheetah/rides/HRV-Data.fit",
    "goldencheetah/swims/lap_swim_test_FR920xt.FIT",
    "muktihari-fit/from_official_sdk/WithGearChangeData.fit",
]

COMPARED_FIELDS = [
    "position_lat",
    "position_long",
    "heart_rate",
    "power",
    "speed",
    "enhanced_speed",
    "altitude",
    "enhanced_altitude",
]


def fitdecode_records(path: Path) -> list[dict[str, Any]] | None:
    """Return fitdecode's record messages, or None when fitdecode reports any error."""
    records: list[dict[str, Any]] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with fitdecode.FitReader(
                str(path),
                check_crc=fitdecode.CrcCheck.RAISE,
                error_handling=fitdecode.ErrorHandling.RAISE,
            ) as reader:
                for frame in reader:
                    if isinstance(frame, fitdecode.FitDataMessage) and frame.name == "record":
                        values: dict[str, Any] = {}
                        for field in frame.fields:
                            values.setdefault(field.name, field.value)
                        records.append(values)
    except (fitdecode.FitError, Warning):
        return None
    return records


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    """Read a CSV into dicts keyed by column name without the ``[units]`` suffix."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter=delimiter))
    header = [title.split(" [")[0] for title in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def cell_number(cell: str) -> float | None:
    return float(cell) if cell != "" else None


READABLE = [p for p in sample_files() if p.stat().st_size > 0]


@pytest.mark.skipif(not READABLE, reason="sample corpus not found (set FIT_SAMPLES_DIR)")
@pytest.mark.parametrize("path", READABLE, ids=lambda p: p.name)
def test_every_record_becomes_a_row(path: Path, tmp_path: Path) -> None:
    expected = sum(1 for name, _ in FitDecoder(path.read_bytes()).messages() if name == "record")
    if not expected:
        with pytest.raises(ConversionError, match="no record messages"):
            convert_file(path, tmp_path)
        return

    report = convert_file(path, tmp_path)

    rows = read_csv(report.outputs[0])
    assert report.rows["records"] == expected
    assert len(rows) == expected


@pytest.mark.parametrize("relative", DIVERSE_FILES)
def test_values_match_fitdecode_and_fitparse(relative: str, tmp_path: Path) -> None:
    import fitparse

    path = sample(relative)
    report = convert_file(path, tmp_path)
    rows = read_csv(report.outputs[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oracle = [
            {item.name: item.value for item in message}
            for message in fitparse.FitFile(str(path)).get_messages("record")
        ]
    decoded = fitdecode_records(path)
    assert decoded is not None
    assert len(oracle) == len(rows) == len(decoded)

    for index, (row, theirs, ours_decoded) in enumerate(zip(rows, oracle, decoded, strict=True)):
        # fitparse 1.2.0 leaves compressed-header timestamps as raw integers.
        for stamp in (theirs.get("timestamp"), ours_decoded.get("timestamp")):
            if isinstance(stamp, dt.datetime):
                expected_time = stamp.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
                assert row["timestamp"] == expected_time, f"row {index}"

        for name in COMPARED_FIELDS:
            if name not in row:
                continue
            ours = cell_number(row[name])
            for reference in (theirs.get(name), ours_decoded.get(name)):
                if reference is None or isinstance(reference, tuple | list):
                    continue
                if name.startswith("position_"):
                    reference = reference * DEGREES_PER_SEMICIRCLE
                assert ours is not None, f"row {index} {name}: empty, expected {reference}"
                assert math.isclose(ours, reference, rel_tol=1e-9, abs_tol=1e-6), (
                    f"row {index} {name}: {ours} != {reference}"
                )

        # Every other column that fitparse also names: numbers, enum names and invalid
        # values. Arrays and dates are covered above and by the decoder's tests.
        for name, reference in theirs.items():
            if name == "timestamp" or name not in row:
                continue
            if isinstance(reference, tuple | list | dt.datetime | dt.time):
                continue
            cell = row[name]
            if reference is None or isinstance(reference, str):
                assert cell == (reference or ""), f"row {index} {name}: {cell!r}"
                continue
            if name.startswith("position_"):
                reference = reference * DEGREES_PER_SEMICIRCLE
            assert math.isclose(float(cell), reference, rel_tol=1e-9, abs_tol=1e-7), (
                f"row {index} {name}: {cell} != {reference}"
            )


def test_csv_header_and_first_row(tmp_path: Path) -> None:
    path = sample("synthetic/24h_1hz.fit")
    report = convert_file(path, tmp_path)
    with report.outputs[0].open(encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
        first = handle.readline().strip().split(",")
    assert header[:9] == [
        "timestamp",
        "timestamp_local",
        "position_lat [deg]",
        "position_long [deg]",
        "distance [m]",
        "altitude [m]",
        "speed [m/s]",
        "heart_rate [bpm]",
        "cadence [rpm]",
    ]
    row = dict(zip([title.split(" [")[0] for title in header], first, strict=True))
    assert row["timestamp_local"] == ""
    assert row["timestamp"] == "2024-06-01T00:00:00Z"
    assert row["heart_rate"] == "120"
    assert row["position_lat"] == repr(round(565229316 * DEGREES_PER_SEMICIRCLE, 9))
    assert row["distance"] == "8.23"


def test_existing_csv_is_not_overwritten(tmp_path: Path) -> None:
    path = sample("fitparse/2015-10-13-08-43-15.fit")
    first = convert_file(path, tmp_path).outputs[0]
    second = convert_file(path, tmp_path).outputs[0]
    assert first.name == "2015-10-13-08-43-15.csv"
    assert second.name == "2015-10-13-08-43-15 (1).csv"
    assert not list(tmp_path.glob(".*.part"))


def test_not_fit_file_is_rejected(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.fit"
    bogus.write_text("these are not the bytes you are looking for")
    with pytest.raises(NotFitError, match=r"notes\.fit: not a FIT file"):
        convert_file(bogus, tmp_path / "out")


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.fit"
    empty.touch()
    with pytest.raises(EmptyFileError, match="0 bytes"):
        convert_file(empty, tmp_path / "out")


def test_truncated_file_keeps_readable_records(tmp_path: Path) -> None:
    path = sample("fitparse/activity-unexpected-eof.fit")
    report = convert_file(path, tmp_path)
    assert report.rows["records"] > 0
    assert report.warnings == ["truncated at byte 751 of 771, kept 14 of about 14 records"]


@pytest.mark.parametrize(
    ("value", "units", "expected"),
    [
        (None, None, ""),
        (64.79999999999995, "m", "64.8"),
        (dt.datetime(2024, 6, 1, 12, 0, 5, tzinfo=dt.UTC), None, "2024-06-01T12:00:05Z"),
        (2**30, "semicircles", "90.0"),
        ((1, None, 3), None, "1||3"),
        ("running", None, "running"),
    ],
)
def test_format_value(value: Any, units: str | None, expected: str) -> None:
    assert format_value("field", value, units) == expected
