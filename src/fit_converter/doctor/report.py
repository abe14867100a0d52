"""Render doctor's outcomes as text for people or as JSON for scripts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, TextIO

from fit_converter import __version__
from fit_converter.doctor.context import Context
from fit_converter.doctor.framework import GROUPS, Outcome, Status, exit_code

#: Version of the JSON document's layout (schema.json); raised on incompatible changes.
SCHEMA_VERSION = 1

MARKS = {
    Status.OK: "ok",
    Status.WARNING: "WARN",
    Status.ERROR: "ERROR",
    Status.SKIPPED: "skip",
}
COLOURS = {Status.OK: "32", Status.WARNING: "33", Status.ERROR: "31;1", Status.SKIPPED: "2"}


def overall(outcomes: Sequence[Outcome]) -> Status:
    return {0: Status.OK, 1: Status.WARNING, 2: Status.ERROR}[exit_code(outcomes)]


def counts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    totals = {status.value: 0 for status in Status}
    for outcome in outcomes:
        totals[outcome.result.status.value] += 1
    return totals


def to_json(outcomes: Sequence[Outcome], context: Context) -> dict[str, Any]:
    """Build the JSON document that schema.json describes."""
    return {
        "schema_version": SCHEMA_VERSION,
        "version": __version__,
        "generated_at": context.now()
        .astimezone(dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "user": context.user_name,
        "service_user": context.service_user_name,
        "status": overall(outcomes).value,
        "exit_code": exit_code(outcomes),
        "counts": counts(outcomes),
        "checks": [
            {
                "id": outcome.check.id,
                "group": outcome.check.group,
                "title": outcome.check.title,
                "status": outcome.result.status.value,
                "message": outcome.result.message,
                "hint": outcome.result.hint,
                "details": outcome.result.details,
                "seconds": round(outcome.seconds, 3),
            }
            for outcome in outcomes
        ],
    }


def write_json(outcomes: Sequence[Outcome], context: Context, stream: TextIO) -> None:
    json.dump(to_json(outcomes, context), stream, indent=2)
    stream.write("\n")


def write_text(
    outcomes: Sequence[Outcome],
    context: Context,
    stream: TextIO,
    *,
    verbose: bool = False,
    colour: bool = False,
) -> None:
    """Print one line per check under its group, the fix below each problem, then totals."""

    def paint(status: Status, text: str) -> str:
        return f"\033[{COLOURS[status]}m{text}\033[0m" if colour else text

    stream.write(
        f"fit-converter doctor {__version__}, as user {context.user_name} "
        f"(service user {context.service_user_name})\n"
    )
    width = max((len(outcome.check.title) for outcome in outcomes), default=10)
    for group in GROUPS:
        members = [outcome for outcome in outcomes if outcome.check.group == group]
        if not members:
            continue
        stream.write(f"\n{group}\n")
        for outcome in members:
            result = outcome.result
            mark = paint(result.status, f"{MARKS[result.status]:<5}")
            stream.write(f"  {mark} {outcome.check.title:<{width}}  {result.message}\n")
            indent = " " * (width + 10)
            if result.hint and result.status is not Status.OK:
                stream.write(f"{indent}fix: {result.hint}\n")
            if verbose:
                for line in result.details:
                    stream.write(f"{indent}{line}\n")
                stream.write(f"{indent}({outcome.check.id}, {outcome.seconds:.2f} s)\n")

    totals = counts(outcomes)
    summary = f"{totals['ok']} ok, {totals['warning']} warning(s), {totals['error']} error(s)"
    if totals["skipped"]:
        summary += f", {totals['skipped']} could not run"
        if not context.is_root:
            summary += " (sudo fit-converter doctor runs them all)"
    stream.write(f"\n{paint(overall(outcomes), summary)}\n")
