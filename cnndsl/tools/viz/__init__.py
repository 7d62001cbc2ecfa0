"""See inside a network: feature maps, filters and occlusion maps (docs/visualise.md).

The numbers come from onnxruntime (one session per call, named values taken as
extra outputs) and are returned as numpy arrays; :mod:`.draw` turns them into
matplotlib figures (shown inline in Jupyter) and PNG files.

>>> import cnndsl, numpy as np
>>> net = cnndsl.loads("network T { input x: [1, 6, 6]; conv(2, 3, pad=1, weights=box) -> relu }")
>>> maps = net.feature_maps(np.ones((1, 6, 6), np.float32), ["conv1"])
>>> maps["conv1"].shape, float(maps["conv1"][0, 2, 2])
((2, 6, 6), 1.0)
"""

from __future__ import annotations

import numpy as np

from ...errors import usage_error
from . import model
from .occlusion import occlude


def feature_maps(network, image, layers, weights=None, seed: int = 0, notes: list | None = None) -> dict:
    """{layer: float32 [C, H, W]}: the feature maps of the named layers or bound values for
    one `image` (an array [C, H, W], a .npy file or an image file), from one session."""
    if isinstance(layers, str):
        layers = [layers]
    if not layers:
        raise usage_error("name at least one layer (--layer NAME)", "E0910")
    pixels, note = model.load_image(image, model.input_shape(network))
    session, indices, loaded = model.maps_session(network, list(layers), weights, seed)
    _note(notes, [note, *loaded])
    values = session.run(None, {session.get_inputs()[0].name: pixels[None]})
    return {name: values[i][0] for name, i in zip(layers, indices)}


def filters(network, layer: str, weights=None, seed: int = 0) -> np.ndarray:
    """A conv layer's kernels, float32 [out, in/groups, kh, kw] (fixed kernels included)."""
    node = model.node_of(network, layer)
    _, pending, _ = model.weighted(network, weights, seed)
    named = {name: make for name, _, make in pending}
    if f"{node}/weight" not in named or len(network.graph[node].shape) != 4:
        convs = [n.name for n in network.graph.nodes() if n.op == "conv"]
        raise usage_error(
            f"`{layer}` is not a convolution with kernels",
            "E0913",
            hint=f"convolutions: {', '.join(convs[:12]) or 'none'}",
        )
    return np.asarray(named[f"{node}/weight"](), np.float32)


def occlusion(
    network,
    image,
    weights=None,
    target: int | None = None,
    patch: int = 8,
    stride: int = 4,
    fill: float = 0.5,
    seed: int = 0,
    progress: bool = False,
    notes: list | None = None,
) -> dict:
    """The occlusion map of `image` for class `target` (default: the predicted class):
    {"heat": float32 [H, W] (the drop in probability where a `patch` of value `fill`
    hides a pixel, averaged over windows), "class": k, "score": the unoccluded probability}."""
    shape = model.input_shape(network)
    pixels, note = model.load_image(image, shape)
    from .occlusion import check_window

    check_window(shape, patch, stride)
    session, _, loaded = model.maps_session(network, [], weights, seed)
    _note(notes, [note, *loaded])
    name = session.get_inputs()[0].name

    def run(batch):
        return session.run(None, {name: batch})[0]

    result = occlude(run, pixels, target, patch, stride, fill, progress)
    result["image"] = pixels
    return result


def _note(notes: list | None, lines: list[str]) -> None:
    if notes is not None:
        notes.extend(line for line in lines if line)
