"""Benchmark the records CSV and all-tables conversion against fitdecode and fitparse.

Each measurement runs in a fresh Python process, so its peak RSS (``ru_maxrss``)
belongs to that one conversion. Prints a Markdown table of medians, ratios and peak
RSS. Ratios use CPU time, which other processes on a shared machine disturb less
than wall time. Usage::

    .venv/bin/python bench/bench_conversion.py [--repeat 3] [--samples DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FILES = (
    "synthetic/24h_1hz.fit",
    "goldencheetah/rides/MultiSport-2019-11-24.fit",
    "muktihari-fit/big_activity.fit",
)

#: Code run in the child process for each method; it prints {"seconds", "rss_kb"}.
CHILD = r"""
import csv, json, resource, sys, time, warnings
from pathlib import Path
method, source, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

def fitdecode_messages(only_records):
    import fitdecode
    with fitdecode.FitReader(str(source), check_crc=fitdecode.CrcCheck.WARN,
                             error_handling=fitdecode.ErrorHandling.WARN) as reader:
        for frame in reader:
            if isinstance(frame, fitdecode.FitDataMessage):
                if only_records and frame.name != "record":
                    continue
                yield frame.name, [(f.name, f.value, f.units) for f in frame.fields]

def fitparse_messages():
    import fitparse
    for message in fitparse.FitFile(str(source)).get_messages("record"):
        yield "record", [(f.name, f.value, f.units) for f in message]

def write_tables(messages):
    # The CSV the walking skeleton wrote from fitdecode: one formatted cell per field.
    from fit_converter.convert import format_value
    tables = {}
    for name, fields in messages:
        columns, rows = tables.setdefault(name, ({"timestamp": None}, []))
        row = {}
        for field_name, value, units in fields:
            if field_name in row and row[field_name] != "":
                continue
            row[field_name] = format_value(field_name, value, units)
            columns.setdefault(field_name, None)
        rows.append(row)
    for name, (columns, rows) in tables.items():
        with (out / f"{name}.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns), restval="")
            writer.writeheader()
            writer.writerows(rows)

warnings.simplefilter("ignore")
started = time.perf_counter()
cpu_started = time.process_time()
if method in ("ours", "ours-all"):
    from fit_converter.convert import convert_file
    from fit_converter.config import CsvOptions
    options = CsvOptions(tables=("all",) if method == "ours-all" else ())
    convert_file(source, out, overwrite=True, options=options)
elif method == "fitdecode":
    write_tables(fitdecode_messages(True))
elif method == "fitdecode-all":
    write_tables(fitdecode_messages(False))
elif method == "fitparse":
    write_tables(fitparse_messages())
seconds = time.perf_counter() - started
cpu = time.process_time() - cpu_started
print(json.dumps({"seconds": seconds, "cpu": cpu,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def measure(method: str, source: Path, repeat: int) -> tuple[float, float, int]:
    """Return the median wall and CPU seconds and the max peak RSS (KiB) of ``repeat`` runs."""
    times: list[float] = []
    cpu_times: list[float] = []
    peak = 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            result = subprocess.run(
                [sys.executable, "-c", CHILD, method, str(source), out],
                check=True,
                capture_output=True,
                text=True,
            )
        values = json.loads(result.stdout.strip().splitlines()[-1])
        times.append(values["seconds"])
        cpu_times.append(values["cpu"])
        peak = max(peak, values["rss_kb"])
    return statistics.median(times), statistics.median(cpu_times), peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--fitparse-repeat", type=int, default=1, help="runs per fitparse measurement"
    )
    parser.add_argument(
        "--samples",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "fit-samples",
        help="folder of the FIT sample corpus",
    )
    args = parser.parse_args()

    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{platform.processor() or 'unknown CPU'}\n"
    )
    print("| file | method | median wall s | median CPU s | speed-up (CPU) | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for relative in FILES:
        source = args.samples / relative
        if not source.is_file():
            print(f"| {relative} | missing | | | | |")
            continue
        results: dict[str, tuple[float, float, int]] = {}
        for method in ("ours", "ours-all", "fitdecode", "fitdecode-all", "fitparse"):
            repeat = args.fitparse_repeat if method == "fitparse" else args.repeat
            results[method] = measure(method, source, repeat)
        for method, (seconds, cpu, rss_kb) in results.items():
            base = results["ours-all" if method.endswith("-all") else "ours"][1]
            ratio = "" if method.startswith("ours") else f"{cpu / base:.1f}"
            print(
                f"| {Path(relative).name} | {method} | {seconds:.2f} | {cpu:.2f} | {ratio} | "
                f"{rss_kb / 1024:.1f} |"
            )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
