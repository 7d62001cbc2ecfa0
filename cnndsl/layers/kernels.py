"""Fixed convolution kernels: `conv(..., weights=sobel_x)` and literal kernels.

Kernels are plain nested lists of floats (no numpy on the report path).
"""

from __future__ import annotations

import math
from functools import partial

from ..values import Func, Symbol, describe
from .args import ArgError

_KIRSCH_RING = [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0)]  # clockwise
KIRSCH_DIRECTIONS = ("n", "ne", "e", "se", "s", "sw", "w", "nw")


def kirsch(direction: str) -> list[list[float]]:
    """Kirsch compass kernel: `kirsch_n` and its clockwise 45-degree rotations."""
    steps = KIRSCH_DIRECTIONS.index(direction)
    kernel = [[0.0] * 3 for _ in range(3)]
    north = [5, 5, 5, -3, -3, -3, -3, -3]
    for i, (r, c) in enumerate(_KIRSCH_RING):
        kernel[r][c] = float(north[(i - steps) % 8])
    return kernel


def gaussian(sigma: float, kh: int, kw: int) -> list[list[float]]:
    """A sampled Gaussian centred on the kernel, normalised to sum 1."""
    cy, cx = (kh - 1) / 2, (kw - 1) / 2
    squared = [[(r - cy) ** 2 + (c - cx) ** 2 for c in range(kw)] for r in range(kh)]
    nearest = min(map(min, squared))
    # relative to the centre taps, dividing by sigma twice: neither 2 * sigma**2 nor the sum can
    # underflow to 0 (sigma = 1e-200), and the centre taps always keep weight 1 before normalising
    raw = [[math.exp(-((d - nearest) / (2 * sigma)) / sigma) for d in row] for row in squared]
    total = sum(map(sum, raw))
    return [[v / total for v in row] for row in raw]


def _fixed(rows):
    return [[float(v) for v in row] for row in rows]


NAMED = {
    "sobel_x": lambda kh, kw: _fixed([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "sobel_y": lambda kh, kw: _fixed([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "laplacian": lambda kh, kw: _fixed([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "box": lambda kh, kw: [[1.0 / (kh * kw)] * kw for _ in range(kh)],
    **{f"kirsch_{d}": partial(lambda direction, kh, kw: kirsch(direction), d) for d in KIRSCH_DIRECTIONS},
}


def weights(value):
    """Converter for `weights=`: keeps the request; the kernel is made by :func:`kernel_for`."""
    if isinstance(value, Symbol):
        if value.name == "gaussian":
            raise ArgError("`gaussian` needs its sigma: `gaussian(1.0)`")
        if value.name not in NAMED:
            from ..errors import did_you_mean

            names = (*NAMED, "gaussian")
            raise ArgError(
                f"unknown kernel `{value.name}`",
                did_you_mean(value.name, names) or "built-in kernels: " + ", ".join(names),
                "E0310",
            )
        return ("named", value.name)
    if isinstance(value, Func) and value.name == "gaussian":
        if len(value.args) != 1 or isinstance(value.args[0], bool) or not isinstance(value.args[0], (int, float)):
            raise ArgError("`gaussian` takes one number, its sigma")
        if value.args[0] <= 0:
            raise ArgError(f"gaussian sigma must be positive, got {value.args[0]}")
        return ("gaussian", float(value.args[0]))
    if isinstance(value, list):
        return ("literal", _matrix(value))
    raise ArgError(f"expected a kernel (a name like `sobel_x` or a list of rows), got {describe(value)}")


def _matrix(value) -> list[list[float]]:
    if not value or not all(isinstance(row, list) for row in value):
        raise ArgError("a literal kernel is a list of rows: [[1, 0, -1], [2, 0, -2], [1, 0, -1]]")
    width = len(value[0])
    if any(len(row) != width for row in value) or width == 0:
        raise ArgError("every row of a literal kernel must have the same length")
    for row in value:
        for v in row:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ArgError(f"kernel entries must be numbers, got {describe(v)}")
    return _fixed(value)


SIZED = ("box", "gaussian")  # kernels that take the layer's size; the others are 3x3
MAX_TAPS = 1 << 16


def kernel_for(request, kh: int, kw: int) -> list[list[float]]:
    """The 2-D kernel a `weights=` request names, for a kh x kw convolution."""
    how, what = request
    if how == "named" and what not in SIZED and (kh, kw) != (3, 3):
        kernel = NAMED[what](3, 3)  # a fixed 3x3 kernel: report the mismatch below without building more
    elif how != "literal" and kh * kw > MAX_TAPS:
        raise ArgError(
            f"a fixed {what if how == 'named' else 'gaussian'} kernel of {kh}x{kw} is too large "
            f"(at most {MAX_TAPS:,} taps)",
            "fixed kernels are meant for small filters",
        )
    elif how == "literal":
        kernel = what
    elif how == "gaussian":
        kernel = gaussian(what, kh, kw)
    else:
        kernel = NAMED[what](kh, kw)
    if (len(kernel), len(kernel[0])) != (kh, kw):
        size = f"{len(kernel)}x{len(kernel[0])}"
        raise ArgError(
            f"the kernel is {size} but the layer's kernel size is {kh}x{kw}",
            f"use `kernel={len(kernel)}`" if len(kernel) == len(kernel[0]) else "",
        )
    return kernel
