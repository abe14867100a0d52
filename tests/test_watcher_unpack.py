"""The real watcher unpacking .zip and .fit.gz files dropped into the inbox."""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fit_builder import build_fit
from helpers import wait_for
from watcher_helpers import WatcherProcess, files_under, visible_files


@pytest.fixture
def watcher(tmp_path: Path) -> Iterator[WatcherProcess]:
    process = WatcherProcess(tmp_path, env={"FIT_CONVERTER_ZIP_MAX_FILES": "3"})
    yield process
    if process.process is not None and process.process.poll() is None:
        assert process.stop() == 0, process.log()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_zip_unpacked_and_archived(watcher: WatcherProcess) -> None:
    watcher.start()
    folder = watcher.inbox / "bob"
    folder.mkdir(parents=True)
    archive = zip_bytes(
        {
            "export/ride one.fit": build_fit(20, seed=1),
            "../../escape.fit": build_fit(20, seed=2),
            "readme.txt": b"hello",
        }
    )
    (folder / "export.zip").write_bytes(archive)

    wait_for(lambda: len(visible_files(watcher.outbox / "bob")) == 2, what="two CSV files in bob/")
    assert visible_files(watcher.outbox / "bob") == ["escape.csv", "ride one.csv"]
    assert (watcher.archive / "bob" / "export.zip").read_bytes() == archive
    assert not (watcher.root / "escape.fit").exists()
    assert not (watcher.data / "escape.fit").exists()
    watcher.wait_statuses(["converted", "converted"])
    watcher.wait_log("unpacked bob/export.zip: 2 FIT file(s) moved into the inbox")
    assert files_under(watcher.failed) == []


def test_fit_gz_unpacked(watcher: WatcherProcess) -> None:
    watcher.start()
    content = build_fit(30)
    compressed = gzip.compress(content)
    (watcher.inbox / "ride.fit.gz").write_bytes(compressed)

    wait_for(lambda: (watcher.outbox / "ride.csv").exists(), what="ride.csv")
    watcher.wait_statuses(["converted"])
    wait_for(lambda: (watcher.archive / "ride.fit.gz").exists(), what="archived ride.fit.gz")
    assert (watcher.archive / "ride.fit.gz").read_bytes() == compressed
    assert (watcher.archive / "ride.fit").read_bytes() == content


def test_bad_archives_go_to_failed(watcher: WatcherProcess) -> None:
    watcher.start()
    too_many = zip_bytes({f"ride {number}.fit": build_fit(5, seed=number) for number in range(4)})
    (watcher.inbox / "too many.zip").write_bytes(too_many)
    (watcher.inbox / "broken.zip").write_bytes(b"PK not a zip at all")
    (watcher.inbox / "broken.fit.gz").write_bytes(b"not gzip")

    for name in ("too many.zip", "broken.zip", "broken.fit.gz"):
        note = watcher.failed / f"{name}.error.txt"
        wait_for(note.exists, what=f"{name}.error.txt")
        text = note.read_text(encoding="utf-8")
        assert "unpack it yourself and drop the .fit files into the inbox" in text, text
        assert (watcher.failed / name).is_file()
    assert "more than the limit of 3" in (watcher.failed / "too many.zip.error.txt").read_text()
    assert visible_files(watcher.outbox) == []
    assert files_under(watcher.inbox) == []
