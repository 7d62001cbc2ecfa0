"""The root-first lexer (cnndsl/lexer.py) must read every text exactly as Lark's own
contextual lexer does: the same syntax tree, or the same error at the same place.
The reference is Lark's ContextualLexer itself, on the same grammar."""

from __future__ import annotations

import random
import re

import pytest
from conftest import ROOT, SHARED
from lark.lexer import ContextualLexer

from cnndsl import parser
from cnndsl.errors import CnnError
from cnndsl.lexer import RootFirstLexer

PROGRAMS = sorted(
    p
    for pattern in ("architectures/**/*.cnn", "tests/**/*.cnn", "docs/**/*.cnn", "examples/**/*.cnn")
    for p in ROOT.glob(pattern)
) + sorted(SHARED.glob("examples*/*.cnn"))


def _lexer_of(lark):
    lexer = lark.parser.lexer
    return getattr(lexer, "lexer", lexer)


def _contextual_parser():
    built = parser._build_parser()
    _lexer_of(built[0]).__class__ = ContextualLexer
    return built


def _outcome(text: str, built) -> object:
    """The syntax tree, or the diagnostics of the error, as `cnndsl.parser.parse` gives them."""
    idle, parser._IDLE[:] = list(parser._IDLE), [built]
    try:
        return parser.parse(text, "t.cnn")
    except CnnError as exc:
        return [(d.code, d.message, d.span, d.hint) for d in exc.diagnostics]
    finally:
        parser._IDLE[:] = idle


@pytest.fixture(scope="module")
def parsers():
    ours = parser._build_parser()
    assert type(_lexer_of(ours[0])) is RootFirstLexer
    return ours, _contextual_parser()


def _same(text: str, parsers) -> None:
    ours, reference = parsers
    assert _outcome(text, ours) == _outcome(text, reference), text


def test_every_program_of_the_repository_reads_the_same(parsers):
    assert len(PROGRAMS) > 100
    for path in PROGRAMS:
        _same(path.read_bytes().decode("utf-8", errors="replace"), parsers)


def _vocabulary() -> list[str]:
    grammar = parser.grammar_path().read_text(encoding="utf-8")
    words = sorted(set(re.findall(r'"([^"\\]+)"', grammar)))
    return [
        *words,
        *("x", "in", "input", "output", "if", "else", "as", "repeat", "block", "net", "foo_1", "_", "K", "MiB"),
        *("1", "2.5", "3K", "1e3", ".5", "4MiB", "3x", "07", "1.", "2G"),
        *("->", "-", ">", "(", ")", "[", "]", "{", "}", ",", "=", ".", ":", ";", "\n", "  ", "\t"),
        *("# note\n", '"s"', '"a\\"b"', '"open', "@", "$", "\\", "\r\n"),
    ]


def test_random_token_soup_reads_the_same(parsers):
    rng = random.Random(19)
    words = _vocabulary()
    for _ in range(1500):
        text = "".join(rng.choice(words) + rng.choice(("", " ", " ", "\n")) for _ in range(rng.randint(1, 25)))
        _same(text, parsers)


def test_programs_with_one_word_swapped_read_the_same(parsers):
    """Keywords where names stand and names where keywords stand: where the two lexers part ways."""
    rng = random.Random(7)
    words = _vocabulary()
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in PROGRAMS if 0 < p.stat().st_size < 4000]
    for _ in range(800):
        tokens = re.split(r"(\W)", rng.choice(texts))
        spots = [i for i, token in enumerate(tokens) if token.strip()] or [0]
        tokens[rng.choice(spots)] = rng.choice(words)
        _same("".join(tokens), parsers)
