"""Permissions of files written by write_atomically."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import sample
from fit_converter.convert import convert_file
from fit_converter.files import write_atomically


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask")
@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_new_file_honours_umask(mask: int, expected: int, tmp_path: Path) -> None:
    os.umask(mask)
    target = tmp_path / "note.txt"
    write_atomically(target, lambda handle: handle.write("text"))
    assert mode(target) == expected


@pytest.mark.usefixtures("umask")
def test_explicit_mode_wins(tmp_path: Path) -> None:
    target = tmp_path / "secret.txt"
    write_atomically(target, lambda handle: handle.write("text"), mode=0o600)
    assert mode(target) == 0o600


@pytest.mark.usefixtures("umask")
def test_csv_readable_by_others(tmp_path: Path) -> None:
    report = convert_file(sample("fitparse/2015-10-13-08-43-15.fit"), tmp_path)
    assert mode(report.outputs[0]) == 0o644
