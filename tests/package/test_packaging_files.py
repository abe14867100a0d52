"""Fast checks of the Debian packaging files; the container test checks the .deb itself.

These run in ``make test``: the hashed pins must cover pyproject.toml's dependencies,
the systemd units must keep their hardening, the shell scripts must pass shellcheck,
and the FIT file the container test drops into the inbox must decode.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fit_converter.decode import read_messages

ROOT = Path(__file__).resolve().parents[2]
UNITS = ("fit-converter-app.service", "fit-converter-watcher.service")
MAX_EXPOSURE = 2.0

SHELL_SCRIPTS = (
    "debian/fit-converter.postinst",
    "debian/fit-converter.prerm",
    "debian/fit-converter.postrm",
    "debian/fit-converter.config",
    "debian/fit-converter.sh",
    "tests/package/container-checks.sh",
    "tests/package/run-container-test",
    "tests/package/build-image",
    "tools/build-deb",
    "tools/update-requirements",
)


def pinned_versions(path: Path) -> dict[str, str]:
    """Return {canonical name: version} of the ``name==version`` lines of a requirements file."""
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_pins_cover_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = pinned_versions(ROOT / "debian/requirements.txt")

    for dependency in project["dependencies"]:
        requirement = Requirement(dependency)
        name = canonicalize_name(requirement.name)
        assert name in pins, (
            f"{requirement.name} from pyproject.toml is not pinned in debian/requirements.txt; "
            "run 'make requirements'"
        )
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"debian/requirements.txt pins {name}=={pins[name]}, outside {requirement.specifier} "
            "from pyproject.toml; run 'make requirements'"
        )


def test_pins_cover_test_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = pinned_versions(ROOT / "debian/requirements-test.txt")
    pins.update(pinned_versions(ROOT / "debian/requirements.txt"))

    for dependency in project["optional-dependencies"]["test"]:
        name = canonicalize_name(Requirement(dependency).name)
        assert name in pins, (
            f"test dependency {name} is not pinned in debian/requirements-test.txt; "
            "run 'make requirements'"
        )


@pytest.mark.parametrize(
    "path",
    ["debian/requirements.txt", "debian/requirements-test.txt", "debian/requirements-build.txt"],
)
def test_every_pin_has_hashes(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text)
    for entry in entries:
        if re.match(r"^[A-Za-z0-9_.-]+==", entry):
            assert "--hash=sha256:" in entry, f"{path}: no hash for {entry.splitlines()[0]}"


def unit_exposure(unit: Path) -> float:
    """Return the overall exposure that ``systemd-analyze security --offline`` reports."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    if match is None:
        pytest.skip(f"systemd-analyze gave no exposure for {unit.name}: {result.stderr.strip()}")
    return float(match.group(1))


@pytest.mark.parametrize("name", UNITS)
def test_unit_exposure_at_most_two(name: str) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not found (Debian package systemd)")

    exposure = unit_exposure(ROOT / "systemd" / name)

    assert exposure <= MAX_EXPOSURE, f"{name}: exposure {exposure} is above {MAX_EXPOSURE}"


@pytest.mark.parametrize("name", UNITS)
def test_unit_runs_as_fitconv_from_venv(name: str) -> None:
    text = (ROOT / "systemd" / name).read_text(encoding="utf-8")

    assert "\nUser=fitconv\n" in text
    assert "\nType=notify\n" in text
    assert "ExecStart=/opt/fit-converter/.venv/bin/python -m fit_converter." in text
    assert "\nReadWritePaths=/var/lib/fit-converter\n" in text


@pytest.mark.parametrize("path", SHELL_SCRIPTS)
def test_shell_script_passes_shellcheck(path: str) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not found (Debian package shellcheck)")

    result = subprocess.run(
        ["shellcheck", "--severity=warning", str(ROOT / path)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("path", [p for p in SHELL_SCRIPTS if p.startswith("debian/")])
def test_maintainer_script_sets_errexit(path: str) -> None:
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()

    assert lines[0] == "#!/bin/sh"
    assert "set -e" in lines


@pytest.mark.parametrize("path", ["postinst", "prerm", "postrm"])
def test_maintainer_script_has_debhelper_token(path: str) -> None:
    text = (ROOT / "debian" / f"fit-converter.{path}").read_text(encoding="utf-8")

    assert text.count("#DEBHELPER#") == 1


def test_container_fit_file_decodes(tmp_path: Path) -> None:
    output = tmp_path / "ride.fit"
    subprocess.run(
        [sys.executable, str(ROOT / "tests/package/make_fit.py"), str(output), "--records", "7"],
        check=True,
    )
    problems: list[str] = []

    records = [m for m in read_messages(output, problems) if m.name == "record"]

    assert problems == []
    assert len(records) == 7
    assert {field.name for field in records[0].fields} >= {"timestamp", "heart_rate"}
