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

    def output_path(self, entry: Entry, name: str) -> Path | None:
        """Return the output of ``entry`` called ``name`` if it is a file in the outbox."""
        outbox = self.settings.outbox.resolve()
        for output in entry.outputs:
            path = Path(output)
            if path.name != name:
                continue
            resolved = path.resolve()
            if resolved.parent == outbox and resolved.is_file():
                return resolved
        return None

    def existing_outputs(self, entry: Entry) -> list[Path]:
        """Return the outputs of ``entry`` that are still files in the outbox."""
        paths = [self.output_path(entry, Path(output).name) for output in entry.outputs]
        return [path for path in paths if path is not None]
