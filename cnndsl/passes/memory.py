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
    last_use: dict[str, int] = {}
    order = list(graph.nodes())
    for step, node in enumerate(order):
        node.activation_bytes = elements(node.shape) * FLOAT_BYTES
        for source in node.inputs:
            last_use[source] = step
    keep = set(graph.outputs.values()) | set(graph.inputs)
    frees: dict[int, list[str]] = {}
    for name, step in last_use.items():
        if name not in keep:
            frees.setdefault(step, []).append(name)
    alive = peak = 0
    for step, node in enumerate(order):
        alive += node.activation_bytes
        peak = max(peak, alive)
        for name in frees.get(step, ()):
            alive -= graph[name].activation_bytes
        if node.name not in keep and node.name not in last_use:
            alive -= node.activation_bytes  # a dead end: freed at once
    return peak
