"""Uploads through the page: FIT files, gzip, zips, limits and hostile names."""

from __future__ import annotations

import gzip
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from conftest import sample
from fit_converter.config import Settings
from fit_converter.web.names import clean_name
from web_support import owner_client_for, upload, wait_job, zip_of

SMALL_RIDE = "fitparse/2015-10-13-08-43-15.fit"
ROWING = "fitparse/20170518-191602-1740899583.fit"


def every_file(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def test_upload_converts_in_background(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    content = sample(SMALL_RIDE).read_bytes()
    response = upload(owner, [(content, "My Ride.fit")])
    assert response.status_code == 202
    jobs = response.json["jobs"]
    assert len(jobs) == 1
    assert response.json["skipped"] == []

    job = wait_job(web_app, owner, jobs[0]["id"])
    assert job["status"] == "converted"
    assert job["name"] == "My Ride.fit"
    assert job["rows"] == 221
    assert job["source"] == "web"
    assert job["outputs"][0]["name"] == "My Ride.csv"
    assert (settings.outbox / "My Ride.csv").read_text().startswith("timestamp,")
    assert (settings.archive / "My Ride.fit").read_bytes() == content
    assert every_file(settings.state_dir / "uploads") == []


def test_two_files_in_one_request(web_app: Flask, owner: FlaskClient, settings: Settings) -> None:
    files = [(sample(SMALL_RIDE).read_bytes(), "a.fit"), (sample(ROWING).read_bytes(), "b.FIT")]
    response = upload(owner, files)
    assert response.status_code == 202
    ids = [job["id"] for job in response.json["jobs"]]
    assert [wait_job(web_app, owner, job_id)["status"] for job_id in ids] == ["converted"] * 2
    assert {path.name for path in settings.outbox.iterdir()} == {"a.csv", "b.csv"}


def test_upload_without_file(owner: FlaskClient) -> None:
    response = upload(owner, [])
    assert response.status_code == 400
    assert response.json["error"] == "no file was sent"


def test_empty_file_is_rejected(owner: FlaskClient, settings: Settings) -> None:
    response = upload(owner, [(b"", "empty.fit")])
    assert response.status_code == 400
    assert "is empty (0 bytes)" in response.json["error"]
    assert every_file(settings.failed) == []
    assert every_file(settings.state_dir / "uploads") == []


def test_not_fit_content_fails_with_reason(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    response = upload(owner, [(b"just some text, not FIT\n" * 3, "notes.fit")])
    assert response.status_code == 202
    job = wait_job(web_app, owner, response.json["jobs"][0]["id"])
    assert job["status"] == "failed"
    assert "not a FIT file" in job["error"]
    assert (settings.failed / "notes.fit").exists()
    assert (settings.failed / "notes.fit.error.txt").exists()


@pytest.mark.parametrize("name", ["track.gpx", "ride.csv", "ride", "ride.fit.exe"])
def test_wrong_suffix_is_rejected(owner: FlaskClient, name: str) -> None:
    response = upload(owner, [(b"data", name)])
    assert response.status_code == 415
    assert "is not a .fit, .fit.gz or .zip file" in response.json["error"]


def test_oversized_upload_is_413(settings: Settings) -> None:
    with owner_client_for(replace(settings, max_upload_bytes=4096)) as (_, client):
        response = upload(client, [(b"x" * 10_000, "big.fit")])
        assert response.status_code == 413
        assert "larger than the limit of 0 MiB" in response.json["error"]
        page = upload(client, [(b"x" * 10_000, "big.fit")], as_json=False)
        assert page.status_code == 413
        assert b"FIT_CONVERTER_MAX_UPLOAD_MB" in page.data


def test_low_disk_space_is_507(settings: Settings) -> None:
    with owner_client_for(replace(settings, min_free_bytes=2**62)) as (_, client):
        response = upload(client, [(sample(SMALL_RIDE).read_bytes(), "a.fit")])
        assert response.status_code == 507
        assert "below the floor" in response.json["error"]


HOSTILE_NAMES = {
    "my long ride.fit": "my long ride.fit",
    "Ölberg-Runde 🚴 früh.fit": "Ölberg-Runde 🚴 früh.fit",
    "tab\tand\x7fdel.fit": "tab and del.fit",
    "%0Aencoded%0D.fit": "%0Aencoded%0D.fit",
    "../../../etc/passwd.fit": "passwd.fit",
    "..fit": "fit",
    "/absolute/path/abs.fit": "abs.fit",
    "nul\x00byte.fit": "nul byte.fit",
    "   .hidden.fit": "hidden.fit",
}


@pytest.mark.parametrize(("raw", "expected"), HOSTILE_NAMES.items())
def test_hostile_names_stay_inside(
    web_app: Flask, owner: FlaskClient, settings: Settings, tmp_path: Path, raw: str, expected: str
) -> None:
    before = set(tmp_path.parent.iterdir())
    response = upload(owner, [(sample(SMALL_RIDE).read_bytes(), raw)])
    if not expected.endswith(".fit"):
        assert response.status_code == 415
        return
    assert response.status_code == 202, response.json
    job = wait_job(web_app, owner, response.json["jobs"][0]["id"])
    assert job["status"] == "converted"
    assert job["name"] == expected
    csv_name = expected[: -len(".fit")] + ".csv"
    assert (settings.outbox / csv_name).is_file()
    assert (settings.archive / expected).is_file()
    assert set(tmp_path.parent.iterdir()) == before
    for path in every_file(tmp_path):
        assert "\n" not in path.name
        assert path.resolve().is_relative_to(tmp_path.resolve())

    history = owner.get("/history")
    assert history.status_code == 200
    download = owner.get(job["outputs"][0]["url"])
    assert download.status_code == 200
    download.close()


def test_fit_gz_upload(web_app: Flask, owner: FlaskClient, settings: Settings) -> None:
    packed = gzip.compress(sample(SMALL_RIDE).read_bytes())
    response = upload(owner, [(packed, "strava 123.fit.gz")])
    assert response.status_code == 202
    job = wait_job(web_app, owner, response.json["jobs"][0]["id"])
    assert job["name"] == "strava 123.fit"
    assert job["status"] == "converted"


def test_bad_gzip_is_rejected(owner: FlaskClient) -> None:
    response = upload(owner, [(b"not gzip at all", "x.fit.gz")])
    assert response.status_code == 400
    assert "not a readable gzip file" in response.json["error"]


def test_zip_export(web_app: Flask, owner: FlaskClient, settings: Settings) -> None:
    archive = zip_of(
        {
            "activities/ride one.fit": sample(SMALL_RIDE).read_bytes(),
            "activities/row.fit.gz": gzip.compress(sample(ROWING).read_bytes()),
            "activities/": b"",
            "readme.txt": b"hello",
            "DI_CONNECT/UploadedFiles_0-_Part1.zip": zip_of(
                {"inner ride.fit": sample(SMALL_RIDE).read_bytes(), "deeper.zip": zip_of({})}
            ),
            "broken inner.zip": b"PK not really",
            "activities/empty.fit": b"",
            "activities/broken.fit.gz": b"not gzip",
        }
    )
    response = upload(owner, [(archive, "export.zip")])
    assert response.status_code == 202
    skipped = response.json["skipped"]
    assert len(skipped) == 5
    assert any(note.startswith("readme.txt: not a .fit") for note in skipped)
    assert any(note.startswith("deeper.zip: a zip nested two levels deep") for note in skipped)
    assert any(note.startswith("broken inner.zip: not a readable zip") for note in skipped)
    assert any(note.startswith("empty.fit: empty") for note in skipped)
    assert any(note.startswith("broken.fit.gz: not readable gzip") for note in skipped)

    jobs = [wait_job(web_app, owner, job["id"]) for job in response.json["jobs"]]
    assert [job["name"] for job in jobs] == ["ride one.fit", "row.fit", "inner ride.fit"]
    # "inner ride.fit" has the content of "ride one.fit".
    assert [job["status"] for job in jobs] == ["converted", "converted", "duplicate"]
    assert every_file(settings.state_dir / "uploads") == []


def test_zip_slip_entries_stay_inside(
    web_app: Flask, owner: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    content = sample(SMALL_RIDE).read_bytes()
    archive = zip_of(
        {
            "../../../../tmp/evil.fit": content,
            "/etc/cron.d/abs.fit": content,
            "..\\..\\win.fit": content,
        }
    )
    before = set(tmp_path.parent.iterdir())
    response = upload(owner, [(archive, "slip.zip")])
    assert response.status_code == 202
    jobs = [wait_job(web_app, owner, job["id"]) for job in response.json["jobs"]]
    assert [job["name"] for job in jobs] == ["evil.fit", "abs.fit", "win.fit"]
    assert not Path("/tmp/evil.fit").exists()
    assert set(tmp_path.parent.iterdir()) == before
    assert {path.name for path in settings.archive.iterdir()} == {"evil.fit", "abs.fit", "win.fit"}


def test_zip_bomb_is_stopped(settings: Settings) -> None:
    with owner_client_for(replace(settings, zip_max_bytes=1024 * 1024)) as (app, client):
        bomb = zip_of({f"layer{number}.fit": b"\0" * (5 * 1024 * 1024) for number in range(3)})
        assert len(bomb) < 100_000
        response = upload(client, [(bomb, "bomb.zip")])
        assert response.status_code == 413
        assert "expands to more than 1 MiB" in response.json["error"]
        assert every_file(settings.state_dir / "uploads") == []
        assert app.extensions["fit_converter"].ledger.count() == 0


def test_zip_bomb_with_lying_header_is_stopped(settings: Settings) -> None:
    with owner_client_for(replace(settings, zip_max_bytes=1024 * 1024)) as (app, client):
        bomb = bytearray(zip_of({"small.fit": b"\0" * (3 * 1024 * 1024)}))
        # Rewrite the uncompressed size in the central directory and the local header to 10.
        for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
            start = bomb.find(signature)
            bomb[start + offset : start + offset + 4] = (10).to_bytes(4, "little")
        response = upload(client, [(bytes(bomb), "liar.zip")])
        assert response.status_code in (400, 413)
        assert every_file(settings.state_dir / "uploads") == []
        assert app.extensions["fit_converter"].ledger.count() == 0


def test_zip_with_too_many_entries(settings: Settings) -> None:
    with owner_client_for(replace(settings, zip_max_files=3)) as (_, client):
        archive = zip_of({f"{number}.fit": b"x" for number in range(4)})
        response = upload(client, [(archive, "many.zip")])
        assert response.status_code == 413
        assert "contains 4 files, more than the limit of 3" in response.json["error"]


def test_zip_without_fit_files(owner: FlaskClient) -> None:
    response = upload(owner, [(zip_of({"notes.txt": b"hi"}), "notes.zip")])
    assert response.status_code == 422
    assert "contains no .fit files" in response.json["error"]


@pytest.mark.parametrize("content", [b"PK\x03\x04 truncated", b"not a zip", b""])
def test_broken_zip_is_rejected(owner: FlaskClient, content: bytes) -> None:
    response = upload(owner, [(content, "broken.zip")])
    assert response.status_code == 400


def test_encrypted_zip_entry_is_skipped(owner: FlaskClient) -> None:
    archive = bytearray(zip_of({"secret.fit": b"x" * 100}, compression=zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):
        start = archive.find(signature)
        archive[start + offset] |= 0x1
    response = upload(owner, [(bytes(archive), "locked.zip")])
    assert response.status_code == 422


def test_form_post_without_javascript(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    response = upload(owner, [(sample(SMALL_RIDE).read_bytes(), "plain.fit")], as_json=False)
    assert response.status_code == 303
    assert response.headers["Location"] == "/history"
    web_app.extensions["fit_converter"].queue.wait_idle(60)
    page = owner.get("/history")
    assert b"1 file(s) queued for conversion." in page.data
    assert b"plain.fit" in page.data


def test_upload_page(owner: FlaskClient) -> None:
    page = owner.get("/upload")
    assert page.status_code == 200
    assert b'type="file"' in page.data
    assert b"multiple" in page.data
    assert b"upload.js" in page.data
    assert b"Nothing converted yet." in page.data
    assert owner.get("/").headers["Location"] == "/upload"


def test_job_status_unknown(owner: FlaskClient) -> None:
    response = owner.get("/jobs/999.json")
    assert response.status_code == 404
    assert "error" in response.json


def test_newline_in_multipart_name(web_app: Flask, owner: FlaskClient) -> None:
    response = upload(owner, [(sample(SMALL_RIDE).read_bytes(), "evil\nname\r.fit")])
    if response.status_code == 202:
        job = wait_job(web_app, owner, response.json["jobs"][0]["id"])
        assert "\n" not in job["name"]
        assert "\r" not in job["name"]
    else:
        assert response.status_code == 400


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("evil\nname\r.fit", "evil name .fit"),
        ("..\\..\\windows\\ride.fit", "ride.fit"),
        ("line\u2028sep.fit", "line sep.fit"),
        ("", "upload.fit"),
        ("...", "upload.fit"),
        ("a/b/../..", "upload.fit"),
        ("x" * 300 + ".fit", "x" * 116 + ".fit"),
        ("Cafe\u0301.fit", "Caf\u00e9.fit"),
    ],
)
def test_clean_name(raw: str, expected: str) -> None:
    assert clean_name(raw) == expected


def test_nested_zip_entries_count_toward_limit(settings: Settings) -> None:
    with owner_client_for(replace(settings, zip_max_files=3)) as (_, client):
        inner = zip_of({f"{number}.fit": b"x" for number in range(3)})
        response = upload(client, [(zip_of({"inner.zip": inner}), "outer.zip")])
        assert response.status_code == 413
        assert "more than the limit of 3" in response.json["error"]
