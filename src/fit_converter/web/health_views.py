"""Liveness and readiness checks for systemd, Caddy, monitoring and ``doctor``."""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any

from flask import Blueprint, jsonify, request

from fit_converter.web.context import WebContext

#: A watcher heartbeat older than this many seconds means the watcher is not running.
HEARTBEAT_MAX_AGE = 120

LOOPBACK = ("127.0.0.1", "::1")


def readiness(context: WebContext) -> dict[str, dict[str, Any]]:
    """Run every readiness check; each result has ``ok`` and a ``detail`` sentence."""
    settings = context.settings
    checks: dict[str, dict[str, Any]] = {}
    for name, folder in (("inbox", settings.inbox), ("outbox", settings.outbox)):
        writable = folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
        checks[name] = {
            "ok": writable,
            "detail": f"{folder} is writable" if writable else f"{folder} is missing or read-only",
        }

    try:
        free = shutil.disk_usage(settings.data_dir).free
    except OSError as error:
        checks["free_space"] = {"ok": False, "detail": f"cannot read free space: {error}"}
    else:
        enough = free >= settings.min_free_bytes
        checks["free_space"] = {
            "ok": enough,
            "detail": f"{free // 2**20} MiB free, floor {settings.min_free_bytes // 2**20} MiB",
        }

    try:
        beat = json.loads(settings.heartbeat_path.read_text(encoding="utf-8"))
        age = time.time() - float(beat["unix"])
    except FileNotFoundError:
        checks["watcher"] = {"ok": False, "detail": f"no heartbeat at {settings.heartbeat_path}"}
    except (OSError, ValueError, KeyError, TypeError) as error:
        checks["watcher"] = {"ok": False, "detail": f"unreadable heartbeat: {error}"}
    else:
        recent = age <= HEARTBEAT_MAX_AGE
        checks["watcher"] = {
            "ok": recent,
            "detail": f"last heartbeat {age:.0f} s ago (limit {HEARTBEAT_MAX_AGE} s)",
            "pending": beat.get("pending"),
            "paused": beat.get("paused"),
        }
    return checks


def build_blueprint(context: WebContext) -> Blueprint:
    """Return the blueprint with /healthz and /readyz."""
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/healthz")
    def healthz() -> tuple[str, int, dict[str, str]]:
        return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8"}

    @blueprint.get("/readyz")
    def readyz() -> Any:
        checks = readiness(context)
        ready = all(check["ok"] for check in checks.values())
        status = 200 if ready else 503
        if request.remote_addr in LOOPBACK:
            return jsonify(ready=ready, checks=checks, pending_jobs=context.queue.pending), status
        return (
            ("ready\n" if ready else "not ready\n"),
            status,
            {"Content-Type": "text/plain; charset=utf-8"},
        )

    return blueprint
