"""Parameter pass: learnable parameters (trainable and frozen) and batch-norm state."""

from __future__ import annotations

from ..graph import Graph


def params(graph: Graph) -> None:
    for node in graph.nodes():
        shapes = [graph[i].shape for i in node.inputs]
        node.params = node.layer.parameters(shapes, node.shape)
        node.state = node.layer.state(shapes, node.shape)
        trainable = node.layer.trainable and not node.frozen
        node.trainable = node.params if trainable else 0
