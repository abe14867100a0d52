"""Errors of the FIT decoder. Each one carries the byte offset where decoding failed."""

from __future__ import annotations

from fit_converter.errors import FitConverterError


class FitDecodeError(FitConverterError):
    """Base class of the decoder's errors; ``offset`` is the byte where the problem starts."""

    def __init__(self, message: str, offset: int) -> None:
        self.message = message
        self.offset = offset
        super().__init__(f"{message} (at byte {offset:,})")


class FitHeaderError(FitDecodeError):
    """A FIT file header is missing, too short or has no '.FIT' signature."""


class FitTruncatedError(FitDecodeError):
    """The data ends before the size the file header declares.

    ``expected_size`` is the total size the header promised, so callers can tell how
    much of the file was readable.
    """

    def __init__(self, message: str, offset: int, expected_size: int) -> None:
        self.expected_size = expected_size
        super().__init__(message, offset)


class FitCRCError(FitDecodeError):
    """A header or file CRC does not match the bytes it covers."""


class FitFormatError(FitDecodeError):
    """A message cannot be decoded, for example one whose local message type has no definition."""


class FitTrailingDataError(FitDecodeError):
    """Bytes after the last complete FIT file are not another FIT file."""
