"""The real watcher process on real folders: how files arrive and what becomes of them."""

from __future__ import annotations

import csv
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fit_builder import build_fit
from helpers import wait_for
from watcher_helpers import WatcherProcess, files_under, visible_files


@pytest.fixture
def watcher(tmp_path: Path) -> Iterator[WatcherProcess]:
    process = WatcherProcess(tmp_path)
    yield process
    if process.process is not None and process.process.poll() is None:
        assert process.stop() == 0, process.log()


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_slow_chunked_copy(watcher: WatcherProcess) -> None:
    watcher.start()
    content = build_fit(3000)
    target = watcher.inbox / "slow.fit"
    chunk = len(content) // 8 + 1
    with target.open("wb") as handle:
        for start in range(0, len(content), chunk):
            handle.write(content[start : start + chunk])
            handle.flush()
            time.sleep(0.1)  # a slow writer, shorter than the stability delay

    wait_for(lambda: (watcher.outbox / "slow.csv").exists(), what="slow.csv")
    watcher.wait_statuses(["converted"])
    assert len(csv_rows(watcher.outbox / "slow.csv")) == 3000
    assert files_under(watcher.archive) == ["slow.fit"]
    assert (watcher.archive / "slow.fit").read_bytes() == content


def test_rename_into_place(watcher: WatcherProcess) -> None:
    watcher.start()
    partial = watcher.inbox / ".ride.fit.Xa3b9"
    partial.write_bytes(build_fit(50))
    os.rename(partial, watcher.inbox / "ride.fit")

    wait_for(lambda: (watcher.outbox / "ride.csv").exists(), what="ride.csv")
    assert ".ride.fit.Xa3b9" not in watcher.log()
    watcher.wait_statuses(["converted"])


def test_two_hundred_files_at_once(watcher: WatcherProcess, tmp_path: Path) -> None:
    watcher.start()
    staging = tmp_path / "staging"
    staging.mkdir()
    for number in range(200):
        (staging / f"ride-{number:03}.fit").write_bytes(build_fit(30, seed=number))
    for path in sorted(staging.iterdir()):
        os.rename(path, watcher.inbox / path.name)

    wait_for(lambda: len(visible_files(watcher.outbox)) == 200, timeout=180, what="200 CSV files")
    wait_for(lambda: len(files_under(watcher.archive)) == 200, what="200 archived inputs")
    assert visible_files(watcher.outbox) == [f"ride-{number:03}.csv" for number in range(200)]
    watcher.wait_statuses(["converted"] * 200)
    assert files_under(watcher.inbox) == []
    assert files_under(watcher.data / ".work") == []


def test_same_file_twice(watcher: WatcherProcess) -> None:
    watcher.start()
    content = build_fit(40)
    (watcher.inbox / "monday.fit").write_bytes(content)
    wait_for(lambda: (watcher.outbox / "monday.csv").exists(), what="monday.csv")

    (watcher.inbox / "monday again.fit").write_bytes(content)
    wait_for(lambda: len(watcher.ledger()) == 2, what="a second ledger entry")
    wait_for(lambda: len(files_under(watcher.archive)) == 2, what="both inputs archived")

    first, second = watcher.ledger()
    assert first["status"] == "converted"
    assert second["status"] == "duplicate"
    assert second["duplicate_of"] == first["id"]
    assert second["sha256"] == first["sha256"]
    assert visible_files(watcher.outbox) == ["monday.csv"]
    assert files_under(watcher.archive) == ["monday again.fit", "monday.fit"]
    watcher.wait_log("duplicate monday again.fit (sha256 " + first["sha256"][:12])


def test_name_collision_gets_number(watcher: WatcherProcess) -> None:
    watcher.start()
    (watcher.inbox / "ride.fit").write_bytes(build_fit(20, seed=1))
    wait_for(lambda: (watcher.outbox / "ride.csv").exists(), what="ride.csv")
    first_csv = (watcher.outbox / "ride.csv").read_bytes()

    (watcher.inbox / "ride.fit").write_bytes(build_fit(20, seed=2))
    wait_for(lambda: (watcher.outbox / "ride (1).csv").exists(), what="ride (1).csv")
    wait_for(lambda: len(files_under(watcher.archive)) == 2, what="both inputs archived")

    assert (watcher.outbox / "ride.csv").read_bytes() == first_csv
    assert files_under(watcher.archive) == ["ride (1).fit", "ride.fit"]
    watcher.wait_statuses(["converted", "converted"])


def test_non_fit_file_fails_alone(watcher: WatcherProcess) -> None:
    watcher.start()
    (watcher.inbox / "notes.txt").write_text("shopping list\n")
    (watcher.inbox / "good.fit").write_bytes(build_fit(20))

    note = watcher.failed / "notes.txt.error.txt"
    wait_for(note.exists, what="notes.txt.error.txt")
    wait_for(lambda: (watcher.outbox / "good.csv").exists(), what="good.csv")
    text = note.read_text(encoding="utf-8")
    assert "File: notes.txt" in text
    assert "Reason: not a FIT file" in text
    assert "What to do:" in text
    assert "Converter: fit-converter " in text
    assert "Failed: " in text
    assert (watcher.failed / "notes.txt").read_text() == "shopping list\n"

    (watcher.inbox / "later.fit").write_bytes(build_fit(20, seed=5))
    wait_for(lambda: (watcher.outbox / "later.csv").exists(), what="later.csv after the failure")
    wait_for(
        lambda: sorted(watcher.statuses()) == ["converted", "converted", "failed"],
        what="two converted entries and one failed entry",
    )
    assert watcher.log().count("claimed notes.txt") == 1


def test_growth_after_long_pause(tmp_path: Path) -> None:
    watcher = WatcherProcess(tmp_path, args=["--incomplete-wait", "60"]).start()
    try:
        content = build_fit(2000)
        half = len(content) // 2
        target = watcher.inbox / "paused.fit"
        with target.open("wb") as handle:
            handle.write(content[:half])
            handle.flush()
            # The watcher logs that it waits once the stability delay has passed.
            watcher.wait_log(f"waiting for paused.fit: {half} of {len(content)} bytes")
            handle.write(content[half:])

        wait_for(lambda: (watcher.outbox / "paused.csv").exists(), what="paused.csv")
        assert len(csv_rows(watcher.outbox / "paused.csv")) == 2000
        watcher.wait_statuses(["converted"])
    finally:
        assert watcher.stop() == 0, watcher.log()


def test_truncated_file_taken_after_wait(tmp_path: Path) -> None:
    watcher = WatcherProcess(tmp_path, args=["--incomplete-wait", "1"]).start()
    try:
        content = build_fit(500)
        (watcher.inbox / "cut.fit").write_bytes(content[: len(content) // 2])

        wait_for(lambda: (watcher.outbox / "cut.csv").exists(), what="cut.csv")
        rows = csv_rows(watcher.outbox / "cut.csv")
        assert 100 < len(rows) < 500
        watcher.wait_statuses(["converted"])
        assert "although it is shorter than its FIT header declares" in watcher.log()
    finally:
        assert watcher.stop() == 0, watcher.log()


IGNORED = [
    ".hidden.fit",
    "._ride.fit",
    "ride.fit.part",
    "ride.tmp",
    "ride.fit.crdownload",
    "~$ride.fit",
    ".~lock.ride.fit#",
    "@eaDir/thumb.fit",
    ".stfolder/marker.fit",
    ".stversions/old.fit",
    "#recycle/deleted.fit",
    "__MACOSX/ride.fit",
]


def test_ignored_names_and_folders(watcher: WatcherProcess, tmp_path: Path) -> None:
    for name in IGNORED:
        path = watcher.inbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(build_fit(10, seed=len(name)))
    (watcher.inbox / "empty.fit").write_bytes(b"")
    # A symbolic link is skipped: claiming it would move the link, not the file.
    (tmp_path / "elsewhere.fit").write_bytes(build_fit(10, seed=99))
    (watcher.inbox / "link.fit").symlink_to(tmp_path / "elsewhere.fit")
    watcher.start()
    (watcher.inbox / "late link.fit").symlink_to(tmp_path / "elsewhere.fit")

    (watcher.inbox / "real.fit").write_bytes(build_fit(10))
    wait_for(lambda: (watcher.outbox / "real.csv").exists(), what="real.csv")
    watcher.wait_statuses(["converted"])

    assert files_under(watcher.inbox) == sorted(
        [*IGNORED, "empty.fit", "late link.fit", "link.fit"]
    )
    assert [row["original_name"] for row in watcher.ledger()] == ["real.fit"]


def test_subfolders_created_later(watcher: WatcherProcess, tmp_path: Path) -> None:
    watcher.start()
    nested = watcher.inbox / "alice" / "2024"
    nested.mkdir(parents=True)
    (nested / "ride.fit").write_bytes(build_fit(20, seed=1))

    prepared = tmp_path / "bob"
    (prepared / "indoor").mkdir(parents=True)
    (prepared / "run.fit").write_bytes(build_fit(20, seed=2))
    (prepared / "indoor" / "row.fit").write_bytes(build_fit(20, seed=3))
    shutil.move(prepared, watcher.inbox / "bob")

    expected = ["alice/2024/ride.csv", "bob/indoor/row.csv", "bob/run.csv"]
    wait_for(lambda: visible_files(watcher.outbox) == expected, what=str(expected))
    wait_for(lambda: len(files_under(watcher.archive)) == 3, what="3 archived inputs")
    assert files_under(watcher.archive) == [
        "alice/2024/ride.fit",
        "bob/indoor/row.fit",
        "bob/run.fit",
    ]
    names = sorted(row["original_name"] for row in watcher.ledger())
    assert names == ["alice/2024/ride.fit", "bob/indoor/row.fit", "bob/run.fit"]


def test_oneshot_processes_and_exits(watcher: WatcherProcess) -> None:
    watcher.inbox.mkdir(parents=True)
    (watcher.inbox / "a.fit").write_bytes(build_fit(20, seed=1))
    (watcher.inbox / "b.fit").write_bytes(build_fit(20, seed=2))
    watcher.args = ["--oneshot"]

    watcher.start(wait_ready=False)
    assert watcher.wait_exit() == 0, watcher.log()

    assert visible_files(watcher.outbox) == ["a.csv", "b.csv"]
    assert files_under(watcher.inbox) == []
    watcher.wait_statuses(["converted", "converted"])


def test_heartbeat_notify_and_sigterm(watcher: WatcherProcess) -> None:
    watcher.start()
    lines = watcher.notify_lines()
    assert lines[0] == "READY=1"
    assert lines[1].startswith("STATUS=inotify: 0 pending")

    (watcher.inbox / "beat.fit").write_bytes(build_fit(20))
    wait_for(lambda: (watcher.outbox / "beat.csv").exists(), what="beat.csv")
    watcher.wait_statuses(["converted"])
    wait_for(lambda: "WATCHDOG=1" in watcher.notify_lines(), what="WATCHDOG=1")
    wait_for(
        lambda: any("last: beat.fit converted" in line for line in watcher.notify_lines()),
        what="STATUS= with the last result",
    )

    beat = watcher.heartbeat()
    assert watcher.process is not None
    assert beat["pid"] == watcher.process.pid
    assert beat["mode"] == "inotify"
    assert beat["paused"] is False
    assert isinstance(beat["pending"], int)
    assert abs(beat["unix"] - time.time()) < 120
    assert beat["time"].endswith("Z")
    assert beat["version"]

    assert watcher.stop() == 0
    assert "STOPPING=1" in watcher.notify_lines()
    assert watcher.heartbeat()["last_result"]["file"] == "beat.fit"
    assert watcher.heartbeat()["last_result"]["status"] == "converted"
    assert "watcher stopped" in watcher.log()


def test_second_instance_refused(watcher: WatcherProcess, tmp_path: Path) -> None:
    watcher.start()
    second = WatcherProcess(tmp_path)
    second.log_path = tmp_path / "second.log"
    second.start(wait_ready=False)
    assert second.wait_exit() == 1
    assert "another watcher is running" in second.log()
