"""doctor's framework and command line: timeouts, exit codes, JSON schema and text."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

import fit_converter
from doctor_helpers import make_context
from fit_converter.cli import main as fit_converter_main
from fit_converter.doctor.checks import all_checks
from fit_converter.doctor.framework import (
    GROUPS,
    Check,
    Outcome,
    Result,
    Status,
    exit_code,
    run_checks,
)
from fit_converter.doctor.report import to_json, write_text

SCHEMA = json.loads(resources.files("fit_converter.doctor").joinpath("schema.json").read_text())


def _outcome(status: Status) -> Outcome:
    check = Check(f"folders.{status.value}", "folders", status.value, lambda c: Result(status, "m"))
    hint = None if status is Status.OK else "fix it"
    return Outcome(check, Result(status, f"{status.value} message", hint), 0.01)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], 0),
        ([Status.OK, Status.SKIPPED], 0),
        ([Status.OK, Status.WARNING, Status.SKIPPED], 1),
        ([Status.WARNING, Status.ERROR, Status.OK], 2),
    ],
)
def test_exit_code(statuses: list[Status], expected: int) -> None:
    assert exit_code([_outcome(status) for status in statuses]) == expected


def test_timeout_does_not_hang(tmp_path: Path) -> None:
    release = threading.Event()

    def hanging(context: object) -> Result:
        release.wait(60)
        return Result.ok("finished late")

    checks = [
        Check("network.hang", "network", "hangs", hanging),
        Check("network.quick", "network", "quick", lambda c: Result.ok("quick")),
    ]
    started = time.monotonic()
    outcomes = run_checks(checks, make_context(tmp_path), timeout=0.3)
    elapsed = time.monotonic() - started
    release.set()

    assert [outcome.check.id for outcome in outcomes] == ["network.hang", "network.quick"]
    assert outcomes[0].result.status is Status.ERROR
    assert outcomes[0].result.message == "timed out after 0.3 s"
    assert outcomes[1].result.message == "quick"
    assert elapsed < 30, "the run waited for the hanging check"


def test_crashing_check_reported(tmp_path: Path) -> None:
    def crash(context: object) -> Result:
        raise KeyError("boom")

    [outcome] = run_checks([Check("web.crash", "web", "crash", crash)], make_context(tmp_path), 5)
    assert outcome.result.status is Status.ERROR
    assert outcome.result.message == "the check itself failed: KeyError: 'boom'"


def test_command_timeout_reported(tmp_path: Path) -> None:
    def slow_command(context: object) -> Result:
        raise subprocess.TimeoutExpired(["systemctl", "show", "x"], 9.5)

    [outcome] = run_checks(
        [Check("services.slow", "services", "slow", slow_command)], make_context(tmp_path), 5
    )
    assert outcome.result.status is Status.ERROR
    assert outcome.result.message == "timed out: 'systemctl show x' took longer than 9.5 s"


def test_every_check_has_known_group() -> None:
    checks = all_checks()
    assert {check.group for check in checks} == set(GROUPS)
    assert len({check.id for check in checks}) == len(checks)
    for check in checks:
        assert check.id.startswith(check.group + ".")


def test_full_run_matches_schema(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.app_url = "http://127.0.0.1:9"
    outcomes = run_checks(all_checks(), context, timeout=20)
    document = to_json(outcomes, context)
    jsonschema.validate(document, SCHEMA)
    assert document["exit_code"] == exit_code(outcomes)
    assert sum(document["counts"].values()) == len(all_checks())
    by_id = {check["id"]: check for check in document["checks"]}
    assert by_id["conversion.selftest"]["status"] == "ok"
    assert by_id["folders.inbox"]["status"] == "ok"
    for check in document["checks"]:
        if check["status"] in ("warning", "error"):
            assert check["hint"], check["id"]
        if check["status"] == "skipped":
            assert check["message"].startswith("cannot check: "), check["id"]


def test_schema_rejects_unknown_status() -> None:
    document = {
        "schema_version": 1,
        "version": "0",
        "generated_at": "2026-01-01T00:00:00Z",
        "user": "root",
        "service_user": "fitconv",
        "status": "fine",
        "exit_code": 0,
        "counts": {"ok": 0, "warning": 0, "error": 0, "skipped": 0},
        "checks": [],
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA)


def test_text_report_groups_and_hints(tmp_path: Path) -> None:
    outcomes = [_outcome(Status.OK), _outcome(Status.ERROR), _outcome(Status.SKIPPED)]
    stream = io.StringIO()
    write_text(outcomes, make_context(tmp_path, uid=1000), stream, verbose=True)
    text = stream.getvalue()
    assert "\nfolders\n" in text
    assert re.search(r"^  ERROR error +error message$", text, re.MULTILINE)
    assert "fix: fix it" in text
    assert "(folders.ok, 0.01 s)" in text
    assert text.rstrip().endswith(
        "1 ok, 0 warning(s), 1 error(s), 1 could not run (sudo fit-converter doctor runs them all)"
    )


def _doctor_env(tmp_path: Path) -> dict[str, str]:
    return {
        "FIT_CONVERTER_DATA_DIR": str(tmp_path / "data"),
        "FIT_CONVERTER_STATE_DIR": str(tmp_path / "state"),
        "FLASK_SECRET_KEY": "0f3c9a1b7d2e4f6a8b0c1d2e3f4a5b6c",
        "PATH": "/usr/bin:/bin",
    }


def test_module_json_exit_code(tmp_path: Path) -> None:
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "fit_converter.doctor",
            "--json",
            "--only",
            "conversion",
            "--only",
            "folders.inbox",
            "--env-file",
            "/dev/null",
        ],
        env=_doctor_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    document = json.loads(finished.stdout)
    jsonschema.validate(document, SCHEMA)
    assert finished.returncode == document["exit_code"] == 2
    statuses = {check["id"]: check["status"] for check in document["checks"]}
    assert statuses["folders.inbox"] == "error"
    assert statuses["conversion.selftest"] == "ok"


def test_module_healthy_exit_zero(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "fit_converter.doctor", "--only", "conversion.selftest"],
        env=_doctor_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "ok    self-test" in finished.stdout


def test_subcommand_warning_exit_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in _doctor_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FIT_CONVERTER_TYPO", "1")
    code = fit_converter_main(
        ["doctor", "--only", "configuration.variables", "--env-file", "/dev/null"]
    )
    assert code == 1
    assert "unknown variable(s) ignored: FIT_CONVERTER_TYPO" in capsys.readouterr().out


def test_only_matches_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert fit_converter_main(["doctor", "--only", "nonsense"]) == 2
    assert "no check matches --only nonsense" in capsys.readouterr().err


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to run doctor as another user")
def test_ordinary_user_sees_cannot_check(tmp_path: Path) -> None:
    """Run doctor as ``nobody`` against a private env file, as on an installed box."""
    shared = Path(tempfile.mkdtemp(prefix="doctor-user-"))
    try:
        shared.chmod(0o755)
        env_file = shared / "watcher.env"
        env_file.write_text(f"FIT_CONVERTER_DATA_DIR={shared / 'data'}\n")
        env_file.chmod(0o600)
        python_path = os.pathsep.join(
            [str(Path(fit_converter.__file__).parents[1]), sysconfig.get_paths()["purelib"]]
        )
        command = [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--",
            "/usr/bin/python3",
            "-m",
            "fit_converter.doctor",
            "--json",
            "--env-file",
            str(env_file),
            "--service-user",
            "root",
            "--only",
            "configuration",
            "--only",
            "folders",
            "--only",
            "network.firewall",
        ]
        env = {"PYTHONPATH": python_path, "HOME": str(shared), "PATH": "/usr/bin:/bin"}
        probe = subprocess.run(
            [*command[:5], "/usr/bin/python3", "-c", "import fit_converter.doctor"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if probe.returncode != 0:
            pytest.skip(f"nobody cannot import this checkout: {probe.stderr.strip()[-200:]}")

        finished = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        shutil.rmtree(shared, ignore_errors=True)

    document = json.loads(finished.stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["user"] == "nobody"
    statuses = {check["id"]: check for check in document["checks"]}
    assert statuses["configuration.variables"]["status"] == "skipped"
    assert f"cannot read {env_file}" in statuses["configuration.variables"]["message"]
    assert statuses["folders.inbox"]["status"] == "skipped"
    assert statuses["network.firewall"]["message"] == "cannot check: 'ufw status' needs root"
    assert finished.returncode == document["exit_code"]
