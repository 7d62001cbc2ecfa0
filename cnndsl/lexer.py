"""Lark's contextual lexer, asking its one all-terminals scanner first.

The contextual lexer keeps a scanner per parser state (the terminals that state
accepts), so that a word like `input` or `in` is a keyword only where the
grammar expects one and a name elsewhere. Each scanner is a regular expression
compiled on first use: about twenty of them, some 25 ms, for the smallest
program — an eighth of a `cnndsl check`.

This lexer tries the root scanner (every terminal) first and keeps its token
when the parser state accepts that token's type; that is the token the state's
own scanner would give, since its terminals are a subset in the same order. In
any other case (a keyword where a name is expected, a character no terminal
matches) it rewinds and takes the contextual lexer's own step, which builds that
state's scanner and reports errors exactly as before. tests/test_lexer.py
compares both lexers on the test programs and on random token soup.
"""

from __future__ import annotations

from lark.exceptions import UnexpectedCharacters
from lark.lexer import ContextualLexer


class RootFirstLexer(ContextualLexer):
    """A :class:`lark.lexer.ContextualLexer` that compiles a state's scanner only when needed."""

    def lex(self, lexer_state, parser_state):
        root, counter = self.root_lexer, lexer_state.line_ctr
        accepted = self.__dict__.get("accepted") or self.__dict__.setdefault("accepted", _Accepted(self.lexers))
        while True:
            mark = (counter.char_pos, counter.line, counter.column, counter.line_start_pos, lexer_state.last_token)
            try:
                token = root.next_token(lexer_state, parser_state)
            except EOFError:
                return
            except UnexpectedCharacters:
                token = None
            if token is not None and token.type in accepted[parser_state.position]:
                yield token
                continue
            counter.char_pos, counter.line, counter.column, counter.line_start_pos, lexer_state.last_token = mark
            step = ContextualLexer.lex(self, lexer_state, parser_state)
            try:
                yield next(step)  # one token as the contextual lexer reads it (or its error)
            except StopIteration:
                return
            finally:
                step.close()


class _Accepted(dict):
    """Parser state -> names of the terminals its scanner holds, worked out on first use."""

    def __init__(self, lexers: dict):
        super().__init__()
        self.lexers = lexers

    def __missing__(self, state):
        names = self[state] = frozenset(terminal.name for terminal in self.lexers[state].terminals)
        return names


def install(lark) -> None:
    """Make the contextual lexer of a built `lark.Lark` parser a :class:`RootFirstLexer`."""
    lexer = lark.parser.lexer
    inner = getattr(lexer, "lexer", None)  # behind a post-lexer
    target = inner if isinstance(inner, ContextualLexer) else lexer
    if type(target) is ContextualLexer:
        target.__class__ = RootFirstLexer
