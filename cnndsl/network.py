"""The public API: :func:`load`, :func:`loads` and the :class:`Network` they return.

>>> net = loads("network Tiny { input x: [1, 8, 8]; conv(4, 3) -> relu }")
>>> net.outputs[0]["shape"]
['N', 4, 6, 6]
>>> net.totals["params"]
40
"""

from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass
from functools import cached_property

from .errors import Span, error, usage_error
from .evaluate import Scope, evaluate
from .graph import Graph, Node
from .loader import Program, load_program
from .lower import lower
from .passes import analyse

SUMMED = ("params", "trainable", "state", "macs", "flops", "activation_bytes")


def load(path: str | os.PathLike, network: str | None = None, overrides: dict | None = None) -> Network:
    """Compile the `.cnn` file at `path` (its only network, or the one named)."""
    return _compile(load_program(path=os.fspath(path)), network, overrides)


def loads(text: str, network: str | None = None, overrides: dict | None = None, name: str = "<string>") -> Network:
    """Compile `.cnn` source text."""
    return _compile(load_program(text=text, name=name), network, overrides)


def from_program(
    program: Program, network: str | None = None, overrides: dict | None = None, sized: bool = True
) -> Network:
    """Compile a loaded program (:func:`cnndsl.loader.load_program`); lowering leaves it unchanged,
    so one program serves many settings (`cnndsl sweep`). `sized=False`: the input sizes are only
    representative (symbolic sizes), so assertions about size-dependent figures are not checked."""
    return _compile(program, network, overrides, sized)


def parse_overrides(assignments: list[str]) -> dict:
    """`["classes=10", "width=[1, 2]"]` -> {name: (value, span)} for :func:`load`."""
    if not assignments:
        return {}
    from .parser import parse_value

    overrides = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep or not name.strip().isidentifier():
            raise usage_error(f"--set expects NAME=VALUE, got `{text}`")
        span = Span("<command line>", 1, len(name) + 2)
        overrides[name.strip()] = (evaluate(parse_value(value), Scope({}, {})), span)
    return overrides


def _compile(program: Program, network: str | None, overrides: dict | None, sized: bool = True) -> Network:
    name = _choose(program, network)
    normalized = {k: v if isinstance(v, tuple) else (v, Span("<api>", 1, 1)) for k, v in (overrides or {}).items()}
    with _gc_paused():  # the graph is built from many small acyclic objects; collections only cost time
        graph = lower(program, name, normalized)
        peak = analyse(graph)
        if graph.assertions:
            from .assertions import check

            check(graph, peak, sized=sized)
    network = Network(graph, program, peak)
    network.overrides = {k: v for k, (v, _) in normalized.items()}  # the PyTorch module's defaults (to_torch)
    return network


@contextlib.contextmanager
def _gc_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _choose(program: Program, network: str | None) -> str:
    names = program.main_networks
    if network is not None:
        if network not in program.networks:
            from .errors import did_you_mean

            hint = did_you_mean(network, program.networks) or f"networks here: {', '.join(names) or 'none'}"
            raise usage_error(f"{program.main} has no network `{network}`", "E0229", hint)
        return network
    if len(names) == 1:
        return names[0]
    if not names:
        raise error(
            "E0227",
            "this file defines no network",
            Span(program.main, 1, 1),
            hint="add `network Name { input x: [3, 224, 224] … }` or compile a file that imports this one",
        )
    raise usage_error(
        f"{program.main} defines {len(names)} networks: {', '.join(names)}",
        "E0228",
        f"choose one with --network {names[-1]}",
    )


@dataclass
class Row:
    """One line of a report: a node, or a block collapsed at `--depth`."""

    name: str
    op: str
    label: str
    source: str
    inputs: list
    shape: tuple
    params: int
    trainable: int
    state: int
    macs: int
    flops: int
    activation_bytes: int
    field: object
    depth: int


class Network:
    """A compiled network: its graph, every node's facts and the totals."""

    def __init__(self, graph: Graph, program: Program, peak_activation_bytes: int):
        self.graph = graph
        self.program = program
        self.peak_activation_bytes = peak_activation_bytes

    def __repr__(self) -> str:
        t = self.totals
        return f"<Network {self.name}: {len(self.graph)} nodes, {t['params']:,} params, {t['macs']:,} MACs>"

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def source(self) -> str:
        return self.program.main

    @property
    def warnings(self) -> list:
        return self.graph.warnings

    @property
    def nodes(self) -> list[Node]:
        return list(self.graph.nodes())

    def node(self, name: str) -> Node:
        return self.graph[name]

    @cached_property
    def totals(self) -> dict:
        sums = dict.fromkeys(SUMMED, 0)
        for node in self.graph.nodes():
            for key in SUMMED:
                sums[key] += getattr(node, key)
        sums["frozen"] = sums["params"] - sums["trainable"]
        sums["peak_activation_bytes"] = self.peak_activation_bytes
        order = ("params", "trainable", "frozen", "state", "macs", "flops", "activation_bytes", "peak_activation_bytes")
        return {key: sums[key] for key in order}

    @property
    def inputs(self) -> list[dict]:
        return [_tensor(name, self.graph[name]) for name in self.graph.inputs]

    @property
    def outputs(self) -> list[dict]:
        return [_tensor(name, self.graph[node]) for name, node in self.graph.outputs.items()]

    @property
    def values(self) -> dict:
        out = {}
        for name, value in self.graph.values.items():
            node = self.graph[value.node]
            out[name] = {
                "node": node.name,
                "shape": list(node.shape),
                "rf": node.field.to_json() if node.field else None,
            }
        return out

    def rows(self, depth: int | None = None) -> list[Row]:
        """Report rows, with blocks nested deeper than `depth` collapsed into one row each."""
        rows: list[Row] = []
        for path, nodes in self.graph.collapse(depth):
            if path is None:
                rows.append(_node_row(nodes[0]))
                continue
            row = _block_row(self.graph.blocks[path])
            for node in nodes:
                _absorb(row, node, path)
            rows.append(row)
        return rows

    def to_dict(self, depth: int | None = None) -> dict:
        """The JSON report (shared/REPORT.md)."""
        from .report import json_report

        return json_report(self, depth)

    def report(self, format: str = "table", depth: int | None = None, colour: bool = False) -> str:
        """The report as text: `table`, `json`, `markdown` or `csv`."""
        from . import report

        return report.render(self, format, depth, colour)

    # -- backends (imported only when used) -------------------------------------------
    def to_onnx(self, path: str | None = None, seed: int = 0):
        """The network as an ONNX ModelProto with initialised weights; saved to `path` if given."""
        from .backends.onnx import to_onnx

        return to_onnx(self, path, seed)

    def to_torch(self, seed: int = 0, initial: bool = True):
        """The network as a PyTorch `nn.Module` (needs torch), holding the initial weights `to_onnx`
        draws with `seed` (PyTorch's own initialisation when `initial` is false)."""
        from .backends.pytorch import to_torch

        return to_torch(self, seed, initial)

    def to_pytorch_source(self) -> str:
        """The source of a self-contained PyTorch module for this network (`cnndsl export --to pytorch`)."""
        from .backends.pytorch import generate

        return generate(self)

    def session(self, providers=None, seed: int = 0):
        """An onnxruntime InferenceSession of the compiled model."""
        from .backends.runtime import session

        return session(self, providers, seed)

    def feature_maps(self, image, layers, weights=None, seed: int = 0) -> dict:
        """{layer: [C, H, W] array}: the feature maps of the named layers or values for one image
        (an array, a .npy or an image file), from one onnxruntime session (docs/visualise.md)."""
        from .tools.viz import feature_maps

        return feature_maps(self, image, layers, weights, seed)

    def occlusion(self, image, weights=None, target=None, patch: int = 8, stride: int = 4, fill: float = 0.5):
        """The occlusion map of `image`: {"heat": [H, W] drop in the class probability, "class", "score"}
        (docs/visualise.md)."""
        from .tools.viz import occlusion

        return occlusion(self, image, weights, target, patch, stride, fill)

    def render(
        self, path: str | None = None, depth: int | None = None, rankdir: str = "TB", show=(), dot=None, style="graph"
    ):
        """Draw the architecture with Graphviz; `path` ends in .svg, .png, .pdf or .dot;
        `dot` names the renderer program (see docs/render.md).

        `style="blocks"`: layered 3D blocks (.svg, .tex, .png, .pdf; docs/render.md).
        Returns the path written; without `path`, the DOT source (graph) or the
        SVG text, shown inline in Jupyter (blocks).
        """
        from .backends.render import render

        return render(self, path, depth=depth, rankdir=rankdir, show=show, dot=dot, style=style)

    def _repr_svg_(self) -> str:
        """The Graphviz diagram, or the block diagram when no Graphviz renderer is installed."""
        from .backends.render import to_svg

        drawn = to_svg(self)
        if drawn is None:
            from .backends.blocks import render

            drawn = str(render(self))
        return drawn


def _tensor(name: str, node: Node) -> dict:
    return {"name": name, "shape": list(node.shape), "dtype": "float32"}


def _node_row(node: Node) -> Row:
    return Row(
        node.name,
        node.op,
        node.layer.label(),
        str(node.span),
        list(node.inputs),
        node.shape,
        node.params,
        node.trainable,
        node.state,
        node.macs,
        node.flops,
        node.activation_bytes,
        node.field,
        len(node.scope),
    )


def _block_row(block) -> Row:
    return Row(
        "/".join(block.path), "block", block.block, str(block.span), [], (), 0, 0, 0, 0, 0, 0, None, len(block.path) - 1
    )


def _absorb(row: Row, node: Node, path: tuple) -> None:
    for key in SUMMED:
        setattr(row, key, getattr(row, key) + getattr(node, key))
    row.shape, row.field = node.shape, node.field
    prefix = "/".join(path) + "/"
    row.inputs += [i for i in node.inputs if not i.startswith(prefix) and i not in row.inputs]
