"""Activity page and its JSON: summary values, chart series, fallbacks and errors."""

from __future__ import annotations

import shutil

from flask import Flask
from flask.testing import FlaskClient

from conftest import sample
from fit_converter.config import Settings
from fit_converter.web.activity import MAX_POINTS
from fit_converter.web.activity_views import local_start
from web_support import upload, wait_job

SMALL_RIDE = "fitparse/2015-10-13-08-43-15.fit"
ELEMNT = "fitparse/2019-02-17-062644-ELEMNT-297E-195-0.fit"


def convert(web_app: Flask, owner: FlaskClient, path: str, name: str) -> int:
    response = upload(owner, [(sample(path).read_bytes(), name)])
    job = wait_job(web_app, owner, response.json["jobs"][0]["id"])
    assert job["status"] == "converted"
    return int(job["id"])


def test_activity_summary_from_session(web_app: Flask, owner: FlaskClient) -> None:
    entry_id = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    data = owner.get(f"/activity/{entry_id}.json").json
    summary = data["summary"]
    assert summary["sport"] == "cycling"
    assert summary["start"] == "2015-10-13T15:43:15Z"
    assert summary["distance_m"] == 11536.43
    assert summary["ascent_m"] == 66
    assert summary["elapsed_seconds"] == 1623.198
    assert summary["max_speed"] == 13.784
    assert data["origin"] == "fit"
    assert data["records"] == 221
    assert set(data["series"]) == {"speed", "altitude", "distance"}
    assert len(data["seconds"]) == 221
    assert data["seconds"][0] == 0

    page = owner.get(f"/activity/{entry_id}").data.decode()
    assert "11.54" in page
    assert "0:27:03" in page
    assert "Cycling" in page
    assert "chart.js" in page
    assert f"/activity/{entry_id}.json" in page
    assert f"/history/{entry_id}/files/ride.csv" in page


def test_activity_series_and_local_time(web_app: Flask, owner: FlaskClient) -> None:
    entry_id = convert(web_app, owner, ELEMNT, "long ride.fit")
    data = owner.get(f"/activity/{entry_id}.json").json
    assert set(data["series"]) >= {"heart_rate", "power", "speed", "altitude"}
    assert len(data["seconds"]) <= MAX_POINTS
    assert data["records"] == 13471
    assert data["utc_offset_seconds"] == 8 * 3600
    assert data["summary"]["avg_heart_rate"] == 124
    assert data["summary"]["max_power"] == 668

    page = owner.get(f"/activity/{entry_id}").data.decode()
    assert "Sun 17 Feb 2019, 14:26 (UTC+08:00)" in page
    assert "668" in page


def test_activity_falls_back_to_csv(web_app: Flask, owner: FlaskClient, settings: Settings) -> None:
    entry_id = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    (settings.archive / "ride.fit").unlink()
    data = owner.get(f"/activity/{entry_id}.json").json
    assert data["origin"] == "csv"
    assert data["records"] == 221
    assert data["summary"]["distance_m"] == 11536.43
    assert data["summary"]["start"] == "2015-10-13T15:43:15Z"


def test_activity_is_cached(web_app: Flask, owner: FlaskClient, settings: Settings) -> None:
    entry_id = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    first = owner.get(f"/activity/{entry_id}.json").json
    (settings.archive / "ride.fit").unlink()
    (settings.outbox / "ride.csv").unlink()
    assert owner.get(f"/activity/{entry_id}.json").json == first


def test_activity_unavailable(web_app: Flask, owner: FlaskClient, settings: Settings) -> None:
    entry_id = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    shutil.rmtree(settings.archive)
    (settings.outbox / "ride.csv").unlink()
    response = owner.get(f"/activity/{entry_id}")
    assert response.status_code == 410
    assert b"cannot be read" in response.data
    assert owner.get(f"/activity/{entry_id}.json").status_code == 410


def test_activity_of_failed_or_unknown_entry(web_app: Flask, owner: FlaskClient) -> None:
    response = upload(owner, [(b"not FIT" * 10, "bad.fit")])
    job = wait_job(web_app, owner, response.json["jobs"][0]["id"])
    assert owner.get(f"/activity/{job['id']}").status_code == 409
    assert owner.get("/activity/999").status_code == 404
    assert owner.get("/activity/999.json").status_code == 404


def test_activity_csv_fallback_picks_records_table(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    entry_id = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    ledger = web_app.extensions["fit_converter"].ledger
    entry = ledger.get(entry_id)
    laps = settings.outbox / "ride.laps.csv"
    laps.write_text("timestamp,total_distance\n2015-10-13T15:43:15Z,1\n")
    ledger.finish(
        entry_id,
        status="converted",
        rows=entry.rows,
        outputs=[str(laps), *entry.outputs],
        stored_input=None,
    )
    data = owner.get(f"/activity/{entry_id}.json").json
    assert data["origin"] == "csv"
    assert data["records"] == 221


def test_activity_ignores_invalid_offset(web_app: Flask, owner: FlaskClient) -> None:
    # Zwift writes activity.local_timestamp 0, an offset of about -27 years.
    entry_id = convert(web_app, owner, "fitparse/null_compressed_speed_dist.fit", "zwift.fit")
    data = owner.get(f"/activity/{entry_id}.json").json
    assert data["utc_offset_seconds"] is None

    response = owner.get(f"/activity/{entry_id}")
    assert response.status_code == 200
    assert "UTC-" not in response.data.decode()


def test_local_start_rejects_invalid_offset() -> None:
    data = {"summary": {"start": "2017-10-05T00:04:07Z"}, "utc_offset_seconds": -876098089}
    assert local_start(data) == ("2017-10-05T00:04:07Z", None)
