"""Activations: element-wise non-linearities and (log-)softmax.

FLOPs per element follow docs/cost-model.md: a comparison, an add, a multiply,
a divide and a transcendental function each count as one.
"""

from __future__ import annotations

from .args import LEARNABLE_ARGS, Arg, integer, number
from .base import Elementwise, ShapeError, register


def _simple(name: str, cost: int, doc: str, arguments=(), onnx="", **docs):
    """An activation class; `onnx` is its ONNX operator or an emission function; `docs` its other doc attributes."""
    namespace = {"kind": name, "cost": cost, "doc": doc, "arguments": arguments, **docs}
    namespace["onnx_attrs"] = tuple(a.key for a in arguments)
    namespace.update({"onnx_op": onnx} if isinstance(onnx, str) else {"onnx": onnx})
    return register(type(name.capitalize(), (Elementwise,), namespace))


def _relu6_onnx(self, emit, inputs, node) -> str:
    low, high = (emit.constant(node, name, value, "float32") for name, value in (("min", 0.0), ("max", 6.0)))
    return emit.op("Clip", [inputs[0], low, high], node)


def _silu_onnx(self, emit, inputs, node) -> str:
    gate = emit.op("Sigmoid", inputs, node, "sigmoid")
    return emit.op("Mul", [inputs[0], gate], node)


def _hardsigmoid_onnx(self, emit, inputs, node) -> str:
    # ONNX's default slope is 0.2 (Keras); PyTorch's nn.Hardsigmoid is relu6(x + 3) / 6
    return emit.op("HardSigmoid", inputs, node, alpha=1 / 6, beta=0.5)


_simple("relu", 1, "max(x, 0)", onnx="Relu")
_simple("relu6", 2, "min(max(x, 0), 6)", onnx=_relu6_onnx, onnx_ops="`Clip`", onnx_doc="bounds 0 and 6")
_simple(
    "leakyrelu", 2, "x if x > 0 else alpha * x", (Arg("alpha", number(), 0.01),), onnx="LeakyRelu", onnx_doc="`alpha`"
)
_simple(
    "elu", 3, "x if x > 0 else alpha * (exp(x) - 1)", (Arg("alpha", number(), 1.0),), onnx="Elu", onnx_doc="`alpha`"
)
_simple("selu", 4, "scale * elu(x, alpha) with the self-normalizing constants", onnx="Selu")
_simple("gelu", 8, "x * Phi(x), exact (erf) form", onnx="Gelu", onnx_doc="exact (erf) form")
_simple(
    "silu",
    4,
    "x * sigmoid(x) (swish)",
    onnx=_silu_onnx,
    onnx_ops="`Sigmoid` → `Mul`",
    onnx_doc="`Swish` exists only from opset 24",
)
_simple("sigmoid", 3, "1 / (1 + exp(-x))", onnx="Sigmoid")
_simple("tanh", 1, "hyperbolic tangent", onnx="Tanh")
_simple("hardswish", 4, "x * relu6(x + 3) / 6", onnx="HardSwish")
_simple(
    "hardsigmoid",
    3,
    "relu6(x + 3) / 6 (PyTorch's `nn.Hardsigmoid`)",
    onnx=_hardsigmoid_onnx,
    onnx_ops="`HardSigmoid`",
    onnx_doc="`alpha=1/6`, `beta=0.5` (PyTorch's; ONNX's default slope is 0.2)",
)
_simple("softplus", 3, "log(1 + exp(x))", onnx="Softplus")
_simple("mish", 5, "x * tanh(softplus(x))", onnx="Mish")


@register
class PRelu(Elementwise):
    kind = "prelu"
    cost = 2
    learnable = True
    doc = "leaky ReLU with a learned slope per channel (He et al. 2015)"
    onnx_ops = "`PRelu`"
    onnx_doc = "one slope per channel, `[C, 1, 1]` (images) or `[C]`"
    params_doc = "`C` (one slope per channel)"
    arguments = LEARNABLE_ARGS

    def parameters(self, shapes, out):
        return shapes[0][1]

    def onnx(self, emit, inputs, node) -> str:
        # one slope per channel, broadcast over height and width (PyTorch's default start: 0.25)
        shape = emit.input_shapes(node)[0]
        slope = emit.weight(node, "slope", (shape[1], *[1] * (len(shape) - 2)), default=("constant", 0.25))
        return emit.op("PRelu", [inputs[0], slope], node)


class _Softmax(Elementwise):
    cost = 3  # exp, sum, divide
    arguments = (Arg("axis", integer(None), 1),)
    onnx_attrs = ("axis",)

    def output_shape(self, shapes):
        rank, axis = len(shapes[0]), self.attrs["axis"]
        if not -rank <= axis < rank:
            raise ShapeError(f"`{self.kind}` axis {axis} is out of range for a {rank}-d tensor {list(shapes[0])}")
        return shapes[0]


@register
class Softmax(_Softmax):
    kind = "softmax"
    doc = "softmax along `axis` (channels by default)"
    onnx_doc = "`axis`"
    onnx_op = "Softmax"


@register
class LogSoftmax(_Softmax):
    kind = "logsoftmax"
    doc = "log of softmax along `axis`"
    onnx_doc = "`axis`"
    onnx_op = "LogSoftmax"
