"""Normalisation and regularisation: `bn`, `lrn`, `dropout`."""

from __future__ import annotations

from .args import LEARNABLE_ARGS, Arg, ArgError, integer, number
from .base import Layer, ShapeError, elements, register


@register
class BatchNorm(Layer):
    kind = "bn"
    family = "norm"
    learnable = True
    doc = "batch normalization, inference form: scale and shift learnable, running mean and variance are state"
    onnx_ops = "`BatchNormalization`"
    onnx_doc = "inference form; `epsilon`; scale, shift, mean, var `[C]`"
    params_doc = "`2 * C` (scale, shift)"
    state_doc = "`2 * C` (running mean, variance)"
    flops_doc = "`2` per element (folded to one multiply and one add)"
    arguments = (Arg("eps", number(0.0, open_min=True), 1e-5, attr="epsilon"), *LEARNABLE_ARGS)

    def output_shape(self, shapes):
        if len(shapes[0]) < 2:
            raise ShapeError(f"`bn` needs channels, got {shapes[0]}")
        return shapes[0]

    def parameters(self, shapes, out):
        return 2 * shapes[0][1]

    def state(self, shapes, out):
        return 2 * shapes[0][1]

    def flops(self, shapes, out):  # folded to one multiply and one add per element
        return 2 * elements(out)

    def onnx(self, emit, inputs, node) -> str:
        channels = (emit.input_shapes(node)[0][1],)
        scale = emit.weight(node, "scale", channels, default=("ones",))
        shift = emit.filled(node, "shift", channels, 0.0)
        mean = emit.filled(node, "mean", channels, 0.0)
        var = emit.filled(node, "var", channels, 1.0)
        return emit.op("BatchNormalization", [inputs[0], scale, shift, mean, var], node, epsilon=self.attrs["epsilon"])


def _odd(value):
    size = integer(1)(value)
    if size % 2 == 0:
        raise ArgError(
            f"must be odd, got {size}",
            f"ONNX's LRN (and onnxruntime) take a window centred on each channel; use {size - 1} or {size + 1}",
        )
    return size


@register
class LocalResponseNorm(Layer):
    kind = "lrn"
    family = "norm"
    doc = "local response normalization across channels (AlexNet); `size` must be odd (onnxruntime's rule)"
    onnx_doc = "`size` (odd), `alpha`, `beta`, `bias` (= `k`); ONNX divides `alpha` by `size`, as PyTorch and Caffe do"
    flops_doc = "`2 * size + 3` per element"
    onnx_op = "LRN"
    onnx_attrs = ("size", "alpha", "beta", "bias")
    arguments = (
        Arg("size", _odd, 5),
        Arg("alpha", number(), 1e-4),
        Arg("beta", number(), 0.75),
        Arg("k", number(), 2.0, attr="bias"),
    )

    def output_shape(self, shapes):
        if len(shapes[0]) != 4:
            raise ShapeError(f"`lrn` needs an image [N, C, H, W], got {list(shapes[0])}")
        return shapes[0]

    def flops(self, shapes, out):  # square and sum `size` neighbours, then scale, power and divide
        return elements(out) * (2 * self.attrs["size"] + 3)


@register
class Dropout(Layer):
    kind = "dropout"
    family = "regularization"
    doc = "dropout; kept in the graph, inactive at inference"
    onnx_ops = "`Dropout`"
    onnx_doc = "`ratio` as a constant input; inactive at inference"
    arguments = (Arg("p", number(0.0, 1.0), 0.5, attr="ratio"),)

    def label(self) -> str:
        return f"dropout {self.attrs['ratio']:g}"

    def onnx(self, emit, inputs, node) -> str:
        ratio = emit.constant(node, "ratio", self.attrs["ratio"], "float32")
        return emit.op("Dropout", [inputs[0], ratio], node)
