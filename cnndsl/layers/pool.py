"""Pooling: `maxpool`, `avgpool`, `lppool`, `gap`, `gmp`."""

from __future__ import annotations

from math import prod

from ..fields import window
from .args import Arg, boolean, integer, padding, pair
from .base import Layer, ShapeError, elements, register, require_image, size_text, spatial
from .window import output_sizes, same_pads


class _Pool(Layer):
    family = "pool"
    per_tap: int = 1  # FLOPs per window tap

    @property
    def strides(self) -> tuple:
        return self.attrs["strides"] or self.attrs["kernel_shape"]

    def pads_for(self, shape) -> tuple:
        pads = self.attrs.get("pads", (0, 0, 0, 0))
        if pads == "same":
            return same_pads(spatial(shape), self.attrs["kernel_shape"], self.strides, (1, 1))
        return pads

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        kernel, pads = self.attrs["kernel_shape"], self.pads_for(shapes[0])
        for i, axis in enumerate(("height", "width")):
            if max(pads[i], pads[i + 2]) > kernel[i] // 2:
                raise ShapeError(
                    f"`{self.kind}` padding {max(pads[i], pads[i + 2])} on the {axis} is more than half "
                    f"the kernel ({kernel[i]})",
                    "a window could then see only padding; PyTorch and ONNX runtimes reject it",
                )
        sizes = output_sizes(
            self.kind, spatial(shapes[0]), kernel, self.strides, pads, ceil=self.attrs.get("ceil", False)
        )
        return (*shapes[0][:2], *sizes)

    def flops(self, shapes, out):
        return elements(out) * self.per_tap * prod(self.attrs["kernel_shape"])

    def field(self, fields, shapes, out):
        if fields[0] is None:
            return None
        return window(fields[0], self.attrs["kernel_shape"], self.strides, self.pads_for(shapes[0])[:2])

    def label(self) -> str:
        text = f"{self.kind} {'x'.join(map(str, self.attrs['kernel_shape']))}"
        return text + (f" /{size_text(self.strides)}" if self.strides != (1, 1) else "")

    def onnx(self, emit, inputs, node) -> str:
        window = {
            "kernel_shape": self.attrs["kernel_shape"],
            "strides": self.strides,
            "pads": self.pads_for(emit.input_shapes(node)[0]),
        }
        return emit.op(self.onnx_op, inputs, node, **window, **self.onnx_options())

    def onnx_options(self) -> dict:
        return {"ceil_mode": int(self.attrs["ceil"])}


POOL_ARGS = (
    Arg("kernel", pair(), attr="kernel_shape"),
    Arg("stride", pair(), None, attr="strides", doc="defaults to the kernel size"),
    Arg("pad", padding, 0, attr="pads"),
    Arg("ceil", boolean, False),
)


@register
class MaxPool(_Pool):
    kind = "maxpool"
    doc = "max pooling; padding never wins the max"
    onnx_doc = "`ceil_mode`, explicit `pads`"
    flops_doc = "`kh * kw - 1` comparisons per output"
    arguments = POOL_ARGS
    onnx_op = "MaxPool"

    def flops(self, shapes, out):  # k-1 comparisons per output
        return elements(out) * (prod(self.attrs["kernel_shape"]) - 1)


@register
class AvgPool(_Pool):
    kind = "avgpool"
    doc = "average pooling"
    onnx_doc = "`ceil_mode`, `count_include_pad` from `include_pad`"
    flops_doc = "`kh * kw` per output (adds and the divide)"
    arguments = (*POOL_ARGS, Arg("include_pad", boolean, False))
    onnx_op = "AveragePool"

    def onnx_options(self) -> dict:
        return {**super().onnx_options(), "count_include_pad": int(self.attrs["include_pad"])}


@register
class LpPool(_Pool):
    kind = "lppool"
    doc = "Lp-norm pooling (p=2: L2)"
    onnx_doc = "`p`"
    flops_doc = "`2 * kh * kw` per output"
    per_tap = 2
    arguments = (
        Arg("kernel", pair(), attr="kernel_shape"),
        Arg("stride", pair(), None, attr="strides"),
        Arg("p", integer(1), 2),
    )
    onnx_op = "LpPool"

    def onnx_options(self) -> dict:
        return {"p": self.attrs["p"]}


class _GlobalPool(Layer):
    family = "pool"

    def output_shape(self, shapes):
        require_image(shapes[0], self.kind)
        return (*shapes[0][:2], 1, 1)

    def flops(self, shapes, out):
        return elements(shapes[0])

    def field(self, fields, shapes, out):
        if fields[0] is None:
            return None
        return window(fields[0], spatial(shapes[0]), spatial(shapes[0]), (0, 0))


@register
class GlobalAvgPool(_GlobalPool):
    kind = "gap"
    doc = "global average pooling to [N, C, 1, 1]"
    flops_doc = "input elements (adds and one divide per channel)"
    onnx_op = "GlobalAveragePool"


@register
class GlobalMaxPool(_GlobalPool):
    kind = "gmp"
    doc = "global max pooling to [N, C, 1, 1]"
    flops_doc = "input elements − output elements"
    onnx_op = "GlobalMaxPool"

    def flops(self, shapes, out):
        return elements(shapes[0]) - elements(out)
