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
from pathlib import Path, PurePosixPath

from fit_converter import __version__
from fit_converter.config import Settings
from fit_converter.convert import ConversionReport, convert_file
from fit_converter.errors import ConversionError
from fit_converter.files import free_stem, move_without_overwrite, unique_path, write_atomically
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
    #: Ledger status: "converted", "failed" or "duplicate".
    status: str = ""
    #: For a duplicate, the ledger id of the entry that converted the same content.
    duplicate_of: int | None = None

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


def write_error_note(
    failed_input: Path, *, name: str, reason: str, hint: str, sha256: str | None = None
) -> Path:
    """Write ``<input name>.error.txt`` beside a file in ``failed/``: what, when, what next."""
    note = unique_path(failed_input.with_name(failed_input.name + ".error.txt"))
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = (
        f"File: {name}\n" + (f"SHA-256: {sha256}\n" if sha256 else "") + f"Failed: {when}\n"
        f"Reason: {reason}\n"
        f"What to do: {hint}\n"
        f"Converter: fit-converter {__version__}\n"
    )
    write_atomically(note, lambda handle: handle.write(text))
    return note


def _relative(folder: str, name: str) -> str:
    return str(PurePosixPath(folder, name)) if folder else name


def _stem_folder(output_stem: str | None) -> str | None:
    """Return the subfolder part of a ledger output stem, "" for the outbox itself."""
    if output_stem is None:
        return None
    parent = str(PurePosixPath(output_stem).parent)
    return "" if parent == "." else parent


def _check_folder(folder: str) -> str:
    """Return ``folder`` normalized ("" for none); raise ValueError if it leaves the tree."""
    path = PurePosixPath(folder)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"folder must be relative and without '..', got {folder!r}")
    return "" if str(path) == "." else str(path)


def process_file(
    path: Path,
    settings: Settings,
    ledger: Ledger,
    *,
    source: str,
    name: str | None = None,
    folder: str = "",
    skip_duplicates: bool = False,
    resume: bool = False,
) -> Outcome:
    """Convert ``path`` into the outbox, then move it to the archive or to ``failed/``.

    ``name`` is the user-visible file name when ``path`` is a temporary copy (uploads).
    ``folder`` is a subfolder, relative to the inbox, that the outputs, the archived
    original and a failed input keep. With ``skip_duplicates``, content that the ledger
    has converted before is archived and recorded as "duplicate" without converting it.
    With ``resume``, an unfinished ledger entry of the same content and source is reused
    with its output names, so a conversion cut short by a crash overwrites its own
    outputs instead of adding numbered copies.

    OSError escapes so the caller can retry transient failures; the input then stays
    where it was and the entry is marked "interrupted".
    """
    folder = _check_folder(folder)
    display_name = name or path.name
    relative_name = _relative(folder, display_name)
    digest = sha256_of(path)

    if skip_duplicates:
        earlier = ledger.find_converted(digest)
        if earlier is not None:
            return _archive_duplicate(
                path, settings, ledger, earlier.id, source, folder, digest, display_name
            )

    outbox = settings.outbox / folder
    unfinished = ledger.find_unfinished(digest, source) if resume else None
    # Another subfolder's stem is not reserved in this one, so reusing it could
    # overwrite an unrelated CSV there.
    if unfinished is not None and _stem_folder(unfinished.output_stem) != folder:
        unfinished = None
    if unfinished is not None and unfinished.output_stem:
        entry_id = unfinished.id
        output_stem = unfinished.output_stem
        ledger.resume(entry_id)
        log.info("resuming %s (sha256 %s) as entry %d", relative_name, digest[:12], entry_id)
    else:
        reserved = [settings.outbox / stem for stem in ledger.output_stems_in_use()]
        # NOTE: two processes picking a stem at the same moment can both get the same
        # one, because the free-name check and the ledger insert are two transactions.
        stem = free_stem(outbox, Path(display_name).stem, reserved)
        output_stem = _relative(folder, stem)
        entry_id = ledger.start(digest, source, relative_name, output_stem=output_stem)
    log.info("converting %s (sha256 %s, from %s)", relative_name, digest[:12], source)

    try:
        report = convert_file(
            path,
            outbox,
            stem=PurePosixPath(output_stem).name,
            overwrite=True,
            options=settings.csv,
        )
    except ConversionError as error:
        error.path = Path(display_name)
        stored = move_without_overwrite(path, settings.failed / folder, display_name)
        write_error_note(
            stored, name=relative_name, reason=error.reason, hint=error.hint, sha256=digest
        )
        ledger.finish(entry_id, status="failed", stored_input=str(stored), error=str(error))
        log.warning(
            "failed %s (sha256 %s), moved to %s: %s", relative_name, digest[:12], stored, error
        )
        return Outcome(entry_id, digest, stored, None, error, status="failed")
    except OSError as error:
        ledger.finish(entry_id, status="interrupted", error=f"{error}; will be retried")
        raise

    outputs = [str(output) for output in report.outputs]
    try:
        stored = move_without_overwrite(path, settings.archive / folder, display_name)
    except OSError as error:
        ledger.finish(
            entry_id, status="interrupted", outputs=outputs, error=f"{error}; will be retried"
        )
        raise
    ledger.finish(
        entry_id,
        status="converted",
        rows=report.rows.get("records"),
        seconds=report.seconds,
        outputs=outputs,
        warnings=report.warnings,
        stored_input=str(stored),
    )
    log.info("converted %s (sha256 %s): %s", relative_name, digest[:12], report.summary())
    return Outcome(entry_id, digest, stored, report, None, status="converted")


def _archive_duplicate(
    path: Path,
    settings: Settings,
    ledger: Ledger,
    earlier_id: int,
    source: str,
    folder: str,
    digest: str,
    display_name: str,
) -> Outcome:
    relative_name = _relative(folder, display_name)
    stored = move_without_overwrite(path, settings.archive / folder, display_name)
    entry_id = ledger.record_duplicate(
        digest, source, relative_name, duplicate_of=earlier_id, stored_input=str(stored)
    )
    log.info(
        "duplicate %s (sha256 %s): same content as ledger entry %d, not converted again;"
        " moved to %s",
        relative_name,
        digest[:12],
        earlier_id,
        stored,
    )
    return Outcome(
        entry_id, digest, stored, None, None, status="duplicate", duplicate_of=earlier_id
    )


def set_aside(
    path: Path,
    settings: Settings,
    *,
    folder: str,
    name: str,
    reason: str,
    hint: str,
    sha256: str | None = None,
) -> Path:
    """Move a file that cannot be converted now to ``failed/`` with an error note."""
    folder = _check_folder(folder)
    stored = move_without_overwrite(path, settings.failed / folder, name)
    write_error_note(stored, name=_relative(folder, name), reason=reason, hint=hint, sha256=sha256)
    return stored
