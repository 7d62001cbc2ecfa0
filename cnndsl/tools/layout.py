"""Source -> layout tree for the formatter: tokens (comments and line breaks kept),
statements, bracket groups and the comments around them.

The tokens come from Lark's lexer over ``grammars/cnn.lark``, so a keyword or
operator added to the grammar is recognised here without a change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

VALUE_WORDS = frozenset({"in", "true", "false"})
DEFINITIONS = frozenset({"block", "network"})
OPEN = {"(": ")", "[": "]", "{": "}"}
CLOSE = frozenset(OPEN.values())
_PIECES = re.compile(r"\r?\n|;|#[^\r\n]*")


@dataclass(slots=True)
class Tok:
    kind: str  # word, value, op, open, close, comma, arrow, semi, nl, comment
    text: str
    type: str = ""
    own_line: bool = False  # comments: alone on their line
    newlines: int = 0  # nl: how many line breaks
    broken: bool = False  # arrow: a line break follows it
    comments: list = field(default_factory=list)  # arrow: comments inside it, (text, own_line)


# -- tokens ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _lexer():
    from lark import Lark

    from ..parser import grammar_path

    return Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer="basic", cache=True)


def tokens(text: str) -> list[Tok]:
    """The source as :class:`Tok` records: every token, comment and line break; spaces dropped."""
    out: list[Tok] = []
    line_start = True
    for token in _lexer().lex(text, dont_ignore=True):
        kind, value = token.type, str(token)
        if kind == "WS":
            continue
        if kind == "COMMENT":
            out.append(Tok("comment", value.rstrip(), own_line=line_start))
        elif kind == "_SEP":
            line_start = _separators(value, out, line_start)
            continue
        elif kind == "ARROW":
            out.append(_arrow(value))
        else:
            out.append(Tok(_kind(kind, value), value, kind))
        line_start = False
    return out


def _kind(kind: str, value: str) -> str:
    if value in OPEN:
        return "open"
    if value in CLOSE:
        return "close"
    if value == ",":
        return "comma"
    if value.isidentifier():
        return "word"
    if kind in ("INT", "FLOAT", "STRING"):
        return "value"
    return "op"


def _separators(value: str, out: list[Tok], line_start: bool) -> bool:
    for piece in _PIECES.findall(value):
        if piece == ";":
            out.append(Tok("semi", ";"))
            line_start = False
        elif piece.startswith("#"):
            out.append(Tok("comment", piece.rstrip(), own_line=line_start))
        elif out and out[-1].kind == "nl":
            out[-1].newlines += 1
            line_start = True
        else:
            out.append(Tok("nl", "\n", newlines=1))
            line_start = True
    return line_start


def _arrow(value: str) -> Tok:
    arrow = Tok("arrow", "->")
    line_start = False
    for piece in _PIECES.findall(value[2:]):
        if piece.startswith("#"):
            arrow.comments.append((piece.rstrip(), line_start))
        else:
            arrow.broken = line_start = True
    return arrow


# -- structure: statements, groups, comments --------------------------------------------


@dataclass(slots=True)
class Group:
    open: str
    items: list  # `{`: Stmt and Comments items; `(`/`[`: Elem
    multiline: bool = False  # written over several lines, or holding a comment
    opener_comment: str = ""
    dangling: list = field(default_factory=list)  # comments before the closer
    commas: int = 0

    @property
    def close(self) -> str:
        return OPEN[self.open]


@dataclass(slots=True)
class Stmt:
    atoms: list
    leading: list = field(default_factory=list)
    trailing: str = ""
    blank: bool = False


@dataclass(slots=True)
class Comments:
    """Comment lines that stand apart: a blank line (or the end of the body) follows them."""

    lines: list
    blank: bool = False


@dataclass(slots=True)
class Elem:
    atoms: list = field(default_factory=list)
    leading: list = field(default_factory=list)
    trailing: str = ""


@dataclass(slots=True)
class ElseBreak:
    """The line break (and comments) between `}` and `else`."""

    comments: list


class _Reader:
    def __init__(self, toks: list[Tok]):
        self.toks, self.i = toks, 0

    def peek(self, offset: int = 0) -> Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def body(self, closer: str | None) -> Group:
        group = Group("{", [])
        pending, blank = [], False
        while (tok := self.peek()) is not None and tok.text != closer:
            if tok.kind == "nl":
                self.take()
                group.multiline = True
                if tok.newlines > 1:
                    if pending:
                        group.items.append(Comments(pending, blank))
                        pending = []
                    blank = True
            elif tok.kind == "semi":
                self.take()
            elif tok.kind == "comment":
                self.take()
                group.multiline = True
                last = group.items[-1] if group.items else None
                if not tok.own_line and last is None and not pending:
                    group.opener_comment = tok.text
                elif not tok.own_line and isinstance(last, Stmt) and not last.trailing and not pending:
                    last.trailing = tok.text
                else:
                    pending.append(tok.text)
            else:
                stmt = self.statement(closer)
                if closer is None and is_definition(stmt):
                    for atom in stmt.atoms:
                        if isinstance(atom, Group) and atom.open == "{":
                            atom.multiline = True  # a definition's body is never written on one line
                stmt.leading, stmt.blank, pending, blank = pending, blank, [], False
                group.multiline |= _has_multiline(stmt.atoms)
                group.items.append(stmt)
        if pending:
            group.items.append(Comments(pending, blank))
        return group

    def statement(self, closer: str | None) -> Stmt:
        stmt = Stmt([])
        while (tok := self.peek()) is not None and tok.text != closer and tok.kind != "semi":
            if tok.kind in ("nl", "comment"):
                j = 0
                while (ahead := self.peek(j)) is not None and ahead.kind in ("nl", "comment"):
                    j += 1
                if ahead is None or ahead.text != "else":
                    if tok.kind == "comment":
                        stmt.trailing = self.take().text
                    break
                between = [self.take() for _ in range(j)]
                stmt.atoms.append(ElseBreak([t.text for t in between if t.kind == "comment"]))
                continue
            stmt.atoms.append(self.group(self.take()) if tok.kind == "open" else self.take())
        return stmt

    def group(self, opener: Tok) -> Group:
        if opener.text == "{":
            group = self.body("}")
        else:
            group = self.elements(opener.text)
        if self.peek() is not None:
            self.take()  # the closer
        return group

    def elements(self, opener: str) -> Group:
        group, current, pending = Group(opener, []), Elem(), []
        closer = OPEN[opener]
        while (tok := self.peek()) is not None and tok.text != closer:
            self.take()
            if tok.kind == "nl":
                group.multiline = True
            elif tok.kind == "comma":
                group.items.append(current)
                group.commas += 1
                current = Elem()
            elif tok.kind == "comment":
                group.multiline = True
                if tok.own_line:
                    pending.append(tok.text)
                elif current.atoms:
                    current.trailing = tok.text
                elif group.items and not group.items[-1].trailing:
                    group.items[-1].trailing = tok.text
                elif not group.items:
                    group.opener_comment = tok.text
                else:
                    pending.append(tok.text)
            else:
                if not current.atoms:
                    current.leading, pending = pending, []
                current.atoms.append(self.group(tok) if tok.kind == "open" else tok)
                group.multiline |= isinstance(current.atoms[-1], Group) and current.atoms[-1].multiline
        if current.atoms:
            group.items.append(current)
        group.dangling = pending
        return group


def _has_multiline(atoms) -> bool:
    for atom in atoms:
        if isinstance(atom, ElseBreak):
            if atom.comments:
                return True
        elif isinstance(atom, Group):
            if atom.multiline:
                return True
        elif atom.kind == "arrow" and (atom.broken or atom.comments):
            return True
    return False


def read(text: str) -> tuple[list[Tok], Group]:
    """The tokens of `text` and its top level as a body :class:`Group`."""
    toks = tokens(text)
    return toks, _Reader(toks).body(None)


def is_definition(item) -> bool:
    if not isinstance(item, Stmt) or not item.atoms:
        return False
    first = item.atoms[0]
    return isinstance(first, Tok) and first.kind == "word" and first.type != "NAME" and first.text in DEFINITIONS
