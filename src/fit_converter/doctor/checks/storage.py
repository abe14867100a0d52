"""Checks of free space, inotify limits and files waiting in the inbox or in failed/."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fit_converter.doctor.checks.common import (
    age_text,
    read_heartbeat,
    settings_or_result,
    sudo,
)
from fit_converter.doctor.context import Context
from fit_converter.doctor.framework import Result

MIB = 1024 * 1024

#: A file waiting longer than this in the inbox means the watcher is not taking it.
BACKLOG_MAX_AGE = 10 * 60

#: The watcher adds one inotify watch per folder; this leaves room for other programs.
INOTIFY_SPARE_WATCHES = 1024
INOTIFY_MIN_INSTANCES = 16
INOTIFY_SYSCTL_FILE = "/etc/sysctl.d/60-fit-converter-inotify.conf"


def check_free_space(context: Context) -> Result:
    """Compare the free space on every file system the appliance writes to with the floor."""
    settings = settings_or_result(context)
    if isinstance(settings, Result):
        return settings
    floor = settings.min_free_bytes

    seen: set[int] = set()
    lines: list[str] = []
    worst: Result | None = None
    for folder in (settings.inbox, settings.outbox, settings.archive, settings.state_dir):
        try:
            device = folder.stat().st_dev
            usage = os.statvfs(folder)
        except FileNotFoundError:
            continue
        except PermissionError:
            return Result.cannot_check(
                f"{folder} is not accessible to user {context.user_name}", context.as_root_hint()
            )
        if device in seen:
            continue
        seen.add(device)

        free = usage.f_bavail * usage.f_frsize
        lines.append(f"{folder}: {free / MIB:.0f} MiB free, {usage.f_favail} inodes free")
        space_hint = (
            f"Free space on the file system of {folder}: old CSVs and originals can go "
            f"({sudo(context, f'du -sh {settings.archive} {settings.outbox}')} shows how much "
            "they use), or lower FIT_CONVERTER_MIN_FREE_MB."
        )
        if free < floor or usage.f_favail == 0:
            shortage = "no free inodes" if usage.f_favail == 0 else f"{free / MIB:.0f} MiB free"
            worst = Result.error(
                f"{shortage} for {folder}, below the floor of {floor / MIB:.0f} MiB "
                "(FIT_CONVERTER_MIN_FREE_MB): intake is paused",
                space_hint,
            )
        elif free < 2 * floor and (worst is None or worst.status.value != "error"):
            worst = Result.warning(
                f"only {free / MIB:.0f} MiB free for {folder}; intake pauses below "
                f"{floor / MIB:.0f} MiB",
                space_hint,
            )

    if not lines:
        return Result.cannot_check("none of the folders exists yet (see the folder checks)")
    if worst is not None:
        worst.details = lines
        return worst
    return Result.ok("; ".join(line.split(",")[0] for line in lines), lines)


def _count_folders(root: Path, limit: int = 100_000) -> int:
    count = 0
    for _ in os.walk(root):
        count += 1
        if count >= limit:
            break
    return count


def check_inotify(context: Context) -> Result:
    """Check that the inotify limits leave room for one watch per inbox folder."""
    settings = settings_or_result(context)
    if isinstance(settings, Result):
        return settings
    if read_heartbeat(settings).mode == "poll":
        return Result.ok("not used: the watcher polls the inbox")

    limits_dir = context.proc / "sys" / "fs" / "inotify"
    try:
        watches = int((limits_dir / "max_user_watches").read_text())
        instances = int((limits_dir / "max_user_instances").read_text())
    except (OSError, ValueError) as error:
        return Result.cannot_check(f"cannot read the inotify limits in {limits_dir} ({error})")

    folders = _count_folders(settings.inbox) if settings.inbox.is_dir() else 1
    needed = folders + INOTIFY_SPARE_WATCHES
    fix = (
        f"echo 'fs.inotify.max_user_watches=524288' | {sudo(context, 'tee')} "
        f"{INOTIFY_SYSCTL_FILE} && {sudo(context, 'sysctl --system')}"
    )
    message = (
        f"max_user_watches {watches}, max_user_instances {instances}, {folders} inbox folder(s)"
    )
    if watches < needed:
        return Result.error(f"too few inotify watches: {message}", fix)
    if instances < INOTIFY_MIN_INSTANCES:
        return Result.warning(
            f"few inotify instances: {message}",
            f"echo 'fs.inotify.max_user_instances=128' | {sudo(context, 'tee -a')} "
            f"{INOTIFY_SYSCTL_FILE} && {sudo(context, 'sysctl --system')}",
        )
    return Result.ok(message)


def _waiting_files(folder: Path) -> list[tuple[float, Path]]:
    """Return (mtime, path) of the regular, non-hidden files directly in ``folder``."""
    files = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            files.append((entry.stat(follow_symlinks=False).st_mtime, Path(entry.path)))
    return sorted(files)


def check_backlog(context: Context) -> Result:
    """Warn of files waiting long in the inbox or work folder, and of files in failed/."""
    settings = settings_or_result(context)
    if isinstance(settings, Result):
        return settings
    now = time.time()
    try:
        waiting = [
            item
            for folder in (settings.inbox, settings.work)
            if folder.is_dir()
            for item in _waiting_files(folder)
        ]
        failed = [
            item
            for item in (_waiting_files(settings.failed) if settings.failed.is_dir() else [])
            if not item[1].name.endswith(".error.txt")
        ]
    except PermissionError as error:
        return Result.cannot_check(
            f"{error.filename} is not readable by user {context.user_name}",
            context.as_root_hint(),
        )

    details = [f"waiting: {path} ({age_text(now - mtime)} old)" for mtime, path in waiting[:10]]
    details += [f"failed: {path}" for _, path in failed[-10:]]

    if waiting and now - waiting[0][0] > BACKLOG_MAX_AGE:
        oldest_time, oldest = waiting[0]
        return Result.warning(
            f"{len(waiting)} file(s) waiting; the oldest, {oldest.name}, for "
            f"{age_text(now - oldest_time)}",
            "The watcher is not taking files: "
            + sudo(context, "systemctl status fit-converter-watcher")
            + " and journalctl -u fit-converter-watcher -n 50",
            details,
        )
    if failed:
        newest_time, newest = failed[-1]
        return Result.warning(
            f"{len(failed)} file(s) in failed/; the newest, {newest.name}, "
            f"{age_text(now - newest_time)} ago",
            f"Read the reason in {newest}.error.txt; once fixed, move the file back to "
            f"{settings.inbox}/ or delete both files.",
            details,
        )
    return Result.ok(f"{len(waiting)} file(s) waiting, none in failed/", details)
