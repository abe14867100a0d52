"""Checks of the watcher's heartbeat, the ledger and the two systemd units."""

from __future__ import annotations

import datetime as dt
import sqlite3

from fit_converter.doctor.checks.common import (
    HEARTBEAT_MAX_AGE,
    age_text,
    read_heartbeat,
    settings_or_result,
    sudo,
)
from fit_converter.doctor.context import APP_UNIT, WATCHER_UNIT, Context
from fit_converter.doctor.framework import Check, Result

#: A running unit restarted this many times (systemd's NRestarts) gets a warning.
MAX_RESTARTS = 3

#: A conversion still "running" after this long was cut off without being marked.
STUCK_AFTER = dt.timedelta(hours=1)

#: This many failures in a row among the newest entries earn a warning.
FAILURE_STREAK = 3


def check_heartbeat(context: Context) -> Result:
    """Check the watcher's heartbeat, which it rewrites every 30 s and is stale after 120 s."""
    settings = settings_or_result(context)
    if isinstance(settings, Result):
        return settings
    heartbeat = read_heartbeat(settings)
    restart = sudo(context, "systemctl restart fit-converter-watcher")
    journal = "journalctl -u fit-converter-watcher -n 50"

    if heartbeat.permission_denied:
        return Result.cannot_check(
            f"{settings.heartbeat_path} is not readable by user {context.user_name}",
            context.as_root_hint(),
        )
    if heartbeat.data is None:
        return Result.error(
            f"no watcher heartbeat: {heartbeat.problem}",
            f"Start the watcher ({restart}) and read {journal} if it stops again.",
        )

    data = heartbeat.data
    unix = data.get("unix")
    if not isinstance(unix, int | float):
        return Result.error(
            f'{settings.heartbeat_path} has no numeric "unix" time', f"Restart it: {restart}"
        )
    age = context.now().timestamp() - float(unix)
    summary = (
        f"pid {data.get('pid')}, mode {data.get('mode')}, {data.get('pending')} pending, "
        f"version {data.get('version')}"
    )
    details = [f"{key}: {value}" for key, value in sorted(data.items())]
    if age > HEARTBEAT_MAX_AGE:
        return Result.error(
            f"the watcher's last heartbeat is {age_text(age)} old ({summary}): "
            "it is stopped or stuck",
            f"Read why in {journal}, then {restart}",
            details,
        )
    if data.get("paused"):
        return Result.warning(
            f"the watcher is alive but intake is paused ({summary})",
            "Intake pauses when free space falls below FIT_CONVERTER_MIN_FREE_MB; "
            "see folders.free_space.",
            details,
        )
    return Result.ok(f"watcher alive, heartbeat {age_text(max(age, 0))} ago ({summary})", details)


def _parse_time(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def check_last_conversion(context: Context) -> Result:
    """Report the newest successful conversion and warn of failure streaks and stuck entries."""
    settings = settings_or_result(context)
    if isinstance(settings, Result):
        return settings
    path = settings.ledger_path
    if not path.exists():
        if path.parent.exists() and not path.parent.is_dir():
            return Result.error(f"{path.parent} is not a folder", "See folders.state.")
        return Result.ok("no conversions yet (the ledger does not exist)")

    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            newest = connection.execute(
                "SELECT original_name, status, created_at, finished_at, error"
                " FROM conversions ORDER BY id DESC LIMIT 20"
            ).fetchall()
            last_ok = connection.execute(
                "SELECT original_name, finished_at FROM conversions"
                " WHERE status = 'converted' ORDER BY id DESC LIMIT 1"
            ).fetchone()
            running = connection.execute(
                "SELECT original_name, created_at FROM conversions WHERE status = 'running'"
            ).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        if not context.is_root and not context.is_service_user:
            return Result.cannot_check(
                f"cannot open {path} as user {context.user_name} ({error})",
                context.as_root_hint(),
            )
        return Result.error(
            f"cannot read the ledger {path}: {error}",
            f"Check its owner and permissions: ls -l {path}*",
        )

    now = context.now()
    stuck = []
    for name, created_at in running:
        started = _parse_time(created_at)
        if started is not None and now - started > STUCK_AFTER:
            stuck.append(name)

    if last_ok is None:
        last_text = "no successful conversion yet"
    else:
        finished = _parse_time(last_ok[1] or "")
        ago = (
            age_text((now - finished).total_seconds()) + " ago"
            if finished
            else "at an unknown time"
        )
        last_text = f"last conversion {last_ok[0]} {ago}"

    details = [f"{row[1]}: {row[0]} ({row[3] or row[2]}) {row[4] or ''}".rstrip() for row in newest]
    streak = 0
    for row in newest:
        if row[1] != "failed":
            break
        streak += 1

    if stuck:
        return Result.warning(
            f"{len(stuck)} conversion(s) marked running for over an hour ({', '.join(stuck[:3])})",
            "The watcher was probably killed during a conversion; restarting it marks them "
            "interrupted and retries the files: "
            + sudo(context, "systemctl restart fit-converter-watcher"),
            details,
        )
    if streak >= FAILURE_STREAK:
        return Result.warning(
            f"the last {streak} conversions failed; {last_text}",
            "Read the reasons in the failed/ folder's .error.txt files or on the web app's "
            "history page.",
            details,
        )
    return Result.ok(last_text, details)


def _show(context: Context, unit: str) -> dict[str, str]:
    completed = context.command(
        "systemctl",
        "show",
        unit,
        "--property=LoadState,ActiveState,SubState,NRestarts,Result,UnitFileState",
    )
    values = {}
    for line in completed.stdout.splitlines():
        key, _, value = line.partition("=")
        values[key] = value
    return values


def check_unit(context: Context, unit: str) -> Result:
    """Check that a systemd unit is loaded, enabled, active and not restarting in a loop."""
    if not context.has_systemd:
        return Result.cannot_check(
            f"systemd is not running on this machine ({context.systemd_dir} is missing), "
            "so there are no services to check"
        )
    try:
        state = _show(context, unit)
    except FileNotFoundError:
        return Result.cannot_check("systemctl is not installed")

    name = unit.removesuffix(".service")
    journal = f"journalctl -u {name} -n 50 --no-pager"
    restarts = int(state.get("NRestarts", "0") or 0)
    active = state.get("ActiveState", "")
    sub = state.get("SubState", "")

    if state.get("LoadState") == "not-found":
        if not context.env_files:
            return Result.cannot_check(f"{unit} is not installed (a local run without the package)")
        return Result.error(
            f"{unit} is not installed", sudo(context, "apt install --reinstall fit-converter")
        )
    if sub == "auto-restart" or (active == "activating" and restarts > 0):
        return Result.error(
            f"{name} keeps crashing and restarting ({restarts} restarts)",
            f"Read the error in {journal}, fix it, then "
            + sudo(context, f"systemctl restart {name}"),
        )
    if active == "failed":
        return Result.error(
            f"{name} has failed (result: {state.get('Result')})",
            f"Read the error in {journal}, then {sudo(context, f'systemctl restart {name}')}",
        )
    if active != "active":
        return Result.error(
            f"{name} is {active or 'in an unknown state'} ({sub})",
            sudo(context, f"systemctl enable --now {name}"),
        )
    if restarts >= MAX_RESTARTS:
        return Result.warning(
            f"{name} is running but has restarted {restarts} times",
            f"Read why in {journal}",
        )
    if state.get("UnitFileState") not in ("enabled", "static", "enabled-runtime", "", None):
        return Result.warning(
            f"{name} is running but will not start at boot ({state.get('UnitFileState')})",
            sudo(context, f"systemctl enable {name}"),
        )
    return Result.ok(f"{name} is active ({sub}), {restarts} restart(s)")


def unit_checks() -> list[Check]:
    return [
        Check("services.app", "services", "web app service", lambda c: check_unit(c, APP_UNIT)),
        Check(
            "services.watcher",
            "services",
            "watcher service",
            lambda c: check_unit(c, WATCHER_UNIT),
        ),
    ]
