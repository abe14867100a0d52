"""Keep track of the inbox folder itself: inotify or polling, re-arming, full scans.

The monitor feeds the ``Tracker`` with every file it finds. It re-arms when the inbox
is deleted, replaced or mounted over, and chooses the work folder for claims, which
must be on the inbox's mount.
"""

from __future__ import annotations

import logging
import os
import stat as stat_module
import time
from pathlib import PurePosixPath

from fit_converter.config import Settings
from fit_converter.watcher.claim import WorkFolder, work_root
from fit_converter.watcher.detect import EventBatch, InotifyTree, scan_tree
from fit_converter.watcher.mounts import inbox_mount
from fit_converter.watcher.readiness import Tracker

log = logging.getLogger("fit_converter.watcher")


class InboxMonitor:
    """The inbox's detection mode, inotify watches, identity and scan schedule."""

    def __init__(self, settings: Settings, tracker: Tracker) -> None:
        self.settings = settings
        self.inbox = settings.inbox
        self.tracker = tracker
        self.mode = "poll"
        self.tree: InotifyTree | None = None
        self.work = WorkFolder(settings.work)
        self.inbox_identity: tuple[int, int] | None = None
        self.inbox_missing_logged = False
        #: Monotonic time the inbox was first found missing, None while it exists.
        self.inbox_missing_since: float | None = None
        self.next_scan = time.monotonic()

    def step(self) -> None:
        """Check the inbox, read waiting inotify events and scan if a scan is due."""
        self.check_inbox()
        if self.tree is not None:
            self.handle_events(self.tree.read())
        if time.monotonic() >= self.next_scan:
            self.full_scan()

    def close(self) -> None:
        """Remove the inotify watches."""
        if self.tree is not None:
            self.tree.close()
            self.tree = None

    def arm(self) -> None:
        """Choose inotify or polling for the inbox as it is now, and set up the work folder."""
        if self.tree is not None:
            self.tree.close()
            self.tree = None
        try:
            inbox_stat = os.stat(self.inbox)
        except FileNotFoundError:
            self.inbox_identity = None
            return
        self.inbox_identity = (inbox_stat.st_dev, inbox_stat.st_ino)
        self.work = WorkFolder(work_root(self.inbox, self.settings.work))

        mount = inbox_mount(self.inbox)
        where = f"{mount.fs_type} at {mount.mount_point}" if mount else "unknown file system"
        chosen = self.settings.watch_mode
        if chosen == "auto":
            chosen = "poll" if mount is not None and mount.is_remote else "inotify"
            reason = f"chosen for {where}"
        else:
            reason = f"set by FIT_CONVERTER_WATCH_MODE, inbox on {where}"
        if chosen == "inotify" and mount is not None and mount.is_remote:
            log.warning(
                "inotify does not see files that other machines write to %s; "
                "set FIT_CONVERTER_WATCH_MODE=poll or auto",
                where,
            )

        if chosen == "inotify":
            tree = InotifyTree(self.inbox)
            try:
                tree.arm()
            except OSError as error:
                tree.close()
                log.warning("cannot watch %s with inotify (%s); polling", self.inbox, error)
                chosen = "poll"
                reason = "inotify failed"
            else:
                self.tree = tree
        self.mode = chosen

        if self.mode == "inotify":
            log.info(
                "watching %s with inotify (%s): rescan every %.0f s, stable after %.1f s",
                self.inbox,
                reason,
                self.settings.rescan_seconds,
                self.settings.stable_seconds,
            )
        else:
            log.info(
                "watching %s by polling (%s): scan every %.1f s, stable after %.1f s",
                self.inbox,
                reason,
                self.settings.poll_interval,
                self.settings.stable_seconds,
            )
        log.info("CSV to %s; originals to %s", self.settings.outbox, self.settings.archive)

    def check_inbox(self) -> None:
        """Re-arm when the inbox was deleted, replaced or had a file system mounted on it."""
        try:
            inbox_stat = os.stat(self.inbox)
        except FileNotFoundError:
            self._recreate_inbox()
            return
        was_missing = self.inbox_missing_since is not None
        self.inbox_missing_since = None
        identity = (inbox_stat.st_dev, inbox_stat.st_ino)
        if identity != self.inbox_identity:
            if self.inbox_identity is not None:
                log.warning("inbox %s was replaced or remounted: watching it again", self.inbox)
            elif was_missing:
                log.warning("inbox %s is back: watching it again", self.inbox)
            self.inbox_missing_logged = False
            self.arm()
            self.full_scan()

    def _recreate_inbox(self) -> None:
        """Create a missing inbox again, one poll interval after it went missing.

        The wait lets a user who renames the inbox away and creates a new one
        (``mv inbox inbox.old && mkdir inbox``) do so without meeting ours.
        """
        if self.tree is not None:
            self.tree.close()
            self.tree = None
        self.inbox_identity = None
        now = time.monotonic()
        if self.inbox_missing_since is None:
            self.inbox_missing_since = now
            log.warning(
                "inbox %s is missing; creating it again in %.1f s unless it comes back",
                self.inbox,
                self.settings.poll_interval,
            )
        if now - self.inbox_missing_since < self.settings.poll_interval:
            return
        try:
            self.inbox.mkdir()
        except FileNotFoundError:
            if not self.inbox_missing_logged:
                self.inbox_missing_logged = True
                log.error(
                    "inbox %s is missing and so is its parent folder (an unmounted share?);"
                    " waiting for it to come back",
                    self.inbox,
                )
            return
        except FileExistsError:
            self.check_inbox()
            return
        log.warning("inbox %s was deleted: created it again", self.inbox)
        self.inbox_missing_since = None
        self.check_inbox()

    def full_scan(self) -> None:
        """Stat every file in the inbox tree and forget candidates that are gone."""
        now = time.monotonic()
        present: set[PurePosixPath] = set()
        if self.inbox_identity is not None:
            for relative, stat in scan_tree(self.inbox):
                present.add(relative)
                self.tracker.observe(relative, stat, now)
        self.tracker.keep_only(present)
        interval = (
            self.settings.poll_interval if self.mode == "poll" else self.settings.rescan_seconds
        )
        self.next_scan = now + interval

    def handle_events(self, batch: EventBatch) -> None:
        """Update the candidates from a batch of inotify events."""
        if batch.inbox_gone:
            self.check_inbox()
            return
        if batch.overflow:
            self.full_scan()
            return
        now = time.monotonic()
        for folder in sorted(batch.folders_to_scan):
            for relative, stat in scan_tree(self.inbox, folder):
                self.tracker.observe(relative, stat, now)
        for relative in sorted(batch.touched):
            try:
                stat = os.lstat(self.inbox / relative)
            except FileNotFoundError:
                self.tracker.forget(relative)
                continue
            if stat_module.S_ISREG(stat.st_mode):
                self.tracker.observe(relative, stat, now)
