"""The activity page: a summary and a chart drawn in the browser from a JSON endpoint."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Blueprint, abort, jsonify, render_template

from fit_converter.errors import ConversionError
from fit_converter.ledger import Entry
from fit_converter.localtime import is_valid_utc_offset
from fit_converter.web.activity import ActivityUnavailable, load_activity
from fit_converter.web.context import WebContext

log = logging.getLogger("fit_converter.web.activity")


def format_duration(seconds: float | None) -> str:
    """Return seconds as ``h:mm:ss``; None becomes an em dash."""
    if seconds is None:
        return "\u2014"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def local_start(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """Return the start as ISO text and, when the file gives its UTC offset, local text."""
    start = data["summary"].get("start")
    if not start:
        return None, None
    offset = data.get("utc_offset_seconds")
    if offset is None or not is_valid_utc_offset(offset):
        return start, None
    moment = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    zone = dt.timezone(dt.timedelta(seconds=round(offset)))
    local = moment.astimezone(zone)
    return start, local.strftime(
        "%a %d %b %Y, %H:%M"
    ) + f" (UTC{local.strftime('%z')[:3]}:{local.strftime('%z')[3:]})"


def build_blueprint(context: WebContext) -> Blueprint:
    """Return the blueprint with the activity page and its JSON data."""
    blueprint = Blueprint("activity", __name__)

    def activity_or_error(entry_id: int) -> tuple[Entry, dict[str, Any]]:
        entry = context.ledger.get(entry_id)
        if entry is None:
            abort(404, description=f"there is no history entry {entry_id}")
        if entry.status != "converted":
            abort(409, description=f"{entry.original_name} is {entry.status}, not converted")
        # NOTE: the first view of an activity decodes its FIT file in the request thread,
        # which can take seconds for a day-long file on a Pi. Later views read the cache.
        try:
            data = load_activity(entry, context.settings.outbox, context.activity_cache)
        except (ActivityUnavailable, ConversionError, OSError, ValueError) as error:
            log.warning(
                "activity of entry %d (%s) unavailable: %s", entry_id, entry.original_name, error
            )
            abort(
                410,
                description=f"the activity data of {entry.original_name} cannot be read: {error}",
            )
        return entry, data

    @blueprint.get("/activity/<int:entry_id>")
    def page(entry_id: int) -> str:
        entry, data = activity_or_error(entry_id)
        start_utc, start_local = local_start(data)
        return render_template(
            "activity.html",
            entry=entry,
            downloads=[name for name, _ in context.existing_outputs(entry)],
            data=data,
            summary=data["summary"],
            start_utc=start_utc,
            start_local=start_local,
            format_duration=format_duration,
        )

    @blueprint.get("/activity/<int:entry_id>.json")
    def data(entry_id: int) -> Any:
        _, activity = activity_or_error(entry_id)
        return jsonify(activity)

    return blueprint
