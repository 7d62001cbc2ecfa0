"""`cnndsl import` of Darknet `.cfg` files (docs/import.md).

Expected figures come from outside the importer: parameter counts and output
shapes derived by hand from each network's layer list, and outputs from a
numpy forward pass written here from Darknet's C sources (convolution with
`pad=1` meaning `size/2`, batch norm as AlexeyAB's `sqrt(var + 1e-5)`, max
pooling whose windows start `padding/2` before the image, `reorg_cpu` as
AlexeyAB's `forward_reorg_layer` calls it) over a random `.weights` file
written in Darknet's layout.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import IMPORT_MODELS, imported

from cnndsl import cli
from cnndsl.network import loads

MODELS = IMPORT_MODELS


# -- shapes and parameter counts, by hand --------------------------------------------------


def convs(*layers) -> int:
    """Parameters of (in, out, kernel, bn) convolutions: a bias, or BN's scale and shift."""
    return sum(i * o * k * k + (2 * o if bn else o) for i, o, k, bn in layers)


DARKNET19 = convs(
    (3, 32, 3, 1), (32, 64, 3, 1), (64, 128, 3, 1), (128, 64, 1, 1), (64, 128, 3, 1),
    (128, 256, 3, 1), (256, 128, 1, 1), (128, 256, 3, 1),
    (256, 512, 3, 1), (512, 256, 1, 1), (256, 512, 3, 1), (512, 256, 1, 1), (256, 512, 3, 1),
    (512, 1024, 3, 1), (1024, 512, 1, 1), (512, 1024, 3, 1), (1024, 512, 1, 1), (512, 1024, 3, 1),
    (1024, 1000, 1, 0),
)  # fmt: skip
# yolo-voc: the trunk (without the classifier), two 3x3 convolutions, the passthrough 1x1 to 64 channels
# whose reorg (4 * 64) joins the 1024, a 3x3 and the 1x1 head
YOLOV2 = (
    DARKNET19
    - convs((1024, 1000, 1, 0))
    + convs((1024, 1024, 3, 1), (1024, 1024, 3, 1), (512, 64, 1, 1), (4 * 64 + 1024, 1024, 3, 1), (1024, 125, 1, 0))
)
YOLOV2_TINY = convs(
    (3, 16, 3, 1), (16, 32, 3, 1), (32, 64, 3, 1), (64, 128, 3, 1), (128, 256, 3, 1), (256, 512, 3, 1),
    (512, 1024, 3, 1), (1024, 1024, 3, 1), (1024, 125, 1, 0),
)  # fmt: skip
YOLOV3_TINY = convs(
    (3, 16, 3, 1), (16, 32, 3, 1), (32, 64, 3, 1), (64, 128, 3, 1), (128, 256, 3, 1), (256, 512, 3, 1),
    (512, 1024, 3, 1), (1024, 256, 1, 1), (256, 512, 3, 1), (512, 255, 1, 0),
    (256, 128, 1, 1), (128 + 256, 256, 3, 1), (256, 255, 1, 0),
)  # fmt: skip
CSP = convs(
    (3, 32, 3, 1), (16, 16, 3, 1), (16, 16, 3, 1), (32, 32, 1, 1),
    (64, 32, 1, 1), (64, 32, 1, 1), (32, 32, 3, 1), (64, 64, 1, 1), (64, 18, 1, 0),
)  # fmt: skip
# features.cfg: a grouped conv (16 filters over 8/2 channels each), a batch-normalised connected layer
# 12*3*3 -> 10 (no bias; BN's scale and shift)
FEATURES = convs((3, 8, 3, 1), (4, 16, 3, 0), (16, 16, 1, 1), (40, 12, 3, 1))
FEATURES += 12 * 3 * 3 * 10 + 2 * 10


@pytest.mark.parametrize(
    ("cfg", "params", "outputs"),
    [
        ("darknet19.cfg", DARKNET19, {"output": [1000, 1, 1]}),
        ("yolov2.cfg", YOLOV2, {"region31": [125, 13, 13]}),
        ("yolov2-tiny.cfg", YOLOV2_TINY, {"region15": [125, 13, 13]}),
        ("yolov3-tiny.cfg", YOLOV3_TINY, {"yolo16": [255, 13, 13], "yolo23": [255, 26, 26]}),
        ("csp.cfg", CSP, {"yolo16": [18, 8, 8]}),
        ("features.cfg", FEATURES, {"output": [10]}),
    ],
)
def test_shapes_and_parameters(tmp_path, cfg, params, outputs):
    network = loads(imported(tmp_path, cfg))
    assert cli.main(["fmt", "--check", str(tmp_path / f"{Path(cfg).stem}.cnn")]) == 0  # written canonically
    assert network.totals["params"] == params
    shapes = {name: list(network.graph[node].shape[1:]) for name, node in network.graph.outputs.items()}
    assert shapes == outputs


# -- outputs against a numpy forward pass ----------------------------------------------------


def parse(text: str) -> list[tuple[str, dict]]:
    sections = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            sections.append((line[1:-1], {}))
        elif line and line[0] not in "#;":
            key, value = line.split("=", 1)
            sections[-1][1][key.strip()] = value.strip()
    return sections


def write_weights(path: Path, sections, rng) -> dict[int, dict]:
    """A random `.weights` file in Darknet's layout; the tensors by layer index."""
    net = sections[0][1]
    tensors, blobs = {}, []
    image = (int(net["channels"]), int(net["height"]), int(net["width"]))
    shapes = [x.shape for x in forward(sections, np.zeros(image))]
    for i, (kind, options) in enumerate(sections[1:]):
        before = shapes[i - 1] if i else image
        if kind not in ("convolutional", "connected"):
            continue
        n = int(options.get("filters", options.get("output", 0)))
        t = {"biases": rng.normal(0, 0.1, n)}
        if options.get("batch_normalize") == "1":
            t |= {"scales": rng.uniform(0.5, 1.5, n), "mean": rng.normal(0, 0.1, n), "var": rng.uniform(0.5, 1.5, n)}
        if kind == "convolutional":
            size, groups = int(options.get("size", 1)), int(options.get("groups", 1))
            t["weights"] = rng.normal(0, 0.3, (n, before[0] // groups, size, size))
            order = ["biases", "scales", "mean", "var", "weights"]
        else:
            t["weights"] = rng.normal(0, 0.1, (n, int(np.prod(before))))
            order = ["biases", "weights", "scales", "mean", "var"]
        tensors[i] = {k: v.astype(np.float32) for k, v in t.items()}
        blobs += [tensors[i][k].ravel() for k in order if k in t]
    path.write_bytes(struct.pack("<3iq", 0, 2, 0, 0) + np.concatenate(blobs).astype("<f4").tobytes())
    return tensors


def activate(x, name):
    return {
        "linear": lambda: x,
        "leaky": lambda: np.where(x > 0, x, 0.1 * x),
        "logistic": lambda: 1 / (1 + np.exp(-x)),
        "mish": lambda: x * np.tanh(np.log1p(np.exp(x))),
        "swish": lambda: x / (1 + np.exp(-x)),
        "relu": lambda: np.maximum(x, 0),
        "tanh": lambda: np.tanh(x),
        "elu": lambda: np.where(x >= 0, x, np.expm1(x)),
        "selu": lambda: np.where(x >= 0, 1.0507 * x, 1.0507 * 1.6732 * np.expm1(x)),
    }[name]()


def conv(x, w, stride, pad, groups):
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    n, cg, k, _ = w.shape
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    parts = []
    for g in range(groups):
        part = windows[g * cg : (g + 1) * cg]
        parts.append(np.einsum("chwij,ocij->ohw", part, w[g * n // groups : (g + 1) * n // groups], optimize=True))
    return np.concatenate(parts)


def maxpool(x, size, stride, padding):
    c, h, w = x.shape
    out_h, out_w = (h + padding - size) // stride + 1, (w + padding - size) // stride + 1
    begin = padding // 2
    padded = np.full((c, h + padding + size, w + padding + size), -np.inf)
    padded[:, begin : begin + h, begin : begin + w] = x
    out = np.full((c, out_h, out_w), -np.inf)
    for i in range(size):
        for j in range(size):
            out = np.maximum(out, padded[:, i : i + stride * out_h : stride, j : j + stride * out_w : stride])
    return out


def reorg(x, stride):
    """`reorg_cpu(input, out_w, out_h, out_c, batch, stride, forward=0, output)` as AlexeyAB calls it."""
    c, h, w = x.shape
    oc, oh, ow = c * stride * stride, h // stride, w // stride
    k, j, i = np.meshgrid(np.arange(oc), np.arange(oh), np.arange(ow), indexing="ij")
    c2, offset = k % (oc // (stride * stride)), k // (oc // (stride * stride))
    w2, h2 = i * stride + offset % stride, j * stride + offset // stride
    in_index = i + ow * (j + oh * k)
    out_index = w2 + ow * stride * (h2 + oh * stride * c2)
    out = np.empty(x.size)
    out[in_index.ravel()] = x.ravel()[out_index.ravel()]
    return out.reshape(oc, oh, ow)


def forward(sections, x, tensors=None):
    """Every layer's output (Darknet's semantics); shapes only when `tensors` is None."""
    outs = []
    for i, (kind, o) in enumerate(sections[1:]):
        get = lambda key, default, o=o: int(o.get(key, default))  # noqa: E731
        t = (tensors or {}).get(i)
        if kind == "convolutional":
            size, pad = get("size", 1), get("size", 1) // 2 if get("pad", 0) else 0
            w = t["weights"] if t else np.zeros((get("filters", 1), x.shape[0] // get("groups", 1), size, size))
            x = conv(x, w, get("stride", 1), pad, get("groups", 1))
            if t and "scales" in t:
                x = (x - t["mean"][:, None, None]) / np.sqrt(t["var"][:, None, None] + 1e-5)
                x = x * t["scales"][:, None, None]
            x = activate(x + (t["biases"][:, None, None] if t else 0), o.get("activation", "logistic"))
        elif kind == "maxpool":
            stride = get("stride", 1)
            x = maxpool(x, get("size", stride), stride, get("padding", get("size", stride) - 1))
        elif kind == "avgpool":
            x = x.mean(axis=(1, 2), keepdims=True)
        elif kind == "route":
            layers = [int(v) + i if int(v) < 0 else int(v) for v in o["layers"].split(",")]
            groups, group = get("groups", 1), get("group_id", 0)
            x = np.concatenate([np.split(outs[n], groups)[group] for n in layers])
        elif kind == "shortcut":
            x = activate(x + outs[i + int(o["from"])], o.get("activation", "linear"))
        elif kind == "upsample":
            x = x.repeat(get("stride", 2), axis=1).repeat(get("stride", 2), axis=2)
        elif kind == "reorg":
            x = reorg(x, get("stride", 1))
        elif kind == "connected":
            x = x.ravel()
            x = t["weights"] @ x if t else np.zeros(get("output", 1))
            if t and "scales" in t:
                x = (x - t["mean"]) / np.sqrt(t["var"] + 1e-5) * t["scales"]
            x = activate(x + (t["biases"] if t else 0), o.get("activation", "logistic"))
        elif kind == "softmax":  # over every value (a [C, 1, 1] or [F] input here)
            x = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
        outs.append(x)
    return outs


def run_imported(tmp_path, text: str, weights: Path, image: np.ndarray) -> list[np.ndarray]:
    ort = pytest.importorskip("onnxruntime")
    cfg, cnn, side, model = (tmp_path / n for n in ("m.cfg", "m.cnn", "m.safetensors", "m.onnx"))
    cfg.write_text(text)
    argv = ["import", str(cfg), "-o", str(cnn), "--weights", str(weights), "--weights-out", str(side)]
    assert cli.main(argv) == 0
    assert cli.main(["compile", str(cnn), "--weights", str(side), "-o", str(model)]) == 0
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: image[None].astype(np.float32)})


@pytest.mark.parametrize(
    ("cfg", "size"),
    [
        ("features.cfg", None),
        ("csp.cfg", None),
        ("classifier.cfg", None),
        pytest.param("yolov3-tiny.cfg", 64, marks=pytest.mark.slow),
    ],
)
def test_outputs_match_a_numpy_darknet(tmp_path, cfg, size):
    text = (MODELS / cfg).read_text()
    if size:
        text = text.replace("width=416", f"width={size}").replace("height=416", f"height={size}")
    sections = parse(text)
    rng = np.random.default_rng(7)
    tensors = write_weights(tmp_path / "m.weights", sections, rng)
    net = sections[0][1]
    image = rng.uniform(0, 1, (int(net["channels"]), int(net["height"]), int(net["width"])))
    outs = forward(sections, image.astype(np.float64), tensors)
    marked = [i - 1 for i, (kind, _) in enumerate(sections[1:]) if kind in ("yolo", "region")] or [len(outs) - 1]
    expected = [outs[i] for i in marked]
    got = run_imported(tmp_path, text, tmp_path / "m.weights", image)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g[0].shape == e.shape
        np.testing.assert_allclose(g[0], e, rtol=1e-4, atol=1e-4 * np.abs(e).max())


# -- malformed input: located errors, no traceback -------------------------------------------

NET = "[net]\nwidth=8\nheight=8\nchannels=3\n"
CONV = "[convolutional]\nfilters=4\nsize=3\npad=1\n"


@pytest.mark.parametrize(
    ("text", "code", "where"),
    [
        (NET + CONV + "[frobnicate]\nx=1\n", "E1222", "9:2"),
        (NET + CONV + "[route]\nlayers=-1, 5\n", "E1224", "10:8"),
        (NET + "[route]\nlayers=-1\n", "E1224", "6:8"),
        (NET + CONV + "activation=gelux\n", "E1225", "9:12"),
        (NET + CONV + "filters\n", "E1221", "9:1"),
        (NET + "[convolutional]\nfilters=four\n", "E1223", "6:9"),
        (NET + CONV + "[maxpool]\nsize=2\nstride=2\n[shortcut]\nfrom=-2\n", "E1226", "13:6"),
        ("[convolutional]\nfilters=4\n", "E1228", "1:1"),
        (NET + "[convolutional]\nfilters=4\nsize=9\n", "E1226", "7:6"),
    ],
)
def test_malformed_cfg(tmp_path, capsys, text, code, where):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(text)
    assert cli.main(["import", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert f"bad.cfg:{where}: error:" in err and f"[{code}]" in err and "Traceback" not in err


def test_truncated_and_overlong_weights(tmp_path, capsys):
    cfg = tmp_path / "m.cfg"
    cfg.write_text(NET + CONV + "batch_normalize=1\n" + CONV)  # 4*(3*9) + 4*4 and 4*(4*9) + 4 floats
    need = 4 * 27 + 16 + 4 * 36 + 4
    header = struct.pack("<3iq", 0, 2, 0, 0)
    (tmp_path / "short.weights").write_bytes(header + bytes(4 * (4 * 27 + 16 + 3)))
    assert cli.main(["import", str(cfg), "--weights", str(tmp_path / "short.weights")]) == 1
    err = capsys.readouterr().err
    assert "m.cfg:10:1: error:" in err and "[E1227]" in err  # the second convolution
    (tmp_path / "long.weights").write_bytes(header + bytes(4 * (need + 1)))
    assert cli.main(["import", str(cfg), "--weights", str(tmp_path / "long.weights")]) == 2
    assert "[E1227]" in capsys.readouterr().err
    (tmp_path / "exact.weights").write_bytes(header + bytes(4 * need))
    assert cli.main(["import", str(cfg), "--weights", str(tmp_path / "exact.weights")]) == 0
    old = struct.pack("<4i", 0, 1, 0, 0)  # before 0.2, `seen` was an int32
    (tmp_path / "old.weights").write_bytes(old + bytes(4 * need))
    assert cli.main(["import", str(cfg), "--weights", str(tmp_path / "old.weights")]) == 0


def test_every_truncation_is_an_error_or_a_network(tmp_path):
    """Cut anywhere, a cfg imports or gives a located CnnError: never another exception."""
    from cnndsl.errors import CnnError
    from cnndsl.frontends import darknet

    text = (MODELS / "features.cfg").read_text()
    outcomes = set()
    for end in range(0, len(text), 7):
        try:
            darknet.from_text(text[:end], "cut.cfg")
            outcomes.add("ok")
        except CnnError as exc:
            assert all(d.span is not None or d.code == "E1220" for d in exc.diagnostics), exc
            outcomes.add(exc.code)
    assert "ok" in outcomes and len(outcomes) > 2


def test_an_option_nothing_reads_is_a_note(tmp_path, capsys):
    """Darknet ignores unknown options (with a warning); so does the importer, saying where."""
    cfg = tmp_path / "typo.cfg"
    cfg.write_text(NET + CONV + "strid=2\n")
    assert cli.main(["import", str(cfg), "-o", str(tmp_path / "typo.cnn")]) == 0
    assert "typo.cfg:9: `strid` is not a [convolutional] option" in capsys.readouterr().err
    assert "stride" not in (tmp_path / "typo.cnn").read_text()


def test_a_hostile_file_name_stays_in_the_comment():
    from cnndsl.frontends import darknet

    result = darknet.from_text(NET + CONV, "x\nnetwork Evil { input a: [1, 1, 1] }\n-3.cfg")
    assert [line for line in result.source.splitlines() if line.startswith("network")] == [
        "network XNetworkEvilInputA1113 {"
    ]
    assert loads(result.source).name == "XNetworkEvilInputA1113"
