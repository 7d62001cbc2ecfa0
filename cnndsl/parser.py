"""Text -> syntax tree, with Lark's LALR parser over ``grammars/cnn.lark``.

The syntax objects are built during the parse (Lark's inline transformer), which
is about twice as fast as a separate pass. Lark's errors are translated into
located diagnostics by :mod:`cnndsl.syntax_errors`.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
from contextlib import contextmanager

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput

from . import syntax as syn
from .cache import cache_folder, trusted
from .errors import Span, error
from .grammar import GRAMMAR_DIRS, grammar_path  # noqa: F401 - where callers look for them
from .lexer import install as root_first
from .syntax_errors import Brackets, syntax_error
from .values import sized_value

MAX_DIGITS = 1000
"""Digits of an integer literal (Python's int() refuses very long digit strings)."""


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
        constants = tuple(i for i in items if isinstance(i, syn.Let))
        functions = tuple(i for i in items if isinstance(i, syn.Function))
        return syn.Module(self.file, imports, defs, constants, functions)

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

    def fn_def(self, items):
        name = items[1]
        return syn.Function(str(name), items[2].items, items[4], self.cover(items), self.tspan(name))

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

    def let_stmt(self, items):
        return syn.Let(str(items[1]), items[3], self.cover(items), self.tspan(items[1]))

    def assert_stmt(self, items):
        return syn.Assert(items[1], self.cover(items), syn.names_in(items[1]))

    def if_stmt(self, items):
        orelse = else_span = None
        if len(items) > 3:
            else_span = self.tspan(items[3])
            orelse = items[4] if isinstance(items[4], syn.If) else items[4].items
        return syn.If(items[1], items[2].items, orelse, self.cover(items[:2]), else_span)

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

    def sized_lit(self, items):  # `5M`, `2.5K`, `64MiB`: a whole number (cnndsl/values.py)
        return syn.Literal(sized_value(items[0], self.cover(items)), self.cover(items))

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
        given = [i for i in items[2:] if isinstance(i, syn.Arg)]
        args = tuple(a.value for a in given if a.name is None)
        keywords = tuple(a for a in given if a.name is not None)
        return syn.FunCall(str(items[0]), args, self.cover(items), keywords, self.tspan(items[0]))

    def farg(self, items):
        return self.arg(items)

    def conditional(self, items):
        return syn.Conditional(items[0], items[2], items[4], self.cover(items))

    def or_op(self, items):
        return syn.BoolOp("or", items[0], items[2], self.cover(items))

    def and_op(self, items):
        return syn.BoolOp("and", items[0], items[2], self.cover(items))

    def not_op(self, items):
        return syn.Not(items[1], self.cover(items))

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

    def _comparison(op):  # noqa: N805 - a factory evaluated in the class body
        def build(self, items):
            return syn.Compare(op, items[0], items[2], self.cover(items))

        return build

    eq = _comparison("==")
    ne = _comparison("!=")
    lt = _comparison("<")
    le = _comparison("<=")
    gt = _comparison(">")
    ge = _comparison(">=")
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


_IDLE: list[tuple[Lark, _Builder, Brackets]] = []
"""Parsers not in use. A parse takes one (or builds one) and gives it back, so
the per-parse state of the transformer and post-lexer (the file name, the open
brackets) is never shared between two parses running at once."""


def _build_parser() -> tuple[Lark, _Builder, Brackets]:
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
    root_first(lark)
    return lark, builder, brackets


# -- the parser-table cache (in the private folder of cnndsl/cache.py) ---------------


def table_cache(grammar: str) -> str | None:
    """The path of the cached parser tables for `grammar`, or None when no safe cache exists."""
    folder = cache_folder()
    if folder is None:
        return None
    import lark

    digest = hashlib.sha256(f"{grammar}\0{lark.__version__}".encode()).hexdigest()[:24]
    path = os.path.join(folder, f"grammar-{digest}.lark")
    return None if trusted(path) is False else path  # None from trusted(): not there yet, Lark writes it


@contextmanager
def _parser(file: str, text: str = ""):
    """A parser for one parse of `file`, used by nobody else meanwhile (reentrant, thread-safe)."""
    try:
        parser = _IDLE.pop()
    except IndexError:
        parser = _build_parser()
    parser[1].file = parser[2].file = file
    parser[2].text = text  # the post-lexer looks ahead for `else` on the next line
    try:
        yield parser
    finally:
        _IDLE.append(parser)


def parse(text: str, file: str = "<string>") -> syn.Module:
    """Parse the text of one `.cnn` file into a :class:`syntax.Module`."""
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the parse allocates many small objects that never form cycles
    try:
        with _parser(file, text) as (lark, _, brackets):
            try:
                return lark.parse(text, start="start")
            except UnexpectedInput as exc:
                raise syntax_error(exc, text, file, brackets) from None
    finally:
        if gc_was_enabled:
            gc.enable()


def parse_value(text: str, file: str = "<command line>"):
    """Parse the expression of a `--set name=value` override."""
    with _parser(file, text) as (lark, _, brackets):
        try:
            return lark.parse(text, start="value")
        except UnexpectedInput as exc:
            raise syntax_error(exc, text, file, brackets) from None
