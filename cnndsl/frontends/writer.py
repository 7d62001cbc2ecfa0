"""What the Darknet and Caffe importers share: bounded reading, located errors,
`.cnn` text for a straight list of statements, and sidecar tensors keyed by the
node names of the program that text compiles to.

An importer turns each layer of the source model into one `Statement` (one
line of the emitted network) and attaches the layer's tensors to it by role
(`("conv", "weight", array)`). :func:`keyed` compiles the emitted text and
looks up, on each statement's line, the node of that kind: its name gives the
key `cnndsl compile --weights` expects (`conv3.weight`, `bn3.running_var`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import SOURCES, CnnError, Diagnostic, Span, UsageError
from ..files import read_limited

MAX_MODEL_BYTES = 16 * 2**20
"""The largest model description (`.cfg`, `.prototxt`) read."""

KEYWORDS = {
    "import", "block", "network", "fn", "input", "output", "let", "if", "else", "repeat", "as", "in",
    "and", "or", "not", "true", "false", "concat", "add", "mul", "maximum", "residual", "frozen",
}  # fmt: skip


@dataclass
class Statement:
    """One line of the emitted network: `[output] [bind =] chain`."""

    chain: str
    bind: str | None = None
    output: bool = False
    hint: str = ""
    """A name to bind it by when a later statement refers to it (`l12`)."""
    tensors: list[tuple[str, str, np.ndarray]] = field(default_factory=list)
    """(layer kind on this line, role, array): `("bn", "var", running_variance)`."""

    def text(self) -> str:
        if self.output:
            return f"output {self.bind} = {self.chain}"
        return f"{self.bind} = {self.chain}" if self.bind else self.chain


@dataclass
class Value:
    """A tensor of the source model: its shape without the batch ((C, H, W) or (F,)), and the
    statement that makes it (None: the graph input `input`)."""

    shape: tuple
    statement: Statement | None
    input: str = "image"


class Builder:
    """The statements emitted so far; binds a statement's value when a later one refers to it."""

    def __init__(self):
        self.statements: list[Statement] = []
        self.last_input = "image"
        """The input declared last: the current value before the first statement."""

    def name(self, value: Value) -> str:
        if value.statement is None:
            return value.input
        if value.statement.bind is None:
            value.statement.bind = value.statement.hint
        return value.statement.bind

    def start(self, value: Value) -> str:
        """The chain prefix that makes `value` current: nothing when it is the last statement's."""
        if self.statements:
            current = value.statement is self.statements[-1]
        else:
            current = value.statement is None and value.input == self.last_input
        return "" if current else f"{self.name(value)} -> "

    def statement(self, chain: str, shape: tuple, hint: str) -> Value:
        statement = Statement(chain, hint=hint)
        self.statements.append(statement)
        return Value(shape, statement)


def read_text(path, code: str, what: str) -> str:
    """The text of the model file at `path`, at most MAX_MODEL_BYTES, registered for diagnostics."""
    try:
        data = read_limited(path, MAX_MODEL_BYTES)
    except OSError as exc:
        raise UsageError(Diagnostic(code, f"cannot read {what} {path}: {exc.strerror or exc}")) from None
    if len(data) > MAX_MODEL_BYTES:
        raise UsageError(Diagnostic(code, f"{what} {path} is larger than {MAX_MODEL_BYTES // 2**20} MiB"))
    text = data.decode("utf-8", errors="replace")
    SOURCES[str(path)] = text
    return text


def located(code: str, message: str, path, line: int, column: int = 1, width: int = 1, hint: str = "") -> CnnError:
    """An error at `path:line:column` (raise the result)."""
    span = Span(str(path), line, column, line, column + max(width, 1))
    return CnnError(Diagnostic(code, message, span, hint=hint))


def identifier(name: str, taken: set[str]) -> str:
    """A `.cnn` name for a source-model name: letters, digits and `_`, unique in `taken` (which it joins)."""
    from ..layers import LAYERS

    base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "t"
    if base[0].isdigit():
        base = "t" + base
    candidate, n = base, 1
    while candidate in taken or candidate in KEYWORDS or candidate in LAYERS:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


def network_name(base: str, fallback: str) -> str:
    """A CamelCase network name from a model's name or file stem (`yolov3-tiny` -> `Yolov3Tiny`)."""
    parts = [p for p in "".join(c if c.isalnum() else " " for c in base).split() if p]
    name = "".join(p[0].upper() + p[1:] for p in parts) or fallback
    return name if name[0].isalpha() and name.isascii() else "Net" + re.sub(r"[^A-Za-z0-9]", "_", name)


def number(value: float) -> str:
    """A float as `.cnn` source: shortest round-trip form, always with a `.` or exponent."""
    text = repr(float(value))
    return text if any(c in text for c in ".e") else text + ".0"


def call(kind: str, *args, **kwargs) -> str:
    """`kind(arg, key=value)`; a call without arguments is the bare kind."""
    parts = [_arg(a) for a in args] + [f"{k}={_arg(v)}" for k, v in kwargs.items()]
    return f"{kind}({', '.join(parts)})" if parts else kind


def _arg(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_arg(v) for v in value) + "]"
    return str(value)


def network(name: str, inputs: list[tuple[str, tuple]], statements: list[Statement], header: list[str]) -> str:
    """The program text: comment lines, then one network with the inputs and statements."""
    header = [re.sub(r"[\x00-\x1f\x7f]", "?", line) for line in header]  # a file name cannot end the comment
    lines = [f"# {line}" if line else "#" for line in header]
    lines.append(f"network {name} {{")
    for input_name, shape in inputs:
        lines.append(f"  input {input_name}: {_arg(list(shape))}")
    lines += [f"  {s.text()}" for s in statements]
    lines.append("}")
    return "\n".join(lines) + "\n"


def keyed(source: str, statements: list[Statement], name: str) -> dict[str, np.ndarray]:
    """The statements' tensors keyed as `cnndsl compile --weights` expects for `source`."""
    from .. import network as compiler
    from ..backends.weightfiles import torch_key

    if not any(s.tensors for s in statements):
        return {}
    compiled = compiler.loads(source, name=name)
    first = source.split("\n").index(f"  {statements[0].text()}") + 1 if statements else 0
    by_line: dict[tuple[int, str], object] = {}
    for node in compiled.graph.nodes():
        by_line.setdefault((node.span.line, node.op), node)
    out = {}
    for i, statement in enumerate(statements):
        for kind, role, array in statement.tensors:
            node = by_line[(first + i, kind)]
            out[torch_key(node, role)] = np.ascontiguousarray(array, dtype=np.float32)
    return out
