"""matplotlib figures of feature maps, filters and occlusion maps (returned figures show
inline in Jupyter); `save` writes one atomically. matplotlib is imported here only."""

from __future__ import annotations

import math

import numpy as np

from ...errors import usage_error
from ...files import atomic_path

COLUMNS = 8
TILE = 1.3  # inches per tile


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise usage_error("drawing needs matplotlib", "E0914", hint="pip install 'cnndsl[viz]'") from None
    if matplotlib.get_backend().lower() not in ("module://matplotlib_inline.backend_inline", "nbagg", "widget"):
        matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def _grid(rows: int, cols: int):
    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(TILE * cols, TILE * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    plt.close(fig)  # returned, not kept by pyplot (no double display in Jupyter)
    return fig, axes


def maps_figure(maps: dict, max_maps: int = 32, scale: str = "shared"):
    """A labelled grid per layer: its first `max_maps` channels; one colour scale per layer
    (`shared`) or one per map (`each`)."""
    shown = {name: value[:max_maps] for name, value in maps.items()}
    cols = min(COLUMNS, max(len(v) for v in shown.values()))
    heights = {name: math.ceil(len(v) / cols) for name, v in shown.items()}
    fig, axes = _grid(sum(heights.values()), cols)
    row = 0
    for name, value in shown.items():
        low, high = float(value.min()), float(value.max())
        for k, channel in enumerate(value):
            ax = axes[row + k // cols, k % cols]
            ax.set_frame_on(True)
            limits = {"vmin": low, "vmax": high} if scale == "shared" else {}
            ax.imshow(channel, cmap="viridis", **limits)
            ax.set_title(f"{name}[{k}]", fontsize=7)
        total = len(maps[name])
        axes[row, 0].set_ylabel(f"{name}\n{total} maps" + (f", {len(value)} shown" if total > len(value) else ""))
        row += heights[name]
    fig.tight_layout()
    return fig


def filter_tiles(kernels: np.ndarray, rgb: bool) -> list[tuple[str, np.ndarray]]:
    """(label, tile) pairs: one RGB tile per filter, or one grey tile per filter and input channel;
    each tile scaled to 0..1 on its own."""
    if rgb:
        return [(f"{k}", _unit(w.transpose(1, 2, 0))) for k, w in enumerate(kernels)]
    return [(f"{k}.{c}", _unit(w)) for k, per_input in enumerate(kernels) for c, w in enumerate(per_input)]


def _unit(array: np.ndarray) -> np.ndarray:
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.full_like(array, 0.5)


def filters_figure(kernels: np.ndarray, rgb: bool, name: str, max_maps: int = 64):
    """The kernels of one layer as tiles: RGB on a 3-channel first layer, greys otherwise."""
    tiles = filter_tiles(kernels, rgb)[:max_maps]
    cols = min(COLUMNS, len(tiles))
    fig, axes = _grid(math.ceil(len(tiles) / cols), cols)
    for k, (label, tile) in enumerate(tiles):
        ax = axes[k // cols, k % cols]
        ax.imshow(tile, cmap=None if rgb else "gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(label, fontsize=7)
    shape = "x".join(map(str, kernels.shape))
    fig.suptitle(f"{name}: {shape} kernels" + (", RGB" if rgb else ", per input channel"), fontsize=9)
    fig.tight_layout()
    return fig


def occlusion_figure(result: dict, title: str = ""):
    """The image, and the occlusion heat drawn over it."""
    fig, axes = _grid(1, 2)
    image = result["image"]
    picture = image[0] if len(image) == 1 else _unit(image[:3].transpose(1, 2, 0))
    axes[0, 0].imshow(picture, cmap="gray")
    axes[0, 0].set_title("image", fontsize=8)
    limit = float(np.abs(result["heat"]).max()) or 1.0
    axes[0, 1].imshow(picture, cmap="gray")
    shown = axes[0, 1].imshow(result["heat"], cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=0.6)
    axes[0, 1].set_title(f"class {result['class']} (p={result['score']:.2f}): drop", fontsize=8)
    fig.colorbar(shown, ax=axes[0, 1], fraction=0.046)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.set_size_inches(6, 3)
    fig.tight_layout()
    return fig


def save(fig, path: str) -> None:
    """Write the figure (PNG, SVG or PDF by the suffix) atomically."""
    suffix = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else "png"
    if suffix not in ("png", "svg", "pdf"):
        raise usage_error(f"cannot draw to {path}: expected a .png, .svg or .pdf file", "E0914")
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format=suffix, dpi=100)
