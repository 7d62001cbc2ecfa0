"""Program generators shared by tests/test_fuzz.py (short runs) and tests/fuzz/run.py (long runs).

* :func:`programs` — a Hypothesis strategy that writes programs from the
  grammar's productions: blocks, networks, chains, merges, repeats, expressions,
  with arguments that are sometimes right and sometimes wrong.
* :func:`mutate` — random edits of real programs (architectures/*.cnn):
  deletions, insertions of tokens, swapped lines, changed numbers.
* :func:`compile_text` — the oracle: compiling must either succeed (and the
  report render) or raise :class:`cnndsl.CnnError`; anything else is a bug.
* :func:`onnx_oracle` — the second oracle: a program that compiles gives an ONNX
  model that passes `onnx.checker.check_model(full_check=True)` and loads in
  onnxruntime.
* Argument extremes (issue 9): huge, tiny, non-finite and overflowing floats,
  strides and kernels of 10^k, and chains of hundreds of nested block calls.
"""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import strategies as st

import cnndsl

ROOT = Path(__file__).resolve().parents[2]
# Real programs to mutate: the architectures, and the programs written to Part 2 of the language.
PART2 = ROOT / "tests" / "data" / "part2"
ARCHITECTURES = sorted((ROOT / "architectures").glob("*.cnn")) + sorted(PART2.glob("*.cnn"))

LAYERS = [
    "conv",
    "dwconv",
    "convT",
    "maxpool",
    "avgpool",
    "lppool",
    "gap",
    "gmp",
    "upsample",
    "pad",
    "flatten",
    "dense",
    "bn",
    "lrn",
    "dropout",
    "relu",
    "prelu",
    "softmax",
    "identity",
    "channel_shuffle",
    "sigmoid",
    "leakyrelu",
    "tanh",
    "gelu",
    "relux",
    "Block",
    "x",
]
KEYWORDS = [
    "same",
    "valid",
    "project",
    "identity",
    "nearest",
    "linear",
    "reflect",
    "edge",
    "wrap",
    "sobel_x",
    "box",
    "he",
    "true",
    "false",
    "in.channels",
    "in.height",
    "in",
    "i",
    "w",
    "normal(0.1)",
    "gaussian(1.0)",
    "k",
    "widths",
    "f(3)",
]
ARG_NAMES = [
    "stride",
    "pad",
    "dilation",
    "groups",
    "bias",
    "mult",
    "output_pad",
    "ceil",
    "scale",
    "mode",
    "p",
    "axis",
    "eps",
    "weights",
    "init",
    "trainable",
    "alpha",
    "size",
    "shortcut",
    "strid",
    "w",
    "like",
    "size",
    "align_corners",
]
TOKENS = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    "\n",
    "->",
    "=",
    ":",
    ".",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "#",
    '"',
    "0",
    "1",
    "3",
    "-1",
    "1e9",
    "2.5",
    "999999999999",
    "repeat",
    "as",
    "block",
    "network",
    "input",
    "output",
    "import",
    "concat",
    "add",
    "mul",
    "residual",
    "frozen",
    "if",
    "else",
    "let",
    "fn",
    "and",
    "or",
    "not",
    "==",
    "<",
    ">=",
    "like=x",
    *LAYERS[:6],
    *KEYWORDS[:6],
]

EXTREMES = [
    "1e400",
    "-1e400",
    "1e300",
    "1e-200",
    "1e-320",
    "1e200 * 1e200",
    "1e300 * 10 - 1e300 * 10",
    "0.0",
    *(str(10**k) for k in (3, 6, 8, 9, 12, 15)),
    "2 ** 3",
]
numbers = st.one_of(
    st.integers(-2, 9),
    st.sampled_from([0, 1, 2, 3, 64, 10**9]),
    st.floats(-2, 4).map(lambda f: round(f, 2)),
    st.sampled_from(EXTREMES),
)


@st.composite
def expressions(draw, depth=0):
    if depth > 2 or draw(st.booleans()):
        return str(draw(st.one_of(numbers, st.sampled_from(KEYWORDS))))
    kind = draw(st.sampled_from(["binary", "list", "index", "paren", "neg", "compare", "logic", "cond", "call"]))
    if kind in ("compare", "logic", "cond", "call"):
        return draw(conditions(kind, depth))
    if kind == "binary":
        op = draw(st.sampled_from(["+", "-", "*", "/", "//", "%"]))
        return f"{draw(expressions(depth + 1))} {op} {draw(expressions(depth + 1))}"
    if kind == "list":
        items = draw(st.lists(expressions(depth + 1), max_size=4))
        return "[" + ", ".join(items) + "]"
    if kind == "index":
        return f"[1, 2, 3][{draw(expressions(depth + 1))}]"
    if kind == "paren":
        return f"({draw(expressions(depth + 1))})"
    return f"-{draw(expressions(depth + 1))}"


@st.composite
def conditions(draw, kind, depth):
    """Part 2 expressions: comparisons, `and`/`or`/`not`, `A if C else B`, function calls."""
    inner = expressions(depth + 1)
    if kind == "compare":
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return f"{draw(inner)} {op} {draw(inner)}"
    if kind == "logic":
        op = draw(st.sampled_from(["and", "or", "not"]))
        return f"not {draw(inner)}" if op == "not" else f"{draw(inner)} {op} {draw(inner)}"
    if kind == "cond":
        return f"{draw(inner)} if {draw(inner)} else {draw(inner)}"
    name = draw(st.sampled_from(["min", "max", "len", "abs", "round", "floor", "ceil", "f", "g", "fmax", "k"]))
    args = draw(st.lists(inner, max_size=3))
    if draw(st.integers(0, 4)) == 0:
        args.append(f"d={draw(inner)}")
    return f"{name}({', '.join(args)})"


@st.composite
def calls(draw, depth=0):
    name = draw(st.sampled_from(LAYERS))
    positional = draw(st.lists(expressions(), max_size=3))
    keywords = [f"{draw(st.sampled_from(ARG_NAMES))}={draw(expressions())}" for _ in range(draw(st.integers(0, 2)))]
    args = positional + keywords
    text = f"{name}({', '.join(args)})" if args or draw(st.booleans()) else name
    if depth < 2 and draw(st.integers(0, 5)) == 0:
        merge = draw(st.sampled_from(["concat", "add", "mul", "residual", "residual(shortcut=project)", "frozen"]))
        branches = draw(st.lists(statements(depth + 1), min_size=1, max_size=3))
        text = merge + " {\n" + "\n".join(branches) + "\n}"
    elif depth < 2 and draw(st.integers(0, 7)) == 0:
        body = draw(st.lists(chains(depth + 1), min_size=1, max_size=2))
        text = f"repeat {draw(expressions())} as i {{\n" + "\n".join(body) + "\n}"
    return text


@st.composite
def chains(draw, depth=0):
    terms = draw(st.lists(calls(depth), min_size=1, max_size=4))
    prefix = draw(st.sampled_from(["", "", "", "y = ", "output z = ", "x -> "]))
    return prefix + " -> ".join(terms)


@st.composite
def statements(draw, depth=0):
    """A chain, or (Part 2) a `let` or an `if … else if … else`."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return f"let {draw(st.sampled_from(['k', 'k2', 'w', 'x', 'relu']))} = {draw(expressions())}"
    if kind == 1 and depth < 2:
        text = f"if {draw(expressions())} {{\n" + "\n".join(draw(st.lists(statements(depth + 1), max_size=2))) + "\n}"
        for _ in range(draw(st.integers(0, 2))):
            head = draw(st.sampled_from(["else", f"else if {draw(expressions())}", "\nelse"]))
            text += f" {head} {{\n" + "\n".join(draw(st.lists(statements(depth + 1), max_size=2))) + "\n}"
        return text
    return draw(chains(depth))


@st.composite
def file_level(draw):
    """File-level `let`s and `fn`s (sometimes recursive, sometimes misnamed)."""
    parts = []
    for _ in range(draw(st.integers(0, 2))):
        parts.append(f"let {draw(st.sampled_from(['k', 'widths', 'w']))} = {draw(expressions())}")
    for _ in range(draw(st.integers(0, 2))):
        name, params = draw(st.sampled_from(["f", "fmax", "max"])), draw(st.sampled_from(["v", "v, d=8", ""]))
        parts.append(f"fn {name}({params}) = {draw(expressions())}")
    return parts


def calls_with(value) -> list[str]:
    """Layers whose kernel, stride, scale, sigma, repeat count or width is `value`."""
    return [
        f"conv(1, {value})",
        f"conv(1, 3, stride={value})",
        f"convT(1, 3, stride={value})",
        f"convT(1, {value})",
        f"maxpool(1, stride={value})",
        f"upsample(scale={value})",
        f"conv(1, 2, weights=gaussian({value}))",
        f"conv(1, 3, weights=gaussian({value}))",
        f"repeat {value} {{ maxpool(1, stride=2) }}",
        f"dense({value})",
    ]


@st.composite
def extreme_calls(draw):
    """A layer whose kernel, stride, scale or sigma is an extreme value."""
    return draw(st.sampled_from(calls_with(draw(st.sampled_from(EXTREMES)))))


def deep_chain(depth: int) -> str:
    """`depth` blocks, each calling the one before: B0 { relu }, B1 { B0 }, ..."""
    return "block B0 { relu }\n" + "".join(f"block B{i} {{ B{i - 1} }}\n" for i in range(1, depth))


@st.composite
def programs(draw):
    """A whole program: a deep block chain, extreme arguments, or file-level names, a block and a network."""
    parts = []
    if draw(st.integers(0, 9)) == 0:
        depth = draw(st.sampled_from([2, 10, 63, 64, 65, 330, 1000]))
        parts.append(deep_chain(depth))
        body = [f"input x: {draw(st.sampled_from(['[1, 1, 1]', '[3, 8, 8]']))}", f"B{depth - 1}"]
        return "\n".join(parts) + "\nnetwork Deep {\n" + "\n".join(body) + "\n}\n"
    if draw(st.integers(0, 4)) == 0:
        dims = draw(st.sampled_from(["[1, 1, 1]", "[3, 8, 8]", "[2, 5, 5]"]))
        terms = draw(st.lists(st.one_of(extreme_calls(), calls()), min_size=1, max_size=3))
        return f"network Extreme {{\ninput x: {dims}\n" + " -> ".join(terms) + "\n}\n"
    parts = draw(file_level())
    if draw(st.booleans()):
        body = draw(st.lists(statements(), min_size=0, max_size=3))
        parts.append("block Block(w=8) {\n" + "\n".join(body) + "\n}")
    dims = draw(st.sampled_from(["[3, 32, 32]", "[1, 8, 8]", "[16]", "[3, 224, 224]", "[0, 4, 4]", "[2, 1, 1]"]))
    body = [f"input x: {dims}"] + draw(st.lists(statements(), min_size=0, max_size=5))
    parts.append("network Net(w=4) {\n" + "\n".join(body) + "\n}")
    return "\n".join(parts) + "\n"


def mutate(text: str, rng: random.Random, edits: int | None = None) -> str:
    """Random edits of a program's text."""
    for _ in range(edits or rng.randint(1, 4)):
        kind = rng.randrange(6)
        at = rng.randrange(len(text) + 1)
        if kind == 0 and text:  # delete a span
            text = text[:at] + text[at + rng.randint(1, 12) :]
        elif kind == 1:  # insert a token
            text = text[:at] + rng.choice(TOKENS) + text[at:]
        elif kind == 2:  # swap two lines
            lines = text.split("\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif kind == 3:  # change a number
            digits = [i for i, c in enumerate(text) if c.isdigit()]
            if digits:
                i = rng.choice(digits)
                text = text[:i] + rng.choice(["0", "7", "-1", "1000000000", "1.5", ""]) + text[i + 1 :]
        elif kind == 4:  # duplicate a line
            lines = text.split("\n")
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        else:  # a random character, sometimes outside ASCII
            text = text[:at] + rng.choice("{}()[]<>@$!?'\"\\\t\u00e9\u2192\x00") + text[at:]
    return text


MAX_ORACLE_PARAMS = 2_000_000
"""Models up to this size are also compiled to ONNX, checked and loaded (cheap enough for the suite)."""


def onnx_oracle(network) -> None:
    """The compiled model passes the ONNX checker's full check and loads in onnxruntime."""
    import onnx
    import onnxruntime as ort

    model = network.to_onnx()
    onnx.checker.check_model(model, full_check=True)
    ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def compile_text(text: str, name: str = "<fuzz>") -> str:
    """'ok' or 'error'; any exception other than CnnError escapes (a bug)."""
    try:
        network = cnndsl.loads(text, name=name)
    except cnndsl.CnnError as exc:
        for diagnostic in exc.diagnostics:
            assert diagnostic.code and diagnostic.message
        return "error"
    network.report("table")
    network.to_dict(depth=0)
    return "ok"
