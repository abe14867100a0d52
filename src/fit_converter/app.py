"""Web app entry point: ``python -m fit_converter.app`` serves it with gunicorn.

The application itself is built by ``fit_converter.web.create_app``; it is imported
here too, so ``fit_converter.app:create_app()`` works as a WSGI factory.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from fit_converter.config import LOG_LEVELS, load_settings
from fit_converter.errors import ConfigError
from fit_converter.logs import log_startup, setup_logging
from fit_converter.web import create_app
from fit_converter.web.gunicorn_config import DEFAULT_THREADS, gunicorn_options

__all__ = ["GunicornServer", "create_app", "main"]

log = logging.getLogger("fit_converter.app")


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Serve the Flask app with gunicorn, configured from Python instead of a file.

    ``load`` builds the app in the worker process, after the fork, so the conversion
    thread and the jobs it recovers at start-up live in the process that serves them.
    """

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.factory()


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
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help="request threads (default: %(default)s)",
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

    log_startup(log, settings, service="web app", extra=[f"URL http://{args.host}:{args.port}/"])
    options = gunicorn_options(args.host, args.port, args.threads, level)
    GunicornServer(lambda: create_app(settings), options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
