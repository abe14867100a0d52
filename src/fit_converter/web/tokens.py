"""API tokens: random secrets whose SHA-256 digests are kept in the state folder.

The tokens file is JSON: ``{"tokens": [{"name", "sha256", "created"}]}``. A token is
shown once, when ``fit-converter create-token`` makes it, and never stored in clear.
A plain SHA-256 is enough because each token has 256 bits of randomness.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fit_converter.web.private import write_private_text

#: Prefix of every token, so a leaked one is easy to recognise in logs and scanners.
TOKEN_PREFIX = "fitc_"

log = logging.getLogger("fit_converter.web.tokens")


@dataclass(frozen=True)
class TokenRecord:
    """One stored token: its name, the SHA-256 of the secret and when it was made."""

    name: str
    sha256: str
    created: str


def tokens_path(state_dir: Path) -> Path:
    """Return the file that lists the API tokens."""
    return state_dir / "api-tokens.json"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load_tokens(path: Path) -> list[TokenRecord]:
    """Return the stored tokens; a missing file means none."""
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    return [TokenRecord(**item) for item in document.get("tokens", [])]


def _save(path: Path, records: list[TokenRecord]) -> None:
    document = {"tokens": [record.__dict__ for record in records]}
    write_private_text(path, json.dumps(document, indent=2) + "\n")


def create_token(path: Path, name: str) -> str:
    """Create a token called ``name``, store its digest and return the secret."""
    records = load_tokens(path)
    if any(record.name == name for record in records):
        raise ValueError(f"a token named {name!r} already exists; revoke it or pick another name")

    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    records.append(TokenRecord(name=name, sha256=_digest(token), created=created))
    _save(path, records)
    log.info("API token %r created in %s", name, path)
    return token


def revoke_token(path: Path, name: str) -> bool:
    """Remove the token called ``name``; return False if there was none."""
    records = load_tokens(path)
    remaining = [record for record in records if record.name != name]
    if len(remaining) == len(records):
        return False
    _save(path, remaining)
    log.info("API token %r revoked in %s", name, path)
    return True


def find_token(path: Path, token: str) -> TokenRecord | None:
    """Return the record whose digest matches ``token``, compared in constant time."""
    digest = _digest(token)
    match = None
    for record in load_tokens(path):
        if hmac.compare_digest(record.sha256, digest):
            match = record
    return match
