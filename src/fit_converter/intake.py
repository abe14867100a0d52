"""Process one incoming file: convert it, then archive it or move it to ``failed/``.

The watcher, the web app and the CLI all hand files to ``process_file``, so every
conversion follows the same rules. The input is never deleted, the CSV is durable
before the original moves to the archive, and the ledger records the outcome.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from fit_converter import __version__
from fit_converter.config import Settings
from fit_converter.convert import ConversionReport, convert_file, options_from_settings
from fit_converter.errors import ConversionError
from fit_converter.files import move_without_overwrite, unique_path, write_atomically
from fit_converter.ledger import Ledger

log = logging.getLogger("fit_converter.intake")


@dataclass(frozen=True)
class Outcome:
    """Result of ``process_file``: ledger id, where the input went and the report."""

    entry_id: int
    sha256: str
    stored_input: Path
    report: ConversionReport | None
    error: ConversionError | None

    @property
    def ok(self) -> bool:
        """True when the CSV was written."""
        return self.report is not None


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_error_note(failed_input: Path, error: ConversionError) -> Path:
    note = unique_path(failed_input.with_name(failed_input.name + ".error.txt"))
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = (
        f"File: {error.path.name}\n"
        f"Failed: {when}\n"
        f"Reason: {error.reason}\n"
        f"What to do: {error.hint}\n"
        f"Converter: fit-converter {__version__}\n"
    )
    write_atomically(note, lambda handle: handle.write(text))
    return note


def process_file(
    path: Path, settings: Settings, ledger: Ledger, *, source: str, name: str | None = None
) -> Outcome:
    """Convert ``path`` into the outbox, then move it to the archive or to ``failed/``.

    ``name`` is the user-visible file name when ``path`` is a temporary copy (uploads).
    OSError escapes so the caller can retry transient failures; the input then stays
    where it was.
    """
    display_name = name or path.name
    digest = sha256_of(path)
    entry_id = ledger.start(digest, source, display_name)
    log.info("converting %s (sha256 %s, from %s)", display_name, digest[:12], source)

    try:
        report = convert_file(
            path,
            settings.outbox,
            stem=Path(display_name).stem,
            options=options_from_settings(settings),
        )
    except ConversionError as error:
        error.path = Path(display_name)
        stored = move_without_overwrite(path, settings.failed)
        _write_error_note(stored, error)
        ledger.finish(entry_id, status="failed", stored_input=str(stored), error=str(error))
        log.warning(
            "failed %s (sha256 %s): %s; moved to %s", display_name, digest[:12], error, stored
        )
        return Outcome(entry_id, digest, stored, None, error)
    except OSError:
        ledger.finish(entry_id, status="interrupted", error="I/O error, will be retried")
        raise

    stored = move_without_overwrite(path, settings.archive)
    ledger.finish(
        entry_id,
        status="converted",
        rows=report.rows.get("records"),
        seconds=report.seconds,
        outputs=[str(output) for output in report.outputs],
        warnings=report.warnings,
        stored_input=str(stored),
    )
    log.info("converted %s (sha256 %s): %s", display_name, digest[:12], report.summary())
    return Outcome(entry_id, digest, stored, report, None)
