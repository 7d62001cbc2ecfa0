"""The shapes of a block diagram, from the boxes placed by blocks_layout.py.

Everything is first drawn around the axis y = 0 (negative is up), then moved
down below the title; the canvas is the bounding box of it all plus a margin.
"""

from __future__ import annotations

from ..layers.base import FAMILIES
from .blocks_layout import (
    ARC_CLEARANCE,
    ARC_SPACING,
    MARGIN,
    TITLE_SIZE,
    Group,
    Scene,
    Shape,
    merge_op,
    text_width,
    totals_line,
)

INK = "#333333"
ARC_INK = "#5c6bc0"
BLOCK_INK = "#5d4037"  # the bold outline of a collapsed block
LINE_HEIGHT = 12.0
SWATCH = 10.0


def scene(network, boxes, edges) -> Scene:
    base = max(b.bottom for b in boxes) + 14.0
    second = max((len(box.lines) for box in boxes if box.row == 0), default=2) + 0.4
    groups = [_node(box, base, second) for box in boxes]
    groups += [_arrow(boxes[a], boxes[b]) for a, b in edges if b == a + 1]
    groups += _arcs(boxes, [(a, b) for a, b in edges if b != a + 1])
    lowest = max(s_y for g in groups for s_y in _ys(g))
    groups.append(_legend(boxes, lowest + 22.0, _content_right(groups)))
    top = min(s_y for g in groups for s_y in _ys(g))
    shift = MARGIN + TITLE_SIZE + 14.0 - top
    for group in groups:
        _move(group, shift)
    title = Group("title", totals_line(network), [Shape("text", [(MARGIN, MARGIN + TITLE_SIZE)], fill=INK)])
    title.shapes[0].text, title.shapes[0].size, title.shapes[0].anchor = totals_line(network), TITLE_SIZE, "start"
    title.shapes[0].bold = True
    groups.insert(0, title)
    width = max(_content_right(groups), MARGIN + text_width(title.title, TITLE_SIZE)) + MARGIN
    height = max(y for g in groups for y in _ys(g)) + MARGIN
    return Scene(round(width, 1), round(height, 1), groups)


# -- nodes -----------------------------------------------------------------------------


def _node(box, base: float, second: float) -> Group:
    """A box (or merge circle) with its label lines; `second`: where the second label row starts, in lines."""
    item = box.item
    fill = FAMILIES[box.family][0]
    title = f"{item.name}: {box.lines[0] if box.lines else item.nodes[0].layer.label()}"
    if item.block is not None:
        title += f" ({len(item.nodes)} layers)"
    group = Group("node", title)
    op = merge_op(item)
    if op:
        group.shapes = _merge(box, op, fill)
    elif box.kind == "pool":
        group.shapes = _frustum(box, fill)
    else:
        group.shapes = _cuboid(box, fill)
    centre = box.x + box.w / 2
    bold = not op
    for k, line in enumerate(box.lines):
        y = base + LINE_HEIGHT * (k + 1 + second * box.row) - 2
        text = Shape("text", [(centre, y)], fill=INK, text=line)
        text.bold = k == 0 and bold
        group.shapes.append(text)
    return group


def _cuboid(box, fill: str) -> list[Shape]:
    """Front face, top and right side of a box whose slant is its height above the face."""
    slant = _slant(box)
    x0, x1 = box.x, box.x + box.w - slant
    top, bottom = box.top + slant, box.bottom
    stroke, width = (BLOCK_INK, 1.4) if box.item.block is not None else (INK, 0.6)
    front = [(x0, top), (x1, top), (x1, bottom), (x0, bottom)]
    lid = [(x0, top), (x0 + slant, top - slant), (x1 + slant, top - slant), (x1, top)]
    side = [(x1, top), (x1 + slant, top - slant), (x1 + slant, bottom - slant), (x1, bottom)]
    return [
        Shape("polygon", front, fill=fill, stroke=stroke, width=width),
        Shape("polygon", lid, fill=shade(fill, 1.25), stroke=stroke, width=width),
        Shape("polygon", side, fill=shade(fill, 0.8), stroke=stroke, width=width),
    ]


def _slant(box) -> float:
    """The slant of a cuboid: what its bounding box has above a face centred on the axis."""
    return -box.top - box.bottom


def _frustum(box, fill: str) -> list[Shape]:
    """Pooling: a box whose face narrows from the input's size to the output's."""
    slant = _slant(box)
    x0, x1 = box.x, box.x + box.w - slant
    out_h = box.narrow
    left = [(x0, -box.bottom), (x0, box.bottom)]
    right = [(x1, -out_h), (x1, out_h)]
    front = [left[0], right[0], right[1], left[1]]
    lid = [left[0], (x0 + slant, -box.bottom - slant), (x1 + slant, -out_h - slant), right[0]]
    side = [right[0], (x1 + slant, -out_h - slant), (x1 + slant, out_h - slant), right[1]]
    return [
        Shape("polygon", front, fill=fill, stroke=INK, width=0.6),
        Shape("polygon", lid, fill=shade(fill, 1.25), stroke=INK, width=0.6),
        Shape("polygon", side, fill=shade(fill, 0.8), stroke=INK, width=0.6),
    ]


def _merge(box, op: str, fill: str) -> list[Shape]:
    centre = (box.x + box.w / 2, 0.0)
    circle = Shape("circle", [centre], fill=fill, stroke=INK, width=0.8, radius=box.w / 2)
    return [circle, *glyph(item_glyph(box.item), centre, box.w / 2)]


def item_glyph(item) -> str:
    """A merge's sign: the layer's `glyph` (+ for add, x for mul); || for one without (concat)."""
    return item.nodes[0].layer.glyph or "||"


def glyph(sign: str, centre, r: float) -> list[Shape]:
    """A merge's sign drawn as strokes (no font needed): + as a cross, x as a saltire, ^ as a
    chevron, || as bars."""
    cx, cy = centre
    k = r * 0.6
    if sign == "+":
        strokes = [((cx - k, cy), (cx + k, cy)), ((cx, cy - k), (cx, cy + k))]
    elif sign == "^":  # maximum: a chevron
        strokes = [((cx - k, cy + k * 0.5), (cx, cy - k * 0.5)), ((cx, cy - k * 0.5), (cx + k, cy + k * 0.5))]
    elif sign == "x":
        strokes = [((cx - k * 0.75, cy - k * 0.75), (cx + k * 0.75, cy + k * 0.75))]
        strokes.append(((cx - k * 0.75, cy + k * 0.75), (cx + k * 0.75, cy - k * 0.75)))
    else:
        strokes = [((cx + dx, cy - k), (cx + dx, cy + k)) for dx in (-0.35 * k, 0.35 * k)]
    return [Shape("path", [("M", *a), ("L", *b)], stroke=INK, width=1.2) for a, b in strokes]


def shade(colour: str, factor: float) -> str:
    """`colour` lighter (factor > 1, towards white) or darker (factor < 1)."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    if factor >= 1:
        rgb = [round(c + (255 - c) * (factor - 1)) for c in rgb]
    else:
        rgb = [round(c * factor) for c in rgb]
    return "#" + "".join(f"{min(max(c, 0), 255):02x}" for c in rgb)


# -- edges and arcs ----------------------------------------------------------------------


def _arrow(a, b) -> Group:
    """A short arrow on the axis between neighbours."""
    x0, x1 = a.x + a.w, b.x
    shapes = [Shape("path", [("M", x0, 0.0), ("L", x1, 0.0)], stroke=INK, width=0.8)]
    if x1 - x0 >= 8.0:
        shapes.append(Shape("polygon", [(x1, 0.0), (x1 - 5.0, -2.5), (x1 - 5.0, 2.5)], fill=INK, stroke=INK))
    return Group("edge", f"{a.item.name} -> {b.item.name}", shapes)


def _arcs(boxes, pairs: list[tuple[int, int]]) -> list[Group]:
    """Each pair as an arc over every box between its ends; longer arcs above shorter ones."""
    ends = _attachments(boxes, pairs)
    levels: dict[tuple[int, int], float] = {}
    for a, b in sorted(pairs, key=lambda p: (abs(p[1] - p[0]), p)):
        lo, hi = min(a, b), max(a, b)
        y = min(box.top for box in boxes[lo : hi + 1]) - ARC_CLEARANCE
        for (c, d), other in levels.items():
            if min(c, d) < hi and lo < max(c, d):
                y = min(y, other - ARC_SPACING)
        levels[(a, b)] = y
    return [_arc(boxes, a, b, ends[(a, b)], levels[(a, b)]) for a, b in pairs]


def _attachments(boxes, pairs) -> dict[tuple[int, int], tuple[float, float]]:
    """Where each arc leaves its source's top and lands on its target's, spread along the lid."""
    touching: dict[int, list] = {}
    for a, b in pairs:
        touching.setdefault(a, []).append((b - a, (a, b), 0))  # leaves: longer ones further right
        touching.setdefault(b, []).append((a - b, (a, b), 1))  # lands: longer ones further left
    where: dict[tuple, list] = {pair: [0.0, 0.0] for pair in pairs}
    for index, arcs in touching.items():
        box = boxes[index]
        left, right = box.x + box.w * 0.35, box.x + box.w - 2.0
        if box.kind == "merge":
            left, right = box.x + 3.0, box.x + box.w - 3.0
        arcs.sort()
        for k, (_, pair, end) in enumerate(arcs):
            where[pair][end] = left + (right - left) * (k + 1) / (len(arcs) + 1)
    return {pair: (xs[0], xs[1]) for pair, xs in where.items()}


def _arc(boxes, a: int, b: int, ends, y: float) -> Group:
    (x0, x1), r = ends, min(8.0, abs(ends[1] - ends[0]) / 2)
    y0, y1 = boxes[a].top, boxes[b].top
    if boxes[a].kind == "merge":
        y0 = _circle_top(boxes[a], x0)
    if boxes[b].kind == "merge":
        y1 = _circle_top(boxes[b], x1)
    sign = 1.0 if x1 >= x0 else -1.0
    path = [
        ("M", x0, y0),
        ("L", x0, y + r),
        ("Q", x0, y, x0 + sign * r, y),
        ("L", x1 - sign * r, y),
        ("Q", x1, y, x1, y + r),
        ("L", x1, y1 - 5.0),
    ]
    head = Shape("polygon", [(x1, y1), (x1 - 2.5, y1 - 5.0), (x1 + 2.5, y1 - 5.0)], fill=ARC_INK, stroke=ARC_INK)
    line = Shape("path", path, stroke=ARC_INK, width=1.0)
    return Group("arc", f"{boxes[a].item.name} -> {boxes[b].item.name}", [line, head])


def _circle_top(box, x: float) -> float:
    """The y of a merge circle's upper edge above `x`."""
    r = box.w / 2
    dx = x - box.x - r
    return -(max(r * r - dx * dx, 0.0) ** 0.5)


# -- the legend and bookkeeping ------------------------------------------------------------


def _legend(boxes, y: float, right: float) -> Group:
    """A swatch per family drawn and a symbol per merge kind, in rows that fit the picture."""
    drawn = {box.family for box in boxes if not merge_op(box.item)}
    drawn |= {"collapsed" for box in boxes if box.item.block is not None}
    known = {**FAMILIES, "collapsed": ("#ffffff", "collapsed block (outline)")}
    entries = [(name, colour, text) for name, (colour, text) in known.items() if name in drawn]
    ops = {merge_op(box.item): item_glyph(box.item) for box in boxes if merge_op(box.item)}
    group, x = Group("legend", "legend"), MARGIN
    width = max(right, 420.0)
    for name, colour, text in entries + [(op, FAMILIES["merge"][0], op) for op in ops]:
        size = SWATCH + 4.0 + text_width(text) + 14.0
        if x + size > width and x > MARGIN:
            x, y = MARGIN, y + 16.0
        if name in ops:
            centre = (x + SWATCH / 2, y - SWATCH / 2 + 1)
            group.shapes.append(Shape("circle", [centre], fill=colour, stroke=INK, width=0.8, radius=SWATCH / 2 + 1))
            group.shapes += glyph(ops[name], centre, SWATCH / 2 + 1)
        else:
            square = [(x, y - SWATCH + 1), (x + SWATCH, y - SWATCH + 1), (x + SWATCH, y + 1), (x, y + 1)]
            bold = name == "collapsed"
            stroke, line = (BLOCK_INK, 1.4) if bold else (INK, 0.6)
            group.shapes.append(Shape("polygon", square, fill=colour, stroke=stroke, width=line))
        group.shapes.append(Shape("text", [(x + SWATCH + 4.0, y)], fill=INK, text=text, anchor="start"))
        x += size
    return group


def _points(shape) -> list[tuple[float, float]]:
    if shape.kind == "path":
        return [(p[-2], p[-1]) for p in shape.points]
    return list(shape.points)


def _ys(group: Group):
    for shape in group.shapes:
        for _, y in _points(shape):
            yield y - shape.radius - (shape.size if shape.kind == "text" else 0.0)
            yield y + shape.radius + (3.0 if shape.kind == "text" else 0.0)


def _content_right(groups) -> float:
    right = 0.0
    for group in groups:
        for shape in group.shapes:
            for x, _ in _points(shape):
                if shape.kind == "text":
                    span = text_width(shape.text, shape.size)
                    x += {"start": span, "middle": span / 2, "end": 0.0}[shape.anchor]
                right = max(right, x + shape.radius)
    return right


def _move(group: Group, dy: float) -> None:
    for shape in group.shapes:
        if shape.kind == "path":
            shape.points = [(p[0], *[v + dy if k % 2 else v for k, v in enumerate(p[1:])]) for p in shape.points]
        else:
            shape.points = [(x, y + dy) for x, y in shape.points]
