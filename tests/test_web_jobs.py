"""The background conversion queue: retries, crashes and recovery after a restart."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import sample
from fit_converter.config import Settings
from fit_converter.intake import process_file
from fit_converter.ledger import Ledger
from fit_converter.web import create_app
from fit_converter.web.jobs import ConversionQueue
from fit_converter.web.staging import StagedFile

SMALL_RIDE = "fitparse/2015-10-13-08-43-15.fit"


def staged_copy(settings: Settings, name: str) -> StagedFile:
    slot = settings.state_dir / "uploads" / "incoming-test" / "00001"
    slot.mkdir(parents=True)
    path = slot / name
    shutil.copy(sample(SMALL_RIDE), path)
    return StagedFile(path, name)


def test_transient_error_is_retried(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def flaky(path: Path, *args: object, **kwargs: object) -> object:
        calls.append(path)
        if len(calls) == 1:
            raise OSError(5, "Input/output error")
        return process_file(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("fit_converter.web.jobs.process_file", flaky)
    ledger = Ledger(settings.ledger_path)
    queue = ConversionQueue(settings, ledger)
    queue.retry_delay = 0.01
    entry_id = queue.submit(staged_copy(settings, "ride.fit"), "web")
    assert queue.wait_idle(60)
    queue.shutdown()

    assert len(calls) == 2
    entry = ledger.get(entry_id)
    assert entry is not None
    assert entry.status == "converted"
    assert (settings.archive / "ride.fit").exists()


def test_lasting_io_error_fails_the_job(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: Path, *args: object, **kwargs: object) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("fit_converter.web.jobs.process_file", broken)
    ledger = Ledger(settings.ledger_path)
    queue = ConversionQueue(settings, ledger)
    queue.retry_delay = 0.01
    entry_id = queue.submit(staged_copy(settings, "ride.fit"), "web")
    assert queue.wait_idle(60)
    queue.shutdown()

    entry = ledger.get(entry_id)
    assert entry is not None
    assert entry.status == "failed"
    assert entry.error is not None
    assert "I/O error after 2 attempts" in entry.error
    assert (settings.failed / "ride.fit").exists()
    assert "No space left" in (settings.failed / "ride.fit.error.txt").read_text()


def test_crash_keeps_the_input(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(path: Path, *args: object, **kwargs: object) -> object:
        raise RuntimeError("decoder bug")

    monkeypatch.setattr("fit_converter.web.jobs.process_file", crash)
    ledger = Ledger(settings.ledger_path)
    queue = ConversionQueue(settings, ledger)
    entry_id = queue.submit(staged_copy(settings, "ride.fit"), "web")
    assert queue.wait_idle(60)
    queue.shutdown()

    entry = ledger.get(entry_id)
    assert entry is not None
    assert entry.status == "failed"
    assert entry.error == "internal error: decoder bug"
    assert (settings.failed / "ride.fit").read_bytes() == sample(SMALL_RIDE).read_bytes()


def test_restart_queues_staged_uploads_again(settings: Settings) -> None:
    ledger = Ledger(settings.ledger_path)
    entry_id = ledger.start("0" * 64, "web", "left behind.fit")
    job_folder = settings.state_dir / "uploads" / f"job-{entry_id}"
    job_folder.mkdir(parents=True)
    shutil.copy(sample(SMALL_RIDE), job_folder / "left behind.fit")
    stale = settings.state_dir / "uploads" / "incoming-abc"
    stale.mkdir()
    (stale / "half.zip").write_bytes(b"PK")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    receiving = settings.state_dir / "uploads" / "incoming-now"
    receiving.mkdir()
    finished = settings.state_dir / "uploads" / "job-999"
    finished.mkdir()

    app = create_app(settings)
    queue = app.extensions["fit_converter"].queue
    assert queue.wait_idle(60)
    queue.shutdown()

    entry = ledger.get(entry_id)
    assert entry is not None
    assert entry.status == "converted"
    assert (settings.outbox / "left behind.csv").exists()
    assert not job_folder.exists()
    assert not stale.exists()
    assert receiving.exists()
    assert not finished.exists()


def test_job_claimed_elsewhere_is_left_alone(settings: Settings) -> None:
    ledger = Ledger(settings.ledger_path)
    entry_id = ledger.start("0" * 64, "web", "busy.fit")
    job_folder = settings.state_dir / "uploads" / f"job-{entry_id}"
    job_folder.mkdir(parents=True)
    shutil.copy(sample(SMALL_RIDE), job_folder / "busy.fit")

    other_process = os.open(job_folder, os.O_RDONLY)
    fcntl.flock(other_process, fcntl.LOCK_EX)
    try:
        queue = ConversionQueue(settings, ledger)
        assert queue.recover() == 1
        assert queue.wait_idle(60)
        queue.shutdown()
    finally:
        os.close(other_process)

    entry = ledger.get(entry_id)
    assert entry is not None
    assert entry.status == "running"
    assert (job_folder / "busy.fit").exists()
