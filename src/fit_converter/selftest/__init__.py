"""A small FIT activity shipped with the package, for doctor's self-test conversion.

``selftest.fit`` is built by ``tools/make_selftest_fit.py`` from ``RECORDS`` below, so
the expected CSV values and the file's bytes come from one table.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fit_converter.convert import ConversionReport, convert_file

FILE_NAME = "selftest.fit"


@dataclass(frozen=True)
class SampleRecord:
    """One ``record`` message of the self-test file, in the units of the CSV."""

    timestamp: dt.datetime
    latitude: float  # degrees
    longitude: float  # degrees
    altitude: float  # metres
    heart_rate: int  # beats per minute
    speed: float  # metres per second
    power: int  # watts


START = dt.datetime(2024, 6, 1, 8, 30, tzinfo=dt.UTC)

#: Ten seconds of a ride near Zurich, one record per second.
RECORDS = tuple(
    SampleRecord(
        timestamp=START + dt.timedelta(seconds=second),
        latitude=47.3769 + second * 0.00005,
        longitude=8.5417 + second * 0.00007,
        altitude=408.0 + second * 0.2,
        heart_rate=120 + second,
        speed=8.25 + second * 0.05,
        power=200 + 5 * second,
    )
    for second in range(10)
)


def selftest_bytes() -> bytes:
    """Return the shipped FIT file's bytes."""
    return resources.files(__name__).joinpath(FILE_NAME).read_bytes()


def run_selftest(folder: Path | None = None) -> tuple[ConversionReport, str]:
    """Convert the shipped file in a temporary folder; return the report and the CSV text.

    The FIT file is copied out of the package first, so the conversion works from a zip
    or a read-only install too.
    """
    with tempfile.TemporaryDirectory(prefix="fit-converter-selftest-", dir=folder) as scratch:
        source = Path(scratch) / FILE_NAME
        source.write_bytes(selftest_bytes())
        report = convert_file(source, Path(scratch) / "out")
        text = report.outputs[0].read_text(encoding="utf-8")
    return report, text
