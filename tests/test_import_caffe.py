"""`cnndsl import` of Caffe `.prototxt` files, and their `.caffemodel` weights (docs/import.md).

Expected figures come from outside the importer: the published parameter
count of BVLC's AlexNet (60,965,224), counts and shapes derived by hand from
the layer lists, and outputs from a numpy forward pass written here from
Caffe's layer definitions (pooling rounded up, average pooling divided by the
window clipped to the padded image, LRN `x / (k + alpha/n * sum x^2)^beta`,
BatchNorm's blobs divided by their moving-average factor) over a random
`.caffemodel` encoded here in protobuf's wire format.
"""

from __future__ import annotations

from math import ceil
from pathlib import Path

import numpy as np
import pytest
from conftest import IMPORT_MODELS, imported

from cnndsl import cli
from cnndsl.network import loads

MODELS = IMPORT_MODELS


def convs(*layers) -> int:
    """(in per group, out, kh, kw, bias) convolutions and (in, out, 1, 1, bias) inner products."""
    return sum(i * o * kh * kw + (o if bias else 0) for i, o, kh, kw, bias in layers)


LENET = convs((1, 20, 5, 5, 1), (20, 50, 5, 5, 1), (800, 500, 1, 1, 1), (500, 10, 1, 1, 1))
INCEPTION = convs(
    (192, 64, 1, 1, 1), (192, 96, 1, 1, 1), (96, 128, 3, 3, 1), (192, 16, 1, 1, 1), (16, 32, 5, 5, 1),
    (192, 32, 1, 1, 1),
)  # fmt: skip
# features.prototxt; each BatchNorm counts scale and shift (2 * 8), the lone one too (cnndsl's `bn` has them,
# fixed at 1 and 0 from the caffemodel), and the lone Scale 12
FEATURES = convs((3, 8, 3, 5, 0), (4, 8, 3, 3, 1), (8, 8, 1, 1, 1), (8, 4, 1, 1, 1), (192, 10, 1, 1, 1))
FEATURES += convs((10, 5, 1, 1, 1)) + 2 * 16 + 12


@pytest.mark.parametrize(
    ("model", "params", "shape"),
    [
        ("lenet.prototxt", LENET, [10]),
        ("alexnet.prototxt", 60_965_224, [1000]),
        ("inception.prototxt", INCEPTION, [256, 28, 28]),
        ("features.prototxt", FEATURES, [5]),
    ],
)
def test_shapes_and_parameters(tmp_path, model, params, shape):
    network = loads(imported(tmp_path, model))
    assert cli.main(["fmt", "--check", str(tmp_path / f"{Path(model).stem}.cnn")]) == 0  # written canonically
    assert network.totals["params"] == params
    assert [list(network.graph[n].shape[1:]) for n in network.graph.outputs.values()] == [shape]


def test_inception_pool_rounds_up(tmp_path):
    """56x56 under a 3x3/2 max pool: Caffe's ceil((56 - 3) / 2) + 1 = 28, where floor would give 27."""
    network = loads(imported(tmp_path, "inception.prototxt"))
    pool = next(node for node in network.nodes if node.op == "maxpool")
    assert pool.shape[2:] == (ceil((56 - 3) / 2) + 1,) * 2 == (28, 28)


# -- a .caffemodel written here ------------------------------------------------------------


def varint(n: int) -> bytes:
    out = b""
    while True:
        out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            return out


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def blob(array: np.ndarray) -> bytes:
    shape = field(1, b"".join(varint(d) for d in array.shape))
    return field(7, shape) + field(5, array.astype("<f4").tobytes())


def caffemodel(layers: dict[str, list[np.ndarray]]) -> bytes:
    body = b""
    for name, blobs in layers.items():
        layer = field(1, name.encode()) + field(2, b"Layer") + b"".join(field(7, blob(b)) for b in blobs)
        body += field(100, layer)
    return field(1, b"net") + body


# -- a numpy Caffe ---------------------------------------------------------------------------


def conv(x, w, b, stride=(1, 1), pad=(0, 0), dilation=1, groups=1):
    x = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    o, cg, kh, kw = w.shape
    span = (dilation * (kh - 1) + 1, dilation * (kw - 1) + 1)
    windows = np.lib.stride_tricks.sliding_window_view(x, span, axis=(1, 2))
    windows = windows[:, :: stride[0], :: stride[1], ::dilation, ::dilation]
    out = np.concatenate([
        np.einsum("chwij,ocij->ohw", windows[g * cg : (g + 1) * cg], w[g * o // groups : (g + 1) * o // groups])
        for g in range(groups)
    ])  # fmt: skip
    return out + (b[:, None, None] if b is not None else 0)


def pool(x, k, s, p, method):
    """Caffe's PoolingLayer: ceil rounding, the last window clipped; AVE divides by the window within h + pad."""
    c, h, w = x.shape
    sizes = []
    for n in (h, w):
        out = ceil((n + 2 * p - k) / s) + 1
        sizes.append(out - 1 if p and (out - 1) * s >= n + p else out)
    y = np.zeros((c, *sizes))
    for i in range(sizes[0]):
        for j in range(sizes[1]):
            h0, w0 = i * s - p, j * s - p
            h1, w1 = min(h0 + k, h + p), min(w0 + k, w + p)
            area = (h1 - h0) * (w1 - w0)
            window = x[:, max(h0, 0) : min(h1, h), max(w0, 0) : min(w1, w)]
            y[:, i, j] = window.max(axis=(1, 2)) if method == "max" else window.sum(axis=(1, 2)) / area
    return y


def lrn(x, size, alpha, beta, k):
    squares = np.pad(x**2, ((size // 2, size // 2), (0, 0), (0, 0)))
    total = sum(squares[i : i + x.shape[0]] for i in range(size))
    return x / (k + alpha / size * total) ** beta


def batch_norm(x, mean, var, factor, eps):
    return (x - mean[:, None, None] / factor) / np.sqrt(var[:, None, None] / factor + eps)


def features_forward(x, t):
    per = lambda a: a[:, None, None]  # noqa: E731
    y = conv(x, t["conv1"][0], None, pad=(1, 2))
    y = batch_norm(y, *t["bn1"][:2], t["bn1"][2][0], 0.001) * per(t["scale1"][0]) + per(t["scale1"][1])
    a = pool(np.where(y > 0, y, 0.2 * y), 3, 2, 0, "max")
    gate = 1 / (1 + np.exp(-conv(a, *t["conv2"], pad=(2, 2), dilation=2, groups=2)))
    y = np.maximum(np.tanh(conv(a * gate, *t["conv3"])) + a, a)
    y = lrn(batch_norm(y, *t["bn2"][:2], t["bn2"][2][0], 1e-5), 3, 0.5, 0.75, 2.0)
    y = pool(y, 3, 2, 1, "ave")
    y = np.concatenate([y, conv(y, *t["conv4"])]) * per(t["gain"][0])
    y = np.maximum(t["ip1"][0] @ y.ravel() + t["ip1"][1], 0)
    y = t["ip2"][0] @ y + t["ip2"][1]
    return np.exp(y - y.max()) / np.exp(y - y.max()).sum()


def lenet_forward(x, t):
    y = pool(conv(x, *t["conv1"]), 2, 2, 0, "max")
    y = pool(conv(y, *t["conv2"]), 2, 2, 0, "max")
    y = np.maximum(t["ip1"][0] @ y.ravel() + t["ip1"][1], 0)
    y = t["ip2"][0] @ y + t["ip2"][1]
    return np.exp(y - y.max()) / np.exp(y - y.max()).sum()


def random_blobs(rng, shapes: dict) -> dict[str, list[np.ndarray]]:
    out = {}
    for name, blob_shapes in shapes.items():
        if name.startswith("bn"):
            c = blob_shapes[0]
            factor = 4.0  # Caffe stores running sums; the mean is blob / factor
            mean, var = rng.normal(0, 0.2, c) * factor, rng.uniform(0.5, 1.5, c) * factor
            out[name] = [mean.astype(np.float32), var.astype(np.float32), np.array([factor], np.float32)]
        else:
            out[name] = [rng.normal(0, 0.3, s).astype(np.float32) for s in blob_shapes]
    return out


FEATURE_BLOBS = {
    "conv1": [(8, 3, 3, 5)], "bn1": [8], "scale1": [(8,), (8,)], "conv2": [(8, 4, 3, 3), (8,)],
    "conv3": [(8, 8, 1, 1), (8,)], "bn2": [8], "conv4": [(4, 8, 1, 1), (4,)], "gain": [(12,)],
    "ip1": [(10, 192), (10,)], "ip2": [(5, 10), (5,)],
}  # fmt: skip
LENET_BLOBS = {
    "conv1": [(20, 1, 5, 5), (20,)], "conv2": [(50, 20, 5, 5), (50,)], "ip1": [(500, 800), (500,)],
    "ip2": [(10, 500), (10,)],
}  # fmt: skip


@pytest.mark.parametrize(
    ("model", "blobs", "forward", "image"),
    [
        ("features.prototxt", FEATURE_BLOBS, features_forward, (3, 12, 13)),
        ("lenet.prototxt", LENET_BLOBS, lenet_forward, (1, 28, 28)),
    ],
)
def test_outputs_match_a_numpy_caffe(tmp_path, model, blobs, forward, image):
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(3)
    tensors = random_blobs(rng, blobs)
    (tmp_path / "m.caffemodel").write_bytes(caffemodel(tensors))
    side, onnx = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    imported(tmp_path, model, "--weights", str(tmp_path / "m.caffemodel"), "--weights-out", str(side))
    cnn = tmp_path / f"{Path(model).stem}.cnn"
    assert cli.main(["compile", str(cnn), "--weights", str(side), "-o", str(onnx)]) == 0
    x = rng.uniform(-1, 1, image)
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x[None].astype(np.float32)})
    expected = forward(x, {k: [v.astype(np.float64) for v in vs] for k, vs in tensors.items()})
    np.testing.assert_allclose(got[0], expected, rtol=1e-4, atol=1e-6)


# -- malformed input: located errors, no traceback -------------------------------------------

INPUT = 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
CONV = 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 2 kernel_size: 3 } }\n'  # noqa: E501


@pytest.mark.parametrize(
    ("text", "code", "where"),
    [
        ('layer {\n  name: "data"\n  input_param { shape { dim: 1 }\n', "E1241", "3:15"),
        (INPUT + "layer { name: @ }\n", "E1241", "3:15"),
        (INPUT + 'layer { name: "c" type: "Convolution" bottom: "dat" top: "c" }\n', "E1244", "3:47"),
        (INPUT + 'layer { name: "c" type: "Deconvolution" bottom: "data" top: "c" }\n', "E1242", "3:25"),
        (INPUT + 'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "data" top: "l" }\n', "E1242", "3:28"),
        (INPUT + 'layer { name: "m" type: "Eltwise" bottom: "data" bottom: "data" top: "m"\n'
         "  eltwise_param { operation: SUM coeff: 1 coeff: -1 } }\n", "E1245", "4:50"),
        (INPUT + CONV + 'layer { name: "j" type: "Concat" bottom: "data" bottom: "c" top: "j" }\n', "E1246", "4:1"),
        ('layer { name: "c" type: "ReLU" bottom: "x" top: "x" }\n', "E1244", "1:40"),
        (INPUT + 'layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: STOCHASTIC\n'
         "kernel_size: 2 } }\n", "E1245", "3:81"),
    ],
)  # fmt: skip
def test_malformed_prototxt(tmp_path, capsys, text, code, where):
    path = tmp_path / "bad.prototxt"
    path.write_text(text)
    assert cli.main(["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"bad.prototxt:{where}: error:" in err and f"[{code}]" in err and "Traceback" not in err


def test_malformed_caffemodel(tmp_path, capsys):
    path = tmp_path / "m.prototxt"
    path.write_text(INPUT + CONV)
    whole = caffemodel({"c": [np.zeros((2, 3, 3, 3), np.float32), np.zeros(2, np.float32)]})
    (tmp_path / "cut.caffemodel").write_bytes(whole[:-5])
    assert cli.main(["import", str(path), "--weights", str(tmp_path / "cut.caffemodel")]) == 2
    assert "[E1247]" in capsys.readouterr().err
    (tmp_path / "other.caffemodel").write_bytes(caffemodel({"d": [np.zeros(2, np.float32)]}))
    assert cli.main(["import", str(path), "--weights", str(tmp_path / "other.caffemodel")]) == 1
    err = capsys.readouterr().err
    assert "m.prototxt:3:15: error:" in err and "no blobs for layer `c`" in err
    (tmp_path / "m.caffemodel").write_bytes(whole)
    assert cli.main(["import", str(path), "--weights", str(tmp_path / "m.caffemodel")]) == 0


def test_every_truncation_is_an_error_or_a_network(tmp_path):
    """Cut anywhere, a prototxt (or a caffemodel) imports or gives a CnnError: never another exception."""
    from cnndsl.errors import CnnError
    from cnndsl.frontends import caffe

    def outcome(text, weights=None) -> str:
        try:
            caffe.from_text(text, "cut.prototxt", weights)
            return "ok"
        except CnnError as exc:
            return exc.code

    text = (MODELS / "features.prototxt").read_text()
    seen = {outcome(text[:end]) for end in range(0, len(text), 19)}
    assert {"ok", "E1241", "E1243"} <= seen
    whole = caffemodel({"c": [np.ones((2, 3, 3, 3), np.float32), np.ones(2, np.float32)]})
    weights = tmp_path / "cut.caffemodel"
    seen = set()
    for end in [*range(0, len(whole), 9), len(whole) - 1, len(whole)]:
        weights.write_bytes(whole[:end])
        seen.add(outcome(INPUT + CONV, weights))
    assert seen == {"ok", "E1247"}


def test_old_v1_layout(tmp_path):
    """`layers { type: CONVOLUTION }` and a V1 caffemodel (name field 4, blobs field 6, legacy 4-d dims)."""
    ort = pytest.importorskip("onnxruntime")
    prototxt = tmp_path / "v1.prototxt"
    prototxt.write_text(
        'input: "data"\ninput_dim: 1\ninput_dim: 2\ninput_dim: 5\ninput_dim: 5\n'
        'layers { name: "c" type: CONVOLUTION bottom: "data" top: "c"\n'
        "  convolution_param { num_output: 3 kernel_size: 3 } }\n"
        'layers { name: "r" type: RELU bottom: "c" top: "c" }\n'
    )  # fmt: skip
    rng = np.random.default_rng(5)
    w, b = rng.normal(0, 1, (3, 2, 3, 3)).astype(np.float32), rng.normal(0, 1, 3).astype(np.float32)

    def legacy(array, dims):
        counts = b"".join(varint(n << 3) + varint(d) for n, d in zip((1, 2, 3, 4), dims))
        return counts + field(5, array.astype("<f4").tobytes())

    kind = varint(5 << 3) + varint(4)  # type: CONVOLUTION (4 in V1LayerParameter.LayerType)
    layer = field(4, b"c") + kind + field(6, legacy(w, w.shape)) + field(6, legacy(b, (1, 1, 1, 3)))
    (tmp_path / "v1.caffemodel").write_bytes(field(2, layer))
    side, onnx = tmp_path / "v1.safetensors", tmp_path / "v1.onnx"
    argv = ["import", str(prototxt), "-o", str(tmp_path / "v1.cnn"), "--weights", str(tmp_path / "v1.caffemodel")]
    assert cli.main([*argv, "--weights-out", str(side)]) == 0
    assert cli.main(["compile", str(tmp_path / "v1.cnn"), "--weights", str(side), "-o", str(onnx)]) == 0
    x = rng.uniform(-1, 1, (2, 5, 5))
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"data": x[None].astype(np.float32)})
    np.testing.assert_allclose(got[0], np.maximum(conv(x, w, b), 0), rtol=1e-5, atol=1e-5)


def test_two_batch_norms_in_place_stay_two_nodes(tmp_path):
    """conv -> BatchNorm+Scale -> ReLU -> BatchNorm, all in place: the second `bn` gets its own line and keys."""
    from cnndsl.frontends import caffe

    layers = [
        'layer { name: "b1" type: "BatchNorm" bottom: "c" top: "c" }',
        'layer { name: "s1" type: "Scale" bottom: "c" top: "c" scale_param { bias_term: true } }',
        'layer { name: "r" type: "ReLU" bottom: "c" top: "c" }',
        'layer { name: "b2" type: "BatchNorm" bottom: "c" top: "c" }',
    ]
    text = INPUT + CONV + "\n".join(layers) + "\n"
    mean = np.array([2.0, 4.0], np.float32)
    blobs = {"c": [np.ones((2, 3, 3, 3), np.float32), np.zeros(2, np.float32)]}
    blobs |= {"b1": [mean, mean, np.array([1.0], np.float32)], "s1": [mean, mean]}
    blobs |= {"b2": [mean, 2 * mean, np.array([2.0], np.float32)]}
    (tmp_path / "m.caffemodel").write_bytes(caffemodel(blobs))
    result = caffe.from_text(text, "m.prototxt", tmp_path / "m.caffemodel")
    assert sum("bn" in line for line in result.source.splitlines()) == 2  # two lines, one `bn` each
    np.testing.assert_array_equal(result.weights["bn1.running_mean"], mean)
    np.testing.assert_array_equal(result.weights["bn2.running_mean"], mean / 2)  # divided by the factor
    np.testing.assert_array_equal(result.weights["bn2.running_var"], mean)
    np.testing.assert_array_equal(result.weights["bn2.weight"], [1, 1])  # no Scale: 1 and 0
    np.testing.assert_array_equal(result.weights["bn2.bias"], [0, 0])
