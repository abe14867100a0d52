"""File operations that keep a complete copy of every file at each step, fsynced."""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("fit_converter.files")

#: Temporary names of ``write_atomically`` and ``move_without_overwrite``:
#: ``.<target name>.<pid>.<random>.part``. The pid lets a later process tell a file
#: abandoned by a killed writer from one that a live process is still writing.
PART_NAME = re.compile(r"^\..+\.(?P<pid>\d+)\.[^.]+\.part$")


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


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk, so a rename into it survives a power cut."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


def _read_umask() -> int:
    """Return the process umask without changing it, from ``/proc/self/status``.

    Setting and restoring the umask (the only portable way to read it) would race with
    other threads creating files, so that fallback runs once, at import.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return _IMPORT_UMASK


def _umask_at_import() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_IMPORT_UMASK = _umask_at_import()


def default_file_mode() -> int:
    """Return the mode ``open()`` gives a new file: 0o666 minus the process umask."""
    return 0o666 & ~_read_umask()


def write_atomically(
    target: Path, write: Callable[[IO[str]], Any], *, mode: int | None = None
) -> None:
    """Write a text file through ``write`` under a hidden name, fsync it, then rename it.

    The file gets ``mode``, or by default the mode of any new file (0o666 minus the
    umask), so users of a shared outbox can read it. ``tempfile`` alone would give 0o600.
    """
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed or removed below
        "w",
        encoding="utf-8",
        newline="",
        dir=target.parent,
        prefix=_temporary_prefix(target),
        suffix=".part",
        delete=False,
    )
    try:
        with handle:
            os.fchmod(handle.fileno(), default_file_mode() if mode is None else mode)
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    fsync_folder(target.parent)


def _link_or_rename(source: Path, target: Path) -> None:
    """Give ``source`` the name ``target`` without replacing an existing ``target``.

    ``os.link`` fails with EEXIST instead of overwriting, so a file that appears at
    ``target`` between the name check and the move is kept. File systems without hard
    links (FAT, exFAT, some network shares) fall back to a checked ``os.rename``.
    """
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        if target.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(target)) from error
        os.rename(source, target)
        return
    os.unlink(source)


def _copy_durably(source: Path, folder: Path) -> Path:
    """Copy ``source`` into a hidden temporary file in ``folder``, fsynced; return it."""
    descriptor, name = tempfile.mkstemp(
        dir=folder, prefix=_temporary_prefix(source), suffix=".part"
    )
    try:
        with source.open("rb") as reader, os.fdopen(descriptor, "wb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
            writer.flush()
            os.fsync(writer.fileno())
        shutil.copystat(source, name)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _place(source: Path, wanted: Path) -> Path:
    """Give ``source`` the first free name of ``wanted``, ``wanted (1)``...; return it."""
    while True:
        target = unique_path(wanted)
        try:
            _link_or_rename(source, target)
        except FileExistsError:
            continue
        return target


def move_without_overwrite(source: Path, folder: Path, name: str | None = None) -> Path:
    """Move ``source`` into ``folder`` under a free name, durably; return the new path.

    Within one mount this is a rename. Across mounts (rename fails with EXDEV, also
    between bind mounts of one file system) the file is copied to a hidden temporary
    name, fsynced and renamed before the source is removed, so a crash at any point
    leaves at least one complete copy.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wanted = folder / (name or source.name)
    try:
        target = _place(source, wanted)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
    else:
        fsync_folder(folder)
        fsync_folder(source.parent)
        return target

    staged = _copy_durably(source, folder)
    try:
        target = _place(staged, wanted)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    fsync_folder(folder)
    source.unlink()
    fsync_folder(source.parent)
    return target


def free_stem(folder: Path, stem: str, reserved: Iterable[Path] = ()) -> str:
    """Return ``stem`` or ``stem (1)``, ``stem (2)``... so no output of it exists yet.

    A stem is taken when ``<stem>.csv`` or any ``<stem>.<table>.csv`` exists in
    ``folder``, or when ``folder / stem`` is in ``reserved`` (conversions in progress).
    """
    taken = set(reserved)
    number = 0
    while True:
        candidate = stem if number == 0 else f"{stem} ({number})"
        in_use = (folder / candidate) in taken or (folder / f"{candidate}.csv").exists()
        if not in_use and folder.is_dir():
            in_use = any(folder.glob(f"{glob_escape(candidate)}.*.csv"))
        if not in_use:
            return candidate
        number += 1


def glob_escape(text: str) -> str:
    """Escape the glob characters ``*``, ``?`` and ``[`` in a file name."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned_parts(folder: Path) -> list[Path]:
    """Delete temporary ``.part`` files under ``folder`` whose writing process is gone.

    Only names made by ``write_atomically`` or ``move_without_overwrite`` are touched,
    and only when their pid no longer runs or is this process's own (a reused pid),
    so call it before this process writes anything there. Returns the deleted paths.
    """
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.rglob(".*.part"):
        match = PART_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        pid = int(match["pid"])
        if pid != os.getpid() and _process_is_alive(pid):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
        log.info("removed %s, a temporary file left by stopped process %d", path, pid)
    return removed
