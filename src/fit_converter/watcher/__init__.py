"""Inbox watcher: convert every FIT file that appears in the inbox.

Run with ``python -m fit_converter.watcher``. inotify (or polling, on network and FUSE
file systems) finds new files; a full scan at start and at intervals finds what events
missed. A file is taken once its size and mtime held still for the stability delay
and, for FIT, once it is as long as its header declares. It is claimed by a rename
into the work folder, converted through ``fit_converter.intake.process_file`` and
recorded in the ledger by SHA-256, so the same content is never converted twice.
"""

from __future__ import annotations

from fit_converter.watcher.cli import build_parser, main
from fit_converter.watcher.service import Watcher

__all__ = ["Watcher", "build_parser", "main"]
