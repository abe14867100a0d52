"""Build the Flask application: extensions, blueprints and error pages.

It must run in one gunicorn worker process (with threads), because the conversion
queue and the login rate limits live in that process's memory.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from fit_converter import __version__
from fit_converter.config import Settings, load_settings
from fit_converter.ledger import Ledger
from fit_converter.web import (
    activity_views,
    api_views,
    auth,
    health_views,
    history_views,
    upload_views,
)
from fit_converter.web.context import WebContext
from fit_converter.web.jobs import ConversionQueue
from fit_converter.web.security import secure_app

log = logging.getLogger("fit_converter.web")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web application for ``settings`` (read from the environment if None)."""
    if settings is None:
        settings = load_settings()
    settings.ensure_folders()

    app = Flask("fit_converter")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
        # The session's own lifetime bounds the CSRF token, so an upload page left
        # open for hours still works.
        WTF_CSRF_TIME_LIMIT=None,
    )
    secure_app(app)

    csrf = CSRFProtect(app)
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://")
    ledger = Ledger(settings.ledger_path)
    queue = ConversionQueue(settings, ledger)
    context = WebContext(settings, ledger, queue, limiter)
    app.extensions["fit_converter"] = context

    api = api_views.build_blueprint(context)
    csrf.exempt(api)
    for blueprint in (
        auth.build_blueprint(context),
        upload_views.build_blueprint(context),
        history_views.build_blueprint(context),
        activity_views.build_blueprint(context),
        health_views.build_blueprint(context),
        api,
    ):
        app.register_blueprint(blueprint)

    app.before_request(lambda: auth.require_login(context))
    _register_error_handlers(app, settings)

    @app.context_processor
    def template_values() -> dict[str, Any]:
        return {"logged_in": auth.is_logged_in(context), "version": __version__}

    recovered = queue.recover()
    if recovered:
        log.warning("queued %d upload(s) again that a restart had interrupted", recovered)
    return app


def _error_page(message: str, hint: str, status: int) -> Any:
    """Return an error as JSON to the API and to scripts that accept JSON, else as a page."""
    wants_json = request.accept_mimetypes.best == "application/json"
    if wants_json or request.blueprint == "api" or request.path.endswith(".json"):
        return jsonify(error=message, hint=hint), status
    return render_template("problem.html", message=message, hint=hint), status


def _register_error_handlers(app: Flask, settings: Settings) -> None:
    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> Any:
        limit = settings.max_upload_bytes // 2**20
        log.warning("upload rejected (413): larger than %d MiB", limit)
        return _error_page(
            f"The upload is larger than the limit of {limit} MiB.",
            "Upload fewer files at a time, or raise FIT_CONVERTER_MAX_UPLOAD_MB.",
            413,
        )

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> Any:
        log.warning(
            "CSRF check failed for %s %s: %s", request.method, request.path, error.description
        )
        return _error_page(
            f"The form was rejected: {error.description}",
            "Reload the page and try again; this happens when a login has expired.",
            400,
        )

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(error: RateLimitExceeded) -> Any:
        log.warning(
            "rate limit hit by %s on %s: %s", request.remote_addr, request.path, error.description
        )
        if request.blueprint == "api":
            return jsonify(error=f"too many failed requests ({error.description})"), 429
        return (
            render_template(
                "login.html",
                has_password=True,
                next="/upload",
                error="Too many failed attempts. Wait a minute, then try again.",
            ),
            429,
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        # Errors raised before routing, such as 405 for a wrong method, reach no
        # blueprint handler, so API paths get their JSON form here.
        if request.path.startswith("/api/"):
            return jsonify(error=error.description or error.name), error.code or 500
        return _error_page(
            error.description or error.name,
            "Go back to the history page and try again.",
            error.code or 500,
        )
