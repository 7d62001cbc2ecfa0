"""`cnndsl fmt`: one canonical layout for `.cnn` source, comments kept where they stand.

The formatter works on the token stream of Lark's lexer over ``grammars/cnn.lark``
(comments and separators included), not on the syntax tree: a construct added
to the grammar is laid out by the same few rules without a change here.

Layout: two spaces per `{`; statements one per line (`;` becomes a line break)
unless a `{ … }` was written on one line and still fits; spaces around `->`,
binary operators and a statement's `=`, none around the `=` of an argument;
`, ` between arguments; one blank line around `block` and `network`
definitions, at most one elsewhere; a chain broken after `->` where it was
broken, and also where a line would pass :data:`WIDTH` columns (continuation
lines indented two more); a `( … )` or `[ … ]` written over several lines keeps
one item per line with a trailing comma.

>>> print(format_text("network T{input x:[1,8,8];conv(4,3,pad = 1)->relu}"), end="")
network T {
  input x: [1, 8, 8]
  conv(4, 3, pad=1) -> relu
}
"""

from __future__ import annotations

from .layout import CLOSE, VALUE_WORDS, Comments, ElseBreak, Group, Stmt, Tok, is_definition, read, tokens

WIDTH = 100
INDENT = 2
CONTINUATION = 2
_ALIGN = "\0"  # marks where a trailing comment starts, until runs of them are aligned


# -- rendering ----------------------------------------------------------------------------


class _Out:
    """Lines being written; the last one is open."""

    def __init__(self, indent: int = 0):
        self.lines = [" " * indent]
        self.prev: Tok | None = None
        self.unary = False

    @property
    def line(self) -> str:
        return self.lines[-1]

    def write(self, text: str) -> None:
        self.lines[-1] += text

    def newline(self, indent: int) -> None:
        self.lines.append(" " * indent)
        self.prev = None

    def indent(self) -> int:
        return len(self.line) - len(self.line.lstrip(" "))

    def at_start(self) -> bool:
        return not self.line.strip()


def _space(out: _Out, tok: Tok, in_parens: bool) -> str:
    prev = out.prev
    if prev is None or out.at_start() or out.unary:
        return ""
    if tok.text in (",", ")", "]", ":", ".", ";"):
        return ""
    if prev.text in ("(", "[", "."):
        return ""
    if in_parens and "=" in (prev.text, tok.text):
        return ""
    if tok.text == "(":
        return "" if prev.type == "NAME" else " "
    if tok.text == "[":
        postfix = prev.type == "NAME" or prev.text in VALUE_WORDS or prev.text in (")", "]")
        return "" if postfix else " "
    return " "


def _is_unary(out: _Out, tok: Tok) -> bool:
    if tok.text not in ("-", "+"):
        return False
    prev = out.prev
    if prev is None or out.unary:
        return True
    if prev.kind in ("op", "open", "comma", "arrow"):
        return True
    return prev.kind == "word" and prev.type != "NAME" and prev.text not in VALUE_WORDS


def _token(out: _Out, tok: Tok, in_parens: bool) -> None:
    unary = _is_unary(out, tok)
    out.write(_space(out, tok, in_parens) + tok.text)
    out.prev, out.unary = tok, unary


def _atoms(out: _Out, atoms, in_parens: bool) -> None:
    for atom in atoms:
        if isinstance(atom, Group):
            _group(out, atom, in_parens)
        elif isinstance(atom, ElseBreak):
            base = out.indent()
            for comment in atom.comments:
                out.newline(base)
                out.write(comment)
            if atom.comments:
                out.newline(base)
        else:
            _token(out, atom, in_parens)


_rendered: dict = {}
"""Groups already laid out in this run, by (group, column, indent of the line): a group is tried
at a column before it is placed there, and nested groups would otherwise be redone at every level."""


def _group(out: _Out, group: Group, in_parens: bool) -> None:
    opener = Tok("open", group.open)
    _token(out, opener, in_parens)
    key = (id(group), len(out.line), out.indent())
    done = _rendered.get(key)
    if done is None:
        inner = _Out()
        inner.lines = [out.line]
        if group.open == "{":
            _brace(inner, group)
        else:
            _elements(inner, group)
        done = _rendered[key] = (inner.lines[0][len(out.line) :], inner.lines[1:])
    out.write(done[0])
    out.lines += done[1]
    out.prev, out.unary = Tok("close", group.close), False


def _brace(out: _Out, group: Group) -> None:
    fits = not group.multiline and len(out.line) + _text_width(group) <= WIDTH
    inline = _inline_body(group) if fits else None
    if inline is not None and len(out.line) + len(inline) <= WIDTH:
        out.write(inline[1:])
        return
    base = out.indent()
    if group.opener_comment:
        out.write("  " + group.opener_comment)
    for line in _body(group.items, base + INDENT, top=False):
        out.lines.append(line)
    out.newline(base)
    out.write("}")


def _text_width(group: Group) -> int:
    """A lower bound of the group's width on one line: its tokens without spaces (to skip hopeless tries)."""
    key = ("width", id(group))
    if key not in _rendered:
        items = [a for item in group.items for a in getattr(item, "atoms", ())]
        _rendered[key] = 2 + sum(_text_width(a) if isinstance(a, Group) else len(a.text) for a in items
                                 if not isinstance(a, ElseBreak))  # fmt: skip
    return _rendered[key]


def _inline_body(group: Group) -> str | None:
    """`{ a; b }` when every statement fits on one line, else None."""
    parts = []
    for item in group.items:
        if not isinstance(item, Stmt) or item.leading or item.trailing:
            return None
        lines = _statement(item, 0)
        if len(lines) != 1:
            return None
        parts.append(lines[0])
    return "{ " + "; ".join(parts) + " }" if parts else "{}"


def _elements(out: _Out, group: Group) -> None:
    if not group.multiline:
        for i, elem in enumerate(group.items):
            if i:
                out.write(",")
                out.prev = Tok("comma", ",")
            _atoms(out, elem.atoms, True)
        out.write(group.close)
        return
    base = out.indent()
    if group.opener_comment:
        out.write("  " + group.opener_comment)
    for i, elem in enumerate(group.items):
        for comment in elem.leading:
            out.newline(base + INDENT)
            out.write(comment)
        out.newline(base + INDENT)
        _atoms(out, elem.atoms, True)
        if i < len(group.items) - 1 or group.commas:
            out.write(",")
        if elem.trailing:
            out.write("  " + elem.trailing)
    for comment in group.dangling:
        out.newline(base + INDENT)
        out.write(comment)
    out.newline(base)
    out.write(group.close)


def _segments(atoms) -> list:
    segments, current = [], []
    for atom in atoms:
        if isinstance(atom, Tok) and atom.kind == "arrow":
            segments.append((current, atom))
            current = []
        else:
            current.append(atom)
    segments.append((current, None))
    return segments


def _statement(stmt: Stmt, indent: int) -> list[str]:
    out = _Out(indent)
    arrow = None
    for atoms, next_arrow in _segments(stmt.atoms):
        if arrow is not None:
            _after_arrow(out, arrow, atoms, indent + CONTINUATION)
        _atoms(out, atoms, False)
        arrow = next_arrow
    lines = [line.rstrip() for line in out.lines]
    if stmt.trailing:
        lines[-1] += _ALIGN + stmt.trailing
    return lines


def _after_arrow(out: _Out, arrow: Tok, atoms, continuation: int) -> None:
    out.write(" ->")
    comments = list(arrow.comments)
    if comments and not comments[0][1]:
        out.write("  " + comments.pop(0)[0])
    for text, _ in comments:
        out.newline(continuation)
        out.write(text)
    if arrow.broken or arrow.comments or _overflows(out, atoms):
        out.newline(continuation)
        return
    out.prev = arrow


def _overflows(out: _Out, atoms) -> bool:
    """Would the next chain term pass the width on this line (and is there room to gain)?"""
    trial = _Out()
    trial.lines = [out.line]  # the same line as the real placement, so the groups laid out here are reused
    trial.prev = Tok("arrow", "->")
    _atoms(trial, atoms, False)
    return len(trial.lines[0]) > WIDTH


def _body(items, indent: int, top: bool) -> list[str]:
    lines: list[str] = []
    previous = None
    for item in items:
        if previous is not None and _blank_between(previous, item, top):
            lines.append("")
        if isinstance(item, Comments):
            lines += [" " * indent + c for c in item.lines]
        else:
            lines += [" " * indent + c for c in item.leading]
            lines += _statement(item, indent)
        previous = item
    return _align_comments(lines)


def _align_comments(lines: list[str]) -> list[str]:
    """Trailing comments on consecutive lines start in one column (as gofmt does), two spaces after the code."""
    out, run = [], []
    for line in [*lines, ""]:
        if _ALIGN in line:
            run.append(line)
            continue
        if run:
            column = max(r.index(_ALIGN) for r in run) + 2
            out += [code.ljust(column) + comment for code, comment in (r.split(_ALIGN, 1) for r in run)]
            run = []
        out.append(line)
    return out[:-1]


def _blank_between(previous, item, top: bool) -> bool:
    if top and (is_definition(previous) or is_definition(item)):
        return True
    return item.blank


# -- entry points ------------------------------------------------------------------------------


class FormatError(Exception):
    """The formatted text would not hold the same tokens: a bug in the formatter, never written out."""


def format_text(text: str) -> str:
    """The canonical layout of a `.cnn` program that parses (see the module docstring)."""
    toks, body = read(text)
    _rendered.clear()
    try:
        lines = _body(body.items, 0, top=True)
    finally:
        _rendered.clear()
    result = "\n".join(lines).strip("\n")
    result = result + "\n" if result else ""
    if _significant(tokens(result)) != _significant(toks):
        raise FormatError("the formatted text differs from the source in its tokens")
    return result


def _significant(toks: list[Tok]) -> list:
    """Tokens that carry meaning, with comments; separators and trailing commas left out."""
    out = []
    for i, tok in enumerate(toks):
        if tok.kind in ("nl", "semi"):
            continue
        if tok.kind == "comma" and i + 1 < len(toks) and _next_code(toks, i + 1) in CLOSE:
            continue
        if tok.kind == "arrow":
            out.append("->")
            out += [c for c, _ in tok.comments]
            continue
        out.append(tok.text)
    return out


def _next_code(toks: list[Tok], start: int) -> str:
    for tok in toks[start:]:
        if tok.kind not in ("nl", "comment"):
            return tok.text
    return ""


# -- the command ----------------------------------------------------------------------------------


def format_source(text: str, file: str = "<string>") -> str:
    """:func:`format_text` of a program that parses; a :class:`CnnError` for one that does not."""
    from ..parser import parse

    parse(text, file)
    return format_text(text)
