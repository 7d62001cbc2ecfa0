"""The command line builds only the options of the command being run; everything else reads the same."""

from __future__ import annotations

import pytest
from conftest import ARCHITECTURES

from cnndsl import cli

LENET = str(ARCHITECTURES / "lenet5.cnn")


@pytest.mark.parametrize(
    "argv, word",
    [
        (["check", LENET], "check"),
        (["--color", "never", "--diagnostics", "json", "report", LENET], "report"),
        (["--color=never", "--debug", "compile", LENET], "compile"),
        (["--help"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_the_command_word(argv, word):
    assert cli._command_named(argv) == word


def test_options_before_the_command_still_apply(capsys):
    assert cli.main(["--color", "never", "--diagnostics", "json", "check", LENET]) == 0
    assert capsys.readouterr().err == ""  # json diagnostics: no text `ok` line


def test_an_unknown_command_lists_every_command(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["chek", LENET])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    full = cli._parser()
    names = list(full._subparsers._group_actions[0].choices)
    assert "invalid choice: 'chek'" in err and all(f"'{name}'" in err for name in names)


def test_help_of_one_command_and_of_all(capsys):
    for argv in (["report", "--help"], ["--help"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
    report_help, top_help = capsys.readouterr().out.split("usage: cnndsl [", 1)
    assert "--depth N" in report_help and "--format" in report_help
    assert all(name in top_help for name in ("check", "report", "compile", "render", "run"))
