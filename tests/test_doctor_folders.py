"""doctor's folder checks: existence, owner, write test, file system, space, backlog."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from doctor_helpers import make_context
from fit_converter.doctor.checks.folders import check_file_system, check_folder, folder_check
from fit_converter.doctor.checks.storage import check_backlog, check_free_space, check_inotify
from fit_converter.doctor.context import Context
from fit_converter.doctor.framework import Status

needs_root = pytest.mark.skipif(os.getuid() != 0, reason="needs root to switch users and mount")


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A folder every user can traverse, for write tests as ``nobody``."""
    root = Path(tempfile.mkdtemp(prefix="doctor-test-"))
    root.chmod(0o755)
    yield root
    subprocess.run(["chmod", "-R", "u+rwx", str(root)], check=False)
    shutil.rmtree(root, ignore_errors=True)


def _as_nobody(root: Path) -> Context:
    context = make_context(root, service_user="nobody")
    for folder in (root / "data", root / "state", *context.settings().folders()):
        folder.mkdir(parents=True, exist_ok=True)
    return context


def _chown(path: Path, user: str) -> None:
    subprocess.run(["chown", "-R", f"{user}:", str(path)], check=True)


def test_folder_healthy(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    result = folder_check("inbox", "inbox").function(context)
    assert result.status is Status.OK
    assert list(context.settings().inbox.iterdir()) == []


def test_folder_missing(tmp_path: Path) -> None:
    context = make_context(tmp_path, create_folders=False)
    result = folder_check("outbox", "outbox").function(context)
    assert result.status is Status.ERROR
    assert "does not exist" in result.message
    assert result.hint is not None
    expected = f"install -d -o {context.service_user_name} -g {context.service_group_name}"
    assert expected in result.hint


def test_folder_is_a_file(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    archive = context.settings().archive
    archive.rmdir()
    archive.write_text("oops")
    result = check_folder(context, "archive", archive)
    assert result.status is Status.ERROR
    assert "is not a folder" in result.message


@needs_root
def test_folder_writable_as_service_user(shared_root: Path) -> None:
    context = _as_nobody(shared_root)
    _chown(shared_root / "data", "nobody")
    result = check_folder(context, "outbox", context.settings().outbox)
    assert result.status is Status.OK, result.message
    assert "nobody can write" in result.message


@needs_root
def test_folder_read_only_for_service_user(shared_root: Path) -> None:
    context = _as_nobody(shared_root)
    outbox = context.settings().outbox
    _chown(shared_root / "data", "nobody")
    outbox.chmod(0o555)
    result = check_folder(context, "outbox", outbox)
    assert result.status is Status.ERROR
    assert "nobody cannot write to" in result.message
    assert "Permission denied" in result.message
    assert result.hint is not None
    assert f"chown -R nobody:{context.service_group_name} {outbox}" in result.hint


@needs_root
def test_folder_wrong_owner(shared_root: Path) -> None:
    context = _as_nobody(shared_root)
    inbox = context.settings().inbox
    inbox.chmod(0o777)
    result = check_folder(context, "inbox", inbox)
    assert result.status is Status.WARNING
    assert "belongs to uid 0, not to nobody" in result.message


def test_folder_cannot_switch_user(tmp_path: Path) -> None:
    context = make_context(tmp_path, service_user="nobody", uid=1000)
    for folder in context.settings().folders():
        folder.mkdir(parents=True, exist_ok=True)
    running_as_root = os.getuid() == 0
    if running_as_root:
        _chown(tmp_path / "data", "nobody")
    result = check_folder(context, "inbox", context.settings().inbox)
    if running_as_root:
        assert result.status is Status.SKIPPED
        assert result.message.startswith("cannot check: the write test must run as nobody")
    else:
        assert result.status is Status.ERROR


@pytest.fixture
def tmpfs(shared_root: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for the test; skips where mounting is not allowed."""
    mount_point = shared_root / "tmpfs"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path) -> None:
    with (folder / "filler").open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


@needs_root
def test_full_tmpfs_reported(tmpfs: Path) -> None:
    context = make_context(tmpfs, env={"FIT_CONVERTER_MIN_FREE_MB": "1"})
    _fill(tmpfs)
    space = check_free_space(context)
    assert space.status is Status.ERROR
    assert "below the floor of 1 MiB" in space.message
    assert "intake is paused" in space.message
    write = check_folder(context, "outbox", context.settings().outbox)
    assert write.status is Status.ERROR
    assert "is full" in write.message


@needs_root
def test_read_only_file_system(tmpfs: Path) -> None:
    context = make_context(tmpfs)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    result = check_folder(context, "inbox", context.settings().inbox)
    assert result.status is Status.ERROR
    assert "read-only file system" in result.message
    assert result.hint is not None
    assert "remount,rw" in result.hint


def test_free_space_healthy(tmp_path: Path) -> None:
    result = check_free_space(make_context(tmp_path, env={"FIT_CONVERTER_MIN_FREE_MB": "1"}))
    assert result.status is Status.OK
    assert "MiB free" in result.message


def test_free_space_below_floor(tmp_path: Path) -> None:
    context = make_context(tmp_path, env={"FIT_CONVERTER_MIN_FREE_MB": str(10**9)})
    result = check_free_space(context)
    assert result.status is Status.ERROR
    assert "FIT_CONVERTER_MIN_FREE_MB" in result.message


def _fake_proc(root: Path, mounts: str, watches: int = 65536, instances: int = 128) -> Path:
    proc = root / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "mounts").write_text(mounts)
    limits = proc / "sys" / "fs" / "inotify"
    limits.mkdir(parents=True)
    (limits / "max_user_watches").write_text(f"{watches}\n")
    (limits / "max_user_instances").write_text(f"{instances}\n")
    return proc


def _heartbeat(context: Context, mode: str) -> None:
    path = context.settings().heartbeat_path
    path.write_text(json.dumps({"unix": time.time(), "mode": mode, "pid": 1, "pending": 0}))


def test_file_system_local(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.proc = _fake_proc(tmp_path, "/dev/root / ext4 rw 0 0\n")
    result = check_file_system(context)
    assert result.status is Status.OK
    assert "local ext4" in result.message


def test_file_system_network_share_inotify(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    share = str(tmp_path / "data").replace(" ", "\\040")
    context.proc = _fake_proc(tmp_path, f"/dev/root / ext4 rw 0 0\nnas:/x {share} nfs4 rw 0 0\n")
    _heartbeat(context, "inotify")
    result = check_file_system(context)
    assert result.status is Status.ERROR
    assert "nfs4 network share but the watcher uses inotify" in result.message


def test_file_system_network_share_polled(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    share = str(tmp_path / "data")
    context.proc = _fake_proc(tmp_path, f"/dev/root / ext4 rw 0 0\n//nas/x {share} cifs rw 0 0\n")
    _heartbeat(context, "poll")
    assert check_file_system(context).status is Status.OK


def test_inotify_limits_healthy(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.proc = _fake_proc(tmp_path, "")
    assert check_inotify(context).status is Status.OK


def test_inotify_too_few_watches(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.proc = _fake_proc(tmp_path, "", watches=100)
    result = check_inotify(context)
    assert result.status is Status.ERROR
    assert result.hint is not None
    assert "fs.inotify.max_user_watches=524288" in result.hint


def test_inotify_unused_when_polling(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.proc = _fake_proc(tmp_path, "", watches=100)
    _heartbeat(context, "poll")
    assert check_inotify(context).status is Status.OK


def test_backlog_empty(tmp_path: Path) -> None:
    result = check_backlog(make_context(tmp_path))
    assert result.status is Status.OK
    assert result.message == "0 file(s) waiting, none in failed/"


def test_backlog_old_file_waiting(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    waiting = context.settings().inbox / "ride.fit"
    waiting.write_bytes(b"x")
    old = time.time() - 3600
    os.utime(waiting, (old, old))
    (context.settings().inbox / "fresh.fit").write_bytes(b"x")
    result = check_backlog(context)
    assert result.status is Status.WARNING
    assert "2 file(s) waiting; the oldest, ride.fit, for 60 min" in result.message


def test_backlog_failed_files(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    failed = context.settings().failed
    (failed / "broken.fit").write_bytes(b"x")
    (failed / "broken.fit.error.txt").write_text("not a FIT file\n")
    result = check_backlog(context)
    assert result.status is Status.WARNING
    assert "1 file(s) in failed/; the newest, broken.fit" in result.message
    assert result.hint is not None
    assert "broken.fit.error.txt" in result.hint


def test_logs_folder_unused(tmp_path: Path) -> None:
    result = folder_check("logs", "logs_dir").function(make_context(tmp_path))
    assert result.status is Status.OK
    assert result.message == "not used: FIT_CONVERTER_LOG_TO_FILE is off"


def test_logs_folder_checked_when_on(tmp_path: Path) -> None:
    context = make_context(tmp_path, env={"FIT_CONVERTER_LOG_TO_FILE": "true"})
    context.settings().logs_dir.rmdir()
    result = folder_check("logs", "logs_dir").function(context)
    assert result.status is Status.ERROR
    assert "logs folder" in result.message
