"""The real gunicorn web app and the real watcher, on temporary folders."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import sample
from fit_converter.web.tokens import create_token, tokens_path
from helpers import free_port, http_ok, multipart_body, start_module, stop, wait_for


@pytest.fixture
def appliance(tmp_path: Path) -> Iterator[dict[str, object]]:
    env = {
        "FIT_CONVERTER_DATA_DIR": str(tmp_path / "data"),
        "FIT_CONVERTER_STATE_DIR": str(tmp_path / "state"),
        "FLASK_SECRET_KEY": "end-to-end-secret-0123456789",
    }
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            start_module(
                "fit_converter.app",
                ["--host", "127.0.0.1", "--port", str(port)],
                env,
                tmp_path / "app.log",
            )
        )
        processes.append(
            start_module(
                "fit_converter.watcher",
                ["--log-level", "INFO", "--poll", "0.5", "--retries", "2"],
                env,
                tmp_path / "watcher.log",
            )
        )
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_ok(base + "/healthz"), what="gunicorn to answer /healthz")
        token = create_token(tokens_path(tmp_path / "state"), "end-to-end")
        yield {
            "base": base,
            "data": tmp_path / "data",
            "logs": tmp_path,
            "processes": processes,
            "token": token,
        }
    finally:
        codes = [stop(process) for process in processes]
        assert codes == [0, 0], (tmp_path / "watcher.log").read_text()


def copy_slowly(source: Path, target: Path, chunks: int = 5, pause: float = 0.3) -> None:
    data = source.read_bytes()
    size = len(data) // chunks + 1
    with target.open("wb") as handle:
        for start in range(0, len(data), size):
            handle.write(data[start : start + size])
            handle.flush()
            time.sleep(pause)


def test_inbox_and_upload_end_to_end(appliance: dict[str, object]) -> None:
    data = appliance["data"]
    assert isinstance(data, Path)
    base = str(appliance["base"])
    inbox, outbox = data / "inbox", data / "outbox"

    dropped = [
        sample("fitparse/2015-10-13-08-43-15.fit"),
        sample("goldencheetah/rides/moxy.fit"),
    ]
    for path in dropped:
        shutil.copy(path, inbox / path.name)
    slow = sample("fitparse/2019-02-17-062644-ELEMNT-297E-195-0.fit")
    copy_slowly(slow, inbox / "Slow Copy.FIT")
    (inbox / "holiday.fit").write_text("not a FIT file at all\n")

    uploaded = sample("fitparse/20170518-191602-1740899583.fit")
    auth = {"Authorization": "Bearer " + str(appliance["token"])}
    body, content_type = multipart_body("file", "rowing session.fit", uploaded.read_bytes())
    request = urllib.request.Request(
        base + "/api/v1/convert",
        data=body,
        headers={"Content-Type": content_type, **auth},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        job = json.load(response)["jobs"][0]
    assert response.status == 202

    def job_finished() -> bool:
        nonlocal job
        with urllib.request.urlopen(urllib.request.Request(job["url"], headers=auth)) as answer:
            job = json.load(answer)
        return bool(job["finished"])

    wait_for(job_finished, what="the API job to finish")
    assert job["status"] == "converted", job
    download = urllib.request.Request(job["outputs"][0]["url"], headers=auth)
    with urllib.request.urlopen(download, timeout=10) as response:
        downloaded = response.read()
    assert downloaded.startswith(b"timestamp,")

    expected = ["2015-10-13-08-43-15.csv", "moxy.csv", "Slow Copy.csv", "rowing session.csv"]
    wait_for(lambda: all((outbox / name).exists() for name in expected), what=str(expected))
    wait_for(lambda: (data / "failed" / "holiday.fit.error.txt").exists(), what="failed note")

    for name in expected:
        lines = (outbox / name).read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("timestamp,")
        assert len(lines) > 100
    assert (outbox / "rowing session.csv").read_bytes() == downloaded

    archived = sorted(path.name for path in (data / "archive").iterdir())
    assert archived == sorted(
        ["2015-10-13-08-43-15.fit", "moxy.fit", "Slow Copy.FIT", "rowing session.fit"]
    )
    assert (data / "failed" / "holiday.fit").exists()
    note = (data / "failed" / "holiday.fit.error.txt").read_text()
    assert "not a FIT file" in note
    assert "What to do:" in note
    wait_for(lambda: not list(inbox.iterdir()), what="empty inbox")
    assert not list(outbox.glob(".*"))


def test_bad_uploads_get_4xx(appliance: dict[str, object]) -> None:
    base = str(appliance["base"])
    cases = [
        ("notes.txt", b"hello", 415, "is not a .fit, .fit.gz or .zip file"),
        ("empty.fit", b"", 400, "is empty"),
    ]
    for filename, content, status, message in cases:
        body, content_type = multipart_body("file", filename, content)
        request = urllib.request.Request(
            base + "/api/v1/convert",
            data=body,
            headers={"Content-Type": content_type, "Authorization": f"Bearer {appliance['token']}"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code == status, filename
        assert message in caught.value.read().decode(), filename
