"""What the viz tools look at: the model with its weights, named values as extra
outputs of one onnxruntime session, and the input image.

Nothing here imports matplotlib; onnxruntime is imported when a session opens.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...backends import runtime
from ...backends.onnx import assemble, attach, with_weights
from ...backends.onnx_proto import value_info
from ...errors import did_you_mean, usage_error


def weighted(network, weights=None, seed: int = 0) -> tuple:
    """(model without initializers, pending weights) with `weights` applied: a path
    (.safetensors, .npz, .pt) or a {tensor name: array} mapping; notes go to the caller."""
    model, pending = assemble(network, seed)
    notes: list[str] = []
    if isinstance(weights, (str, os.PathLike)):
        from ...backends.weightfiles import load

        weights, notes = load(network, pending, os.fspath(weights))
    return model, with_weights(pending, weights), notes


def node_of(network, name: str) -> str:
    """The graph node a layer name or bound value (`conv1`, `Trunk/conv2`, `features`) names."""
    graph = network.graph
    if name in graph.values:
        return graph.values[name].node
    if name in graph:
        return name
    choices = list(graph.values) + [n.name for n in graph.nodes()]
    hint = did_you_mean(name, choices) or f"the layers are: {_listing(choices)}"
    raise usage_error(f"the network {network.name} has no layer or value named `{name}`", "E0910", hint=hint)


def _listing(names: list[str], limit: int = 12) -> str:
    names = list(dict.fromkeys(names))
    more = f" … ({len(names) - limit} more; `cnndsl report` lists them all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def tensor_of(network, model, node: str) -> str:
    """The ONNX tensor holding graph node `node`'s output (its name, an output's name,
    or, for a layer that passes its input on unchanged, its input's tensor)."""
    graph = network.graph
    for output, producer in graph.outputs.items():
        if producer == node:
            return output
    produced = {out for n in model.graph.node for out in n.output} | {i.name for i in model.graph.input}
    if node in produced:
        return node
    renamed = sorted(p for p in produced if p.startswith(f"{node}:"))
    if renamed:
        return renamed[0]
    inputs = graph[node].inputs
    if len(inputs) == 1:
        return tensor_of(network, model, inputs[0])
    raise AssertionError(f"no ONNX tensor for the node {node}")


def maps_session(network, names: list[str], weights=None, seed: int = 0, spatial: bool = True):
    """One session whose outputs are the network's outputs and then the values `names`:
    (session, [output index of each name], notes)."""
    model, pending, notes = weighted(network, weights, seed)
    attach(model, pending)
    outputs = [o.name for o in model.graph.output]
    indices = []
    for name in names:
        node = node_of(network, name)
        shape = network.graph[node].shape[1:]  # without the batch
        if spatial and len(shape) != 3:
            raise usage_error(
                f"`{name}` has the shape {list(shape)}, not feature maps [C, H, W]",
                "E0911",
                hint=f"layers with maps: {_listing(spatial_layers(network))}",
            )
        tensor = tensor_of(network, model, node)
        if tensor not in outputs:
            model.graph.output.append(value_info(tensor, ["N", *shape]))
            outputs.append(tensor)
        indices.append(outputs.index(tensor))
    ort = runtime.import_onnxruntime()
    return runtime.open_model(ort, model, [runtime.CPU]), indices, notes


def spatial_layers(network) -> list[str]:
    return [n.name for n in network.graph.nodes() if len(n.shape) == 4]


def input_shape(network) -> tuple:
    """The one input's shape [C, H, W] (the viz tools feed one image)."""
    inputs = network.inputs
    if len(inputs) != 1 or len(inputs[0]["shape"]) != 4:
        shapes = ", ".join(f"{i['name']} {i['shape'][1:]}" for i in inputs)
        raise usage_error(f"the viz tools need one image input [C, H, W]; {network.name} has {shapes}", "E0904")
    return tuple(inputs[0]["shape"][1:])


def load_image(source, shape: tuple) -> tuple[np.ndarray, str]:
    """(float32 [C, H, W], note): an array, a .npy file or an image file (PNG, JPEG, …),
    grey or RGB as the input asks and resized to it (the note says so)."""
    channels, height, width = shape
    if isinstance(source, np.ndarray):
        return _fit(source.astype(np.float32), shape, "the image"), ""
    file = Path(source)
    if not file.is_file():
        raise usage_error(f"no such input file: {source}", "E0904")
    if file.suffix.lower() == ".npy":
        return _fit(runtime.load_input(str(file), (1, *shape))[0], shape, str(file)), ""
    if file.suffix.lower() not in runtime.IMAGE_SUFFIXES + runtime.NETPBM_SUFFIXES:
        raise usage_error(f"{source}: expected a .npy array or an image (PNG, JPEG, …)", "E0904")
    if channels not in (1, 3):
        raise usage_error(f"an image can feed a 1- or 3-channel input; this input is {list(shape)}", "E0904")
    size = _size(file)
    pixels = runtime.image(file, channels, height, width)
    note = (
        f"{source}: {size[0]}x{size[1]} image resized to the input's {width}x{height}"
        if size not in (None, (width, height))
        else ""
    )
    return pixels, note


MAX_PIXELS = 2**26
"""64 M pixels: a larger image (or a header that claims one) is refused before it is decoded."""


def _size(file: Path) -> tuple | None:
    """(width, height) from the header alone; None for PGM/PPM (runtime reads those)."""
    if file.suffix.lower() in runtime.NETPBM_SUFFIXES:
        return None
    try:
        from PIL import Image
    except ImportError:
        raise usage_error(
            f"reading {file.suffix} images needs Pillow", "E0904", hint="pip install 'cnndsl[viz]'"
        ) from None
    try:
        with Image.open(file) as img:
            size = img.size
    except (OSError, Image.DecompressionBombError) as exc:
        raise usage_error(f"cannot read the image {file}: {exc}", "E0904") from None
    if size[0] * size[1] > MAX_PIXELS:
        raise usage_error(f"{file} is a {size[0]}x{size[1]} image; the limit is {MAX_PIXELS:,} pixels", "E0904")
    return size


def _fit(array: np.ndarray, shape: tuple, where: str) -> np.ndarray:
    if array.ndim == 2 and shape[0] == 1:
        array = array[None]
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if tuple(array.shape) != tuple(shape):
        raise usage_error(f"{where} has the shape {list(array.shape)}; the input needs {list(shape)}", "E0904")
    return np.ascontiguousarray(array, np.float32)
