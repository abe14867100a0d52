"""A streaming FIT decoder built on the FIT profile published with fitdecode."""

from __future__ import annotations

from fit_converter.fit.decoder import FitDecoder, compute_crc
from fit_converter.fit.errors import (
    FitCRCError,
    FitDecodeError,
    FitFormatError,
    FitHeaderError,
    FitTrailingDataError,
    FitTruncatedError,
)

__all__ = [
    "FitCRCError",
    "FitDecodeError",
    "FitDecoder",
    "FitFormatError",
    "FitHeaderError",
    "FitTrailingDataError",
    "FitTruncatedError",
    "compute_crc",
]
