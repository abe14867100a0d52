"""Logging: journald priorities, plain lines, the rotating file, rate limits, redaction."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from fit_converter import logs
from fit_converter.config import Settings
from fit_converter.logs import RateLimitFilter, log_startup, redact, register_secret, setup_logging

SCRIPT = textwrap.dedent(
    """
    import logging
    from fit_converter.logs import setup_logging
    setup_logging("DEBUG")
    log = logging.getLogger("fit_converter.watcher")
    log.debug("scanning inbox")
    log.info("converted ride.fit (sha256 0123456789ab)")
    log.warning("ride.fit is still growing")
    try:
        raise ValueError("bad byte at 42")
    except ValueError:
        log.exception("conversion of ride.fit failed")
    log.critical("giving up")
    """
)


def _run_script(env: dict[str, str]) -> list[str]:
    base = {key: value for key, value in os.environ.items() if key != "JOURNAL_STREAM"}
    finished = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return finished.stderr.splitlines()


def test_journald_priorities() -> None:
    lines = _run_script({"JOURNAL_STREAM": "8:12345"})
    assert lines[0] == "<7>fit_converter.watcher: scanning inbox"
    assert lines[1] == "<6>fit_converter.watcher: converted ride.fit (sha256 0123456789ab)"
    assert lines[2] == "<4>fit_converter.watcher: ride.fit is still growing"
    assert lines[3].startswith("<3>fit_converter.watcher: conversion of ride.fit failed")
    assert lines[4] == "<2>fit_converter.watcher: giving up"
    assert len(lines) == 5


def test_journald_traceback_one_record() -> None:
    record = _run_script({"JOURNAL_STREAM": "8:12345"})[3]
    assert "Traceback (most recent call last):" in record
    assert record.endswith("ValueError: bad byte at 42")


def test_plain_lines_outside_systemd() -> None:
    lines = _run_script({})
    assert lines[1].endswith(
        "INFO    fit_converter.watcher: converted ride.fit (sha256 0123456789ab)"
    )
    assert lines[1][:4].isdigit()
    assert not lines[1].startswith("<")
    assert "Traceback (most recent call last):" in lines


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_rotating_file(
    tmp_path: Path, restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "LOG_FILE_MAX_BYTES", 400)
    setup_logging("INFO", logs_dir=tmp_path / "logs", service="watcher")
    log = logging.getLogger("fit_converter.test")
    for number in range(20):
        log.info("converted file-%02d.fit", number)
    names = sorted(path.name for path in (tmp_path / "logs").iterdir())
    assert names[0] == "watcher.log"
    assert "watcher.log.1" in names
    assert len(names) <= 1 + logs.LOG_FILE_BACKUPS
    assert "converted file-19.fit" in (tmp_path / "logs" / "watcher.log").read_text()


def test_rate_limit_repeats() -> None:
    now = [0.0]
    limiter = RateLimitFilter(60, clock=lambda: now[0])

    def record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord("fit_converter.watcher", level, __file__, 1, message, None, None)

    assert limiter.filter(record("cannot write to outbox"))
    for _ in range(5):
        assert not limiter.filter(record("cannot write to outbox"))
    assert limiter.filter(record("another error"))
    assert limiter.filter(record("an info line", logging.INFO))
    assert limiter.filter(record("an info line", logging.INFO))

    now[0] = 61.0
    again = record("cannot write to outbox")
    assert limiter.filter(again)
    assert again.getMessage() == "cannot write to outbox (repeated 5 more time(s) before)"


def test_rate_limit_judges_record_once(tmp_path: Path, restore_logging: None) -> None:
    setup_logging("INFO", logs_dir=tmp_path, service="app")
    log = logging.getLogger("fit_converter.test")
    log.error("outbox is read-only")
    log.error("outbox is read-only")
    text = (tmp_path / "app.log").read_text()
    assert text.count("outbox is read-only") == 1


def test_rate_limit_bounded_memory() -> None:
    limiter = RateLimitFilter(60, max_keys=10, clock=lambda: 0.0)
    for number in range(100):
        limiter.filter(logging.LogRecord("x", logging.ERROR, __file__, 1, f"e{number}", None, None))
    assert len(limiter._seen) <= 10


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("FLASK_SECRET_KEY=0f3c9a1b7d2e4f6a8b0c", "0f3c9a1b7d2e4f6a8b0c"),
        ("login with password: hunter2hunter2", "hunter2hunter2"),
        ("headers {'Authorization': 'Bearer abc.def.ghi'}", "abc.def.ghi"),
        ("Authorization: Bearer tok_0123456789", "tok_0123456789"),
        ("GET /api/jobs?token=s3cr3t-t0ken&page=2", "s3cr3t-t0ken"),
        ("hash scrypt:32768:8:1$salt123$0a1b2c3d4e5f", "$0a1b2c3d4e5f"),
    ],
)
def test_redact_patterns(text: str, hidden: str) -> None:
    redacted = redact(text)
    assert hidden not in redacted
    assert logs.REDACTED in redacted


def test_redact_keeps_ordinary_lines() -> None:
    line = "converted ride.fit (sha256 0123456789ab): 3600 records rows"
    assert redact(line) == line


def test_registered_secret_never_logged(
    tmp_path: Path, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "d41d8cd98f00b204e9800998ecf8427e"
    register_secret(secret)
    setup_logging("INFO", logs_dir=tmp_path, service="app")
    log = logging.getLogger("fit_converter.test")
    log.info("config loaded with %s", secret)
    try:
        raise RuntimeError(f"signing with {secret} failed")
    except RuntimeError:
        log.exception("session error")
    assert secret not in capsys.readouterr().err
    assert secret not in (tmp_path / "app.log").read_text()


def test_startup_summary(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("fit_converter.watcher")
    with caplog.at_level(logging.INFO):
        log_startup(log, settings, service="watcher", mode="inotify")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "watcher starting" in text
    assert "mode inotify" in text
    assert f"inbox {settings.inbox}" in text
    assert "retries 1" in text
    assert "secret key set" in text
    assert settings.secret_key not in redact(text)
    assert settings.secret_key not in text
