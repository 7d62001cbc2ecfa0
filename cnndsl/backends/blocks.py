"""Block diagrams for papers and slides: `cnndsl render FILE -o fig.svg --style blocks`.

Each diagram node (a layer, or a block collapsed at `--depth`) is a 3D box
whose thickness shows its channels and whose face shows its spatial size;
skip connections and branches are arcs drawn above the boxes (layout in
blocks_layout.py, shapes in blocks_draw.py). This module writes the SVG
itself, with no dependency; `.tex` is a TikZ picture (blocks_output.py) and
`.png` / `.pdf` are drawn by matplotlib (`pip install 'cnndsl[figures]'`).

>>> import cnndsl
>>> net = cnndsl.loads("network Tiny { input x: [1, 8, 8]; conv(4, 3) -> relu }")
>>> picture = net.render(style="blocks")  # no path: the SVG text, shown inline in Jupyter
>>> picture.startswith("<svg") and picture.count('class="node"')
3
"""

from __future__ import annotations

from html import escape

from ..files import write_bytes, write_text
from .blocks_draw import scene
from .blocks_layout import Scene, layout
from .layout import suffix_format

FORMATS = ("svg", "png", "pdf", "tex")
FONT = "Helvetica, Arial, DejaVu Sans, sans-serif"


class Picture(str):
    """SVG text that Jupyter shows as a picture."""

    def _repr_svg_(self) -> str:
        return str(self)


def render(network, path=None, depth=None):
    """Draw `network` as blocks to `path` (.svg, .png, .pdf or .tex); return the path written.

    Without `path`, return the SVG text (a :class:`Picture`).
    """
    if path is None:
        return Picture(svg(draw(network, depth)))
    fmt = check_format(path)
    picture = draw(network, depth)
    if fmt == "svg":
        write_text(path, svg(picture))
    elif fmt == "tex":
        from .blocks_output import tikz

        write_text(path, tikz(picture))
    else:
        from .blocks_output import raster

        write_bytes(path, raster(picture, fmt))
    return str(path)


def draw(network, depth=None) -> Scene:
    """The block diagram of `network` as shapes: boxes placed, then drawn."""
    return scene(network, *layout(network, depth))


def check_format(path) -> str:
    hint = "name the output .svg, .png, .pdf or .tex (TikZ)"
    return suffix_format(path, FORMATS, "draw blocks", "block-diagram", hint)


def svg(scene: Scene) -> str:
    """The scene as standalone SVG text."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{scene.width:g}" height="{scene.height:g}" '
        f'viewBox="0 0 {scene.width:g} {scene.height:g}" font-family="{FONT}">',
        f'<rect class="background" x="0" y="0" width="{scene.width:g}" height="{scene.height:g}" fill="white"/>',
    ]
    for group in scene.groups:
        out.append(f'<g class="{group.role}"><title>{escape(group.title)}</title>')
        out += [_svg_shape(shape) for shape in group.shapes]
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _svg_shape(shape) -> str:
    paint = f'fill="{shape.fill}" stroke="{shape.stroke}" stroke-width="{shape.width:g}"'
    if shape.kind == "polygon":
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in shape.points)
        return f'<polygon points="{points}" {paint} stroke-linejoin="round"/>'
    if shape.kind == "circle":
        (x, y), r = shape.points[0], shape.radius
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" {paint}/>'
    if shape.kind == "path":
        d = " ".join(p[0] + " " + " ".join(f"{v:.1f}" for v in p[1:]) for p in shape.points)
        return f'<path d="{d}" fill="none" stroke="{shape.stroke}" stroke-width="{shape.width:g}"/>'
    (x, y) = shape.points[0]
    weight = ' font-weight="bold"' if shape.bold else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{shape.size:g}" text-anchor="{shape.anchor}" '
        f'fill="{shape.fill}"{weight}>{escape(shape.text)}</text>'
    )
