"""The rule that decides whether a file's local time offset is trusted."""

from __future__ import annotations

import pytest

from fit_converter.localtime import is_valid_utc_offset


@pytest.mark.parametrize("seconds", [0, 3600, -12 * 3600, 14 * 3600, 5 * 3600 + 45 * 60])
def test_real_zone_offsets_are_valid(seconds: int) -> None:
    assert is_valid_utc_offset(seconds)


@pytest.mark.parametrize("seconds", [-876098089, 14 * 3600 + 900, 225, 3601])
def test_impossible_offsets_are_invalid(seconds: int) -> None:
    assert not is_valid_utc_offset(seconds)
