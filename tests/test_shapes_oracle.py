"""Inferred shapes against onnxruntime: single-layer ONNX models built by hand here
(not by cnndsl's backend), on random kernel/stride/pad/dilation/groups settings."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from onnx import TensorProto, helper

import cnndsl

OPSET = 17
ort.set_default_logger_severity(4)


def _run(op: str, attrs: dict, in_shape, weights: list | None = None):
    """Output shape of one ONNX op on a [1, *in_shape] input, as onnxruntime computes it."""
    inits = [helper.make_tensor(f"w{i}", TensorProto.FLOAT, w.shape, w.ravel()) for i, w in enumerate(weights or [])]
    node = helper.make_node(op, ["x", *[t.name for t in inits]], ["y"], **attrs)
    return _run_graph(node, in_shape, inits)


def _ours(layer: str, in_shape) -> list | None:
    """cnndsl's output shape, or None when it reports a shape error."""
    text = f"network T {{\n  input x: {list(in_shape)}\n  {layer}\n}}\n"
    try:
        net = cnndsl.loads(text)
    except cnndsl.CnnError as exc:
        assert exc.code.startswith("E04") or "output_pad" in str(exc), exc.diagnostics[0].message
        return None
    shape = net.outputs[0]["shape"]
    assert shape[0] == "N"
    return [1, *shape[1:]]


def _agree(layer, op, attrs, in_shape, weights=None):
    ours = _ours(layer, in_shape)
    try:
        theirs = _run(op, attrs, in_shape, weights)
    except Exception:  # noqa: BLE001 - onnxruntime rejects the settings
        theirs = None
    if theirs is not None and min(theirs) <= 0:
        theirs = None
    assert ours == theirs, layer


small = st.integers(1, 4)


@given(
    c=st.integers(1, 4),
    g=st.integers(1, 3),
    out_mult=st.integers(1, 3),
    size=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    kernel=st.tuples(small, small),
    stride=st.tuples(small, small),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    pads=st.tuples(*[st.integers(0, 3)] * 4),
)
def test_conv(c, g, out_mult, size, kernel, stride, dilation, pads):
    cin, out = c * g, g * out_mult
    layer = (
        f"conv({out}, {list(kernel)}, stride={list(stride)}, pad={list(pads)}, dilation={list(dilation)}, groups={g})"
    )
    w = np.zeros((out, c, *kernel), np.float32)
    attrs = dict(kernel_shape=kernel, strides=stride, pads=pads, dilations=dilation, group=g)
    _agree(layer, "Conv", attrs, (cin, *size), [w])


@given(
    size=st.tuples(st.integers(1, 30), st.integers(1, 30)),
    kernel=st.tuples(small, small),
    stride=st.tuples(small, small),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
)
def test_conv_same(size, kernel, stride, dilation):
    layer = f"conv(2, {list(kernel)}, stride={list(stride)}, pad=same, dilation={list(dilation)})"
    if dilation == (1, 1):
        attrs = dict(kernel_shape=kernel, strides=stride, auto_pad="SAME_UPPER")
        _agree(layer, "Conv", attrs, (3, *size), [np.zeros((2, 3, *kernel), np.float32)])
    # onnxruntime has no SAME padding with dilation; the definition: output = ceil(input / stride)
    assert _ours(layer, (3, *size)) == [1, 2, *(-(-n // s) for n, s in zip(size, stride))]


@given(
    size=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    kernel=st.tuples(small, small),
    stride=st.tuples(small, small),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    pads=st.tuples(*[st.integers(0, 3)] * 4),
    extra=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    g=st.integers(1, 2),
)
def test_conv_transpose(size, kernel, stride, dilation, pads, extra, g):
    layer = (
        f"convT({2 * g}, {list(kernel)}, stride={list(stride)}, pad={list(pads)}, "
        f"output_pad={list(extra)}, groups={g}, dilation={list(dilation)})"
    )
    attrs = dict(kernel_shape=kernel, strides=stride, pads=pads, dilations=dilation, output_padding=extra, group=g)
    _agree(layer, "ConvTranspose", attrs, (2 * g, *size), [np.zeros((2 * g, 2, *kernel), np.float32)])


@given(
    kind=st.sampled_from(["maxpool", "avgpool"]),
    size=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    kernel=st.tuples(small, small),
    stride=st.tuples(small, small),
    pad=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    ceil=st.booleans(),
)
def test_pooling(kind, size, kernel, stride, pad, ceil):
    assume(all(p <= k // 2 for p, k in zip(pad, kernel)))  # the PyTorch/ONNX Runtime limit
    # onnxruntime truncates a negative span towards zero and returns one window where
    # PyTorch raises; the too-small case is covered by test_window_larger_than_input
    assume(all(n + 2 * p >= k for n, p, k in zip(size, pad, kernel)))
    layer = f"{kind}({list(kernel)}, stride={list(stride)}, pad={list(pad)}, ceil={str(ceil).lower()})"
    op = "MaxPool" if kind == "maxpool" else "AveragePool"
    attrs = dict(kernel_shape=kernel, strides=stride, pads=[*pad, *pad], ceil_mode=int(ceil))
    _agree(layer, op, attrs, (2, *size))


@pytest.mark.parametrize(
    "layer, op, attrs",
    [
        ("gap", "GlobalAveragePool", {}),
        ("gmp", "GlobalMaxPool", {}),
        ("flatten", "Flatten", {"axis": 1}),
        ("lrn", "LRN", {"size": 5}),
        ("upsample(scale=2)", "Resize", None),
        ("pad([1, 2, 3, 4], mode=reflect)", "Pad", None),
    ],
)
def test_other_layers(layer, op, attrs):
    in_shape = (4, 9, 11)
    if op == "Resize":
        scales = np.array([1, 1, 2, 2], np.float32)
        theirs = _run_resize(in_shape, scales)
        assert _ours(layer, in_shape) == theirs
        return
    if op == "Pad":
        theirs = _run_pad(in_shape, [0, 0, 1, 2, 0, 0, 3, 4])
        assert _ours(layer, in_shape) == theirs
        return
    _agree(layer, op, attrs, in_shape)


def _run_resize(in_shape, scales):
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")
    init = helper.make_tensor("s", TensorProto.FLOAT, [4], scales)
    return _run_graph(node, in_shape, [init])


def _run_pad(in_shape, pads):
    node = helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect")
    init = helper.make_tensor("p", TensorProto.INT64, [8], pads)
    return _run_graph(node, in_shape, [init])


def _run_graph(node, in_shape, inits):
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, *in_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, *in_shape), dtype=np.float32)
    return list(session.run(None, {"x": x})[0].shape)


def test_window_larger_than_input():
    """PyTorch raises 'Output size is too small'; so do we, showing the arithmetic."""
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.loads("network T {\n  input x: [1, 4, 4]\n  maxpool(5)\n}")
    message = caught.value.diagnostics[0].message
    assert "floor((4 - 5) / 5) + 1 = 0" in message
    assert caught.value.diagnostics[0].span.line == 3
