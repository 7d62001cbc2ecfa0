"""The parser-table cache never unpickles a file that another user could have planted (issue 9)."""

from __future__ import annotations

import os
import pickle
import re
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
    (table,) = (tmp_path / "cnndsl").glob("grammar-*")
    assert table.stat().st_uid == os.getuid() and not table.stat().st_mode & 0o022
    assert run_check({"XDG_CACHE_HOME": str(tmp_path)}).returncode == 0


# -- the syntax trees of files read before (cnndsl/cache.py) ----------------------------------


LARK = re.compile(r"\|\s+lark$", re.MULTILINE)  # `python -X importtime`: Lark was imported


def _syntax_entries(folder: Path) -> list[Path]:
    return sorted((folder / "cnndsl").glob("syntax-*.pickle"))


def test_a_file_read_again_unchanged_is_not_parsed_again(tmp_path):
    source = tmp_path / "net.cnn"
    source.write_text(Path(LENET).read_text())
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("CNNDSL_NO_CACHE", None)
    check = [sys.executable, "-X", "importtime", "-m", "cnndsl", "check", str(source)]
    first = subprocess.run(check, env=env, capture_output=True, text=True)
    assert first.returncode == 0 and LARK.search(first.stderr)  # parsed, with Lark
    (entry,) = _syntax_entries(tmp_path / "cache")
    assert entry.stat().st_uid == os.getuid() and (entry.stat().st_mode & 0o777) == 0o600
    again = subprocess.run(check, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and not LARK.search(again.stderr), again.stderr[-2000:]
    assert again.stdout == first.stdout
    source.write_text(Path(LENET).read_text().replace("conv(6, 5", "conv(7, 5"))
    edited = subprocess.run(check, env=env, capture_output=True, text=True)
    assert edited.returncode == 0 and LARK.search(edited.stderr)  # the text changed: parsed again


def test_a_cached_tree_equals_a_fresh_parse(tmp_path, monkeypatch):
    from cnndsl import cache, loader

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CNNDSL_NO_CACHE", raising=False)
    text = Path(LENET).read_text()
    fresh = parser.parse(text, "lenet5.cnn")
    assert cache.load_syntax("lenet5.cnn", text) is None
    assert loader.parse(text, "lenet5.cnn") == fresh  # parsed, then stored
    assert cache.load_syntax("lenet5.cnn", text) == fresh
    assert cache.load_syntax("other.cnn", text) is None  # spans name the file: another name is another tree
    assert cache.load_syntax("lenet5.cnn", text + "\n") is None


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file ownership")
def test_a_syntax_entry_others_can_write_is_never_loaded(tmp_path, monkeypatch):
    from cnndsl import cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CNNDSL_NO_CACHE", raising=False)
    text = Path(LENET).read_text()
    cache.store_syntax(LENET, text, parser.parse(text, LENET))
    (entry,) = _syntax_entries(tmp_path)
    marker = tmp_path / "executed"
    entry.write_bytes(pickle.dumps(Planted(marker)))
    entry.chmod(0o666)
    assert cache.load_syntax(LENET, text) is None
    result = run_check({"XDG_CACHE_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    entry.chmod(0o600)  # control: the same file, private, is loaded (the pickle runs) and is no tree: a miss
    assert cache.load_syntax(LENET, text) is None
    assert marker.exists()


def test_damaged_entries_are_misses_and_the_folder_stays_bounded(tmp_path, monkeypatch):
    from cnndsl import cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CNNDSL_NO_CACHE", raising=False)
    monkeypatch.setattr(cache, "MAX_SYNTAX_ENTRIES", 8)
    text = Path(LENET).read_text()
    tree = parser.parse(text, LENET)
    cache.store_syntax(LENET, text, tree)
    (entry,) = _syntax_entries(tmp_path)
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    assert cache.load_syntax(LENET, text) is None
    for i in range(20):
        cache.store_syntax(f"copy{i}.cnn", text, tree)
        assert len(_syntax_entries(tmp_path)) <= 8 + 1
    assert not list((tmp_path / "cnndsl").glob("*.tmp"))
