"""The owner's web password: one werkzeug hash in ``settings.password_path``."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from fit_converter.web.private import write_private_text

#: Minimum password length, in characters, that ``set-password`` accepts.
MIN_PASSWORD_LENGTH = 10

log = logging.getLogger("fit_converter.web.owner")


def read_password_hash(path: Path) -> str | None:
    """Return the stored hash, or None when no password has been set."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except PermissionError as error:
        log.error(
            "cannot read the owner password hash %s (%s); give the web app's user read "
            "access, for example by running set-password again as that user",
            path,
            error,
        )
        return None
    return text or None


def check_password(path: Path, password: str) -> bool:
    """Return True when ``password`` matches the stored hash."""
    stored = read_password_hash(path)
    if stored is None:
        return False
    return check_password_hash(stored, password)


def password_fingerprint(path: Path) -> str | None:
    """Return a short digest of the stored hash; a new password changes it.

    Sessions keep this digest, so setting a new password ends every open session.
    """
    stored = read_password_hash(path)
    if stored is None:
        return None
    return hashlib.sha256(stored.encode("ascii")).hexdigest()[:32]


def write_password(path: Path, password: str) -> None:
    """Store a werkzeug hash of ``password`` in ``path`` (see ``write_private_text``)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    write_private_text(path, generate_password_hash(password) + "\n")
    log.info("owner password set in %s", path)
