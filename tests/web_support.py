"""Helpers for web app tests: log in, read CSRF tokens, upload, wait for jobs."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart

from conftest import OWNER_PASSWORD
from fit_converter.config import Settings
from fit_converter.web import create_app
from fit_converter.web.owner import write_password

JSON = {"Accept": "application/json"}


def csrf_from(page: bytes) -> str:
    """Return the CSRF token embedded in an HTML page."""
    match = re.search(rb'name="csrf_token" value="([^"]+)"', page) or re.search(
        rb'name="csrf-token" content="([^"]+)"', page
    )
    assert match, page[:500]
    return match.group(1).decode()


def csrf_token(client: FlaskClient, path: str = "/upload") -> str:
    """Return a CSRF token for ``client``'s session, read from ``path``."""
    return csrf_from(client.get(path).data)


def log_in(client: FlaskClient, password: str = OWNER_PASSWORD) -> TestResponse:
    token = csrf_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "password": password})


def upload(
    client: FlaskClient, files: list[tuple[bytes, str]], *, as_json: bool = True
) -> TestResponse:
    """POST ``files`` (content, name) to /upload with a valid CSRF token."""
    token = csrf_token(client)
    headers = {"X-CSRFToken": token, **(JSON if as_json else {})}
    body, content_type = multipart(files)
    return client.post("/upload", data=body, headers=headers, content_type=content_type)


def multipart(files: list[tuple[bytes, str]], field: str = "file") -> tuple[bytes, str]:
    """Encode ``files`` in memory; the test client spools bodies over 500 KB to a
    temporary file that it never closes, which fails tests under filterwarnings=error."""
    data = MultiDict([(field, FileStorage(io.BytesIO(content), name)) for content, name in files])
    boundary, body = encode_multipart(data)
    return body, f"multipart/form-data; boundary={boundary}"


def wait_job(app: Flask, client: FlaskClient, job_id: int, timeout: float = 60) -> dict[str, Any]:
    """Wait until job ``job_id`` is finished and return its JSON."""
    app.extensions["fit_converter"].queue.wait_idle(timeout)
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, Any] = client.get(f"/jobs/{job_id}.json").json or {}
        if data.get("finished") or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@contextmanager
def owner_client_for(settings: Settings) -> Iterator[tuple[Flask, FlaskClient]]:
    """Yield an app built for ``settings`` and a client logged in as its owner."""
    if not settings.password_path.exists():
        write_password(settings.password_path, OWNER_PASSWORD)
    app = create_app(settings)
    client = app.test_client()
    log_in(client)
    try:
        yield app, client
    finally:
        app.extensions["fit_converter"].queue.shutdown()
