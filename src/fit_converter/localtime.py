"""The rule for trusting a FIT file's local time offset."""

from __future__ import annotations

#: Widest offset of any time zone in use: UTC+14 (Kiribati). The lowest is UTC-12.
MAX_UTC_OFFSET_SECONDS = 14 * 3600

#: Every time zone in use is a whole multiple of 15 minutes from UTC (Nepal +5:45,
#: Chatham Islands +12:45 are the finest steps).
UTC_OFFSET_STEP_SECONDS = 15 * 60


def is_valid_utc_offset(seconds: float) -> bool:
    """Return whether ``seconds`` can be a time zone's offset from UTC.

    Devices with an unset clock write offsets such as -27 years (Zwift sets
    ``local_timestamp`` to 0) or 225 s. Such a file gets no local times at all.
    """
    if abs(seconds) > MAX_UTC_OFFSET_SECONDS:
        return False
    return seconds % UTC_OFFSET_STEP_SECONDS == 0


def describe_invalid_offset(seconds: float) -> str:
    """Return the report warning for an offset that ``is_valid_utc_offset`` rejects."""
    return (
        f"activity.local_timestamp is {seconds:+.0f} s from activity.timestamp, which is no "
        "UTC offset (those lie within +-14 h in steps of 15 min), so timestamp_local is empty"
    )
