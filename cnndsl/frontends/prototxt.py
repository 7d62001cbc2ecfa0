"""Protocol Buffers text format (Caffe's `.prototxt`), parsed without protobuf or Caffe.

    name: "LeNet"                       # scalar fields: numbers, strings, enum words
    layer { name: "conv1" type: "Convolution" convolution_param { kernel_size: 5 } }
    input_shape < dim: 1 dim: [3, 224, 224] >

A message is an ordered list of fields; a field may repeat. Every field keeps
its position so that the importer's refusals point at it; a syntax error is
reported at its line and column. Nesting is bounded (MAX_DEPTH).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field

from .writer import located

MAX_DEPTH = 64

TOKEN = re.compile(
    r"""(?P<space>\s+)|(?P<comment>\#[^\n]*)
    |(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)[fF]?)
    |(?P<word>-?[A-Za-z_][A-Za-z0-9_.]*)
    |(?P<punct>[{}<>:\[\],;])|(?P<bad>.)""",
    re.VERBOSE,
)
CLOSE = {"{": "}", "<": ">"}


@dataclass
class Field:
    name: str
    value: object  # str (string), float/int (number), Word (enum or true/false), Message
    line: int
    column: int
    width: int = 1


class Word(str):
    """A bare identifier value: an enum name (`MAX`) or a boolean (`true`)."""


@dataclass
class Message:
    fields: list[Field] = field(default_factory=list)
    line: int = 1
    column: int = 1

    def all(self, name: str) -> list[Field]:
        return [f for f in self.fields if f.name == name]

    def first(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def get(self, name: str, default=None):
        found = self.first(name)
        return default if found is None else found.value


@dataclass
class Token:
    kind: str
    text: str
    line: int
    column: int


def tokens(text: str, path) -> list[Token]:
    newlines = [m.start() for m in re.finditer("\n", text)]

    def where(position: int) -> tuple[int, int]:
        line = bisect_left(newlines, position)
        return line + 1, position - (newlines[line - 1] if line else -1)

    out = []
    for match in TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "bad":
            quote = match.group() in "\"'"
            message = "a string not closed on its line" if quote else f"unexpected character {match.group()!r}"
            raise located("E1241", message, path, *where(match.start()))
        if kind not in ("space", "comment"):
            out.append(Token(kind, match.group(), *where(match.start())))
    out.append(Token("end", "", *where(len(text))))
    return out


class Parser:
    def __init__(self, text: str, path):
        self.path, self.tokens, self.at = path, tokens(text, path), 0

    def fail(self, message: str, token: Token):
        shown = f"`{token.text}`" if token.text else "the end of the file"
        return located("E1241", f"{message}, found {shown}", self.path, token.line, token.column, len(token.text))

    def next(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def message(self, close: str | None, depth: int, opened: Token | None = None) -> list[Field]:
        fields = []
        while True:
            token = self.next()
            if token.kind == "end" and close is None:
                return fields
            if token.kind == "end" and opened is not None:
                message = f"this `{opened.text}` is never closed: the file ends before its `{close}`"
                raise located("E1241", message, self.path, opened.line, opened.column)
            if token.kind == "punct" and token.text == close:
                return fields
            if token.kind == "punct" and token.text in ",;":
                continue
            if token.kind != "word":
                expected = f"a field name or `{close}`" if close else "a field name"
                raise self.fail(f"expected {expected}", token)
            fields += self.field(token, depth)

    def field(self, name: Token, depth: int) -> list[Field]:
        token = self.next()
        colon = token.kind == "punct" and token.text == ":"
        if colon:
            token = self.next()
        if token.kind == "punct" and token.text in CLOSE:
            if depth >= MAX_DEPTH:
                raise self.fail(f"messages nest deeper than {MAX_DEPTH} levels", token)
            inner = self.message(CLOSE[token.text], depth + 1, token)
            return [Field(name.text, Message(inner, name.line, name.column), name.line, name.column, len(name.text))]
        if not colon:
            raise self.fail(f"expected `:` or `{{` after `{name.text}`", token)
        if token.kind == "punct" and token.text == "[":
            return self.values(name)
        return [self.scalar(name, token)]

    def values(self, name: Token) -> list[Field]:
        out = []
        while True:
            token = self.next()
            if token.kind == "punct" and token.text == "]" and not out:
                return out
            out.append(self.scalar(name, token))
            token = self.next()
            if token.kind == "punct" and token.text == "]":
                return out
            if not (token.kind == "punct" and token.text == ","):
                raise self.fail("expected `,` or `]` in a list", token)

    def scalar(self, name: Token, token: Token) -> Field:
        if token.kind == "string":
            value = _unquote(token.text)
        elif token.kind == "number":
            text = token.text.rstrip("fF")
            value = float(text) if any(c in text for c in ".eE") else int(text)
        elif token.kind == "word":
            value = Word(token.text)
        else:
            raise self.fail(f"expected a value for `{name.text}`", token)
        return Field(name.text, value, token.line, token.column, len(token.text))


def _unquote(text: str) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def parse(text: str, path) -> Message:
    """The top-level message of a `.prototxt` text."""
    return Message(Parser(text, path).message(None, 0))
