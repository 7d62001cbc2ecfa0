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
import zlib
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
        how = init[0]
        if how == "file":
            return load(init[1], shape, span)
        if how in ("zeros", "ones", "constant"):
            return np.full(shape, {"zeros": 0.0, "ones": 1.0}.get(how, init[-1]), DTYPE)
        rng = self.rng(name, role)
        if how == "normal":
            return _normal(rng, shape, init[1])
        if how == "uniform":
            return _uniform(rng, shape, init[1])
        fan_in, fan_out = fans(shape)
        return _uniform(rng, shape, math.sqrt(6.0 / (fan_in if how == "he" else fan_in + fan_out)))


def _normal(rng: np.random.Generator, shape: tuple, std: float) -> np.ndarray:
    out = rng.standard_normal(shape, dtype=DTYPE)
    out *= DTYPE(std)
    return out


def _uniform(rng: np.random.Generator, shape: tuple, limit: float) -> np.ndarray:
    out = rng.random(shape, dtype=DTYPE)
    out *= DTYPE(2 * limit)
    out -= DTYPE(limit)
    return out


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
    """Load `path` as a float32 array of exactly `shape`; a located error otherwise."""
    where = resolve(path, span)
    try:
        array = np.load(where, allow_pickle=False)
    except FileNotFoundError:
        raise error("E0702", f'weights file "{path}" not found (looked for {where})', span) from None
    except (OSError, ValueError) as exc:
        raise error(
            "E0702", f'cannot read weights file "{path}": {exc}', span, hint="save it with numpy.save"
        ) from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        raise error("E0702", f'weights file "{path}" does not hold a numeric array', span)
    if tuple(array.shape) != tuple(shape):
        raise error(
            "E0701",
            f'weights file "{path}" holds an array of shape {format_shape(array.shape)}; '
            f"this layer needs {format_shape(shape)}",
            span,
            hint="the layout is [out, in/groups, kh, kw] for conv, [in, out/groups, kh, kw] for convT, "
            "[out, in] for dense, [channels] for bn and prelu",
        )
    return np.ascontiguousarray(array, dtype=DTYPE)
