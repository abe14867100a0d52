"""/healthz, /readyz and the token-authenticated JSON API."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from conftest import sample
from fit_converter.config import Settings
from fit_converter.web.tokens import create_token, tokens_path
from web_support import multipart, owner_client_for

SMALL_RIDE = "fitparse/2015-10-13-08-43-15.fit"
REMOTE = {"X-Forwarded-For": "203.0.113.9"}


def write_heartbeat(settings: Settings, age: float) -> None:
    beat = {
        "time": "2026-01-01T00:00:00Z",
        "unix": time.time() - age,
        "pid": 1,
        "version": "test",
        "mode": "inotify",
        "pending": 0,
        "paused": False,
        "last_result": None,
    }
    settings.heartbeat_path.write_text(json.dumps(beat))


def test_healthz_is_open(client: FlaskClient) -> None:
    response = client.get("/healthz", headers=REMOTE)
    assert response.status_code == 200
    assert response.data == b"ok\n"


def test_readyz_ready(client: FlaskClient, settings: Settings) -> None:
    write_heartbeat(settings, age=5)
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json
    assert body["ready"] is True
    assert set(body["checks"]) == {"inbox", "outbox", "free_space", "watcher"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.parametrize("age", [None, 500])
def test_readyz_watcher_missing_or_stale(
    client: FlaskClient, settings: Settings, age: float | None
) -> None:
    if age is not None:
        write_heartbeat(settings, age)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["watcher"]["ok"] is False


def test_readyz_unreadable_heartbeat(client: FlaskClient, settings: Settings) -> None:
    settings.heartbeat_path.write_text("{not json")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "unreadable heartbeat" in response.json["checks"]["watcher"]["detail"]


def test_readyz_outbox_missing(client: FlaskClient, settings: Settings) -> None:
    write_heartbeat(settings, age=1)
    settings.outbox.rmdir()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["outbox"]["ok"] is False
    assert response.json["checks"]["inbox"]["ok"] is True


def test_readyz_low_disk(settings: Settings) -> None:
    write_heartbeat(settings, age=1)
    with owner_client_for(replace(settings, min_free_bytes=2**62)) as (_, client):
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json["checks"]["free_space"]["ok"] is False


def test_readyz_details_only_for_localhost(client: FlaskClient, settings: Settings) -> None:
    write_heartbeat(settings, age=1)
    remote = client.get("/readyz", headers=REMOTE)
    assert remote.status_code == 200
    assert remote.data == b"ready\n"
    settings.heartbeat_path.unlink()
    remote = client.get("/readyz", headers=REMOTE)
    assert remote.status_code == 503
    assert remote.data == b"not ready\n"


@pytest.fixture
def token(settings: Settings) -> str:
    return create_token(tokens_path(settings.state_dir), "tests")


def api_upload(client: FlaskClient, token: str, files: list[tuple[bytes, str]]) -> TestResponse:
    body, content_type = multipart(files)
    return client.post(
        "/api/v1/convert",
        data=body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_api_convert_and_poll(web_app: Flask, client: FlaskClient, token: str) -> None:
    content = sample(SMALL_RIDE).read_bytes()
    response = api_upload(client, token, [(content, "api ride.fit")])
    assert response.status_code == 202
    jobs = response.json["jobs"]
    assert len(jobs) == 1
    assert jobs[0]["source"] == "api"
    assert jobs[0]["url"] == f"http://localhost/api/v1/jobs/{jobs[0]['id']}"

    web_app.extensions["fit_converter"].queue.wait_idle(60)
    auth = {"Authorization": f"Bearer {token}"}
    job = client.get(f"/api/v1/jobs/{jobs[0]['id']}", headers=auth).json
    assert job["status"] == "converted"
    assert job["finished"] is True
    assert job["rows"] == 221
    assert job["error"] is None
    output = job["outputs"][0]
    assert output["name"] == "api ride.csv"

    download = client.get(output["url"], headers=auth)
    assert download.status_code == 200
    assert download.data.startswith(b"timestamp,")
    download.close()
    assert client.get(output["url"]).status_code == 401


def test_api_failed_job_has_reason(web_app: Flask, client: FlaskClient, token: str) -> None:
    response = api_upload(client, token, [(b"no FIT here" * 5, "bad.fit")])
    web_app.extensions["fit_converter"].queue.wait_idle(60)
    job_url = f"/api/v1/jobs/{response.json['jobs'][0]['id']}"
    job = client.get(job_url, headers={"Authorization": f"Bearer {token}"}).json
    assert job["status"] == "failed"
    assert "not a FIT file" in job["error"]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer fitc_wrong", "Basic b3duZXI6cGFzc3dvcmQ=", "fitc_no_scheme"],
)
def test_api_rejects_bad_tokens(client: FlaskClient, token: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/jobs/1", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "create-token" in response.json["hint"]


def test_api_ignores_session_cookie(owner: FlaskClient) -> None:
    assert owner.get("/api/v1/jobs/1").status_code == 401


def test_api_needs_no_csrf_token(client: FlaskClient, token: str) -> None:
    response = api_upload(client, token, [])
    assert response.status_code == 400
    assert response.json["error"] == "no file was sent"


def test_api_upload_rejections(client: FlaskClient, token: str) -> None:
    assert api_upload(client, token, [(b"", "empty.fit")]).status_code == 400
    assert api_upload(client, token, [(b"x", "track.gpx")]).status_code == 415


def test_api_unknown_job(client: FlaskClient, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    response = client.get("/api/v1/jobs/999", headers=auth)
    assert response.status_code == 404
    assert response.json == {"error": "there is no job 999"}
    assert client.get("/api/v1/jobs/999/files/x.csv", headers=auth).status_code == 404


def test_api_routing_errors_are_json(client: FlaskClient, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    wrong_method = client.get("/api/v1/convert", headers=auth)
    assert wrong_method.status_code == 405
    assert wrong_method.mimetype == "application/json"
    assert "method is not allowed" in wrong_method.json["error"]

    unknown = client.get("/api/v1/nothing-here", headers=auth)
    assert unknown.status_code == 404
    assert unknown.mimetype == "application/json"

    page = client.get("/no-such-page")
    assert page.mimetype == "text/html"


def test_api_bad_tokens_are_rate_limited(client: FlaskClient, token: str) -> None:
    for _ in range(20):
        client.get("/api/v1/jobs/1", headers={"Authorization": "Bearer fitc_guess"})
    response = client.get("/api/v1/jobs/1", headers={"Authorization": "Bearer fitc_guess"})
    assert response.status_code == 429
    assert "too many failed requests" in response.json["error"]


def test_api_oversized_upload_is_json(settings: Settings) -> None:
    token = create_token(tokens_path(settings.state_dir), "tests")
    with owner_client_for(replace(settings, max_upload_bytes=4096)) as (_, client):
        response = api_upload(client, token, [(b"x" * 10_000, "big.fit")])
        assert response.status_code == 413
        assert "larger than the limit" in response.json["error"]
