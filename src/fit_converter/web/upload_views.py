"""The upload page and its endpoint: files and zips in, background jobs out."""

from __future__ import annotations

import logging
import shutil
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response as BaseResponse

from fit_converter.web.context import WebContext
from fit_converter.web.serialize import entry_json
from fit_converter.web.staging import (
    Stager,
    UploadRejected,
    ZipLimits,
    incoming_folder,
)

log = logging.getLogger("fit_converter.web.upload")


def wants_json() -> bool:
    """Return True when the client asked for JSON (the page's upload script does)."""
    return request.accept_mimetypes.best == "application/json"


def stage_and_queue(
    context: WebContext, uploads: list[FileStorage], source: str
) -> tuple[list[int], list[str]]:
    """Stage every upload, queue each FIT file and return the job ids and skipped entries.

    Raises UploadRejected before anything is queued when one upload cannot be used.
    """
    settings = context.settings
    free = shutil.disk_usage(settings.data_dir).free
    if free < settings.min_free_bytes:
        raise UploadRejected(
            f"the appliance has only {free // 2**20} MiB free, below the floor of "
            f"{settings.min_free_bytes // 2**20} MiB",
            "Free some space (old CSVs in the outbox, the archive), then upload again.",
            507,
        )

    limits = ZipLimits(settings.zip_max_files, settings.zip_max_bytes, settings.min_free_bytes)
    with incoming_folder(context.uploads) as folder:
        stager = Stager(folder, limits)
        for upload in uploads:
            stager.add_upload(upload)
        job_ids = [context.queue.submit(staged, source) for staged in stager.result.files]
    return job_ids, stager.result.skipped


def rejection_response(rejected: UploadRejected) -> Any:
    """Return the response to a rejected upload, as JSON or as an HTML page."""
    log.warning("upload rejected (%d): %s", rejected.status, rejected.reason)
    if wants_json():
        return jsonify(error=rejected.reason, hint=rejected.hint), rejected.status
    return (
        render_template("problem.html", message=rejected.reason + ".", hint=rejected.hint),
        rejected.status,
    )


def build_blueprint(context: WebContext) -> Blueprint:
    """Return the blueprint with the upload page, the upload endpoint and job status."""
    blueprint = Blueprint("upload", __name__)
    settings = context.settings

    @blueprint.get("/")
    def home() -> BaseResponse:
        return redirect(url_for("upload.form"))

    @blueprint.get("/upload")
    def form() -> str:
        return render_template(
            "upload.html",
            max_mb=settings.max_upload_bytes // 2**20,
            max_bytes=settings.max_upload_bytes,
            zip_max_files=settings.zip_max_files,
            zip_max_mb=settings.zip_max_bytes // 2**20,
            recent=context.ledger.page(0, 5),
        )

    @blueprint.post("/upload")
    def upload() -> Any:
        uploads = [item for item in request.files.getlist("file") if item.filename]
        if not uploads:
            return rejection_response(
                UploadRejected(
                    "no file was sent", "Choose .fit or .zip files, then press Convert.", 400
                )
            )
        try:
            job_ids, skipped = stage_and_queue(context, uploads, "web")
        except UploadRejected as rejected:
            return rejection_response(rejected)

        if wants_json():
            jobs = [
                {
                    "id": job_id,
                    "status_url": url_for("upload.job_status", entry_id=job_id),
                    "activity_url": url_for("activity.page", entry_id=job_id),
                }
                for job_id in job_ids
            ]
            return jsonify(jobs=jobs, skipped=skipped), 202
        flash(f"{len(job_ids)} file(s) queued for conversion.")
        for note in skipped:
            flash(f"Skipped {note}")
        return redirect(url_for("history.index"), code=303)

    @blueprint.get("/jobs/<int:entry_id>.json")
    def job_status(entry_id: int) -> Any:
        entry = context.ledger.get(entry_id)
        if entry is None:
            abort(404)
        owner = context.converted_entry(entry)
        data = entry_json(
            entry,
            context.output_names(owner),
            lambda name: url_for("history.file", entry_id=owner.id, name=name),
        )
        data["activity_url"] = url_for("activity.page", entry_id=owner.id)
        return jsonify(data)

    return blueprint
