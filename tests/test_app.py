from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from flask.testing import FlaskClient

from conftest import sample
from fit_converter.app import create_app
from fit_converter.config import Settings


def client_for(settings: Settings) -> FlaskClient:
    app = create_app(settings)
    app.testing = True
    return app.test_client()


def test_healthz(settings: Settings) -> None:
    response = client_for(settings).get("/healthz")
    assert response.status_code == 200


def test_upload_form(settings: Settings) -> None:
    response = client_for(settings).get("/upload")
    assert response.status_code == 200
    assert b'type="file"' in response.data


def test_upload_converts_and_archives(settings: Settings) -> None:
    path = sample("fitparse/2015-10-13-08-43-15.fit")
    client = client_for(settings)
    response = client.post(
        "/upload",
        data={"file": (io.BytesIO(path.read_bytes()), "My Ride.fit")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert (settings.outbox / "My_Ride.csv").exists()
    assert (settings.archive / "My_Ride.fit").read_bytes() == path.read_bytes()
    download = client.get("/download/My_Ride.csv")
    assert download.status_code == 200
    assert download.data.startswith(b"timestamp,")
    download.close()


def test_upload_without_file(settings: Settings) -> None:
    response = client_for(settings).post("/upload", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert b"No file was sent" in response.data


def test_upload_too_large(settings: Settings) -> None:
    small = replace(settings, max_upload_bytes=1024)
    response = client_for(small).post(
        "/upload",
        data={"file": (io.BytesIO(b"x" * 4096), "big.fit")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert b"larger than the limit" in response.data


def test_failed_upload_keeps_input(settings: Settings) -> None:
    response = client_for(settings).post(
        "/upload",
        data={"file": (io.BytesIO(b"garbage garbage garbage"), "broken.fit")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert (settings.failed / "broken.fit").exists()
    assert (settings.failed / "broken.fit.error.txt").exists()


def test_download_outside_outbox_is_refused(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("x")
    client = client_for(settings)
    assert client.get("/download/../../secret.csv").status_code == 404
    assert client.get("/download/ledger.sqlite3").status_code == 404
