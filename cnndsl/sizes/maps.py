"""Every node's shape as formulas in the size variables, and the conditions for a size to be valid.

The graph is lowered once at representative sizes (cnndsl/sizes/symbolic.py);
its structure, channels and parameters do not depend on the sizes. This
module walks it in order and maps each node's height and width through its
layer's size map: a window (`conv`, pooling), a transposed window (`convT`),
a scale (`upsample`, `pixel_shuffle`), a shift (`pad`), a constant (`gap`,
`upsample(size=)`) or another tensor's size (`upsample(like=)`). Any other
kind keeps its input's height and width, which is checked at the
representative sizes. The size maps live here, beside the formulas they
build, rather than on the layer classes: they mirror `layers/window.py`,
and tests/test_sizes.py checks them against compiling every size concretely.

The conditions (:class:`Need`) are what the layers would check when
compiled at one size: every size at least 1, merged branches of equal size,
a `dense` seeing the features it was built for, `pixel_unshuffle` dividing.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ..errors import error
from ..layers.window import effective
from . import expr
from .expr import Poly, Size


@dataclass(frozen=True)
class Need:
    """One condition: `left == right`, or `left >= 1` when right is None."""

    left: Size
    right: Size | None
    node: str
    what: str


class Maps:
    """The walk: symbolic shapes by node name and the conditions met so far."""

    def __init__(self, graph, sizes: dict, built: bool):
        self.graph, self.shapes, self.needs = graph, {}, []
        self.sizes = sizes  # {input name: (height Size, width Size)}
        self.built = built  # a concrete program: a dense keeps the features it was built with

    def run(self) -> dict:
        for node in self.graph.nodes():
            ins = [self.shapes[i] for i in node.inputs]
            shape = self.input(node) if node.op == "input" else MAPS.get(node.op, _same)(self, node, ins)
            if len(shape) == 4:
                for axis, size in zip(("height", "width"), shape[2:]):
                    if size.atom is not None:
                        self.needs.append(Need(size, None, node.name, f"the {axis} is at least 1"))
            self.shapes[node.name] = shape
        return self.shapes

    def input(self, node) -> tuple:
        if len(node.shape) != 4:
            return node.shape
        height, width = self.sizes.get(node.name, (None, None))
        return ("N", node.shape[1], height or expr.constant(node.shape[2]), width or expr.constant(node.shape[3]))

    def equal(self, a: Size, b: Size, node, what: str) -> None:
        if a != b:
            self.needs.append(Need(a, b, node.name, what))

    def unsupported(self, node, why: str):
        return error(
            "E1305",
            f"cannot give `{node.op}` a size formula: {why}",
            node.span,
            hint="give the sizes numbers with --set NAME=VALUE",
        )


def _same(maps: Maps, node, ins) -> tuple:
    """A kind that keeps its input's height and width (checked at the representative sizes)."""
    first, before = ins[0], maps.graph[node.inputs[0]].shape
    if len(node.shape) == 4 and len(first) == 4 and tuple(node.shape[2:]) == tuple(before[2:]):
        return ("N", node.shape[1], *first[2:])
    if len(node.shape) == 2 and len(first) == 2:
        if node.params == 0 and node.shape[1] == before[1]:
            return ("N", first[1])
        _dense_input(maps, node, first)
        return node.shape
    raise maps.unsupported(node, "it changes the height or width")


def _dense_input(maps: Maps, node, flat: tuple) -> None:
    """A flat input whose features depend on the sizes, read by a layer built for one count."""
    features = Poly.of(flat[1])
    if features.constant is not None:
        return
    if not maps.built:
        raise error(
            "E1303",
            f"`{node.op}` would see {features} features: its parameters would depend on the input size",
            node.span,
            hint="pool to a fixed size first (`gap -> flatten`), or give the sizes with --set NAME=VALUE",
        )
    source = node.inputs[0]
    while maps.graph[source].op != "flatten":  # the flat value came through activations, dropout ...
        source = maps.graph[source].inputs[0]
    image = maps.graph[source].inputs[0]
    for axis in range(2):
        built = expr.constant(maps.graph[image].shape[2 + axis])
        what = f"the {('height', 'width')[axis]} flattened into `{node.op}` is the one it was built for"
        maps.equal(maps.shapes[image][2 + axis], built, node, what)


def _window_axis(node, size: Size, i: int, strides, pads, dilation: int, ceil: bool) -> Size:
    a = node.layer.attrs
    k_eff, s = effective(a["kernel_shape"][i], dilation), strides[i]
    if pads == "same":  # ceil(x / s): the pads fill the last window (layers/window.py)
        if ceil:
            raise _unsupported_ceil(node)
        return expr.ceildiv(size, s)
    begin, end = pads[i], pads[i + 2]
    span = expr.add(size, begin + end - k_eff)
    if not ceil:
        return expr.add(expr.floordiv(span, s), 1)
    if s + end > k_eff:  # the last window could start in the end padding: PyTorch then drops it
        raise _unsupported_ceil(node)
    return expr.add(expr.ceildiv(span, s), 1)


def _unsupported_ceil(node):
    return error(
        "E1305",
        f"cannot give `{node.op}` a size formula: with ceil=true its last window could start in the padding",
        node.span,
        hint="give the sizes numbers with --set NAME=VALUE",
    )


def _window(maps: Maps, node, ins) -> tuple:
    a, first = node.layer.attrs, ins[0]
    strides = node.layer.strides if a.get("strides") is None or node.op in POOLS else a["strides"]
    dilations = a.get("dilations") or (1, 1)
    pads = a.get("pads", (0, 0, 0, 0))
    ceil = a.get("ceil", False)
    sizes = [_window_axis(node, first[2 + i], i, strides, pads, dilations[i], ceil) for i in range(2)]
    return ("N", node.shape[1], *sizes)


def _transposed(maps: Maps, node, ins) -> tuple:
    a, first = node.layer.attrs, ins[0]
    pads = node.layer.pads_for(maps.graph[node.inputs[0]].shape)  # `same` here does not depend on the size
    sizes = []
    for i in range(2):
        k_eff = effective(a["kernel_shape"][i], a["dilations"][i])
        grown = expr.mul(expr.add(first[2 + i], -1), a["strides"][i])
        sizes.append(expr.add(grown, k_eff + a["output_padding"][i] - pads[i] - pads[i + 2]))
    return ("N", node.shape[1], *sizes)


def _global(maps: Maps, node, ins) -> tuple:
    return ("N", node.shape[1], expr.constant(1), expr.constant(1))


def _upsample(maps: Maps, node, ins) -> tuple:
    a = node.layer.attrs
    if len(ins) > 1:
        return ("N", node.shape[1], *ins[1][2:])
    if a.get("sizes") is not None:
        return ("N", node.shape[1], *(expr.constant(n) for n in a["sizes"]))
    sizes = []
    for size, scale in zip(ins[0][2:], a.get("scales") or (2.0, 2.0)):
        exact = Fraction(scale)
        if exact.denominator > 1024:
            raise maps.unsupported(node, f"the scale {scale} is not a simple fraction")
        sizes.append(expr.scaled(size, exact))
    return ("N", node.shape[1], *sizes)


def _pad(maps: Maps, node, ins) -> tuple:
    t, left, b, r = node.layer.attrs["pads"]
    h, w = ins[0][2:]
    if node.layer.attrs["mode"] == "reflect":
        for size, most, axis in ((h, max(t, b), "height"), (w, max(left, r), "width")):
            if most and size.atom is not None:
                maps.needs.append(Need(expr.add(size, -most), None, node.name, f"the {axis} exceeds the reflect pad"))
    return ("N", node.shape[1], expr.add(h, t + b), expr.add(w, left + r))


def _shuffle(maps: Maps, node, ins) -> tuple:
    r = node.layer.attrs["blocksize"]
    return ("N", node.shape[1], *(expr.mul(s, r) for s in ins[0][2:]))


def _unshuffle(maps: Maps, node, ins) -> tuple:
    r = node.layer.attrs["blocksize"]
    out = []
    for axis, size in zip(("height", "width"), ins[0][2:]):
        part = expr.floordiv(size, r)
        maps.equal(expr.mul(part, r), size, node, f"the {axis} is divisible by {r}")
        out.append(part)
    return ("N", node.shape[1], *out)


def _flatten(maps: Maps, node, ins) -> tuple:
    first = ins[0]
    features = Poly.of(1)
    for dim in first[1:]:
        features = features * Poly.of(dim)
    return ("N", features if features.constant is None else features.constant)


def _merge(maps: Maps, node, ins) -> tuple:
    first = ins[0]
    if len(first) != 4:
        return _same(maps, node, ins)
    sizes = list(first[2:])
    for other in ins[1:]:
        for axis in range(2):
            a, b = sizes[axis], other[2 + axis]
            if node.op == "mul" and b == expr.constant(1):
                continue
            if node.op == "mul" and a == expr.constant(1):
                sizes[axis] = b
                continue
            maps.equal(a, b, node, f"the merged branches agree on the {('height', 'width')[axis]}")
    return ("N", node.shape[1], *sizes)


POOLS = ("maxpool", "avgpool", "lppool")
MAPS = {
    "conv": _window,
    "dwconv": _window,
    **dict.fromkeys(POOLS, _window),
    "convT": _transposed,
    "gap": _global,
    "gmp": _global,
    "upsample": _upsample,
    "pad": _pad,
    "pixel_shuffle": _shuffle,
    "pixel_unshuffle": _unshuffle,
    "flatten": _flatten,
    "concat": _merge,
    "add": _merge,
    "mul": _merge,
    "maximum": _merge,
}
