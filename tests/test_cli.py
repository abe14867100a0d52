from __future__ import annotations

import io
from pathlib import Path

import pytest

from conftest import sample
from fit_converter.cli import main
from fit_converter.convert_cli import ProgressBar


def test_convert_to_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = sample("fitparse/2015-10-13-08-43-15.fit")
    code = main(["convert", str(path), "-o", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "2015-10-13-08-43-15.csv").exists()
    assert "rows in 2015-10-13-08-43-15.csv (" in capsys.readouterr().out


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


def test_convert_folder_in_parallel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.fit", "b.FIT"):
        (folder / name).write_bytes(sample("fitparse/2015-10-13-08-43-15.fit").read_bytes())
    (folder / "bogus.fit").write_text("nope")

    code = main(["convert", str(folder), "-o", str(tmp_path / "out"), "--jobs", "2"])

    captured = capsys.readouterr()
    assert code == 1
    assert (tmp_path / "out" / "a.csv").exists()
    assert (tmp_path / "out" / "b.csv").exists()
    assert "1 of 3 file(s) failed: bogus.fit" in captured.err


def test_convert_rejects_unknown_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = sample("fitparse/2015-10-13-08-43-15.fit")
    code = main(["convert", str(path), "-o", str(tmp_path), "--tables", "laps,bogus"])
    assert code == 2
    assert "unknown table(s) bogus" in capsys.readouterr().err


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_terminal() -> None:
    stream = FakeTerminal()
    progress = ProgressBar(2, stream)
    progress.advance()
    progress.advance()
    assert "[###############...............] 1/2 files" in stream.getvalue()
    assert stream.getvalue().endswith("] 2/2 files\n")


def test_progress_bar_silent_without_terminal() -> None:
    stream = io.StringIO()
    ProgressBar(3, stream).advance()
    assert stream.getvalue() == ""


@pytest.mark.parametrize(("name", "character"), [("semicolon", ";"), ("tab", "\t"), ("|", "|")])
def test_convert_delimiter_names(name: str, character: str, tmp_path: Path) -> None:
    path = sample("fitparse/2015-10-13-08-43-15.fit")
    code = main(["convert", str(path), "-o", str(tmp_path), "--delimiter", name])
    assert code == 0
    header = (tmp_path / "2015-10-13-08-43-15.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith(f"timestamp{character}timestamp_local{character}")


def test_convert_rejects_unknown_delimiter(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "any.fit", "--delimiter", "colon"])
    assert exit_info.value.code == 2
    assert "invalid delimiter 'colon'" in capsys.readouterr().err


def test_convert_warns_about_unknown_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sample("fitparse/2015-10-13-08-43-15.fit")
    code = main(["convert", str(path), "-o", str(tmp_path), "--columns", "speed,bogus"])
    assert code == 0
    assert "unknown column(s) bogus" in capsys.readouterr().err
    header = (tmp_path / "2015-10-13-08-43-15.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "timestamp,speed [m/s]"


def test_convert_reads_csv_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIT_CONVERTER_CSV_DELIMITER", "semicolon")
    monkeypatch.setenv("FIT_CONVERTER_UNITS", "pace")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    monkeypatch.delenv("FIT_CONVERTER_STATE_DIR", raising=False)
    path = sample("fitparse/2015-10-13-08-43-15.fit")
    code = main(["convert", str(path), "-o", str(tmp_path / "out")])
    assert code == 0
    header = (tmp_path / "out" / "2015-10-13-08-43-15.csv").read_text(encoding="utf-8")
    assert header.startswith("timestamp;timestamp_local;")
    assert "pace [min/km]" in header.splitlines()[0]
    assert not (tmp_path / "state").exists()


def test_convert_flag_overrides_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIT_CONVERTER_CSV_DELIMITER", "semicolon")
    path = sample("fitparse/2015-10-13-08-43-15.fit")
    code = main(["convert", str(path), "-o", str(tmp_path), "--delimiter", "tab"])
    assert code == 0
    header = (tmp_path / "2015-10-13-08-43-15.csv").read_text(encoding="utf-8")
    assert header.startswith("timestamp\ttimestamp_local\t")


def test_convert_rejects_invalid_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FIT_CONVERTER_UNITS", "imperial,bogus")
    code = main(["convert", "any.fit"])
    assert code == 2
    assert "invalid FIT_CONVERTER_UNITS='imperial,bogus'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags", [["--units", "pace,imperial"], ["--units", "imperial", "--units", "pace"]]
)
def test_convert_units_any_order(flags: list[str], tmp_path: Path) -> None:
    path = sample("fitparse/2015-10-13-08-43-15.fit")
    code = main(["convert", str(path), "-o", str(tmp_path), *flags])
    assert code == 0
    header = (tmp_path / "2015-10-13-08-43-15.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "speed_mph [mph]" in header
    assert "pace [min/km]" in header


def test_convert_rejects_unknown_units(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["convert", "any.fit", "--units", "furlongs"])
    assert "invalid units 'furlongs'" in capsys.readouterr().err


def test_convert_help_lists_units_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "{imperial" not in text
    assert "comma-separated or repeated" in text


def test_convert_empty_folder_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["convert", str(tmp_path)])
    assert code == 1
    assert f"no .fit files found in {tmp_path}" in capsys.readouterr().err


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "``" not in capsys.readouterr().out


def test_run_help_describes_host_and_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "address the web app listens on" in text
    assert "TCP port of the web app" in text


def test_convert_names_archives(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip
    import zipfile

    path = sample("fitparse/2015-10-13-08-43-15.fit")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(path, path.name)
    compressed = tmp_path / "ride.fit.gz"
    compressed.write_bytes(gzip.compress(path.read_bytes()))

    code = main(["convert", str(archive), str(compressed), "-o", str(tmp_path / "out")])

    errors = capsys.readouterr().err
    assert code == 1
    assert "export.zip: the file is a zip archive, not a bare FIT file" in errors
    assert "ride.fit.gz: the file is gzip-compressed, not a bare FIT file" in errors
    assert "unpack" in errors
