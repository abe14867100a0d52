"""Safe display and file names for uploaded files and zip entries."""

from __future__ import annotations

import unicodedata

#: Maximum name length in characters. Longer names keep their start and their suffix.
MAX_NAME_LENGTH = 120


def clean_name(raw: str, default: str = "upload.fit") -> str:
    """Return ``raw`` as one safe file name that keeps letters of any script and spaces.

    Folders (``/`` and ``\\``) are dropped, control characters (newlines, tabs, NUL)
    become spaces, leading dots are removed so the name is never hidden or ``..``,
    and an empty result becomes ``default``.
    """
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    visible = "".join(" " if unicodedata.category(char).startswith("C") else char for char in base)
    name = " ".join(visible.split()).lstrip(". ")
    if not name:
        return default

    if len(name) > MAX_NAME_LENGTH:
        stem, dot, suffix = name.rpartition(".")
        if dot and len(suffix) <= 10:
            name = stem[: MAX_NAME_LENGTH - len(suffix) - 1].rstrip() + "." + suffix
        else:
            name = name[:MAX_NAME_LENGTH]
    return name


def suffix_of(name: str) -> str:
    """Return the lower-case suffix that decides how a name is handled: .fit, .fit.gz or .zip."""
    lower = name.lower()
    if lower.endswith(".fit.gz"):
        return ".fit.gz"
    dot = lower.rfind(".")
    return lower[dot:] if dot >= 0 else ""
