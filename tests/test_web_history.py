"""History page: listing, downloads, .zip of several, retry, delete, paging."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from conftest import sample
from fit_converter.config import Settings
from fit_converter.intake import process_file
from fit_converter.ledger import Ledger
from web_support import csrf_token, upload, wait_job

SMALL_RIDE = "fitparse/2015-10-13-08-43-15.fit"
ROWING = "fitparse/20170518-191602-1740899583.fit"


def convert(web_app: Flask, owner: FlaskClient, path: str, name: str) -> dict[str, object]:
    response = upload(owner, [(sample(path).read_bytes(), name)])
    assert response.status_code == 202
    return wait_job(web_app, owner, response.json["jobs"][0]["id"])


def test_history_lists_newest_first(web_app: Flask, owner: FlaskClient, settings: Settings) -> None:
    convert(web_app, owner, SMALL_RIDE, "first.fit")
    convert(web_app, owner, ROWING, "second.fit")
    inbox_copy = settings.inbox / "from inbox.fit"
    shutil.copy(sample(SMALL_RIDE), inbox_copy)
    process_file(inbox_copy, settings, Ledger(settings.ledger_path), source="inbox")

    page = owner.get("/history").data.decode()
    positions = [page.index(name) for name in ("from inbox.fit", "second.fit", "first.fit")]
    assert positions == sorted(positions)
    assert ">inbox<" in page
    assert ">web<" in page
    assert "1,641" in page
    assert "status-converted" in page
    assert "3 conversions" in page


def test_history_shows_failure_reason_and_retry(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    response = upload(owner, [(b"not a FIT file at all" * 4, "broken.fit")])
    job = wait_job(web_app, owner, response.json["jobs"][0]["id"])
    page = owner.get("/history").data.decode()
    assert "status-failed" in page
    assert "not a FIT file" in page
    assert f"/history/{job['id']}/retry" in page


def test_long_error_is_collapsed(owner: FlaskClient, settings: Settings) -> None:
    ledger = Ledger(settings.ledger_path)
    long_error = "not a FIT file: " + "the header is missing " * 10 + "END OF REASON"
    long_id = ledger.start("3" * 64, "inbox", "long.fit")
    ledger.finish(long_id, status="failed", error=long_error)
    short_id = ledger.start("4" * 64, "inbox", "short.fit")
    ledger.finish(short_id, status="failed", error="empty file")

    page = owner.get("/history").data.decode()
    row = page[page.index(f'id="entry-{long_id}"') :]
    row = row[: row.index("</tr>")]
    assert '<details class="reason"><summary>not a FIT file: the header' in row
    assert "END OF REASON</p></details>" in row
    assert '<p class="reason">empty file</p>' in page
    assert "style=" not in page


def test_download_each_output(web_app: Flask, owner: FlaskClient, settings: Settings) -> None:
    job = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    response = owner.get(f"/history/{job['id']}/files/ride.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data == (settings.outbox / "ride.csv").read_bytes()
    response.close()


def test_download_refuses_other_files(
    web_app: Flask, owner: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    job = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    (tmp_path / "secret.csv").write_text("secret")
    (settings.outbox / "other.csv").write_text("not this entry's")
    for name in ["../../secret.csv", "other.csv", "ledger.sqlite3", "%2e%2e/secret.csv"]:
        assert owner.get(f"/history/{job['id']}/files/{name}").status_code == 404, name
    assert owner.get("/history/999/files/ride.csv").status_code == 404


def test_download_after_csv_deleted(web_app: Flask, owner: FlaskClient, settings: Settings) -> None:
    job = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    (settings.outbox / "ride.csv").unlink()
    assert owner.get(f"/history/{job['id']}/files/ride.csv").status_code == 404
    assert owner.get(f"/history/{job['id']}/outputs.zip").status_code == 404


def test_zip_of_one_entry(web_app: Flask, owner: FlaskClient) -> None:
    job = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    response = owner.get(f"/history/{job['id']}/outputs.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert archive.namelist() == ["ride.csv"]
    response.close()


def test_zip_of_selected_entries(web_app: Flask, owner: FlaskClient) -> None:
    first = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    second = convert(web_app, owner, ROWING, "row.fit")
    convert(web_app, owner, SMALL_RIDE, "not selected.fit")
    token = csrf_token(owner, "/history")
    response = owner.post(
        "/history/zip",
        data={"csrf_token": token, "entry": [str(first["id"]), str(second["id"]), "x", "999"]},
    )
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert sorted(archive.namelist()) == ["ride.csv", "row.csv"]
        assert archive.read("row.csv").startswith(b"timestamp,")
    response.close()


def test_zip_of_nothing_selected(owner: FlaskClient) -> None:
    token = csrf_token(owner, "/history")
    response = owner.post("/history/zip", data={"csrf_token": token})
    assert response.status_code == 303
    assert b"Select at least one" in owner.get("/history").data


def test_zip_without_csrf_is_400(owner: FlaskClient) -> None:
    assert owner.post("/history/zip", data={"entry": "1"}).status_code == 400


def test_retry_converts_a_repaired_file(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    response = upload(owner, [(b"garbage that is not FIT" * 3, "later.fit")])
    failed = wait_job(web_app, owner, response.json["jobs"][0]["id"])
    assert failed["status"] == "failed"
    stored = settings.failed / "later.fit"
    assert (settings.failed / "later.fit.error.txt").exists()
    # A newer converter could read the file now; here the bytes themselves get fixed.
    shutil.copy(sample(SMALL_RIDE), stored)

    token = csrf_token(owner, "/history")
    retried = owner.post(f"/history/{failed['id']}/retry", data={"csrf_token": token})
    assert retried.status_code == 303
    web_app.extensions["fit_converter"].queue.wait_idle(60)
    assert not stored.exists()
    assert not (settings.failed / "later.fit.error.txt").exists()
    assert (settings.archive / "later.fit").exists()
    assert (settings.outbox / "later.csv").exists()
    page = owner.get("/history").data.decode()
    assert "Converting later.fit again." in page
    assert page.count("later.fit") >= 2


def test_retry_keeps_inbox_subfolder(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    dropped = settings.inbox / "bob" / "later.fit"
    dropped.parent.mkdir(parents=True)
    dropped.write_bytes(b"garbage that is not FIT" * 3)
    ledger = Ledger(settings.ledger_path)
    failed = process_file(dropped, settings, ledger, source="inbox", folder="bob")
    assert failed.status == "failed"
    stored = settings.failed / "bob" / "later.fit"
    assert stored.is_file()
    shutil.copy(sample(SMALL_RIDE), stored)

    token = csrf_token(owner, "/history")
    retried = owner.post(f"/history/{failed.entry_id}/retry", data={"csrf_token": token})
    assert retried.status_code == 303
    web_app.extensions["fit_converter"].queue.wait_idle(60)
    assert (settings.outbox / "bob" / "later.csv").is_file()
    assert (settings.archive / "bob" / "later.fit").is_file()
    assert not stored.exists()


def test_retry_only_failed_entries(web_app: Flask, owner: FlaskClient, settings: Settings) -> None:
    job = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    token = csrf_token(owner, "/history")
    assert owner.post(f"/history/{job['id']}/retry", data={"csrf_token": token}).status_code == 409
    assert owner.post("/history/999/retry", data={"csrf_token": token}).status_code == 404

    response = upload(owner, [(b"garbage that is not FIT" * 3, "gone.fit")])
    failed = wait_job(web_app, owner, response.json["jobs"][0]["id"])
    (settings.failed / "gone.fit").unlink()
    gone = owner.post(f"/history/{failed['id']}/retry", data={"csrf_token": token})
    assert gone.status_code == 410


def test_delete_removes_outputs_and_original(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    job = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    owner.get(f"/activity/{job['id']}.json")
    token = csrf_token(owner, "/history")
    response = owner.post(f"/history/{job['id']}/delete", data={"csrf_token": token})
    assert response.status_code == 303
    assert not (settings.outbox / "ride.csv").exists()
    assert not (settings.archive / "ride.fit").exists()
    assert not list((settings.state_dir / "activity-cache").iterdir())
    assert owner.get(f"/jobs/{job['id']}.json").status_code == 404
    assert b"Deleted ride.fit and 2 file(s)." in owner.get("/history").data


def test_delete_refuses_running_and_unknown(owner: FlaskClient, settings: Settings) -> None:
    running = Ledger(settings.ledger_path).start("0" * 64, "inbox", "busy.fit")
    token = csrf_token(owner, "/history")
    assert owner.post(f"/history/{running}/delete", data={"csrf_token": token}).status_code == 409
    assert owner.post("/history/999/delete", data={"csrf_token": token}).status_code == 404


def test_delete_leaves_files_outside_data_folders(
    owner: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "precious.fit"
    outside.write_text("keep me")
    ledger = Ledger(settings.ledger_path)
    entry_id = ledger.start("1" * 64, "cli", "precious.fit")
    ledger.finish(entry_id, status="failed", stored_input=str(outside), error="test")
    token = csrf_token(owner, "/history")
    assert owner.post(f"/history/{entry_id}/delete", data={"csrf_token": token}).status_code == 303
    assert outside.read_text() == "keep me"


def test_running_entries_refresh_the_page(owner: FlaskClient, settings: Settings) -> None:
    Ledger(settings.ledger_path).start("2" * 64, "inbox", "busy.fit")
    page = owner.get("/history").data.decode()
    assert 'data-refresh="5"' in page
    assert "status-running" in page


def test_history_pages(owner: FlaskClient, settings: Settings) -> None:
    ledger = Ledger(settings.ledger_path)
    for number in range(60):
        entry_id = ledger.start(f"{number:064d}", "inbox", f"file {number:02d}.fit")
        ledger.finish(entry_id, status="failed", error="test entry")
    first = owner.get("/history").data.decode()
    assert "file 59.fit" in first
    assert "file 09.fit" not in first
    assert "Page 1 of 2" in first
    second = owner.get("/history?page=2").data.decode()
    assert "file 09.fit" in second
    assert "file 59.fit" not in second
    assert owner.get("/history?page=999").status_code == 200
    assert owner.get("/history?page=abc").status_code == 200


def test_empty_history(owner: FlaskClient) -> None:
    page = owner.get("/history")
    assert page.status_code == 200
    assert b"Nothing here yet." in page.data


def convert_in_subfolder(settings: Settings, folder: str, name: str) -> int:
    dropped = settings.inbox / folder / name
    dropped.parent.mkdir(parents=True)
    shutil.copy(sample(SMALL_RIDE), dropped)
    outcome = process_file(
        dropped, settings, Ledger(settings.ledger_path), source="inbox", folder=folder
    )
    assert outcome.status == "converted"
    return outcome.entry_id


def test_subfolder_outputs_downloadable(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    entry_id = convert_in_subfolder(settings, "bob smith/2024 ß", "hrv data.FIT")
    csv = settings.outbox / "bob smith" / "2024 ß" / "hrv data.csv"
    assert csv.is_file()

    page = owner.get("/history").data.decode()
    link = f"/history/{entry_id}/files/bob%20smith/2024%20%C3%9F/hrv%20data.csv"
    assert link in page
    assert f'name="entry" value="{entry_id}"' in page

    response = owner.get(link)
    assert response.status_code == 200
    assert response.data == csv.read_bytes()
    response.close()

    activity = owner.get(f"/activity/{entry_id}").data.decode()
    assert link in activity

    with_zip = owner.get(f"/history/{entry_id}/outputs.zip")
    with zipfile.ZipFile(io.BytesIO(with_zip.data)) as archive:
        assert archive.namelist() == ["bob smith/2024 ß/hrv data.csv"]
    with_zip.close()

    job = owner.get(f"/jobs/{entry_id}.json").json
    assert job["outputs"][0]["name"] == "bob smith/2024 ß/hrv data.csv"


def test_subfolder_download_refuses_traversal(
    web_app: Flask, owner: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    entry_id = convert_in_subfolder(settings, "bob", "ride.fit")
    (settings.outbox / "bob" / "other.csv").write_text("not this entry's")
    (tmp_path / "secret.csv").write_text("secret")
    names = [
        "ride.csv",
        "bob/other.csv",
        "bob/../bob/ride.csv",
        "bob/%2e%2e/%2e%2e/secret.csv",
    ]
    for name in names:
        assert owner.get(f"/history/{entry_id}/files/{name}").status_code == 404, name
    response = owner.get(f"/history/{entry_id}/files/bob/ride.csv")
    assert response.status_code == 200
    response.close()


def test_duplicate_row_links_original(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    original = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    dropped = settings.inbox / "again.fit"
    shutil.copy(sample(SMALL_RIDE), dropped)
    outcome = process_file(
        dropped, settings, Ledger(settings.ledger_path), source="inbox", skip_duplicates=True
    )
    assert outcome.status == "duplicate"

    page = owner.get("/history").data.decode()
    row = page[page.index(f'id="entry-{outcome.entry_id}"') :]
    row = row[: row.index("</tr>")]
    assert f"/activity/{original['id']}" in row
    assert f"/history/{original['id']}/files/ride.csv" in row
    assert f'name="entry" value="{outcome.entry_id}"' in row

    token = csrf_token(owner, "/history")
    response = owner.post(
        "/history/zip",
        data={"csrf_token": token, "entry": [str(original["id"]), str(outcome.entry_id)]},
    )
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert archive.namelist() == ["ride.csv"]
    response.close()


def test_upload_of_converted_content_is_duplicate(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    original = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    again = convert(web_app, owner, SMALL_RIDE, "ride copy.fit")
    assert again["status"] == "duplicate"
    assert again["duplicate_of"] == original["id"]
    assert again["outputs"] == original["outputs"]
    assert again["activity_url"] == f"/activity/{original['id']}"
    assert not (settings.outbox / "ride copy.csv").exists()
    assert (settings.archive / "ride copy.fit").is_file()


def test_upload_after_csv_removed_converts_again(
    web_app: Flask, owner: FlaskClient, settings: Settings
) -> None:
    convert(web_app, owner, SMALL_RIDE, "ride.fit")
    (settings.outbox / "ride.csv").unlink()
    again = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    assert again["status"] == "converted"
    assert (settings.outbox / "ride.csv").is_file()


def test_duplicate_of_deleted_entry(web_app: Flask, owner: FlaskClient, settings: Settings) -> None:
    original = convert(web_app, owner, SMALL_RIDE, "ride.fit")
    dropped = settings.inbox / "again.fit"
    shutil.copy(sample(SMALL_RIDE), dropped)
    ledger = Ledger(settings.ledger_path)
    outcome = process_file(dropped, settings, ledger, source="inbox", skip_duplicates=True)
    assert outcome.status == "duplicate"
    ledger.delete(int(str(original["id"])))

    page = owner.get("/history").data.decode()
    row = page[page.index(f'id="entry-{outcome.entry_id}"') :]
    row = row[: row.index("</tr>")]
    assert f"entry {original['id']} (deleted)" in row
    assert "/files/" not in row
    assert owner.get(f"/jobs/{outcome.entry_id}.json").json["outputs"] == []
