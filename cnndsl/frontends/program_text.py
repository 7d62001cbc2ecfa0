"""Write the folded items as `.cnn` text.

One walk renders items (layers, merges, block calls, repeats) to lines; it
passes every number through a callback, in a fixed order, so that the same
walk lists a body's numbers (to find a block's parameters) and writes them
(a parameter's name or the literal). A keyword argument whose literal value
is the layer's default is left out. Chains break before each learnable
layer; inside a merge every branch is one statement, continued with `->`.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .structure import Block, Call, Layer, Merge, Repeat, Source

DEFAULTS = {
    "conv": {"stride": 1, "pad": 0, "dilation": 1, "groups": 1, "bias": True},
    "convT": {"stride": 1, "pad": 0, "output_pad": 0, "dilation": 1, "groups": 1, "bias": True},
    "dwconv": {"stride": 1, "pad": 0, "mult": 1, "bias": True},
    "dense": {"bias": True},
    "maxpool": {"pad": 0, "ceil": False},
    "avgpool": {"pad": 0, "ceil": False, "include_pad": False},
    "bn": {"eps": 1e-5},
    "dropout": {"p": 0.5},
    "leakyrelu": {"alpha": 0.01},
    "elu": {"alpha": 1.0},
    "softmax": {"axis": 1},
    "logsoftmax": {"axis": 1},
    "pad": {"mode": "constant", "value": 0.0},
    "lrn": {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0},
    "upsample": {"mode": "nearest", "align_corners": False},
    "layernorm": {"eps": 1e-5},
    "groupnorm": {"eps": 1e-5},
    "instancenorm": {"eps": 1e-5},
}
BREAK_BEFORE = {"conv", "dwconv", "convT", "dense"}
KEYWORDS = {
    "in", "input", "output", "block", "network", "repeat", "as", "if", "else", "let", "fn", "and", "or", "not",
    "true", "false", "import", "frozen", "identity", "residual",
}  # fmt: skip


def number_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, str):
        return value
    if value and abs(value) < 1e-3:  # 1e-6, not 0.000001
        mantissa, exponent = np.format_float_scientific(np.float32(value), unique=True, trim="-").split("e")
        return f"{mantissa}e{int(exponent)}"
    text = np.format_float_positional(np.float32(value), unique=True, trim="0")
    return text if "." in text else text + ".0"


class Writer:
    """Renders items; `number(value, hint)` -> (text, literal) for each number in order."""

    def __init__(self, number):
        self.number = number

    # -- statements -------------------------------------------------------------------------
    def statements(self, items: list) -> list[str]:
        lines, chain = [], []
        for item in items:
            if isinstance(item, Source):  # always first: `skip -> …`, or the branch `skip`
                chain = [item.name]
                continue
            if isinstance(item, Layer):
                term = self.layer(item.op)
                named = len(chain) == 1 and isinstance(items[0], Source)  # `skip -> conv(…)` stays on one line
                if chain and not named and (item.op.kind in BREAK_BEFORE or len(" -> ".join([*chain, term])) > 90):
                    lines.append(" -> ".join(chain))
                    chain = []
                chain.append(term)
                continue
            if chain:
                lines.append(" -> ".join(chain))
                chain = []
            if isinstance(item, Call):  # a block call starts a chain: `Residual(64) -> relu`
                chain = [self.call(item)]
                continue
            lines += self.statement(item)
        if chain:
            lines.append(" -> ".join(chain))
        return lines

    def statement(self, item) -> list[str]:
        if isinstance(item, Repeat):
            count, _ = self.number(item.count, "n")
            body = self.statements(item.instances[0])
            if len(body) == 1:
                return [f"repeat {count} {{ {body[0]} }}"]
            return [f"repeat {count} {{", *_indent(body), "}"]
        if isinstance(item, Call):
            return [self.call(item)]
        return self.merge(item)

    def call(self, item: Call) -> str:
        values = item.block.args(item.group)
        args = [self.number(v, p.name)[0] for v, p in zip(values, item.block.params)]
        return f"{item.block.name}({', '.join(args)})" if args else item.block.name

    def merge(self, item: Merge) -> list[str]:
        empty = [not b for b in item.branches]
        if item.op.kind == "add" and len(item.branches) == 2 and sum(empty) == 1:
            body = item.branches[empty.index(False)]
            return ["residual {", *_indent(self.statements(body)), "}"]
        lines = [f"{item.op.kind} {{"]
        for branch in item.branches:
            lines += _indent(self.branch(branch) if branch else ["identity"])
        return [*lines, "}"]

    def branch(self, items: list) -> list[str]:
        """One statement: the lines of the items joined with `->` at line ends."""
        return _joined(self.statements(items))

    # -- layers -----------------------------------------------------------------------------
    def layer(self, op) -> str:
        defaults = DEFAULTS.get(op.kind, {})
        kernel = op.args.get("kernel")
        args = []
        for k, (name, value) in enumerate(op.args.items()):
            text, literal = self.value(value, name)
            default = kernel if name == "stride" and op.kind in ("maxpool", "avgpool", "lppool") else defaults.get(name)
            if k >= op.positional and literal and _equal(value, default):
                continue
            args.append(text if k < op.positional else f"{name}={text}")
        return f"{op.kind}({', '.join(args)})" if args else op.kind

    def value(self, value, name: str) -> tuple[str, bool]:
        if isinstance(value, (bool, str)):
            return number_text(value), True
        if isinstance(value, list):
            parts = [self.number(v, name) for v in value]
            return "[" + ", ".join(t for t, _ in parts) + "]", all(lit for _, lit in parts)
        return self.number(value, name)


def _equal(value, default) -> bool:
    if default is None or isinstance(value, list) or isinstance(default, list):
        return value == default
    if isinstance(value, (bool, str)) or isinstance(default, (bool, str)):
        return value == default
    return math.isclose(float(value), float(default), rel_tol=1e-6)


def _joined(lines: list[str]) -> list[str]:
    """Lines of one chain: every line that another part of the chain follows ends with `->`.

    Lines inside a merge's braces belong to the merge; only the top level of the
    chain (depth 0 at the line's end) is continued.
    """
    out, depth = [], 0
    for k, line in enumerate(lines):
        depth += line.count("{") - line.count("}")
        continues = k < len(lines) - 1 and depth == 0
        out.append(("  " if k else "") + (line + " ->" if continues else line))
    return out


def _indent(lines: list[str]) -> list[str]:
    return ["  " + line for line in lines]


def numbers_of(items: list) -> list[tuple]:
    """The (value, hint) of every number the items write, in order."""
    found = []

    def record(value, hint):
        found.append((value, hint))
        return number_text(value), True

    Writer(record).statements(items)
    return found


# -- the program --------------------------------------------------------------------------------


def block_text(block: Block) -> list[str]:
    position = iter(range(1 << 30))

    def number(value, hint):
        param = block.positions.get(next(position))
        return (param.name, False) if param is not None else (number_text(value), True)

    params = ", ".join(p.name for p in block.params)
    head = f"block {block.name}({params}) {{" if params else f"block {block.name} {{"
    return [head, *_indent(Writer(number).statements(block.bodies[0])), "}"]


def program(head: tuple, blocks: list, segments: list) -> str:
    """The program: `head` is (network name, source file, input name, input shape); each segment
    is (the value it starts from, items, what it makes: a name or ("output", name))."""
    name, source, input_name, shape = head
    lines = [f"# imported from {source} by `cnndsl import`"]
    for block in blocks:
        lines += [*block_text(block), ""]
    body = [f"input {input_name}: [{', '.join(map(str, shape))}]"]
    literal = Writer(lambda value, hint: (number_text(value), True))
    for k, (start, items, end) in enumerate(segments):
        part = literal.statements(items)
        if k:
            part[0] = f"{start[1] if isinstance(start, tuple) else start} -> {part[0]}"
        last = _last_statement(part)
        if end != ("output", "output"):
            part[last] = (f"output {end[1]}" if isinstance(end, tuple) else end) + f" = {part[last]}"
        body += part
    lines += [f"network {name} {{", *_indent(body), "}"]
    return "\n".join(lines) + "\n"


def _last_statement(lines: list[str]) -> int:
    depth = 0
    for k in range(len(lines) - 1, -1, -1):
        depth += lines[k].count("}") - lines[k].count("{")
        if depth == 0 and not (k > 0 and lines[k - 1].endswith("->")):
            return k
    return 0


def identifier(text: str, fallback: str) -> str:
    """`input.1` -> `input_1`; a keyword gets a trailing `_`."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or fallback
    name = name if name[0].isalpha() else f"{fallback}_{name}"
    return name + "_" if name in KEYWORDS or name in _layer_names() else name


def _layer_names() -> set:
    from ..layers import LAYERS

    return set(LAYERS)
