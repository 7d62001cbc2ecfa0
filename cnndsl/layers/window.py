"""Sliding-window arithmetic shared by convolutions and pooling (PyTorch/ONNX formulas)."""

from __future__ import annotations

from .base import ShapeError

AXES = ("height", "width")


def effective(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1


def same_pads(sizes, kernel, strides, dilations) -> tuple:
    """`pad=same`: output = ceil(input / stride), the odd pixel at the end (SAME_UPPER)."""
    begin, end = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations):
        out = -(-size // s)
        total = max((out - 1) * s + effective(k, d) - size, 0)
        begin.append(total // 2)
        end.append(total - total // 2)
    return (*begin, *end)


def output_sizes(kind, sizes, kernel, strides, pads, dilations=(1, 1), ceil=False) -> tuple:
    """Output height and width of a window op; a ShapeError shows the arithmetic."""
    return tuple(
        _one_axis(kind, AXES[i], sizes[i], kernel[i], strides[i], pads[i], pads[i + 2], dilations[i], ceil)
        for i in range(2)
    )


def _one_axis(kind, axis, size, k, s, begin, end, d, ceil) -> int:
    k_eff = effective(k, d)
    span = size + begin + end - k_eff
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and out > 1 and (out - 1) * s >= size + begin:
        out -= 1  # the last window may not start inside the right padding (PyTorch, ONNX)
    if out >= 1:
        return out
    padded = f"{size} + {begin + end}" if begin + end else f"{size}"
    kernel = f"{k_eff}" if d == 1 else f"({d}*({k}-1)+1)"
    rounding = "ceil" if ceil else "floor"
    raise ShapeError(
        f"`{kind}` output {axis} would be {out}: {rounding}(({padded} - {kernel}) / {s}) + 1 = {out}",
        f"the input {axis} {size} is too small for a window of {k_eff}; "
        "pad the input, use a smaller kernel, or remove a downsampling layer earlier",
    )


def transposed_sizes(kind, sizes, kernel, strides, pads, output_pad, dilations) -> tuple:
    out = []
    for i in range(2):
        k_eff = effective(kernel[i], dilations[i])
        size = (sizes[i] - 1) * strides[i] - pads[i] - pads[i + 2] + k_eff + output_pad[i]
        if size < 1:
            raise ShapeError(
                f"`{kind}` output {AXES[i]} would be {size}: ({sizes[i]} - 1) * {strides[i]} "
                f"- {pads[i] + pads[i + 2]} + {k_eff} + {output_pad[i]} = {size}",
                "reduce the padding",
            )
        out.append(size)
    return tuple(out)


def ceil_for_opset21(sizes, kernel, strides, pads, want=None) -> tuple[tuple, bool]:
    """ONNX `pads` and `ceil_mode` for a `ceil=true` pooling, stated so that an
    opset-21 model needs no rule dropping a last window that starts in the end padding.

    That rule entered the ONNX shape formula only with MaxPool-22. Where it
    would drop a window, the end padding is trimmed (keeping ceil mode), or else
    ceil mode is turned off with the end padding that yields the same windows on
    both axes. Trimmed padding keeps every value; padding added beyond the
    source's changes only `avgpool(include_pad=true)`, which then pads
    explicitly (`AvgPool.onnx`), stating the output size `want`. Checked against
    PyTorch in tests/test_pool_ceil.py.
    """
    want = want or [_one_axis("", "", sizes[i], kernel[i], strides[i], pads[i], pads[i + 2], 1, True) for i in range(2)]
    for ceil, grow in ((True, False), (False, False), (False, True)):
        ends = [_end_pad(sizes[i], kernel[i], strides[i], pads[i], pads[i + 2], want[i], ceil, grow) for i in range(2)]
        if None not in ends:
            return (*pads[:2], *ends), ceil
    raise AssertionError(f"no opset-21 padding reproduces the windows of {sizes}")  # never: see the tests


def _end_pad(size, k, s, begin, end, want, ceil, grow) -> int | None:
    """The end padding closest to `end` (at most `end`, or above it when `grow`)
    that gives `want` windows without the drop rule."""
    for e in range(end, end + s + k) if grow else range(end, -1, -1):
        span = size + begin + e - k
        if span >= 0 and (-(-span // s) if ceil else span // s) + 1 == want:
            return e
    return None
