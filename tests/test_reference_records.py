"""Records CSVs checked against the record-only reference CSVs of python-fitparse's tests.

The references write positions in semicircles, times as Java ``Date`` strings in US
Pacific time (or as plain seconds for a file whose clock was never set), and invalid
values as empty cells or ``null``.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import pytest

from conftest import sample
from fit_converter.convert import convert_file
from fit_converter.csvformat import DEGREES_PER_SEMICIRCLE

REFERENCES = [
    "fitparse/garmin-fenix-5-bike",
    "fitparse/garmin-fenix-5-run",
    "fitparse/garmin-fenix-5-walk",
    "fitparse/garmin-edge-820-bike",
    "fitparse/garmin-edge-500-activity",
    "fitparse/compressed-speed-distance",
]

#: References that repeat the previous record's value where the file marks a value
#: invalid, as fitdecode 0.11.0 and fitparse 1.2.0 read it too. Our CSV leaves such
#: cells empty.
FORWARD_FILLED = {"garmin-edge-500-activity"}

#: US Pacific zone abbreviations in the references' Java Date strings.
ZONES = {"PDT": dt.timezone(dt.timedelta(hours=-7)), "PST": dt.timezone(dt.timedelta(hours=-8))}


def reference_time(text: str) -> str:
    """Return a reference timestamp in our CSV's form."""
    if text.isdigit():
        return text
    _weekday, month, day, clock, zone, year = text.split()
    local = dt.datetime.strptime(f"{month} {day} {year} {clock}", "%b %d %Y %H:%M:%S")
    moment = local.replace(tzinfo=ZONES[zone]).astimezone(dt.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header = [title.strip().split(" [")[0].lower().replace(" ", "_") for title in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


@pytest.mark.parametrize("stem", REFERENCES, ids=[Path(s).name for s in REFERENCES])
def test_records_match_reference_csv(stem: str, tmp_path: Path) -> None:
    reference = read(sample(f"{stem}-records.csv"))
    report = convert_file(sample(f"{stem}.fit"), tmp_path)
    compared = [name for name in reference[0] if name != "timestamp"]
    # The references leave out records without any value but the time; we keep them.
    ours = [row for row in read(report.outputs[0]) if any(row.get(n) for n in compared)]

    assert len(ours) == len(reference)
    for index, (row, expected) in enumerate(zip(ours, reference, strict=True)):
        if expected["timestamp"].isdigit():
            # Seconds since power-on: no date, so they go to their own column.
            assert row["timestamp"] == "", f"row {index}"
            assert row["elapsed_device_time"] == expected["timestamp"], f"row {index}"
        else:
            assert row["timestamp"] == reference_time(expected["timestamp"]), f"row {index}"
        for name, text in expected.items():
            if name == "timestamp":
                continue
            value = None if text in ("", "null") else float(text)
            if value is not None and name.startswith("position_"):
                value *= DEGREES_PER_SEMICIRCLE
            mine = row.get(name, "")
            if value is None:
                assert mine == "", f"row {index} {name}: {mine!r}, expected empty"
                continue
            previous = reference[index - 1].get(name) if index else None
            repeated = previous not in (None, "", "null") and float(previous) == float(text)
            if mine == "" and repeated and Path(stem).name in FORWARD_FILLED:
                continue
            assert mine != "", f"row {index} {name}: empty, expected {value}"
            assert math.isclose(float(mine), value, rel_tol=1e-9, abs_tol=1e-8), (
                f"row {index} {name}: {mine} != {value}"
            )


def test_compressed_speed_distance_keeps_first_record(tmp_path: Path) -> None:
    # python-fitparse's test skips the file's first record, which only sets the time
    # (17217864 s) for the compressed-timestamp headers, so its CSV has 754 rows.
    # The record is in the file, so ours has 755, as fitdecode and fitparse count.
    report = convert_file(sample("fitparse/compressed-speed-distance.fit"), tmp_path)
    rows = read(report.outputs[0])
    reference = read(sample("fitparse/compressed-speed-distance-records.csv"))

    assert len(rows) == 755
    assert len(reference) == 754
    assert rows[0]["elapsed_device_time"] == "17217864"
    assert rows[0]["heart_rate"] == ""
    assert rows[1]["elapsed_device_time"] == reference[0]["timestamp"]
