"""Darknet's `.weights` file: a header, then float32 tensors layer by layer, nothing named.

Header: `major`, `minor`, `revision` (int32), then `seen`, images trained on
(int64 when `major*10 + minor >= 2`, int32 before). Then, for each
`[convolutional]` in order: biases `[n]`; with `batch_normalize`, scales,
rolling means and rolling variances `[n]` each; the kernel
`[n, c/groups, size, size]`. A `[connected]` layer: biases `[out]`, the matrix
`[out, in]`, then (with `batch_normalize`) scales, means and variances. The
file's size is checked against what the cfg needs before any of it is read.
"""

from __future__ import annotations

import os
import struct
from math import prod

import numpy as np

from ..errors import Diagnostic, UsageError
from ..files import read_limited
from .writer import located


def _bad(path, message: str, hint: str = "") -> UsageError:
    return UsageError(Diagnostic("E1227", f"Darknet weights {path}: {message}", hint=hint))


def _sizes(load) -> list[tuple[str, str, tuple]]:
    """(kind, role, shape) of one layer's tensors, in the file's order."""
    _, _, kind, shape, bn = load
    n = shape[0]
    norm = [("bn", "scale", (n,)), ("bn", "mean", (n,)), ("bn", "var", (n,))] if bn else []
    bias = ("bn", "shift", (n,)) if bn else (kind, "bias", (n,))
    if kind == "conv":
        return [bias, *norm, (kind, "weight", shape)]
    return [bias, (kind, "weight", shape), *norm]


def _header(path, head: bytes) -> int:
    """The header's length in bytes (16 or 20)."""
    if len(head) < 12:
        raise _bad(path, f"holds {len(head)} bytes, fewer than the 12-byte header")
    major, minor, _ = struct.unpack("<3i", head[:12])
    if not (0 <= major < 1000 and 0 <= minor < 1000):
        raise _bad(path, f"version {major}.{minor} is not one Darknet writes", "is it a Darknet .weights file?")
    return 20 if major * 10 + minor >= 2 else 16


def read_weights(path, loads: list[tuple], cfg) -> list[str]:
    """Fill each load's statement with its tensors; return notes for the user."""
    try:
        size = os.stat(path).st_size
        head = read_limited(path, 20)
    except OSError as exc:
        raise _bad(path, f"cannot read it ({exc.strerror or exc})") from None
    start = _header(path, head)
    need = sum(prod(shape) for load in loads for _, _, shape in _sizes(load))
    have = (size - start) // 4
    if have < need:
        _truncated(path, loads, have, cfg)
    if have > need or (size - start) % 4:
        raise _bad(path, f"holds {size - start:,} bytes of tensors, the cfg needs {4 * need:,}",
                   "the weights belong to another cfg")  # fmt: skip
    data = np.frombuffer(read_limited(path, size)[start : start + 4 * need], dtype="<f4")
    offset = 0
    for load in loads:
        statement = load[1]
        for kind, role, shape in _sizes(load):
            count = prod(shape)
            statement.tensors.append((kind, role, data[offset : offset + count].reshape(shape)))
            offset += count
    notes = [
        "Darknet weights: batch norm uses sqrt(var + 1e-5) as AlexeyAB's darknet does "
        "(pjreddie's divides by sqrt(var) + 1e-6)"
    ]
    return notes if any(load[4] for load in loads) else []


def _truncated(path, loads, have: int, cfg) -> None:
    """The located error for a file that ends inside the tensors of some layer."""
    total = 0
    for load in loads:
        count = sum(prod(shape) for _, _, shape in _sizes(load))
        if total + count > have:
            section = load[0]
            message = (
                f"the weights file {path} ends {4 * (have - total):,} bytes into this layer's "
                f"{4 * count:,} (it holds {4 * have:,} bytes of tensors)"
            )
            raise located("E1227", message, cfg, section.line, 1, len(section.kind) + 2,
                          "the file is truncated or belongs to a smaller network")  # fmt: skip
        total += count
