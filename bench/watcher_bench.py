"""Measure the inbox watcher: drop-to-CSV latency for one file, throughput for many.

Runs the real watcher process (``python -m fit_converter.watcher``) on temporary
folders. Each file is written beside the inbox and renamed into it, so the clock
starts when the complete file appears, as with a copy tool that renames at the end.

    .venv/bin/python bench/watcher_bench.py                  # defaults below
    .venv/bin/python bench/watcher_bench.py --stable 0.5 --files 100

The latency file is a real activity from the sample corpus when it is present
(FIT_SAMPLES_DIR or ../shared/fit-samples), else a built one. The throughput files
are built: one-hour activities at 1 Hz with distinct content, so the ledger does not
treat them as duplicates.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fitdecode.utils import compute_crc

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "tests"))

from fit_builder import build_fit  # noqa: E402 - the tests folder is added above

LATENCY_SAMPLE = "fitparse/2019-02-17-062644-ELEMNT-297E-195-0.fit"


def samples_dir() -> Path:
    """Return the sample corpus folder, as the tests find it."""
    default = REPOSITORY.parent / "shared" / "fit-samples"
    return Path(os.environ.get("FIT_SAMPLES_DIR", default))


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


class Run:
    """One watcher process on its own temporary data and state folders."""

    def __init__(self, root: Path, stable: float) -> None:
        self.root = root
        self.inbox = root / "data" / "inbox"
        self.outbox = root / "data" / "outbox"
        self.archive = root / "data" / "archive"
        self.staging = root / "data" / "staging"
        self.ledger = root / "state" / "ledger.sqlite3"
        self.log_path = root / "watcher.log"
        env = {
            **os.environ,
            "FIT_CONVERTER_DATA_DIR": str(root / "data"),
            "FIT_CONVERTER_STATE_DIR": str(root / "state"),
            "FLASK_SECRET_KEY": "benchmark-secret-0123456789",
            "FIT_CONVERTER_STABLE_SECONDS": str(stable),
            "FIT_CONVERTER_LOG_LEVEL": "WARNING",
        }
        env.pop("NOTIFY_SOCKET", None)
        root.mkdir(parents=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fit_converter.watcher"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.staging.mkdir(parents=True, exist_ok=True)
        wait_until(lambda: (root / "state" / "watcher-heartbeat.json").exists(), 60)

    def drop(self, name: str, content: bytes) -> None:
        """Write a file beside the inbox and rename it in."""
        staged = self.staging / name
        staged.write_bytes(content)
        os.rename(staged, self.inbox / name)

    def converted(self) -> tuple[int, float]:
        """Return how many ledger entries are "converted" and their conversion seconds."""
        connection = sqlite3.connect(self.ledger, timeout=30)
        try:
            row = connection.execute(
                "SELECT COUNT(*), TOTAL(seconds) FROM conversions WHERE status = 'converted'"
            ).fetchone()
        finally:
            connection.close()
        return int(row[0]), float(row[1])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def wait_until(condition: object, timeout: float, interval: float = 0.002) -> float:
    """Poll ``condition`` until true; return the monotonic time it became true."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout} s")


def variant(content: bytes, number: int) -> bytes:
    """Return ``content`` with its last data byte changed and the file CRC recomputed.

    Distinct content keeps the ledger from treating each drop as a duplicate.
    """
    body = bytearray(content[:-2])
    body[-1] = (body[-1] + number + 1) % 256
    return bytes(body) + struct.pack("<H", compute_crc(body))


def measure_latency(root: Path, stable: float, runs: int) -> tuple[str, list[float], list[float]]:
    """Drop one file at a time and time its CSV.

    Returns the file's description, the drop-to-CSV times and the conversion times
    that the ledger recorded for the same drops.
    """
    sample = samples_dir() / LATENCY_SAMPLE
    if sample.is_file():
        content = sample.read_bytes()
        described = f"`{LATENCY_SAMPLE}` ({len(content) / 1024:.0f} KiB"
    else:
        content = build_fit(3600)
        described = f"a built one-hour activity ({len(content) / 1024:.0f} KiB"

    run = Run(root / "latency", stable)
    times: list[float] = []
    conversions: list[float] = []
    try:
        for number in range(runs):
            started = time.monotonic()
            run.drop(f"ride-{number}.fit", variant(content, number))
            csv_path = run.outbox / f"ride-{number}.csv"
            finished = wait_until(csv_path.exists, 120)
            times.append(finished - started)
            wait_until(lambda n=number: run.converted()[0] == n + 1, 60)
            conversions.append(run.converted()[1] - sum(conversions))
        rows = len((run.outbox / "ride-0.csv").read_text(encoding="utf-8").splitlines()) - 1
    finally:
        run.stop()
    return f"{described}, {rows:,} records)", times, conversions


def measure_throughput(root: Path, stable: float, files: int, records: int) -> tuple[float, float]:
    """Drop ``files`` files at once; return the seconds until all are converted and
    the sum of their conversion times from the ledger."""
    run = Run(root / "throughput", stable)
    try:
        for number in range(files):
            (run.staging / f"ride-{number:04}.fit").write_bytes(build_fit(records, seed=number))
        started = time.monotonic()
        for path in sorted(run.staging.iterdir()):
            os.rename(path, run.inbox / path.name)
        finished = wait_until(lambda: run.converted()[0] == files, 3600, interval=0.1)
        converting = run.converted()[1]
    finally:
        run.stop()
    return finished - started, converting


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stable", type=float, default=2.0, help="stability delay, seconds")
    parser.add_argument("--runs", type=int, default=5, help="latency drops (default 5)")
    parser.add_argument("--files", type=int, default=500, help="throughput files (default 500)")
    parser.add_argument("--records", type=int, default=3600, help="records per throughput file")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="fit-converter-bench-"))
    try:
        described, times, conversions = measure_latency(root, args.stable, args.runs)
        seconds, converting = measure_throughput(root, args.stable, args.files, args.records)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"stability delay: {args.stable} s")
    print(f"latency file: {described}")
    print(
        f"drop to CSV, {len(times)} drops: median {statistics.median(times):.2f} s,"
        f" min {min(times):.2f} s, max {max(times):.2f} s;"
        f" of that, conversion (ledger) median {statistics.median(conversions):.2f} s"
    )
    print(
        f"throughput: {args.files} files of {args.records} records in {seconds:.1f} s ="
        f" {args.files / seconds:.1f} files/s, {args.files * args.records / seconds:,.0f}"
        " records/s"
    )
    print(
        f"  conversion (ledger) {converting:.1f} s of that; the rest is the stability delay,"
        " hashing, claiming, archiving, fsync and the ledger"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
