"""The parser-table cache never unpickles a file that another user could have planted (issue 9)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from cnndsl import parser

ROOT = Path(__file__).resolve().parent.parent
LENET = str(ROOT / "architectures" / "lenet5.cnn")


class Planted:
    """A pickle that, when loaded, creates the file `marker`."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant(path: Path, marker: Path) -> None:
    path.write_bytes(b"0" * 64 + b"\n" + pickle.dumps(Planted(marker)) + pickle.dumps(Planted(marker)))


def run_check(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cnndsl", "check", LENET], env={**os.environ, **env}, capture_output=True, text=True
    )


def old_cache_name(tmp: Path) -> str:
    """The name Lark's `cache=True` gave the tables in $TMPDIR (the parser as it was built before)."""
    script = (
        "import lark, cnndsl.parser as p\n"
        "init = lark.Lark.__init__\n"
        "lark.Lark.__init__ = lambda self, g, **o: init(self, g, **{**o, 'cache': True})\n"
        "p._build_parser()\n"
    )
    subprocess.run([sys.executable, "-c", script], env={**os.environ, "TMPDIR": str(tmp)}, check=True)
    (name,) = [p.name for p in tmp.iterdir() if p.name.startswith(".lark_cache")]
    return name


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file ownership")
def test_a_pickle_planted_in_tmpdir_is_never_executed(tmp_path):
    probe, shared = tmp_path / "probe", tmp_path / "shared"
    probe.mkdir()
    shared.mkdir()
    marker = tmp_path / "executed"
    plant(shared / old_cache_name(probe), marker)
    result = run_check({"TMPDIR": str(shared), "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert not [p for p in shared.iterdir() if p.name != old_cache_name(probe)]  # nothing written there either


def cache_name(monkeypatch, folder: Path) -> str:
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    monkeypatch.delenv("CNNDSL_NO_CACHE", raising=False)
    return Path(parser.table_cache(parser.grammar_path().read_text(encoding="utf-8"))).name


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file ownership")
def test_control_a_planted_pickle_runs_when_loaded(tmp_path, monkeypatch):
    """Control for the tests here: the planted pickle does run when the cache is trusted."""
    name = cache_name(monkeypatch, tmp_path)
    marker = tmp_path / "executed"
    plant(tmp_path / "cnndsl" / name, marker)
    run_check({"XDG_CACHE_HOME": str(tmp_path)})
    assert marker.exists()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file ownership")
def test_a_cache_folder_others_can_write_is_not_used(tmp_path, monkeypatch):
    name = cache_name(monkeypatch, tmp_path / "private")
    folder = tmp_path / "cnndsl"
    folder.mkdir()
    folder.chmod(0o777)
    marker = tmp_path / "executed"
    plant(folder / name, marker)
    result = run_check({"XDG_CACHE_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file ownership")
def test_a_cache_file_others_can_write_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CNNDSL_NO_CACHE", raising=False)
    grammar = parser.grammar_path().read_text(encoding="utf-8")
    path = Path(parser.table_cache(grammar))
    assert path.parent == tmp_path / "cnndsl"
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    marker = tmp_path / "executed"
    plant(path, marker)
    path.chmod(0o666)
    assert parser.table_cache(grammar) is None
    result = run_check({"XDG_CACHE_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert not marker.exists()


def test_the_private_cache_is_filled_and_used(tmp_path):
    first = run_check({"XDG_CACHE_HOME": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    (table,) = (tmp_path / "cnndsl").iterdir()
    assert table.stat().st_uid == os.getuid() and not table.stat().st_mode & 0o022
    assert run_check({"XDG_CACHE_HOME": str(tmp_path)}).returncode == 0

