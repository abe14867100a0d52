"""The web UI in a real headless Chromium against a real gunicorn.

Uses Debian's ``chromium`` (tools/apt-packages-test.txt) through Playwright with
``executable_path``, never a browser downloaded by ``playwright install``. Set
FIT_CONVERTER_SCREENSHOTS_DIR=docs/screenshots to refresh the screenshots in the docs.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import OWNER_PASSWORD, sample
from fit_converter.web.owner import write_password
from helpers import free_port, http_ok, start_module, stop, wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install '.[test]')"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} not found; install the 'chromium' Debian package "
    "(tools/apt-packages-test.txt, installed by make test)",
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """Start the real gunicorn on a free port, with the owner's password already set."""
    env = {
        "FIT_CONVERTER_DATA_DIR": str(tmp_path / "data"),
        "FIT_CONVERTER_STATE_DIR": str(tmp_path / "state"),
        "FLASK_SECRET_KEY": "browser-test-secret-0123456789",
    }
    write_password(tmp_path / "state" / "owner-password.hash", OWNER_PASSWORD)
    port = free_port()
    process = start_module(
        "fit_converter.app", ["--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "app.log"
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: http_ok(base + "/healthz"), what="gunicorn to answer /healthz")
        yield base
    finally:
        assert stop(process) == 0, (tmp_path / "app.log").read_text()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(
            viewport={"width": 1200, "height": 860},
            accept_downloads=True,
            locale="en-GB",
            timezone_id="Europe/Berlin",
        )
        new_page = context.new_page()
        new_page.set_default_timeout(30_000)
        try:
            yield new_page
        finally:
            context.close()
            browser.close()


def screenshot(page: Any, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("FIT_CONVERTER_SCREENSHOTS_DIR", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_upload_history_activity_download(server: str, page: Any, tmp_path: Path) -> None:
    problems: list[str] = []
    page.on(
        "request",
        lambda request: (
            request.url.startswith(server) or problems.append("outside: " + request.url)
        ),
    )

    password_file = tmp_path / "state" / "owner-password.hash"
    password_file.rename(tmp_path / "password.hash")
    page.goto(server + "/upload")
    assert page.url.startswith(server + "/login")
    assert "No password is set yet" in page.inner_text("main")
    assert page.locator("#password").is_disabled()
    screenshot(page, "login-without-password", tmp_path)

    (tmp_path / "password.hash").rename(password_file)
    page.reload()
    assert page.locator("#password").is_enabled()
    screenshot(page, "login", tmp_path)
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "Wrong password."
    page.fill("#password", OWNER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/upload")
    # From here on, any console error (a CSP violation, a script error) fails the test;
    # the wrong password above returns 401, which Chromium logs as an error.
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))

    rides = tmp_path / "rides"
    rides.mkdir()
    long_ride = rides / "Sunday long ride.fit"
    shutil.copy(sample("fitparse/2019-02-17-062644-ELEMNT-297E-195-0.fit"), long_ride)
    short_ride = rides / "Evening spin.fit"
    shutil.copy(sample("fitparse/2015-10-13-08-43-15.fit"), short_ride)
    page.set_input_files("#file-input", [str(long_ride), str(short_ride)])

    rows = page.locator("#file-list li")
    rows.first.wait_for()
    assert rows.count() == 2
    assert page.locator("#file-list progress").count() == 2
    # The CSP forbids eval, so waits use locators rather than JavaScript predicates.
    page.locator("#file-list li.done").nth(1).wait_for(timeout=120_000)
    assert "converted" in rows.nth(0).inner_text()
    assert "13,471 rows" in rows.nth(0).inner_text()
    assert [
        value
        for value in page.locator("#file-list progress").evaluate_all(
            "bars => bars.map(bar => bar.value)"
        )
    ] == [100, 100]

    # Drop a .zip on the drop zone, as a user dragging a Strava export would.
    export = io.BytesIO()
    with zipfile.ZipFile(export, "w") as archive:
        archive.write(short_ride, "activities/dropped ride.fit")
    dropped = page.evaluate_handle(
        """([name, bytes]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], name, {type: "application/zip"}));
            return transfer;
        }""",
        ["export.zip", list(export.getvalue())],
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": dropped})
    page.locator("#file-list li.done").nth(2).wait_for(timeout=60_000)
    assert "dropped ride.fit" in rows.nth(2).inner_text()

    broken = rides / "watch export.fit"
    broken.write_bytes(b"this came from a broken export" * 10)
    page.set_input_files("#file-input", [str(broken)])
    page.wait_for_selector("#file-list li.failed")
    assert "not a FIT file" in page.locator("#file-list li.failed").inner_text()
    screenshot(page, "upload", tmp_path)

    page.click("nav >> text=History")
    page.wait_for_url(server + "/history")
    table = page.locator("table.history").inner_text()
    for name in (
        "Sunday long ride.fit",
        "Evening spin.fit",
        "dropped ride.fit",
        "watch export.fit",
    ):
        assert name in table
    assert page.locator(".status-failed").count() == 1
    assert page.locator("button:has-text('Retry')").count() == 1
    # The File column keeps room for whole words instead of a few letters per line.
    assert page.locator("th.name").bounding_box()["width"] >= 200
    screenshot(page, "history", tmp_path)

    with page.expect_download() as download_info:
        page.click("a:has-text('Evening spin.csv')")
    download = download_info.value
    assert download.suggested_filename == "Evening spin.csv"
    saved = tmp_path / "download.csv"
    download.save_as(saved)
    assert saved.read_text().startswith("timestamp,")
    assert len(saved.read_text().splitlines()) == 222

    page.click("a:has-text('Sunday long ride.fit')")
    page.wait_for_selector("#charts canvas")
    assert page.locator("#charts canvas").count() == 4
    tiles = page.locator(".tiles").inner_text()
    assert "78.94" in tiles
    assert "124" in tiles
    canvas = page.locator("#charts canvas").first
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2)
    assert "Heart rate" in page.locator("#chart-readout").inner_text()
    screenshot(page, "activity", tmp_path)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/upload")
    screenshot(page, "upload-phone", tmp_path)

    page.click("text=Log out")
    page.wait_for_url(server + "/login")
    page.goto(server + "/history")
    assert page.url.startswith(server + "/login")
    assert problems == []


def test_chromium_runs_headless() -> None:
    result = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_ARGS, "--dump-dom", "about:blank"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
