"""Receptive fields against impulse responses computed by brute force in numpy.

Every layer here is separable, so the height axis is measured with a 1-pixel
wide image: one impulse per input row (a batch of one-hot images), pushed
through all-ones kernels. An input row is in the field of an output row exactly
when its impulse reaches that output.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import cnndsl

HEIGHT = 160


def conv(x, k, s, p0, p1, d):
    """All-ones 1-D convolution of each row of x (batch, length)."""
    padded = np.pad(x, ((0, 0), (p0, p1)))
    span = d * (k - 1) + 1
    out_len = (padded.shape[1] - span) // s + 1
    return np.stack([padded[:, o * s : o * s + span : d].sum(1) for o in range(out_len)], axis=1)


def pool(x, k, s, p, ceil, reduce):
    length = x.shape[1]
    out_len = (length + 2 * p - k + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out_len - 1) * s >= length + p:
        out_len -= 1
    padded = np.pad(x, ((0, 0), (p, p + k + s)))
    return np.stack([reduce(padded[:, o * s : o * s + k], axis=1) for o in range(out_len)], axis=1)


def run_chain(x, layers):
    for kind, args in layers:
        if kind == "conv":
            k, s, p0, p1, d = args
            x = conv(x, k, s, p0, p1, d)
        else:
            k, s, p, ceil = args
            x = pool(x, k, s, p, ceil, np.max if kind == "maxpool" else np.sum)
    return x


def source(layers) -> str:
    lines = []
    for kind, args in layers:
        if kind == "conv":
            k, s, p0, p1, d = args
            lines.append(f"conv(1, [{k}, 1], stride=[{s}, 1], pad=[{p0}, 0, {p1}, 0], dilation=[{d}, 1])")
        else:
            k, s, p, ceil = args
            lines.append(f"{kind}([{k}, 1], stride=[{s}, 1], pad=[{p}, 0], ceil={'true' if ceil else 'false'})")
    return " -> ".join(lines)


def measured(response) -> list[tuple[int, int]]:
    """(first, last) input row of each output row's field."""
    fields = []
    for o in range(response.shape[1]):
        rows = np.nonzero(response[:, o] > 0)[0]
        fields.append((int(rows.min()), int(rows.max())) if rows.size else None)
    return fields


def interior(fields, size, stride, padding):
    """Output rows whose computed field lies wholly inside the image."""
    for o, field in enumerate(fields):
        start = o * stride - padding
        if start >= 0 and start + size - 1 < HEIGHT and field is not None:
            yield start, field


conv_layer = st.tuples(
    st.just("conv"),
    st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(0, 3), st.integers(0, 3), st.integers(1, 3)),
)
pool_layer = st.integers(1, 4).flatmap(
    lambda k: st.tuples(
        st.sampled_from(["maxpool", "avgpool"]),
        st.tuples(st.just(k), st.integers(1, 3), st.integers(0, k // 2), st.booleans()),
    )
)
chains = st.lists(st.one_of(conv_layer, pool_layer), min_size=1, max_size=4)


def field_of(text: str, value: str = "output"):
    net = cnndsl.loads(text)
    rf = net.values[value]["rf"]
    return rf["size"][0], rf["stride"][0], rf["padding"][0], net


@given(chains)
def test_chain_field_equals_impulse_response(layers):
    text = f"network T {{\n  input x: [1, {HEIGHT}, 1]\n  {source(layers)}\n}}"
    try:
        size, stride, padding, _ = field_of(text)
    except cnndsl.CnnError:
        assume(False)
    response = run_chain(np.eye(HEIGHT), layers)
    checked = 0
    for start, (first, last) in interior(measured(response), size, stride, padding):
        assert first == start, "field starts where stride and padding say"
        assert last - first + 1 == size
        checked += 1
    assume(checked > 0)


same_size_conv = st.tuples(st.integers(1, 5), st.integers(1, 3)).flatmap(
    lambda kd: st.integers(0, kd[1] * (kd[0] - 1)).map(
        lambda p0: ("conv", (kd[0], 1, p0, kd[1] * (kd[0] - 1) - p0, kd[1]))
    )
)


@given(chains, st.integers(0, 4), same_size_conv)
def test_branch_union_equals_impulse_response(left, where, extra):
    """concat of two branches of equal size: the field is the union of the branches' fields."""
    right = [*left[:where], extra, *left[where:]]  # one more size-keeping conv somewhere
    text = (
        f"network T {{\n  input x: [1, {HEIGHT}, 1]\n"
        f"  a = x -> {source(left)}\n  b = x -> {source(right)}\n"
        f"  output y = concat {{\n    a\n    b\n  }}\n}}"
    )
    try:
        size, stride, padding, _ = field_of(text, "y")
    except cnndsl.CnnError:
        assume(False)
    union = np.maximum(run_chain(np.eye(HEIGHT), left), run_chain(np.eye(HEIGHT), right))
    checked = 0
    for start, (first, last) in interior(measured(union), size, stride, padding):
        assert (first, last - first + 1) == (start, size)
        checked += 1
    assume(checked > 0)


def test_mixed_strides_warn():
    text = (
        "network T {\n  input x: [1, 32, 32]\n  a = maxpool(2) -> pad(8)\n  output y = concat {\n    a\n    x\n  }\n}"
    )
    net = cnndsl.loads(text)
    assert [w.code for w in net.warnings] == ["W0501"]


def test_transposed_field_by_impulse():
    """convT(k=4, s=2, p=1): each output row reads at most 2 input rows (half-stride field)."""
    net = cnndsl.loads("network T {\n  input x: [1, 16, 1]\n  convT(1, [4, 1], stride=[2, 1], pad=[1, 0])\n}")
    rf = net.values["output"]["rf"]
    # brute force: output o receives input i when o = 2 * i - 1 + t for a tap t in 0..3
    # (i < 0 is the zero border that the transposed convolution reads past the edge)
    reads = [{i for i in range(-4, 20) for t in range(4) if 2 * i - 1 + t == o} for o in range(32)]
    widest = max(max(r) - min(r) + 1 for r in reads if r)
    assert rf["size"][0] == widest
    assert rf["stride"][0] == 0.5
    assert -rf["padding"][0] == min(reads[0])
