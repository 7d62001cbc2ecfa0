"""Architecture diagrams: the compiled graph drawn with Graphviz.

The `graphviz` package builds the DOT text; a renderer program lays it out.
The renderer is found in this order (docs/render.md):

1. the `dot=` argument (`cnndsl render --dot PATH`);
2. the ``CNNDSL_DOT`` environment variable;
3. ``graphviz-pure`` (pip; SVG and PNG, same bytes on every platform), on PATH
   or beside the running Python;
4. Graphviz's ``dot`` on PATH (also PDF).

A candidate that cannot write the requested format is passed over. When none
is left, the DOT file is written instead and the error says what to install.

>>> import cnndsl
>>> net = cnndsl.loads("network Tiny { input x: [1, 8, 8]; conv(4, 3) -> relu }")
>>> text = net.render()  # no path: the DOT source
>>> 'conv1 -> relu1 [label="4x6x6"]' in text
True
"""

from __future__ import annotations

import functools
import html
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import did_you_mean, usage_error
from ..files import write_bytes, write_text
from ..layers.base import FAMILIES as LAYER_FAMILIES
from ..report import field_text, human
from .layout import check_drawable, default_view, suffix_format

FORMATS = ("svg", "png", "pdf", "dot")
SHOWABLE = ("params", "macs", "rf")
RANKDIRS = ("TB", "LR")
STYLES = ("graph", "blocks")
ENVIRONMENT = "CNNDSL_DOT"
LEGEND_COLUMNS = 3

FAMILIES = {**LAYER_FAMILIES, "block": ("#fff3e0", "block (collapsed)")}  # family: (fill colour, legend text)
KEY_FAMILIES = ("conv", "dense", "pool", "resample")
"""Layers named inside a collapsed block's node (at most four distinct ones)."""

FONT = "Helvetica"
GRAPH_STYLE = {
    "labelloc": "t",
    "fontname": FONT,
    "fontsize": "12",
    "nodesep": "0.25",
    "ranksep": "0.3",
    "newrank": "true",
}
NODE_STYLE = {
    "fontname": FONT,
    "fontsize": "11",
    "shape": "box",
    "style": "rounded,filled",
    "penwidth": "0.8",
    "height": "0.3",
    "margin": "0.12,0.05",
}
EDGE_STYLE = {"fontname": FONT, "fontsize": "9", "fontcolor": "#555555", "color": "#666666", "arrowsize": "0.6"}
INSTALL_HINT = {
    "svg": "pip install graphviz-pure; or install Graphviz's dot "
    "(apt-get install graphviz, brew install graphviz, conda install -c conda-forge graphviz); "
    f"or name a dot executable with --dot PATH or {ENVIRONMENT}=PATH",
    "pdf": "install Graphviz's dot (apt-get install graphviz, brew install graphviz, "
    f"conda install -c conda-forge graphviz) or name one with --dot PATH or {ENVIRONMENT}=PATH; "
    "graphviz-pure writes SVG and PNG but not PDF",
}
INSTALL_HINT["png"] = INSTALL_HINT["svg"]


# -- the API -----------------------------------------------------------


def render(network, path=None, depth=None, rankdir="TB", show=(), dot=None, style="graph"):
    """Draw `network` to `path` (.svg, .png, .pdf or .dot) and return the path written.

    Without `path`, return the DOT source. `depth` collapses blocks nested
    deeper than it (None: the default of :func:`items`); `show` adds node lines from
    params, macs, rf; `dot` names the renderer program (see the module doc).
    `style="blocks"` draws 3D blocks instead (backends/blocks.py; .svg, .png, .pdf, .tex).
    """
    if check_style_format(style, None) == "blocks":
        from .blocks import render as blocks

        return blocks(network, path, depth)
    source = diagram(network, depth, rankdir, show).source
    if path is None:
        return source
    fmt = check_format(path)
    if fmt == "dot":
        write_text(path, source)
        return str(path)
    renderer = find_renderer(fmt, dot)
    if renderer is None:
        fallback = Path(path).with_suffix(".dot")
        write_text(fallback, source)
        raise usage_error(
            f"no Graphviz renderer that writes {fmt.upper()} was found; wrote {fallback} instead",
            "E0812",
            INSTALL_HINT[fmt],
        )
    write_bytes(path, _run(renderer, source, fmt))
    return str(path)


def to_svg(network, depth=None, rankdir="TB", show=()) -> str | None:
    """The diagram as SVG text, or None when no renderer is installed (Jupyter's `_repr_svg_`)."""
    renderer = find_renderer("svg")
    if renderer is None:
        return None
    return _run(renderer, diagram(network, depth, rankdir, show).source, "svg").decode("utf-8")


def parse_show(show) -> tuple[str, ...]:
    """`"params,rf"` or `["params", "rf"]` -> ("params", "rf"); `all` is every item."""
    chosen = [s.strip() for s in show.split(",")] if isinstance(show, str) else list(show)
    chosen = [s for s in chosen if s]
    if "all" in chosen:
        return SHOWABLE
    for item in chosen:
        if item not in SHOWABLE:
            hint = did_you_mean(item, SHOWABLE) or f"choose from {', '.join(SHOWABLE)} (comma separated) or all"
            raise usage_error(f"--show: unknown item `{item}`", "E0811", hint)
    return tuple(chosen)


def check_style_format(style: str, path) -> str:
    """Check `style` and, when given, that `path` has a format the style writes; return the style."""
    if style not in STYLES:
        hint = did_you_mean(style, STYLES) or "choose graph or blocks"
        raise usage_error(f"unknown render style `{style}`", "E0815", hint)
    if path is not None:
        if style == "blocks":
            from .blocks import check_format as check_blocks_format

            check_blocks_format(path)
        else:
            check_format(path)
    return style


def check_format(path) -> str:
    if path is None:
        return "svg"
    hint = "name the output .svg, .png, .pdf or .dot (.tex is TikZ: add --style blocks)"
    return suffix_format(path, FORMATS, "draw", "diagram", hint)


# -- what is drawn ---------------------------------------------------------------------------


@dataclass
class Item:
    """One diagram node: a layer, or a block collapsed into one node (`block` set)."""

    name: str
    nodes: list = field(default_factory=list)  # the graph nodes it stands for, in order
    block: object = None  # the BlockInstance of a collapsed block

    @property
    def params(self) -> int:
        return sum(node.params for node in self.nodes)

    @property
    def macs(self) -> int:
        return sum(node.macs for node in self.nodes)

    @property
    def rf(self):
        return self.nodes[-1].field

    @property
    def clusters(self) -> tuple:
        """The block paths drawn as clusters around this node, outermost first."""
        return self.block.path[:-1] if self.block else self.nodes[0].scope


def items(network, depth: int | None = None) -> list[Item]:
    """The diagram's nodes in topological order; `depth` as in :meth:`Network.rows`.

    With `depth` None, the most detailed drawing within the node budget and the
    aspect ratio of :mod:`.layout` (ResNet-50 as stages of bottleneck nodes).
    """
    if depth is not None and depth < 0:
        raise usage_error("the depth must be 0 or more", "E0815")
    if depth is not None:
        shown = _group(network, depth, False)
    else:
        shown = _group(network, *default_view(network, lambda view: _group(network, *view)))
    check_drawable(network, len(shown), lambda d: len(_group(network, d, False)))
    return shown


def _group(network, depth: int | None, leaves: bool) -> list[Item]:
    """Blocks nested deeper than `depth` (and with `leaves` every innermost block) as one item."""
    graph = network.graph
    return [
        Item(nodes[0].name, nodes) if path is None else Item("/".join(path), nodes, graph.blocks[path])
        for path, nodes in graph.collapse(depth, leaves=leaves)
    ]


# -- the DOT graph ------------------------------------------------------------------------


def diagram(network, depth=None, rankdir="TB", show=()):
    """The network as a :class:`graphviz.Digraph`: one node per :func:`items` entry."""
    import graphviz

    if rankdir not in RANKDIRS:
        raise usage_error(f"--rankdir must be TB or LR, got `{rankdir}`", "E0815")
    show = parse_show(show)
    shown = items(network, depth)
    title = _title(network, {"block" if item.block else _family(item.nodes[0]) for item in shown})
    graph_attr = {**GRAPH_STYLE, "rankdir": rankdir, "label": title}
    dot = graphviz.Digraph(network.name, graph_attr=graph_attr, node_attr=NODE_STYLE, edge_attr=EDGE_STYLE)
    owner = {node.name: item.name for item in shown for node in item.nodes}
    bound = _bound_names(network, owner)
    _emit(dot, _cluster_tree(shown), lambda item: _node(item, bound.get(item.name, []), show))
    _edges(dot, network, owner)
    _outputs(dot, network, owner)
    return dot


def _bound_names(network, owner) -> dict[str, list[str]]:
    """Names the program binds (`e1 = …`), by the diagram node that holds their value."""
    names: dict[str, list[str]] = {}
    for name, value in network.graph.values.items():
        if name not in network.graph.outputs and name not in network.graph.inputs:
            names.setdefault(owner[value.node], []).append(name)
    return names


def _cluster_tree(shown: list[Item]) -> dict:
    """{"items": [...], "children": {path: subtree}}, by the blocks each item sits in."""
    tree: dict = {"items": [], "children": {}}
    for item in shown:
        subtree = tree
        for k in range(1, len(item.clusters) + 1):
            subtree = subtree["children"].setdefault(item.clusters[:k], {"items": [], "children": {}})
        subtree["items"].append(item)
    return tree


def _emit(dot, tree: dict, node) -> None:
    for item in tree["items"]:
        dot.node(item.name, **node(item))
    for path, subtree in tree["children"].items():
        shade = ("#f6f8fa", "#eceff3", "#e2e6ec")[min(len(path) - 1, 2)]
        with dot.subgraph(name="cluster_" + "/".join(path)) as sub:
            sub.attr(label=path[-1], labeljust="l", style="rounded,filled", fillcolor=shade, color="#b0b8c4")
            sub.attr(fontname=FONT, fontsize="11", fontcolor="#445066", margin="10")
            _emit(sub, subtree, node)


def _node(item: Item, names: list, show) -> dict:
    if item.block:
        return _block_node(item, names, show)
    node = item.nodes[0]
    layer, label = node.layer, node.layer.label()
    tooltip = f"{node.name}  ({node.span})"
    if layer.family == "io":
        return _io_node(f"input {node.name}", _shape_text(node.shape), tooltip)
    fill = FAMILIES[_family(node)][0]
    if layer.is_merge():
        glyph = layer.glyph
        attrs = {"label": glyph or label, "fillcolor": fill, "tooltip": tooltip, "fontsize": "10"}
        if names:  # too small to hold it: beside the node
            attrs["xlabel"] = _html([], names)
        if glyph:
            return {**attrs, "shape": "circle", "width": "0.3", "fixedsize": "true", "fontsize": "14"}
        return {**attrs, "height": "0.25", "margin": "0.06,0.02"}
    lines = [f"<B>{html.escape(label)}</B>", *_facts(item, show)]
    return {"label": _html(lines, names), "fillcolor": fill, "tooltip": tooltip}


def _block_node(item: Item, names: list, show) -> dict:
    lines = [f"<B>{html.escape(item.block.path[-1])}</B>"]
    lines += [f'<FONT POINT-SIZE="10">{html.escape(text)}</FONT>' for text in _key_layers(item.nodes)]
    lines += _facts(item, ("params", "macs", *(s for s in show if s not in ("params", "macs"))))
    tooltip = (
        f"{item.name}: block {item.block.block}, {len(item.nodes)} layers, "
        f"{item.params:,} params, {item.macs:,} MACs  ({item.block.span})"
    )
    return {
        "label": _html(lines, names),
        "fillcolor": FAMILIES["block"][0],
        "style": "rounded,filled,bold",
        "color": "#8d6e63",
        "tooltip": tooltip,
    }


def _family(node) -> str:
    return node.layer.family if node.layer.family in FAMILIES else "other"


def _key_layers(nodes: list) -> list[str]:
    """The distinct conv/dense/pool layers of a collapsed block, with counts, when few."""
    counts: dict[str, int] = {}
    for node in nodes:
        if node.layer.family in KEY_FAMILIES:
            counts[node.layer.label()] = counts.get(node.layer.label(), 0) + 1
    if len(counts) > 4:
        return [f"{len(nodes)} layers"]
    return [f"{label} (x{n})" if n > 1 else label for label, n in counts.items()]


def _facts(item: Item, show) -> list[str]:
    facts = []
    if "params" in show and item.params:
        facts.append(f"params {human(item.params)}")
    if "macs" in show and item.macs:
        facts.append(f"MACs {human(item.macs)}")
    if "rf" in show and item.rf is not None:
        facts.append(f"rf {field_text(item.rf)}")
    if not facts:
        return []
    text = html.escape("   ".join(facts))
    return [f'<FONT POINT-SIZE="9" COLOR="#37474f">{text}</FONT>']


def _html(lines: list[str], names: list[str]) -> str:
    if names:
        lines = [f'<FONT POINT-SIZE="9" COLOR="#6d4c41"><I>{html.escape(", ".join(names))} =</I></FONT>', *lines]
    return "<" + "<BR/>".join(lines) + ">"  # an HTML-like label


def _io_node(title: str, shape: str, tooltip: str) -> dict:
    label = f'<<B>{html.escape(title)}</B><BR/><FONT POINT-SIZE="10">{html.escape(shape)}</FONT>>'
    attrs = {"label": label, "fillcolor": FAMILIES["io"][0], "fontcolor": "white", "style": "filled"}
    return {**attrs, "tooltip": tooltip}


def _shape_text(shape) -> str:
    """The shape of one sample: [N, 64, 56, 56] -> 64x56x56."""
    return "x".join(str(d) for d in shape[1:])


def _edges(dot, network, owner) -> None:
    drawn = set()
    for node in network.graph.nodes():
        head = owner[node.name]
        for source in node.inputs:
            tail = owner[source]
            if tail != head and (tail, head, source) not in drawn:  # once per value between two nodes
                drawn.add((tail, head, source))
                dot.edge(tail, head, label=_shape_text(network.node(source).shape))


def _outputs(dot, network, owner) -> None:
    with dot.subgraph() as last:
        last.attr(rank="max")  # outputs side by side at the end
        for name, node in network.graph.outputs.items():
            shape = _shape_text(network.node(node).shape)
            title = "output" if name == "output" else f"output {name}"
            last.node(f"output/{name}", **_io_node(title, shape, title))
    for name, node in network.graph.outputs.items():
        dot.edge(owner[node], f"output/{name}", label=_shape_text(network.node(node).shape))


def _title(network, families: set) -> str:
    """The graph's label: name, totals and the colour legend of the families drawn."""
    totals = network.totals
    head = (
        f'<FONT POINT-SIZE="18"><B>{html.escape(network.name)}</B></FONT>'
        f"    {human(totals['params'])} params    {human(totals['macs'])} MACs"
    )
    keys = [(fill, text) for family, (fill, text) in FAMILIES.items() if family in families | {"io"}]
    cells = [
        f'<TD BGCOLOR="{fill}" WIDTH="12" HEIGHT="10"></TD><TD ALIGN="LEFT">{_small(text)}</TD>' for fill, text in keys
    ]
    rows = "".join(
        "<TR>" + "".join(cells[i : i + LEGEND_COLUMNS]) + "</TR>" for i in range(0, len(cells), LEGEND_COLUMNS)
    )
    legend = f'<TABLE BORDER="0" CELLSPACING="2" CELLPADDING="1">{rows}</TABLE>'
    table = (
        f'<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="2"><TR><TD>{head}</TD></TR><TR><TD>{legend}</TD></TR></TABLE>'
    )
    return f"<{table}>"


def _small(text: str) -> str:
    return f'<FONT POINT-SIZE="9">{html.escape(text)}  </FONT>'


# -- renderers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Renderer:
    """A program that turns DOT text into a picture, and where it was found."""

    path: str
    origin: str  # --dot, CNNDSL_DOT, graphviz-pure or dot


def find_renderer(fmt: str, dot: str | None = None) -> Renderer | None:
    """The renderer for `fmt` in the documented order, or None when none is installed."""
    if dot:
        return _explicit(dot, "--dot", fmt)
    if os.environ.get(ENVIRONMENT):
        return _explicit(os.environ[ENVIRONMENT], ENVIRONMENT, fmt)
    for name in ("graphviz-pure", "dot"):
        path = _which(name)
        if path and fmt in _formats(path, fmt):
            return Renderer(path, name)
    return None


def _which(name: str) -> str | None:
    """`name` on PATH, or in the running Python's scripts folder (a venv that is not activated)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in {sysconfig.get_path("scripts"), str(Path(sys.executable).parent)}:
        found = shutil.which(name, path=folder)
        if found:
            return found
    return None


def _explicit(program: str, origin: str, fmt: str) -> Renderer:
    path = shutil.which(program)
    if path is None:
        raise usage_error(
            f"{origin} names `{program}`, which is not an executable program",
            "E0814",
            "give the path of Graphviz's dot or of graphviz-pure",
        )
    formats = _formats(path, fmt)
    if fmt not in formats:
        raise usage_error(
            f"`{program}` ({origin}) cannot write {fmt.upper()} (it writes {_ours(formats)})",
            "E0813",
            INSTALL_HINT[fmt],
        )
    return Renderer(path, origin)


@functools.cache
def _probe(path: str) -> frozenset | None:
    """The output formats a dot-like program lists for `-T?`, or None when it lists none."""
    try:
        done = subprocess.run([path, "-T?"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    match = re.search(r"Use one of:(.*)", done.stderr + done.stdout)
    if match is None:
        return None
    return frozenset(word.split(":")[0] for word in match.group(1).split())


def _ours(formats) -> str:
    return ", ".join(f.upper() for f in FORMATS if f in formats) or "none"


def _formats(path: str, fmt: str) -> frozenset:
    known = _probe(path)
    return frozenset({fmt}) if known is None else known


def _run(renderer: Renderer, source: str, fmt: str) -> bytes:
    try:
        done = subprocess.run([renderer.path, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True)
    except OSError as exc:
        raise usage_error(f"cannot run {renderer.path}: {exc.strerror}", "E0813", INSTALL_HINT[fmt]) from None
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
        raise usage_error(f"{renderer.path} ({renderer.origin}) failed: {message}", "E0813")
    return done.stdout
