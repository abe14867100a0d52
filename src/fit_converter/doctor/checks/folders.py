"""Checks of the data and state folders: existence, owner, write access and file system."""

from __future__ import annotations

import errno
import os
import secrets
import sys
from pathlib import Path

from fit_converter.doctor.checks.common import read_heartbeat, settings_or_result, sudo
from fit_converter.doctor.context import Context
from fit_converter.doctor.framework import Check, CheckFunction, Result
from fit_converter.watcher.mounts import Mount

#: Creates, syncs and deletes one file in the folder given as argument, and prints the
#: errno of a failure. It runs as the service user, so it uses nothing but the stdlib.
WRITE_TEST_CODE = """
import os, sys
path = os.path.join(sys.argv[1], sys.argv[2])
try:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"fit-converter doctor write test\\n")
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(path)
except OSError as error:
    print(error.errno, error.strerror)
    sys.exit(1)
print("ok")
"""

#: Folder attributes of Settings, with the name the report uses.
FOLDERS = {
    "inbox": "inbox",
    "outbox": "outbox",
    "archive": "archive",
    "failed": "failed",
    "work": "work",
    "state": "state_dir",
    "logs": "logs_dir",
}


def _write_test(context: Context, folder: Path) -> tuple[int, str] | None:
    """Write and delete a file in ``folder`` as the service user.

    Returns None on success, (errno, reason) on failure, and raises LookupError when
    this process can neither be nor become the service user.
    """
    name = f".doctor-write-test-{os.getpid()}-{secrets.token_hex(4)}"
    if context.is_service_user:
        try:
            descriptor = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(descriptor, b"fit-converter doctor write test\n")
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
                os.unlink(folder / name)
        except OSError as error:
            return error.errno or 0, error.strerror or str(error)
        return None

    if not context.is_root or context.service_user is None:
        raise LookupError(context.service_user_name)

    # setpriv changes user without PAM, so the test leaves no session in the journal. The
    # system Python runs the test because the service user may not reach this venv.
    user = context.service_user
    completed = context.command(
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--init-groups",
        "--",
        str(context.system_python) if context.system_python.exists() else sys.executable,
        "-I",
        "-c",
        WRITE_TEST_CODE,
        str(folder),
        name,
    )
    output = completed.stdout.strip()
    if completed.returncode == 0 and output == "ok":
        return None
    number, _, reason = output.partition(" ")
    if not number.isdigit():
        return 0, (completed.stderr.strip().splitlines() or ["the write test did not run"])[-1]
    return int(number), reason


def _fix_owner(context: Context, folder: Path) -> str:
    user = context.service_user_name
    return (
        sudo(context, f"chown -R {user}:{context.service_group_name} {folder}")
        + " && "
        + sudo(context, f"chmod u+rwx {folder}")
    )


def check_folder(context: Context, label: str, folder: Path) -> Result:
    """Check that a folder exists, belongs to the service user and that user can write to it."""
    user = context.service_user_name
    group = context.service_group_name
    create = sudo(context, f"install -d -o {user} -g {group} -m 0750 {folder}")
    try:
        info = folder.stat()
    except FileNotFoundError:
        return Result.error(f"{label} folder {folder} does not exist", f"Create it: {create}")
    except PermissionError:
        return Result.cannot_check(
            f"{folder} is not accessible to user {context.user_name}", context.as_root_hint()
        )

    if not folder.is_dir():
        return Result.error(
            f"{folder} is not a folder", f"Move the file away, then create the folder: {create}"
        )

    owner_problem = None
    if context.service_user is not None and info.st_uid != context.service_user.pw_uid:
        owner_problem = f"{folder} belongs to uid {info.st_uid}, not to {user}"

    try:
        failure = _write_test(context, folder)
    except FileNotFoundError:
        return Result.cannot_check(
            f"setpriv (package util-linux) is needed to test writing as {user}",
            sudo(context, "apt install util-linux"),
        )
    except LookupError:
        if owner_problem:
            return Result.error(owner_problem, _fix_owner(context, folder))
        return Result.cannot_check(
            f"the write test must run as {user}, and this is user {context.user_name}",
            context.as_root_hint(),
        )

    if failure is not None:
        number, reason = failure
        if number == errno.EROFS:
            return Result.error(
                f"{folder} is on a read-only file system",
                f"Remount it read-write ({sudo(context, 'mount -o remount,rw MOUNTPOINT')}) "
                "and check the disk: a Raspberry Pi remounts its SD card read-only after errors.",
            )
        if number in (errno.ENOSPC, errno.EDQUOT):
            return Result.error(
                f"{folder} is full ({reason})", "Free space: see the folders.free_space check."
            )
        detail = f" ({owner_problem})" if owner_problem else ""
        return Result.error(
            f"{user} cannot write to {folder}: {reason}{detail}", _fix_owner(context, folder)
        )

    if owner_problem:
        return Result.warning(
            f"{owner_problem}, though {user} can write to it", _fix_owner(context, folder)
        )
    return Result.ok(f"{folder} exists and {user} can write to it")


def folder_check(label: str, attribute: str) -> Check:
    def function(context: Context) -> Result:
        settings = settings_or_result(context)
        if isinstance(settings, Result):
            return settings
        if attribute == "logs_dir" and not settings.log_to_file:
            return Result.ok("not used: FIT_CONVERTER_LOG_TO_FILE is off")
        folder: Path = getattr(settings, attribute)
        return check_folder(context, label, folder)

    checker: CheckFunction = function
    return Check(f"folders.{label}", "folders", f"{label} folder", checker)


def _unescape_mount(field: str) -> str:
    """Decode the octal escapes (``\\040`` for a space) of /proc/self/mounts."""
    return field.encode("latin-1").decode("unicode_escape")


def file_system_type(context: Context, path: Path) -> tuple[str, str]:
    """Return the (type, mount point) of the file system holding ``path``."""
    best = ("unknown", "/")
    best_length = -1
    resolved = path.resolve()
    for line in (context.proc / "self" / "mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = _unescape_mount(fields[1])
        contains = resolved == Path(mount_point) or Path(mount_point) in resolved.parents
        if contains and len(mount_point) > best_length:
            best, best_length = (fields[2], mount_point), len(mount_point)
    return best


def check_file_system(context: Context) -> Result:
    """Check that an inbox on a network share is polled, because inotify misses remote changes."""
    settings = settings_or_result(context)
    if isinstance(settings, Result):
        return settings
    try:
        fs_type, mount_point = file_system_type(context, settings.inbox)
    except OSError as error:
        return Result.cannot_check(f"cannot read the mount table ({error.strerror or error})")

    # The watcher's own rule, so that doctor and watcher agree on what needs polling.
    if not Mount(Path(mount_point), fs_type, "").is_remote:
        return Result.ok(f"inbox is on a local {fs_type} file system ({mount_point})")

    heartbeat = read_heartbeat(settings)
    if heartbeat.mode == "poll":
        return Result.ok(f"inbox is on a {fs_type} network share and the watcher polls it")
    hint = (
        "Set FIT_CONVERTER_WATCH_MODE=poll (or auto) in /etc/fit-converter/watcher.env, "
        "then restart the watcher: " + sudo(context, "systemctl restart fit-converter-watcher")
    )
    if heartbeat.mode == "inotify":
        return Result.error(
            f"inbox is on a {fs_type} network share but the watcher uses inotify, "
            "which misses files copied from other machines",
            hint,
        )
    return Result.warning(
        f"inbox is on a {fs_type} network share; cannot tell whether the watcher polls it "
        f"({heartbeat.problem})",
        hint,
    )


def all_folder_checks() -> list[Check]:
    return [folder_check(label, attribute) for label, attribute in FOLDERS.items()]
