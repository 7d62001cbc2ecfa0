"""Fully connected layers and flattening: `dense`, `flatten`."""

from __future__ import annotations

from .args import LEARNABLE_ARGS, Arg, boolean, integer
from .base import Layer, register, require_flat


@register
class Dense(Layer):
    kind = "dense"
    family = "dense"
    learnable = True
    doc = "fully connected layer; the input must be flat"
    onnx_ops = "`Gemm`"
    onnx_doc = "`transB=1`, weight `[out, in]` (PyTorch's `Linear` layout), bias `[out]`"
    params_doc = "`in * out` (+ `out` with bias)"
    flops_doc = "`2 * MACs` with bias; `2 * MACs - outputs` without (the first add of each output is the bias)"
    arguments = (Arg("out", integer()), Arg("bias", boolean, True), *LEARNABLE_ARGS)

    def output_shape(self, shapes):
        require_flat(shapes[0], self.kind)
        return ("N", self.attrs["out"])

    def parameters(self, shapes, out):
        return shapes[0][1] * out[1] + (out[1] if self.attrs["bias"] else 0)

    def macs(self, shapes, out):
        return shapes[0][1] * out[1]

    def flops(self, shapes, out):
        return 2 * self.macs(shapes, out) - (0 if self.attrs["bias"] else out[1])

    def field(self, fields, shapes, out):
        return None

    def label(self) -> str:
        return f"dense {self.attrs['out']}"

    def onnx(self, emit, inputs, node) -> str:
        features = emit.input_shapes(node)[0][1]
        args = [inputs[0], emit.weight(node, "weight", (self.attrs["out"], features))]
        if self.attrs["bias"]:
            args.append(emit.filled(node, "bias", (self.attrs["out"],), 0.0))
        return emit.op("Gemm", args, node, transB=1)


@register
class Flatten(Layer):
    kind = "flatten"
    family = "shape"
    doc = "[N, C, H, W] to [N, C*H*W]"
    onnx_doc = "`axis=1`"
    onnx_op = "Flatten"  # not a Shape/Gather/Reshape chain: the batch dimension stays symbolic

    def output_shape(self, shapes):
        size = 1
        for d in shapes[0][1:]:
            size *= d
        return ("N", size)

    def field(self, fields, shapes, out):
        return None
