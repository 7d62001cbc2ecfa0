"""Numerics: onnxruntime against onnx's reference evaluator and against numpy.

The reference evaluator interprets the same ONNX graph, so it checks that
onnxruntime and the ONNX specification agree on our operators; the numpy
references check that the operators we chose compute what the language says.
"""

from __future__ import annotations

import math
import re

import numpy as np
import onnxruntime as ort
import pytest
from conftest import ARCHITECTURES
from hypothesis import assume, given
from hypothesis import strategies as st
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

import cnndsl
from cnndsl.layers import LAYERS

TOLERANCE = 1e-4


def _run(model, feeds: dict) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _feeds(network, batch: int = 2, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {i["name"]: rng.standard_normal((batch, *i["shape"][1:]), dtype=np.float32) for i in network.inputs}


def _agrees_with_reference(network, seed: int = 0) -> list[np.ndarray]:
    model = network.to_onnx(seed=seed)
    feeds = _feeds(network, seed=seed)
    ours = _run(model, feeds)
    reference = ReferenceEvaluator(model).run(None, feeds)
    for got, want in zip(ours, reference):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=TOLERANCE, atol=TOLERANCE)
    return ours


# One small network per layer kind: `x` is [N, 4, 9, 9] (odd sizes exercise rounding).
LAYER_CASES = {
    "conv": "conv(6, 3, stride=2, pad=[1, 0, 2, 1], dilation=[1, 2], groups=2)",
    "dwconv": "dwconv(3, stride=2, pad=same, mult=2)",
    "convT": "convT(6, 3, stride=2, pad=1, output_pad=1)",  # the evaluator mishandles groups here
    "maxpool": "maxpool(3, stride=2, pad=1, ceil=true)",
    "avgpool": "avgpool(3, stride=2, pad=1, ceil=true)",
    "lppool": "lppool(2, stride=2, p=2)",
    "gap": "gap",
    "gmp": "gmp",
    "upsample": "upsample(2, mode=linear)",
    "pad": "pad([1, 2, 0, 3], value=0.5)",
    "flatten": "flatten -> dense(5)",
    "dense": "gap -> flatten -> dense(7)",
    "bn": "bn(eps=0.001)",
    "dropout": "dropout(0.3)",
    "identity": "identity",
    "channel_shuffle": "channel_shuffle(2)",
    "concat": "concat { conv(2, 1); identity; maxpool(3, stride=1, pad=1) }",
    "add": "add { conv(4, 3, pad=1); identity; relu }",
    "mul": "mul { identity; gap -> conv(4, 1) -> sigmoid }",
    "maximum": "maximum { conv(4, 3, pad=1); identity; tanh }",
    "prelu": "prelu",
    "softmax": "softmax(axis=1)",
    "logsoftmax": "logsoftmax(axis=2)",
    # Part 2 (torch comparisons with random weights: tests/test_layers_part2.py)
    "layernorm": "layernorm(eps=0.001, init=normal(1.0))",
    "groupnorm": "groupnorm(2, init=normal(1.0))",
    "instancenorm": "instancenorm(init=normal(1.0))",
    "scale": "scale(0.5)",
    "droppath": "droppath(0.2)",
    "slice": "slice(1, 3)",
    "chunk": "chunk(2, 1)",
    "pixel_shuffle": "pixel_shuffle(2)",
    "pixel_unshuffle": "pad([0, 0, 1, 1]) -> pixel_unshuffle(2)",
}
ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leakyrelu": lambda x: np.where(x > 0, x, 0.01 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "gelu": lambda x: x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hardsigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "softplus": lambda x: np.log1p(np.exp(x)),
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
}


def _net(call: str, shape: str = "[4, 9, 9]"):
    return cnndsl.loads(f"network T {{ input x: {shape}; {call} }}")


def test_every_layer_kind_has_a_numeric_case():
    assert set(LAYERS) <= set(LAYER_CASES) | set(ACTIVATIONS) | {"lrn"}


@pytest.mark.parametrize("kind", sorted(LAYER_CASES))
def test_layer_matches_the_reference_evaluator(kind):
    _agrees_with_reference(_net(LAYER_CASES[kind]))


@pytest.mark.parametrize("kind", sorted(ACTIVATIONS))
def test_activation_matches_numpy(kind):
    net = _net(kind)
    feeds = {"x": np.linspace(-8, 8, 2 * 4 * 81, dtype=np.float32).reshape(2, 4, 9, 9)}
    (got,) = _run(net.to_onnx(), feeds)
    np.testing.assert_allclose(got, ACTIVATIONS[kind](feeds["x"].astype(np.float64)), rtol=1e-5, atol=1e-5)
    _agrees_with_reference(net)


def test_lrn_matches_numpy():
    """The reference evaluator's LRN is off by ~4e-2; the ONNX formula in numpy instead."""
    size, alpha, beta, k = 5, 1e-3, 0.75, 2.0
    net = _net(f"lrn(size={size}, alpha={alpha}, beta={beta}, k={k})", "[7, 5, 5]")
    x = np.random.default_rng(1).standard_normal((2, 7, 5, 5)).astype(np.float32)
    (got,) = _run(net.to_onnx(), {"x": x})
    squares = np.pad(x.astype(np.float64) ** 2, ((0, 0), ((size - 1) // 2, size // 2), (0, 0), (0, 0)))
    window = sum(squares[:, i : i + 7] for i in range(size))
    np.testing.assert_allclose(got, x / (k + alpha / size * window) ** beta, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("mode", "numpy_mode"), [("reflect", "reflect"), ("edge", "edge"), ("wrap", "wrap")])
def test_pad_modes_match_numpy(mode, numpy_mode):
    x = np.arange(2 * 4 * 81, dtype=np.float32).reshape(2, 4, 9, 9)
    (got,) = _run(_net(f"pad([1, 2, 3, 4], mode={mode})").to_onnx(), {"x": x})
    np.testing.assert_array_equal(got, np.pad(x, ((0, 0), (0, 0), (1, 3), (2, 4)), mode=numpy_mode))


def test_channel_shuffle_matches_its_definition():
    x = np.arange(2 * 6 * 2 * 2, dtype=np.float32).reshape(2, 6, 2, 2)
    (got,) = _run(_net("channel_shuffle(3)", "[6, 2, 2]").to_onnx(), {"x": x})
    # ShuffleNet: channels as [groups, per group], transposed: 0 2 4 1 3 5 for 3 groups of 2
    np.testing.assert_array_equal(got, x[:, [0, 2, 4, 1, 3, 5]])


def test_nearest_upsample_repeats_pixels_and_mul_broadcasts():
    x = np.random.default_rng(2).standard_normal((2, 4, 9, 9)).astype(np.float32)
    (got,) = _run(_net("upsample(3)").to_onnx(), {"x": x})
    np.testing.assert_array_equal(got, x.repeat(3, axis=2).repeat(3, axis=3))
    net = _net("mul { identity; gap }")
    (got,) = _run(net.to_onnx(), {"x": x})
    np.testing.assert_allclose(got, x * x.mean(axis=(2, 3), keepdims=True), rtol=1e-5, atol=1e-6)


def test_dense_is_x_times_w_transposed():
    net = _net("flatten -> dense(3, init=normal(0.1))", "[2, 3, 3]")
    model = net.to_onnx()
    w = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    x = np.random.default_rng(3).standard_normal((2, 2, 3, 3)).astype(np.float32)
    (got,) = _run(model, {"x": x})
    np.testing.assert_allclose(got, x.reshape(2, 18) @ w["dense1/weight"].T + w["dense1/bias"], rtol=1e-5, atol=1e-6)


@given(
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.lists(st.integers(0, 2), min_size=4, max_size=4),
    dilation=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    size=st.integers(6, 11),
)
def test_conv_property(kernel, stride, pad, dilation, groups, size):
    call = f"conv(4, {kernel}, stride={stride}, pad={pad}, dilation={dilation}, groups={groups})"
    try:
        net = _net(call, f"[2, {size}, {size + 1}]")
    except cnndsl.CnnError:
        assume(False)  # the window does not fit: a compile error, checked elsewhere
    (got,) = _agrees_with_reference(net)
    assert got.shape == (2, *net.outputs[0]["shape"][1:])


@given(
    kind=st.sampled_from(["maxpool", "avgpool"]),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    ceil=st.booleans(),
    include_pad=st.booleans(),
    size=st.integers(4, 9),
)
def test_pool_property(kind, kernel, stride, pad, ceil, include_pad, size):
    extra = f", include_pad={str(include_pad).lower()}" if kind == "avgpool" else ""
    call = f"{kind}({kernel}, stride={stride}, pad={pad}, ceil={str(ceil).lower()}{extra})"
    try:
        net = _net(call, f"[2, {size}, {size + 2}]")
    except cnndsl.CnnError:
        assume(False)
    x = np.random.default_rng(kernel * 100 + size).standard_normal((2, 2, size, size + 2)).astype(np.float32)
    (got,) = _run(net.to_onnx(), {"x": x})
    shape = tuple(net.outputs[0]["shape"][2:])
    assert got.shape == (2, 2, *shape)
    # PyTorch's semantics in numpy (the reference evaluator gets ceil mode with padding wrong)
    want = _pool(x.astype(np.float64), kind == "maxpool", kernel, stride, pad, include_pad, shape)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _pool(x, is_max: bool, k: int, s: int, p: int, include_pad: bool, shape) -> np.ndarray:
    height, width = x.shape[2:]
    out = np.empty((*x.shape[:2], *shape))
    for i in range(shape[0]):
        for j in range(shape[1]):
            top, left = i * s - p, j * s - p
            bottom, right = min(top + k, height + p), min(left + k, width + p)
            window = x[:, :, max(top, 0) : min(bottom, height), max(left, 0) : min(right, width)]
            if is_max:
                out[:, :, i, j] = window.max(axis=(2, 3))
            else:
                count = (bottom - top) * (right - left) if include_pad else window.shape[2] * window.shape[3]
                out[:, :, i, j] = window.sum(axis=(2, 3)) / count
    return out


# -- whole networks ------------------------------------------------------------------------------


def _smaller(name: str, size: int):
    """An architecture with a smaller input image (the reference evaluator is slow)."""
    text = (ARCHITECTURES / name).read_text()
    text, count = re.subn(r"(input \w+: \[\d+), \d+, \d+\]", rf"\1, {size}, {size}]", text)
    assert count == 1
    return cnndsl.loads(text, name=str(ARCHITECTURES / name))


def test_lenet5_matches_the_reference_evaluator():
    _agrees_with_reference(cnndsl.load(str(ARCHITECTURES / "lenet5.cnn")))


def test_unet_matches_the_reference_evaluator():
    _agrees_with_reference(_smaller("unet_small.cnn", 16))


def test_localizer_matches_the_reference_evaluator():
    scores, box = _agrees_with_reference(_smaller("localizer.cnn", 12))
    np.testing.assert_allclose(scores.sum(axis=1), 1, rtol=1e-5)
    assert ((box > 0) & (box < 1)).all()


def test_edges_match_a_numpy_cross_correlation():
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float64)  # LANGUAGE.md
    kernels = [sobel_x, sobel_x.T, np.full((3, 3), 1 / 9)]
    net = cnndsl.load(str(ARCHITECTURES / "edges.cnn"))
    image = np.random.default_rng(4).random((2, 1, 64, 64), dtype=np.float32)
    (got,) = _run(net.to_onnx(), {"image": image})
    padded = np.pad(image[:, 0].astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
    expected = np.stack([np.einsum("nhwij,ij->nhw", windows, k) for k in kernels], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
