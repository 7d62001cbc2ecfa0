"""Recognise cnndsl layers in ONNX nodes: one function per operator type.

Each function turns one node (sometimes with the node before it: a `Pad`
before a `Conv`, a `MatMul` before an `Add`, a `Sigmoid` under a `Mul`) into
an :class:`Op`: a layer kind with its full argument list and its weights.
`Constant`, `Identity` and one-input `Concat` only name values; anything else
is an error naming the node and its operator type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .onnx_graph import Model, OnnxNode

ACTIVATIONS = {
    "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Selu": "selu", "Gelu": "gelu", "HardSwish": "hardswish",
    "Softplus": "softplus", "Mish": "mish",
}  # fmt: skip
MERGES = {"Add": "add", "Sum": "add", "Concat": "concat", "Mul": "mul", "Max": "maximum"}
HANDLERS: dict = {}
"""ONNX operator type -> its handler (onnx_ops.py, onnx_layout.py): ``handler(recogniser, node)``."""
LOOSE = 1e-6  # relative tolerance for float attributes stored as float32


@dataclass
class Op:
    """One layer of the imported program."""

    kind: str
    args: dict  # every argument, positional ones first: name -> int, float, bool, str or list
    inputs: list[str]  # ids of the ops that make the inputs
    name: str = ""  # the ONNX node name (unique): the op's id
    positional: int = 0  # how many of `args` are written without their name
    weights: dict = field(default_factory=dict)  # ONNX role in cnndsl (`weight`, `scale`, ...) -> array
    refs: dict = field(default_factory=dict)  # tensor argument (`like`) -> the id of the op it names


class Recogniser:
    """Walks the nodes in order, keeping which op makes each tensor."""

    def __init__(self, model: Model):
        self.model = model
        self.ops: dict[str, Op] = {}
        self.maker: dict[str, str] = {}  # tensor -> op id
        self.uses: dict[str, int] = {}
        self.symbols: dict[str, tuple] = {}  # tensor -> a size read from a shape (`x.view(x.size(0), -1)`)
        self.concats: dict[tuple, str] = {}  # inputs of a Concat -> its op (DenseNet's growing concatenations)
        for node in model.nodes:
            for i in node.inputs:
                self.uses[i] = self.uses.get(i, 0) + 1
        for o in model.outputs:
            self.uses[o] = self.uses.get(o, 0) + 1

    def add(self, op: Op, node: OnnxNode) -> None:
        name, k = op.name or node.name, 1
        while name in self.ops:
            k += 1
            name = f"{op.name or node.name}#{k}"
        op.name = name
        if node.name in self.model.frozen and op.weights:
            op.args["trainable"] = False
        self.ops[name] = op
        self.maker[node.outputs[0]] = name

    def value(self, node: OnnxNode, index: int = 0) -> str:
        tensor = node.inputs[index]
        if tensor in self.symbols:
            raise self.model.fail("E1206", node, f"its input `{tensor}` is a shape or layout, not a layer's value")
        if tensor not in self.maker:
            raise self.model.fail("E1206", node, f"its input `{tensor}` is a constant, not a computed value")
        return self.maker[tensor]

    def constant(self, node: OnnxNode, index: int, what: str) -> np.ndarray:
        tensor = node.inputs[index] if index < len(node.inputs) else ""
        if tensor not in self.model.constants:
            raise self.model.fail("E1208", node, f"its {what} `{tensor}` is not a constant (an initializer)")
        return self.model.constants[tensor]

    def optional(self, node: OnnxNode, index: int):
        tensor = node.inputs[index] if index < len(node.inputs) else ""
        return self.model.constants.get(tensor) if tensor else None

    def alias(self, node: OnnxNode, source: str) -> None:
        if source in self.model.constants:
            self.model.constants[node.outputs[0]] = self.model.constants[source]
        elif source in self.maker:
            self.maker[node.outputs[0]] = self.maker[source]

    def op_of(self, node: OnnxNode, index: int) -> Op | None:
        tensor = node.inputs[index] if index < len(node.inputs) else ""
        return self.ops.get(self.maker.get(tensor, ""))

    def only_user(self, node: OnnxNode, index: int) -> bool:
        return self.uses.get(node.inputs[index], 0) == 1 and node.inputs[index] not in self.model.outputs

    def drop(self, op: Op) -> None:
        del self.ops[op.name]


def same(a: float, b: float) -> bool:
    return math.isclose(float(a), float(b), rel_tol=LOOSE, abs_tol=1e-12)


def pair(values) -> int | list:
    """[a, a] -> a; anything else as a list of ints."""
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def pads(values) -> int | list:
    """ONNX [top, left, bottom, right] -> cnndsl `pad`: an int, [h, w] or the four."""
    top, left, bottom, right = (int(v) for v in values)
    if top == bottom and left == right:
        return pair([top, left])
    return [top, left, bottom, right]


def handles(*ops):
    """Register the decorated function as the handler of the ONNX operator types `ops`."""

    def register(function):
        for op in ops:
            HANDLERS[op] = function
        return function

    return register


def cannot(r: Recogniser, node: OnnxNode, what: str, hint: str = ""):
    return r.model.fail("E1206", node, f"cnndsl cannot express {what}", hint=hint)
