"""The watcher's parts one at a time: mounts, names, retention, ledger, overflow."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path, PurePosixPath

import pytest

from fit_builder import build_fit
from fit_converter.config import Settings, load_settings
from fit_converter.errors import ConfigError
from fit_converter.files import free_stem, remove_abandoned_parts
from fit_converter.intake import process_file
from fit_converter.ledger import Ledger
from fit_converter.watcher.detect import EventBatch
from fit_converter.watcher.mounts import mount_of, parse_mountinfo
from fit_converter.watcher.names import is_ignored_file, is_ignored_folder
from fit_converter.watcher.retention import sweep
from fit_converter.watcher.service import Watcher
from fit_converter.watcher.systemd import Notifier

MOUNTINFO = """\
22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw
30 22 0:26 / /mnt/nas rw,relatime shared:9 - nfs4 nas:/export rw,vers=4.2
31 22 0:27 / /mnt/laptop rw,relatime shared:10 - cifs //laptop/share rw
32 22 0:28 / /mnt/ssh\\040box rw,relatime shared:11 - fuse.sshfs me@box:/ rw
33 30 0:29 / /mnt/nas/local rw,relatime shared:12 - tmpfs tmpfs rw
"""


@pytest.mark.parametrize(
    ("path", "mount_point", "remote"),
    [
        ("/var/lib/fit-converter/data/inbox", "/", False),
        ("/mnt/nas/inbox", "/mnt/nas", True),
        ("/mnt/laptop", "/mnt/laptop", True),
        ("/mnt/ssh box/inbox", "/mnt/ssh box", True),
        ("/mnt/nas/local/inbox", "/mnt/nas/local", False),
    ],
)
def test_mount_of_inbox(path: str, mount_point: str, remote: bool) -> None:
    mount = mount_of(Path(path), parse_mountinfo(MOUNTINFO))
    assert mount is not None
    assert mount.mount_point == Path(mount_point)
    assert mount.is_remote is remote


def test_mountinfo_skips_malformed_lines() -> None:
    assert parse_mountinfo("garbage\n\n1 2 3\n") == []


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("ride.fit", False),
        ("Ride 2024-06-01.FIT", False),
        ("notes.txt", False),
        (".ride.fit", True),
        ("._ride.fit", True),
        ("ride.fit.part", True),
        ("ride.tmp", True),
        ("ride.fit.crdownload", True),
        ("~$ride.fit", True),
        (".~lock.ride.fit#", True),
        ("Thumbs.db", True),
    ],
)
def test_ignored_file_names(name: str, ignored: bool) -> None:
    assert is_ignored_file(name) is ignored


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("alice", False),
        ("@eaDir", True),
        (".stfolder", True),
        (".stversions", True),
        ("#recycle", True),
        ("__MACOSX", True),
        (".fit-converter-work", True),
    ],
)
def test_ignored_folder_names(name: str, ignored: bool) -> None:
    assert is_ignored_folder(name) is ignored


def test_retention_sweep_uses_days(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "old.fit").write_bytes(b"x")
    (tmp_path / "new.fit").write_bytes(b"x")
    arrived = (tmp_path / "new.fit").stat().st_ctime

    assert sweep(tmp_path, 0, now=arrived + 10 * 86400) == []
    assert sweep(tmp_path, 30, now=arrived + 29 * 86400) == []
    deleted = sweep(tmp_path, 30, now=arrived + 31 * 86400)
    assert sorted(path.name for path in deleted) == ["new.fit", "old.fit"]
    assert list(tmp_path.iterdir()) == []


def test_ledger_migrates_old_schema(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE conversions (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " sha256 TEXT NOT NULL, source TEXT NOT NULL, original_name TEXT NOT NULL,"
        " status TEXT NOT NULL, created_at TEXT NOT NULL, finished_at TEXT, rows INTEGER,"
        " seconds REAL, outputs TEXT NOT NULL DEFAULT '[]',"
        " warnings TEXT NOT NULL DEFAULT '[]', stored_input TEXT, error TEXT);"
        "INSERT INTO conversions (sha256, source, original_name, status, created_at)"
        " VALUES ('abc', 'web', 'old.fit', 'converted', '2024-01-01T00:00:00Z');"
    )
    connection.commit()
    connection.close()

    ledger = Ledger(path)
    Ledger(path)  # a second open finds the columns in place
    entry = ledger.get(1)
    assert entry is not None
    assert entry.original_name == "old.fit"
    assert entry.output_stem is None
    assert entry.duplicate_of is None
    assert ledger.find_converted("abc") == entry


def test_ledger_unfinished_and_interrupted(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    inbox_id = ledger.start("abc", "inbox", "a.fit", output_stem="a")
    web_id = ledger.start("abc", "web", "a.fit", output_stem="a (1)")

    assert ledger.output_stems_in_use() == {"a", "a (1)"}
    assert ledger.interrupt_running("inbox") == 1
    web_entry = ledger.get(web_id)
    assert web_entry is not None
    assert web_entry.status == "running"
    unfinished = ledger.find_unfinished("abc", "inbox")
    assert unfinished is not None
    assert unfinished.id == inbox_id
    assert unfinished.status == "interrupted"
    ledger.resume(inbox_id)
    resumed = ledger.get(inbox_id)
    assert resumed is not None
    assert resumed.status == "running"


def test_free_stem_skips_outputs_and_reserved(tmp_path: Path) -> None:
    (tmp_path / "ride.csv").write_text("")
    (tmp_path / "ride (1).laps.csv").write_text("")
    assert free_stem(tmp_path, "ride") == "ride (2)"
    assert free_stem(tmp_path, "ride", [tmp_path / "ride (2)"]) == "ride (3)"
    assert free_stem(tmp_path, "run [1]") == "run [1]"
    assert free_stem(tmp_path / "missing", "ride") == "ride"


def test_abandoned_parts_removed(tmp_path: Path) -> None:
    dead = tmp_path / ".ride.csv.999999999.abcd.part"
    alive = tmp_path / f".run.csv.{os.getppid()}.abcd.part"
    other = tmp_path / ".notes.part"
    for path in (dead, alive, other):
        path.write_text("partial")

    assert remove_abandoned_parts(tmp_path) == [dead]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([alive.name, other.name])


def test_overflow_triggers_full_scan(settings: Settings) -> None:
    watcher = Watcher(settings, Ledger(settings.ledger_path))
    watcher.start()
    try:
        assert watcher.monitor.mode == "inotify"
        (settings.inbox / "missed.fit").write_bytes(build_fit(10))
        watcher.monitor.handle_events(EventBatch(overflow=True))
        assert list(watcher.tracker.candidates) == [PurePosixPath("missed.fit")]
    finally:
        watcher.close()


def test_claim_keeps_subfolder(settings: Settings) -> None:
    watcher = Watcher(settings, Ledger(settings.ledger_path))
    watcher.start()
    try:
        assert watcher.monitor.work.root == settings.work
        (settings.inbox / "a").mkdir()
        (settings.inbox / "a" / "ride.fit").write_bytes(build_fit(10))
        claim = watcher.monitor.work.claim(settings.inbox, PurePosixPath("a/ride.fit"))
        assert claim.path.is_file()
        assert claim.folder == "a"
        assert [item.relative for item in watcher.monitor.work.leftovers()] == [
            PurePosixPath("a/ride.fit")
        ]
    finally:
        watcher.close()


def test_tracker_waits_for_stability(settings: Settings) -> None:
    watcher = Watcher(settings, Ledger(settings.ledger_path))
    path = settings.inbox / "grow.fit"
    path.write_bytes(build_fit(10)[:40])
    now = time.monotonic()
    watcher.tracker.observe(PurePosixPath("grow.fit"), path.stat(), now)
    assert watcher.tracker.due(now) == []
    assert watcher.tracker.next_check(now) == pytest.approx(settings.stable_seconds)


def watcher_env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {
        "FIT_CONVERTER_DATA_DIR": str(tmp_path / "data"),
        "FIT_CONVERTER_STATE_DIR": str(tmp_path / "state"),
        "FLASK_SECRET_KEY": "0123456789abcdef0123",
        **values,
    }


def test_watcher_settings_defaults(tmp_path: Path) -> None:
    loaded = load_settings(watcher_env(tmp_path))
    assert loaded.stable_seconds == 2.0
    assert loaded.incomplete_seconds == 300.0
    assert loaded.rescan_seconds == 300.0
    assert loaded.watch_mode == "auto"
    assert loaded.archive_days == 0
    assert loaded.failed_days == 0


def test_watcher_settings_parsed(tmp_path: Path) -> None:
    loaded = load_settings(
        watcher_env(
            tmp_path,
            FIT_CONVERTER_STABLE_SECONDS="0.5",
            FIT_CONVERTER_RESCAN_SECONDS="60",
            FIT_CONVERTER_WATCH_MODE="Poll",
            FIT_CONVERTER_ARCHIVE_DAYS="30",
            FIT_CONVERTER_FAILED_DAYS="90",
        )
    )
    assert loaded.stable_seconds == 0.5
    assert loaded.rescan_seconds == 60.0
    assert loaded.watch_mode == "poll"
    assert loaded.archive_days == 30
    assert loaded.failed_days == 90


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FIT_CONVERTER_STABLE_SECONDS", "0"),
        ("FIT_CONVERTER_INCOMPLETE_SECONDS", "soon"),
        ("FIT_CONVERTER_RESCAN_SECONDS", "-5"),
        ("FIT_CONVERTER_WATCH_MODE", "fanotify"),
        ("FIT_CONVERTER_ARCHIVE_DAYS", "-1"),
        ("FIT_CONVERTER_FAILED_DAYS", "1.5"),
    ],
)
def test_watcher_settings_rejected(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(watcher_env(tmp_path, **{variable: value}))
    assert variable in str(caught.value)
    assert repr(value) in str(caught.value)


def test_resume_keeps_to_own_folder(settings: Settings) -> None:
    ledger = Ledger(settings.ledger_path)
    content = build_fit(10)
    digest = hashlib.sha256(content).hexdigest()
    ledger.start(digest, "inbox", "alice/ride.fit", output_stem="alice/ride")
    ledger.interrupt_running("inbox")
    (settings.outbox / "bob").mkdir()
    (settings.outbox / "bob" / "ride.csv").write_text("someone else's CSV\n")
    dropped = settings.inbox / "ride.fit"
    dropped.write_bytes(content)

    outcome = process_file(dropped, settings, ledger, source="inbox", folder="bob/", resume=True)

    assert outcome.status == "converted"
    assert (settings.outbox / "bob" / "ride.csv").read_text() == "someone else's CSV\n"
    assert (settings.outbox / "bob" / "ride (1).csv").exists()
    assert (settings.archive / "bob" / "ride.fit").exists()
    entry = ledger.get(outcome.entry_id)
    assert entry is not None
    assert entry.output_stem == "bob/ride (1)"
    assert entry.original_name == "bob/ride.fit"


@pytest.mark.parametrize(
    ("usec", "pid", "interval"),
    [
        ("60000000", None, 30.0),
        ("60000000", "self", 30.0),
        ("60000000", "1", None),
        ("0", None, None),
        ("soon", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval_from_env(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, interval: float | None
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(os.getpid()) if value == "self" else value)
    assert Notifier().watchdog_interval == interval
