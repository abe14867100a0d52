"""The real watcher process under crashes, full disks, read-only folders and lost inboxes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fit_builder import build_fit
from helpers import wait_for
from watcher_helpers import WatcherProcess, files_under, visible_files

#: Records in a file whose conversion lasts a few seconds (3 to 5 s with fitdecode on
#: a shared 2-core Xeon), long enough to signal or kill the watcher while it converts.
#: NOTE: a much faster decoder shortens that window; raise the count if these tests
#: start to report that the conversion finished first.
LONG_RECORDS = 100_000


def run_mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """Collect mount points that the test makes; unmount them all at the end."""
    mounted: list[Path] = []
    yield mounted
    for path in reversed(mounted):
        unmount(path)


def mount_or_skip(mounts: list[Path], target: Path, *args: str) -> None:
    try:
        run_mount(*args, str(target))
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or error
        pytest.skip(f"cannot mount {target} (needs root and mount support): {detail}")
    mounts.append(target)


def test_kill_during_conversion_then_restart(tmp_path: Path) -> None:
    watcher = WatcherProcess(tmp_path).start()
    content = build_fit(2 * LONG_RECORDS)
    staged = tmp_path / "big.fit"
    staged.write_bytes(content)
    os.rename(staged, watcher.inbox / "big.fit")

    watcher.wait_log("converting big.fit")
    watcher.kill()
    assert not (watcher.outbox / "big.csv").exists(), "conversion finished before the kill"
    assert files_under(watcher.inbox) == []
    assert [Path(name).name for name in files_under(watcher.data / ".work")] == ["big.fit"]

    watcher.start()
    wait_for(lambda: (watcher.outbox / "big.csv").exists(), timeout=120, what="big.csv")
    wait_for(lambda: files_under(watcher.archive) == ["big.fit"], what="big.fit archived")
    assert watcher.stop() == 0, watcher.log()

    assert files_under(watcher.outbox) == ["big.csv"]
    assert (watcher.archive / "big.fit").read_bytes() == content
    lines = (watcher.outbox / "big.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 * LONG_RECORDS + 1
    assert files_under(watcher.data / ".work") == []
    assert files_under(watcher.inbox) == []
    watcher.wait_statuses(["converted"])
    assert "resuming big.fit" in watcher.log()


def test_read_only_outbox(tmp_path: Path, mounts: list[Path]) -> None:
    watcher = WatcherProcess(tmp_path, args=["--retries", "1"])
    watcher.outbox.mkdir(parents=True)
    mount_or_skip(mounts, watcher.outbox, "--bind", str(watcher.outbox))
    run_mount("-o", "remount,bind,ro", str(watcher.outbox))
    watcher.start()
    try:
        # A retry succeeds once the outbox is writable again.
        (watcher.inbox / "first.fit").write_bytes(build_fit(20, seed=1))
        watcher.wait_log("retrying first.fit")
        run_mount("-o", "remount,bind,rw", str(watcher.outbox))
        wait_for(lambda: (watcher.outbox / "first.csv").exists(), what="first.csv")

        # Without that, the file goes to failed/ after the retries, with a note.
        run_mount("-o", "remount,bind,ro", str(watcher.outbox))
        (watcher.inbox / "second.fit").write_bytes(build_fit(20, seed=2))
        note = watcher.failed / "second.fit.error.txt"
        wait_for(note.exists, what="second.fit.error.txt")
        text = note.read_text(encoding="utf-8")
        assert "Read-only file system" in text
        assert "after 2 attempts" in text
        assert "move this file back into the inbox" in text
        assert (watcher.failed / "second.fit").exists()
        watcher.wait_statuses(["converted", "failed"])
        assert files_under(watcher.data / ".work") == []
    finally:
        assert watcher.stop() == 0, watcher.log()


def fill(disk: Path, leave_free: int) -> Path:
    """Write a filler file so that about ``leave_free`` bytes stay free on ``disk``."""
    free = shutil.disk_usage(disk).free
    filler = disk / "filler.bin"
    with filler.open("wb") as handle:
        handle.truncate(0)
        handle.write(b"\0" * max(0, free - leave_free))
    return filler


def test_full_disk_pauses_and_resumes(tmp_path: Path, mounts: list[Path]) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mount_or_skip(mounts, disk, "-t", "tmpfs", "-o", "size=12m", "tmpfs")
    watcher = WatcherProcess(
        tmp_path,
        env={
            "FIT_CONVERTER_DATA_DIR": str(disk / "data"),
            "FIT_CONVERTER_INBOX": str(tmp_path / "inbox"),
            "FIT_CONVERTER_MIN_FREE_MB": "1",
        },
    )
    watcher.data = disk / "data"
    watcher.start()
    try:
        # Below the floor: intake pauses and the file stays in the inbox.
        filler = fill(disk, 2**19)
        watcher.wait_log("pausing intake")
        (watcher.inbox / "small.fit").write_bytes(build_fit(20))
        watcher.wait_log("seen small.fit")
        wait_for(lambda: watcher.heartbeat()["paused"] is True, what="paused heartbeat")
        assert files_under(watcher.inbox) == ["small.fit"]
        filler.unlink()
        watcher.wait_log("resuming intake")
        wait_for(lambda: (watcher.outbox / "small.csv").exists(), what="small.csv")

        # Above the floor, but the CSV (about 2.7 MiB) does not fit: ENOSPC pauses intake.
        filler = fill(disk, 2 * 2**20)
        (watcher.inbox / "large.fit").write_bytes(build_fit(70_000))
        watcher.wait_log("large.fit (sha256")
        watcher.wait_log("waits in the work folder until space is freed")
        assert visible_files(watcher.outbox) == ["small.csv"]
        filler.unlink()
        wait_for(lambda: (watcher.outbox / "large.csv").exists(), timeout=60, what="large.csv")
        wait_for(lambda: "large.fit" in files_under(watcher.archive), what="large.fit archived")
        lines = (watcher.outbox / "large.csv").read_text(encoding="utf-8").splitlines()
        assert len(lines) == 70_001
        assert files_under(watcher.outbox) == ["large.csv", "small.csv"]
        watcher.wait_statuses(["converted", "converted"])
    finally:
        assert watcher.stop() == 0, watcher.log()


def test_inbox_deleted_and_recreated(tmp_path: Path) -> None:
    watcher = WatcherProcess(tmp_path, args=["--poll", "0.5"]).start()
    try:
        shutil.rmtree(watcher.inbox)
        watcher.wait_log("was deleted: created it again")
        wait_for(watcher.inbox.is_dir, what="the inbox to exist again")
        (watcher.inbox / "after-delete.fit").write_bytes(build_fit(20, seed=1))
        wait_for(lambda: (watcher.outbox / "after-delete.csv").exists(), what="after-delete.csv")

        # Replaced by another folder of the same name, as a restore from backup does.
        os.rename(watcher.inbox, tmp_path / "old-inbox")
        replacement = tmp_path / "new-inbox"
        replacement.mkdir()
        os.rename(replacement, watcher.inbox)
        (watcher.inbox / "after-replace.fit").write_bytes(build_fit(20, seed=2))
        wait_for(lambda: (watcher.outbox / "after-replace.csv").exists(), what="after-replace.csv")
        # Depending on when the watcher looks between the two renames, it finds the
        # inbox replaced, missing and back, or missing and (after the poll interval)
        # creates one that the second rename replaces. Each way it watches the new one.
        log = watcher.log()
        noticed = [
            "was replaced or remounted" in log,
            "is back: watching it again" in log,
            log.count("created it again") == 2,
        ]
        assert any(noticed), log
        watcher.wait_statuses(["converted", "converted"])
    finally:
        assert watcher.stop() == 0, watcher.log()


def test_inbox_remounted(tmp_path: Path, mounts: list[Path]) -> None:
    watcher = WatcherProcess(tmp_path).start()
    try:
        mount_or_skip(mounts, watcher.inbox, "-t", "tmpfs", "-o", "size=4m", "tmpfs")
        watcher.wait_log("was replaced or remounted")
        (watcher.inbox / "on-mount.fit").write_bytes(build_fit(20))
        wait_for(lambda: (watcher.outbox / "on-mount.csv").exists(), what="on-mount.csv")
        wait_for(lambda: files_under(watcher.archive) == ["on-mount.fit"], what="archived")
    finally:
        assert watcher.stop() == 0, watcher.log()


def test_polling_mode(tmp_path: Path) -> None:
    watcher = WatcherProcess(tmp_path, args=["--mode", "poll", "--poll", "0.2"]).start()
    try:
        assert "by polling (set by FIT_CONVERTER_WATCH_MODE" in watcher.log()
        assert watcher.heartbeat()["mode"] == "poll"
        (watcher.inbox / "polled.fit").write_bytes(build_fit(20, seed=1))
        (watcher.inbox / "sub").mkdir()
        (watcher.inbox / "sub" / "nested.fit").write_bytes(build_fit(20, seed=2))
        wait_for(
            lambda: visible_files(watcher.outbox) == ["polled.csv", "sub/nested.csv"],
            what="polled.csv and sub/nested.csv",
        )
        assert any(line.startswith("STATUS=poll:") for line in watcher.notify_lines())
    finally:
        assert watcher.stop() == 0, watcher.log()


def test_sigterm_finishes_current_file(tmp_path: Path) -> None:
    watcher = WatcherProcess(tmp_path).start()
    (watcher.inbox / "long.fit").write_bytes(build_fit(LONG_RECORDS))
    watcher.wait_log("converting long.fit")

    assert watcher.process is not None
    watcher.process.send_signal(signal.SIGTERM)
    assert watcher.wait_exit() == 0, watcher.log()

    assert files_under(watcher.outbox) == ["long.csv"]
    assert files_under(watcher.archive) == ["long.fit"]
    assert watcher.statuses() == ["converted"]


def test_second_sigterm_abandons_file(tmp_path: Path) -> None:
    watcher = WatcherProcess(tmp_path).start()
    (watcher.inbox / "long.fit").write_bytes(build_fit(LONG_RECORDS))
    watcher.wait_log("converting long.fit")

    assert watcher.process is not None
    watcher.process.send_signal(signal.SIGTERM)
    watcher.wait_log("finishing the current file, then stopping")
    watcher.process.send_signal(signal.SIGTERM)
    assert watcher.wait_exit() == 0, watcher.log()
    assert "abandoned long.fit" in watcher.log()
    assert files_under(watcher.outbox) == []
    assert [Path(name).name for name in files_under(watcher.data / ".work")] == ["long.fit"]

    watcher.start()
    wait_for(lambda: files_under(watcher.archive) == ["long.fit"], timeout=60, what="archived")
    watcher.wait_statuses(["converted"])
    assert watcher.stop() == 0, watcher.log()
    assert files_under(watcher.outbox) == ["long.csv"]


def test_fuse_inbox_is_polled(tmp_path: Path, mounts: list[Path]) -> None:
    if shutil.which("bindfs") is None:
        pytest.skip("bindfs is not installed (tools/apt-packages-test.txt lists it)")
    underlying = tmp_path / "share"
    underlying.mkdir()
    watcher = WatcherProcess(tmp_path, args=["--poll", "0.2"])
    watcher.inbox.mkdir(parents=True)
    try:
        subprocess.run(
            ["bindfs", str(underlying), str(watcher.inbox)],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as error:
        pytest.skip(f"cannot mount bindfs on {watcher.inbox}: {error.stderr}")
    mounts.append(watcher.inbox)

    watcher.start()
    try:
        assert "by polling (chosen for fuse at" in watcher.log()
        # Written beside the FUSE mount, as another machine would, so no inotify event.
        (underlying / "remote.fit").write_bytes(build_fit(20))
        wait_for(lambda: (watcher.outbox / "remote.csv").exists(), what="remote.csv")
        wait_for(lambda: files_under(watcher.archive) == ["remote.fit"], what="archived")
        assert files_under(underlying) == []
    finally:
        assert watcher.stop() == 0, watcher.log()


def test_bind_mounted_inbox(tmp_path: Path, mounts: list[Path]) -> None:
    source = tmp_path / "volume"
    source.mkdir()
    (source / "waiting.fit").write_bytes(build_fit(20, seed=1))
    watcher = WatcherProcess(tmp_path)
    watcher.inbox.mkdir(parents=True)
    mount_or_skip(mounts, watcher.inbox, "--bind", str(source))
    run_mount("-o", "remount,bind,ro", str(watcher.inbox))

    watcher.start()
    try:
        # Read-only: the file stays in the inbox and is tried again with backoff.
        watcher.wait_log("waiting.fit stays in the inbox: cannot claim it")
        assert files_under(source) == ["waiting.fit"]

        # Writable: rename() across the bind mount fails with EXDEV, so the watcher
        # claims into a work folder inside the inbox.
        run_mount("-o", "remount,bind,rw", str(watcher.inbox))
        wait_for(lambda: (watcher.outbox / "waiting.csv").exists(), what="waiting.csv")
        watcher.wait_log("(another mount): claiming files into")
        (watcher.inbox / "next.fit").write_bytes(build_fit(20, seed=2))
        wait_for(lambda: (watcher.outbox / "next.csv").exists(), what="next.csv")
        watcher.wait_statuses(["converted", "converted"])
        assert files_under(source) == []
    finally:
        assert watcher.stop() == 0, watcher.log()


def test_file_set_aside_after_three_crashes(tmp_path: Path) -> None:
    watcher = WatcherProcess(tmp_path).start()
    (watcher.inbox / "crashy.fit").write_bytes(build_fit(LONG_RECORDS))
    for crash in range(1, 4):
        wait_for(
            lambda crash=crash: watcher.log().count("converting crashy.fit") == crash,
            what=f"conversion attempt {crash}",
        )
        watcher.kill()
        assert not (watcher.outbox / "crashy.csv").exists(), "conversion finished first"
        watcher.start()

    note = watcher.failed / "crashy.fit.error.txt"
    wait_for(note.exists, what="crashy.fit.error.txt")
    assert watcher.stop() == 0, watcher.log()
    assert "the watcher stopped 3 times while converting this file" in note.read_text()
    assert files_under(watcher.failed) == ["crashy.fit", "crashy.fit.error.txt"]
    assert files_under(watcher.outbox) == []
    assert files_under(watcher.data / ".work") == []
    assert watcher.statuses() == ["failed"]
    assert watcher.ledger()[0]["interruptions"] == 3
