"""Cost pass: multiply-accumulates and FLOPs of one sample (docs/cost-model.md)."""

from __future__ import annotations

from ..graph import Graph


def cost(graph: Graph) -> None:
    for node in graph.nodes():
        shapes = [graph[i].shape for i in node.inputs]
        node.macs = node.layer.macs(shapes, node.shape)
        node.flops = node.layer.flops(shapes, node.shape)
