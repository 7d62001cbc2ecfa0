"""A block-diagram scene as TikZ (for LaTeX papers) or as PNG / PDF drawn by matplotlib.

The TikZ picture needs only ``\\usepackage{tikz}``: `\\input{fig.tex}` it in
a document. matplotlib is the optional extra `figures`
(``pip install 'cnndsl[figures]'``); it is imported only here, when a PNG or
PDF is asked for.
"""

from __future__ import annotations

import io

from ..errors import usage_error
from .blocks_layout import Scene

PX = 0.5  # TikZ: one SVG pixel is half a point, so ResNet-18 fits a column at scale=0.5
DPI = 150  # PNG: 1.5 pixels per SVG pixel, sharp enough for slides
LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\u00d7": r"$\times$",
    "\u2192": r"$\rightarrow$",
}


# -- TikZ ----------------------------------------------------------------------------------


def tikz(scene: Scene) -> str:
    """The scene as a `tikzpicture` (y grows downwards, as in the SVG)."""
    colours = _colour_names(scene)
    out = [
        "% A cnndsl block diagram; needs \\usepackage{tikz}. Include it with \\input{this-file}.",
        *[f"\\definecolor{{{name}}}{{HTML}}{{{hex_[1:].upper()}}}" for hex_, name in colours.items()],
        f"\\begin{{tikzpicture}}[x={PX}pt, y=-{PX}pt, font=\\sffamily, line join=round]",
        f"\\useasboundingbox (0,0) rectangle ({scene.width:g},{scene.height:g});",
    ]
    for group in scene.groups:
        out.append(f"% {group.role}: {_plain(group.title)}")
        out += [_tikz_shape(shape, colours) for shape in group.shapes]
    out.append("\\end{tikzpicture}")
    return "\n".join(out) + "\n"


def _colour_names(scene: Scene) -> dict[str, str]:
    found = {s.fill for g in scene.groups for s in g.shapes} | {s.stroke for g in scene.groups for s in g.shapes}
    found.discard("none")
    return {colour: f"cnn{colour[1:].lower()}" for colour in sorted(found)}


def _tikz_shape(shape, colours) -> str:
    line = f"line width={shape.width * PX:.2f}pt"
    if shape.kind == "polygon":
        corners = " -- ".join(f"({x:.1f},{y:.1f})" for x, y in shape.points)
        return f"\\filldraw[fill={colours[shape.fill]}, draw={colours[shape.stroke]}, {line}] {corners} -- cycle;"
    if shape.kind == "circle":
        (x, y), r = shape.points[0], shape.radius
        paint = f"fill={colours[shape.fill]}, draw={colours[shape.stroke]}, {line}"
        return f"\\filldraw[{paint}] ({x:.1f},{y:.1f}) circle ({r * PX:.2f}pt);"
    if shape.kind == "path":
        return f"\\draw[{colours[shape.stroke]}, {line}] {_tikz_path(shape.points)};"
    (x, y) = shape.points[0]
    anchor = {"start": "base west", "middle": "base", "end": "base east"}[shape.anchor]
    text = _latex(shape.text)
    text = f"\\textbf{{{text}}}" if shape.bold else text
    size = f"\\sffamily\\fontsize{{{shape.size * PX:.1f}}}{{{shape.size * PX * 1.2:.1f}}}\\selectfont"
    style = f"anchor={anchor}, inner sep=0pt, text={colours[shape.fill]}, font={size}"
    return f"\\node[{style}] at ({x:.1f},{y:.1f}) {{{text}}};"


def _tikz_path(points) -> str:
    parts, last = [], (0.0, 0.0)
    for command, *values in points:
        if command == "Q":  # a quadratic corner as TikZ's cubic: controls 2/3 of the way to the control point
            cx, cy, x, y = values
            (px, py) = last
            c1 = (px + 2 * (cx - px) / 3, py + 2 * (cy - py) / 3)
            c2 = (x + 2 * (cx - x) / 3, y + 2 * (cy - y) / 3)
            parts.append(f".. controls ({c1[0]:.1f},{c1[1]:.1f}) and ({c2[0]:.1f},{c2[1]:.1f}) .. ({x:.1f},{y:.1f})")
        else:
            x, y = values
            parts.append(("" if command == "M" else "-- ") + f"({x:.1f},{y:.1f})")
        last = (values[-2], values[-1])
    return " ".join(parts)


def _latex(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(c, c) if c in LATEX_SPECIAL or c.isascii() else "?" for c in text)


def _plain(text: str) -> str:
    return "".join(c if c.isascii() and c not in "\n\r" else "?" for c in text)


# -- matplotlib ------------------------------------------------------------------------------


def raster(scene: Scene, fmt: str) -> bytes:
    """The scene drawn by matplotlib as PNG or PDF bytes."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        raise usage_error(
            f"writing {fmt.upper()} block diagrams needs matplotlib",
            "E0812",
            "pip install 'cnndsl[figures]' (or pip install matplotlib); .svg and .tex need nothing",
        ) from None
    figure = Figure(figsize=(scene.width / 100, scene.height / 100), dpi=100)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, scene.width)
    axes.set_ylim(scene.height, 0)
    axes.set_axis_off()
    for group in scene.groups:
        for shape in group.shapes:
            _draw(axes, shape)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=DPI if fmt == "png" else 100, facecolor="white")
    return buffer.getvalue()


def _draw(axes, shape) -> None:
    from matplotlib.patches import Circle, PathPatch, Polygon
    from matplotlib.path import Path

    points_per_px = 72 / 100  # the figure has 100 dpi: one scene unit is one pixel
    width = shape.width * points_per_px
    if shape.kind == "polygon":
        axes.add_patch(Polygon(shape.points, closed=True, facecolor=shape.fill, edgecolor=shape.stroke, lw=width))
    elif shape.kind == "circle":
        patch = Circle(shape.points[0], shape.radius, facecolor=shape.fill, edgecolor=shape.stroke, lw=width)
        axes.add_patch(patch)
    elif shape.kind == "path":
        vertices, codes = _mpl_path(shape.points, Path)
        axes.add_patch(PathPatch(Path(vertices, codes), facecolor="none", edgecolor=shape.stroke, lw=width))
    else:
        (x, y) = shape.points[0]
        align = {"start": "left", "middle": "center", "end": "right"}[shape.anchor]
        weight = "bold" if shape.bold else "normal"
        size = shape.size * points_per_px
        axes.text(x, y, shape.text, ha=align, va="baseline", fontsize=size, color=shape.fill, fontweight=weight)


def _mpl_path(points, path_class):
    vertices, codes = [], []
    for command, *values in points:
        if command == "Q":
            vertices += [(values[0], values[1]), (values[2], values[3])]
            codes += [path_class.CURVE3, path_class.CURVE3]
        else:
            vertices.append((values[0], values[1]))
            codes.append(path_class.MOVETO if command == "M" else path_class.LINETO)
    return vertices, codes
