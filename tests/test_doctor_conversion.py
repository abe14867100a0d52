"""doctor's conversion checks: the venv's Python, the self-test and the versions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from doctor_helpers import ScriptedRunner, completed, make_context
from fit_converter import __version__, selftest
from fit_converter.doctor.checks.conversion import check_selftest, check_venv_python, check_versions
from fit_converter.doctor.context import Context
from fit_converter.doctor.framework import Status
from fit_converter.errors import NotFitError


def _venv(tmp_path: Path, version: str, system_version: str, dangling: bool = False) -> Context:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(
        f"home = /usr/bin\ninclude-system-site-packages = false\nversion = {version}\n"
    )
    target = tmp_path / "gone" if dangling else Path(sys.executable)
    (venv / "bin" / "python").symlink_to(target)
    runner = ScriptedRunner({"/usr/bin/python3": completed(system_version + "\n")})
    context = make_context(tmp_path, runner=runner)
    context.venv = venv
    context.system_python = Path("/usr/bin/python3")
    return context


def test_venv_python_matches(tmp_path: Path) -> None:
    result = check_venv_python(_venv(tmp_path, "3.11.2", "3.11"))
    assert result.status is Status.OK


def test_venv_python_after_os_upgrade(tmp_path: Path) -> None:
    result = check_venv_python(_venv(tmp_path, "3.11.2", "3.13"))
    assert result.status is Status.ERROR
    assert "built for Python 3.11, but /usr/bin/python3 is Python 3.13" in result.message
    assert result.hint is not None
    assert "apt install --reinstall fit-converter" in result.hint


def test_venv_python_removed(tmp_path: Path) -> None:
    result = check_venv_python(_venv(tmp_path, "3.11.2", "3.13", dangling=True))
    assert result.status is Status.ERROR
    assert "no longer exists" in result.message


def test_venv_python_no_venv(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    context.venv = None
    assert check_venv_python(context).status is Status.SKIPPED


def test_selftest_converts(tmp_path: Path) -> None:
    result = check_selftest(make_context(tmp_path))
    assert result.status is Status.OK, result.details
    assert "converted 10 records" in result.message


def test_selftest_broken_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise NotFitError(Path("selftest.fit"), "not a FIT file", "Reinstall.")

    monkeypatch.setattr(selftest, "run_selftest", broken)
    result = check_selftest(make_context(tmp_path))
    assert result.status is Status.ERROR
    assert "self-test conversion failed: selftest.fit: not a FIT file" in result.message


def test_selftest_wrong_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = selftest.run_selftest

    def wrong_heart_rate() -> tuple[object, str]:
        report, text = real()
        return report, text.replace(",120,", ",121,", 1)

    monkeypatch.setattr(selftest, "run_selftest", wrong_heart_rate)
    result = check_selftest(make_context(tmp_path))
    assert result.status is Status.ERROR
    assert (
        result.message
        == "the self-test CSV has wrong values: row 1: heart_rate is 121.0, expected 120"
    )


def test_versions_without_package(tmp_path: Path) -> None:
    result = check_versions(make_context(tmp_path))
    assert result.status is Status.OK
    assert f"fit-converter {__version__}" in result.message
    assert "fitdecode" in result.message


def test_versions_package_mismatch(tmp_path: Path) -> None:
    runner = ScriptedRunner({"dpkg-query": completed("9.9.9-1")})
    result = check_versions(make_context(tmp_path, runner=runner))
    assert result.status is Status.WARNING
    assert "the Debian package is 9.9.9-1" in result.message


def test_versions_package_matches(tmp_path: Path) -> None:
    runner = ScriptedRunner({"dpkg-query": completed(f"{__version__}-1")})
    result = check_versions(make_context(tmp_path, runner=runner))
    assert result.status is Status.OK
    assert f"package {__version__}-1" in result.message
