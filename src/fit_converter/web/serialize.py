"""JSON form of a ledger entry, shared by the page's polling and the JSON API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fit_converter.ledger import Entry

#: Statuses after which an entry no longer changes.
FINAL_STATUSES = ("converted", "failed", "duplicate")


def entry_json(
    entry: Entry, output_names: list[str], file_url: Callable[[str], str]
) -> dict[str, Any]:
    """Return ``entry`` as a dict.

    ``output_names`` are the entry's outputs relative to the outbox, and ``file_url``
    maps one of them to its download URL.
    """
    return {
        "id": entry.id,
        "name": entry.original_name,
        "source": entry.source,
        "status": entry.status,
        "finished": entry.status in FINAL_STATUSES,
        "created_at": entry.created_at,
        "finished_at": entry.finished_at,
        "rows": entry.rows,
        "seconds": entry.seconds,
        "warnings": entry.warnings,
        "error": entry.error,
        "sha256": entry.sha256,
        "duplicate_of": entry.duplicate_of,
        "outputs": [{"name": name, "url": file_url(name)} for name in output_names],
    }
