"""The ``fit-converter convert`` subcommand: many files and folders, on all cores."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TextIO

from fit_converter.config import (
    DELIMITER_CHOICES,
    UNIT_SYSTEMS,
    CsvOptions,
    load_csv_options,
    parse_delimiter,
    split_words,
)
from fit_converter.convert import ConversionReport, convert_file
from fit_converter.errors import ConfigError, ConversionError
from fit_converter.tables import TABLE_NAMES

Outcome = tuple[Path, ConversionReport | None, str | None]


def find_fit_files(paths: Iterable[Path]) -> list[Path]:
    """Return the given files and the ``.fit`` files (any letter case) inside given folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() == ".fit"))
        else:
            found.append(path)
    return found


def convert_one(source: Path, outbox: Path | None, options: CsvOptions) -> Outcome:
    """Convert one file; return (source, report, None) or (source, None, error message)."""
    try:
        report = convert_file(source, outbox or source.parent, options=options)
    except ConversionError as error:
        return source, None, str(error)
    except OSError as error:
        return source, None, f"{source}: {error.strerror or error}"
    return source, report, None


class ProgressBar:
    """A one-line progress bar on a terminal; silent when the stream is not a terminal."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.enabled = stream.isatty() and total > 1

    def advance(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = width * self.done // self.total
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} files")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()

    def clear_line(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")


def options_from_args(args: argparse.Namespace, defaults: CsvOptions) -> CsvOptions:
    """Return the CSV options: each flag given overrides its ``FIT_CONVERTER_*`` default."""
    columns = defaults.columns
    if args.columns is not None:
        columns = tuple(c.strip() for c in args.columns.split(",") if c.strip()) or None
    tables = split_words(args.tables) if args.tables is not None else defaults.tables
    units = defaults.units
    if args.units:
        requested = [unit for group in args.units for unit in group]
        units = ("metric", *dict.fromkeys(unit for unit in requested if unit != "metric"))
    return CsvOptions(
        units_in_header=defaults.units_in_header and not args.no_units,
        delimiter=args.delimiter if args.delimiter is not None else defaults.delimiter,
        decimal_comma=defaults.decimal_comma or args.decimal_comma,
        columns=columns,
        drop_empty_columns=defaults.drop_empty_columns or args.drop_empty_columns,
        tables=tables,
        units=units,
    )


def run_convert(args: argparse.Namespace) -> int:
    """Convert every file named on the command line; return 1 if any failed."""
    try:
        defaults = load_csv_options()
    except ConfigError as error:
        print(f"fit-converter: {error}", file=sys.stderr)
        return 2
    options = options_from_args(args, defaults)
    unknown = [t for t in options.tables if t not in TABLE_NAMES]
    if unknown:
        print(
            f"error: unknown table(s) {', '.join(unknown)}; choose from {', '.join(TABLE_NAMES)}",
            file=sys.stderr,
        )
        return 2

    sources = find_fit_files(args.files)
    if not sources:
        folders = ", ".join(str(path) for path in args.files)
        print(f"error: no .fit files found in {folders}", file=sys.stderr)
        return 1
    jobs = args.jobs or os.cpu_count() or 1
    progress = ProgressBar(len(sources), sys.stderr)
    failures: list[Path] = []

    def show(outcome: Outcome) -> None:
        source, report, error = outcome
        progress.clear_line()
        if report is not None:
            print(report.summary(), flush=True)
            for warning in report.warnings:
                print(f"warning: {source.name}: {warning}", file=sys.stderr, flush=True)
        else:
            failures.append(source)
            print(f"error: {error}", file=sys.stderr, flush=True)
        progress.advance()

    if jobs == 1 or len(sources) <= 1:
        for source in sources:
            show(convert_one(source, args.output, options))
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(sources))) as pool:
            futures: list[Future[Outcome]] = [
                pool.submit(convert_one, source, args.output, options) for source in sources
            ]
            for future in as_completed(futures):
                show(future.result())

    if failures:
        names = ", ".join(path.name for path in failures)
        print(f"{len(failures)} of {len(sources)} file(s) failed: {names}", file=sys.stderr)
        return 1
    return 0


def delimiter_argument(text: str) -> str:
    """Return the delimiter character that ``--delimiter`` names."""
    delimiter = parse_delimiter(text)
    if delimiter is None:
        raise argparse.ArgumentTypeError(
            f"invalid delimiter {text!r}: expected {DELIMITER_CHOICES}"
        )
    return delimiter


def units_argument(text: str) -> tuple[str, ...]:
    """Return the unit systems of one ``--units`` value, such as ``pace,imperial``."""
    units = split_words(text)
    unknown = [unit for unit in units if unit not in UNIT_SYSTEMS]
    if unknown or not units:
        raise argparse.ArgumentTypeError(
            f"invalid units {text!r}: expected a comma-separated list of {', '.join(UNIT_SYSTEMS)}"
        )
    return units


def add_convert_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``convert`` subcommand."""
    convert = commands.add_parser(
        "convert",
        help="convert FIT files to CSV",
        description="Convert FIT files to CSV. The FIT_CONVERTER_* CSV variables "
        "(FIT_CONVERTER_CSV_DELIMITER, FIT_CONVERTER_UNITS, ...) set the defaults, "
        "and the options below override them.",
    )
    convert.add_argument(
        "files", nargs="+", type=Path, metavar="PATH", help="FIT files, or folders to search"
    )
    convert.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help="folder for the CSV files (default: beside each input)",
    )
    convert.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=0,
        metavar="N",
        help="files converted at once (default: one per CPU core)",
    )
    convert.add_argument(
        "--tables",
        metavar="LIST",
        help="extra tables, comma-separated: " + ", ".join(TABLE_NAMES),
    )
    convert.add_argument("--no-units", action="store_true", help="no [units] in column headers")
    convert.add_argument(
        "--units",
        type=units_argument,
        action="append",
        metavar="LIST",
        help="extra records columns: imperial (mi, ft, mph, F) and/or pace (min/km, min/mi), "
        "comma-separated or repeated; metric columns are always written",
    )
    convert.add_argument(
        "--delimiter",
        type=delimiter_argument,
        metavar="NAME",
        help=f"CSV delimiter: {DELIMITER_CHOICES} (default: FIT_CONVERTER_CSV_DELIMITER, "
        "else comma)",
    )
    convert.add_argument(
        "--decimal-comma",
        action="store_true",
        help="write decimals with a comma (use with --delimiter ';')",
    )
    convert.add_argument(
        "--columns",
        metavar="LIST",
        help="records columns to write after timestamp, comma-separated, in this order "
        "(names with or without their [unit])",
    )
    convert.add_argument(
        "--drop-empty-columns", action="store_true", help="leave out columns without any value"
    )
    convert.set_defaults(handler=run_convert)
