"""Caffe `.prototxt` (text format, no Caffe needed) to `.cnn` (docs/import.md, Caffe).

Layers are read in file order, as Caffe runs them; each becomes one statement.
Blobs are tracked by name, so in-place layers (`top` = `bottom`) simply
replace the blob. A blob a later layer reads out of turn is bound by its
(sanitised) name. Layers of the TRAIN phase are left out. With `--weights`, a
binary `.caffemodel` fills the sidecar (`caffe_model.py`).
"""

from __future__ import annotations

from pathlib import Path

from . import Imported, caffe_layers
from .caffe_layers import CaffeReader
from .prototxt import Message, parse
from .writer import keyed, located, network, network_name, read_text


def read(path: Path, weights: Path | None = None) -> Imported:
    """Import the Caffe deploy `.prototxt` at `path` (and the `.caffemodel` `weights`, if given)."""
    return from_text(read_text(path, "E1240", "Caffe prototxt"), path, weights)


def from_text(text: str, path, weights: Path | None = None) -> Imported:
    """Import the prototxt `text` (errors name `path`)."""
    top = parse(text, path)
    reader = CaffeReader(path)
    declared_inputs(reader, top)
    layers = [f for f in top.fields if f.name in ("layer", "layers") and isinstance(f.value, Message)]
    for f in layers:
        if not training_only(f.value):
            caffe_layers.translate(reader, f.value, f.name == "layers")
    if not reader.inputs:
        raise located("E1243", "the prototxt declares no input (`input:` or an Input layer)", path, 1)
    if not reader.statements:
        raise located("E1243", "the prototxt has no layers after its input", path, 1)
    notes = list(reader.notes)
    if weights is not None:
        from .caffe_model import read_caffemodel

        notes += read_caffemodel(weights, reader.loads, path)
    source = network(model_name(top, path), reader.inputs, reader.statements, [
        f"Imported from the Caffe prototxt {Path(path).name} by `cnndsl import`."
    ])  # fmt: skip
    return Imported(source, keyed(source, reader.statements, f"<import {path}>"), notes)


def model_name(top: Message, path) -> str:
    given = top.get("name")
    return network_name(given if isinstance(given, str) and given else Path(path).stem, "Caffe")


def training_only(layer: Message) -> bool:
    include = layer.get("include")
    return isinstance(include, Message) and str(include.get("phase", "")) == "TRAIN"


def declared_inputs(reader: CaffeReader, top: Message) -> None:
    """`input: "data"` with `input_shape { dim: … }` or four `input_dim` each."""
    names = top.all("input")
    shapes = [f.value for f in top.all("input_shape")]
    dims = [f.value for f in top.all("input_dim")]
    for i, f in enumerate(names):
        if i < len(shapes) and isinstance(shapes[i], Message):
            shape = [d.value for d in shapes[i].all("dim")]
        elif len(dims) >= 4 * (i + 1):
            shape = dims[4 * i : 4 * i + 4]
        else:
            raise located("E1243", f"input `{f.value}` has no shape", reader.path, f.line, f.column, f.width,
                          "give `input_shape { dim: 1 dim: 3 dim: 224 dim: 224 }` or four `input_dim`")  # fmt: skip
        reader.add_input(str(f.value), shape, f)
