"""Per-sample normalisation and per-channel scaling: `layernorm`, `groupnorm`,
`instancenorm`, `scale`, and stochastic depth `droppath`.

Unlike `bn`, the norms here compute their statistics from the sample itself at
inference, so they hold learnable scale and shift (2·C parameters) and no state.
FLOPs follow docs/cost-model.md: 7 per element (the mean and variance sums,
the subtraction, the square, the normalising multiply, scale and shift) and 4
per normalised set (two divides by its size, the epsilon add, the square root).
"""

from __future__ import annotations

from math import prod

from ..values import describe
from .args import LEARNABLE_ARGS, Arg, ArgError, boolean, integer, number
from .base import Layer, ShapeError, elements, format_shape, register, require_image

PER_ELEMENT, PER_SET = 7, 4
EPS = Arg("eps", number(0.0, open_min=True), 1e-5, attr="epsilon")


class _Norm(Layer):
    family = "norm"
    learnable = True
    arguments = (EPS, *LEARNABLE_ARGS)
    params_doc = "`2 * C` (scale, shift)"

    def parameters(self, shapes, out):
        return 2 * shapes[0][1]

    def sets(self, shape: tuple) -> int:
        """How many groups of values are normalised together, per sample."""
        raise NotImplementedError

    def flops(self, shapes, out):
        return PER_ELEMENT * elements(out) + PER_SET * self.sets(out)

    def affine(self, emit, node) -> tuple[str, str]:
        """The learnable scale (from `init=`, ones by default) and shift (zeros), both [C]."""
        channels = (emit.input_shapes(node)[0][1],)
        return emit.weight(node, "scale", channels, default=("ones",)), emit.filled(node, "shift", channels, 0.0)


@register
class LayerNorm(_Norm):
    kind = "layernorm"
    doc = (
        "over the channels at every position of `[N, C, H, W]` (ConvNeXt's `LayerNorm2d`), over the features "
        "of `[N, F]`; scale and shift 2C parameters, no state"
    )
    onnx_ops = "`Transpose` → `LayerNormalization` → `Transpose`"
    onnx_doc = (
        "images: to `[N, H, W, C]` (`perm=[0, 2, 3, 1]`), normalised on `axis=-1`, back (`perm=[0, 3, 1, 2]`); "
        "`[N, F]`: one `LayerNormalization` on `axis=-1`; `epsilon`; scale and shift `[C]`"
    )
    flops_doc = "`7` per element `+ 4` per position (`+ 4` once for `[N, F]`)"

    def output_shape(self, shapes):
        if len(shapes[0]) not in (2, 4):
            raise ShapeError(f"`layernorm` needs [N, C, H, W] or [N, F], got {format_shape(shapes[0])}")
        return shapes[0]

    def sets(self, shape):
        return prod(shape[2:])  # one per position; 1 for [N, F]

    def onnx(self, emit, inputs, node) -> str:
        scale, shift = self.affine(emit, node)
        epsilon = self.attrs["epsilon"]
        if len(node.shape) == 2:
            return emit.op("LayerNormalization", [inputs[0], scale, shift], node, axis=-1, epsilon=epsilon)
        last = emit.op("Transpose", inputs, node, "to_nhwc", perm=[0, 2, 3, 1])
        normed = emit.op("LayerNormalization", [last, scale, shift], node, "norm", axis=-1, epsilon=epsilon)
        return emit.op("Transpose", [normed], node, perm=[0, 3, 1, 2])


@register
class GroupNorm(_Norm):
    kind = "groupnorm"
    doc = (
        "`nn.GroupNorm(groups, C)`: statistics over each group of C/groups channels and the whole plane; "
        "`groups` must divide C; 2C parameters"
    )
    onnx_ops = "`GroupNormalization`"
    onnx_doc = (
        "opset 21's form: `num_groups`, `epsilon`, scale and bias per channel `[C]` (opset 18 had them per group)"
    )
    flops_doc = "`7` per element `+ 4 * groups`"
    arguments = (Arg("groups", integer(), attr="num_groups"), EPS, *LEARNABLE_ARGS)

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        channels, groups = shapes[0][1], self.attrs["num_groups"]
        if channels % groups:
            raise ShapeError(
                f"`groupnorm`: {channels} channels are not divisible by groups={groups}",
                f"choose groups that divide {channels}",
            )
        return shapes[0]

    def sets(self, shape):
        return self.attrs["num_groups"]

    def label(self) -> str:
        return f"groupnorm /{self.attrs['num_groups']}"

    def onnx(self, emit, inputs, node) -> str:
        # GroupNormalization-21: scale and bias per channel, as nn.GroupNorm (opset 18 had them per group)
        scale, shift = self.affine(emit, node)
        attrs = {"num_groups": self.attrs["num_groups"], "epsilon": self.attrs["epsilon"]}
        return emit.op("GroupNormalization", [inputs[0], scale, shift], node, **attrs)


@register
class InstanceNorm(_Norm):
    kind = "instancenorm"
    doc = "`nn.InstanceNorm2d(C, affine=True)`: statistics over each channel's plane; 2C parameters"
    onnx_ops = "`InstanceNormalization`"
    onnx_doc = "`epsilon`; scale and bias `[C]`"
    flops_doc = "`7` per element `+ 4 * C`"

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        return shapes[0]

    def sets(self, shape):
        return shape[1]

    def onnx(self, emit, inputs, node) -> str:
        scale, shift = self.affine(emit, node)
        return emit.op("InstanceNormalization", [inputs[0], scale, shift], node, epsilon=self.attrs["epsilon"])


@register
class Scale(Layer):
    kind = "scale"
    family = "norm"
    learnable = True
    doc = "a learned multiplier per channel, all starting at `init` (ConvNeXt's layer scale); C parameters"
    onnx_ops = "`Mul`"
    onnx_doc = "by a `[1, C, 1, 1]` initializer (`[1, F]` for `[N, F]`) filled with `init`"
    params_doc = "`C` (one multiplier per channel)"
    flops_doc = "`1` per element"
    arguments = (
        Arg("init", number(), 1.0, doc="the start value of every multiplier"),
        Arg("trainable", boolean, None, doc="false freezes the layer"),
    )

    def output_shape(self, shapes):
        if len(shapes[0]) < 2:
            raise ShapeError(f"`scale` needs channels, got {format_shape(shapes[0])}")
        return shapes[0]

    def parameters(self, shapes, out):
        return shapes[0][1]

    def flops(self, shapes, out):
        return elements(out)

    def label(self) -> str:
        return f"scale {self.attrs['init']:g}"

    def onnx(self, emit, inputs, node) -> str:
        shape = node.shape
        gamma = emit.filled(node, "scale", (1, shape[1], *[1] * (len(shape) - 2)), self.attrs["init"])
        return emit.op("Mul", [inputs[0], gamma], node)


def _drop_rate(value):
    rate = number(0.0, 1.0)(value)
    if rate == 1.0:
        raise ArgError(f"must be below 1, got {describe(value)}", "p=1 would drop the whole branch in training")
    return rate


@register
class DropPath(Layer):
    kind = "droppath"
    family = "regularization"
    doc = "stochastic depth (`0 <= p < 1`); kept in the graph and the report, identity at inference"
    onnx_ops = "`Identity`"
    onnx_doc = "inactive at inference"
    arguments = (Arg("p", _drop_rate, attr="ratio"),)

    def label(self) -> str:
        return f"droppath {self.attrs['ratio']:g}"

    def onnx(self, emit, inputs, node) -> str:
        return emit.op("Identity", inputs, node)
