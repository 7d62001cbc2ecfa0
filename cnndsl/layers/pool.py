"""Pooling: `maxpool`, `avgpool`, `lppool`, `gap`, `gmp`."""

from __future__ import annotations

from math import prod

from ..fields import pooled, window
from .args import Arg, boolean, integer, padding, pair
from .base import Layer, ShapeError, elements, register, require_image, size_text, spatial
from .window import ceil_for_opset21, output_sizes, same_pads


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
        shape = emit.input_shapes(node)[0]
        pads, ceil = self.pads_for(shape), self.attrs.get("ceil", False)
        if ceil:  # an opset-21 model must not rely on MaxPool-22's rule for the last window
            pads, ceil = ceil_for_opset21(spatial(shape), self.attrs["kernel_shape"], self.strides, pads)
        window = {"kernel_shape": self.attrs["kernel_shape"], "strides": self.strides, "pads": pads}
        return emit.op(self.onnx_op, inputs, node, **window, **self.onnx_options(ceil))

    def onnx_options(self, ceil: bool) -> dict:
        return {"ceil_mode": int(ceil)}


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
    onnx_doc = "`ceil_mode`, explicit `pads`; see *`ceil` pooling at opset 21* below"
    flops_doc = "`kh * kw - 1` comparisons per output"
    arguments = POOL_ARGS
    onnx_op = "MaxPool"

    def flops(self, shapes, out):  # k-1 comparisons per output
        return elements(out) * (prod(self.attrs["kernel_shape"]) - 1)


@register
class AvgPool(_Pool):
    kind = "avgpool"
    doc = "average pooling"
    onnx_doc = (
        "`ceil_mode`, `count_include_pad` from `include_pad`; see *`ceil` pooling at opset 21* below "
        "(a `Pad` first where it needs one)"
    )
    flops_doc = "`kh * kw` per output (adds and the divide)"
    arguments = (*POOL_ARGS, Arg("include_pad", boolean, False))
    onnx_op = "AveragePool"

    def onnx(self, emit, inputs, node) -> str:
        shape = emit.input_shapes(node)[0]
        pads = self.pads_for(shape)
        if self.attrs["include_pad"] and self.attrs["ceil"]:
            trimmed, _ = ceil_for_opset21(spatial(shape), self.attrs["kernel_shape"], self.strides, pads)
            if any(t > p for t, p in zip(trimmed[2:], pads[2:])):
                return self._padded_onnx(emit, inputs, node, shape, pads)
        return super().onnx(emit, inputs, node)

    def _padded_onnx(self, emit, inputs, node, shape, pads) -> str:
        """The padding as zeros of a `Pad`, then a pool that counts only what it sees.

        Needed where opset 21 can state the windows only with more end padding than
        the source's, which `count_include_pad` would count too (PyTorch does not).
        """
        top, left, bottom, right = pads
        if any(pads):
            zeros = emit.constant(node, "pads", [0, 0, top, left, 0, 0, bottom, right])
            inputs = [emit.op("Pad", [inputs[0], zeros], node, "pad")]
        sizes = (shape[2] + top + bottom, shape[3] + left + right)
        pads, ceil = ceil_for_opset21(sizes, self.attrs["kernel_shape"], self.strides, (0,) * 4, spatial(node.shape))
        window = {"kernel_shape": self.attrs["kernel_shape"], "strides": self.strides, "pads": pads}
        return emit.op(self.onnx_op, inputs, node, **window, ceil_mode=int(ceil), count_include_pad=0)

    def onnx_options(self, ceil: bool) -> dict:
        return {**super().onnx_options(ceil), "count_include_pad": int(self.attrs["include_pad"])}


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

    def onnx_options(self, ceil: bool) -> dict:
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
        return pooled(fields[0], spatial(shapes[0]))


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
