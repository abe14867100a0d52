from __future__ import annotations

from pathlib import Path

import pytest

from conftest import sample
from fit_converter.cli import main


def test_convert_to_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = sample("fitparse/2015-10-13-08-43-15.fit")
    code = main(["convert", str(path), "-o", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "2015-10-13-08-43-15.csv").exists()
    assert "records rows" in capsys.readouterr().out


def test_convert_reports_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "bogus.fit"
    bogus.write_text("nope")
    missing = tmp_path / "missing.fit"
    code = main(["convert", str(bogus), str(missing), "-o", str(tmp_path / "out")])
    assert code == 1
    errors = capsys.readouterr().err
    assert "bogus.fit: not a FIT file" in errors
    assert "missing.fit" in errors
    assert "2 of 2 file(s) failed" in errors
