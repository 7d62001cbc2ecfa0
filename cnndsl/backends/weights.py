"""Initial weights: seeded, reproducible arrays for every learnable tensor (numpy only).

Each node draws from its own generator, seeded by the build seed and the node's
name, so a weight does not change when an unrelated layer is added or removed.
Initialisers follow the Keras/PyTorch conventions (docs/onnx.md):

- ``he``: uniform on ``±sqrt(6 / fan_in)``, i.e. variance ``2 / fan_in`` (He/Kaiming
  uniform, fan-in mode: PyTorch's ``kaiming_uniform_`` for ReLU, Keras's ``he_uniform``;
  four times cheaper to draw than the normal form, with the same variance)
- ``xavier``: uniform on ``±sqrt(6 / (fan_in + fan_out))`` (Glorot uniform)
- ``zeros``, ``ones``; ``normal(std)``: normal with that std; ``uniform(limit)``: on ``±limit``
- ``"file.npy"``: loaded, resolved relative to the source file that names it

>>> gen = Generator(seed=0)
>>> w = gen.draw("conv1", ("he",), (8, 3, 3, 3), None)
>>> w.shape, w.dtype.name
((8, 3, 3, 3), 'float32')
>>> bool((w == gen.draw("conv1", ("he",), (8, 3, 3, 3), None)).all())
True
"""

from __future__ import annotations

import math
import os
import stat
import zlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import Span, error
from ..layers.base import format_shape

DTYPE = np.float32


def fans(shape: tuple) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight laid out as [out, in, *kernel] (PyTorch's rule)."""
    if len(shape) < 2:
        return shape[0], shape[0]
    taps = math.prod(shape[2:])
    return shape[1] * taps, shape[0] * taps


class Generator:
    """Makes the arrays of one build; every draw is a pure function of (seed, node, role)."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def rng(self, name: str, role: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(f"{name}\0{role}".encode())])

    def draw(self, name: str, init: tuple, shape: tuple, span: Span | None, role: str = "weight") -> np.ndarray:
        """An array of `shape` made by `init`: ("he",), ("normal", 0.01), ("file", "w.npy"), ...

        ("constant", v) is a layer's own start value (PReLU's 0.25), not a source choice.
        """
        return self.source(name, init, shape, span, role)()

    def source(self, name: str, init: tuple, shape: tuple, span: Span | None, role: str = "weight") -> Source:
        """The values :meth:`draw` makes, still to be made: whole or in pieces."""
        how = init[0]
        if how == "file":
            return Source(lambda: load(init[1], shape, span))
        if how in ("zeros", "ones", "constant"):
            return Source(lambda: constant(shape, {"zeros": 0.0, "ones": 1.0}.get(how, init[-1])))
        if how == "normal":
            return Source.random(shape, lambda: partial(_normal, self.rng(name, role), init[1]))
        if how == "uniform":
            limit = init[1]
        else:
            fan_in, fan_out = fans(shape)
            limit = math.sqrt(6.0 / (fan_in if how == "he" else fan_in + fan_out))
        return Source.random(shape, lambda: partial(_uniform, self.rng(name, role), limit))


class Source:
    """One tensor's values, made when asked: whole (``source()``) or streamed (``source.pieces(take)``).

    A random tensor is streamed by drawing consecutive pieces of its flat values
    from one generator into buffers `take()` hands out, the same values as one
    draw of the whole. A writer that reuses a few small buffers so never holds
    the weights in memory: at hundreds of megabytes, touching fresh memory costs
    more than drawing the numbers.
    """

    def __init__(self, whole, shape: tuple | None = None, filler=None):
        self.whole, self.shape, self.filler = whole, shape, filler

    @classmethod
    def of(cls, array: np.ndarray) -> Source:
        return cls(lambda: array)

    @classmethod
    def random(cls, shape: tuple, filler) -> Source:
        """`filler()` returns a function that fills a flat float32 array with the next values of a fresh stream."""

        def whole():
            out = np.empty(shape, DTYPE)
            filler()(out.reshape(-1))
            return out

        return cls(whole, shape, filler)

    def __call__(self) -> np.ndarray:
        return self.whole()

    def pieces(self, take) -> Iterator[np.ndarray]:
        """The values in order, flat; each random piece fills a buffer from `take()` (valid until freed)."""
        if self.filler is None:
            yield np.ravel(self.whole())
            return
        fill, left = self.filler(), math.prod(self.shape)
        while left:
            buffer = take()
            piece = buffer[: min(left, buffer.size)]
            fill(piece)
            left -= piece.size
            yield piece


def _normal(rng: np.random.Generator, std: float, out: np.ndarray) -> None:
    rng.standard_normal(out=out, dtype=DTYPE)
    out *= DTYPE(std)


def _uniform(rng: np.random.Generator, limit: float, out: np.ndarray) -> None:
    rng.random(out=out, dtype=DTYPE)
    out *= DTYPE(2 * limit)
    out -= DTYPE(limit)


def constant(shape: tuple, value: float) -> np.ndarray:
    return np.full(shape, value, DTYPE)


def fixed(kernel: list[list[float]], shape: tuple) -> np.ndarray:
    """A fixed 2-D kernel replicated over [out, in/groups] to fill a conv weight of `shape`."""
    return np.broadcast_to(np.asarray(kernel, DTYPE), shape).copy()


def resolve(path: str, span: Span | None) -> Path:
    """A `.npy` path as written in the source: relative to that source file."""
    candidate = Path(path)
    if candidate.is_absolute() or span is None or span.file.startswith("<"):
        return candidate
    return Path(span.file).parent / candidate


def load(path: str, shape: tuple, span: Span | None) -> np.ndarray:
    """Load `path` as a float32 array of exactly `shape`; a located error otherwise.

    Only a regular file is opened (a FIFO would block), and the `.npy` header is
    checked before any data is read: a header that claims 10^11 elements is
    refused without allocating them.
    """
    where = resolve(path, span)
    try:
        info = os.stat(where)
        if not stat.S_ISREG(info.st_mode):
            raise error("E0702", f'weights file "{path}" is not a regular file ({where})', span)
        with open(where, "rb") as f:
            dtype = _check_header(f, path, shape, span)
            f.seek(0)
            array = np.lib.format.read_array(f, allow_pickle=False)
    except FileNotFoundError:
        raise error("E0702", f'weights file "{path}" not found (looked for {where})', span) from None
    except (OSError, ValueError, EOFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise error(
            "E0702", f'cannot read weights file "{path}": {reason}', span, hint="save it with numpy.save"
        ) from None
    if array.dtype != dtype:
        raise error("E0702", f'weights file "{path}" does not hold a numeric array', span)
    return np.ascontiguousarray(array, dtype=DTYPE)


def _check_header(f, path: str, shape: tuple, span: Span | None) -> np.dtype:
    """The array's dtype, after checking the `.npy` header's dtype and shape against the layer."""
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    found, _, dtype = read(f)
    if dtype.hasobject or dtype.kind not in "fiu":
        raise error("E0702", f'weights file "{path}" does not hold a numeric array', span)
    if tuple(found) != tuple(shape):
        raise error(
            "E0701",
            f'weights file "{path}" holds an array of shape {format_shape(found)}; '
            f"this layer needs {format_shape(shape)}",
            span,
            hint="the layout is [out, in/groups, kh, kw] for conv, [in, out/groups, kh, kw] for convT, "
            "[out, in] for dense, [channels] for bn and prelu",
        )
    return dtype
