"""Text -> syntax tree, with Lark's LALR parser over ``grammars/cnn.lark``.

The syntax objects are built during the parse (Lark's inline transformer), which
is about twice as fast as a separate pass. Lark's errors are translated into
located diagnostics here.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
import stat
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import syntax as syn
from .errors import Label, Span, error

GRAMMAR_DIRS = (
    Path(__file__).resolve().parent / "_bundled" / "grammars",
    Path(__file__).resolve().parent.parent / "grammars",
)

# Readable names for Lark's terminal names, used in "expected …" messages.
TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "ARROW": "`->`",
    "_SEP": "a new line",
    "$END": "the end of the file",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "DOT": "`.`",
    "PLUS": "`+`",
    "MINUS": "`-`",
    "STAR": "`*`",
    "SLASH": "`/`",
    "PERCENT": "`%`",
    "__ANON_0": "`//`",
}
MAX_NESTING = 64
"""Brackets of all kinds open at once; deeper source is refused before it is built."""
MAX_DIGITS = 1000
"""Digits of an integer literal (Python's int() refuses very long digit strings)."""
_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_SYMBOL = {"LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "LBRACE": "{", "RBRACE": "}"}


def grammar_path() -> Path:
    for folder in GRAMMAR_DIRS:
        if (folder / "cnn.lark").is_file():
            return folder / "cnn.lark"
    raise FileNotFoundError("grammars/cnn.lark is missing from the installation")


class Brackets:
    """Post-lexer: drops newlines inside (...) and [...], and tracks open brackets
    so that an unclosed one can be reported where it was opened."""

    always_accept = ("_SEP",)

    def __init__(self):
        self.stack: list[Token] = []
        self.closer: Token | None = None  # the last closing bracket that matched an open one
        self.file = "<string>"

    def process(self, stream):
        self.stack, self.closer = [], None
        for token in stream:
            kind = token.type
            if kind in _OPENERS:
                self.stack.append(token)
                if len(self.stack) > MAX_NESTING:
                    raise _too_deep(token, self.file)
            elif kind in _CLOSERS and self.stack and self.stack[-1].type == _CLOSERS[kind]:
                self.stack.pop()
                self.closer = token
            elif kind == "_SEP" and self.stack and self.stack[-1].type != "LBRACE":
                continue
            yield token


def _too_deep(token: Token, file: str):
    return error(
        "E0601",
        f"brackets nested more than {MAX_NESTING} deep",
        _token_span(token, file),
        hint="split the expression or move nested branches into a block",
    )


class _Builder(Transformer):
    """Builds :mod:`cnndsl.syntax` objects; structure only, no semantic checks.

    Lark's inline transformer gets no ``meta``, so the parser keeps every token
    and each rule's span is taken from its first and last token.
    """

    file = "<string>"

    def cover(self, items) -> Span:
        first = next(_located(items))
        last = next(_located(reversed(items)))
        a, b = _start(first), _end(last)
        return Span(self.file, a[0], a[1], b[0], b[1])

    def tspan(self, token: Token) -> Span:
        return Span(self.file, token.line, token.column, token.end_line, token.end_column)

    # definitions
    def start(self, items):
        imports = tuple(i for i in items if isinstance(i, syn.Import))
        defs = tuple(i for i in items if isinstance(i, syn.Definition))
        return syn.Module(self.file, imports, defs)

    def import_stmt(self, items):
        return syn.Import(_unquote(items[1]), self.cover(items))

    def _definition(self, kind, items):
        name = items[1]
        params = items[2] if isinstance(items[2], _Params) else _Params(())
        return syn.Definition(kind, str(name), params.items, items[-1].items, self.cover(items), self.tspan(name))

    def block_def(self, items):
        return self._definition("block", items)

    def network_def(self, items):
        return self._definition("network", items)

    def params(self, items):
        return _Params(tuple(i for i in items if isinstance(i, syn.Param)))

    def param(self, items):
        return syn.Param(str(items[0]), items[2] if len(items) > 2 else None, self.cover(items))

    def body(self, items):
        return _Seq(tuple(i for i in items if not isinstance(i, Token)), self.cover(items))

    # statements
    def input_stmt(self, items):
        return syn.Input(str(items[1]), items[3], self.cover(items), self.tspan(items[1]))

    def output_stmt(self, items):
        chain = items[3] if len(items) > 3 else None
        return syn.Output(str(items[1]), chain, self.cover(items), self.tspan(items[1]))

    def bind_stmt(self, items):
        return syn.Bind(str(items[0]), items[2], self.cover(items), self.tspan(items[0]))

    def chain(self, items):
        terms = tuple(i for i in items if not isinstance(i, Token))
        return syn.Chain(terms, self.cover(items))

    def call(self, items):
        name = items[0]
        args = items[1] if len(items) > 1 and isinstance(items[1], _Args) else None
        body = items[-1] if type(items[-1]) is _Seq else None
        head = items[:2] if args else items[:1]
        return syn.Call(
            str(name),
            args.items if args else (),
            body.items if body else None,
            self.cover(head),
            self.tspan(name),
            args is not None,
        )

    def repeat(self, items):
        var = str(items[3]) if len(items) == 5 else None
        return syn.Repeat(items[1], var, items[-1].items, self.cover(items[:-1]))

    def block_input(self, items):
        return syn.BlockInput(self.cover(items))

    def args(self, items):
        return _Args(tuple(i for i in items if isinstance(i, syn.Arg)), self.cover(items))

    def arg(self, items):
        name = str(items[0]) if len(items) == 3 else None
        return syn.Arg(name, items[-1], self.cover(items))

    # expressions
    def int_lit(self, items):
        if len(items[0]) > MAX_DIGITS:  # int() refuses very long digit strings; say so here, located
            raise error("E0605", f"a number of {len(items[0]):,} digits is too large", self.cover(items))
        return syn.Literal(int(items[0]), self.cover(items))

    def float_lit(self, items):
        return syn.Literal(float(items[0]), self.cover(items))

    def string_lit(self, items):
        return syn.Literal(_unquote(items[0]), self.cover(items))

    def true_lit(self, items):
        return syn.Literal(True, self.cover(items))

    def false_lit(self, items):
        return syn.Literal(False, self.cover(items))

    def name_ref(self, items):
        return syn.Name(str(items[0]), self.cover(items))

    def in_ref(self, items):
        return syn.BlockInputRef(self.cover(items))

    def list_lit(self, items):
        values = tuple(i for i in items if i is not None and not isinstance(i, Token))
        return syn.ListExpr(values, self.cover(items))

    def index(self, items):
        return syn.Index(items[0], items[2], self.cover(items))

    def attribute(self, items):
        return syn.Attribute(items[0], str(items[2]), self.cover(items))

    def funcall(self, items):
        args = tuple(i for i in items[2:] if i is not None and not isinstance(i, Token))
        return syn.FunCall(str(items[0]), args, self.cover(items))

    def neg(self, items):
        return syn.Neg(items[1], self.cover(items))

    def value(self, items):
        return items[0]

    def atom(self, items):  # "(" expr ")"
        return items[1]

    def unary(self, items):  # "+" unary
        return items[1]

    def _binary(op):  # noqa: N805 - a factory evaluated in the class body
        def build(self, items):
            return syn.BinOp(op, items[0], items[2], self.cover(items))

        return build

    add = _binary("+")
    sub = _binary("-")
    mul = _binary("*")
    div = _binary("/")
    floordiv = _binary("//")
    mod = _binary("%")


class _Seq:
    __slots__ = ("items", "span")

    def __init__(self, items, span):
        self.items, self.span = items, span


class _Args(_Seq):
    __slots__ = ()


class _Params(_Seq):
    __slots__ = ()

    def __init__(self, items, span=None):
        super().__init__(items, span)


def _located(items):
    for item in items:
        if isinstance(item, Token):
            if item.line is not None:
                yield item
        elif getattr(item, "span", None) is not None:
            yield item


def _start(item):
    if isinstance(item, Token):
        return item.line, item.column
    return item.span.line, item.span.column


def _end(item):
    if isinstance(item, Token):
        return item.end_line, item.end_column
    return item.span.end_line, item.span.end_column


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(token: str) -> str:
    """The text of a string literal: `\\"`, `\\\\`, `\\n`, `\\t` are escapes; any other backslash stays."""
    body = token[1:-1]
    if "\\" not in body:
        return body
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _Builder, Brackets]:
    builder, brackets = _Builder(), Brackets()
    grammar = grammar_path().read_text(encoding="utf-8")
    lark = Lark(
        grammar,
        parser="lalr",
        keep_all_tokens=True,
        transformer=builder,
        postlex=brackets,
        maybe_placeholders=True,
        cache=table_cache(grammar) or False,
        start=["start", "value"],
    )
    return lark, builder, brackets


# -- the parser-table cache ---------------------------------------------------------
# Lark's `cache=True` pickles its tables into the shared temporary folder under a
# predictable name, where another user can plant a pickle that runs as whoever parses
# next. Tables are cached only in a private folder of this user's: created with mode
# 0700, owned by the user, writable by no one else; otherwise they are built afresh.


def cache_folder() -> str | None:
    """The private cache folder ($XDG_CACHE_HOME/cnndsl or ~/.cache/cnndsl), or None
    when it cannot be made private (then nothing is cached)."""
    if not hasattr(os, "getuid") or os.environ.get("CNNDSL_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "cnndsl")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
    return folder if private else None


def table_cache(grammar: str) -> str | None:
    """The path of the cached parser tables for `grammar`, or None when no safe cache exists."""
    folder = cache_folder()
    if folder is None:
        return None
    import lark

    digest = hashlib.sha256(f"{grammar}\0{lark.__version__}".encode()).hexdigest()[:24]
    path = os.path.join(folder, f"grammar-{digest}.lark")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return path  # Lark writes it
    except OSError:
        return None
    safe = stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022
    return path if safe else None


def parse(text: str, file: str = "<string>") -> syn.Module:
    """Parse the text of one `.cnn` file into a :class:`syntax.Module`."""
    lark, builder, brackets = _parser()
    builder.file = brackets.file = file
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the parse allocates many small objects that never form cycles
    try:
        return lark.parse(text, start="start")
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, file, brackets) from None
    finally:
        if gc_was_enabled:
            gc.enable()


def parse_value(text: str, file: str = "<command line>"):
    """Parse the expression of a `--set name=value` override."""
    lark, builder, brackets = _parser()
    builder.file = brackets.file = file
    try:
        return lark.parse(text, start="value")
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, file, brackets) from None


# -- syntax errors ------------------------------------------------------------

_NUMBER = re.compile(r"([0-9]+\.[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[0-9]+([eE][+-]?[0-9]+)?")
_WORD_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.")
_DEFINITION_START = re.compile(r"\s*(network|block|import)\b")


def _syntax_error(exc: UnexpectedInput, text: str, file: str, brackets: Brackets):
    number = _malformed_number(exc, text, file)
    if number is not None:
        return number
    if isinstance(exc, UnexpectedCharacters):
        opener = _open_group(brackets)
        if opener is not None and text.startswith("->", exc.pos_in_stream - 1):
            arrow = Span(file, exc.line, exc.column - 1, exc.line, exc.column + 1)
            return _unclosed(opener, file, arrow, "`->`")
        return _bad_character(exc, text, file)
    token = getattr(exc, "token", None)
    at_end = isinstance(exc, UnexpectedEOF) or (token is not None and token.type == "$END")
    if at_end and brackets.stack:
        return _unclosed(brackets.stack[-1], file, _end_span(text, file))
    if isinstance(exc, UnexpectedToken):
        return _unclosed_before(token, text, file, brackets) or _unexpected_token(exc, file, brackets)
    return error("E0100", "unexpected end of file", _end_span(text, file))


def _open_group(brackets: Brackets) -> Token | None:
    """The innermost open `(` or `[`, if the innermost open bracket is one."""
    if brackets.stack and brackets.stack[-1].type in ("LPAR", "LSQB"):
        return brackets.stack[-1]
    return None


def _unclosed_before(token: Token, text: str, file: str, brackets: Brackets):
    """An unclosed bracket that explains an unexpected token, or None.

    Newlines inside `(...)` and `[...]` are dropped, so a missing `)` shows up
    as a strange token later on; report the bracket that was left open instead.
    """
    if not brackets.stack or token.line is None:
        return None
    opener, span = brackets.stack[-1], _token_span(token, file)
    line_text = text.splitlines()[token.line - 1] if token.line <= len(text.splitlines()) else ""
    if opener.type == "LBRACE":
        keyword = _DEFINITION_START.match(line_text)
        if keyword and token.line > opener.line:
            start = Span(file, token.line, keyword.start(1) + 1, token.line, keyword.end(1) + 1)
            return _unclosed(opener, file, start, f"`{keyword.group(1)}`")
        return None
    closer = _OPENERS[opener.type]
    mismatched = token.type in _CLOSERS and token.type != closer
    if token.type in ("ARROW", "LBRACE", "RBRACE") or mismatched or token.line > opener.line:
        return _unclosed(opener, file, span, _describe(token))
    rest = line_text[token.column - 1 :]
    wanted, other = _SYMBOL[closer], {")": "]", "]": ")"}[_SYMBOL[closer]]
    if other in rest and (wanted not in rest or rest.index(other) < rest.index(wanted)):
        at = token.column + rest.index(other)
        return _unclosed(opener, file, Span(file, token.line, at, token.line, at + 1), f"`{other}`")
    return None


def _malformed_number(exc: UnexpectedInput, text: str, file: str):
    """`3.3.3`, `0x10`, `1e`, `16x16`: a run of word characters that starts like a number."""
    position = getattr(getattr(exc, "token", None), "start_pos", None)
    if position is None:
        position = getattr(exc, "pos_in_stream", None)
    if position is None or position >= len(text) or text[position] not in _WORD_CHARS:
        return None
    start = position
    while start > 0 and text[start - 1] in _WORD_CHARS:
        start -= 1
    end = position
    while end < len(text) and text[end] in _WORD_CHARS:
        end += 1
    word = text[start:end]
    starts_like_number = word[0].isdigit() or (word[0] == "." and word[1:2].isdigit())
    if not starts_like_number or _NUMBER.fullmatch(word):
        return None
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    span = Span(file, line, column, line, column + len(word))
    return error(
        "E0103",
        f"malformed number `{word}`",
        span,
        hint="numbers look like `3`, `0.5` or `1e-4`; names start with a letter or `_`",
    )


def _end_span(text: str, file: str) -> Span:
    lines = text.splitlines() or [""]
    return Span(file, len(lines), len(lines[-1]) + 1)


def _token_span(token: Token, file: str) -> Span:
    end_col = token.end_column if token.end_line == token.line else token.column + 1
    return Span(file, token.line, token.column, token.line, end_col)


def _unclosed(opener: Token, file: str, where: Span, found: str = ""):
    closer = _SYMBOL[_OPENERS[opener.type]]
    if found:
        message = f"unclosed `{opener}`: expected `{closer}` before {found}"
    else:
        message = f"unclosed `{opener}`: the file ends before its `{closer}`"
    return error(
        "E0101",
        message,
        _token_span(opener, file),
        label="opened here",
        notes=[Label(where, f"expected `{closer}` before here")],
        hint=f"add the missing `{closer}`",
    )


def _bad_character(exc: UnexpectedCharacters, text: str, file: str):
    char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
    span = Span(file, exc.line, exc.column, exc.line, exc.column + 1)
    if char == '"':
        return error(
            "E0102",
            "unterminated string",
            span,
            label="string starts here",
            hint='close the string with `"` on the same line',
        )
    if char.isdigit() or char == ".":
        return error("E0103", "malformed number", span, hint="numbers look like `3`, `0.5` or `1e-4`")
    shown = repr(char)[1:-1] if char.isprintable() else f"\\u{ord(char):04x}"
    return error("E0104", f"unexpected character `{shown}`", span)


def _unexpected_token(exc: UnexpectedToken, file: str, brackets: Brackets):
    token = exc.token
    span = _token_span(token, file)
    expected = sorted({TERMINAL_NAMES.get(t, f"`{t.lower()}`") for t in exc.expected if not t.startswith("__")})
    found = _describe(token)
    closes_open = bool(brackets.stack) and brackets.stack[-1].type == _CLOSERS.get(token.type)
    if token.type in _CLOSERS and token is not brackets.closer and not closes_open:
        opening = _SYMBOL[_CLOSERS[token.type]]
        return error(
            "E0105",
            f"unmatched `{token}`: no `{opening}` is open here",
            span,
            hint=f"remove it, or add the `{opening}` it was meant to close",
        )
    hint = ""
    if token.type == "_SEP" and brackets.stack:
        hint = "the statement is incomplete"
    elif token.type == "INT" and "a name" in expected:
        hint = "names start with a letter or `_`"
    elif "an integer" in expected and "a name" in expected:
        hint = "expected a value: a number, a name, a list or a string"
    elif expected and len(expected) <= 6:
        hint = "expected " + _join_or(expected)
    return error("E0100", f"syntax error: unexpected {found}", span, hint=hint)


def _describe(token: Token) -> str:
    if token.type == "_SEP":
        return "end of line" if "\n" in token else "`;`"
    if token.type == "$END":
        return "end of file"
    if token.type == "NAME":
        return f"name `{token}`"
    if token.type in ("INT", "FLOAT"):
        return f"number `{token}`"
    if token.type == "ARROW":
        return "`->`"
    return f"`{token}`"


def _join_or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
