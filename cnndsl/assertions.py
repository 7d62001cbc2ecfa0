"""`assert` statements and `check --assert`: conditions on a network's figures (docs/language.md).

The lowering records each `assert` it meets (:class:`Pending`) with the names in
scope there; once the passes have run, :func:`check` evaluates them. In a
network an assertion is about the whole network; in a block it is checked at
every call of the block, about the nodes of that call. Inside an assertion the
figure names below stand for the figures, `shape(t)` for the shape of the
tensor `t` without the batch dimension, and `rf(t)` for its receptive-field
size (a number, or `[height, width]` when they differ).

>>> from cnndsl import loads
>>> loads("network T { input x: [1, 8, 8]; conv(4, 3); assert params == 40 }").totals["params"]
40
"""

from __future__ import annotations

from dataclasses import dataclass

from . import syntax as syn
from .errors import SOURCES, CnnError, Collector, Diagnostic, Label, Span, did_you_mean, error
from .evaluate import Poisoned, Scope, evaluate, truth
from .passes.memory import peak_bytes
from .records import dataclass as record
from .values import format_value

SUMMED = ("params", "trainable", "state", "macs", "flops", "activation_bytes")
FIGURES = (*SUMMED[:2], "frozen", *SUMMED[2:], "peak_memory", "peak_activation_bytes")
"""The names an assertion may use: the report's totals (shared/REPORT.md); `peak_memory` is
`peak_activation_bytes` under a shorter name."""
BYTES = ("activation_bytes", "peak_memory", "peak_activation_bytes")
TENSOR_FUNCTIONS = ("shape", "rf")


@record(frozen=True, slots=True)
class Pending:
    """An `assert` met by the lowering: where it stands and the names it can see."""

    statement: syn.Assert
    scope: tuple | None  # the block call it belongs to; None: the network
    variables: dict
    tensors: dict  # bound name -> node, for the names the condition mentions
    block_input: object = None
    visible: dict | None = None  # every bound name (for "did you mean"; may have grown since)


def pending_assertion(statement: syn.Assert, env) -> Pending:
    """The record of an `assert` met in `env` (lower/env.py): its block call and the names it sees
    (a snapshot of those it mentions only, so that many assertions cost no copies of every name)."""
    scope = env.scope if env.in_block else None
    mentioned = {name: env.tensors[name] for name in statement.names if name in env.tensors}
    block_input = env.block_input if env.in_block else None
    return Pending(statement, scope, env.variables, mentioned, block_input, env.tensors)


SIZED = (*SUMMED[3:], "peak_memory", "peak_activation_bytes", *TENSOR_FUNCTIONS)
"""What changes with the input size: not checked while the sizes are symbolic (docs/sizes.md)."""


def check(graph, peak: int, assertions: list | None = None, sized: bool = True) -> None:
    """Evaluate the `assertions` (by default every one the lowering recorded in `graph`);
    one located error for each that fails (E1320). With `sized=False` (symbolic sizes, lowered
    at a representative size) those that read a size-dependent figure are skipped with W1327."""
    errors = Collector()
    assertions = graph.assertions if assertions is None else assertions
    if not sized:
        assertions = _size_free(graph, assertions)
    scopes = {pending.scope for pending in assertions} - {None}
    calls = _Calls(graph, scopes) if scopes else None
    figures: dict = {}
    for pending in assertions:
        if pending.scope not in figures:
            figures[pending.scope] = _figures(graph, pending.scope, peak, calls)
        try:
            _check(graph, pending, figures[pending.scope])
        except CnnError as exc:
            errors.add(exc)
        except Poisoned:
            pass
    errors.raise_if_any()


def _size_free(graph, assertions: list) -> list:
    kept = []
    for pending in assertions:
        read = sorted(set(pending.statement.names) & set(SIZED))
        if not read:
            kept.append(pending)
            continue
        statement = _text(pending.statement.span)
        message = f"not checked: `{statement}` reads {', '.join(read)}, which depend on the size variables"
        hint = "give the sizes values (`--set H=224`) to check it"
        graph.warnings.append(Diagnostic("W1327", message, pending.statement.span, hint=hint, severity="warning"))
    return kept


def command_line(network, texts: list[str]) -> None:
    """`check --assert EXPR` (repeatable): each EXPR about the whole network, located in `<--assert>`."""
    from .parser import parse_value

    graph = network.graph
    tensors = {name: value.node for name, value in graph.values.items() if "/" not in name}
    pending = []
    for position, text in enumerate(texts):
        file = "<--assert>" if len(texts) == 1 else f"<--assert {position + 1}>"
        SOURCES[file] = text
        condition = parse_value(text, file)
        pending.append(Pending(syn.Assert(condition, condition.span, syn.names_in(condition)), None, {}, tensors))
    check(graph, network.peak_activation_bytes, pending)


# -- one assertion ------------------------------------------------------------------------------


def _check(graph, pending: Pending, figures: dict) -> None:
    used: dict[str, object] = {}
    condition = pending.statement.condition
    expr = _substitute(condition, _Context(graph, pending, figures, used))
    block_input = graph[pending.block_input].shape if pending.block_input is not None else None
    scope = Scope(pending.variables, {}, block_input, pending.scope is not None)
    holds = truth(evaluate(expr, scope), condition, "an assertion")
    if holds:
        return
    actual = ", ".join(f"{name} is {_shown(name, value)}" for name, value in used.items())
    notes = []
    if pending.scope is not None:
        block = graph.blocks[pending.scope]
        notes.append(Label(block.span, f"in this call of `{block.block}` ({'/'.join(block.path)})"))
    raise error(
        "E1320",
        f"assertion failed: {_text(condition.span)}" + (f" — {actual}" if actual else ""),
        condition.span,
        notes=notes,
    )


@dataclass
class _Context:
    graph: object
    pending: Pending
    figures: dict
    used: dict


def _substitute(expr, context: _Context):
    """`expr` with every figure, `shape(t)` and `rf(t)` replaced by a literal of its value."""
    kind = type(expr)
    if kind is syn.Name:
        return _name(expr, context)
    if kind is syn.FunCall and expr.name in TENSOR_FUNCTIONS:
        return _tensor_function(expr, context)
    if kind is syn.BlockInputRef or kind is syn.Literal:
        return expr
    values = []
    for slot in kind.__slots__:
        value = getattr(expr, slot)
        if isinstance(value, tuple):
            value = tuple(_substitute(v, context) if _is_syntax(v) else v for v in value)
        elif _is_syntax(value):
            value = _substitute(value, context)
        values.append(value)
    return kind(*values)  # a slots dataclass: its slots are its fields, in order


def _is_syntax(value) -> bool:
    return hasattr(value, "__slots__") and not isinstance(value, Span)


def _name(expr: syn.Name, context: _Context):
    pending = context.pending
    if expr.name in FIGURES:
        value = context.figures[expr.name]
        context.used.setdefault(expr.name, value)
        return syn.Literal(value, expr.span)
    if expr.name in pending.variables:
        value = pending.variables[expr.name]
        if isinstance(value, (int, float, list)):
            context.used.setdefault(expr.name, value)
        return expr
    if expr.name in pending.tensors:
        raise error(
            "E1323",
            f"`{expr.name}` is a tensor; an assertion compares numbers and shapes",
            expr.span,
            hint=f"use `shape({expr.name})` or `rf({expr.name})`",
        )
    hint = did_you_mean(expr.name, [*FIGURES, *pending.variables]) or f"figures: {', '.join(FIGURES)}"
    raise error("E1322", f"unknown figure `{expr.name}` in an assertion", expr.span, hint=hint)


def _tensor_function(expr: syn.FunCall, context: _Context):
    target = expr.args[0] if len(expr.args) == 1 and not expr.keywords else None
    if type(target) is syn.BlockInputRef and context.pending.scope is not None:
        node, label = context.pending.block_input, f"{expr.name}(in)"
    elif type(target) is syn.Name and target.name in context.pending.tensors:
        node, label = context.pending.tensors[target.name], f"{expr.name}({target.name})"
    else:
        raise _not_a_tensor(expr, target, context.pending)
    if node is None:
        raise Poisoned()
    value = _shape(context.graph[node]) if expr.name == "shape" else _field(context.graph[node], label, target)
    context.used.setdefault(label, value)
    return syn.Literal(value, expr.span)


def _not_a_tensor(expr: syn.FunCall, target, pending: Pending) -> CnnError:
    visible = pending.tensors if pending.visible is None else pending.visible
    names = [name for name, node in visible.items() if node is not None] + (["in"] if pending.scope is not None else [])
    if type(target) is syn.Name:
        hint = did_you_mean(target.name, names) or f"tensors here: {', '.join(names) or 'none'}"
        return error("E1324", f"`{expr.name}` of `{target.name}`: no tensor has that name here", target.span, hint=hint)
    return error(
        "E1324",
        f"`{expr.name}` takes one tensor name",
        expr.span,
        hint=f"write `{expr.name}(NAME)` with a bound name, an input or output" + (", or `in`" * ("in" in names)),
    )


def _shape(node) -> list:
    return list(node.shape[1:])


def _field(node, label: str, target):
    if node.field is None:
        raise error(
            "E1325",
            f"`{label}`: the value {format_value(_shape(node))} has no receptive field (it is not spatial)",
            target.span,
            hint="ask for the receptive field of a value before `flatten` or `dense`",
        )
    size = node.field.to_json()["size"]
    return size[0] if size[0] == size[1] else size


# -- figures ------------------------------------------------------------------------------------


class _Calls:
    """The nodes of every block call that has assertions, and each node's consumers: gathered in
    one sweep, so that checking many calls stays linear in the graph (times the nesting depth)."""

    def __init__(self, graph, scopes: set):
        self.nodes: dict[tuple, list] = {scope: [] for scope in scopes}
        self.consumers: dict[str, list] = {}
        for node in graph.nodes():
            for depth in range(1, len(node.scope) + 1):
                group = self.nodes.get(node.scope[:depth])
                if group is not None:
                    group.append(node)
            for source in node.inputs:
                self.consumers.setdefault(source, []).append(node.name)


def _figures(graph, scope: tuple | None, peak: int, calls: _Calls | None) -> dict:
    """The totals of the network (scope None) or of the block call at `scope`."""
    if scope is None:
        nodes = list(graph.nodes())
    else:
        nodes = calls.nodes[scope]
        peak = _call_peak(graph, nodes, calls)
    sums = {key: sum(getattr(node, key) for node in nodes) for key in SUMMED}
    sums["frozen"] = sums["params"] - sums["trainable"]
    sums["peak_memory"] = sums["peak_activation_bytes"] = peak
    return sums


def _call_peak(graph, nodes: list, calls: _Calls) -> int:
    """The peak bytes alive while one block call runs: its own values, each freed after its last use
    inside the call unless a node outside the call (or a graph output) still needs it."""
    inside = {node.name for node in nodes}
    outputs = set(graph.outputs.values())
    keep = {
        name for name in inside if name in outputs or any(user not in inside for user in calls.consumers.get(name, ()))
    }
    return peak_bytes(graph, nodes, keep)


# -- messages -----------------------------------------------------------------------------------


def _text(span: Span) -> str:
    """The source text of `span`, on one line."""
    lines = SOURCES.get(span.file, "").split("\n")[span.line - 1 : span.end_line]
    if not lines:
        return "…"
    if len(lines) == 1:
        text = lines[0][span.column - 1 : span.end_column - 1]
    else:
        text = " ".join([lines[0][span.column - 1 :], *lines[1:-1], lines[-1][: span.end_column - 1]])
    return " ".join(text.split())


def _shown(name: str, value) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return format_value(value)
    if name in BYTES and value >= 1024:
        from .report import human_bytes

        return f"{value:,} ({human_bytes(value)})"
    return f"{value:,}"
