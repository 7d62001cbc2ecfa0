"""Where everything goes in a block diagram: boxes in a row, arcs above, labels below.

The diagram nodes (:meth:`Graph.collapse`, as in reports and the graph
style) are placed left to right in
topological order, each centred on one horizontal axis. A layer is a box seen
at an angle: its thickness grows with the channels, its front face with the
height and its slant with the width of the feature map, all log-scaled and
clamped so that LeNet-5 and ResNet-152 both fit. Activations, normalizations
and dropout are thin slabs after the box they follow; pooling is a narrowing;
merges are small circles holding their sign.

An edge between neighbours is a short arrow on the axis. Every other edge (a
skip connection, a branch) is an arc: up from the top of its source, across
above every box it passes, down onto its target. Shorter arcs are placed
first and longer ones above them, so nested skips nest.

blocks_draw.py turns the boxes into a :class:`Scene` of plain shapes that the
writers turn into SVG, TikZ or a matplotlib picture (blocks.py, blocks_output.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import log2

from ..errors import usage_error
from ..layers.base import FAMILIES
from ..report import human
from .layout import check_drawable

FONT_SIZE = 10.0
TITLE_SIZE = 16.0
CHAR_WIDTH = 0.68  # of the font size: generous for digits and x in Helvetica and DejaVu Sans
GAP = 14.0  # between boxes joined by an arrow
SLAB_GAP = 3.0  # before a thin slab
ARC_CLEARANCE = 14.0  # between an arc and the boxes below it
ARC_SPACING = 9.0  # between two arcs that overlap
MARGIN = 16.0
SLABS = ("activation", "norm", "regularization")
LABELLED = ("io", "conv", "dense", "pool", "resample", "block", "other", "shape")
KEY_FAMILIES = ("conv", "dense", "pool", "resample")
STAGGER_GAIN = 24.0  # px a label must save to drop to the second row
WHOLE = 100
"""Networks of at most this many layers are drawn whole by default (graphs: render.WHOLE)."""


@dataclass
class Shape:
    """One drawn primitive. `kind`: polygon, path, circle, text or glyph."""

    kind: str
    points: list = field(default_factory=list)  # polygon: corners; path: [(command, x, y), ...]
    fill: str = "none"
    stroke: str = "#333333"
    width: float = 0.8
    text: str = ""
    size: float = FONT_SIZE
    anchor: str = "middle"  # start, middle or end
    bold: bool = False
    radius: float = 0.0


@dataclass
class Group:
    """Shapes drawn as one thing: a node, an arc, an edge, the legend or the title."""

    role: str  # node, arc, edge, legend, title
    title: str = ""
    shapes: list = field(default_factory=list)


@dataclass
class Scene:
    width: float
    height: float
    groups: list

    def role(self, role: str) -> list:
        return [g for g in self.groups if g.role == role]


@dataclass
class Box:
    """A placed diagram node: its bounding box and what it stands for."""

    item: object
    kind: str  # box, slab, pool, merge
    family: str
    x: float = 0.0
    w: float = 0.0
    top: float = 0.0
    bottom: float = 0.0
    lines: list = field(default_factory=list)  # label lines under it
    narrow: float = 0.0  # pooling: half the output's face height
    row: int = 0  # the label's row: 0 or 1 (staggered)


def text_width(text: str, size: float = FONT_SIZE) -> float:
    return CHAR_WIDTH * size * len(text)


def face(n: int) -> float:
    """Front-face height (or slant, for the width) of a spatial size `n`."""
    return min(max(14.0 * log2(max(n, 1)), 14.0), 120.0)


def thickness(channels: int) -> float:
    return min(max(3.2 * log2(max(channels, 1)), 3.0), 36.0)


def shape_text(shape) -> str:
    return "\u00d7".join(str(d) for d in shape[1:])


def family(item) -> str:
    """The colour group: a layer's family; for a collapsed block, that of its first key layer."""
    if item.block is not None:
        key = (node.layer.family for node in item.nodes if node.layer.family in KEY_FAMILIES)
        return next(key, "other")
    name = item.nodes[0].layer.family
    return name if name in FAMILIES else "other"


@dataclass
class Drawn:
    """One diagram node: a layer, or a block instance collapsed into one box (`block` set)."""

    name: str
    nodes: list
    block: object = None


def shown_items(network, depth=None) -> list[Drawn]:
    """The diagram nodes at `depth`. Without it, networks of up to WHOLE layers are
    drawn whole and larger ones with each innermost block collapsed."""
    graph = network.graph
    if depth is not None and depth < 0:
        raise usage_error("the depth must be 0 or more", "E0815")
    groups = graph.collapse(depth, leaves=depth is None and len(graph) > WHOLE)
    check_drawable(network, len(groups), lambda d: len(graph.collapse(d, leaves=False)))
    return [
        Drawn(nodes[0].name, nodes) if path is None else Drawn("/".join(path), nodes, graph.blocks[path])
        for path, nodes in groups
    ]


def merge_op(item) -> str | None:
    """The kind of a merge node (drawn as a circle holding its sign), else None."""
    node = item.nodes[0]
    return node.op if item.block is None and node.layer.is_merge() else None


def layout(network, depth=None) -> tuple[list[Box], list[tuple[int, int]]]:
    """The placed boxes of `network` at `depth` (None: see :func:`shown_items`) and the
    edges between them as (source, target) box indices."""
    shown = shown_items(network, depth)
    owner = {node.name: i for i, item in enumerate(shown) for node in item.nodes}
    edges = _edges(network, shown, owner)
    outputs: dict[int, list[str]] = {}
    for name, node in network.graph.outputs.items():
        outputs.setdefault(owner[node], []).append(f"\u2192 {name}")
    return _place(network, shown, owner, outputs), edges


def _edges(network, shown, owner) -> list[tuple[int, int]]:
    """Distinct (source, target) index pairs between diagram nodes, in order of first use."""
    found: dict[tuple[int, int], None] = {}
    for i, item in enumerate(shown):
        for node in item.nodes:
            for source in node.inputs:
                if owner[source] != i:
                    found[(owner[source], i)] = None
    return list(found)


def _place(network, shown, owner, outputs) -> list[Box]:
    """Boxes left to right. Labels sit in two staggered rows: a box takes the second
    row when that lets it move clearly closer; labels in a row never overlap."""
    boxes: list[Box] = []
    cursor, rights = MARGIN, [MARGIN, MARGIN]
    for i, item in enumerate(shown):
        box = _size(network, item, owner)
        box.lines += outputs.get(i, [])
        gap = SLAB_GAP if box.kind == "slab" else GAP
        box.x = cursor + (gap if boxes else 0.0)
        label = max((text_width(line) for line in box.lines), default=0.0)
        if label:
            wanted = [max(box.x, right + 10.0 + label / 2 - box.w / 2) for right in rights]
            box.row = 1 if wanted[1] + STAGGER_GAIN < wanted[0] else 0
            box.x = wanted[box.row]
            rights[box.row] = box.x + box.w / 2 + label / 2
        cursor = box.x + box.w
        boxes.append(box)
    return boxes


def _size(network, item, owner) -> Box:
    """A box's kind, extent around the axis (y = 0) and label, from its output shape."""
    last = item.nodes[-1]
    shape, kind = last.shape, family(item)
    box = Box(item, "box", kind)
    if merge_op(item):
        r = max(9.0, 3.5 * len({owner[source] for source in last.inputs}))
        box.kind, box.w, box.top, box.bottom = "merge", 2 * r, -r, r
        box.lines = [shape_text(shape)]
        return box
    height, depth, slant = _dimensions(shape)
    if kind in SLABS or (kind == "shape" and len(shape) == 2):
        box.kind, depth = "slab", 4.0
    elif kind == "pool" and item.block is None and len(shape) == 4:
        box.kind, depth, box.narrow = "pool", 16.0, height / 2
        before = network.node(item.nodes[0].inputs[0]).shape
        height = max(height, _dimensions(before)[0])
        slant = max(slant, _dimensions(before)[2])
    box.w, box.top, box.bottom = depth + slant, -height / 2 - slant, height / 2
    if kind in LABELLED or box.kind == "pool":
        box.lines = [_title_line(item), shape_text(shape)]
    return box


def _dimensions(shape) -> tuple[float, float, float]:
    """(face height, thickness, slant) of a feature map or a flat vector."""
    if len(shape) == 4:
        return face(shape[2]), thickness(shape[1]), face(shape[3]) * 0.3
    if len(shape) == 2:
        return min(max(10.0 * log2(max(shape[1], 1)), 14.0), 120.0), 8.0, 4.0
    return face(shape[-1]), thickness(shape[1]) if len(shape) > 1 else 8.0, 4.0


def _title_line(item) -> str:
    if item.block is not None:
        keys = [node for node in item.nodes if node.layer.family in KEY_FAMILIES]
        return keys[0].layer.label() if len(keys) == 1 else item.block.path[-1]
    node = item.nodes[0]
    if node.layer.family == "io":
        return f"input {node.name}"
    return node.layer.label()


def totals_line(network) -> str:
    t = network.totals
    return f"{network.name}    {human(t['params'])} params    {human(t['macs'])} MACs"
