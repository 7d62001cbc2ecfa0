"""The README's first commands, as a new user runs them on a fresh clone (issue 9, item 11)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start() -> list[list[str]]:
    """The cnndsl commands of the README's first code block (the pip installs are left out)."""
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = []
    for line in block.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        for part in line.split("&&"):
            words = shlex.split(part)
            if words and words[0] in ("cnndsl", "mkdir"):
                commands.append(words)
    return commands


def test_the_main_command_writes_where_git_ignores_it():
    outputs = [c[c.index("-o") + 1] for c in quick_start() if c[:2] == ["cnndsl", "compile"]]
    assert outputs == ["build/resnet50.onnx"]
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", outputs[0]], cwd=ROOT)
    assert ignored.returncode == 0, f"{outputs[0]} is not ignored by .gitignore"


@pytest.mark.slow
def test_the_readme_commands_then_the_tests_in_sequence(tmp_path):
    """Run the README's commands in a copy of the repository, then the check that the
    suite makes: no model files left in the repository root."""
    copy = tmp_path / "clone"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", "build", "*.onnx", "__pycache__", ".*cache"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for command in quick_start():
        if command[0] == "cnndsl":
            command = [sys.executable, "-m", "cnndsl", *command[1:]]
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True)
        assert result.returncode == 0, (command, result.stderr)
    assert (copy / "build" / "resnet50.onnx").stat().st_size > 100_000_000  # 25.6 M float32 weights
    assert not [p for p in os.listdir(copy) if p.endswith(".onnx")]
