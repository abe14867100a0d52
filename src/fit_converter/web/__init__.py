"""The web app: login, uploads, history, activity pages, health checks and a JSON API."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from fit_converter.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web application for ``settings`` (read from the environment if None).

    Flask and its extensions are imported here, not at package import, so the CLI's
    ``set-password`` and ``create-token`` start without them.
    """
    from fit_converter.web.factory import create_app as build

    return build(settings)
