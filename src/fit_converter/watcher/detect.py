"""Find files in the inbox tree: full scans, and inotify events between scans."""

from __future__ import annotations

import errno
import logging
import os
import stat as stat_module
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from inotify_simple import INotify
from inotify_simple import flags as inotify_flags

from fit_converter.watcher.names import is_ignored_file, is_ignored_folder

log = logging.getLogger("fit_converter.watcher")

ROOT = PurePosixPath(".")

#: CLOSE_WRITE and MOVED_TO mark a file as written; CREATE and MODIFY restart its
#: stability clock. The *_SELF and UNMOUNT events tell that a watched folder went away.
WATCH_MASK = (
    inotify_flags.CLOSE_WRITE
    | inotify_flags.MOVED_TO
    | inotify_flags.CREATE
    | inotify_flags.MODIFY
    | inotify_flags.DELETE_SELF
    | inotify_flags.MOVE_SELF
    | inotify_flags.ONLYDIR
)
_GONE_MASK = (
    inotify_flags.DELETE_SELF
    | inotify_flags.MOVE_SELF
    | inotify_flags.UNMOUNT
    | inotify_flags.IGNORED
)


def scan_tree(
    inbox: Path, start: PurePosixPath = ROOT
) -> Iterator[tuple[PurePosixPath, os.stat_result]]:
    """Yield every regular file under ``inbox / start`` that is not ignored, with its stat.

    Ignored folders are not entered. Symbolic links are skipped, because claiming one
    would move the link and not the file.
    """
    top = inbox / start
    for folder, subfolders, files in os.walk(top, onerror=_log_walk_error):
        subfolders[:] = sorted(name for name in subfolders if not is_ignored_folder(name))
        relative_folder = PurePosixPath(Path(folder).relative_to(inbox).as_posix())
        for name in sorted(files):
            if is_ignored_file(name):
                continue
            try:
                stat = os.lstat(os.path.join(folder, name))
            except FileNotFoundError:
                continue
            if stat_module.S_ISREG(stat.st_mode):
                yield relative_folder / name, stat


def _log_walk_error(error: OSError) -> None:
    if error.errno != errno.ENOENT:
        log.warning("cannot scan %s: %s", error.filename, error.strerror or error)


@dataclass
class EventBatch:
    """Paths and conditions reported by one batch of inotify events."""

    touched: set[PurePosixPath] = field(default_factory=set)
    folders_to_scan: set[PurePosixPath] = field(default_factory=set)
    overflow: bool = False
    inbox_gone: bool = False


class InotifyTree:
    """inotify watches on the inbox and every subfolder that is not ignored.

    inotify does not watch subfolders by itself, so each new folder gets its own watch
    and a scan, because files can land in it before the watch exists.
    """

    def __init__(self, inbox: Path) -> None:
        self.inbox = inbox
        self.inotify = INotify()
        self.folders: dict[int, PurePosixPath] = {}

    def fileno(self) -> int:
        """Return the inotify descriptor, for ``select.poll``."""
        return int(self.inotify.fileno())

    def arm(self) -> None:
        """Watch the inbox and its subfolders (raises OSError if the inbox is missing)."""
        self._add(ROOT)
        self._add_subfolders(ROOT)

    def _add(self, relative: PurePosixPath) -> None:
        descriptor = self.inotify.add_watch(self.inbox / relative, WATCH_MASK)
        self.folders[descriptor] = relative

    def _add_subfolders(self, relative: PurePosixPath) -> None:
        for folder, subfolders, _files in os.walk(self.inbox / relative):
            subfolders[:] = [name for name in subfolders if not is_ignored_folder(name)]
            for name in subfolders:
                child = PurePosixPath(Path(folder, name).relative_to(self.inbox).as_posix())
                try:
                    self._add(child)
                except FileNotFoundError:
                    continue
                except OSError as error:
                    if error.errno == errno.ENOSPC:
                        raise OSError(
                            errno.ENOSPC,
                            "inotify watch limit reached; raise fs.inotify.max_user_watches"
                            " or set FIT_CONVERTER_WATCH_MODE=poll",
                        ) from error
                    raise

    def read(self) -> EventBatch:
        """Read the events that are waiting, without blocking."""
        batch = EventBatch()
        for event in self.inotify.read(timeout=0):
            if event.mask & inotify_flags.Q_OVERFLOW:
                log.warning("inotify queue overflowed: rescanning the inbox")
                batch.overflow = True
                continue
            folder = self.folders.get(event.wd)
            if folder is None:
                continue
            if event.mask & _GONE_MASK:
                if event.mask & inotify_flags.IGNORED:
                    del self.folders[event.wd]
                if folder == ROOT:
                    batch.inbox_gone = True
                continue
            if not event.name:
                continue
            relative = folder / event.name
            if event.mask & inotify_flags.ISDIR:
                if is_ignored_folder(event.name):
                    continue
                if event.mask & (inotify_flags.CREATE | inotify_flags.MOVED_TO):
                    self._watch_new_folder(relative)
                    batch.folders_to_scan.add(relative)
                continue
            if not is_ignored_file(event.name):
                batch.touched.add(relative)
        return batch

    def _watch_new_folder(self, relative: PurePosixPath) -> None:
        try:
            self._add(relative)
            self._add_subfolders(relative)
        except FileNotFoundError:
            return
        log.info("watching new subfolder %s", relative)

    def close(self) -> None:
        """Remove every watch and close the inotify descriptor."""
        self.inotify.close()
        self.folders.clear()
