"""The graph of ops -> nested statements: chains, merges with branches, `residual`.

A value's immediate dominator is where the branches that meet at it split:
walking back from the output along immediate dominators gives the top-level
chain, and each merge's branches are the chains from its dominator to its
inputs (a branch that is empty is the identity). A graph that needs the same
op in two branches (a value used across branches) is not nested and is
refused, naming the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .onnx_patterns import Op, Recogniser


@dataclass
class Layer:
    op: Op
    scope: tuple = ()


@dataclass
class Merge:
    op: Op
    branches: list  # list[list[Item]], in the op's input order
    scope: tuple = ()


@dataclass
class Group:
    """Consecutive items of one scope (`layer1/layer1.0`): a block when folded, else inlined."""

    name: str
    items: list
    scope: tuple = ()
    meta: dict = field(default_factory=dict)


@dataclass
class Call:
    block: Block
    group: Group
    key: tuple = ()


@dataclass
class Repeat:
    count: int
    instances: list  # the final items of each repetition (the first is written)
    key: tuple = ()


@dataclass
class Param:
    name: str
    values: list  # one value per instance of the block


@dataclass
class Block:
    name: str
    instances: list = field(default_factory=list)  # Group
    bodies: list = field(default_factory=list)  # final items of each instance
    params: list = field(default_factory=list)  # Param
    positions: dict = field(default_factory=dict)  # number position -> Param

    def args(self, group: Group) -> list:
        index = next(i for i, g in enumerate(self.instances) if g is group)
        return [p.values[index] for p in self.params]


MAX_DEPTH = 64
"""Scopes and merges nest at most this deep (the language's own nesting limit, E0603)."""


def scope_of(name: str) -> tuple:
    """`/layer1/layer1.0/conv1/Conv` -> ('layer1', 'layer1.0', 'conv1'): the node's path without its last part."""
    parts = [p for p in name.split("#")[0].split("/") if p]
    return tuple(parts[:-1])[:MAX_DEPTH]


def nest(r: Recogniser) -> tuple[str, list]:
    """(the input op's id, the segments: (from op, items, to op) in the order to write them).

    With one output there is one segment, from the input to it. With several,
    a segment runs to where the outputs' paths part (their common dominator),
    and the outputs beyond are split again in the same way.
    """
    model = r.model
    if len(model.inputs) != 1:
        raise model.fail("E1209", None, f"the model has {len(model.inputs)} inputs; the importer reads one")
    start, ends = next(iter(model.inputs)), [r.maker[o] for o in model.outputs]
    idom, depth = dominators(r.ops, start)
    for out, end in zip(model.outputs, ends):
        if end not in idom:
            raise model.fail("E1209", None, f"the output `{out}` is not computed from the input")
    if len(set(ends)) < len(ends) or start in ends:
        raise model.fail("E1209", None, "an output is the input or another output: there is no layer between them")
    seen: set[str] = set()
    segments = _segments(r, (idom, depth), start, ends, seen)
    unused = [name for name in r.ops if name not in seen and name != start]
    if unused:
        model.notes.append(f"{len(unused)} node(s) do not lead to an output and are left out: {', '.join(unused[:5])}")
    return start, segments


def _segments(r: Recogniser, tree: tuple, start: str, ends: list, seen: set) -> list:
    idom, depth = tree
    split = ends[0]
    for end in ends[1:]:
        split = _meet(idom, depth, split, end)
    out = [(start, _chain(r, idom, start, split, seen), split)] if split != start else []
    parts: dict[str, list] = {}  # the split's child on the way to each output -> those outputs
    for end in ends:
        child = end
        while child != split and idom[child] != split:
            child = idom[child]
        if child != split:
            parts.setdefault(child, []).append(end)
    for group in parts.values():
        if len(group) == 1:
            out.append((split, _chain(r, idom, split, group[0], seen), group[0]))
        else:
            out += _segments(r, tree, split, group, seen)
    return out


def dominators(ops: dict[str, Op], start: str) -> tuple[dict[str, str], dict[str, int]]:
    """Immediate dominators of the ops reachable from `start` (ops are in topological order), and their depths."""
    idom, depth = {start: start}, {start: 0}
    for name, op in ops.items():
        preds = [i for i in op.inputs if i in idom]
        if name == start or not preds or len(preds) < len(op.inputs):
            continue
        common = preds[0]
        for other in preds[1:]:
            common = _meet(idom, depth, common, other)
        idom[name], depth[name] = common, depth[common] + 1
    return idom, depth


def _meet(idom: dict, depth: dict, a: str, b: str) -> str:
    while a != b:
        if depth[a] < depth[b]:
            a, b = b, a
        a = idom[a]
    return a


def _chain(r: Recogniser, idom: dict, start: str, end: str, seen: set, depth: int = 0) -> list:
    if depth > MAX_DEPTH:
        raise r.model.fail("E1209", None, f"branches nest more than {MAX_DEPTH} deep at node `{end}`")
    items = []
    current = end
    while current != start:
        op = r.ops[current]
        if current in seen or current not in idom:
            raise r.model.fail(
                "E1209",
                None,
                f"the value of node `{current}` ({op.kind}) is used across branches; cnndsl programs nest branches",
            )
        seen.add(current)
        if len(op.inputs) > 1:
            split = idom[current]
            branches = [_chain(r, idom, split, i, seen, depth + 1) for i in op.inputs]
            items.append(Merge(op, branches, scope_of(op.name)))
            current = split
        else:
            items.append(Layer(op, scope_of(op.name)))
            current = op.inputs[0]
    items.reverse()
    return items
