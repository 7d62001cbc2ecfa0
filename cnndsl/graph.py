"""The compiled graph: :class:`Node` records in dependency order, and their edges.

Nodes are added in dependency order, so the insertion order is a topological
order and every pass is one linear sweep over plain dictionaries. The same
graph as a networkx ``DiGraph`` (node attribute ``node``) is built on first use
of :attr:`Graph.nx`, so commands that need no graph algorithm never pay
networkx's import (about 0.14 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Span
from .fields import Field
from .layers import Layer
from .records import dataclass as record


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


@record(frozen=True, slots=True)
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
    inputs: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> node name
    values: dict[str, Value] = field(default_factory=dict)
    blocks: dict[tuple, BlockInstance] = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    assertions: list = field(default_factory=list)  # `assert`s to check after the passes (assertions.py)
    _nodes: dict[str, Node] = field(default_factory=dict, repr=False)
    _successors: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _nx: object = field(default=None, repr=False)

    def add(self, node: Node) -> None:
        self._nodes[node.name] = node
        self._successors[node.name] = []
        for source in dict.fromkeys(node.inputs):
            self._successors[source].append(node.name)
        self._nx = None

    def __contains__(self, name: str) -> bool:
        return name in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __getitem__(self, name: str) -> Node:
        return self._nodes[name]

    def nodes(self):
        """Nodes in topological (insertion) order."""
        return iter(self._nodes.values())

    def collapse(self, depth: int | None = None, leaves: bool = False) -> list[tuple[tuple | None, list[Node]]]:
        """The nodes in order, grouped as report rows and diagram nodes show them at `--depth`.

        A block instance nested deeper than `depth` (and, with `leaves`, every
        innermost block: one that calls no other) becomes one group keyed by its
        path, placed where its first node is; other nodes stand alone (path None).
        """
        parents = {path[:k] for path in self.blocks for k in range(1, len(path))} if leaves else set()
        groups: dict[tuple, tuple] = {}
        out: list[tuple[tuple | None, list[Node]]] = []
        for node in self._nodes.values():
            if depth is not None and len(node.scope) > depth:
                path = node.scope[: depth + 1]
            elif leaves and node.scope and node.scope not in parents:
                path = node.scope
            else:
                out.append((None, [node]))
                continue
            group = groups.get(path)
            if group is None:
                group = groups[path] = (path, [])
                out.append(group)
            group[1].append(node)
        return out

    @property
    def nx(self):
        """The graph as a ``networkx.DiGraph``; each node's record is its ``node`` attribute."""
        if self._nx is None:
            import networkx

            graph = networkx.DiGraph(name=self.name)
            graph.add_nodes_from((name, {"node": node}) for name, node in self._nodes.items())
            graph.add_edges_from((a, b) for a, targets in self._successors.items() for b in targets)
            self._nx = graph
        return self._nx
