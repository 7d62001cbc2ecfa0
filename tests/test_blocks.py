"""`cnndsl render --style blocks`: the SVG read back as geometry, TikZ, PNG and PDF.

The SVG is parsed with xml.etree and its shapes are measured here: boxes are
the bounding boxes of each node's polygons and circles, arcs are sampled
along their path (quadratic corners included) and must stay out of every
box. What should be drawn is worked out from the graph's node order and
scopes in this file, not by the layout code; figures from the papers
(LeNet-5's feature maps, ResNet-50's 53 convolutions, GoogLeNet's nine
inception modules) anchor it.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET

import pytest
from conftest import ARCHITECTURES, architecture_files

import cnndsl
from cnndsl.backends import render as render_module
from cnndsl.cli import main

SVG = "{http://www.w3.org/2000/svg}"
FULL = 99
WIDTH_PER_CHAR = 0.7  # of the font size: wider than any Helvetica or DejaVu character we draw


def load(name: str):
    return cnndsl.load(str(ARCHITECTURES / f"{name}.cnn"))


@pytest.fixture(scope="module")
def nets():
    return {name: load(name) for name in ("lenet5", "resnet18", "resnet50", "googlenet", "unet_small", "vgg16")}


# -- reading the SVG back ----------------------------------------------------------------------


def parse(svg: str):
    root = ET.fromstring(svg)
    groups = {"node": [], "arc": [], "edge": [], "legend": [], "title": []}
    for g in root.iter(f"{SVG}g"):
        groups[g.get("class")].append(g)
    return root, groups


def title(g) -> str:
    return g.find(f"{SVG}title").text or ""


def bbox(g) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a node's polygons and circles (its text excluded)."""
    xs, ys = [], []
    for polygon in g.iter(f"{SVG}polygon"):
        for pair in polygon.get("points").split():
            x, y = map(float, pair.split(","))
            xs.append(x)
            ys.append(y)
    for circle in g.iter(f"{SVG}circle"):
        cx, cy, r = (float(circle.get(k)) for k in ("cx", "cy", "r"))
        xs += [cx - r, cx + r]
        ys += [cy - r, cy + r]
    return min(xs), min(ys), max(xs), max(ys)


def path_points(d: str, step: float = 1.0) -> list[tuple[float, float]]:
    """Points every `step` along an SVG path of M, L and Q commands."""
    tokens = re.findall(r"[MLQ]|-?\d+(?:\.\d+)?", d)
    points, at, i = [], None, 0
    while i < len(tokens):
        command = tokens[i]
        if command == "Q":
            cx, cy, x, y = map(float, tokens[i + 1 : i + 5])
            for k in range(21):
                t = k / 20
                points.append(
                    (
                        (1 - t) ** 2 * at[0] + 2 * (1 - t) * t * cx + t * t * x,
                        (1 - t) ** 2 * at[1] + 2 * (1 - t) * t * cy + t * t * y,
                    )
                )
            at, i = (x, y), i + 5
            continue
        x, y = map(float, tokens[i + 1 : i + 3])
        if command == "L":
            n = max(int(max(abs(x - at[0]), abs(y - at[1])) / step), 1)
            points += [(at[0] + (x - at[0]) * k / n, at[1] + (y - at[1]) * k / n) for k in range(n + 1)]
        at, i = (x, y), i + 3
    return points


def blocks_svg(net, depth=None) -> str:
    return str(net.render(style="blocks", depth=depth))


# -- what should be drawn, from the graph --------------------------------------------------------


def expected_groups(net, depth) -> list[list]:
    """Nodes grouped as drawn at `depth`: a block deeper than it is one group, in first-node order."""
    groups: dict = {}
    for node in net.graph.nodes():
        key = node.scope[: depth + 1] if len(node.scope) > depth else node.name
        groups.setdefault(key, []).append(node)
    return list(groups.values())


def expected_arcs(net, depth) -> int:
    """Distinct links between drawn nodes that are not next to each other."""
    groups = expected_groups(net, depth)
    where = {node.name: i for i, group in enumerate(groups) for node in group}
    links = {(where[s], where[n.name]) for n in net.graph.nodes() for s in n.inputs if where[s] != where[n.name]}
    return sum(1 for a, b in links if b != a + 1)


# -- structure ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "depth"), [("lenet5", FULL), ("resnet18", FULL), ("resnet50", 1), ("googlenet", 2)])
def test_one_box_per_drawn_node_and_one_arc_per_skip_or_branch(nets, name, depth):
    _, groups = parse(blocks_svg(nets[name], depth))
    assert len(groups["node"]) == len(expected_groups(nets[name], depth))
    assert len(groups["arc"]) == expected_arcs(nets[name], depth)


def test_resnet18_arcs_by_hand(nets):
    """Whole ResNet-18: one skip arc per basic block (8), and in each of the three
    downsampling blocks a second arc, into the 1x1 projection or over it to the add."""
    _, groups = parse(blocks_svg(nets["resnet18"]))
    assert len(groups["node"]) == len(nets["resnet18"].graph)  # 70 layers: small enough to draw whole
    assert len(groups["arc"]) == 8 + 3
    adds = [g for g in groups["node"] if g.find(f"{SVG}circle") is not None]
    assert len(adds) == 8


def test_paper_counts(nets):
    _, groups = parse(blocks_svg(nets["resnet50"], FULL))
    assert sum(": conv " in title(g) for g in groups["node"]) == 53  # He et al. 2015: 49 + 4 projections
    _, groups = parse(blocks_svg(nets["googlenet"]))
    concats = [g for g in groups["node"] if g.find(f"{SVG}circle") is not None]
    assert len(concats) == 9  # Szegedy et al. 2014: inception 3a, 3b, 4a-4e, 5a, 5b


def test_lenet_shapes_are_labelled(nets):
    _, groups = parse(blocks_svg(nets["lenet5"]))
    texts = {t.text for g in groups["node"] for t in g.iter(f"{SVG}text")}
    maps = ("6x28x28", "6x14x14", "16x10x10", "16x5x5", "120", "84", "10")  # LeCun et al. 1998, C1 to F6
    assert {m.replace("x", "\u00d7") for m in maps} <= texts


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "googlenet", "unet_small"])
def test_no_arc_crosses_a_box(nets, name):
    _, groups = parse(blocks_svg(nets[name]))
    assert groups["arc"] or name == "lenet5"
    assert_no_crossing(groups)


@pytest.mark.slow
@pytest.mark.parametrize("path", architecture_files(), ids=lambda p: p.stem)
def test_every_architecture_draws_as_blocks(path):
    net = cnndsl.load(str(path))
    root, groups = parse(blocks_svg(net))
    assert len(groups["node"]) >= 2 and float(root.get("height")) <= 500
    assert_no_crossing(groups)


def assert_no_crossing(groups) -> None:
    """A box is the bounding box of its polygons; a merge, its circle."""
    boxes = [bbox(g) for g in groups["node"] if g.find(f"{SVG}circle") is None]
    discs = [[float(c.get(k)) for k in ("cx", "cy", "r")] for g in groups["node"] for c in g.iter(f"{SVG}circle")]
    for arc in groups["arc"]:
        for x, y in path_points(arc.find(f"{SVG}path").get("d")):
            inside = [b for b in boxes if b[0] + 0.5 < x < b[2] - 0.5 and b[1] + 0.5 < y < b[3] - 0.5]
            inside += [d for d in discs if (x - d[0]) ** 2 + (y - d[1]) ** 2 < (d[2] - 0.5) ** 2]
            assert not inside, f"{title(arc)} passes through a box at ({x:.1f}, {y:.1f})"


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "googlenet", "unet_small", "vgg16"])
def test_everything_is_inside_the_canvas(nets, name):
    root, groups = parse(blocks_svg(nets[name]))
    width, height = float(root.get("width")), float(root.get("height"))
    for text in root.iter(f"{SVG}text"):
        x, y, size = float(text.get("x")), float(text.get("y")), float(text.get("font-size"))
        span = WIDTH_PER_CHAR * size * len(text.text)
        left = {"start": x, "middle": x - span / 2, "end": x - span}[text.get("text-anchor")]
        assert left >= 0 and left + span <= width, text.text
        assert y - size >= 0 and y + 0.3 * size <= height, text.text
    for g in groups["node"]:
        x0, y0, x1, y1 = bbox(g)
        assert x0 >= 0 and x1 <= width and y0 >= 0 and y1 <= height


def test_labels_do_not_overlap(nets):
    _, groups = parse(blocks_svg(nets["googlenet"]))
    spans = {}
    for g in groups["node"]:
        for text in g.iter(f"{SVG}text"):
            x, size = float(text.get("x")), float(text.get("font-size"))
            half = 0.6 * size * len(text.text) / 2
            spans.setdefault(text.get("y"), []).append((x - half, x + half))
    for row in spans.values():
        row.sort()
        assert all(a[1] <= b[0] for a, b in zip(row, row[1:]))


def test_width_bound_and_scales_that_fit(nets):
    root, _ = parse(blocks_svg(nets["resnet18"]))
    assert float(root.get("width")) <= 4000  # the whole network, every layer a box
    for net in (nets["vgg16"], load("resnet152")):
        root, groups = parse(blocks_svg(net))
        assert float(root.get("height")) <= 400
        assert all(bbox(g)[3] - bbox(g)[1] <= 200 for g in groups["node"])


def _front(g):
    """Width and height of a node's first polygon, its front face."""
    pts = [tuple(map(float, p.split(","))) for p in g.find(f"{SVG}polygon").get("points").split()]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return max(xs) - min(xs), max(ys) - min(ys), pts


def test_depth_grows_with_channels_and_face_with_size(nets):
    _, groups = parse(blocks_svg(nets["resnet18"]))
    convs = []
    for g in groups["node"]:
        if ": conv " in title(g):
            shape = [t.text for t in g.iter(f"{SVG}text")][1]
            channels, size = (int(v) for v in shape.split("\u00d7")[:2])
            convs.append((channels, size, *_front(g)[:2]))
    assert len({c[0] for c in convs}) == 4
    for a in convs:
        for b in convs:
            if a[0] < b[0]:
                assert a[2] < b[2]  # more channels: a thicker box
            if a[1] < b[1]:
                assert a[3] < b[3]  # a larger feature map: a taller face


def test_pooling_narrows(nets):
    _, groups = parse(blocks_svg(nets["lenet5"]))
    pools = [g for g in groups["node"] if "pool" in title(g)]
    assert len(pools) == 2
    for g in pools:
        pts = _front(g)[2]
        left = [y for x, y in pts if x == min(p[0] for p in pts)]
        right = [y for x, y in pts if x == max(p[0] for p in pts)]
        assert max(right) - min(right) < max(left) - min(left)


def test_merge_symbols():
    net = cnndsl.loads(
        "network M { input x: [4, 8, 8]\n"
        "a = conv(4, 1)\n b = conv(4, 1)\n"
        "c = add { a\n b }\n d = mul { a\n c }\n concat { b\n d } }"
    )
    _, groups = parse(blocks_svg(net))
    merges = {title(g).split(": ")[0]: g for g in groups["node"] if g.find(f"{SVG}circle") is not None}
    assert len(merges) == 3

    def strokes(g):
        out = []
        for path in g.iter(f"{SVG}path"):
            (x0, y0), *_, (x1, y1) = path_points(path.get("d"))
            out.append("-" if y0 == y1 else "|" if x0 == x1 else "/")
        return sorted(out)

    kinds = {name.rstrip("0123456789"): strokes(g) for name, g in merges.items()}
    assert kinds == {"add": ["-", "|"], "mul": ["/", "/"], "concat": ["|", "|"]}


def test_colours_have_a_legend(nets):
    _, groups = parse(blocks_svg(nets["resnet18"]))
    legend = groups["legend"][0]
    swatches = {p.get("fill") for p in legend.iter(f"{SVG}polygon")}
    swatches |= {c.get("fill") for c in legend.iter(f"{SVG}circle")}
    texts = {t.text for t in legend.iter(f"{SVG}text")}
    assert {"convolution", "normalization", "activation", "pooling", "add"} <= texts
    for g in groups["node"]:
        first = g.find(f"{SVG}polygon")
        fill = first.get("fill") if first is not None else g.find(f"{SVG}circle").get("fill")
        assert fill in swatches


def test_depth_collapses_and_blocks_are_outlined(nets):
    _, groups = parse(blocks_svg(nets["resnet50"], 0))
    assert len(groups["node"]) == len(expected_groups(nets["resnet50"], 0))
    stages = {n.scope[:1] for n in nets["resnet50"].nodes if n.scope}
    assert sum("layers)" in title(g) for g in groups["node"]) == len(stages)
    assert "collapsed block (outline)" in {t.text for t in groups["legend"][0].iter(f"{SVG}text")}


# -- formats, the command and the API ------------------------------------------------------------


def test_tikz_structure(nets, tmp_path):
    out = tmp_path / "fig.tex"
    nets["unet_small"].render(str(out), style="blocks")
    text = out.read_text()
    _, groups = parse(blocks_svg(nets["unet_small"]))
    assert text.count("\\begin{tikzpicture}") == text.count("\\end{tikzpicture}") == 1
    assert text.count("% node:") == len(groups["node"])
    assert text.count("% arc:") == len(groups["arc"])
    assert text.count("{") == text.count("}") + text.count("\\{") - text.count("\\}")
    assert "\u00d7" not in text and "$\\times$" in text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (texlive-latex-base)")
@pytest.mark.parametrize("name", ["lenet5", "googlenet"])
def test_tikz_compiles_with_latex(nets, name, tmp_path):
    nets[name].render(str(tmp_path / "fig.tex"), style="blocks")
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{tikz}\n\\begin{document}\n"
        "\\resizebox{\\textwidth}{!}{\\input{fig.tex}}\n\\end{document}\n"
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "doc.pdf").read_bytes().startswith(b"%PDF")


def test_png_and_pdf(nets, tmp_path):
    pytest.importorskip("matplotlib")
    net = nets["lenet5"]
    root, _ = parse(blocks_svg(net))
    net.render(str(tmp_path / "f.png"), style="blocks")
    data = (tmp_path / "f.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert abs(width - 1.5 * float(root.get("width"))) <= 2 and abs(height - 1.5 * float(root.get("height"))) <= 2
    net.render(str(tmp_path / "f.pdf"), style="blocks")
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")


def test_cli(tmp_path, capsys):
    path = str(ARCHITECTURES / "lenet5.cnn")
    assert main(["render", path, "-o", str(tmp_path / "a.svg"), "--style", "blocks"]) == 0
    _, groups = parse((tmp_path / "a.svg").read_text())
    assert len(groups["node"]) == 13
    assert main(["render", path, "-o", str(tmp_path / "a.tex"), "--style", "blocks", "--depth", "0"]) == 0
    assert "\\begin{tikzpicture}" in (tmp_path / "a.tex").read_text()
    capsys.readouterr()
    assert main(["render", path, "-o", str(tmp_path / "a.dot"), "--style", "blocks"]) == 2
    assert "E0810" in capsys.readouterr().err
    assert main(["render", path, "-o", str(tmp_path / "a.tex")]) == 2
    assert "--style blocks" in capsys.readouterr().err
    assert not (tmp_path / "a.dot").exists()


def test_api_and_jupyter(nets, monkeypatch):
    picture = nets["lenet5"].render(style="blocks")
    assert picture._repr_svg_() == str(picture)
    ET.fromstring(picture)
    with pytest.raises(cnndsl.CnnError, match="unknown render style"):
        nets["lenet5"].render(style="block")
    monkeypatch.setattr(render_module, "find_renderer", lambda *args, **kwargs: None)
    assert 'class="node"' in nets["lenet5"]._repr_svg_()  # no Graphviz: the block diagram instead


def test_svg_is_written_atomically(nets, tmp_path):
    out = tmp_path / "f.svg"
    out.write_text("old")
    with pytest.raises(cnndsl.CnnError):
        nets["lenet5"].render(str(tmp_path / "missing" / "f.svg"), style="blocks")
    assert out.read_text() == "old"


def test_png_without_matplotlib_says_what_to_install(nets, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(cnndsl.CnnError, match="matplotlib") as caught:
        nets["lenet5"].render(str(tmp_path / "f.png"), style="blocks")
    assert caught.value.code == "E0812" and "cnndsl[figures]" in caught.value.diagnostics[0].hint
    assert not (tmp_path / "f.png").exists()
    nets["lenet5"].render(str(tmp_path / "f.svg"), style="blocks")  # SVG needs nothing
