"""`cnndsl render`: the DOT structure, the renderer search, and the pictures.

Structure is read back from the DOT text with the small parser below, not
from the code that wrote it. Figures come from the papers (ResNet-50 has 53
convolutions, 16 bottlenecks and 25,557,032 parameters; GoogLeNet's inception
outputs are 256, 480, 512, 512, 512, 528, 832, 832 and 1024 channels) or
from the compiled graph the diagram must mirror.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import pytest
from conftest import ARCHITECTURES, ROOT, architecture_files

import cnndsl
from cnndsl.backends import render as render_module
from cnndsl.cli import main

FULL = 99  # a depth beyond any nesting: every layer drawn


@pytest.fixture(scope="module")
def resnet():
    return cnndsl.load(str(ARCHITECTURES / "resnet50.cnn"))


@pytest.fixture(scope="module")
def googlenet():
    return cnndsl.load(str(ARCHITECTURES / "googlenet.cnn"))


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv("CNNDSL_DOT", raising=False)


def needs_renderer(fmt: str = "svg"):
    renderer = render_module.find_renderer(fmt)
    if renderer is None:
        pytest.skip(f"no Graphviz renderer for {fmt} installed ({render_module.INSTALL_HINT[fmt]})")
    return renderer


# -- a small DOT reader ----------------------------------------------------------------------

TOKEN = re.compile(r'\s+|"(?:\\.|[^"\\])*"|->|[\[\]{}=;,]|[\w.#:/-]+|<')


@dataclass
class Dot:
    graph: dict = field(default_factory=dict)
    nodes: dict = field(default_factory=dict)  # id -> attributes
    where: dict = field(default_factory=dict)  # id -> clusters around it, outermost first
    edges: list = field(default_factory=list)  # (tail, head, attributes)
    clusters: dict = field(default_factory=dict)  # name -> attributes


def tokens(text: str) -> list[str]:
    out, i = [], 0
    while i < len(text):
        if text[i] == "<":  # an HTML-like string: balanced angle brackets
            depth, j = 0, i
            while True:
                depth += {"<": 1, ">": -1}.get(text[j], 0)
                j += 1
                if depth == 0:
                    break
            out.append(text[i:j])
            i = j
            continue
        match = TOKEN.match(text, i)
        assert match, f"cannot read DOT at {text[i : i + 40]!r}"
        if not match.group().isspace():
            out.append(match.group())
        i = match.end()
    return out


def unquote(token: str) -> str:
    if token.startswith('"'):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


def parse_dot(text: str) -> Dot:
    dot, toks, stack, i = Dot(), tokens(text), [], 0
    assert toks[0] == "digraph"
    i = toks.index("{") + 1
    scopes = [dot.graph]

    def attributes(j):
        attrs = {}
        if j < len(toks) and toks[j] == "[":
            j += 1
            while toks[j] != "]":
                attrs[toks[j]] = unquote(toks[j + 2])
                j += 3
                if toks[j] in (",", ";"):
                    j += 1
            j += 1
        return attrs, j

    while i < len(toks):
        tok = toks[i]
        if tok == "subgraph" or tok == "{":
            name = unquote(toks[i + 1]) if tok == "subgraph" and toks[i + 1] != "{" else ""
            i = toks.index("{", i) + 1
            stack.append(name)
            scopes.append(dot.clusters.setdefault(name, {}) if name.startswith("cluster") else {})
        elif tok == "}":
            i += 1
            if stack:
                stack.pop()
                scopes.pop()
        elif tok in ("graph", "node", "edge"):
            attrs, i = attributes(i + 1)
            if tok == "graph":
                scopes[-1].update(attrs)
        elif tok == ";":
            i += 1
        elif toks[i + 1] == "=":
            scopes[-1][tok] = unquote(toks[i + 2])
            i += 3
        elif toks[i + 1] == "->":
            attrs, i2 = attributes(i + 3)
            dot.edges.append((unquote(tok), unquote(toks[i + 2]), attrs))
            i = i2
        else:
            attrs, i = attributes(i + 1)
            name = unquote(tok)
            dot.nodes[name] = attrs
            dot.where[name] = [s for s in stack if s.startswith("cluster")]
    return dot


def text_of(label: str) -> str:
    """The visible text of an HTML-like label, lines joined by ' | '."""
    if label.startswith("<") and label.endswith(">"):
        label = label[1:-1]
    label = label.replace("<BR/>", " | ")
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", "", label)).strip()


def layer_nodes(dot: Dot) -> set:
    return {n for n in dot.nodes if not n.startswith("output/")}


def shape_label(shape) -> str:
    return "x".join(str(d) for d in shape[1:])


# -- structure of the DOT ------------------------------------------------------------------


def test_one_node_per_layer(resnet):
    dot = parse_dot(resnet.render(depth=FULL))
    assert layer_nodes(dot) == {node.name for node in resnet.nodes}
    labels = [text_of(dot.nodes[n]["label"]) for n in layer_nodes(dot)]
    assert sum(label.startswith("conv ") for label in labels) == 53  # 1 + 16 x 3 + 4 projections
    assert sum(label == "+" for label in labels) == 16  # one add per bottleneck
    assert "conv 7x7 /2, 64" in labels and "conv 3x3 /2, 512" in labels


@pytest.mark.parametrize("path", architecture_files(), ids=lambda p: p.stem)
def test_edges_carry_the_inferred_shapes(path):
    network = cnndsl.load(str(path))
    dot = parse_dot(network.render(depth=FULL))
    drawn = {(tail, head): attrs["label"] for tail, head, attrs in dot.edges}
    expected = {(i, node.name): shape_label(network.node(i).shape) for node in network.nodes for i in node.inputs}
    expected |= {
        (node, f"output/{name}"): shape_label(network.node(node).shape) for name, node in network.graph.outputs.items()
    }
    assert drawn == expected
    assert len(dot.edges) == len(expected)  # no edge drawn twice


def test_paper_shapes_on_the_edges(resnet, googlenet):
    labels = {attrs["label"] for _, _, attrs in parse_dot(resnet.render()).edges}
    assert {"64x112x112", "256x56x56", "512x28x28", "1024x14x14", "2048x7x7", "2048", "1000"} <= labels
    dot = parse_dot(googlenet.render(depth=FULL))
    concats = [n for n in dot.nodes if n.endswith("concat1")]
    widths = [next(a["label"] for t, _, a in dot.edges if t == c).split("x")[0] for c in concats]
    assert widths == ["256", "480", "512", "512", "512", "528", "832", "832", "1024"]


def test_a_cluster_per_block_call(resnet):
    dot = parse_dot(resnet.render(depth=FULL))
    assert set(dot.clusters) == {"cluster_" + "/".join(path) for path in resnet.graph.blocks}
    assert len(dot.clusters) == 4 + 16  # stages and bottlenecks
    for node in resnet.nodes:
        assert dot.where[node.name] == ["cluster_" + "/".join(node.scope[:k]) for k in range(1, len(node.scope) + 1)]
    assert dot.clusters["cluster_Stage3/Bottleneck6"]["label"] == "Bottleneck6"


def test_depth_collapses_blocks_with_their_totals(resnet):
    dot = parse_dot(resnet.render(depth=0))
    stages = {n for n in dot.nodes if n.startswith("Stage")}
    assert stages == {"Stage1", "Stage2", "Stage3", "Stage4"}
    assert not dot.clusters
    in_blocks = {n: tooltip_figures(dot.nodes[n]["tooltip"]) for n in stages}
    outside = sum(node.params for node in resnet.nodes if not node.scope)
    assert sum(params for params, _ in in_blocks.values()) + outside == 25_557_032
    rows = {row.name: row for row in resnet.rows(0)}
    for name, (params, macs) in in_blocks.items():
        assert (params, macs) == (rows[name].params, rows[name].macs)  # the report's --depth agrees
        label = text_of(dot.nodes[name]["label"])
        assert f"params {human(params)}" in label and f"MACs {human(macs)}" in label


def test_depth_one_shows_bottlenecks_in_stage_clusters(resnet):
    dot = parse_dot(resnet.render(depth=1))
    bottlenecks = [n for n in dot.nodes if re.fullmatch(r"Stage\d/Bottleneck\d", n)]
    assert len(bottlenecks) == 3 + 4 + 6 + 3
    for name in bottlenecks:
        assert dot.where[name] == ["cluster_" + name.split("/")[0]]
    edges = {(t, h): a["label"] for t, h, a in dot.edges}
    assert edges[("Stage1/Bottleneck3", "Stage2/Bottleneck1")] == "256x56x56"
    assert edges[("Stage2/Bottleneck1", "Stage2/Bottleneck2")] == "512x28x28"


def test_googlenet_totals_when_collapsed(googlenet):
    dot = parse_dot(googlenet.render(depth=0))
    inceptions = [n for n in dot.nodes if n.startswith("Inception")]
    assert len(inceptions) == 9
    blocks = [n for n in dot.nodes if "tooltip" in dot.nodes[n] and ": block " in dot.nodes[n]["tooltip"]]
    outside = sum(node.params for node in googlenet.nodes if not node.scope)
    assert sum(tooltip_figures(dot.nodes[n]["tooltip"])[0] for n in blocks) + outside == 6_624_904


def tooltip_figures(tooltip: str) -> tuple[int, int]:
    match = re.search(r"([\d,]+) params, ([\d,]+) MACs", tooltip)
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))


def human(n: int) -> str:
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= factor:
            return f"{n / factor:.1f} {suffix}"
    return str(n)


def test_default_depth_collapses_innermost_blocks_of_big_networks(resnet, googlenet):
    dot = parse_dot(resnet.render())
    assert sum(bool(re.fullmatch(r"Stage\d/Bottleneck\d", n)) for n in dot.nodes) == 16
    assert {"conv1", "bn1", "relu1", "maxpool1", "dense1"} <= set(dot.nodes)
    dot = parse_dot(googlenet.render())
    assert {c for c in dot.clusters} == {f"cluster_Inception{k}" for k in range(1, 10)}
    assert all(name.count("/") <= 1 for name in dot.nodes if not name.startswith("output/"))
    branches = [h for t, h, _ in dot.edges if t == "maxpool2"]
    assert len(branches) == 4  # the four inception branches start from the same value


@pytest.mark.parametrize("name", ["lenet5", "localizer", "edges"])
def test_small_networks_are_drawn_whole(name):
    network = cnndsl.load(str(ARCHITECTURES / f"{name}.cnn"))
    assert layer_nodes(parse_dot(network.render())) == {node.name for node in network.nodes}


def test_merges_inputs_and_outputs_are_distinct_nodes(resnet):
    dot = parse_dot(resnet.render(depth=FULL))
    adds = [n for n in dot.nodes if text_of(dot.nodes[n].get("label", "")) == "+"]
    assert all(dot.nodes[n]["shape"] == "circle" for n in adds)
    assert all(sum(h == n for _, h, _ in dot.edges) == 2 for n in adds)
    localizer = parse_dot(cnndsl.load(str(ARCHITECTURES / "localizer.cnn")).render())
    outputs = {n for n in localizer.nodes if n.startswith("output/")}
    assert outputs == {"output/scores", "output/box"}
    colours = {localizer.nodes[n]["fillcolor"] for n in (*outputs, "image")}
    assert len(colours) == 1 and colours != {localizer.nodes["conv1"]["fillcolor"]}


def test_families_are_coloured_with_a_legend(resnet):
    dot = parse_dot(resnet.render(depth=FULL))
    fill = {n: dot.nodes[n]["fillcolor"] for n in layer_nodes(dot)}
    assert fill["conv1"] == fill["Stage4/Bottleneck3/conv3"] != fill["bn1"] != fill["relu1"]
    legend = text_of(dot.graph["label"])
    for family in ("convolution", "normalization", "activation", "pooling", "merge", "dense", "input / output"):
        assert family in legend
    assert "25.6 M params" in legend


def test_show_adds_params_macs_and_receptive_field(resnet):
    dot = parse_dot(resnet.render(depth=FULL, show="params,macs,rf"))
    # conv 7x7, 3 -> 64, no bias: 7*7*3*64 weights, each used at 112x112 positions
    label = text_of(dot.nodes["conv1"]["label"])
    assert "params 9.4 k" in label and "MACs 118.0 M" in label and "rf 7 /2" in label
    assert "rf 11 /4" in text_of(dot.nodes["maxpool1"]["label"])
    assert "params" not in text_of(parse_dot(resnet.render(depth=FULL)).nodes["conv1"]["label"])


def test_rankdir(resnet):
    assert parse_dot(resnet.render(rankdir="LR")).graph["rankdir"] == "LR"
    with pytest.raises(cnndsl.CnnError):
        resnet.render(rankdir="XY")


def test_bound_names_are_shown(resnet):
    unet = parse_dot(cnndsl.load(str(ARCHITECTURES / "unet_small.cnn")).render())
    assert text_of(unet.nodes["Twice1"]["label"]).startswith("e1 =")
    assert "features =" in text_of(parse_dot(resnet.render()).nodes["Stage4/Bottleneck3"]["label"])


# -- the command line ---------------------------------------------------------------------


def test_cli_writes_dot(tmp_path, capsys):
    out = tmp_path / "resnet.dot"
    assert main(["render", str(ARCHITECTURES / "resnet50.cnn"), "-o", str(out), "--depth", "0"]) == 0
    assert str(out) in capsys.readouterr().err
    dot = parse_dot(out.read_text())
    assert {"Stage1", "Stage4"} <= set(dot.nodes)


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["-o", "x.jpg"], "E0810"),
        (["-o", "x.svg", "--show", "parms"], "E0811"),
        (["-o", "x.svg", "--dot", "/no/dot"], "E0814"),
    ],
)
def test_cli_rejects_bad_options(tmp_path, capsys, argv, code):
    argv = [a if not a.startswith("x.") else str(tmp_path / a) for a in argv]
    assert main(["render", str(ARCHITECTURES / "lenet5.cnn"), *argv]) == 2
    assert code in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_without_a_renderer_the_dot_file_is_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(render_module, "_which", lambda name: None)
    out = tmp_path / "resnet.png"
    assert main(["render", str(ARCHITECTURES / "resnet50.cnn"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "E0812" in err and "pip install graphviz-pure" in err and str(tmp_path / "resnet.dot") in err
    assert not out.exists()
    assert parse_dot((tmp_path / "resnet.dot").read_text()).nodes
    assert main(["render", str(ARCHITECTURES / "lenet5.cnn"), "-o", str(tmp_path / "l.pdf")]) == 2
    assert "apt-get install graphviz" in capsys.readouterr().err
    network = cnndsl.load(str(ARCHITECTURES / "lenet5.cnn"))
    assert network._repr_svg_().count('class="node"') == 13  # no Graphviz: Jupyter shows the block diagram


def fake_renderer(folder, name: str, status: int = 0, formats: str = "png svg pdf"):
    """A dot look-alike that lists `formats` for -T? and prints its name and format."""
    script = folder / name
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-T?" ]; then echo \'Format: "?" not recognized. Use one of: {formats}\' >&2; exit 1; fi\n'
        f'while read -r _; do :; done; echo "{name} $1"; echo "{name} failed" >&2; exit {status}\n'
    )
    script.chmod(0o755)
    return str(script)


@pytest.mark.skipif(os.name == "nt", reason="shell-script stand-in")
def test_renderer_order_option_then_environment(tmp_path, monkeypatch):
    network = cnndsl.load(str(ARCHITECTURES / "lenet5.cnn"))
    monkeypatch.setenv("CNNDSL_DOT", fake_renderer(tmp_path, "from-env"))
    out = tmp_path / "net.pdf"
    network.render(str(out))
    assert out.read_text() == "from-env -Tpdf\n"
    assert (
        main(["render", str(ARCHITECTURES / "lenet5.cnn"), "-o", str(out), "--dot", fake_renderer(tmp_path, "opt")])
        == 0
    )
    assert out.read_text() == "opt -Tpdf\n"


@pytest.mark.skipif(os.name == "nt", reason="shell-script stand-in")
def test_graphviz_pure_first_then_dot_for_what_it_cannot_write(tmp_path, monkeypatch):
    fake_renderer(tmp_path, "graphviz-pure", formats="canon dot png svg")
    fake_renderer(tmp_path, "dot", formats="canon dot pdf png svg")
    monkeypatch.setenv("PATH", str(tmp_path))
    network = cnndsl.load(str(ARCHITECTURES / "lenet5.cnn"))
    for fmt, program in (("svg", "graphviz-pure"), ("png", "graphviz-pure"), ("pdf", "dot")):
        out = tmp_path / f"net.{fmt}"
        network.render(str(out))
        assert out.read_text() == f"{program} -T{fmt}\n"


@pytest.mark.skipif(os.name == "nt", reason="shell-script stand-in")
def test_a_failing_renderer_leaves_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "net.svg"
    out.write_text("old")
    monkeypatch.setenv("CNNDSL_DOT", fake_renderer(tmp_path, "broken", status=1))
    with pytest.raises(cnndsl.CnnError, match="broken failed") as info:
        cnndsl.load(str(ARCHITECTURES / "lenet5.cnn")).render(str(out))
    assert info.value.code == "E0813"
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "net.svg"]  # no temporary file left


def test_report_does_not_import_graphviz():
    code = (
        "import sys, contextlib, io; from cnndsl.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['report', 'architectures/lenet5.cnn'])\n"
        "print('graphviz' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# -- pictures (need graphviz-pure or dot) ------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"


def svg_parts(path):
    root = ET.parse(path).getroot()
    groups = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") is None:  # the <a> wrapper of a tooltip
            continue
        groups.setdefault(g.get("class"), []).append(g)
    titles = {kind: [g.find(f"{SVG}title").text for g in gs] for kind, gs in groups.items() if kind != "graph"}
    edge_text = [t.text for g in groups.get("edge", []) for t in g.iter(f"{SVG}text")]
    return titles, edge_text


def test_svg_has_a_node_per_layer_and_shapes_on_edges(resnet, tmp_path):
    needs_renderer("svg")
    out = resnet.render(str(tmp_path / "resnet.svg"), depth=FULL)
    titles, edge_text = svg_parts(out)
    assert set(titles["node"]) == {node.name for node in resnet.nodes} | {"output/logits"}
    assert len(titles["cluster"]) == 20
    for size in ("112x112", "56x56", "28x28", "14x14", "7x7"):
        assert any(text.endswith(size) for text in edge_text)


@pytest.mark.parametrize("name", ["resnet50", "googlenet"])
def test_cli_renders_svg_png_and_dot(name, tmp_path):
    needs_renderer("png")
    source = str(ARCHITECTURES / f"{name}.cnn")
    for suffix in ("svg", "png", "dot"):
        assert main(["render", source, "-o", str(tmp_path / f"{name}.{suffix}")]) == 0
    dot = parse_dot((tmp_path / f"{name}.dot").read_text())
    titles, edge_text = svg_parts(tmp_path / f"{name}.svg")
    assert set(titles["node"]) == set(dot.nodes)
    assert sorted(edge_text) == sorted(a["label"] for _, _, a in dot.edges)
    png = (tmp_path / f"{name}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 300 and height > 1000  # a tall TB drawing of many layers


@pytest.mark.parametrize("path", architecture_files(), ids=lambda p: p.stem)
def test_every_architecture_renders(path, tmp_path):
    needs_renderer("svg")
    network = cnndsl.load(str(path))
    titles, _ = svg_parts(network.render(str(tmp_path / "net.svg")))
    assert set(titles["node"]) == set(parse_dot(network.render()).nodes)


def test_pdf_when_a_renderer_writes_it(tmp_path):
    needs_renderer("pdf")
    out = cnndsl.load(str(ARCHITECTURES / "lenet5.cnn")).render(str(tmp_path / "lenet.pdf"))
    with open(out, "rb") as f:
        assert f.read(5) == b"%PDF-"


def test_jupyter_repr_is_the_svg(resnet):
    needs_renderer("svg")
    svg = resnet._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "Stage2/Bottleneck1" in svg


def test_the_docs_quote_the_real_install_hint():
    """docs/render.md shows the E0812 message; its hint must be the one the code gives."""
    text = (ROOT / "docs" / "render.md").read_text()
    assert f"  = hint: {render_module.INSTALL_HINT['png']}\n" in text


def test_a_diagram_too_large_to_read_is_refused_at_once_with_a_depth_that_fits():
    """E0816: 600 residual blocks are 2,404 nodes drawn whole (4 each, and 4 more); at --depth 0, 604."""
    source = (
        "block Res(c) { residual { conv(c, 3, pad=1) -> relu\n conv(c, 3, pad=1) } }\n"
        "network Deep { input x: [4, 8, 8]\n repeat 600 { Res(4) }\n gap -> flatten -> dense(10) }\n"
    )
    net = cnndsl.loads(source)
    for style in ("graph", "blocks"):
        with pytest.raises(cnndsl.CnnError) as caught:
            net.render(depth=9, style=style)
        assert caught.value.code == "E0816"
        assert "2,404 nodes" in caught.value.diagnostics[0].message
        assert "`--depth 0` (604 nodes)" in caught.value.diagnostics[0].hint
    assert net.render(depth=0).count("->") >= 603  # the suggested depth draws
