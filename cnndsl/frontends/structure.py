"""The graph of ops -> nested statements: chains, merges with branches, `residual`.

A value's immediate dominator is where the branches that meet at it split:
walking back from the output along immediate dominators gives the top-level
chain, and each merge's branches are the chains from its dominator to its
inputs (a branch that is empty is the identity).

Some values are *bound* (`name = …`) and referred to by name: the input, the
outputs, the points where the outputs' paths part, the tensors an
`upsample(like=…)` copies the size of, and every value the nesting would need
in two places (a value used across branches: found by one walk, bound, and
walked again), and in a model cnndsl wrote the start of an empty branch (cnndsl
writes `identity` as a node, so an empty branch was a name). Each bound value is one top-level statement, in the graph's
order, that starts from the nearest bound value above it; a chain or a branch
that reaches a bound value starts from its name (`skip -> conv(…)`, or just
`skip`). A merge whose other branches are all names takes the part of its one
real branch that lies outside its own scope into the chain before it
(`… -> concat { skip; convT(…) -> upsample(like=skip) }`, as U-Net is written; a
merge without a scope keeps the last item).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .onnx_patterns import Op, Recogniser


@dataclass
class Layer:
    op: Op
    scope: tuple = ()


@dataclass
class Source:
    """The start of a chain or a whole branch: a bound value, written by its name."""

    value: str  # the id of the op that makes it
    name: str = ""  # its name in the program (naming.py)
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


@dataclass
class Nesting:
    start: str  # the input op's id
    statements: list  # (the bound value it starts from, items, the bound value it makes), in order
    splits: list  # where the outputs' paths part (`trunk`, `trunk2`, …)
    bound: set  # every bound value's op id


def nest(r: Recogniser) -> Nesting:
    """The top-level statements: one per bound value (see the module's docs), in the graph's order."""
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
    splits = _splits((idom, depth), start, ends)
    bound = {start, *ends, *splits} | {ref for op in r.ops.values() for ref in op.refs.values()}
    while True:
        walk = _Walk(r, idom, bound)
        statements = [(*walk.statement(end), end) for end in r.ops if end in bound and end != start]
        if not walk.conflicts:
            break
        bound |= walk.conflicts
    unused = [name for name in r.ops if name not in walk.seen and name != start]
    if unused:
        model.notes.append(f"{len(unused)} node(s) do not lead to an output and are left out: {', '.join(unused[:5])}")
    return Nesting(start, statements, splits, bound)


def _splits(tree: tuple, start: str, ends: list) -> list:
    """Where the paths to `ends` part (their common dominator), then again within each group."""
    idom, depth = tree
    split = ends[0]
    for end in ends[1:]:
        split = _meet(idom, depth, split, end)
    out = [split] if split not in (start, *ends) else []
    parts: dict[str, list] = {}  # the split's child on the way to each output -> those outputs
    for end in ends:
        child = end
        while child != split and idom[child] != split:
            child = idom[child]
        if child != split:
            parts.setdefault(child, []).append(end)
    for group in parts.values():
        if len(group) > 1:
            out += _splits(tree, split, group)
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


class _Walk:
    """One walk of the statements; a value reached twice is a conflict, to be bound on the next walk."""

    def __init__(self, r: Recogniser, idom: dict, bound: set):
        self.r, self.idom, self.bound = r, idom, bound
        self.seen: set[str] = set()
        self.conflicts: set[str] = set()

    def statement(self, end: str) -> tuple[str, list]:
        """(the bound value the statement starts from, its items) for the bound value `end`."""
        items = self.chain(None, end, 0)
        return items[0].value, items[1:]

    def chain(self, split: str | None, end: str, depth: int) -> list:
        """The items from `split` to `end`; one that reaches a bound value first starts with its Source
        (`split` None: always, the statement of the bound value `end`)."""
        if depth > MAX_DEPTH:
            raise self.r.model.fail("E1209", None, f"branches nest more than {MAX_DEPTH} deep at node `{end}`")
        items, current = [], end
        while current != split:
            if current in self.bound and not (split is None and current == end):
                items.append(Source(current))
                break
            if current not in self.idom:
                kind = self.r.ops[current].kind
                raise self.r.model.fail("E1209", None, f"the node `{current}` ({kind}) is not computed from the input")
            if current in self.seen:  # used across branches: bound on the next walk
                self.conflicts.add(current)
                items.append(Source(current))
                break
            self.seen.add(current)
            op = self.r.ops[current]
            if len(op.inputs) > 1:
                current = self.merge(op, items, depth)
            else:
                items.append(Layer(op, scope_of(op.name)))
                current = op.inputs[0]
        items.reverse()
        return items

    def merge(self, op: Op, items: list, depth: int) -> str:
        """Append the merge (and what comes before it) to the reversed `items`; the value the chain goes on from."""
        split = self.idom[op.name]
        branches = [self.chain(split, i, depth + 1) for i in op.inputs]
        residual = op.kind == "add" and len(branches) == 2 and sum(not b for b in branches) == 1
        if not residual and not all(branches) and self.r.model.producer == "cnndsl" and split not in self.bound:
            self.conflicts.add(split)  # cnndsl writes `identity` as a node: an empty branch was a name
        if split in self.bound and not residual:
            branches = [b or [Source(split)] for b in branches]
        real = [b for b in branches if not (len(b) == 1 and isinstance(b[0], Source))]
        if len(real) != 1 or not real[0]:
            items.append(Merge(op, branches, scope_of(op.name)))
            return split
        body = real[0]
        source = body.pop(0) if isinstance(body[0], Source) else None
        cut, scope = 0, scope_of(op.name)  # without a scope, the branch keeps its last item
        while cut < len(body) - 1 and (not scope or body[cut].scope[: len(scope)] != scope):
            cut += 1
        prefix, body[:] = body[:cut], body[cut:]
        items.append(Merge(op, branches, scope))
        items += reversed(prefix)
        return source.value if source is not None else split
