"""History of every conversion (web, API and inbox): downloads, retry and delete."""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response as BaseResponse

from fit_converter.ledger import Entry
from fit_converter.web.context import WebContext
from fit_converter.web.jobs import staged_from_entry
from fit_converter.web.staging import incoming_folder

#: Entries per history page.
PAGE_SIZE = 50

log = logging.getLogger("fit_converter.web.history")


def _inside(path: Path, folders: list[Path]) -> bool:
    """Return True if ``path`` is in one of ``folders`` or in a subfolder of one."""
    resolved = path.resolve()
    return any(resolved.is_relative_to(folder.resolve()) for folder in folders)


def zip_outputs(context: WebContext, entries: list[Entry], download_name: str) -> Any:
    """Send every existing output of ``entries`` as one .zip, each name used once."""
    members: dict[str, Path] = {}
    # A duplicate contributes the outputs of the entry it duplicates, once.
    owners = {owner.id: owner for owner in map(context.converted_entry, entries)}
    for entry in owners.values():
        for relative, path in context.existing_outputs(entry):
            # Members keep their outbox subfolder, so same-named files in two folders
            # both fit; a name used twice gets a number.
            name = relative
            stem = relative.removesuffix(path.suffix)
            number = 1
            while name in members:
                name = f"{stem} ({number}){path.suffix}"
                number += 1
            members[name] = path
    if not members:
        abort(404, description="none of the selected entries has a CSV file left")

    spool = tempfile.SpooledTemporaryFile(max_size=32 * 2**20)  # noqa: SIM115 - send_file closes it
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in members.items():
            archive.write(path, arcname=name)
    spool.seek(0)
    return send_file(
        spool, mimetype="application/zip", as_attachment=True, download_name=download_name
    )


def build_blueprint(context: WebContext) -> Blueprint:
    """Return the blueprint with the history page, downloads, retry and delete."""
    blueprint = Blueprint("history", __name__)
    settings = context.settings
    ledger = context.ledger

    def entry_or_404(entry_id: int) -> Entry:
        entry = ledger.get(entry_id)
        if entry is None:
            abort(404, description=f"there is no history entry {entry_id}")
        return entry

    @blueprint.get("/history")
    def index() -> str:
        total = ledger.count()
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
        entries = ledger.page((page - 1) * PAGE_SIZE, PAGE_SIZE)
        # Downloads per row as (entry id the files belong to, names relative to the
        # outbox); a duplicate row offers the files of the earlier entry.
        available = {}
        for entry in entries:
            owner = context.converted_entry(entry)
            available[entry.id] = (owner.id, [name for name, _ in context.existing_outputs(owner)])
        return render_template(
            "history.html",
            entries=entries,
            available=available,
            page=page,
            pages=pages,
            total=total,
            refresh=any(entry.status == "running" for entry in entries),
        )

    @blueprint.get("/history/<int:entry_id>/files/<path:name>")
    def file(entry_id: int, name: str) -> Any:
        path = context.output_path(entry_or_404(entry_id), name)
        if path is None:
            abort(404, description=f"{name} is not an output of entry {entry_id}")
        return send_file(path, mimetype="text/csv", as_attachment=True, download_name=path.name)

    @blueprint.get("/history/<int:entry_id>/outputs.zip")
    def entry_zip(entry_id: int) -> Any:
        entry = entry_or_404(entry_id)
        return zip_outputs(context, [entry], f"{Path(entry.original_name).stem}.zip")

    @blueprint.post("/history/zip")
    def selection_zip() -> Any:
        ids = [int(value) for value in request.form.getlist("entry") if value.isdigit()]
        entries = ledger.get_many(ids)
        if not entries:
            flash("Select at least one converted file to download.")
            return redirect(url_for("history.index"), code=303)
        return zip_outputs(context, entries, "fit-converter-csv.zip")

    @blueprint.post("/history/<int:entry_id>/retry")
    def retry(entry_id: int) -> BaseResponse:
        entry = entry_or_404(entry_id)
        stored = Path(entry.stored_input) if entry.stored_input else None
        if entry.status != "failed" or stored is None:
            abort(409, description="only a failed conversion can be retried")
        if not stored.is_file() or not _inside(stored, [settings.failed]):
            abort(410, description=f"the failed file {stored.name} is no longer in failed/")

        with incoming_folder(context.uploads) as folder:
            slot = folder / "00001"
            slot.mkdir()
            staged = staged_from_entry(slot / stored.name, entry.original_name)
            shutil.move(stored, staged.path)
            try:
                job_id = context.queue.submit(staged, entry.source)
            except BaseException:
                shutil.move(staged.path, stored)
                raise
            stored.with_name(stored.name + ".error.txt").unlink(missing_ok=True)
        log.info("retrying entry %d (%s) as job %d", entry_id, entry.original_name, job_id)
        flash(f"Converting {entry.original_name} again.")
        return redirect(url_for("history.index"), code=303)

    @blueprint.post("/history/<int:entry_id>/delete")
    def delete(entry_id: int) -> BaseResponse:
        entry = entry_or_404(entry_id)
        if entry.status == "running":
            abort(409, description="a conversion still running cannot be deleted")

        removed = []
        for name, path in context.existing_outputs(entry):
            path.unlink()
            removed.append(name)
        stored = Path(entry.stored_input) if entry.stored_input else None
        if stored and stored.is_file() and _inside(stored, [settings.archive, settings.failed]):
            stored.unlink()
            stored.with_name(stored.name + ".error.txt").unlink(missing_ok=True)
            removed.append(stored.name)
        for cached in context.activity_cache.glob(f"*-{entry_id}-v*.json"):
            cached.unlink()
        ledger.delete(entry_id)
        log.info("deleted entry %d (%s): %s", entry_id, entry.original_name, removed)
        flash(f"Deleted {entry.original_name} and {len(removed)} file(s).")
        return redirect(url_for("history.index"), code=303)

    return blueprint
