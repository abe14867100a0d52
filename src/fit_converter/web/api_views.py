"""JSON API for scripts: ``POST /api/v1/convert`` and ``GET /api/v1/jobs/<id>``.

Requests authenticate with ``Authorization: Bearer <token>``; ``fit-converter
create-token`` makes a token. The API uses no cookies, so it needs no CSRF token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, abort, g, jsonify, request, send_file, url_for
from werkzeug.exceptions import HTTPException

from fit_converter.web.context import WebContext
from fit_converter.web.serialize import entry_json
from fit_converter.web.staging import UploadRejected
from fit_converter.web.tokens import find_token, tokens_path
from fit_converter.web.upload_views import stage_and_queue

#: Maximum requests with a missing or wrong token per client address (Flask-Limiter notation).
BAD_TOKEN_LIMIT = "20 per minute"

log = logging.getLogger("fit_converter.web.api")

View = TypeVar("View", bound=Callable[..., Any])


def build_blueprint(context: WebContext) -> Blueprint:
    """Return the API blueprint, exempt from CSRF by the caller."""
    blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
    limiter = context.limiter
    token_file = tokens_path(context.settings.state_dir)

    def token_required(view: View) -> View:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            record = find_token(token_file, token.strip()) if scheme.lower() == "bearer" else None
            if record is None:
                log.warning(
                    "API request with a missing or unknown token from %s", request.remote_addr
                )
                response = jsonify(
                    error="missing or unknown API token",
                    hint="Send 'Authorization: Bearer <token>'; create one with "
                    "'fit-converter create-token'.",
                )
                response.status_code = 401
                response.headers["WWW-Authenticate"] = 'Bearer realm="fit-converter"'
                return response
            g.api_token = record.name
            return view(*args, **kwargs)

        return cast(View, checked)

    def job_json(entry_id: int) -> dict[str, Any]:
        entry = context.ledger.get(entry_id)
        if entry is None:
            abort(404, description=f"there is no job {entry_id}")
        owner = context.converted_entry(entry)
        data = entry_json(
            entry,
            context.output_names(owner),
            lambda name: url_for("api.job_file", entry_id=owner.id, name=name, _external=True),
        )
        data["url"] = url_for("api.job", entry_id=entry_id, _external=True)
        return data

    @blueprint.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        return jsonify(error=error.description), error.code

    @blueprint.post("/convert")
    @limiter.limit(BAD_TOKEN_LIMIT, deduct_when=lambda response: response.status_code == 401)
    @token_required
    def convert() -> Any:
        uploads = [item for item in request.files.getlist("file") if item.filename]
        if not uploads:
            return jsonify(
                error="no file was sent",
                hint="Send the file as multipart form field 'file', e.g. curl -F file=@ride.fit",
            ), 400
        try:
            job_ids, skipped = stage_and_queue(context, uploads, "api")
        except UploadRejected as rejected:
            log.warning("API upload rejected (%d): %s", rejected.status, rejected.reason)
            return jsonify(error=rejected.reason, hint=rejected.hint), rejected.status
        log.info("API token %r queued jobs %s", g.api_token, job_ids)
        return jsonify(jobs=[job_json(job_id) for job_id in job_ids], skipped=skipped), 202

    @blueprint.get("/jobs/<int:entry_id>")
    @limiter.limit(BAD_TOKEN_LIMIT, deduct_when=lambda response: response.status_code == 401)
    @token_required
    def job(entry_id: int) -> Any:
        return jsonify(job_json(entry_id))

    @blueprint.get("/jobs/<int:entry_id>/files/<path:name>")
    @limiter.limit(BAD_TOKEN_LIMIT, deduct_when=lambda response: response.status_code == 401)
    @token_required
    def job_file(entry_id: int, name: str) -> Any:
        entry = context.ledger.get(entry_id)
        path = context.output_path(entry, name) if entry else None
        if path is None:
            abort(404, description=f"{name} is not an output of job {entry_id}")
        return send_file(path, mimetype="text/csv", as_attachment=True, download_name=path.name)

    return blueprint
