"""The command line: exit codes, diagnostics formats, colour, internal errors, output files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ARCHITECTURES

from cnndsl import cli

GOOD = "network Tiny {\n  input x: [3, 16, 16]\n  conv(8, 3, pad=1) -> relu\n}\n"
BAD = "network Tiny {\n  input x: [3, 16, 16]\n  conv(8, 3, pad=1) -> relux\n}\n"


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "good.cnn"
    path.write_text(GOOD)
    return path


@pytest.fixture
def bad(tmp_path) -> Path:
    path = tmp_path / "bad.cnn"
    path.write_text(BAD)
    return path


def run(*argv: str, cwd=None) -> subprocess.CompletedProcess:
    """The real command in a child process (real exit code, real stderr, no terminal)."""
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cnndsl", *argv], capture_output=True, text=True, timeout=60, cwd=cwd, env=env
    )


# -- exit codes -----------------------------------------------------------------


def test_exit_0_on_success(good, capsys):
    assert cli.main(["check", str(good)]) == 0
    assert "ok: network Tiny, 3 nodes" in capsys.readouterr().err


def test_exit_1_on_program_errors(bad):
    result = run("check", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{bad}:3:24: error: unknown layer or block `relux` [E0210]\n")
    assert "did you mean `relu`?" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],  # missing file argument
        ["check", "x.cnn", "--format", "yaml"],
        ["report", "x.cnn", "--depth", "-1"],
        ["frobnicate", "x.cnn"],
    ],
)
def test_exit_2_on_bad_command_line(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2


def test_exit_2_without_command(capsys):
    assert cli.main([]) == 2


def test_exit_2_on_missing_file(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path / "nothere.cnn")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnndsl: error: no such file: ") and "[E0001]" in err


def test_exit_2_on_directory(tmp_path, capsys):
    assert cli.main(["check", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_exit_2_on_bad_override(good, capsys):
    assert cli.main(["check", str(good), "--set", "oops"]) == 2
    assert "--set expects NAME=VALUE" in capsys.readouterr().err


def test_exit_2_on_unknown_network(good, capsys):
    assert cli.main(["check", str(good), "--network", "Tiyn"]) == 2
    assert "did you mean `Tiny`?" in capsys.readouterr().err


def test_exit_3_on_internal_error_one_line(good, capsys, monkeypatch):
    import cnndsl.network

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(cnndsl.network, "load", broken)
    assert cli.main(["check", str(good)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # exactly one line
    assert err.startswith("cnndsl: internal error (ZeroDivisionError: division by zero); this is a bug")
    assert "please report it" in err and "Traceback" not in err
    assert "http" not in err and "the command line and the input files" in err  # no made-up web address


def test_internal_errors_are_json_with_diagnostics_json(good, capsys, monkeypatch):
    import cnndsl.network

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cnndsl.network, "load", broken)
    for argv in (["--diagnostics", "json", "check", str(good)], ["check", str(good), "--format", "json"]):
        assert cli.main(argv) == 3
        (diagnostic,) = json.loads(capsys.readouterr().err)["diagnostics"]
        assert diagnostic["code"] == "E0000" and diagnostic["severity"] == "error"
        assert diagnostic["message"].startswith("internal error (ZeroDivisionError: division by zero)")


def test_debug_shows_the_traceback(good, monkeypatch):
    import cnndsl.network

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cnndsl.network, "load", broken)
    for argv in (["--debug", "check", str(good)], ["check", str(good), "--debug"]):
        with pytest.raises(ZeroDivisionError):
            cli.main(argv)


# -- diagnostics formats ---------------------------------------------------------


def test_json_diagnostics(bad, capsys):
    assert cli.main(["check", str(bad), "--format", "json"]) == 1
    (diagnostic,) = json.loads(capsys.readouterr().err)["diagnostics"]
    assert diagnostic == {
        "severity": "error",
        "code": "E0210",
        "message": "unknown layer or block `relux`",
        "file": str(bad),
        "line": 3,
        "column": 24,
        "end_line": 3,
        "end_column": 29,
        "label": "",
        "hint": "did you mean `relu`?",
        "notes": [],
    }


def test_json_diagnostics_for_usage_errors(tmp_path, capsys):
    assert cli.main(["--diagnostics", "json", "check", str(tmp_path / "none.cnn")]) == 2
    (diagnostic,) = json.loads(capsys.readouterr().err)["diagnostics"]
    assert diagnostic["code"] == "E0001" and diagnostic["line"] is None


def test_colour_only_when_asked_or_on_a_terminal(bad, capsys):
    cli.main(["check", str(bad)])
    assert "\033[" not in capsys.readouterr().err  # captured stderr is not a terminal
    cli.main(["check", str(bad), "--color", "always"])
    err = capsys.readouterr().err
    assert "\033[1;31merror:\033[0m" in err
    cli.main(["--color", "always", "check", str(bad), "--color", "never"])
    assert "\033[" not in capsys.readouterr().err


def test_several_errors_are_counted(tmp_path, capsys):
    path = tmp_path / "two.cnn"
    path.write_text("network T {\n  input x: [3, 8, 8]\n  conv(4, 3, strid=1)\n  maxpool(2, ceil=1)\n}\n")
    assert cli.main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.rstrip().endswith("2 errors")
    assert f"{path}:3:14: error:" in err and f"{path}:4:19: error:" in err


# -- output files -------------------------------------------------------------------


def test_unwritable_output_folder_exits_2(capsys):
    lenet = str(ARCHITECTURES / "lenet5.cnn")
    assert cli.main(["report", lenet, "-o", "/nonexistent/dir/x.txt"]) == 2
    err = capsys.readouterr().err
    assert "cnndsl: error: cannot write /nonexistent/dir/x.txt: the folder /nonexistent/dir does not exist" in err
    assert "[E0801]" in err


def test_output_that_is_a_directory_exits_2(tmp_path, capsys):
    lenet = str(ARCHITECTURES / "lenet5.cnn")
    assert cli.main(["report", lenet, "-o", str(tmp_path)]) == 2
    assert "it is a directory" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_folder_exits_2(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert cli.main(["report", str(ARCHITECTURES / "lenet5.cnn"), "-o", str(folder / "x.txt")]) == 2
        assert "cannot write" in capsys.readouterr().err
    finally:
        folder.chmod(0o755)


def test_failed_write_leaves_the_old_file(tmp_path, capsys, monkeypatch):
    target = tmp_path / "report.txt"
    target.write_text("old report\n")
    from cnndsl import files

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full_disk)
    assert cli.main(["report", str(ARCHITECTURES / "lenet5.cnn"), "-o", str(target)]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert target.read_text() == "old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]  # no temporary left behind


def test_report_writes_atomically(tmp_path, capsys):
    target = tmp_path / "lenet.txt"
    assert cli.main(["report", str(ARCHITECTURES / "lenet5.cnn"), "-o", str(target)]) == 0
    assert "LeNet5" in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet.txt"]
