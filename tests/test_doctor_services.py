"""doctor's service checks: systemd units, the watcher's heartbeat and the ledger."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from doctor_helpers import ScriptedRunner, completed, make_context
from fit_converter.doctor.checks.services import (
    check_heartbeat,
    check_last_conversion,
    check_unit,
)
from fit_converter.doctor.context import WATCHER_UNIT, Context, EnvFile
from fit_converter.doctor.framework import Status
from fit_converter.ledger import Ledger


def _systemd(tmp_path: Path, show: str) -> Context:
    """A context where systemd seems to run and ``systemctl show`` prints ``show``."""
    runner = ScriptedRunner({("systemctl", "show"): completed(show)})
    context = make_context(
        tmp_path, runner=runner, env_files=[EnvFile(Path("/etc/fit-converter/watcher.env"))]
    )
    context.systemd_dir = tmp_path / "run-systemd-system"
    context.systemd_dir.mkdir()
    return context


def _show(
    active: str, sub: str, restarts: int = 0, load: str = "loaded", enabled: str = "enabled"
) -> str:
    return (
        f"LoadState={load}\nActiveState={active}\nSubState={sub}\nNRestarts={restarts}\n"
        f"Result=success\nUnitFileState={enabled}\n"
    )


def test_unit_without_systemd(tmp_path: Path) -> None:
    result = check_unit(make_context(tmp_path), WATCHER_UNIT)
    assert result.status is Status.SKIPPED
    assert result.message.startswith("cannot check: systemd is not running")


def test_unit_active(tmp_path: Path) -> None:
    result = check_unit(_systemd(tmp_path, _show("active", "running", 1)), WATCHER_UNIT)
    assert result.status is Status.OK
    assert result.message == "fit-converter-watcher is active (running), 1 restart(s)"


def test_unit_stopped(tmp_path: Path) -> None:
    context = _systemd(tmp_path, _show("inactive", "dead"))
    result = check_unit(context, WATCHER_UNIT)
    assert result.status is Status.ERROR
    assert result.message == "fit-converter-watcher is inactive (dead)"
    assert result.hint is not None
    assert "systemctl enable --now fit-converter-watcher" in result.hint
    assert context.run.calls[0][:3] == ["systemctl", "show", WATCHER_UNIT]  # type: ignore[attr-defined]


def test_unit_restart_loop(tmp_path: Path) -> None:
    result = check_unit(_systemd(tmp_path, _show("activating", "auto-restart", 7)), WATCHER_UNIT)
    assert result.status is Status.ERROR
    assert "keeps crashing and restarting (7 restarts)" in result.message
    assert result.hint is not None
    assert "journalctl -u fit-converter-watcher" in result.hint


def test_unit_failed(tmp_path: Path) -> None:
    result = check_unit(_systemd(tmp_path, _show("failed", "failed")), WATCHER_UNIT)
    assert result.status is Status.ERROR
    assert "has failed" in result.message


def test_unit_many_restarts(tmp_path: Path) -> None:
    result = check_unit(_systemd(tmp_path, _show("active", "running", 5)), WATCHER_UNIT)
    assert result.status is Status.WARNING


def test_unit_disabled(tmp_path: Path) -> None:
    result = check_unit(
        _systemd(tmp_path, _show("active", "running", enabled="disabled")), WATCHER_UNIT
    )
    assert result.status is Status.WARNING
    assert "will not start at boot" in result.message


def test_unit_not_installed(tmp_path: Path) -> None:
    result = check_unit(
        _systemd(tmp_path, _show("inactive", "dead", load="not-found")), WATCHER_UNIT
    )
    assert result.status is Status.ERROR
    assert "is not installed" in result.message


def test_unit_without_systemctl(tmp_path: Path) -> None:
    context = _systemd(tmp_path, "")
    context.run = ScriptedRunner()
    result = check_unit(context, WATCHER_UNIT)
    assert result.status is Status.SKIPPED
    assert result.message == "cannot check: systemctl is not installed"


def _write_heartbeat(context: Context, **fields: object) -> None:
    data = {
        "time": "2026-01-01T00:00:00Z",
        "unix": time.time(),
        "pid": 4242,
        "version": "0.1.0",
        "mode": "inotify",
        "pending": 0,
        "paused": False,
        "last_result": None,
    }
    data.update(fields)
    context.settings().heartbeat_path.write_text(json.dumps(data))


def test_heartbeat_fresh(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    _write_heartbeat(context)
    result = check_heartbeat(context)
    assert result.status is Status.OK
    assert "watcher alive" in result.message
    assert "pid 4242" in result.message


def test_heartbeat_stale(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    _write_heartbeat(context, unix=time.time() - 600)
    result = check_heartbeat(context)
    assert result.status is Status.ERROR
    assert "last heartbeat is 10 min old" in result.message
    assert result.hint is not None
    assert "systemctl restart fit-converter-watcher" in result.hint


def test_heartbeat_missing(tmp_path: Path) -> None:
    result = check_heartbeat(make_context(tmp_path))
    assert result.status is Status.ERROR
    assert "no watcher heartbeat" in result.message


def test_heartbeat_not_json(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.settings().heartbeat_path.write_text("{half")
    result = check_heartbeat(context)
    assert result.status is Status.ERROR
    assert "not valid JSON" in result.message


def test_heartbeat_paused(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    _write_heartbeat(context, paused=True)
    assert check_heartbeat(context).status is Status.WARNING


@pytest.fixture
def ledger_context(tmp_path: Path) -> tuple[Context, Ledger]:
    context = make_context(tmp_path)
    return context, Ledger(context.settings().ledger_path)


def test_last_conversion_none_yet(tmp_path: Path) -> None:
    result = check_last_conversion(make_context(tmp_path))
    assert result.status is Status.OK
    assert "no conversions yet" in result.message
    assert not make_context(tmp_path).settings().ledger_path.exists()


def test_last_conversion_recent(ledger_context: tuple[Context, Ledger]) -> None:
    context, ledger = ledger_context
    entry = ledger.start("a" * 64, "inbox", "ride.fit")
    ledger.finish(entry, status="converted", rows=10)
    result = check_last_conversion(context)
    assert result.status is Status.OK
    assert result.message.startswith("last conversion ride.fit ")


def test_last_conversion_failure_streak(ledger_context: tuple[Context, Ledger]) -> None:
    context, ledger = ledger_context
    ledger.finish(ledger.start("a" * 64, "inbox", "good.fit"), status="converted")
    for number in range(3):
        entry = ledger.start(f"{number}" * 64, "web", f"bad{number}.fit")
        ledger.finish(entry, status="failed", error="not a FIT file")
    result = check_last_conversion(context)
    assert result.status is Status.WARNING
    assert "the last 3 conversions failed" in result.message
    assert "good.fit" in result.message


def test_last_conversion_stuck_running(ledger_context: tuple[Context, Ledger]) -> None:
    context, ledger = ledger_context
    ledger.start("b" * 64, "inbox", "stuck.fit")
    context.now = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    result = check_last_conversion(context)
    assert result.status is Status.WARNING
    assert "marked running for over an hour (stuck.fit)" in result.message


def test_last_conversion_corrupt_ledger(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.settings().ledger_path.write_bytes(b"this is not sqlite" * 100)
    result = check_last_conversion(context)
    assert result.status is Status.ERROR
    assert "cannot read the ledger" in result.message
