"""Scopes -> groups -> blocks: fold structurally identical sub-graphs into one parametric `block`.

1. Consecutive items whose node names share a scope (`layer1/layer1.0/…`)
   form a :class:`~.structure.Group`, nested as the scopes nest.
2. Each group gets a signature: its structure with the numbers left out (a
   run of identical items counts as one `repeat`, its count a number).
3. A signature seen at two places or more becomes a block (unless it is a
   short plain chain such as `conv -> bn -> relu`, which reads better inline);
   every other group is inlined. The block's parameters are the numbers that
   differ between its instances (numbers that always vary together share one).
4. Consecutive identical items of a body become `repeat n { … }`.
"""

from __future__ import annotations

import re

from .program_text import numbers_of
from .structure import Block, Call, Group, Layer, Merge, Param, Repeat, Source

TINY = 3  # a group of at most this many plain layers is written inline


# -- 1. groups by scope -------------------------------------------------------------------------


def group(items: list, depth: int = 0) -> list:
    """Items with groups for runs that share the scope part at `depth`."""
    out, i = [], 0
    while i < len(items):
        key = _part(items[i], depth)
        j = i + 1
        while key is not None and j < len(items) and _part(items[j], depth) == key:
            j += 1
        run = items[i:j]
        if key is not None and len(run) == 1 and isinstance(items[i], Merge):
            out.append(Group(key, [_inside(items[i])], items[i].scope[: depth + 1]))
        elif not items[i].scope and isinstance(items[i], Merge):  # no scopes at all: a merge may still fold
            out.append(Group(_merge_name(items[i]), [_inside(items[i])]))
        elif key is None or len(run) == 1:
            out.append(_inside(items[i]))
        else:
            inner = group(run, depth + 1)
            scope = _common([it.scope for it in run])
            out.append(inner[0] if len(inner) == 1 and isinstance(inner[0], Group) else Group(key, inner, scope))
        i = j
    return out


def _merge_name(merge: Merge) -> str:
    residual = merge.op.kind == "add" and len(merge.branches) == 2 and sum(not b for b in merge.branches) == 1
    return "residual" if residual else merge.op.kind


def _part(item, depth: int):
    return item.scope[depth] if len(item.scope) > depth else None


def _inside(item):
    if isinstance(item, Merge):
        item.branches = [group(b, len(item.scope)) for b in item.branches]
    return item


def _common(scopes: list) -> tuple:
    first = scopes[0]
    size = min(len(s) for s in scopes)
    for k in range(size):
        if any(s[k] != first[k] for s in scopes):
            return first[:k]
    return first[:size]


def merge_scopes(items: list) -> None:
    """A merge's scope: the common part of its own and everything inside it (set before grouping)."""
    for item in items:
        if isinstance(item, Merge):
            scopes = [item.scope]
            for branch in item.branches:
                merge_scopes(branch)
                scopes += [it.scope for it in branch if not isinstance(it, Source)]
            item.scope = _common(scopes)


# -- 2. signatures --------------------------------------------------------------------------------


def layer_key(op) -> tuple:
    """The structure of a layer call (kind, argument names, value kinds) and its numbers."""
    shape, numbers = [], []
    for name, value in op.args.items():
        if isinstance(value, (bool, str)):
            shape.append((name, value))
        elif isinstance(value, list):
            shape.append((name, len(value)))
            numbers += value
        else:
            shape.append((name, "#"))
            numbers.append(value)
    return ("L", op.kind, tuple(shape)), tuple(numbers)


def key(item) -> tuple:
    """(signature, numbers) of an item as written before folding (memoised on groups)."""
    if isinstance(item, Layer):
        return layer_key(item.op)
    if isinstance(item, Source):
        return ("S", item.name), ()
    if isinstance(item, Merge):
        if not hasattr(item, "key"):
            parts = [sequence_key(b, statements=False) for b in item.branches]
            item.key = ("M", item.op.kind, tuple(s for s, _ in parts)), tuple(n for _, ns in parts for n in ns)
        return item.key
    if "key" not in item.meta:
        sig, numbers = sequence_key(item.items, statements=True)
        item.meta["key"] = (("G", sig), numbers)
    return item.meta["key"]


def sequence_key(items: list, statements: bool) -> tuple:
    runs = runs_of([key(i) for i in items]) if statements else [(k, 1) for k in (key(i) for i in items)]
    sig, numbers = [], []
    for (s, ns), count in runs:
        sig.append(("R", s) if count > 1 else s)
        numbers += ([count] if count > 1 else []) + list(ns)
    return tuple(sig), tuple(numbers)


def runs_of(keys: list) -> list:
    runs = []
    for k in keys:
        if runs and runs[-1][0] == k:
            runs[-1][1] += 1
        else:
            runs.append([k, 1])
    return [(k, n) for k, n in runs]


def count_groups(items: list, counts: dict) -> None:
    """How many places each group signature appears at (a run of identical groups is one place)."""
    previous = None
    for item in items:
        if isinstance(item, Merge):
            for branch in item.branches:
                count_groups(branch, counts)
        elif isinstance(item, Group):
            sig = key(item)
            if key(item) != previous:
                counts[sig[0]] = counts.get(sig[0], 0) + 1
            previous = sig
            count_groups(item.items, counts)
            continue
        previous = None


def tiny(g: Group) -> bool:
    return len(g.items) <= TINY and all(isinstance(i, Layer) for i in g.items)


# -- 3. and 4. blocks and repeats -------------------------------------------------------------------


class Folder:
    def __init__(self, items: list):
        self.counts: dict = {}
        count_groups(items, self.counts)
        self.blocks: dict[tuple, Block] = {}  # group signature -> block
        self.order: list[Block] = []  # callees before callers
        self.names: set[str] = set()

    def final(self, items: list, statements: bool) -> list:
        """The items as written: groups inlined or called, runs folded into `repeat`."""
        out, i = [], 0
        while i < len(items):
            item, i = items[i], i + 1
            if isinstance(item, Merge):
                key(item)  # kept: the branches are rewritten below
                item.branches = [self.final(b, statements=False) for b in item.branches]
                out.append(item)
            elif isinstance(item, Group) and self.is_block(item):
                out.append(Call(self.block(item), item, key(item)))
            elif isinstance(item, Group):
                run = [item]
                while statements and i < len(items) and isinstance(items[i], Group) and key(items[i]) == key(item):
                    run.append(items[i])
                    i += 1
                if len(run) > 1:
                    out.append(Repeat(len(run), [self.final(g.items, True) for g in run], key(item)))
                else:
                    out += self.final(item.items, statements)
            else:
                out.append(item)
        return _repeats(out) if statements else out

    def is_block(self, g: Group) -> bool:
        """A group at two places or more, unless tiny or naming a bound value (a block body cannot see it)."""
        return self.counts.get(key(g)[0], 0) >= 2 and not tiny(g) and not names_bound(g.items)

    def block(self, g: Group) -> Block:
        sig = key(g)[0]
        if sig not in self.blocks:
            self.blocks[sig] = Block(self._name(g))
        found = self.blocks[sig]
        found.instances.append(g)
        found.bodies.append(self.final(g.items, statements=True))
        return found

    def finish(self) -> None:
        """Parameters of every block, callees first (a caller's numbers include its calls' arguments)."""
        done: set = set()

        def visit(block: Block) -> None:
            if id(block) in done:
                return
            done.add(id(block))
            for body in block.bodies:
                for callee in _callees(body):
                    visit(callee)
            lists = [numbers_of(body) for body in block.bodies]
            if len({len(n) for n in lists}) != 1:
                raise AssertionError(f"the instances of block {block.name} differ in their numbers")
            vectors = [([n[k][0] for n in lists], lists[0][k][1]) for k in range(len(lists[0]))]
            _parametrise(block, vectors)
            self.order.append(block)

        for block in list(self.blocks.values()):
            visit(block)

    def _name(self, g: Group) -> str:
        """`layer1` -> Layer, `layer1.0` (a child of a Sequential) -> LayerBlock, `Bottleneck2` -> Bottleneck."""
        child = re.fullmatch(r"(.*?)\.\d+", g.name)
        base = _stem(child.group(1)) + "Block" if child else _stem(g.name)
        base = re.sub(r"[^A-Za-z0-9_]", "_", base).strip("_") or "Block"
        base = base[0].upper() + base[1:]
        base = base if base[0].isalpha() else "B" + base
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}{k}"
        self.names.add(name)
        return name


def names_bound(items: list) -> bool:
    """Whether the items refer to a bound value by name (a branch or chain from it, `like=`)."""
    for item in items:
        if isinstance(item, Source) or (isinstance(item, Layer) and item.op.refs):
            return True
        inner = item.branches if isinstance(item, Merge) else [item.items] if isinstance(item, Group) else []
        if any(names_bound(b) for b in inner):
            return True
    return False


def _stem(name: str) -> str:
    return re.sub(r"(\d+[a-z]?|[._]\d+)+$", "", name) or name


def _repeats(items: list) -> list:
    out = []
    for item in items:
        k = item_key(item)
        last = out[-1] if out else None
        if isinstance(last, Repeat) and last.key == k:
            last.count += 1
            last.instances.append([item])
        elif last is not None and not isinstance(last, Repeat) and item_key(last) == k:
            out[-1] = Repeat(2, [[last], [item]], k)
        else:
            out.append(item)
    return out


def item_key(item) -> tuple:
    if isinstance(item, Call):
        return item.key
    if isinstance(item, Repeat):
        return ("R", item.key, item.count)
    return key(item)


def _callees(items: list):
    for item in items:
        if isinstance(item, Call):
            yield item.block
        elif isinstance(item, Repeat):
            yield from _callees(item.instances[0])
        elif isinstance(item, Merge):
            for branch in item.branches:
                yield from _callees(branch)


def _parametrise(block: Block, vectors: list) -> None:
    """A parameter for each distinct varying vector of numbers; the rest stay literal."""
    by_vector: dict = {}
    for position, (values, hint) in enumerate(vectors):
        if len(set(map(repr, values))) == 1:
            continue
        frozen = tuple(map(repr, values))
        if frozen not in by_vector:
            taken = {p.name for p in block.params}
            stem = re.sub(r"\d+$", "", hint) or hint
            name, k = stem, 1
            while name in taken:
                k += 1
                name = f"{stem}{k}"
            by_vector[frozen] = Param(name, values)
            block.params.append(by_vector[frozen])
        block.positions[position] = by_vector[frozen]
