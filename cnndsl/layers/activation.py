"""Activations: element-wise non-linearities and (log-)softmax.

FLOPs per element follow docs/cost-model.md: a comparison, an add, a multiply,
a divide and a transcendental function each count as one.
"""

from __future__ import annotations

from .args import Arg, integer, number
from .base import Elementwise, ShapeError, register
from .conv import LEARNABLE_ARGS


def _simple(name: str, cost: int, doc: str, arguments=()):
    cls = type(name.capitalize(), (Elementwise,), {"kind": name, "cost": cost, "doc": doc, "arguments": arguments})
    return register(cls)


_simple("relu", 1, "max(x, 0)")
_simple("relu6", 2, "min(max(x, 0), 6)")
_simple("leakyrelu", 2, "x if x > 0 else alpha * x", (Arg("alpha", number(), 0.01),))
_simple("elu", 3, "x if x > 0 else alpha * (exp(x) - 1)", (Arg("alpha", number(), 1.0),))
_simple("selu", 4, "scale * elu(x, alpha) with the self-normalizing constants")
_simple("gelu", 8, "x * Phi(x), exact (erf) form")
_simple("silu", 4, "x * sigmoid(x) (swish)")
_simple("sigmoid", 3, "1 / (1 + exp(-x))")
_simple("tanh", 1, "hyperbolic tangent")
_simple("hardswish", 4, "x * relu6(x + 3) / 6")


@register
class PRelu(Elementwise):
    kind = "prelu"
    cost = 2
    learnable = True
    doc = "leaky ReLU with a learned slope per channel (He et al. 2015)"
    arguments = LEARNABLE_ARGS

    @property
    def trainable(self) -> bool:
        return self.attrs.get("trainable") is not False

    def parameters(self, shapes, out):
        return shapes[0][1]


class _Softmax(Elementwise):
    cost = 3  # exp, sum, divide
    arguments = (Arg("axis", integer(None), 1),)

    def output_shape(self, shapes):
        rank, axis = len(shapes[0]), self.attrs["axis"]
        if not -rank <= axis < rank:
            raise ShapeError(f"`{self.kind}` axis {axis} is out of range for a {rank}-d tensor {list(shapes[0])}")
        return shapes[0]


@register
class Softmax(_Softmax):
    kind = "softmax"
    doc = "softmax along `axis` (channels by default)"


@register
class LogSoftmax(_Softmax):
    kind = "logsoftmax"
    doc = "log of softmax along `axis`"
