"""File operations that never lose or half-write a file."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def unique_path(path: Path) -> Path:
    """Return ``path``, or ``name (1).ext``, ``name (2).ext``... if it already exists."""
    if not path.exists():
        return path
    number = 1
    while True:
        candidate = path.with_name(f"{path.stem} ({number}){path.suffix}")
        if not candidate.exists():
            return candidate
        number += 1


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(target: Path, write: Callable[[IO[str]], Any]) -> None:
    """Write a text file through ``write`` under a hidden name, fsync it, then rename it."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed or removed below
        "w",
        encoding="utf-8",
        newline="",
        dir=target.parent,
        prefix=f".{target.name}.",
        suffix=".part",
        delete=False,
    )
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def move_without_overwrite(source: Path, folder: Path) -> Path:
    """Move ``source`` into ``folder`` under a free name and return the new path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = unique_path(folder / source.name)
    shutil.move(str(source), str(target))
    return target
