"""Write small secret files (password hash, token digests) with tight permissions."""

from __future__ import annotations

import os
from pathlib import Path

from fit_converter.files import write_atomically


def write_private_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable only by its owner (and group).

    An existing file keeps its owner, group and mode (at most 0640), so a package that
    made it 0640 for its service group keeps that. A new file gets mode 0600, and when
    root writes it, the owner and group of its folder: the service account of the app.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = path.stat() if path.exists() else None
    write_atomically(path, lambda handle: handle.write(text), mode=0o600)

    if previous is not None:
        os.chmod(path, previous.st_mode & 0o640)
        uid, gid = previous.st_uid, previous.st_gid
    else:
        os.chmod(path, 0o600)
        folder = path.parent.stat()
        uid, gid = folder.st_uid, folder.st_gid
    if os.geteuid() == 0:
        os.chown(path, uid, gid)
