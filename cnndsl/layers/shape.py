"""Layers that move or resample values: `input`, `identity`, `pad`, `upsample`, `channel_shuffle`."""

from __future__ import annotations

from fractions import Fraction
from math import floor

from ..fields import resample, window
from ..values import describe
from .args import Arg, ArgError, amounts, choice, integer, number
from .base import Layer, ShapeError, elements, register, require_image, spatial


class Input(Layer):
    """A graph input; `shape` excludes the batch dimension."""

    kind = "input"
    family = "io"
    arity = 0
    onnx_ops = "graph input"
    onnx_doc = "`[N, C, H, W]` or `[N, F]`"

    def output_shape(self, shapes):
        return ("N", *self.attrs["shape"])

    def field(self, fields, shapes, out):
        from ..fields import IMPULSE

        return IMPULSE if len(out) == 4 else None

    def label(self) -> str:
        return "input " + "x".join(map(str, self.attrs["shape"]))

    def onnx(self, emit, inputs, node) -> str:
        return emit.graph_input(node)


@register
class Identity(Layer):
    kind = "identity"
    family = "shape"
    doc = "passes the value through"
    onnx_op = "Identity"


@register
class Pad(Layer):
    kind = "pad"
    family = "shape"
    doc = "pads height and width: constant, reflect, edge or wrap"
    onnx_ops = "`Pad`"
    onnx_doc = (
        "pads `[0, 0, top, left, 0, 0, bottom, right]`; modes `constant` (with `value`), `reflect`, `edge`, `wrap`"
    )
    arguments = (
        Arg("amount", amounts, attr="pads", doc="int, [h, w] or [top, left, bottom, right]"),
        Arg("mode", choice("constant", "reflect", "edge", "wrap"), "constant"),
        Arg("value", number(), 0.0),
    )

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        t, left, b, r = self.attrs["pads"]
        h, w = spatial(shapes[0])
        if self.attrs["mode"] == "reflect" and (max(t, b) >= h or max(left, r) >= w):
            raise ShapeError(f"`pad` reflect needs pads smaller than the input ({h}x{w})")
        return (*shapes[0][:2], h + t + b, w + left + r)

    def field(self, fields, shapes, out):
        return None if fields[0] is None else window(fields[0], (1, 1), (1, 1), self.attrs["pads"][:2])

    def label(self) -> str:
        return f"pad {self.attrs['mode']}"

    def onnx(self, emit, inputs, node) -> str:
        top, left, bottom, right = self.attrs["pads"]
        args = [inputs[0], emit.constant(node, "pads", [0, 0, top, left, 0, 0, bottom, right])]
        if self.attrs["mode"] == "constant" and self.attrs["value"] != 0:
            args.append(emit.constant(node, "value", self.attrs["value"], "float32"))
        return emit.op("Pad", args, node, mode=self.attrs["mode"])


def _scale(value):
    one = number(0.0, open_min=True)
    if isinstance(value, list):
        if len(value) != 2:
            raise ArgError(f"expected a number or [height, width], got {describe(value)}")
        return tuple(one(v) for v in value)
    return (one(value), one(value))


@register
class Upsample(Layer):
    kind = "upsample"
    family = "resample"
    doc = "resize by `scale` (nearest or linear, half-pixel centres)"
    onnx_ops = "`Resize`"
    onnx_doc = (
        "`sizes` (int64) on `axes=[2, 3]`, `coordinate_transformation_mode=half_pixel`, `mode` `nearest` "
        "(`round_prefer_floor`, PyTorch's `nearest` for whole scales) or `linear` (PyTorch's `bilinear`, "
        "`align_corners=False`)"
    )
    flops_doc = "`linear`: 9 per output (three lerps); `nearest`: 0"
    arguments = (Arg("scale", _scale, 2, attr="scales"), Arg("mode", choice("nearest", "linear"), "nearest"))

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        sizes = tuple(floor(n * s) for n, s in zip(spatial(shapes[0]), self.attrs["scales"]))
        if min(sizes) < 1:
            raise ShapeError(f"`upsample` output would be {sizes[0]}x{sizes[1]}", "use a larger scale")
        return (*shapes[0][:2], *sizes)

    def flops(self, shapes, out):  # bilinear: three lerps of three operations per output
        return 9 * elements(out) if self.attrs["mode"] == "linear" else 0

    def field(self, fields, shapes, out):
        if fields[0] is None:
            return None
        linear = self.attrs["mode"] == "linear"
        scale = tuple(Fraction(s).limit_denominator(1000) for s in self.attrs["scales"])
        return resample(fields[0], (2, 2) if linear else (1, 1), scale, (-1, -1) if linear else (0, 0))

    def label(self) -> str:
        s = self.attrs["scales"]
        return f"upsample x{s[0]:g} {self.attrs['mode']}"

    def onnx(self, emit, inputs, node) -> str:
        # output sizes (int64) rather than float scales: floats in the model are weights only
        sizes = emit.constant(node, "sizes", list(spatial(node.shape)))
        return emit.op(
            "Resize",
            [inputs[0], "", "", sizes],
            node,
            axes=[2, 3],
            mode=self.attrs["mode"],
            coordinate_transformation_mode="half_pixel",
            nearest_mode="round_prefer_floor",
        )


@register
class ChannelShuffle(Layer):
    kind = "channel_shuffle"
    family = "shape"
    doc = "ShuffleNet channel shuffle"
    onnx_ops = "`Reshape` → `Transpose` → `Reshape`"
    onnx_doc = "`[N, g, C/g, H, W]`, `perm=[0, 2, 1, 3, 4]`, back to `[N, C, H, W]`"
    arguments = (Arg("groups", integer()),)

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        channels, groups = shapes[0][1], self.attrs["groups"]
        if channels % groups:
            raise ShapeError(f"`channel_shuffle`: {channels} channels are not divisible by groups={groups}")
        return shapes[0]

    def label(self) -> str:
        return f"shuffle /{self.attrs['groups']}"

    def onnx(self, emit, inputs, node) -> str:
        _, channels, height, width = node.shape
        groups = self.attrs["groups"]
        split = emit.constant(node, "split", [0, groups, channels // groups, height, width])
        grouped = emit.op("Reshape", [inputs[0], split], node, "reshape")
        swapped = emit.op("Transpose", [grouped], node, "transpose", perm=[0, 2, 1, 3, 4])
        return emit.op("Reshape", [swapped, emit.constant(node, "shape", [0, channels, height, width])], node)


__all__ = ["Input", "elements"]
