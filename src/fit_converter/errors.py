"""Exception hierarchy shared by the CLI, the watcher and the web app."""

from __future__ import annotations

from pathlib import Path


class FitConverterError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(FitConverterError):
    """An environment variable contains a value the appliance cannot use."""

    def __init__(self, variable: str, value: str, allowed: str) -> None:
        self.variable = variable
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid {variable}={value!r}: expected {allowed}")


class ConversionError(FitConverterError):
    """A file could not be converted. ``hint`` is the next step for the user."""

    def __init__(
        self, path: Path | str, reason: str, hint: str, *, offset: int | None = None
    ) -> None:
        self.path = Path(path)
        self.reason = reason
        self.hint = hint
        self.offset = offset
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{self.path.name}: {reason}{where}. {hint}")


class NotFitError(ConversionError):
    """The file does not start with a FIT header."""


class EmptyFileError(ConversionError):
    """The file has no bytes at all."""
