"""The FitCSVTool layout, checked against reference CSVs written by the FIT SDK's tool."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest

from conftest import sample
from fit_converter.config import CsvOptions
from fit_converter.convert import convert_file
from fit_converter.fit import FitDecoder
from fit_converter.fitcsv import write_fitcsv

#: (FIT file, reference CSV) pairs whose every data value must match.
MATCHING = [
    ("fitparse/DeveloperData.fit", "muktihari-fit/from_official_sdk/DeveloperData.csv"),
    (
        "fitparse/WeightScaleMultiUser.fit",
        "muktihari-fit/from_official_sdk/WeightScaleMultiUser.csv",
    ),
    (
        "fitparse/WeightScaleSingleUser.fit",
        "muktihari-fit/from_official_sdk/WeightScaleSingleUser.csv",
    ),
    (
        "fitparse/WorkoutCustomTargetValues.fit",
        "muktihari-fit/from_official_sdk/WorkoutCustomTargetValues.csv",
    ),
    (
        "fitparse/WorkoutIndividualSteps.fit",
        "muktihari-fit/from_official_sdk/WorkoutIndividualSteps.csv",
    ),
    ("fitparse/WorkoutRepeatSteps.fit", "muktihari-fit/from_official_sdk/WorkoutRepeatSteps.csv"),
    (
        "muktihari-fit/from_official_sdk/WithGearChangeData.fit",
        "muktihari-fit/from_official_sdk/WithGearChangeData.csv",
    ),
    (
        "muktihari-fit/from_official_sdk/activity_developerdata.fit",
        "muktihari-fit/from_official_sdk/activity_developerdata.csv",
    ),
    (
        "muktihari-fit/from_official_sdk/activity_poolswim.fit",
        "muktihari-fit/from_official_sdk/activity_poolswim.csv",
    ),
    (
        "muktihari-fit/from_official_sdk/activity_truncated.fit",
        "muktihari-fit/from_official_sdk/activity_truncated.csv",
    ),
    ("muktihari-fit/valid_only_contain_fileid.fit", "muktihari-fit/valid_only_contain_fileid.csv"),
]


def read_table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def data_rows(table: list[list[str]]) -> list[tuple[str, str, dict[str, str]]]:
    """Return (local number, message, field -> value) of each Data row."""
    rows = []
    for row in table[1:]:
        if not row or row[0] != "Data":
            continue
        fields: dict[str, str] = {}
        for index in range(3, len(row) - 2, 3):
            if row[index]:
                fields.setdefault(row[index], row[index + 1])
        rows.append((row[1], row[2], fields))
    return rows


def same_value(ours: str, theirs: str) -> bool:
    if ours == theirs:
        return True
    ours_items, their_items = ours.split("|"), theirs.split("|")
    if len(ours_items) != len(their_items):
        return False
    try:
        return all(
            math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
            for a, b in zip(ours_items, their_items, strict=True)
        )
    except ValueError:
        return False


@pytest.mark.parametrize(("fit", "reference"), MATCHING, ids=[Path(f).name for f, _ in MATCHING])
def test_fitcsv_matches_reference(fit: str, reference: str) -> None:
    buffer = io.StringIO()
    write_fitcsv(FitDecoder(sample(fit).read_bytes()), buffer)
    ours = data_rows(read_table(buffer.getvalue()))
    theirs = data_rows(read_table(sample(reference).read_text(encoding="utf-8")))

    assert len(ours) == len(theirs)
    for index, ((local, message, fields), (their_local, their_message, their_fields)) in enumerate(
        zip(ours, theirs, strict=True)
    ):
        assert (local, message) == (their_local, their_message), f"row {index}"
        assert fields.keys() == their_fields.keys(), f"row {index} {message}"
        for name, value in fields.items():
            assert same_value(value, their_fields[name]), (
                f"row {index} {message}.{name}: {value!r} != {their_fields[name]!r}"
            )


def test_fitcsv_header_and_padding() -> None:
    buffer = io.StringIO()
    write_fitcsv(FitDecoder(sample("fitparse/Activity.fit").read_bytes()), buffer)
    table = read_table(buffer.getvalue())
    width = len(table[0])
    assert table[0][:6] == ["Type", "Local Number", "Message", "Field 1", "Value 1", "Units 1"]
    assert all(len(row) == width for row in table)
    assert table[1][:3] == ["Definition", "0", "file_id"]


def test_fitcsv_leaves_out_rebuilt_timestamps() -> None:
    # The FIT SDK's tool shows monitoring messages with only their timestamp_16.
    buffer = io.StringIO()
    write_fitcsv(FitDecoder(sample("fitparse/MonitoringFile.fit").read_bytes()), buffer)
    rows = [fields for _, message, fields in data_rows(read_table(buffer.getvalue()))]
    assert all("timestamp" not in fields for fields in rows if "timestamp_16" in fields)


def test_fitcsv_table_from_convert(tmp_path: Path) -> None:
    path = sample("fitparse/Activity.fit")
    report = convert_file(path, tmp_path, options=CsvOptions(tables=("fitcsv",)))
    assert report.outputs[-1].name == "Activity.fitcsv.csv"
    assert report.rows["fitcsv"] > report.rows["records"]
