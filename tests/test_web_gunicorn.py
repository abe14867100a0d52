"""The web app under the real gunicorn: worker type, proxy headers, cookies, health."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import free_port, http_ok, start_module, stop, wait_for


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    env = {
        "FIT_CONVERTER_DATA_DIR": str(tmp_path / "data"),
        "FIT_CONVERTER_STATE_DIR": str(tmp_path / "state"),
        "FLASK_SECRET_KEY": "gunicorn-test-secret-0123456789",
    }
    port = free_port()
    log = tmp_path / "app.log"
    process = start_module(
        "fit_converter.app", ["--host", "127.0.0.1", "--port", str(port)], env, log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: http_ok(base + "/healthz"), what="gunicorn to answer /healthz")
        yield base, log
    finally:
        assert stop(process) == 0, log.read_text()


def get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def test_gunicorn_uses_threads_and_shared_memory(gunicorn: tuple[str, Path]) -> None:
    _, log = gunicorn
    text = log.read_text()
    assert "Using worker: gthread" in text
    assert "Listening at: http://127.0.0.1:" in text

    match = re.search(r"Booting worker with pid: (\d+)", text)
    assert match, text
    if not Path("/dev/shm").is_dir():
        pytest.skip("/dev/shm is missing, so gunicorn keeps its heartbeat file in /tmp")
    open_files = [os.readlink(fd) for fd in Path(f"/proc/{match.group(1)}/fd").iterdir()]
    assert any(name.startswith("/dev/shm/") for name in open_files), open_files


def test_gunicorn_behind_https_proxy(gunicorn: tuple[str, Path]) -> None:
    base, _ = gunicorn
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.20"}
    status, headers, _ = get(base + "/login", proxied)
    assert status == 200
    assert "Secure" in headers["Set-Cookie"]
    assert "HttpOnly" in headers["Set-Cookie"]
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert headers["X-Frame-Options"] == "DENY"

    status, headers, _ = get(base + "/login", {})
    assert "Secure" not in headers["Set-Cookie"]


def test_gunicorn_readyz_details(gunicorn: tuple[str, Path]) -> None:
    base, _ = gunicorn
    status, _, body = get(base + "/readyz", {})
    assert status == 503
    assert json.loads(body)["checks"]["watcher"]["ok"] is False

    status, _, body = get(base + "/readyz", {"X-Forwarded-For": "203.0.113.20"})
    assert status == 503
    assert body == b"not ready\n"


def test_gunicorn_requires_login(gunicorn: tuple[str, Path]) -> None:
    base, _ = gunicorn
    request = urllib.request.Request(base + "/history")
    opener = urllib.request.build_opener(NoRedirect())
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(request, timeout=10)
    with caught.value as response:
        assert response.code == 302
        assert response.headers["Location"].startswith("/login")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
