"""The layer interface: what every pass and backend asks of a layer kind.

A layer kind is one class, registered by its source name. Passes call these
methods and never ask which kind a layer is. Shapes are tuples that start with
the symbolic batch dimension ``"N"``: ``("N", C, H, W)`` or ``("N", F)``.
"""

from __future__ import annotations

from math import prod
from typing import ClassVar

from ..fields import Field
from .args import LEARNABLE_ARGS, REQUIRED, Arg

LAYERS: dict[str, type[Layer]] = {}

FLOAT_BYTES = 4


FAMILIES = {  # family: (fill colour in diagrams, legend text)
    "io": ("#37474f", "input / output"),
    "conv": ("#a6cee3", "convolution"),
    "pool": ("#fdbf6f", "pooling"),
    "norm": ("#b2df8a", "normalization"),
    "activation": ("#fbb4ae", "activation"),
    "merge": ("#ffe66d", "merge"),
    "dense": ("#cab2d6", "dense"),
    "shape": ("#e0e0e0", "reshape"),
    "resample": ("#8dd3c7", "resampling"),
    "regularization": ("#fccde5", "regularization"),
    "other": ("#ffffff", "other"),
}


def register(cls):
    """Class decorator: make a layer kind callable from source by its `kind` name.

    A learnable kind that does not list `init=` and `trainable=` gets them
    appended, so that no learnable layer can miss the freezing switch.
    """
    if cls.learnable and not any(a.name == "trainable" for a in cls.arguments):
        cls.arguments = (*cls.arguments, *(a for a in LEARNABLE_ARGS if a.name not in {b.name for b in cls.arguments}))
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
    """One layer kind. Every fact about a kind lives on its class (docs/architecture.md)."""

    kind: ClassVar[str] = ""
    family: ClassVar[str] = "other"  # colour group in diagrams: a key of FAMILIES
    arguments: ClassVar[tuple[Arg, ...]] = ()
    arity: ClassVar[int | None] = 1  # None: a merge, `kind { branch; branch }`, two or more inputs
    # Keyword arguments that name a tensor (`upsample(like=skip)`): the lowering resolves each to
    # a TensorRef in attrs and passes its node as an extra input, after the current value.
    tensor_args: ClassVar[tuple[str, ...]] = ()
    learnable: ClassVar[bool] = False  # has parameters; `init=` and `trainable=` are added by `register`
    glyph: ClassVar[str] = ""  # a merge drawn as a small circle holding this sign (ASCII)
    # -- documentation, generated into docs/ by docs/generate.py ------------------------
    doc: ClassVar[str] = ""  # notes in the language reference's layer table
    onnx_doc: ClassVar[str] = ""  # notes in the ONNX operator table
    onnx_ops: ClassVar[str] = ""  # the ONNX operators, when not just `onnx_op`
    params_doc: ClassVar[str] = ""  # the learnable-parameter formula (cost model)
    state_doc: ClassVar[str] = ""  # the state formula (cost model)
    flops_doc: ClassVar[str] = ""  # the FLOPs formula (cost model); "" is 0

    def __init__(self, attrs: dict):
        self.attrs = attrs

    def __repr__(self) -> str:
        return f"{self.kind}({self.attrs})"

    @classmethod
    def is_merge(cls) -> bool:
        return cls.arity is None

    @classmethod
    def defaults(cls) -> dict:
        """Attribute values of the arguments that have a default (converted once per kind)."""
        if "_defaults" not in cls.__dict__:
            cls._defaults = {
                a.key: None if a.default is None else a.convert(a.default)
                for a in cls.arguments
                if a.default is not REQUIRED
            }
        return cls._defaults

    @classmethod
    def create(cls, **values) -> Layer:
        """A layer from source-named argument values, converted as a call's would be.

        >>> LAYERS["conv"].create(out=8, kernel=1, bias=False).attrs["kernel_shape"]
        (1, 1)
        """
        spec = {a.name: a for a in cls.arguments}
        attrs = dict(cls.defaults())
        for name, value in values.items():
            attrs[spec[name].key] = spec[name].convert(value)
        return cls(attrs)

    @property
    def trainable(self) -> bool:
        """Whether the parameters learn: `trainable=` when given, else :meth:`trainable_by_default`."""
        chosen = self.attrs.get("trainable")
        return chosen if chosen is not None else self.trainable_by_default()

    def trainable_by_default(self) -> bool:
        return True

    @classmethod
    def onnx_text(cls) -> str:
        """The ONNX operators this kind emits, for the docs."""
        return cls.onnx_ops or (f"`{cls.onnx_op}`" if cls.onnx_op else "")

    @classmethod
    def flops_text(cls) -> str:
        """The FLOPs formula, for the docs."""
        return cls.flops_doc or "0"

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

    @classmethod
    def flops_text(cls) -> str:
        return cls.flops_doc or f"{cls.cost} per element"


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
