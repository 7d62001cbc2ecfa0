"""The compiled graph: a networkx DiGraph of :class:`Node` records.

Only this module touches networkx. Nodes are added in dependency order, so the
insertion order is a topological order and every pass is one linear sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .errors import Span
from .fields import Field
from .layers import Layer


@dataclass(slots=True)
class Node:
    """One layer application. The passes fill in the facts below the line."""

    name: str
    layer: Layer
    inputs: tuple[str, ...]
    span: Span
    scope: tuple[str, ...] = ()  # enclosing block instances, outermost first
    frozen: bool = False  # inside `frozen { … }`
    # -- facts ------------------------------------------------------------------
    shape: tuple | None = None
    params: int = 0
    trainable: int = 0
    state: int = 0
    macs: int = 0
    flops: int = 0
    activation_bytes: int = 0
    field: Field | None = None

    @property
    def op(self) -> str:
        return self.layer.kind

    @property
    def frozen_params(self) -> int:
        return self.params - self.trainable


@dataclass(frozen=True, slots=True)
class BlockInstance:
    """A block call expanded in the graph: `Stage2/Bottleneck1`."""

    path: tuple[str, ...]
    block: str
    span: Span


@dataclass(slots=True)
class Value:
    """A named value of the program: a bound name, input or output."""

    name: str
    node: str
    span: Span


@dataclass
class Graph:
    name: str
    nx: nx.DiGraph = field(default_factory=nx.DiGraph)
    inputs: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> node name
    values: dict[str, Value] = field(default_factory=dict)
    blocks: dict[tuple, BlockInstance] = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def add(self, node: Node) -> None:
        self.nx.add_node(node.name, node=node)
        for source in node.inputs:
            self.nx.add_edge(source, node.name)

    def __contains__(self, name: str) -> bool:
        return name in self.nx

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    def __getitem__(self, name: str) -> Node:
        return self.nx.nodes[name]["node"]

    def nodes(self):
        """Nodes in topological (insertion) order."""
        return (data["node"] for _, data in self.nx.nodes(data=True))

    def consumers(self, name: str) -> list[str]:
        return list(self.nx.successors(name))

    def is_output(self, name: str) -> bool:
        return name in self._output_nodes()

    def _output_nodes(self) -> set:
        return set(self.outputs.values())
