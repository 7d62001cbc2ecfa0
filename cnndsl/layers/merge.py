"""Merges of branches: `concat`, `add`, `mul`, `maximum` (each a node with two or more inputs)."""

from __future__ import annotations

from ..fields import union
from .base import Layer, ShapeError, elements, format_shape, register


class Merge(Layer):
    """The base of a merge kind: `kind { branch; branch }`, two or more inputs."""

    family = "merge"
    arity = None

    def field(self, fields, shapes, out):
        return union(fields, [s[2:] != out[2:] for s in shapes])

    def flops(self, shapes, out):
        return (len(shapes) - 1) * elements(out)


def _disagree(kind: str, shapes, i: int, what: str, hint: str = ""):
    return ShapeError(
        f"`{kind}` branches disagree{what}: {format_shape(shapes[0])} vs {format_shape(shapes[i])}",
        hint,
        {0: f"this branch gives {format_shape(shapes[0])}", i: f"this one gives {format_shape(shapes[i])}"},
    )


@register
class Concat(Merge):
    kind = "concat"
    doc = "joins branches along the channels"
    onnx_ops = "`Concat`"
    onnx_doc = "`axis=1`"

    def onnx(self, emit, inputs, node) -> str:
        return emit.op("Concat", inputs, node, axis=1)

    def output_shape(self, shapes):
        first = shapes[0]
        for i, shape in enumerate(shapes[1:], 1):
            if len(shape) != len(first) or shape[2:] != first[2:]:
                raise _disagree(
                    "concat",
                    shapes,
                    i,
                    " on spatial size" if len(shape) == len(first) else " on rank",
                    "concatenated branches must have the same height and width",
                )
        return (first[0], sum(s[1] for s in shapes), *first[2:])

    def flops(self, shapes, out):
        return 0


@register
class Add(Merge):
    kind = "add"
    glyph = "+"
    doc = "element-wise sum; shapes must match exactly"
    onnx_ops = "`Add` (two branches) or `Sum`"
    onnx_doc = (
        "also `residual`; `residual(shortcut=project)` adds `Conv` 1x1 + `BatchNormalization` nodes named "
        "`…/shortcut_conv1`, `…/shortcut_bn1`"
    )
    flops_doc = "`(branches - 1)` per output element"

    def onnx(self, emit, inputs, node) -> str:
        return emit.op("Add" if len(inputs) == 2 else "Sum", inputs, node)

    def output_shape(self, shapes):
        for i, shape in enumerate(shapes[1:], 1):
            if shape != shapes[0]:
                raise _disagree("add", shapes, i, "", "use residual(shortcut=project) to add a 1x1 projection")
        return shapes[0]


@register
class Mul(Merge):
    kind = "mul"
    glyph = "x"
    doc = "element-wise product, broadcasting size-1 dimensions (squeeze-and-excitation)"
    onnx_ops = "`Mul`"
    onnx_doc = "numpy broadcasting (`[N, C, 1, 1]` gates)"
    flops_doc = "`(branches - 1)` per output element"

    def onnx(self, emit, inputs, node) -> str:
        product = inputs[0]
        for i, other in enumerate(inputs[1:], 1):
            product = emit.op("Mul", [product, other], node, "" if i == len(inputs) - 1 else f"mul{i}")
        return product

    def output_shape(self, shapes):
        out = list(shapes[0])
        for i, shape in enumerate(shapes[1:], 1):
            if len(shape) != len(out):
                raise _disagree("mul", shapes, i, " on rank")
            for axis, (a, b) in enumerate(zip(out, shape)):
                if a != b and 1 not in (a, b):
                    raise _disagree("mul", shapes, i, "", "dimensions must match or be 1 to broadcast")
                out[axis] = b if a == 1 else a
        return tuple(out)


@register
class Maximum(Merge):
    kind = "maximum"
    glyph = "^"
    doc = "element-wise maximum; shapes must match exactly (Caffe's `Eltwise` MAX, maxout)"
    onnx_ops = "`Max`"
    flops_doc = "`(branches - 1)` comparisons per output element"

    def onnx(self, emit, inputs, node) -> str:
        return emit.op("Max", inputs, node)

    def output_shape(self, shapes):
        for i, shape in enumerate(shapes[1:], 1):
            if shape != shapes[0]:
                raise _disagree("maximum", shapes, i, "", "the branches must give the same shape")
        return shapes[0]
