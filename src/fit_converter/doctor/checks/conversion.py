"""Checks of the Python environment, a self-test conversion and the versions in use."""

from __future__ import annotations

import csv
import importlib.metadata
import io
import platform
import re

from fit_converter import __version__
from fit_converter.doctor.checks.common import sudo
from fit_converter.doctor.context import Context
from fit_converter.doctor.framework import Result
from fit_converter.errors import FitConverterError

REINSTALL = "apt install --reinstall fit-converter"


def _venv_version(config_text: str) -> str | None:
    """Return major.minor from pyvenv.cfg (``version`` or ``version_info``)."""
    match = re.search(r"^version(?:_info)?\s*=\s*(\d+)\.(\d+)", config_text, re.MULTILINE)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def check_venv_python(context: Context) -> Result:
    """Check that the virtual environment's Python version is the system's."""
    if context.venv is None:
        return Result.cannot_check("fit-converter does not run from a virtual environment here")
    reinstall = sudo(context, REINSTALL)
    try:
        venv_version = _venv_version((context.venv / "pyvenv.cfg").read_text(encoding="utf-8"))
    except OSError as error:
        return Result.error(
            f"{context.venv}/pyvenv.cfg cannot be read ({error.strerror or error})",
            f"Reinstall the package: {reinstall}",
        )
    interpreter = context.venv / "bin" / "python"
    if not interpreter.exists():
        return Result.error(
            f"{interpreter} points to a Python that no longer exists (Python {venv_version} "
            "was removed, probably by an OS upgrade)",
            f"Reinstall the package to rebuild the environment: {reinstall}",
        )
    try:
        completed = context.command(
            str(context.system_python),
            "-c",
            "import sys; print('%d.%d' % sys.version_info[:2])",
        )
    except FileNotFoundError:
        return Result.cannot_check(f"{context.system_python} is not installed")
    system_version = completed.stdout.strip()
    if venv_version != system_version:
        return Result.error(
            f"{context.venv} was built for Python {venv_version}, but {context.system_python} "
            f"is Python {system_version} (after an OS upgrade)",
            f"Reinstall the package to rebuild the environment: {reinstall}",
        )
    return Result.ok(f"{context.venv} uses Python {venv_version}, as the system does")


def _compare(row: dict[str, str], column: str, expected: float, tolerance: float) -> str | None:
    cell = row.get(column)
    if cell is None:
        return f"column {column} is missing"
    try:
        value = float(cell)
    except ValueError:
        return f"{column} is {cell!r}, expected {expected}"
    if abs(value - expected) > tolerance:
        return f"{column} is {value}, expected {expected}"
    return None


def check_selftest(context: Context) -> Result:
    """Convert the FIT file shipped in the package and compare every value."""
    hint = f"Reinstall the package: {sudo(context, REINSTALL)}"
    try:
        # Imported here so that a broken decoder install fails this check only.
        from fit_converter.selftest import RECORDS, run_selftest
    except ImportError as error:
        return Result.error(f"cannot load the converter: {error}", hint)
    try:
        report, text = run_selftest()
    except (FitConverterError, OSError) as error:
        return Result.error(f"the self-test conversion failed: {error}", hint)

    # Headers carry units ("heart_rate [bpm]"); compare by the field name alone.
    rows = [
        {name.split(" [", 1)[0]: cell for name, cell in row.items()}
        for row in csv.DictReader(io.StringIO(text))
    ]
    problems = []
    if len(rows) != len(RECORDS):
        problems.append(f"{len(rows)} rows, expected {len(RECORDS)}")
    for number, (row, record) in enumerate(zip(rows, RECORDS, strict=False), start=1):
        expected_time = record.timestamp.isoformat().replace("+00:00", "Z")
        if row.get("timestamp") != expected_time:
            problems.append(f"row {number}: timestamp is {row.get('timestamp')!r}")
        for column, expected, tolerance in (
            ("position_lat", record.latitude, 1e-6),
            ("position_long", record.longitude, 1e-6),
            ("altitude", record.altitude, 0.2),
            ("heart_rate", record.heart_rate, 0),
            ("speed", record.speed, 0.001),
            ("power", record.power, 0),
        ):
            problem = _compare(row, column, expected, tolerance)
            if problem:
                problems.append(f"row {number}: {problem}")

    if problems:
        return Result.error(
            f"the self-test CSV has wrong values: {problems[0]}", hint, problems[:20]
        )
    return Result.ok(
        f"self-test converted {len(rows)} records in {report.seconds:.2f} s, all values right",
        [report.summary()],
    )


def _decoder_version() -> str:
    try:
        return "fitdecode " + importlib.metadata.version("fitdecode")
    except importlib.metadata.PackageNotFoundError:
        return f"built-in decoder {__version__}"


def check_versions(context: Context) -> Result:
    """Report the versions in use and warn when the Debian package's differs from the code's."""
    details = [
        f"fit-converter {__version__}",
        f"Python {platform.python_version()} ({platform.machine()})",
        _decoder_version(),
    ]
    try:
        completed = context.command(
            "dpkg-query", "--show", "--showformat=${Version}", "fit-converter"
        )
        package = completed.stdout.strip() if completed.returncode == 0 else ""
    except FileNotFoundError:
        package = ""
    message = ", ".join(details)

    if not package:
        return Result.ok(f"{message} (the Debian package is not installed)", details)
    details.append(f"Debian package {package}")
    upstream = package.split(":")[-1].rsplit("-", 1)[0]
    if upstream != __version__:
        return Result.warning(
            f"the Debian package is {package} but the code in use is {__version__}",
            f"Reinstall the package: {sudo(context, REINSTALL)}",
            details,
        )
    return Result.ok(f"{message}, package {package}", details)
