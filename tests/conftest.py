"""Shared fixtures: the sample corpus and settings on temporary folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fit_converter.config import Settings, load_settings

#: The public FIT corpus beside the repository; FIT_SAMPLES_DIR points elsewhere.
SAMPLES_DIR = Path(
    os.environ.get(
        "FIT_SAMPLES_DIR", Path(__file__).resolve().parents[2] / "shared" / "fit-samples"
    )
)


def sample_files() -> list[Path]:
    """Return every .fit file of the corpus, or [] when the corpus is absent."""
    if not SAMPLES_DIR.is_dir():
        return []
    return sorted(p for p in SAMPLES_DIR.rglob("*") if p.suffix.lower() == ".fit")


def sample(relative: str) -> Path:
    """Return one corpus file, skipping the test when the corpus is absent."""
    path = SAMPLES_DIR / relative
    if not path.is_file():
        pytest.skip(f"sample corpus not found: {path} (set FIT_SAMPLES_DIR)")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    env = {
        "FIT_CONVERTER_DATA_DIR": str(tmp_path / "data"),
        "FIT_CONVERTER_STATE_DIR": str(tmp_path / "state"),
        "FLASK_SECRET_KEY": "test-secret-key-0123456789",
        "FIT_CONVERTER_POLL_INTERVAL": "0.2",
        "FIT_CONVERTER_RETRIES": "1",
    }
    loaded = load_settings(env)
    loaded.ensure_folders()
    return loaded


# Web app: an app on temporary folders, an anonymous client and a logged-in one.

OWNER_PASSWORD = "correct horse battery staple"


@pytest.fixture
def web_app(settings: Settings) -> Iterator[Flask]:
    from fit_converter.web import create_app
    from fit_converter.web.owner import write_password

    write_password(settings.password_path, OWNER_PASSWORD)
    app = create_app(settings)
    app.testing = True
    yield app
    app.extensions["fit_converter"].queue.shutdown()


@pytest.fixture
def client(web_app: Flask) -> FlaskClient:
    return web_app.test_client()


@pytest.fixture
def owner(web_app: Flask) -> FlaskClient:
    from web_support import log_in

    logged_in = web_app.test_client()
    log_in(logged_in)
    return logged_in
