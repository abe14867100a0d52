"""Unpack a ``.zip`` or ``.fit.gz`` dropped into the inbox into FIT files in the inbox.

The members are unpacked with the web upload's ``Stager``, so the same entry-count
and size limits apply and zip entry names only become display names, never paths.
Only after every member is unpacked do they move into the inbox folder the archive
came from, where the watcher converts them like any dropped file. The caller then
moves the archive itself to ``archive/``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fit_converter.config import Settings
from fit_converter.files import move_without_overwrite
from fit_converter.web.names import suffix_of
from fit_converter.web.staging import Stager, StagingResult, ZipLimits, incoming_folder

#: Suffixes that the watcher unpacks instead of converting.
ARCHIVE_SUFFIXES = (".zip", ".fit.gz")

log = logging.getLogger("fit_converter.watcher.unpack")


def is_archive(name: str) -> bool:
    """Return True if ``name`` is a ``.zip`` or ``.fit.gz`` that the watcher unpacks."""
    return suffix_of(name) in ARCHIVE_SUFFIXES


def unpack_into_inbox(
    path: Path, name: str, folder: str, settings: Settings
) -> tuple[list[Path], StagingResult]:
    """Unpack the archive at ``path`` into ``settings.inbox / folder``.

    Returns the paths of the FIT files now in the inbox and the staging result, whose
    ``skipped`` lists the entries left out. Raises UploadRejected for an unreadable
    archive, one over the limits or one without FIT files; nothing reaches the inbox
    then.
    """
    limits = ZipLimits(settings.zip_max_files, settings.zip_max_bytes, settings.min_free_bytes)
    # NOTE: a crash while unpacking leaves the partly unpacked files in
    # <state>/inbox-unpack until they are removed by hand; the archive itself stays
    # in the work folder and is unpacked again at the next start.
    with incoming_folder(settings.state_dir / "inbox-unpack") as staging:
        stager = Stager(staging, limits)
        stager.add_path(path, name)
        target = settings.inbox / folder
        placed = [
            move_without_overwrite(staged.path, target, staged.name)
            for staged in stager.result.files
        ]
    return placed, stager.result
