"""Receptive-field algebra on the two spatial axes.

A field describes which input pixels one output position sees: its `size`,
the effective `stride` (input pixels between neighbouring outputs) and the
effective `padding` (how far the field of output 0 reaches before the first
input pixel). Strides become fractions after upsampling, so figures are
:class:`~fractions.Fraction` and reported as ints where they are whole.

A field is *global* once a value has been pooled over the whole image (`gap`,
`gmp`): every element depends on the whole input, and so does everything
computed from it (a squeeze-and-excitation `mul`, an `upsample` from 1x1).
All arithmetic here is closed-form: no loop runs over a kernel or stride value.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from math import gcd

from .records import dataclass as record  # frozen, slotted, cheaper to define

Pair = tuple  # (height, width)


@record(frozen=True, slots=True)
class Field:
    size: Pair
    stride: Pair
    padding: Pair
    mixed_stride: bool = False
    whole: bool = False  # global: every element depends on the whole input

    def to_json(self) -> dict:
        data = {
            "size": [_plain(v) for v in self.size],
            "stride": [_plain(v) for v in self.stride],
            "padding": [_plain(v) for v in self.padding],
        }
        if self.whole:
            data["global"] = True
        return data


def _plain(value):
    if type(value) is int:  # the common case, without building a Fraction
        return value
    value = Fraction(value)
    return int(value) if value.denominator == 1 else float(value)


IMPULSE = Field((1, 1), (1, 1), (0, 0))
"""The field of an input pixel: itself."""


def window(field: Field, kernel: Pair, strides: Pair, pad_begin: Pair) -> Field:
    """A sliding window of (dilated) extent `kernel`: conv, pooling, pad.

    A global field already covers the input read at every position: only its stride moves.
    """
    if field.whole:
        return replace(field, stride=tuple(j * s for j, s in zip(field.stride, strides)))
    size = tuple(r + (k - 1) * j for r, k, j in zip(field.size, kernel, field.stride))
    stride = tuple(j * s for j, s in zip(field.stride, strides))
    padding = tuple(p + b * j for p, b, j in zip(field.padding, pad_begin, field.stride))
    return Field(size, stride, padding, field.mixed_stride, field.whole)


def pooled(field: Field, extent: Pair) -> Field:
    """Global pooling over a map of `extent` positions: one output that sees them all."""
    return replace(window(field, extent, extent, (0, 0)), whole=True)


def resample(field: Field, span: Pair, scale: Pair, first: Pair) -> Field:
    """An upsampling by `scale` where one output reads at most `span` neighbouring
    inputs, the first of them at input index `first` for output 0."""
    if field.whole:
        return replace(field, stride=tuple(Fraction(j) / Fraction(s) for j, s in zip(field.stride, scale)))
    size = tuple(r + (n - 1) * j for r, n, j in zip(field.size, span, field.stride))
    stride = tuple(Fraction(j) / Fraction(s) for j, s in zip(field.stride, scale))
    padding = tuple(p - f * j for p, f, j in zip(field.padding, first, field.stride))
    return Field(size, stride, padding, field.mixed_stride, field.whole)


def union(fields: list[Field | None], broadcast: list[bool] | None = None) -> Field | None:
    """The field of a merge: every input pixel seen by any branch at output 0.

    The effective stride is that of the widest branch not marked in `broadcast`
    and not global: a branch broadcast from 1x1 (squeeze-and-excitation) or
    upsampled from a pooled 1x1 has no positions of its own.
    """
    known = [f for f in fields if f is not None]
    if len(known) != len(fields) or not known:
        return None
    placed = [f for f, b in zip(known, broadcast or [False] * len(known)) if not b] or known
    local = [f for f in placed if not f.whole] or placed  # a global branch's stride is not a grid's
    size, padding, stride, mixed = [], [], [], any(f.mixed_stride for f in known)
    for axis in range(2):
        start = min(-f.padding[axis] for f in known)
        end = max(-f.padding[axis] + f.size[axis] - 1 for f in known)
        widest = max(local, key=lambda f: f.size[axis])
        size.append(end - start + 1)
        padding.append(-start)
        stride.append(widest.stride[axis])
        mixed |= len({f.stride[axis] for f in local}) > 1
    return Field(tuple(size), tuple(stride), tuple(padding), mixed, any(f.whole for f in known))


def capped(field: Field, extent: Pair, whole: bool) -> Field:
    """`field` with its stride at most the input's `extent` and its global flag set when
    `whole` (an input was global): stride beyond the extent means no two outputs share an
    input pixel, and capping it keeps sizes from compounding on a 1x1 map."""
    (jh, jw), (eh, ew) = field.stride, extent
    stride = (jh if eh is None or jh <= eh else eh, jw if ew is None or jw <= ew else ew)
    if stride == field.stride and (field.whole or not whole):
        return field
    return Field(field.size, stride, field.padding, field.mixed_stride, field.whole or whole)


def transposed_span(kernel: int, stride: int, pad_begin: int, dilation: int) -> tuple[int, int]:
    """(span, first) of a transposed convolution on one axis: the most inputs any
    output reads, and the first input index read by output 0.

    Output phase p reads taps t with p + pad_begin - t * dilation divisible by
    `stride`; those taps step by stride / g (g = gcd(dilation, stride)) and their
    inputs by dilation / g. Some phase starts at tap 0, which gives the widest span.
    """
    g = gcd(dilation, stride)
    tap_step, input_step = stride // g, dilation // g
    span = (kernel - 1) // tap_step * input_step + 1
    if pad_begin % g:
        return span, 0  # output 0 reads no input at all
    first_tap = (pad_begin // g) * pow(input_step, -1, tap_step) % tap_step if tap_step > 1 else 0
    if first_tap >= kernel:
        return span, 0
    last_tap = first_tap + (kernel - 1 - first_tap) // tap_step * tap_step
    return span, (pad_begin - last_tap * dilation) // stride
