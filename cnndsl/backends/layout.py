"""The default depth of a diagram: as much detail as a node budget and an aspect ratio allow.

A diagram is read on a page or a screen: a few hundred nodes, or a strip
thirty times taller than wide (EfficientNet-B0 drawn with only its
squeeze-and-excitation blocks folded was 440 x 14,604 px), is not read at all.
The candidates, from the most detailed to the least, are: every layer; each
innermost block (one that calls no other) folded into one node; then blocks
folded below depth ``D``, ``D - 1``, ... ``0``. The first candidate with at
most NODE_BUDGET nodes whose estimated height-to-width ratio is at most
MAX_ASPECT is drawn; when none qualifies, depth 0.

The estimate needs no renderer. Height is the number of ranks (the longest
path through the drawn nodes, as Graphviz ranks them top to bottom). Width is
the widest rank in lanes: a node is about two ranks wide, and a diagram is
never narrower than MIN_LANES (the legend and title under it are about as
wide as four ranks are tall). Against graphviz-pure's real layout of the zoo
the estimate is within about 30% (tests/test_render.py checks the real SVG
size of every network's chosen depth).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import usage_error

NODE_BUDGET = 120
"""Most diagram nodes drawn by default."""
MAX_ASPECT = 10.0
"""Most estimated height / width drawn by default."""
MIN_LANES = 4
LANES_PER_NODE = 2
PASSES = 3

View = tuple  # (depth or None, leaves): the arguments of the grouping function


def candidates(max_depth: int) -> list[View]:
    """Every view from the most detailed to the least: whole, leaves folded, depth max_depth-1 … 0."""
    return [(None, False), (None, True), *((d, False) for d in range(max_depth - 1, -1, -1))]


def default_view(network, group: Callable[[View], list]) -> View:
    """The most detailed view of `network` within the node budget and the aspect ratio.

    `group(view)` gives the diagram's items for a view: objects whose `nodes`
    are the graph nodes each one draws, in topological order.
    """
    max_depth = max((len(path) for path in network.graph.blocks), default=0)
    seen: set[int] = set()
    for view in candidates(max_depth):
        items = group(view)
        if len(items) in seen:  # the same drawing as a more detailed view already refused
            continue
        seen.add(len(items))
        if len(items) <= NODE_BUDGET and aspect(network, items) <= MAX_ASPECT:
            return view
    return (0, False)


def aspect(network, items: list) -> float:
    """Estimated height / width of the drawing of `items` (see the module doc)."""
    ranks, width = shape(network, items)
    return ranks / max(MIN_LANES, LANES_PER_NODE * width)


def shape(network, items: list) -> tuple[int, int]:
    """(ranks, nodes in the widest rank) of the drawing, each item at its longest-path rank."""
    owner = {node.name: k for k, item in enumerate(items) for node in item.nodes}
    edges = sorted(
        {(owner[source], k) for k, item in enumerate(items) for node in item.nodes for source in node.inputs}
        - {(k, k) for k in range(len(items))},
        key=lambda edge: edge[1],
    )
    rank = [0] * len(items)
    # Items stand in the topological order of their first node, so one pass ranks them all
    # unless a folded block consumes an item drawn after it; a few passes settle those
    # (a cycle between folded blocks, which Graphviz breaks by reversing an edge, cannot
    # lengthen the drawing past them).
    for _ in range(PASSES):
        changed = False
        for j, k in edges:
            if rank[j] + 1 > rank[k]:
                rank[k], changed = rank[j] + 1, True
        if not changed:
            break
    counts: dict[int, int] = {}
    for r in rank:
        counts[r] = counts.get(r, 0) + 1
    return (max(rank) + 1 if rank else 0), max(counts.values(), default=0)


MAX_DRAWN = 2_000
"""Most nodes one diagram draws: past it a drawing is unreadable, and its layout slow (E0816)."""


def check_drawable(network, count: int, count_at: Callable[[int], int]) -> None:
    """Refuse (E0816) a diagram of more than MAX_DRAWN nodes, naming the deepest `--depth` that
    fits; `count_at(depth)` counts a drawing's nodes at that depth (one linear collapse each)."""
    if count <= MAX_DRAWN:
        return
    deepest = max((len(path) for path in network.graph.blocks), default=0)
    fits = [(d, n) for d in range(deepest + 1) if (n := count_at(d)) <= MAX_DRAWN]
    if fits:
        depth, nodes = fits[-1]
        hint = f"draw it with `--depth {depth}` ({nodes:,} nodes), or read it as a table (`cnndsl report`)"
    else:
        hint = "even its top level is too large: group repeated layers into a `block` and draw with `--depth 0`"
    message = f"a diagram of {count:,} nodes would be unreadable (at most {MAX_DRAWN:,} are drawn)"
    raise usage_error(message, "E0816", hint)


def suffix_format(path, formats, verb: str, kind: str, hint: str) -> str:
    """The format named by `path`'s suffix when it is one of `formats`; else E0810,
    `cannot VERB to PATH: .EXT is not a KIND format` with `hint`."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in formats:
        shown = f".{fmt}" if fmt else "no extension"
        raise usage_error(f"cannot {verb} to {path}: {shown} is not a {kind} format", "E0810", hint)
    return fmt
