"""Receptive-field algebra on the two spatial axes.

A field describes which input pixels one output position sees: its `size`,
the effective `stride` (input pixels between neighbouring outputs) and the
effective `padding` (how far the field of output 0 reaches before the first
input pixel). Strides become fractions after upsampling, so figures are
:class:`~fractions.Fraction` and reported as ints where they are whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

Pair = tuple  # (height, width)


@dataclass(frozen=True, slots=True)
class Field:
    size: Pair
    stride: Pair
    padding: Pair
    mixed_stride: bool = False

    def to_json(self) -> dict:
        return {
            "size": [_plain(v) for v in self.size],
            "stride": [_plain(v) for v in self.stride],
            "padding": [_plain(v) for v in self.padding],
        }


def _plain(value):
    value = Fraction(value)
    return int(value) if value.denominator == 1 else float(value)


IMPULSE = Field((1, 1), (1, 1), (0, 0))
"""The field of an input pixel: itself."""


def window(field: Field, kernel: Pair, strides: Pair, pad_begin: Pair) -> Field:
    """A sliding window of (dilated) extent `kernel`: conv, pooling, pad."""
    size = tuple(r + (k - 1) * j for r, k, j in zip(field.size, kernel, field.stride))
    stride = tuple(j * s for j, s in zip(field.stride, strides))
    padding = tuple(p + b * j for p, b, j in zip(field.padding, pad_begin, field.stride))
    return Field(size, stride, padding, field.mixed_stride)


def resample(field: Field, span: Pair, scale: Pair, first: Pair) -> Field:
    """An upsampling by `scale` where one output reads at most `span` neighbouring
    inputs, the first of them at input index `first` for output 0."""
    size = tuple(r + (n - 1) * j for r, n, j in zip(field.size, span, field.stride))
    stride = tuple(Fraction(j) / Fraction(s) for j, s in zip(field.stride, scale))
    padding = tuple(p - f * j for p, f, j in zip(field.padding, first, field.stride))
    return Field(size, stride, padding, field.mixed_stride)


def union(fields: list[Field | None]) -> Field | None:
    """The field of a merge: every input pixel seen by any branch at output 0."""
    known = [f for f in fields if f is not None]
    if len(known) != len(fields) or not known:
        return None
    size, padding, stride, mixed = [], [], [], any(f.mixed_stride for f in known)
    for axis in range(2):
        start = min(-f.padding[axis] for f in known)
        end = max(-f.padding[axis] + f.size[axis] - 1 for f in known)
        widest = max(known, key=lambda f: f.size[axis])
        size.append(end - start + 1)
        padding.append(-start)
        stride.append(widest.stride[axis])
        mixed |= len({f.stride[axis] for f in known}) > 1
    return Field(tuple(size), tuple(stride), tuple(padding), mixed)


def transposed_span(kernel: int, stride: int, pad_begin: int, dilation: int) -> tuple[int, int]:
    """(span, first) of a transposed convolution on one axis: the most inputs any
    output reads, and the first input index read by output 0."""
    span, first = 1, 0
    for phase in range(stride):
        taps = [
            (phase + pad_begin - t * dilation) // stride
            for t in range(kernel)
            if (phase + pad_begin - t * dilation) % stride == 0
        ]
        if taps:
            span = max(span, max(taps) - min(taps) + 1)
            if phase == 0:
                first = min(taps)
    return span, first
