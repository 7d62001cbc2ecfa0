"""`cnndsl fmt`: a canonical layout that keeps comments, never changes what a program means,
and is idempotent on the zoo and on fuzzed programs."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz.programs import mutate, programs
from hypothesis import given, settings

import cnndsl
from cnndsl.errors import CnnError
from cnndsl.parser import grammar_path, parse
from cnndsl.tools.fmt import format_text

ROOT = Path(__file__).resolve().parents[1]
ZOO = sorted((ROOT / "architectures").glob("**/*.cnn"))
PART2 = sorted((ROOT / "tests" / "data" / "part2").glob("*.cnn"))
_LOCATION = re.compile(r":\d+:\d+$")
PART2_GRAMMAR = "fn_def" in grammar_path().read_text(encoding="utf-8")
needs_part2 = pytest.mark.skipif(not PART2_GRAMMAR, reason="no `fn`, `let`, `if` in the grammar yet")


def _comments(text: str) -> list[str]:
    """Every comment, in order: a `#` outside strings up to the end of its line (independent of the lexer)."""
    found = []
    for line in text.splitlines():
        inside = False
        for i, char in enumerate(line):
            if char == '"' and (i == 0 or line[i - 1] != "\\"):
                inside = not inside
            elif char == "#" and not inside:
                found.append(line[i:].rstrip())
                break
    return found


def _without_locations(value):
    """A report with line:column positions taken out (the layout moves them, nothing else may change)."""
    if isinstance(value, dict):
        drop = {"line", "column", "end_line", "end_column"}
        return {k: _without_locations(v) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [_without_locations(v) for v in value]
    if isinstance(value, str):
        return _LOCATION.sub("", value)
    return value


def _outcome(text: str, name: str):
    """The JSON report of every network of the text, or the errors (codes and messages)."""
    try:
        program_networks = cnndsl.loader.load_program(text=text, name=name).main_networks
        return [_without_locations(cnndsl.loads(text, n, name=name).to_dict()) for n in program_networks]
    except CnnError as exc:
        return [(d.code, d.message) for d in exc.diagnostics]


def _check(text: str, name: str = "<fuzz>") -> str:
    formatted = format_text(text)
    assert format_text(formatted) == formatted, "not idempotent"
    assert _comments(formatted) == _comments(text), "comments lost or changed"
    parse(formatted, name)
    return formatted


@pytest.mark.parametrize("path", ZOO + PART2, ids=lambda p: p.stem)
def test_zoo_formats_idempotently_and_reports_the_same(path, at_repo_root):
    name = str(path.relative_to(ROOT))
    text = path.read_text(encoding="utf-8")
    formatted = _check(text, name)
    assert _outcome(formatted, name) == _outcome(text, name)


@settings(max_examples=120, deadline=None)
@given(programs())
def test_generated_programs_that_parse(text):
    try:
        parse(text, "<fuzz>")
    except CnnError:
        return
    formatted = _check(text)
    assert _outcome(formatted, "<fuzz>") == _outcome(text, "<fuzz>")


@pytest.mark.parametrize("path", ZOO[::3], ids=lambda p: p.stem)
def test_mutated_programs_that_parse(path, at_repo_root):
    """Random edits of real programs (comments included): the ones that still parse."""
    rng = random.Random(f"fmt-{path.stem}")
    name = str(path.relative_to(ROOT))
    original = path.read_text(encoding="utf-8")
    for _ in range(12):
        text = mutate(original, rng)
        try:
            parse(text, name)
        except CnnError:
            continue
        assert _outcome(_check(text, name), name) == _outcome(text, name)


LAYOUTS = [
    # (source, canonical layout): each rule once, written by hand
    (
        "network T{input x:[1,8,8];conv(4,3,pad = 1)->relu}\n",
        "network T {\n  input x: [1, 8, 8]\n  conv(4, 3, pad=1) -> relu\n}\n",
    ),
    (
        "block B(a,b=2){in->conv(a*b,3)}\n\n\n\nnetwork N{input x:[3,8,8]\nB(1)}",
        "block B(a, b=2) {\n  in -> conv(a * b, 3)\n}\n\nnetwork N {\n  input x: [3, 8, 8]\n  B(1)\n}\n",
    ),
    (
        "network N {\n  input x: [3, 8, 8]   # the image\n\n\n  y=conv(-1+5, 3)->bn   # features\n}\n",
        "network N {\n  input x: [3, 8, 8]  # the image\n\n  y = conv(-1 + 5, 3) -> bn  # features\n}\n",
    ),
    (
        "network N {\n  input x: [3, 8, 8]\n  concat { conv(4, 1); conv(4, 3, pad=1) }\n}\n",
        "network N {\n  input x: [3, 8, 8]\n  concat { conv(4, 1); conv(4, 3, pad=1) }\n}\n",
    ),
    (
        "network N {\n  input x: [3, 8, 8]\n  conv(4, 1) ->   # first\n        relu\n}\n",
        "network N {\n  input x: [3, 8, 8]\n  conv(4, 1) ->  # first\n    relu\n}\n",
    ),
    (
        "network N {\n  input x: [3, 8, 8]\n  conv(4,\n    [3, 3])\n}\n",
        "network N {\n  input x: [3, 8, 8]\n  conv(\n    4,\n    [3, 3],\n  )\n}\n",
    ),
    pytest.param("let w = [1,\n  2]\n", "let w = [\n  1,\n  2,\n]\n", marks=needs_part2),
    pytest.param(
        "fn f(v,d=8)=max(d,v//d*d) if v>0 and not false else -v\n",
        "fn f(v, d=8) = max(d, v // d * d) if v > 0 and not false else -v\n",
        marks=needs_part2,
    ),
    pytest.param(
        "block B(s) {\n  if s==1 {identity}\n  else {conv(4,3,stride=s)}\n}\n",
        "block B(s) {\n  if s == 1 { identity } else { conv(4, 3, stride=s) }\n}\n",
        marks=needs_part2,
    ),
]


@pytest.mark.parametrize("source, expected", LAYOUTS)
def test_canonical_layout(source, expected):
    assert format_text(source) == expected
    assert format_text(expected) == expected


def test_long_chain_breaks_after_an_arrow():
    chain = " -> ".join(["conv(64, 3, pad=1) -> relu"] * 6)
    text = f"network N {{\n  input x: [3, 32, 32]\n  {chain}\n}}\n"
    formatted = format_text(text)
    lines = formatted.splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert len(lines) > 4
    assert all(line.endswith("->") for line in lines[2:-2])
    assert all(line.startswith("    ") for line in lines[3:-1])  # continuation lines: two more spaces


def _fmt(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "cnndsl", "fmt", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_command_check_diff_and_write(tmp_path):
    messy = tmp_path / "messy.cnn"
    messy.write_text("network T{input x:[1,8,8];conv(4,3)}\n")
    tidy = tmp_path / "tidy.cnn"
    tidy.write_text(format_text(messy.read_text()))
    check = _fmt("--check", "messy.cnn", "tidy.cnn", cwd=tmp_path)
    assert check.returncode == 1
    assert "would reformat messy.cnn" in check.stderr and "tidy.cnn" not in check.stderr.split("\n")[0]
    assert _fmt("--check", "tidy.cnn", cwd=tmp_path).returncode == 0
    diff = _fmt("--diff", "messy.cnn", cwd=tmp_path)
    assert diff.returncode == 0 and "+  conv(4, 3)" in diff.stdout
    assert messy.read_text() == "network T{input x:[1,8,8];conv(4,3)}\n"  # --check and --diff change nothing
    assert _fmt("messy.cnn", cwd=tmp_path).returncode == 0
    assert messy.read_text() == tidy.read_text()


def test_command_refuses_a_program_that_does_not_parse(tmp_path):
    bad = tmp_path / "bad.cnn"
    bad.write_text("network T { input x: [1, 8, 8]; conv(4, 3 }\n")
    done = _fmt("bad.cnn", cwd=tmp_path)
    assert done.returncode == 1
    assert "bad.cnn:1:" in done.stderr and "Traceback" not in done.stderr
    assert bad.read_text() == "network T { input x: [1, 8, 8]; conv(4, 3 }\n"


@pytest.mark.parametrize("separator", [" ", "\n"])
def test_deep_nesting_is_laid_out_once_per_group(separator, monkeypatch):
    """Each group is tried before it is placed; nested tries must not multiply (no clock: count the work)."""
    import cnndsl.tools.fmt as fmt

    depth = 40
    body = f"identity -> concat {{{separator}" * depth + "identity" + f"{separator}}}" * depth
    text = f"network N {{\n  input x: [3, 8, 8]\n  {body}\n}}\n"
    parse(text)
    calls, bound = [], 8 * (depth + 1) * 2  # linear in the groups (two runs), not 2**depth

    def counted(out, group):
        calls.append(1)
        assert len(calls) <= bound, "groups laid out again and again"
        return original(out, group)

    original = fmt._brace
    monkeypatch.setattr(fmt, "_brace", counted)
    formatted = format_text(text)
    assert format_text(formatted) == formatted
