"""Shared objects of one app instance: settings, ledger, conversion queue and limiter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask_limiter import Limiter

from fit_converter.config import Settings
from fit_converter.ledger import Entry, Ledger
from fit_converter.web.jobs import ConversionQueue


@dataclass(frozen=True)
class WebContext:
    """Objects created once in ``create_app`` and handed to each blueprint."""

    settings: Settings
    ledger: Ledger
    queue: ConversionQueue
    limiter: Limiter

    @property
    def uploads(self) -> Path:
        """Folder for staged uploads waiting for conversion."""
        return self.settings.state_dir / "uploads"

    @property
    def activity_cache(self) -> Path:
        """Folder for cached activity summaries and chart series."""
        return self.settings.state_dir / "activity-cache"

    def output_name(self, output: str) -> str | None:
        """Return an output's path relative to the outbox in POSIX form, or None if outside.

        Outputs of files dropped into an inbox subfolder sit in the same subfolder of
        the outbox, so their name is e.g. "bob/2024/ride.csv".
        """
        outbox = self.settings.outbox.resolve()
        resolved = Path(output).resolve()
        if not resolved.is_relative_to(outbox) or resolved == outbox:
            return None
        return resolved.relative_to(outbox).as_posix()

    def output_path(self, entry: Entry, name: str) -> Path | None:
        """Return the output of ``entry`` named ``name`` if it is a file inside the outbox.

        ``name`` is the path relative to the outbox from ``output_name``. Only a name
        listed in the entry's outputs matches, so a request cannot reach other files.
        """
        for output in entry.outputs:
            if self.output_name(output) != name:
                continue
            path = Path(output).resolve()
            if path.is_file():
                return path
        return None

    def existing_outputs(self, entry: Entry) -> list[tuple[str, Path]]:
        """Return (name relative to the outbox, path) of the outputs still in the outbox."""
        found = []
        for output in entry.outputs:
            name = self.output_name(output)
            path = self.output_path(entry, name) if name is not None else None
            if name is not None and path is not None:
                found.append((name, path))
        return found

    def output_names(self, entry: Entry) -> list[str]:
        """Return the names relative to the outbox of every output listed for ``entry``."""
        names = [self.output_name(output) for output in entry.outputs]
        return [name for name in names if name is not None]

    def converted_entry(self, entry: Entry) -> Entry:
        """Return the entry whose outputs belong to ``entry``.

        That is ``entry`` itself, or for a "duplicate" the earlier entry that converted
        the same content, while that entry is still in the ledger.
        """
        if entry.status == "duplicate" and entry.duplicate_of is not None:
            earlier = self.ledger.get(entry.duplicate_of)
            if earlier is not None:
                return earlier
        return entry
