"""The self-test FIT file shipped in the package: reproducible, valid and decodable."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from types import ModuleType

import fitdecode
import fitparse
import pytest
from fitparse.utils import FitCRCError

from fit_converter.decode import check_fit_header
from fit_converter.selftest import FILE_NAME, RECORDS, run_selftest, selftest_bytes

TOOL = Path(__file__).resolve().parents[1] / "tools" / "make_selftest_fit.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_selftest_fit", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_file_matches_generator() -> None:
    assert selftest_bytes() == _tool().encode(), "run tools/make_selftest_fit.py and commit"


def test_header_and_size() -> None:
    data = selftest_bytes()
    header_size, protocol, _, data_size, signature = struct.unpack("<BBHI4s", data[:12])
    assert header_size == 14
    assert protocol == 0x20
    assert signature == b".FIT"
    assert len(data) == header_size + data_size + 2


def test_crcs_checked_by_fitdecode(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(selftest_bytes())
    assert check_fit_header(path) == len(selftest_bytes())
    with fitdecode.FitReader(str(path), check_crc=fitdecode.CrcCheck.RAISE) as reader:
        records = [
            frame
            for frame in reader
            if isinstance(frame, fitdecode.FitDataMessage) and frame.name == "record"
        ]
    assert len(records) == len(RECORDS)
    first = records[0]
    assert first.get_value("heart_rate") == RECORDS[0].heart_rate
    assert first.get_value("power") == RECORDS[0].power
    assert first.get_value("timestamp") == RECORDS[0].timestamp


def test_values_read_by_fitparse(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(selftest_bytes())
    fit = fitparse.FitFile(str(path), check_crc=True)
    records = [message.get_values() for message in fit.get_messages("record")]
    assert len(records) == len(RECORDS)
    last, expected = records[-1], RECORDS[-1]
    assert last["heart_rate"] == expected.heart_rate
    assert last["power"] == expected.power
    assert abs(last["speed"] - expected.speed) < 0.001
    assert abs(last["altitude"] - expected.altitude) < 0.2
    assert abs(last["position_lat"] * 180 / 2**31 - expected.latitude) < 1e-6
    assert abs(last["position_long"] * 180 / 2**31 - expected.longitude) < 1e-6


def test_corrupted_byte_fails_crc(tmp_path: Path) -> None:
    data = bytearray(selftest_bytes())
    data[40] ^= 0xFF
    path = tmp_path / "corrupt.fit"
    path.write_bytes(bytes(data))
    fit = fitparse.FitFile(str(path), check_crc=True)
    with pytest.raises(FitCRCError):
        list(fit.get_messages())


def test_run_selftest_leaves_nothing(tmp_path: Path) -> None:
    report, text = run_selftest(tmp_path)
    assert report.rows["records"] == len(RECORDS)
    assert text.startswith("timestamp,")
    assert list(tmp_path.iterdir()) == []
