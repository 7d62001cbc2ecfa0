"""Global receptive fields (squeeze-and-excitation, upsampling from 1x1) against brute force.

Each output position's dependencies are measured with onnxruntime: one input
pixel (all channels) is changed at a time and the output positions whose value
changes are recorded. A field is global exactly when every output position
depends on every input pixel. Figures for the global fields are derived by hand
in each test from the padding that the path reads.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnndsl
from cnndsl.fields import transposed_span

ort = pytest.importorskip("onnxruntime")

SE = """
block SE(squeeze) {
  mul {
    identity
    gap -> conv(squeeze, 1) -> relu -> conv(in.channels, 1) -> sigmoid
  }
}
"""


def dependencies(net: cnndsl.Network, shape: tuple) -> dict[str, np.ndarray]:
    """For each output: a boolean array [out_h, out_w, in_h, in_w], True where the
    output position changes when the input pixel changes."""
    session = ort.InferenceSession(net.to_onnx().SerializeToString(), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = [o.name for o in session.get_outputs()]
    base_input = np.random.default_rng(1).standard_normal((1, *shape)).astype(np.float32)
    base = session.run(outputs, {name: base_input})
    _, height, width = shape
    found = {o: np.zeros((*b.shape[2:], height, width), bool) for o, b in zip(outputs, base)}
    for h in range(height):
        for w in range(width):
            changed = base_input.copy()
            changed[0, :, h, w] += 1.0
            for o, before, after in zip(outputs, base, session.run(outputs, {name: changed})):
                found[o][:, :, h, w] = (before != after).any(axis=(0, 1))
    return found


def check_against_brute_force(net: cnndsl.Network, shape: tuple) -> None:
    for output, depends in dependencies(net, shape).items():
        rf = net.values[output]["rf"]
        is_global = bool(depends.all())
        assert rf.get("global", False) == is_global, output
        if is_global:
            continue
        for oh in range(depends.shape[0]):  # a local field holds every pixel the position depends on
            rows = np.nonzero(depends[oh].any(axis=(0, 2)))[0]
            start = oh * rf["stride"][0] - rf["padding"][0]
            assert rows.size == 0 or start <= rows.min() and rows.max() <= start + rf["size"][0] - 1, output


def test_squeeze_and_excitation_fields_are_global():
    text = SE + (
        "network N {\n  input x: [2, 12, 10]\n"
        "  output plain = conv(6, 3, pad=1)\n"
        "  output first = SE(8)\n"
        "  output down = conv(6, 3, stride=2, pad=1)\n"
        "  output second = SE(8)\n}"
    )
    net = cnndsl.loads(text)
    check_against_brute_force(net, (2, 12, 10))
    # by hand: only the first conv reads padding (1 pixel on each side, at input scale)
    for name in ("first", "down", "second"):
        rf = net.values[name]["rf"]
        assert (rf["size"], rf["padding"], rf["global"]) == ([14, 12], [1, 1], True)
    assert net.values["down"]["rf"]["stride"] == [2, 2]  # the positions of the map, not of the pooled branch
    assert net.values["second"]["rf"]["stride"] == [2, 2]


def test_upsample_from_1x1_is_global():
    text = "network N {\n  input x: [3, 8, 8]\n  output y = add {\n    identity\n    gap -> upsample(scale=8)\n  }\n}"
    net = cnndsl.loads(text)
    check_against_brute_force(net, (3, 8, 8))
    assert net.values["y"]["rf"]["size"] == [8, 8]  # no padding read anywhere


def test_three_se_blocks_stay_within_the_input():
    """The reproducer of issue 11: three SE blocks on 32x32 gave a 34,882 px field."""
    blocks = " -> ".join(["conv(8, 3, stride=2, pad=1) -> SE(4)"] * 3)
    net = cnndsl.loads(SE + f"network N {{\n  input x: [3, 32, 32]\n  {blocks}\n  output y = conv(8, 3, pad=1)\n}}")
    rf = net.values["y"]["rf"]
    assert rf["global"] is True
    # by hand: the first conv's windows start at -1, 1, ..., 29: they read the 1-pixel border
    # on the top and left only (the last window ends on pixel 31): 32 + 1 pixels
    assert (rf["size"], rf["padding"]) == ([33, 33], [1, 1])
    assert "global" in net.report("table").splitlines()[-12]


def test_the_report_table_says_global():
    net = cnndsl.loads(SE + "network N {\n  input x: [3, 16, 16]\n  conv(4, 3) -> SE(2)\n}")
    rows = {line.split()[0]: line for line in net.report("table").splitlines() if line.startswith("SE1/")}
    assert "global" in rows["SE1/mul1"] and "global" not in rows["SE1/identity1"]


def _span_by_loop(kernel, stride, pad_begin, dilation):
    """The first definition: every output phase and tap enumerated."""
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


def test_transposed_span_is_closed_form():
    for kernel in range(1, 8):
        for stride in range(1, 8):
            for pad in range(0, 8):
                for dilation in range(1, 5):
                    case = (kernel, stride, pad, dilation)
                    assert transposed_span(*case) == _span_by_loop(*case)


def test_huge_strides_and_kernels_are_answered_at_once():
    """`convT` with stride 10^9 or kernel 10^8 ran a loop of that many steps (issue 9)."""
    net = cnndsl.loads("network N { input x: [1,1,1]; convT(1, 3, stride=1000000000) }")
    assert net.values["output"]["rf"]["size"] == [1, 1]  # stride 10^9: no output reads two inputs
    net = cnndsl.loads("network N { input x: [1,1,1]; convT(1, 100000000) }")
    # by hand: output o reads inputs o - t for the 10^8 taps t (the zero border included)
    assert net.values["output"]["rf"]["size"] == [10**8, 10**8]
    # kernel 10^8, stride 3, dilation 7: every third tap lands on an input, 7 inputs apart
    assert transposed_span(10**8, 3, 5, 7)[0] == (10**8 - 1) // 3 * 7 + 1


def test_strides_are_capped_at_the_input_extent():
    """`maxpool(1, stride=2)` repeated on a 1x1 map doubled the stride each time (issue 9)."""
    net = cnndsl.loads("network N { input x: [1, 1, 1]; repeat 200 { maxpool(1, stride=2) } }")
    assert net.values["output"]["rf"] == {"size": [1, 1], "stride": [1, 1], "padding": [0, 0]}
