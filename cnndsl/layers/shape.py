"""Layers that move or resample values: `input`, `identity`, `pad`, `upsample`, `channel_shuffle`."""

from __future__ import annotations

from fractions import Fraction
from math import floor

from ..fields import resample, window
from ..values import describe
from .args import Arg, ArgError, amounts, boolean, choice, integer, number, pair
from .base import Layer, ShapeError, elements, format_shape, register, require_image, spatial


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


def _size(value):
    if not isinstance(value, list):
        raise ArgError(f"expected [height, width], got {describe(value)}", "write the output size as `size=[h, w]`")
    return pair()(value)


@register
class Upsample(Layer):
    """Resize by `scale`, to a fixed `size`, or to the spatial size of a second input.

    `like=NAME` names a tensor, not a value, so it is not in `arguments`: the
    lowering binds the other arguments, sets ``attrs["like"]`` to the name as
    written, runs :meth:`check`, and adds the node with inputs ``[current,
    NAME's node]``. The second input is only a reference: its height and width
    are copied, its values never read.
    """

    kind = "upsample"
    family = "resample"
    arity = 1  # plus the `like=` reference as a second input
    tensor_args = ("like",)  # keyword arguments that name a tensor, passed as extra inputs in this order
    doc = (
        "`scale` a number or `[h, w]`: output size `floor(size * scale)`; or `size=[h, w]`; or `like=NAME`, the "
        "height and width of another tensor. `size`, `scale` and `like` exclude each other. `nearest` reads input "
        "`floor(o * in / out)` (PyTorch's `nearest`); `linear` uses half-pixel centres, or with `align_corners=true` "
        "maps corner to corner"
    )
    onnx_ops = "`Resize`"
    onnx_doc = (
        "on `axes=[2, 3]` with `sizes` (int64): a constant for `scale`/`size`, or `Shape(ref, start=2, end=4)` of "
        "the `like=` tensor; `nearest`: `asymmetric`, `nearest_mode=floor`; `linear`: `half_pixel` (PyTorch's "
        "`bilinear`, `align_corners=False`) or `align_corners`"
    )
    flops_doc = "`linear`: 9 per output (three lerps); `nearest`: 0"
    arguments = (
        Arg("scale", _scale, None, attr="scales", doc="a number or [h, w]; 2 when neither size nor like is given"),
        Arg("mode", choice("nearest", "linear"), "nearest"),
        Arg("size", _size, None, attr="sizes", doc="the output [h, w]"),
        Arg("align_corners", boolean, False, doc="linear only: corner pixels aligned (PyTorch's align_corners)"),
    )

    def check(self) -> None:
        a = self.attrs
        given = [name for name, key in (("scale", "scales"), ("size", "sizes")) if a.get(key) is not None]
        if a.get("like") is not None and given:
            raise _conflict("like", f"`like` and `{given[0]}` exclude each other", "give only one of them")
        if len(given) == 2:
            raise _conflict("size", "`size` and `scale` exclude each other", "give the output size or the scale")
        if a.get("align_corners") and a["mode"] != "linear":
            raise _conflict(
                "align_corners", "align_corners needs mode=linear", "nearest has no corners to align (as PyTorch)"
            )

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        if len(shapes) > 1:
            return (*shapes[0][:2], *_reference_size(shapes[1]))
        if self.attrs.get("sizes") is not None:
            return (*shapes[0][:2], *self.attrs["sizes"])
        scales = self.attrs.get("scales") or (2.0, 2.0)
        sizes = tuple(floor(n * s) for n, s in zip(spatial(shapes[0]), scales))
        if min(sizes) < 1:
            raise ShapeError(f"`upsample` output would be {sizes[0]}x{sizes[1]}", "use a larger scale")
        return (*shapes[0][:2], *sizes)

    def flops(self, shapes, out):  # bilinear: three lerps of three operations per output
        return 9 * elements(out) if self.attrs["mode"] == "linear" else 0

    def field(self, fields, shapes, out):
        if fields[0] is None:
            return None
        steps = self.steps(spatial(shapes[0]), spatial(out))
        if self.attrs["mode"] == "nearest":
            return resample(fields[0], (1, 1), tuple(1 / s for s in steps), (0, 0))
        if self.attrs.get("align_corners"):
            return resample(fields[0], (2, 2), tuple(1 / s for s in steps), (0, 0))
        first = tuple(floor(s / 2 - Fraction(1, 2)) for s in steps)  # half-pixel: output 0 reads x = s/2 - 1/2
        return resample(fields[0], (2, 2), tuple(1 / s for s in steps), first)

    def steps(self, sizes: tuple, out: tuple) -> tuple:
        """Input pixels per output pixel on each axis, as the sampling positions advance."""
        if self.attrs.get("align_corners"):
            return tuple(Fraction(n - 1, o - 1) if o > 1 else Fraction(1) for n, o in zip(sizes, out))
        scales = self.attrs.get("scales")
        if scales is not None:
            return tuple(1 / Fraction(s).limit_denominator(1000) for s in scales)
        return tuple(Fraction(n, o) for n, o in zip(sizes, out))

    def label(self) -> str:
        a, mode = self.attrs, self.attrs["mode"]
        if a.get("like") is not None:
            return f"upsample like {a['like']} {mode}"
        if a.get("sizes") is not None:
            return f"upsample to {a['sizes'][0]}x{a['sizes'][1]} {mode}"
        s = a.get("scales") or (2.0, 2.0)
        return f"upsample x{s[0]:g} {mode}" if s[0] == s[1] else f"upsample x{s[0]:g}x{s[1]:g} {mode}"

    def onnx(self, emit, inputs, node) -> str:
        # output sizes (int64) rather than float scales: floats in the model are weights only
        if len(inputs) > 1:  # like=: the reference's [H, W], read at run time
            sizes = emit.op("Shape", [inputs[1]], node, "like_size", start=2, end=4)
        else:
            sizes = emit.constant(node, "sizes", list(spatial(node.shape)))
        return emit.op("Resize", [inputs[0], "", "", sizes], node, axes=[2, 3], **self.onnx_modes())

    def onnx_modes(self) -> dict:
        if self.attrs["mode"] == "nearest":  # PyTorch's `nearest`: floor(o * in / out)
            return {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
        corners = "align_corners" if self.attrs.get("align_corners") else "half_pixel"
        return {"mode": "linear", "coordinate_transformation_mode": corners}


def _conflict(arg: str, message: str, hint: str) -> ArgError:
    return ArgError(message, hint, arg=arg)


def _reference_size(shape: tuple) -> tuple:
    if len(shape) != 4:
        raise ShapeError(
            f"`upsample` like= needs an image [N, C, H, W] to copy the size of, got {format_shape(shape)}",
            inputs={1: f"this gives {format_shape(shape)}"},
        )
    return spatial(shape)


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
