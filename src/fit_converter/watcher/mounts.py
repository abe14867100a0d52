"""Find the file system an inbox lives on, from ``/proc/self/mountinfo``.

inotify reports only changes made through the local kernel, so files that another
machine writes to an NFS or SMB mount, or that a FUSE driver creates by itself, raise
no event. The watcher polls such inboxes instead.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("fit_converter.watcher")

MOUNTINFO = Path("/proc/self/mountinfo")

#: File system types whose changes can come from another machine or a user-space
#: driver, so inotify may miss them.
REMOTE_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "ocfs2",
        "davfs",
        "virtiofs",
        "fuse",
        "fuseblk",
    }
)


@dataclass(frozen=True)
class Mount:
    """One line of mountinfo: where it is mounted, its type and its source."""

    mount_point: Path
    fs_type: str
    source: str

    @property
    def is_remote(self) -> bool:
        """True for network and FUSE file systems (``fuse.sshfs``, ``nfs4``, ``cifs``...)."""
        return self.fs_type in REMOTE_TYPES or self.fs_type.startswith("fuse.")


def _unescape(field: str) -> str:
    """Decode the octal escapes (``\\040`` for a space) that mountinfo uses in paths."""
    raw = field.encode()
    out = bytearray()
    index = 0
    while index < len(raw):
        if raw[index : index + 1] == b"\\" and raw[index + 1 : index + 4].isdigit():
            out.append(int(raw[index + 1 : index + 4], 8))
            index += 4
        else:
            out.append(raw[index])
            index += 1
    return os.fsdecode(bytes(out))


def parse_mountinfo(text: str) -> list[Mount]:
    """Parse mountinfo text (see proc(5)): field 5 is the mount point, after '-' the type."""
    mounts: list[Mount] = []
    for line in text.splitlines():
        fields = line.split(" ")
        if "-" not in fields or len(fields) < 10:
            continue
        separator = fields.index("-")
        if separator + 2 >= len(fields):
            continue
        mounts.append(
            Mount(
                mount_point=Path(_unescape(fields[4])),
                fs_type=fields[separator + 1],
                source=_unescape(fields[separator + 2]),
            )
        )
    return mounts


def mount_of(path: Path, mounts: list[Mount]) -> Mount | None:
    """Return the mount that contains ``path``: the last one with the longest mount point."""
    resolved = path.resolve()
    best: Mount | None = None
    for mount in mounts:
        contains = resolved == mount.mount_point or mount.mount_point in resolved.parents
        if not contains:
            continue
        if best is None or len(mount.mount_point.parts) >= len(best.mount_point.parts):
            best = mount
    return best


def inbox_mount(inbox: Path) -> Mount | None:
    """Return the mount of ``inbox``, or None when mountinfo cannot be read."""
    try:
        text = MOUNTINFO.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as error:
        log.warning("cannot read %s (%s); assuming a local file system", MOUNTINFO, error)
        return None
    return mount_of(inbox, parse_mountinfo(text))
