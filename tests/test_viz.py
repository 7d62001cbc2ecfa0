"""`cnndsl viz` and Network.feature_maps / occlusion (docs/visualise.md).

Expected values come from numpy (cross-correlation written out here), a second
onnxruntime session on a model cut by onnx's own Extractor, and a network trained
with PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cnndsl
from cnndsl.cli import main

pytest.importorskip("onnxruntime")
PIL = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
EDGES = str(ROOT / "architectures" / "edges.cnn")
DIGITS = str(ROOT / "examples" / "digits.cnn")
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float64)
SOBEL_Y = SOBEL_X.T
BOX = np.full((3, 3), 1 / 9)


def scene(size: int = 64) -> np.ndarray:
    """A photo-like grey test picture in 0..255: a lit gradient, a bright disc, a dark bar, noise."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:size, 0:size] / size
    picture = 60 + 80 * x + 40 * y
    picture[(x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.05] = 230
    picture[int(size * 0.7) : int(size * 0.8), 5 : size // 2] = 20
    picture += rng.normal(0, 6, picture.shape)
    return np.clip(picture, 0, 255).astype(np.uint8)


def correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'Same' cross-correlation with zero padding, written out in numpy."""
    padded = np.pad(image, 1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def _png(path: Path, pixels: np.ndarray) -> str:
    PIL.fromarray(pixels).save(path)
    return str(path)


def _cli(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_edge_maps_are_sobel_and_box_correlations(tmp_path, capsys):
    pixels = scene()
    image = _png(tmp_path / "scene.png", pixels)
    code, err = _cli(
        capsys, "viz", "maps", EDGES, "--input", image, "--layer", "conv1", "conv2", "conv3", "edges",
        "-o", str(tmp_path / "maps.png"), "--npy", str(tmp_path / "maps.npz"),
    )  # fmt: skip
    assert code == 0, err
    maps = np.load(tmp_path / "maps.npz")
    grey = pixels / 255.0
    for name, kernel in (("conv1", SOBEL_X), ("conv2", SOBEL_Y), ("conv3", BOX)):
        assert maps[name].shape == (1, 64, 64)
        np.testing.assert_allclose(maps[name][0], correlate(grey, kernel), atol=1e-5)
    np.testing.assert_array_equal(maps["edges"], np.concatenate([maps["conv1"], maps["conv2"], maps["conv3"]]))
    assert PIL.open(tmp_path / "maps.png").size[0] > 100


def test_a_larger_image_is_resized_and_said(tmp_path, capsys):
    image = _png(tmp_path / "big.png", np.stack([scene(128)] * 3, axis=2))  # RGB into a grey input
    code, err = _cli(capsys, "viz", "maps", EDGES, "--input", image, "--layer", "conv3", "-o", str(tmp_path / "m.png"))
    assert code == 0, err
    assert "128x128 image resized to the input's 64x64" in err


def _cut(model, tensor: str):
    """A model that ends at `tensor`, cut by onnx's Extractor (independent of cnndsl's viz code)."""
    onnx = pytest.importorskip("onnx")
    from onnx.utils import Extractor

    inferred = onnx.shape_inference.infer_shapes(model)
    return Extractor(inferred).extract_model([i.name for i in model.graph.input], [tensor])


@pytest.mark.parametrize(
    ("source", "network"),
    [(DIGITS, "Digits"), (str(ROOT / "architectures" / "lenet5.cnn"), None)],
)
def test_maps_equal_a_session_that_ends_at_the_layer(source, network):
    import onnxruntime

    net = cnndsl.load(source, network)
    c, h, w = net.inputs[0]["shape"][1:]
    image = np.random.default_rng(0).random((c, h, w), dtype=np.float32)
    model = net.to_onnx(seed=3)
    produced = {out for n in model.graph.node for out in n.output}
    layers = [n.name for n in net.nodes if len(n.shape) == 4 and n.name in produced][:12]
    assert len(layers) >= 5
    maps = net.feature_maps(image, layers, seed=3)
    for name in layers:
        session = onnxruntime.InferenceSession(
            _cut(model, name).SerializeToString(), providers=["CPUExecutionProvider"]
        )
        (expected,) = session.run(None, {session.get_inputs()[0].name: image[None]})
        np.testing.assert_allclose(maps[name], expected[0], rtol=1e-5, atol=1e-5, err_msg=name)
    if "features" in net.graph.values:  # a bound value: LeNet's `features = avgpool(2)`
        np.testing.assert_array_equal(net.feature_maps(image, "features", seed=3)["features"], maps["avgpool2"])


def test_filters_are_the_fixed_kernels(tmp_path, capsys):
    net = cnndsl.load(EDGES)
    np.testing.assert_array_equal(net_filters(net, "conv1")[0, 0], SOBEL_X)
    np.testing.assert_allclose(net_filters(net, "conv3")[0, 0], BOX, rtol=1e-6)
    code, err = _cli(capsys, "viz", "filters", EDGES, "--layer", "conv2", "-o", str(tmp_path / "f.png"))
    assert code == 0, err
    assert (tmp_path / "f.png").stat().st_size > 0


def net_filters(net, layer):
    from cnndsl.tools.viz import filters

    return filters(net, layer)


def test_rgb_tiles_for_a_first_layer_on_three_channels():
    from cnndsl.tools.viz import draw

    net = cnndsl.loads("network T { input x: [3, 16, 16]; conv(4, 3) -> relu -> conv(2, 3) }")
    first, second = net_filters(net, "conv1"), net_filters(net, "conv2")
    tiles = draw.filter_tiles(first, rgb=True)
    assert [t.shape for _, t in tiles] == [(3, 3, 3)] * 4
    np.testing.assert_allclose(tiles[1][1][:, :, 2], _unit(first[1])[2])  # channel 2 of filter 1 is blue
    assert len(draw.filter_tiles(second, rgb=False)) == 2 * 4


def _unit(array):
    return (array - array.min()) / (array.max() - array.min())


def test_input_independent_network_gives_a_flat_map():
    net = cnndsl.loads("network C { input x: [1, 12, 12]; conv(4, 3) -> relu -> gap -> flatten -> dense(5) }")
    image = np.random.default_rng(0).random((1, 12, 12), dtype=np.float32)
    flat = net.occlusion(image, weights={"conv1/weight": np.zeros((4, 1, 3, 3), np.float32)}, patch=3, stride=1)
    assert np.ptp(flat["heat"]) == 0 and flat["heat"][0, 0] == 0
    live = net.occlusion(image, patch=3, stride=1)  # the same network, its input-dependent weights
    assert np.ptp(live["heat"]) > 1e-4
    assert live["windows"].shape == (10, 10)  # 12 - 3 + 1 positions each way
    # a pixel's heat is the mean drop over the windows covering it: the corner pixel has one window
    assert live["heat"][0, 0] == pytest.approx(live["score"] - live["windows"][0, 0], abs=1e-6)


def _train_digits(tmp_path: Path):
    """Digits (examples/digits.cnn) trained as in the tutorial, 8 epochs; weights in .safetensors."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    safetensors = pytest.importorskip("safetensors.torch")
    import importlib.util
    import sys

    sys.path.insert(0, str(ROOT / "examples"))
    try:
        spec = importlib.util.spec_from_file_location("train_digits_viz", ROOT / "examples" / "train_digits.py")
        tutorial = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tutorial)
    finally:
        sys.path.remove(str(ROOT / "examples"))
    torch.manual_seed(0)
    torch.set_num_threads(1)
    train_x, test_x, train_y, test_y = tutorial.data()
    model = cnndsl.load(DIGITS, "Digits").to_torch(initial=False)
    tutorial.train(model, train_x, train_y, epochs=8, lr=3e-3)
    weights = tmp_path / "digits.safetensors"
    safetensors.save_file(model.state_dict(), str(weights))
    return weights, test_x, test_y


@pytest.mark.slow
def test_occlusion_heat_lies_on_the_strokes(tmp_path, capsys):
    weights, test_x, test_y = _train_digits(tmp_path)
    net = cnndsl.load(DIGITS, "Digits")
    shares, areas = [], []
    for image, label in zip(test_x[:40], test_y[:40]):
        result = net.occlusion(image, weights=str(weights), target=int(label), patch=2, stride=1, fill=0.0)
        heat = np.clip(result["heat"], 0, None)
        strokes = image[0] > 0.25
        if heat.sum() > 0:
            shares.append(heat[strokes].sum() / heat.sum())
            areas.append(strokes.mean())
    # the measure: the share of the positive heat (probability drop) that falls on stroke pixels;
    # measured 0.82 (strokes cover 0.39 of the pixels), docs/visualise.md
    share, area = float(np.mean(shares)), float(np.mean(areas))
    assert share > 0.5 and share > area + 0.1, (share, area)
    np.save(tmp_path / "digit.npy", test_x[0])
    code, err = _cli(
        capsys, "viz", "occlusion", DIGITS, "--network", "Digits", "--weights", str(weights),
        "--input", str(tmp_path / "digit.npy"), "--patch", "2", "--stride", "1", "--fill", "0",
        "-o", str(tmp_path / "heat.png"), "--npy", str(tmp_path / "heat.npy"),
    )  # fmt: skip
    assert code == 0, err
    assert np.load(tmp_path / "heat.npy").shape == (8, 8)


# -- bad input ------------------------------------------------------------------------------


def test_unknown_layer_has_a_hint(tmp_path, capsys):
    image = _png(tmp_path / "scene.png", scene())
    code, err = _cli(capsys, "viz", "maps", EDGES, "--input", image, "--layer", "egdes", "-o", str(tmp_path / "m.png"))
    assert code == 2
    assert "E0910" in err and "no layer or value named `egdes`" in err and "did you mean `edges`?" in err
    assert "Traceback" not in err and not (tmp_path / "m.png").exists()


def test_a_file_that_is_not_an_image(tmp_path, capsys):
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"not a picture at all\n" * 10)
    code, err = _cli(
        capsys, "viz", "maps", EDGES, "--input", str(fake), "--layer", "conv1", "-o", str(tmp_path / "m.png")
    )
    assert code == 2
    assert "E0904" in err and "cannot read the image" in err and "Traceback" not in err


def test_an_image_header_claiming_a_huge_size_is_refused_before_decoding(tmp_path, capsys):
    import struct
    import zlib

    header = struct.pack(">IIBBBBB", 9000, 9000, 8, 0, 0, 0, 0)  # a 9000x9000 grey PNG, no pixels
    chunk = b"IHDR" + header
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    (tmp_path / "bomb.png").write_bytes(png + b"\0\0\0\0IEND\xaeB`\x82")
    code, err = _cli(
        capsys,
        "viz",
        "maps",
        EDGES,
        "--input",
        str(tmp_path / "bomb.png"),
        "--layer",
        "conv1",
        "-o",
        str(tmp_path / "m.png"),
    )
    assert code == 2 and "E0904" in err and "9000x9000" in err and "Traceback" not in err


def test_a_jpeg_feeds_an_rgb_network(tmp_path):
    rgb = np.stack([scene(), scene()[::-1], scene()[:, ::-1]], axis=2)
    PIL.fromarray(rgb).save(tmp_path / "photo.jpg", quality=95)
    net = cnndsl.loads("network T { input x: [3, 32, 32]; conv(4, 3, pad=1) -> relu }")
    maps = net.feature_maps(str(tmp_path / "photo.jpg"), ["conv1", "relu1"])
    assert maps["conv1"].shape == (4, 32, 32)
    np.testing.assert_allclose(maps["relu1"], np.maximum(maps["conv1"], 0), atol=1e-6)


def test_a_layer_without_spatial_maps(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8), np.float32))
    code, err = _cli(
        capsys, "viz", "maps", DIGITS, "--network", "Digits", "--input", str(tmp_path / "x.npy"),
        "--layer", "logits", "-o", str(tmp_path / "m.png"),
    )  # fmt: skip
    assert code == 2
    assert "E0911" in err and "`logits` has the shape [10]" in err and "layers with maps:" in err


def test_a_patch_larger_than_the_image(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8), np.float32))
    code, err = _cli(
        capsys, "viz", "occlusion", DIGITS, "--network", "Digits", "--input", str(tmp_path / "x.npy"),
        "--patch", "9", "-o", str(tmp_path / "h.png"),
    )  # fmt: skip
    assert code == 2
    assert "E0912" in err and "the patch (9x9) is larger than the image (8x8)" in err


def test_filters_of_a_layer_without_kernels(tmp_path, capsys):
    code, err = _cli(
        capsys, "viz", "filters", DIGITS, "--network", "Digits", "--layer", "logits", "-o", str(tmp_path / "f.png")
    )
    assert code == 2
    assert "E0913" in err and "`logits` is not a convolution" in err


def test_long_runs_get_a_progress_bar():
    tqdm = pytest.importorskip("tqdm")
    from cnndsl.tools.viz.occlusion import BATCH, _batches

    many = [(0, k) for k in range(5 * BATCH)]
    assert isinstance(_batches(many, progress=True), tqdm.tqdm)
    assert isinstance(_batches(many[:BATCH], progress=True), list)
    assert sum(len(chunk) for chunk in _batches(many, progress=False)) == len(many)
