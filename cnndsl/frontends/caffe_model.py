"""Caffe's binary `.caffemodel` (a `NetParameter` protobuf), decoded by hand without protobuf.

Only what the sidecar needs is read: each layer's `name` and its `blobs`
(`LayerParameter` fields 1, 2 and 7; the old `V1LayerParameter`, fields 4, 5
and 6), each blob's `data` (packed or not, or `double_data`) and its `shape`.
Every length is checked against the bytes left, so a truncated or damaged
file is an error, never a crash or an overlong read. Blobs are matched to the
prototxt's layers by name: Convolution and InnerProduct give weight and bias,
BatchNorm mean, variance and the moving-average factor they are divided by,
Scale the scale and shift of the `bn` before it.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..errors import Diagnostic, UsageError
from ..files import read_limited
from .writer import located

MAX_BYTES = 4 * 2**30


class Truncated(Exception):
    pass


def _bad(path, message: str, hint: str = "") -> UsageError:
    return UsageError(Diagnostic("E1247", f"Caffe weights {path}: {message}", hint=hint))


def _varint(data: bytes, at: int, end: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= end or shift > 63:
            raise Truncated("a varint runs past its message")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if byte < 0x80:
            return value, at


def fields(data: bytes, start: int, end: int):
    """(field number, wire type, value) of one message: an int, or (start, end) of the bytes."""
    at = start
    while at < end:
        key, at = _varint(data, at, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at, end)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if at + size > end:
                raise Truncated(f"field {number} needs {size} bytes, {end - at} are left")
            value, at = (at, at + size), at + size
        elif wire == 2:
            length, at = _varint(data, at, end)
            if at + length > end:
                raise Truncated(f"field {number} claims {length:,} bytes, {end - at:,} are left")
            value, at = (at, at + length), at + length
        else:
            raise Truncated(f"field {number} has wire type {wire}, which Caffe never writes")
        yield number, wire, value


def _blob(data: bytes, start: int, end: int) -> np.ndarray:
    parts, doubles, dims, legacy = [], [], [], {}
    for number, wire, value in fields(data, start, end):
        if number == 5:
            parts.append(np.frombuffer(data[value[0] : value[1]], dtype="<f4"))
        elif number == 8:
            doubles.append(np.frombuffer(data[value[0] : value[1]], dtype="<f8"))
        elif number == 7 and wire == 2:
            for n, w, v in fields(data, *value):
                if n == 1 and w == 2:
                    at = v[0]
                    while at < v[1]:
                        d, at = _varint(data, at, v[1])
                        dims.append(d)
                elif n == 1:
                    dims.append(v)
        elif number in (1, 2, 3, 4) and wire == 0:
            legacy[number] = value
    values = np.concatenate(parts or doubles or [np.zeros(0, np.float32)]).astype(np.float32)
    shape = dims or [legacy.get(i, 1) for i in (1, 2, 3, 4)]
    return values if prod(shape) != values.size else values.reshape(shape)


def _layers(data: bytes) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for number, wire, value in fields(data, 0, len(data)):
        if wire != 2 or number not in (100, 2):
            continue
        name_field, blob_field = (1, 7) if number == 100 else (4, 6)
        name, blobs = "", []
        for n, w, v in fields(data, *value):
            if n == name_field and w == 2:
                name = data[v[0] : v[1]].decode("utf-8", errors="replace")
            elif n == blob_field and w == 2:
                blobs.append(_blob(data, *v))
        if blobs:
            out[name] = blobs
    return out


def read_caffemodel(path, loads: list[tuple], prototxt) -> list[str]:
    """Fill each load's statement with its tensors from the `.caffemodel` at `path`."""
    try:
        data = read_limited(path, MAX_BYTES)
    except OSError as exc:
        raise _bad(path, f"cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise _bad(path, f"is larger than {MAX_BYTES // 2**30} GiB")
    try:
        layers = _layers(data)
    except Truncated as exc:
        raise _bad(path, f"is truncated or not a caffemodel: {exc}") from None
    for name, where, statement, slots in loads:
        at = where.first("name") or where
        blobs = layers.get(name)
        problem = _mismatch(name, blobs, slots)
        if problem:
            raise located("E1247", problem, prototxt, at.line, at.column, 4, f"the weights come from {path}")
        statement.tensors += [(kind, role, blob.reshape(shape)) for (kind, role, shape), blob in zip(slots, blobs)]
    for statement in {id(load[2]): load[2] for load in loads}.values():
        statement.tensors = _batch_norm(statement.tensors)
    return []


def _mismatch(name: str, blobs, slots) -> str:
    if blobs is None:
        return f"the caffemodel has no blobs for layer `{name}`"
    if len(blobs) != len(slots):
        return f"layer `{name}` has {len(blobs)} blobs in the caffemodel, {len(slots)} expected"
    for (_, role, shape), blob in zip(slots, blobs):
        if blob.size != prod(shape):
            return f"the {role} blob of `{name}` holds {blob.size:,} values, the layer needs {list(shape)}"
    return ""


def _batch_norm(tensors: list[tuple]) -> list[tuple]:
    """Caffe keeps sums: mean and variance are divided by the moving-average factor; `bn` needs scale and shift."""
    roles = {role: array for kind, role, array in tensors if kind == "bn"}
    if not roles:
        return tensors
    factor = float(roles.pop("factor", np.ones(1)).ravel()[0])
    factor = 1.0 / factor if factor != 0 else 0.0
    channels = roles["mean"].shape
    roles["mean"], roles["var"] = roles["mean"] * factor, roles["var"] * factor
    roles.setdefault("scale", np.ones(channels, np.float32))
    roles.setdefault("shift", np.zeros(channels, np.float32))
    others = [t for t in tensors if t[0] != "bn"]
    return others + [("bn", role, array.astype(np.float32)) for role, array in roles.items()]
