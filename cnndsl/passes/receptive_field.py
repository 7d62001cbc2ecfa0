"""Receptive-field pass: size, effective stride and padding on each spatial axis.

One sweep in topological order: each node combines the fields of its inputs
(a merge takes their union), so branches are covered without enumerating paths.
Whatever a layer computes, two rules hold here for every node: a field computed
from a global field is global, and no effective stride exceeds the input's
extent (so figures stay bounded on a 1x1 map, see :func:`fields.capped`).
"""

from __future__ import annotations

from ..errors import Diagnostic
from ..fields import capped
from ..graph import Graph


def receptive_field(graph: Graph) -> None:
    extent = _input_extent(graph)
    for node in graph.nodes():
        inputs = [graph[i] for i in node.inputs]
        fields = [i.field for i in inputs]
        node.field = node.layer.field(fields, [i.shape for i in inputs], node.shape)
        if node.field is not None:
            node.field = capped(node.field, extent, any(f is not None and f.whole for f in fields))
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


def _input_extent(graph: Graph) -> tuple:
    """The largest height and width of the graph's image inputs (None on a symbolic axis)."""
    images = [n.shape[2:] for n in graph.nodes() if not n.inputs and n.shape is not None and len(n.shape) == 4]
    extent = []
    for axis in range(2):
        sizes = [s[axis] for s in images]
        known = all(isinstance(v, int) for v in sizes) and sizes
        extent.append(max(sizes) if known else None)
    return tuple(extent)
