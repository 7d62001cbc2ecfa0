"""What the parametric writer must know about a body before it writes it.

* :func:`increments` — how far a body advances each node-name counter (`conv`
  -> 2), or None where that depends on a condition or a parameter: the node
  names of cnndsl (`conv1`, `conv2`, `Bottleneck3`) count per scope, so a
  counter that a loop or a branch advances by a varying amount becomes a
  variable in the generated code;
* :func:`stride_of` — the spatial stride of a body, for the projection shortcut
  of `residual(shortcut=project)` (a 1x1 convolution with that stride).
"""

from __future__ import annotations

from ... import syntax as syn
from ...errors import CnnError
from ...evaluate import Poisoned, Scope, evaluate
from ...layers import LAYERS
from .pyexpr import Names, Unsupported, free_names, translate

VARIES = None


def _add(total: dict, more: dict, times=1) -> None:
    for base, n in more.items():
        old = total.get(base, 0)
        total[base] = VARIES if old is VARIES or n is VARIES or times is VARIES else old + n * times


def _static(expr, constants: dict):
    try:
        value = evaluate(expr, Scope(constants, {}))
    except (CnnError, Poisoned):
        return VARIES
    return value if isinstance(value, int) and not isinstance(value, bool) else VARIES


def increments(statements, program, constants: dict, dynamic: set) -> dict:
    """base -> how many names of that base `statements` take (VARIES when not fixed)."""
    total: dict = {}
    for stmt in statements:
        _add(total, _statement(stmt, program, constants, dynamic))
    return total


def _statement(stmt, program, constants, dynamic) -> dict:
    kind = type(stmt)
    if kind in (syn.Chain, syn.Bind, syn.Output):
        chain = stmt if kind is syn.Chain else stmt.chain
        total: dict = {}
        for term in chain.terms if chain is not None else ():
            _add(total, _term(term, program, constants, dynamic))
        return total
    if kind is syn.If:
        return branch_increments(stmt, program, constants, dynamic)
    return {}


def branch_increments(stmt: syn.If, program, constants, dynamic) -> dict:
    bodies = []
    while type(stmt) is syn.If:
        bodies.append(stmt.body)
        stmt = stmt.orelse
    bodies.append(stmt or ())
    counts = [increments(body, program, constants, dynamic) for body in bodies]
    out = {}
    for base in set().union(*counts):
        values = {c.get(base, 0) for c in counts}
        out[base] = values.pop() if len(values) == 1 else VARIES
    return out


def _term(term, program, constants, dynamic) -> dict:
    if type(term) is syn.BlockInput:
        return {}
    if type(term) is syn.Repeat:
        inner = increments(term.body, program, constants, dynamic)
        count = VARIES if free_names(term.count) & dynamic else _static(term.count, constants)
        out: dict = {}
        _add(out, inner, count)
        return {b: (0 if n == 0 else n) for b, n in out.items()}
    if term.name in ("residual", "frozen"):
        out = increments(term.body or (), program, constants, dynamic)
        if term.name == "residual":
            _add(out, {"residual": 1})
            project = _shortcut(term, dynamic)
            _add(out, {"shortcut_conv": project, "shortcut_bn": project})
        return out
    cls = LAYERS.get(term.name)
    if cls is not None and cls.is_merge() and term.body is not None:
        out = {}
        for branch in term.body:
            _add(out, _statement(branch, program, constants, dynamic))
        present = all(type(b) is not syn.If or _has_else(b) for b in term.body)
        _add(out, {term.name: 1 if present else VARIES})
        return out
    if not term.has_parens and term.body is None and term.name not in LAYERS and term.name not in program.blocks:
        return {}  # a bound value starting the chain
    return {term.name: 1}


def _has_else(stmt) -> bool:
    while type(stmt) is syn.If:
        stmt = stmt.orelse
    return stmt is not None


def _shortcut(term: syn.Call, dynamic: set):
    """1 for a projection shortcut, 0 for the identity, VARIES when a parameter decides."""
    for arg in term.args:
        if free_names(arg.value) & dynamic:
            return VARIES
        if type(arg.value) is syn.Name:
            return 1 if arg.value.name == "project" else 0
    return 0


# -- strides -------------------------------------------------------------------------
_KEEPS = {"pad", "upsample", "gap", "gmp", "flatten", "convT", "pixel_shuffle", "pixel_unshuffle"}


def stride_of(statements, program, names: Names) -> list:
    """The factors (Python sources) whose product is the stride of `statements`; Unsupported when unknown."""
    factors: list = []
    for stmt in statements:
        kind = type(stmt)
        if kind in (syn.Chain, syn.Bind):
            chain = stmt if kind is syn.Chain else stmt.chain
            for term in chain.terms:
                factors += _term_stride(term, program, names)
        elif kind is syn.If:
            bodies = [stride_of(stmt.body, program, names), stride_of(_else_body(stmt), program, names)]
            if bodies[0] != bodies[1]:
                raise Unsupported("a projection shortcut around an `if` that changes the stride")
            factors += bodies[0]
        elif kind is not syn.Let:
            raise Unsupported("a projection shortcut around this statement")
    return factors


def _else_body(stmt: syn.If):
    if type(stmt.orelse) is syn.If:
        return (stmt.orelse,)
    return stmt.orelse or ()


def _term_stride(term, program, names: Names) -> list:
    if type(term) in (syn.BlockInput, syn.Repeat):
        if type(term) is syn.Repeat and stride_of(term.body, program, names):
            raise Unsupported("a projection shortcut around a strided `repeat`")
        return []
    if term.name in program.blocks:
        if stride_of(program.blocks[term.name].body, program, Names()):
            raise Unsupported(f"a projection shortcut around the strided block `{term.name}`")
        return []
    cls = LAYERS.get(term.name)
    if cls is None:
        return []
    if cls.is_merge() and term.body is not None:
        return stride_of(term.body[:1], program, names)
    if term.name in _KEEPS:
        raise Unsupported(f"a projection shortcut around `{term.name}`")
    names_taken = [a.name for a in cls.arguments]
    stride = kernel = None
    for position, arg in enumerate(term.args):
        param = arg.name or (names_taken[position] if position < len(names_taken) else None)
        if param == "stride":
            stride = arg.value
        elif param == "kernel":
            kernel = arg.value
    if stride is None and cls.family == "pool" and kernel is not None:
        stride = kernel
    if stride is None:
        return []
    if type(stride) is syn.Literal and stride.value == 1:
        return []
    if type(stride) is syn.ListExpr:
        raise Unsupported("a projection shortcut around a stride of two numbers")
    return [translate(stride, names)]


def product(factors: list) -> str:
    return " * ".join(f"({f})" if " " in f else f for f in factors) if factors else "1"
