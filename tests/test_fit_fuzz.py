"""Mutated sample files never raise anything but the decoder's own errors, and never hang."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SAMPLES_DIR
from fit_converter.convert import convert_file
from fit_converter.decode import read_messages
from fit_converter.errors import ConversionError
from fit_converter.fit import FitDecodeError, FitDecoder

#: Small files that together use developer fields, compressed timestamps, components,
#: chained files and sub-fields.
SEEDS = [
    "fitparse/Activity.fit",
    "fitparse/DeveloperData.fit",
    "fitparse/compressed-speed-distance.fit",
    "fitparse/activity-settings.fit",
    "muktihari-fit/from_official_sdk/activity_poolswim.fit",
]

SEED_BYTES = [(SAMPLES_DIR / s).read_bytes() for s in SEEDS if (SAMPLES_DIR / s).is_file()]

pytestmark = pytest.mark.skipif(
    len(SEED_BYTES) != len(SEEDS), reason="sample corpus not found (set FIT_SAMPLES_DIR)"
)


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    content = bytearray(draw(st.sampled_from(SEED_BYTES or [b""])))
    for _ in range(draw(st.integers(1, 8))):
        if not content:
            break
        position = draw(st.integers(0, len(content) - 1))
        action = draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        if action == "set":
            content[position] = draw(st.integers(0, 255))
        elif action == "insert":
            content[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del content[position : position + draw(st.integers(1, 16))]
        else:
            del content[position:]
    return bytes(content)


FUZZ_SETTINGS = settings(
    max_examples=300,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


@FUZZ_SETTINGS
@given(mutated_files())
def test_lenient_decoder_raises_only_header_errors(content: bytes) -> None:
    decoder = FitDecoder(content)
    try:
        for _ in decoder.messages():
            pass
    except FitDecodeError as error:
        assert error.offset == 0
    assert all(isinstance(problem, FitDecodeError) for problem in decoder.problems)


@FUZZ_SETTINGS
@given(mutated_files())
def test_strict_decoder_raises_only_decode_errors(content: bytes) -> None:
    try:
        for _ in FitDecoder(content, strict=True).messages():
            pass
    except FitDecodeError as error:
        assert error.offset >= 0


@settings(
    max_examples=60,
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
@given(mutated_files())
def test_conversion_raises_only_conversion_errors(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "mutated.fit"
    source.write_bytes(content)
    with contextlib.suppress(ConversionError):
        convert_file(source, tmp_path / "out", overwrite=True)


@settings(
    max_examples=60,
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
@given(mutated_files())
def test_read_messages_raises_only_conversion_errors(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "mutated.fit"
    source.write_bytes(content)
    problems: list[str] = []
    with contextlib.suppress(ConversionError):
        for _ in read_messages(source, problems):
            pass
    assert all(isinstance(problem, str) for problem in problems)
