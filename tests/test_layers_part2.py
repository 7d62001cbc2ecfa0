"""The layers of LANGUAGE.md Part 2 against PyTorch, onnxruntime and hand derivation.

Each model is built by cnndsl, its weights are replaced by random ones, it must
pass `onnx.checker` full_check, and onnxruntime's result must equal PyTorch's
functional form of the layer on the same weights (shapes included).
"""

from __future__ import annotations

from fractions import Fraction
from math import floor

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import numpy_helper

import cnndsl
from cnndsl.backends import onnx as backend

ort.set_default_logger_severity(4)


def _net(call: str, shape=(4, 6, 6)):
    return cnndsl.loads(f"network T {{ input x: {list(shape)}; {call} }}")


def _randomised(model, rng) -> dict:
    """Replace every initializer with random values; return them by name."""
    weights = {}
    for tensor in model.graph.initializer:
        array = rng.standard_normal(tuple(tensor.dims)).astype(np.float32)
        tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))
        weights[tensor.name.rsplit("/", 1)[1]] = array
    onnx.checker.check_model(model, full_check=True)
    return weights


def _run(model, feeds: dict) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def _channels(w):
    return w.reshape(-1)


# call, input shape (no batch), PyTorch reference (torch, torch.nn.functional, x, weights) -> y
CASES = {
    "hardsigmoid": ("hardsigmoid", (4, 6, 6), lambda t, f, x, w: f.hardsigmoid(x)),
    "mish": ("mish", (4, 6, 6), lambda t, f, x, w: f.mish(x)),
    "softplus": ("softplus", (4, 6, 6), lambda t, f, x, w: f.softplus(x)),
    "layernorm": (
        "layernorm",
        (6, 5, 3),
        lambda t, f, x, w: f.layer_norm(
            x.permute(0, 2, 3, 1), (6,), t.from_numpy(w["scale"]), t.from_numpy(w["shift"]), 1e-5
        ).permute(0, 3, 1, 2),
    ),
    "layernorm_eps": (
        "layernorm(eps=0.1)",
        (6, 5, 3),
        lambda t, f, x, w: f.layer_norm(
            x.permute(0, 2, 3, 1), (6,), t.from_numpy(w["scale"]), t.from_numpy(w["shift"]), 0.1
        ).permute(0, 3, 1, 2),
    ),
    "layernorm_flat": (
        "layernorm",
        (10,),
        lambda t, f, x, w: f.layer_norm(x, (10,), t.from_numpy(w["scale"]), t.from_numpy(w["shift"]), 1e-5),
    ),
    "groupnorm": (
        "groupnorm(3, eps=0.01)",
        (6, 5, 4),
        lambda t, f, x, w: f.group_norm(x, 3, t.from_numpy(w["scale"]), t.from_numpy(w["shift"]), 0.01),
    ),
    "instancenorm": (
        "instancenorm",
        (5, 4, 7),
        lambda t, f, x, w: f.instance_norm(x, weight=t.from_numpy(w["scale"]), bias=t.from_numpy(w["shift"]), eps=1e-5),
    ),
    "scale": ("scale(1e-6)", (5, 3, 3), lambda t, f, x, w: x * t.from_numpy(w["scale"])),
    "scale_flat": ("scale", (7,), lambda t, f, x, w: x * t.from_numpy(w["scale"])),
    "droppath": ("droppath(0.3)", (4, 6, 6), lambda t, f, x, w: x),
    "slice": ("slice(1, 4)", (6, 3, 3), lambda t, f, x, w: x[:, 1:4]),
    "slice_flat": ("slice(2, 9)", (9,), lambda t, f, x, w: x[:, 2:9]),
    "chunk": ("chunk(3, 2)", (6, 3, 3), lambda t, f, x, w: t.chunk(x, 3, 1)[2]),
    "chunk_first": ("chunk(2, 0)", (6, 3, 3), lambda t, f, x, w: t.chunk(x, 2, 1)[0]),
    "pixel_shuffle": ("pixel_shuffle(3)", (18, 2, 4), lambda t, f, x, w: f.pixel_shuffle(x, 3)),
    "pixel_unshuffle": ("pixel_unshuffle(2)", (3, 4, 6), lambda t, f, x, w: f.pixel_unshuffle(x, 2)),
    "upsample_size": ("upsample(size=[7, 13])", (3, 5, 4), lambda t, f, x, w: f.interpolate(x, size=(7, 13))),
    "upsample_size_down": ("upsample(size=[3, 2])", (3, 7, 5), lambda t, f, x, w: f.interpolate(x, size=(3, 2))),
    "upsample_size_linear": (
        "upsample(size=[9, 5], mode=linear)",
        (3, 4, 7),
        lambda t, f, x, w: f.interpolate(x, size=(9, 5), mode="bilinear", align_corners=False),
    ),
    "upsample_align_corners": (
        "upsample(size=[9, 6], mode=linear, align_corners=true)",
        (3, 4, 7),
        lambda t, f, x, w: f.interpolate(x, size=(9, 6), mode="bilinear", align_corners=True),
    ),
    "upsample_scale_align_corners": (
        "upsample(2, mode=linear, align_corners=true)",
        (3, 4, 5),
        lambda t, f, x, w: f.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
    ),
    "upsample_nearest_scale": ("upsample([2, 3])", (3, 4, 5), lambda t, f, x, w: f.interpolate(x, scale_factor=(2, 3))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    call, shape, reference = CASES[case]
    net = _net(call, shape)
    model = net.to_onnx()
    rng = np.random.default_rng(7)
    weights = _randomised(model, rng)
    x = rng.standard_normal((2, *shape)).astype(np.float32) * 3
    got = _run(model, {"x": x})
    want = reference(torch, torch.nn.functional, torch.from_numpy(x), weights).numpy()
    assert list(got.shape[1:]) == net.outputs[0]["shape"][1:] == list(want.shape[1:])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _torch_counts(module) -> tuple[int, int]:
    return sum(p.numel() for p in module.parameters()), sum(b.numel() for b in module.buffers())


@pytest.mark.parametrize(
    ("call", "module"),
    [
        ("layernorm", lambda nn: nn.LayerNorm(24)),  # torchvision's LayerNorm2d is an nn.LayerNorm
        ("groupnorm(6)", lambda nn: nn.GroupNorm(6, 24)),
        ("instancenorm", lambda nn: nn.InstanceNorm2d(24, affine=True)),
        ("scale", lambda nn: nn.ParameterList([nn.Parameter(nn.init.ones_(nn.Parameter(np.empty(0))))])),
    ],
)
def test_parameters_and_state_match_pytorch(call, module):
    torch = pytest.importorskip("torch")
    net = _net(call, (24, 5, 5))
    if call == "scale":  # ConvNeXt's layer scale: nn.Parameter(init * torch.ones(dim, 1, 1))
        params, state = torch.nn.Parameter(torch.ones(24, 1, 1)).numel(), 0
    else:
        params, state = _torch_counts(module(torch.nn))
    assert (net.totals["params"], net.totals["state"]) == (params, state)
    assert net.totals["trainable"] == params


def test_flops_follow_the_cost_model():
    """docs/cost-model.md, derived by hand for a [6, 4, 5] input (120 elements, 20 positions)."""
    elements, positions, channels = 120, 20, 6
    expected = {
        "hardsigmoid": 3 * elements,
        "softplus": 3 * elements,
        "mish": 5 * elements,
        "layernorm": 7 * elements + 4 * positions,
        "groupnorm(3)": 7 * elements + 4 * 3,
        "instancenorm": 7 * elements + 4 * channels,
        "scale": elements,
        "droppath(0.1)": 0,
        "slice(0, 2)": 0,
        "chunk(3, 1)": 0,
        "pixel_shuffle(1)": 0,
        "upsample(size=[8, 10], mode=linear)": 9 * 6 * 8 * 10,
        "upsample(size=[8, 10])": 0,
    }
    for call, flops in expected.items():
        net = _net(call, (6, 4, 5))
        assert (net.totals["flops"], net.totals["macs"]) == (flops, 0), call
    assert _net("layernorm", (10,)).totals["flops"] == 7 * 10 + 4


# -- shapes against onnxruntime on random settings ----------------------------------------------


def _shape_or_none(call: str, shape) -> list | None:
    try:
        net = _net(call, shape)
    except cnndsl.CnnError as exc:
        assert exc.code in ("E0400", "E0301"), exc.diagnostics[0].message
        return None
    model = net.to_onnx()
    onnx.checker.check_model(model, full_check=True)
    got = _run(model, {"x": np.zeros((1, *shape), np.float32)})
    assert list(got.shape[1:]) == net.outputs[0]["shape"][1:]
    return list(got.shape[1:])


@given(st.integers(1, 12), st.integers(1, 6), st.integers(1, 6), st.integers(1, 3))
def test_pixel_shuffles_agree_with_pytorch_on_what_they_accept(channels, height, width, factor):
    torch = pytest.importorskip("torch")
    x = torch.zeros(1, channels, height, width)
    for call, op in (
        (f"pixel_shuffle({factor})", torch.nn.functional.pixel_shuffle),
        (f"pixel_unshuffle({factor})", torch.nn.functional.pixel_unshuffle),
    ):
        ours = _shape_or_none(call, (channels, height, width))
        try:
            theirs = list(op(x, factor).shape[1:])
        except RuntimeError:
            theirs = None
        assert ours == theirs, call


@given(st.integers(1, 8), st.integers(0, 9), st.integers(1, 9), st.integers(1, 4), st.integers(0, 4))
def test_slice_and_chunk_agree_with_pytorch(channels, start, stop, parts, index):
    torch = pytest.importorskip("torch")
    x = torch.zeros(1, channels, 2, 2)
    ours = _shape_or_none(f"slice({start}, {stop})", (channels, 2, 2))
    assert ours == (list(x[:, start:stop].shape[1:]) if start < stop <= channels else None)
    ours = _shape_or_none(f"chunk({parts}, {index})", (channels, 2, 2))
    pieces = torch.chunk(x, parts, 1)
    fits = channels % parts == 0 and index < parts
    assert ours == (list(pieces[index].shape[1:]) if fits else None)


@given(st.tuples(st.integers(1, 9), st.integers(1, 9)), st.tuples(st.integers(1, 20), st.integers(1, 20)))
def test_upsample_size_agrees_with_onnxruntime(size, out):
    assert _shape_or_none(f"upsample(size={list(out)}, mode=linear)", (2, *size)) == [2, *out]


# -- upsample(like=...): the class takes the reference tensor as a second input ------------------


def _like_network(mode: str = "linear"):
    """`upsample` rewired by hand to two inputs, as the lowering of `like=r` will do."""
    net = cnndsl.loads(
        "network T {\n  input x: [3, 4, 5]\n  input r: [2, 9, 7]\n"
        f"  output y = x -> upsample(mode={mode})\n  output z = r -> relu\n}}"
    )
    node = net.graph["upsample1"]
    node.inputs = ("x", "r")
    node.layer.attrs["like"] = "r"
    node.shape = node.layer.output_shape([net.graph["x"].shape, net.graph["r"].shape])
    return net


def test_upsample_like_resizes_to_the_reference_size():
    torch = pytest.importorskip("torch")
    net = _like_network()
    assert net.graph["upsample1"].shape == ("N", 3, 9, 7)
    assert net.graph["upsample1"].layer.label() == "upsample like r linear"
    model = backend.build(net)
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node][:2] == ["Shape", "Resize"]
    rng = np.random.default_rng(3)
    x, r = rng.standard_normal((2, 3, 4, 5), dtype=np.float32), rng.standard_normal((2, 2, 9, 7), dtype=np.float32)
    got = _run(model, {"x": x, "r": r})
    want = torch.nn.functional.interpolate(torch.from_numpy(x), size=(9, 7), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)


def test_upsample_like_rejects_a_flat_reference():
    layer = _like_network().graph["upsample1"].layer
    with pytest.raises(cnndsl.layers.ShapeError, match="needs an image"):
        layer.output_shape([("N", 3, 4, 5), ("N", 12)])


# -- receptive fields by impulse response ---------------------------------------------------------


def _rows_read(call: str, shape) -> tuple[list[set], dict]:
    """For each output row, the input rows whose impulse reaches it (random weights, no bias)."""
    net = _net(call, shape)
    model = net.to_onnx()
    _randomised(model, np.random.default_rng(5))
    channels, height, width = shape
    impulses = np.zeros((height, channels, height, width), np.float32)
    for i in range(height):
        impulses[i, :, i, :] = np.random.default_rng(i).uniform(0.5, 1.5, (channels, width))
    baseline = _run(model, {"x": np.zeros((1, *shape), np.float32)})  # norms shift even a zero input
    response = np.abs(_run(model, {"x": impulses}) - baseline).sum(axis=(1, 3)) > 1e-6  # [input row, output row]
    return [set(np.nonzero(response[:, o])[0]) for o in range(response.shape[1])], net.values["output"]["rf"]


def _check_floor_rule(reads, rf, height, phase):
    """Output row o reads rows floor(o * stride - padding) onwards, `size` of them, for every
    o that is a multiple of `phase` (the upsampling factor after a downsampling: between
    those, a fractional-stride field starts at the previous whole position)."""
    size, stride, padding = (Fraction(rf[key][0]).limit_denominator(1000) for key in ("size", "stride", "padding"))
    interior = 0
    for o, rows in enumerate(reads):
        if o % phase:
            if min(rows) > 0 and max(rows) < height - 1:  # not clipped by the image border
                assert len(rows) == size
            continue
        start = floor(o * stride - padding)
        if start >= 0 and start + size - 1 < height:
            assert rows == set(range(start, start + int(size))), o
            interior += 1
    assert interior > 0


@pytest.mark.parametrize(
    ("call", "phase"),
    [
        ("conv(4, [3, 1], bias=false) -> pixel_shuffle(2)", 1),
        ("conv(4, [3, 1], pad=[1, 0], bias=false) -> pixel_shuffle(2) -> conv(3, [3, 1], bias=false)", 1),
        ("pixel_unshuffle(2) -> conv(2, [3, 1], bias=false)", 1),
        (
            "conv(2, [2, 1], pad=[1, 0, 0, 0], bias=false) -> pixel_unshuffle(2) -> conv(8, [3, 1], bias=false) "
            "-> pixel_shuffle(2)",
            2,
        ),
        ("conv(2, [3, 1], bias=false) -> upsample(size=[37, 2])", 1),
        ("conv(2, [3, 1], bias=false) -> upsample(size=[9, 2])", 1),
        ("layernorm -> conv(2, [3, 1], bias=false) -> scale -> slice(0, 1)", 1),
    ],
)
def test_field_equals_impulse_response(call, phase):
    reads, rf = _rows_read(call, (2, 24, 2))
    _check_floor_rule(reads, rf, 24, phase)


def test_linear_resize_field_size_is_the_widest_read():
    reads, rf = _rows_read("upsample(size=[37, 2], mode=linear)", (1, 16, 2))
    assert rf["size"][0] == max(max(r) - min(r) + 1 for r in reads)


def test_field_of_a_position_covers_every_channel():
    """Fields are per position: unshuffle then shuffle is the identity, but its field (size 2)
    covers the rows of all channels of a position, a superset of what each element reads."""
    reads, rf = _rows_read("pixel_unshuffle(2) -> pixel_shuffle(2)", (1, 24, 2))
    assert all(rows == {o} for o, rows in enumerate(reads))
    assert (rf["size"][0], rf["stride"][0], rf["padding"][0]) == (2, 1, 0)


@pytest.mark.parametrize(("given", "message"), [("scales", "`like` and `scale`"), ("sizes", "`like` and `size`")])
def test_upsample_like_excludes_scale_and_size(given, message):
    attrs = {"scales": None, "sizes": None, "mode": "nearest", "align_corners": False, "like": "skip", given: (2, 2)}
    with pytest.raises(cnndsl.layers.ArgError, match=message) as caught:
        cnndsl.layers.LAYERS["upsample"](attrs).check()
    assert caught.value.arg == "like"  # the lowering puts the caret under `like=`
