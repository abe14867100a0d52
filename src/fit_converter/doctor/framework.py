"""The check framework: statuses, results, and a runner with a timeout per check."""

from __future__ import annotations

import enum
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fit_converter.doctor.context import Context

#: Groups in the order the report prints them.
GROUPS = ("configuration", "folders", "services", "web", "network", "conversion")

#: Seconds one check may take before the run reports it as timed out and moves on.
DEFAULT_TIMEOUT = 10.0


class Status(enum.Enum):
    """Outcome of one check. ``SKIPPED`` means the check could not run here."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass
class Result:
    """Finding of one check: a one-line message and, when not ok, the fix."""

    status: Status
    message: str
    hint: str | None = None
    details: list[str] = field(default_factory=list)

    @classmethod
    def ok(cls, message: str, details: Iterable[str] = ()) -> Result:
        return cls(Status.OK, message, None, list(details))

    @classmethod
    def warning(cls, message: str, hint: str, details: Iterable[str] = ()) -> Result:
        return cls(Status.WARNING, message, hint, list(details))

    @classmethod
    def error(cls, message: str, hint: str, details: Iterable[str] = ()) -> Result:
        return cls(Status.ERROR, message, hint, list(details))

    @classmethod
    def cannot_check(cls, reason: str, hint: str | None = None) -> Result:
        return cls(Status.SKIPPED, f"cannot check: {reason}", hint)


CheckFunction = Callable[["Context"], Result]


@dataclass(frozen=True)
class Check:
    """A named check in one group, such as ``folders.inbox``."""

    id: str
    group: str
    title: str
    function: CheckFunction


@dataclass
class Outcome:
    """A check together with its result and how long it took."""

    check: Check
    result: Result
    seconds: float


def run_one(check: Check, context: Context, timeout: float) -> Outcome:
    """Run ``check`` in a daemon thread and give up waiting after ``timeout`` seconds.

    A check that times out keeps running in the background until the process exits, so
    it must not hold locks that other checks need.
    """
    box: list[Result] = []
    started = time.monotonic()

    def target() -> None:
        box.append(_call(check, context))

    thread = threading.Thread(target=target, name=f"check-{check.id}", daemon=True)
    thread.start()
    thread.join(timeout)
    seconds = time.monotonic() - started
    if box:
        return Outcome(check, box[0], seconds)
    return Outcome(
        check,
        Result.error(
            f"timed out after {timeout:g} s",
            "Run 'fit-converter doctor --verbose --timeout 60' to wait longer. A check that "
            "hangs usually means a stuck network share or an unresponsive service.",
        ),
        seconds,
    )


def _call(check: Check, context: Context) -> Result:
    try:
        return check.function(context)
    except subprocess.TimeoutExpired as error:
        return Result.error(
            f"timed out: '{' '.join(map(str, error.cmd))}' took longer than {error.timeout:g} s",
            "Run that command by hand to see where it hangs, or give doctor more time "
            "with --timeout 60.",
        )
    except Exception as error:  # a broken check must not end the whole run
        return Result.error(
            f"the check itself failed: {type(error).__name__}: {error}",
            "Report this as a bug in fit-converter, with the output of "
            "'fit-converter doctor --verbose'.",
        )


def run_checks(checks: Iterable[Check], context: Context, timeout: float) -> list[Outcome]:
    """Run every check concurrently, each with its own timeout; keep the given order."""
    outcomes: list[Outcome | None] = []
    threads: list[threading.Thread] = []
    for index, check in enumerate(checks):
        outcomes.append(None)

        def target(index: int = index, check: Check = check) -> None:
            outcomes[index] = run_one(check, context, timeout)

        thread = threading.Thread(target=target, name=f"run-{check.id}", daemon=True)
        thread.start()
        threads.append(thread)

    for thread in threads:
        thread.join()
    return [outcome for outcome in outcomes if outcome is not None]


def exit_code(outcomes: Iterable[Outcome]) -> int:
    """Return 2 if any check failed, 1 if any warned, else 0; skipped checks count as ok."""
    statuses = {outcome.result.status for outcome in outcomes}
    if Status.ERROR in statuses:
        return 2
    if Status.WARNING in statuses:
        return 1
    return 0
