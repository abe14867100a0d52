"""Activity summary and chart series for one ledger entry, from its FIT file or its CSV.

The archived FIT file is read through ``fit_converter.decode.read_messages``. When it
is gone (deleted by hand), the records CSV in the outbox is read instead, which has
the same record fields but no session totals. Results are cached per SHA-256 in
``<state>/activity-cache`` because a day-long file takes seconds to decode on a Pi.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fit_converter.decode import Message, read_messages
from fit_converter.files import write_atomically
from fit_converter.ledger import Entry
from fit_converter.localtime import is_valid_utc_offset

#: Maximum points per chart series; longer activities are averaged down to this many.
MAX_POINTS = 1200

#: Version of the cached JSON layout; a change makes old cache files unused.
CACHE_VERSION = 1

#: Chart series: name in the JSON, then the record fields to take it from, first found wins.
SERIES_FIELDS: dict[str, tuple[str, ...]] = {
    "heart_rate": ("heart_rate",),
    "power": ("power",),
    "speed": ("enhanced_speed", "speed"),
    "altitude": ("enhanced_altitude", "altitude"),
    "distance": ("distance",),
}

#: Summary values: name in the JSON, then the session fields to take it from.
SESSION_FIELDS: dict[str, tuple[str, ...]] = {
    "elapsed_seconds": ("total_elapsed_time",),
    "timer_seconds": ("total_timer_time",),
    "distance_m": ("total_distance",),
    "ascent_m": ("total_ascent",),
    "avg_heart_rate": ("avg_heart_rate",),
    "max_heart_rate": ("max_heart_rate",),
    "avg_power": ("avg_power",),
    "max_power": ("max_power",),
    "avg_speed": ("enhanced_avg_speed", "avg_speed"),
    "max_speed": ("enhanced_max_speed", "max_speed"),
}

log = logging.getLogger("fit_converter.web.activity")


class ActivityUnavailable(Exception):
    """Neither the archived FIT file nor the records CSV of an entry can be read."""


def _first(values: dict[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        value = values.get(name)
        if value is not None:
            return value
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class _Collector:
    """Gather record samples and session totals while messages stream past."""

    def __init__(self) -> None:
        self.times: list[dt.datetime] = []
        self.samples: dict[str, list[float | None]] = {name: [] for name in SERIES_FIELDS}
        self.sessions: list[dict[str, Any]] = []
        self.utc_offset: float | None = None

    def add_record(self, values: dict[str, Any]) -> None:
        moment = values.get("timestamp")
        if not isinstance(moment, dt.datetime):
            return
        self.times.append(moment)
        for name, fields in SERIES_FIELDS.items():
            self.samples[name].append(_number(_first(values, fields)))

    def add_message(self, message: Message) -> None:
        values = {field.name: field.value for field in message.fields}
        if message.name == "record":
            self.add_record(values)
        elif message.name == "session":
            self.sessions.append(values)
        elif message.name == "activity":
            local, utc = values.get("local_timestamp"), values.get("timestamp")
            if isinstance(local, dt.datetime) and isinstance(utc, dt.datetime):
                local_naive = local.replace(tzinfo=None)
                offset = (local_naive - utc.replace(tzinfo=None)).total_seconds()
                self.utc_offset = offset if is_valid_utc_offset(offset) else None


def _downsample(
    seconds: list[float], samples: dict[str, list[float | None]]
) -> tuple[list[float], dict[str, list[float | None]]]:
    """Average consecutive samples into at most MAX_POINTS buckets, skipping gaps."""
    count = len(seconds)
    if count <= MAX_POINTS:
        return seconds, samples
    bucket_size = math.ceil(count / MAX_POINTS)
    out_seconds: list[float] = []
    out_samples: dict[str, list[float | None]] = {name: [] for name in samples}
    for start in range(0, count, bucket_size):
        stop = min(start + bucket_size, count)
        out_seconds.append(seconds[start])
        for name, values in samples.items():
            present = [value for value in values[start:stop] if value is not None]
            out_samples[name].append(sum(present) / len(present) if present else None)
    return out_seconds, out_samples


def _summary(collector: _Collector) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    sessions = collector.sessions
    if sessions:
        sports = [str(session.get("sport") or "unknown") for session in sessions]
        summary["sport"] = (
            sports[0]
            if len(set(sports)) == 1
            else "multisport: " + ", ".join(dict.fromkeys(sports))
        )
        sub_sport = sessions[0].get("sub_sport")
        if len(sessions) == 1 and sub_sport not in (None, "generic"):
            summary["sport"] += f" ({sub_sport})"
        start = sessions[0].get("start_time")
        if isinstance(start, dt.datetime):
            summary["start"] = start
        for key in ("elapsed_seconds", "timer_seconds", "distance_m", "ascent_m"):
            total = [_number(_first(session, SESSION_FIELDS[key])) for session in sessions]
            present = [value for value in total if value is not None]
            summary[key] = sum(present) if present else None
        for key in ("max_heart_rate", "max_power", "max_speed"):
            peaks = [_number(_first(session, SESSION_FIELDS[key])) for session in sessions]
            present = [value for value in peaks if value is not None]
            summary[key] = max(present) if present else None
        if len(sessions) == 1:
            for key in ("avg_heart_rate", "avg_power", "avg_speed"):
                summary[key] = _number(_first(sessions[0], SESSION_FIELDS[key]))

    _fill_from_records(summary, collector)
    return summary


def _fill_from_records(summary: dict[str, Any], collector: _Collector) -> None:
    """Fill the summary values the sessions did not give from the record samples."""
    summary.setdefault("sport", None)
    if collector.times:
        summary.setdefault("start", collector.times[0])
        span = (collector.times[-1] - collector.times[0]).total_seconds()
        if summary.get("elapsed_seconds") is None:
            summary["elapsed_seconds"] = span

    for key, series in (("heart_rate", "heart_rate"), ("power", "power"), ("speed", "speed")):
        present = [value for value in collector.samples[series] if value is not None]
        if not present:
            continue
        if summary.get(f"avg_{key}") is None:
            summary[f"avg_{key}"] = sum(present) / len(present)
        if summary.get(f"max_{key}") is None:
            summary[f"max_{key}"] = max(present)

    distances = [value for value in collector.samples["distance"] if value is not None]
    if summary.get("distance_m") is None and distances:
        summary["distance_m"] = max(distances)
    altitudes = [value for value in collector.samples["altitude"] if value is not None]
    if summary.get("ascent_m") is None and altitudes:
        summary["ascent_m"] = sum(
            max(0.0, later - earlier) for earlier, later in itertools.pairwise(altitudes)
        )


def _read_fit(path: Path, collector: _Collector, problems: list[str]) -> None:
    for message in read_messages(path, problems):
        collector.add_message(message)


def _read_csv(path: Path, collector: _Collector) -> None:
    """Read a records CSV in any of the layouts the CSV settings allow."""
    with path.open(newline="", encoding="utf-8") as handle:
        header = handle.readline()
        handle.seek(0)
        delimiter = max((",", ";", "\t", "|"), key=header.count)
        decimal_comma = delimiter != ","
        for row in csv.DictReader(handle, delimiter=delimiter):
            values: dict[str, Any] = {}
            for column, text in row.items():
                if not text:
                    continue
                # Headers may carry units: "heart_rate [bpm]".
                name = column.split(" [", 1)[0]
                if decimal_comma:
                    text = text.replace(",", ".")
                if name == "timestamp":
                    values[name] = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
                    continue
                try:
                    values[name] = float(text)
                except ValueError:
                    values[name] = text
            collector.add_record(values)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def build_activity(entry: Entry, outbox: Path) -> dict[str, Any]:
    """Return the summary and chart series of ``entry`` as a JSON-ready dict."""
    collector = _Collector()
    problems: list[str] = []
    fit_path = Path(entry.stored_input) if entry.stored_input else None
    # Extra tables are "<stem>.<table>.csv", so the records CSV "<stem>.csv" is the shortest.
    csv_outputs = [Path(name) for name in entry.outputs if name.endswith(".csv")]
    records_csv = min(csv_outputs, key=lambda path: len(path.name)) if csv_outputs else None

    if fit_path is not None and fit_path.is_file():
        _read_fit(fit_path, collector, problems)
        origin = "fit"
    elif records_csv is not None and records_csv.is_file() and _inside(records_csv, outbox):
        _read_csv(records_csv, collector)
        origin = "csv"
    else:
        raise ActivityUnavailable(
            f"neither the FIT file ({fit_path}) nor the CSV ({records_csv}) of entry "
            f"{entry.id} exists any more"
        )

    summary = _summary(collector)
    start = summary.get("start") or (collector.times[0] if collector.times else None)
    seconds = [(moment - start).total_seconds() for moment in collector.times] if start else []
    points, series = _downsample(seconds, collector.samples)
    if isinstance(summary.get("start"), dt.datetime):
        summary["start"] = summary["start"].astimezone(dt.UTC).isoformat().replace("+00:00", "Z")

    return {
        "version": CACHE_VERSION,
        "entry": entry.id,
        "name": entry.original_name,
        "origin": origin,
        "records": len(collector.times),
        "utc_offset_seconds": collector.utc_offset,
        "summary": summary,
        "seconds": points,
        "series": {
            name: values
            for name, values in series.items()
            if any(value is not None for value in values)
        },
        "units": {
            "heart_rate": "bpm",
            "power": "W",
            "speed": "m/s",
            "altitude": "m",
            "distance": "m",
        },
        "problems": problems,
    }


def load_activity(entry: Entry, outbox: Path, cache_dir: Path) -> dict[str, Any]:
    """Return ``build_activity`` for ``entry``, from the cache when it was built before."""
    cache = cache_dir / f"{entry.sha256}-{entry.id}-v{CACHE_VERSION}.json"
    try:
        cached: dict[str, Any] = json.loads(cache.read_text(encoding="utf-8"))
        return cached
    except (FileNotFoundError, ValueError):
        pass

    data = build_activity(entry, outbox)
    cache_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, separators=(",", ":"))
    write_atomically(cache, lambda handle: handle.write(text))
    log.info(
        "built activity data of entry %d (%s, %d records)",
        entry.id,
        entry.original_name,
        data["records"],
    )
    return data
