"""Login of the single owner: password check, rate limit, session expiry, logout."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from fit_converter.web.context import WebContext
from fit_converter.web.owner import check_password, password_fingerprint

#: Endpoints open without a login. The API checks its own tokens.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "health.healthz", "health.readyz", "static"})

#: Maximum age of a login in seconds, however active the session is.
MAX_SESSION_AGE = 7 * 24 * 3600

#: Maximum failed logins per client address (Flask-Limiter notation).
LOGIN_LIMIT = "5 per minute; 30 per hour"

log = logging.getLogger("fit_converter.web.auth")


def is_logged_in(context: WebContext) -> bool:
    """Return True when the session belongs to the owner with the current password."""
    fingerprint = session.get("owner")
    login_at = session.get("login_at")
    if not fingerprint or not isinstance(login_at, int | float):
        return False
    if time.time() - login_at > MAX_SESSION_AGE:
        return False
    return bool(fingerprint == password_fingerprint(context.settings.password_path))


def _safe_next(target: str | None) -> str:
    """Return ``target`` if it is a path on this site, else the upload page."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("upload.form")


def require_login(context: WebContext) -> BaseResponse | None:
    """Send anonymous requests to the login page (JSON requests get 401)."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.blueprint == "api":
        return None
    if request.endpoint is None:
        return None
    if is_logged_in(context):
        return None
    session.pop("owner", None)
    if request.accept_mimetypes.best == "application/json" or request.path.endswith(".json"):
        response: BaseResponse = jsonify(error="login required", login=url_for("auth.login"))
        response.status_code = 401
        return response
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def build_blueprint(context: WebContext) -> Blueprint:
    """Return the blueprint with /login and /logout."""
    blueprint = Blueprint("auth", __name__)
    password_path = context.settings.password_path

    def failed_login(response: Response) -> bool:
        return response.status_code != 302

    @blueprint.route("/login", methods=["GET", "POST"])
    @context.limiter.limit(LOGIN_LIMIT, methods=["POST"], deduct_when=failed_login)
    def login() -> Any:
        has_password = password_fingerprint(password_path) is not None
        target = _safe_next(request.values.get("next"))
        if request.method == "GET":
            if is_logged_in(context):
                return redirect(target)
            return render_template("login.html", has_password=has_password, next=target)

        if has_password and check_password(password_path, request.form.get("password", "")):
            session.clear()
            session.permanent = True
            session["owner"] = password_fingerprint(password_path)
            session["login_at"] = time.time()
            log.info("owner logged in from %s", request.remote_addr)
            return redirect(target)

        log.warning("failed login from %s", request.remote_addr)
        return (
            render_template(
                "login.html",
                has_password=has_password,
                next=target,
                error="Wrong password." if has_password else None,
            ),
            401 if has_password else 403,
        )

    @blueprint.post("/logout")
    def logout() -> BaseResponse:
        session.clear()
        flash("You are logged out.")
        return redirect(url_for("auth.login"))

    return blueprint
