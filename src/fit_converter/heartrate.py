"""Heart rate from ``hr`` messages (swim and chest straps that store HR on the strap).

Such straps cannot send heart rate under water, so the watch writes it later as ``hr``
messages: ``filtered_bpm`` values with ``event_timestamp`` times on the strap's own
clock. The first ``hr`` message of a series also has a ``timestamp``, which ties that
clock to FIT time, and every later event is placed relative to it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import Any

#: A record takes the heart rate of the nearest ``hr`` event at most this far away.
MAX_GAP_SECONDS = 2.0


def hr_samples(messages: Iterable[dict[str, Any]]) -> list[tuple[float, int]]:
    """Return (seconds since the FIT epoch, bpm) of every ``hr`` event, sorted by time."""
    samples: list[tuple[float, int]] = []
    anchor_time: int | None = None
    anchor_event = 0.0
    for values in messages:
        events = values.get("event_timestamp")
        rates = values.get("filtered_bpm")
        if not isinstance(events, tuple):
            events = (events,)
        if not isinstance(rates, tuple):
            rates = (rates,)

        timestamp = values.get("timestamp")
        if isinstance(timestamp, int) and len(events) == 1 and events[0] is not None:
            anchor_time, anchor_event = timestamp, events[0]
        if anchor_time is None:
            continue

        for event, rate in zip(events, rates, strict=False):
            if event is not None and rate is not None:
                samples.append((anchor_time + (event - anchor_event), rate))
    samples.sort()
    return samples


def merge_heart_rate(
    records: Iterable[dict[str, Any]], samples: list[tuple[float, int]]
) -> Iterator[dict[str, Any]]:
    """Fill in ``heart_rate`` of records that have none from the nearest ``hr`` event."""
    times = [time for time, _ in samples]
    for values in records:
        timestamp = values.get("timestamp")
        if values.get("heart_rate") is None and isinstance(timestamp, int) and times:
            index = bisect.bisect_left(times, timestamp)
            nearest = min(
                (i for i in (index - 1, index) if 0 <= i < len(times)),
                key=lambda i: abs(times[i] - timestamp),
            )
            if abs(times[nearest] - timestamp) <= MAX_GAP_SECONDS:
                values["heart_rate"] = samples[nearest][1]
        yield values
