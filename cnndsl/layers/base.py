"""The layer interface: what every pass and backend asks of a layer kind.

A layer kind is one class, registered by its source name. Passes call these
methods and never ask which kind a layer is. Shapes are tuples that start with
the symbolic batch dimension ``"N"``: ``("N", C, H, W)`` or ``("N", F)``.
"""

from __future__ import annotations

from math import prod
from typing import ClassVar

from ..fields import Field
from .args import Arg

LAYERS: dict[str, type[Layer]] = {}

FLOAT_BYTES = 4


def register(cls):
    """Class decorator: make a layer kind callable from source by its `kind` name."""
    LAYERS[cls.kind] = cls
    return cls


class ShapeError(Exception):
    """A layer cannot accept its input shapes.

    `inputs` maps an input index to a short label shown under that input's
    source (e.g. "this branch gives [N, 64, 56, 56]").
    """

    def __init__(self, message: str, hint: str = "", inputs: dict[int, str] | None = None):
        super().__init__(message)
        self.message, self.hint, self.inputs = message, hint, inputs or {}


class Layer:
    kind: ClassVar[str] = ""
    family: ClassVar[str] = "other"  # colour group in diagrams
    arguments: ClassVar[tuple[Arg, ...]] = ()
    arity: ClassVar[int | None] = 1  # None: two or more inputs (merges)
    # Keyword arguments that name a tensor (`upsample(like=skip)`): the lowering resolves each to
    # a TensorRef in attrs and passes its node as an extra input, after the current value.
    tensor_args: ClassVar[tuple[str, ...]] = ()
    learnable: ClassVar[bool] = False
    doc: ClassVar[str] = ""

    def __init__(self, attrs: dict):
        self.attrs = attrs

    def __repr__(self) -> str:
        return f"{self.kind}({self.attrs})"

    @property
    def trainable(self) -> bool:
        return self.attrs.get("trainable", True)

    # -- facts asked by the passes ---------------------------------------------------
    def output_shape(self, shapes: list[tuple]) -> tuple:
        return shapes[0]

    def parameters(self, shapes: list[tuple], out: tuple) -> int:
        return 0

    def state(self, shapes: list[tuple], out: tuple) -> int:
        return 0

    def macs(self, shapes: list[tuple], out: tuple) -> int:
        return 0

    def flops(self, shapes: list[tuple], out: tuple) -> int:
        return 0

    def field(self, fields: list[Field | None], shapes: list[tuple], out: tuple) -> Field | None:
        return fields[0]

    def label(self) -> str:
        """A short description for tables and diagrams: `conv 3x3 /2, 128`."""
        return self.kind

    # -- ONNX emission (backends/onnx.py) -------------------------------------------------
    onnx_op: ClassVar[str] = ""
    onnx_attrs: ClassVar[tuple[str, ...]] = ()  # attributes passed through under their own names

    def onnx(self, emit, inputs: list[str], node) -> str:
        """Emit this layer's ONNX operators through `emit`; return the output tensor's name.

        The default is one operator, `onnx_op`, with the attributes named in `onnx_attrs`.
        """
        return emit.op(self.onnx_op, inputs, node, **{key: self.attrs[key] for key in self.onnx_attrs})


class Elementwise(Layer):
    """A layer that maps each element on its own; `cost` FLOPs per element."""

    family = "activation"
    cost: ClassVar[int] = 1

    def flops(self, shapes, out):
        return self.cost * elements(out)


def elements(shape: tuple) -> int:
    """Elements of one sample (the batch dimension excluded)."""
    return prod(shape[1:])


def spatial(shape: tuple) -> tuple:
    return shape[2:]


def require_image(shape: tuple, kind: str) -> None:
    if len(shape) != 4:
        hint = "this layer works on images [C, H, W]"
        raise ShapeError(f"`{kind}` needs an image [N, C, H, W], got {format_shape(shape)}", hint)


def require_flat(shape: tuple, kind: str) -> None:
    if len(shape) != 2:
        raise ShapeError(
            f"`{kind}` needs a flat input [N, F], got {format_shape(shape)}",
            "insert `flatten` (or `gap -> flatten`) before it",
        )


def format_shape(shape: tuple) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def size_text(pair: tuple) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"
