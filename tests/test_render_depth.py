"""The default depth of a diagram keeps it readable (cnndsl/backends/layout.py).

Readable means, for the picture Graphviz really lays out (graphviz-pure's SVG):
at most NODE_BUDGET nodes, at most 12 times taller than wide, at most 4,000 pt
(a long scroll, not a wallpaper) tall. Before the
budget, EfficientNet-B0 came out 440 x 14,604 px with only its SE blocks folded.
The estimate the choice rests on is checked against hand-built graphs whose
ranks and widths are known.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ARCHITECTURES, architecture_files

import cnndsl
from cnndsl.backends import layout
from cnndsl.backends import render as render_module

MAX_REAL_ASPECT = 12.0
MAX_HEIGHT_PT = 4000.0


def svg_size(network, tmp_path) -> tuple[float, float, int]:
    """(width pt, height pt, nodes) of the default drawing, as the renderer lays it out."""
    if render_module.find_renderer("svg") is None:
        pytest.skip("no Graphviz renderer for svg installed (pip install graphviz-pure)")
    text = Path(network.render(str(tmp_path / "net.svg"))).read_text()
    width, height = (float(v) for v in re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', text).groups())
    return width, height, text.count('class="node"')


@pytest.mark.slow
@pytest.mark.parametrize("path", architecture_files(), ids=lambda p: p.stem)
def test_default_diagram_is_readable(path, tmp_path):
    network = cnndsl.load(str(path))
    width, height, nodes = svg_size(network, tmp_path)
    assert nodes <= layout.NODE_BUDGET + len(network.graph.outputs)  # output markers are nodes too
    assert height / width <= MAX_REAL_ASPECT, f"{width:.0f} x {height:.0f} pt"
    assert height <= MAX_HEIGHT_PT, f"{width:.0f} x {height:.0f} pt"


def test_efficientnet_b0_shows_its_sixteen_mbconv_blocks(tmp_path):
    network = cnndsl.load(str(ARCHITECTURES / "efficientnet.cnn"))
    names = [item.name for item in render_module.items(network)]
    assert sum(bool(re.fullmatch(r"MBConv\d+", n)) for n in names) == 1 + 2 + 2 + 3 + 3 + 4 + 1  # Table 1
    width, height, _ = svg_size(network, tmp_path)
    assert height < 2500 and height / width < 8  # was 14,604 px tall with only SE folded


def test_small_and_classic_defaults_are_kept():
    """What the gallery showed before the budget: small networks whole, ResNet-50 as bottlenecks."""
    lenet = cnndsl.load(str(ARCHITECTURES / "lenet5.cnn"))
    assert len(render_module.items(lenet)) == len(lenet.nodes)
    resnet = cnndsl.load(str(ARCHITECTURES / "resnet50.cnn"))
    names = {item.name for item in render_module.items(resnet)}
    assert sum(bool(re.fullmatch(r"Stage\d/Bottleneck\d", n)) for n in names) == 3 + 4 + 6 + 3


# -- the estimate, on graphs whose layout is known ------------------------------------------


def test_a_chain_is_one_node_wide():
    network = cnndsl.loads("network C { input x: [1, 8, 8]; conv(2, 1) -> relu -> conv(2, 1) -> relu }")
    items = render_module.items(network, depth=9)
    assert layout.shape(network, items) == (5, 1)  # input and four layers
    assert layout.aspect(network, items) == 5 / layout.MIN_LANES


def test_branches_widen_a_rank():
    source = """network B { input x: [1, 8, 8]
      concat { conv(2, 1); conv(2, 3, pad=1) -> relu; maxpool(3, stride=1, pad=1); identity } }"""
    network = cnndsl.loads(source)
    items = render_module.items(network, depth=9)
    # input; conv, conv, maxpool, identity side by side; relu; concat
    assert layout.shape(network, items) == (4, 4)
    assert layout.aspect(network, items) == 4 / (layout.LANES_PER_NODE * 4)


def test_budget_folds_deeper(monkeypatch):
    resnet = cnndsl.load(str(ARCHITECTURES / "resnet50.cnn"))
    monkeypatch.setattr(layout, "NODE_BUDGET", 12)  # depth 0: stem layers, four stages, head: 12 nodes
    assert layout.default_view(resnet, lambda view: render_module._group(resnet, *view)) == (0, False)
    monkeypatch.setattr(layout, "NODE_BUDGET", 11)  # nothing fits: depth 0 all the same
    assert layout.default_view(resnet, lambda view: render_module._group(resnet, *view)) == (0, False)
    monkeypatch.setattr(layout, "NODE_BUDGET", 1000)
    monkeypatch.setattr(layout, "MAX_ASPECT", 100.0)  # everything fits: every layer
    assert layout.default_view(resnet, lambda view: render_module._group(resnet, *view)) == (None, False)
