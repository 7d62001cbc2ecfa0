"""The ONNX file writer: a model and its weights streamed to disk atomically.

Kept apart from :mod:`cnndsl.backends.onnx` (which builds the ModelProto) so that
building a model and writing bytes are read and changed separately.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import usage_error
from ..files import atomic_path, output_target, remove_stale, temporary_prefix
from .onnx_proto import DataType, pb


def little_endian(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype="<f4")


def write(model, arrays, path: str | os.PathLike) -> None:
    """`model` plus the weights `arrays` ((name, array) pairs) as initializers, streamed to `path` atomically.

    Serialising hundreds of megabytes through protobuf copies them twice; the
    weights are instead written straight from numpy after the model, each as
    one more occurrence of `ModelProto.graph` holding one initializer. Protobuf
    merges repeated occurrences of a message field, so readers see one graph
    with the initializers appended in order.

    The model is renamed into place complete, but not synced to disk: like a
    compiler's output it is made again from its sources by running the command
    again, and waiting for the disk grows with the model (docs/onnx.md, "Files").
    Weight files, which may hold a training run, are synced
    (:func:`cnndsl.files.write_bytes`).
    """
    with atomic_path(path) as temporary, open(temporary, "wb") as f:
        f.write(model.SerializeToString())
        for name, array in arrays:
            f.write(_initializer_frame(name, array))
            f.write(memoryview(little_endian(array)).cast("B"))


def _field(message: str, field: str) -> int:
    return getattr(pb(), message).DESCRIPTOR.fields_by_name[field].number


def _initializer_frame(name: str, array: np.ndarray) -> bytes:
    """The bytes before the raw data: graph { initializer { name, dims, type, raw_data length } }."""
    tensor = pb().TensorProto(name=name, dims=array.shape, data_type=DataType.FLOAT).SerializeToString()
    tensor += _key(_field("TensorProto", "raw_data"), array.nbytes)
    initializer = _key(_field("GraphProto", "initializer"), len(tensor) + array.nbytes) + tensor
    return _key(_field("ModelProto", "graph"), len(initializer) + array.nbytes) + initializer


def _key(field: int, length: int) -> bytes:
    """A length-delimited field's tag and length (protobuf wire type 2)."""
    return _varint(field << 3 | 2) + _varint(length)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def save_external(model, path: Path) -> None:
    """Model and `<name>.data` written in a temporary folder beside `path`, then moved into place.

    Only models over 2 GiB come here; onnx writes them, so they must be built on onnx's own
    classes (import onnx before building: see :func:`cnndsl.backends.onnx.compile_file`).
    """
    import onnx

    path, stream = output_target(path)
    if stream:
        raise usage_error(f"cannot write {path}: a model with external data needs a regular file", "E0801")
    location = path.name + ".data"
    folder = path.parent if str(path.parent) else Path(".")
    remove_stale(folder, path.name)
    try:
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=temporary_prefix(path.name), suffix=".tmp"))
    except OSError as exc:
        raise usage_error(f"cannot write {path}: {exc.strerror}", "E0801") from None
    try:
        onnx.save_model(model, staging / path.name, save_as_external_data=True, location=location, size_threshold=0)
        for name in (location, path.name):
            os.chmod(staging / name, 0o644)
        os.replace(staging / location, folder / location)
        os.replace(staging / path.name, path)
    except OSError as exc:
        raise usage_error(f"cannot write {path}: {exc.strerror}", "E0801") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
