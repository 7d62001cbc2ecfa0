"""The ONNX file writer: a model and its weights streamed to disk atomically.

Kept apart from :mod:`cnndsl.backends.onnx` (which builds the ModelProto) so that
building a model and writing bytes are read and changed separately.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import usage_error
from ..files import atomic_path, output_target, remove_stale, temporary_prefix
from .onnx_proto import DataType, pb


def little_endian(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype="<f4")


PIECE = 1 << 18
"""Floats drawn at a time while writing (1 MiB): a few reused buffers stay in the CPU's cache."""
BUFFERS = 4
SMALL = 1 << 16
"""Bytes: a frame, or values under this size, is copied into a batch with its neighbours."""


def write(model, weights, path: str | os.PathLike) -> None:
    """`model` plus `weights` ((name, shape, :class:`~.weights.Source`) triples) as initializers,
    streamed to `path` atomically.

    Serialising hundreds of megabytes through protobuf copies them twice; the
    weights are instead written straight from numpy after the model, each as
    one more occurrence of `ModelProto.graph` holding one initializer. Protobuf
    merges repeated occurrences of a message field, so readers see one graph
    with the initializers appended in order. Random weights are drawn piece by
    piece on a second thread while the previous pieces are written
    (:func:`pieces`).

    The model is renamed into place complete, but not synced to disk: like a
    compiler's output it is made again from its sources by running the command
    again, and waiting for the disk grows with the model (docs/onnx.md, "Files").
    Weight files, which may hold a training run, are synced
    (:func:`cnndsl.files.write_bytes`).
    """
    with atomic_path(path) as temporary, open(temporary, "wb") as f:
        f.write(model.SerializeToString())
        for data in pieces(weights):
            f.write(data)


def pieces(weights) -> Iterator[memoryview]:
    """The bytes of `weights` after the model, in order: each initializer's frame, then its values.

    A drawing thread fills a few buffers in turn; each is handed back once the
    caller has written it (numpy releases the GIL while it draws, the kernel
    while it copies). Frames and small tensors travel in batches with the next
    large piece: each handover between the threads costs tens of microseconds,
    and a ResNet has hundreds of small tensors. An error on either side stops
    both: the drawing thread's is raised here, and the caller's stops the
    drawing at its next piece.
    """
    free, ready, stop = queue.Queue(), queue.Queue(BUFFERS), threading.Event()
    for _ in range(BUFFERS):
        free.put(np.empty(PIECE, np.float32))
    thread = threading.Thread(target=_draw, args=(weights, free, ready, stop), daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            parts, buffer = item
            yield from parts
            if buffer is not None:
                free.put(buffer)
    finally:
        stop.set()
        for _ in range(BUFFERS):
            free.put(np.empty(0, np.float32))  # wakes a drawing thread waiting for a buffer
        thread.join()


def _draw(weights, free: queue.Queue, ready: queue.Queue, stop: threading.Event) -> None:
    """The drawing thread of :func:`pieces`: ([bytes, ...], buffer to free or None) items, then None."""
    taken: list[np.ndarray] = []

    def take() -> np.ndarray:
        taken.append(free.get())
        return taken[-1]

    batch = bytearray()
    try:
        for name, shape, source in weights:
            left = 4 * math.prod(shape)
            batch += _initializer_frame(name, shape, left)
            for piece in source.pieces(take):
                if stop.is_set():
                    return
                data, buffer = memoryview(little_endian(piece)).cast("B"), taken.pop() if taken else None
                left -= len(data)
                if len(data) >= SMALL:
                    _put(ready, stop, ([batch, data], buffer))
                    batch = bytearray()
                    continue
                batch += data
                if buffer is not None:
                    free.put(buffer)
                if len(batch) >= SMALL:
                    _put(ready, stop, ([batch], None))
                    batch = bytearray()
            if left:
                raise ValueError(f"{name}: the values do not fill the shape {shape}")
        _put(ready, stop, ([batch], None))
        _put(ready, stop, None)
    except BaseException as exc:  # noqa: BLE001 (handed to the writing thread, which raises it)
        _put(ready, stop, exc)


def _put(ready: queue.Queue, stop: threading.Event, item) -> None:
    """Hand one item to the writer, unless it has stopped reading."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _field(message: str, field: str) -> int:
    return getattr(pb(), message).DESCRIPTOR.fields_by_name[field].number


def _initializer_frame(name: str, shape: tuple, nbytes: int) -> bytes:
    """The bytes before the raw data: graph { initializer { name, dims, type, raw_data length } }."""
    tensor = pb().TensorProto(name=name, dims=shape, data_type=DataType.FLOAT).SerializeToString()
    tensor += _key(_field("TensorProto", "raw_data"), nbytes)
    initializer = _key(_field("GraphProto", "initializer"), len(tensor) + nbytes) + tensor
    return _key(_field("ModelProto", "graph"), len(initializer) + nbytes) + initializer


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
    import shutil
    import tempfile

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
