"""Shape pass: the output shape of each node, as the lowering creates it.

Shapes must be known while lowering (`in.channels` and the shortcut projection
need them), so this pass runs per node at creation rather than as a sweep.
"""

from __future__ import annotations

from ..errors import CnnError, Diagnostic, Label, Span
from ..layers import Layer, ShapeError

MAX_DIMENSION = 1 << 31


def infer(layer: Layer, shapes: list[tuple], span: Span, input_spans: list[Span] | None = None) -> tuple:
    """The output shape of `layer` on `shapes`; a located error if it does not fit."""
    try:
        out = layer.output_shape(shapes)
    except ShapeError as exc:
        raise located(exc, span, input_spans) from None
    for dim in out[1:]:
        if dim > MAX_DIMENSION:
            raise CnnError(Diagnostic("E0410", f"`{layer.kind}` output {list(out)} is too large", span))
    return out


def located(exc: ShapeError, span: Span, input_spans: list[Span] | None) -> CnnError:
    """Attach source spans to a layer's ShapeError: labels go under the inputs it names."""
    labelled = [(input_spans[i], text) for i, text in sorted(exc.inputs.items())] if input_spans else []
    if labelled:
        (primary, label), rest = labelled[0], labelled[1:]
        notes = [Label(s, t) for s, t in rest]
        return CnnError(Diagnostic("E0401", exc.message, primary, label=label, hint=exc.hint, notes=notes))
    return CnnError(Diagnostic("E0400", exc.message, span, hint=exc.hint))
