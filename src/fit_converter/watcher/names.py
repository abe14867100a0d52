"""Rules for the file and folder names in the inbox that the watcher leaves alone."""

from __future__ import annotations

import fnmatch

#: Files that copy tools, editors and operating systems create while writing or as
#: side files: partial downloads, Office lock files, macOS resource forks.
IGNORED_FILE_PATTERNS = (
    ".*",
    "*.part",
    "*.partial",
    "*.tmp",
    "*.temp",
    "*.crdownload",
    "*.download",
    "*.swp",
    "~$*",
    "*~",
    "Thumbs.db",
    "desktop.ini",
)

#: Folders that NAS systems, sync tools and archivers keep for themselves: Synology
#: thumbnails, Syncthing markers and versions, recycle bins, macOS zip metadata.
IGNORED_FOLDER_NAMES = frozenset(
    {
        "@eaDir",
        ".stfolder",
        ".stversions",
        "#recycle",
        "#snapshot",
        "$RECYCLE.BIN",
        "__MACOSX",
        "lost+found",
        "System Volume Information",
    }
)


def is_ignored_file(name: str) -> bool:
    """Return True for hidden, temporary and side-file names (``.x``, ``x.part``, ``~$x``)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in IGNORED_FILE_PATTERNS)


def is_ignored_folder(name: str) -> bool:
    """Return True for hidden folders and folders that NAS and sync tools keep."""
    return name.startswith(".") or name in IGNORED_FOLDER_NAMES
