"""Web app: upload a FIT file, get its CSV.

``create_app`` builds the Flask application; ``python -m fit_converter.app`` serves it
with gunicorn, never with Flask's development server.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask, abort, render_template, request, send_from_directory
from gunicorn.app.base import BaseApplication
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import secure_filename

from fit_converter import __version__
from fit_converter.config import LOG_LEVELS, Settings, load_settings
from fit_converter.errors import ConfigError
from fit_converter.intake import process_file
from fit_converter.ledger import Ledger
from fit_converter.logs import setup_logging

log = logging.getLogger("fit_converter.app")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web application for ``settings`` (read from the environment if None)."""
    if settings is None:
        settings = load_settings()
    settings.ensure_folders()

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
    )
    ledger = Ledger(settings.ledger_path)
    uploads = settings.state_dir / "uploads"

    @app.get("/healthz")
    def healthz() -> tuple[str, int]:
        return "ok\n", 200

    @app.get("/")
    @app.get("/upload")
    def upload_form() -> str:
        return render_template("upload.html", max_mb=settings.max_upload_bytes // 2**20)

    @app.post("/upload")
    def upload() -> tuple[str, int]:
        sent = request.files.get("file")
        if sent is None or not sent.filename:
            return _problem("No file was sent.", "Choose a .fit file, then press Convert.", 400)

        name = secure_filename(sent.filename) or "upload.fit"
        if Path(name).suffix.lower() != ".fit":
            return _problem(
                f"'{sent.filename}' is not a .fit file.",
                "Upload the FIT file exported from the device or its app.",
                400,
            )

        uploads.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=uploads))
        try:
            staged = staging / name
            sent.save(staged)
            if staged.stat().st_size == 0:
                return _problem(
                    f"'{sent.filename}' is empty (0 bytes).",
                    "Export the activity again and upload the new file.",
                    400,
                )
            outcome = process_file(staged, settings, ledger, source="web")
        finally:
            shutil.rmtree(staging, ignore_errors=True)

        if outcome.error is not None:
            return _problem(
                f"'{sent.filename}' could not be converted: {outcome.error.reason}.",
                outcome.error.hint,
                422,
            )
        assert outcome.report is not None
        return (
            render_template(
                "result.html",
                name=sent.filename,
                report=outcome.report,
                csv_names=[path.name for path in outcome.report.outputs],
            ),
            200,
        )

    @app.get("/download/<path:name>")
    def download(name: str) -> Any:
        if Path(name).suffix.lower() != ".csv":
            abort(404)
        return send_from_directory(settings.outbox, name, as_attachment=True)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
        return _problem(
            f"The upload is larger than the limit of {settings.max_upload_bytes // 2**20} MiB.",
            "Split the upload, or raise FIT_CONVERTER_MAX_UPLOAD_MB.",
            413,
        )

    return app


def _problem(message: str, hint: str, status: int) -> tuple[str, int]:
    log.warning("upload rejected (%d): %s", status, message)
    return render_template("problem.html", message=message, hint=hint), status


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Serve the Flask app with gunicorn, configured from Python instead of a file."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def main(argv: list[str] | None = None) -> int:
    """Serve the web app with gunicorn until stopped."""
    parser = argparse.ArgumentParser(
        prog="python -m fit_converter.app", description="Serve the fit-converter web app."
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default: %(default)s)")
    parser.add_argument(
        "--threads", type=int, default=4, help="worker threads (default: %(default)s)"
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="log level (default: INFO)")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"fit-converter app: {error}", file=sys.stderr)
        return 2
    level = args.log_level or settings.log_level
    setup_logging(
        level, logs_dir=settings.logs_dir if settings.log_to_file else None, service="app"
    )

    app = create_app(settings)
    url = f"http://{args.host}:{args.port}/"
    log.info(
        "fit-converter %s web app at %s (inbox %s, outbox %s)",
        __version__,
        url,
        settings.inbox,
        settings.outbox,
    )
    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": 1,
        "threads": args.threads,
        "worker_class": "gthread",
        "timeout": 120,
        "loglevel": level.lower(),
        "accesslog": "-",
    }
    GunicornServer(app, options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
