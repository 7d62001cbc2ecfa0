"""Memory pass: activation bytes per node and the peak over a schedule.

The schedule is the graph's topological (source) order. A tensor is allocated
when its node runs and freed after its last consumer has run; graph outputs
and inputs live to the end. The peak is the largest total alive at any step,
counting a node's output while its inputs are still held.
"""

from __future__ import annotations

from ..graph import Graph
from ..layers.base import FLOAT_BYTES, elements


def memory(graph: Graph) -> int:
    """Set `activation_bytes` on every node; return the peak bytes alive at once."""
    order = list(graph.nodes())
    for node in order:
        node.activation_bytes = elements(node.shape) * FLOAT_BYTES
    return peak_bytes(graph, order, set(graph.outputs.values()) | set(graph.inputs))


def peak_bytes(graph: Graph, order: list, keep: set) -> int:
    """The peak bytes alive while the nodes `order` run in that order; the values in `keep`
    are never freed (the whole network, or one block call: assertions.py)."""
    last_use: dict[str, int] = {}
    for step, node in enumerate(order):
        for source in node.inputs:
            last_use[source] = step
    frees: dict[int, list[str]] = {}
    for name, step in last_use.items():
        if name not in keep:
            frees.setdefault(step, []).append(name)
    inside = {node.name for node in order}
    alive = peak = 0
    for step, node in enumerate(order):
        alive += node.activation_bytes
        peak = max(peak, alive)
        for name in frees.get(step, ()):
            if name in inside:
                alive -= graph[name].activation_bytes
        if node.name not in keep and node.name not in last_use:
            alive -= node.activation_bytes  # a dead end: freed at once
    return peak
