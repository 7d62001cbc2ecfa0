"""Receptive-field pass: size, effective stride and padding on each spatial axis.

One sweep in topological order: each node combines the fields of its inputs
(a merge takes their union), so branches are covered without enumerating paths.
"""

from __future__ import annotations

from ..errors import Diagnostic
from ..graph import Graph


def receptive_field(graph: Graph) -> None:
    for node in graph.nodes():
        inputs = [graph[i] for i in node.inputs]
        fields = [i.field for i in inputs]
        node.field = node.layer.field(fields, [i.shape for i in inputs], node.shape)
        newly_mixed = (
            node.field is not None
            and node.field.mixed_stride
            and not any(f is not None and f.mixed_stride for f in fields)
        )
        if newly_mixed:
            strides = " vs ".join(sorted({_stride(f) for f in fields if f is not None}))
            graph.warnings.append(
                Diagnostic(
                    "W0501",
                    f"`{node.name}` joins paths with different effective strides ({strides}); "
                    "its receptive field is the union at output position 0",
                    node.span,
                    severity="warning",
                )
            )


def _stride(field) -> str:
    h, w = field.to_json()["stride"]
    return f"{h}" if h == w else f"{h}x{w}"
