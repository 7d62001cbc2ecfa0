"""`cnndsl compile`, `cnndsl run` and the session API."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import ROOT

import cnndsl
from cnndsl.backends import runtime
from cnndsl.cli import main

LENET = str(ROOT / "architectures" / "lenet5.cnn")
LOCALIZER = str(ROOT / "architectures" / "localizer.cnn")
HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- compile ----------------------------------------------------------------------------------------


def test_compile_writes_a_model_named_after_the_network(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _cli(capsys, "compile", LENET)
    assert code == 0 and out == ""
    model = onnx.load("LeNet5.onnx")
    assert [o.name for o in model.graph.output] == ["logits"]
    assert "opset 21, IR 10" in err


def test_compile_is_reproducible_and_seedable(tmp_path, capsys):
    paths = [tmp_path / name for name in ("a.onnx", "b.onnx", "c.onnx")]
    for path, seed in zip(paths, ("0", "0", "7")):
        assert _cli(capsys, "compile", LENET, "-o", str(path), "--seed", seed)[0] == 0
    assert paths[0].read_bytes() == paths[1].read_bytes() != paths[2].read_bytes()
    default = tmp_path / "d.onnx"
    _cli(capsys, "compile", LENET, "-o", str(default))
    assert default.read_bytes() == paths[0].read_bytes()


def test_compile_errors_are_located(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.zeros((3, 3)))
    source = tmp_path / "net.cnn"
    source.write_text('network T {\n  input x: [4]\n  dense(2, init="w.npy")\n}\n')
    code, _, err = _cli(capsys, "compile", str(source), "-o", str(tmp_path / "t.onnx"))
    assert code == 1
    assert f"{source}:3:3" in err and "E0701" in err and "[2, 4]" in err
    assert not (tmp_path / "t.onnx").exists()
    assert _cli(capsys, "compile", LENET, "--seed", "-1", "-o", str(tmp_path / "t.onnx"))[0] == 2


def test_compile_as_a_whole_process(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "cnndsl", "compile", LENET, "-o", str(tmp_path / "m.onnx"), "--set", "classes=3"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"digits": np.zeros((2, 1, 32, 32), np.float32)})
    assert logits.shape == (2, 3)


def test_report_does_not_import_the_backends():
    code = (
        "import sys, io, contextlib\n"
        "from cnndsl.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(['report', sys.argv[1]])\n"
        "print(sorted(m for m in ('numpy', 'onnx', 'onnxruntime') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, LENET], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# -- run -----------------------------------------------------------------------------------------------


def test_run_prints_shapes_and_the_top_5(capsys):
    code, out, _ = _cli(capsys, "run", LENET, "--provider", "cpu", "--batch", "2")
    assert code == 0
    assert re.search(r"logits: \[2, 10\] float32", out)
    top = re.search(r"top-5: (.*)", out)[1]
    assert len(re.findall(r"\d+ \(\d\.\d{3}\)", top)) == 5


def test_run_shows_every_output_and_no_top_5_for_a_box(capsys):
    code, out, _ = _cli(capsys, "run", LOCALIZER, "--provider", "cpu")
    assert code == 0
    assert "scores: [1, 20]" in out and "box: [1, 4]" in out
    assert out.count("top-5") == 1


def test_run_on_an_input_array_matches_onnxruntime(tmp_path, capsys):
    x = np.random.default_rng(0).standard_normal((1, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, out, _ = _cli(capsys, "run", LENET, "--input", str(tmp_path / "x.npy"), "--provider", "cpu")
    assert code == 0
    (logits,) = cnndsl.load(LENET).session("cpu").run(None, {"digits": x[None]})
    assert f"max {logits.max():.4g}" in out and f"min {logits.min():.4g}" in out


def test_run_on_a_compiled_model(tmp_path, capsys):
    _cli(capsys, "compile", LENET, "-o", str(tmp_path / "m.onnx"))
    code, out, _ = _cli(capsys, "run", str(tmp_path / "m.onnx"), "--provider", "cpu")
    assert code == 0 and "logits: [1, 10]" in out
    assert _cli(capsys, "run", str(tmp_path / "m.onnx"), "--set", "classes=3")[0] == 2


@pytest.mark.parametrize(
    ("problem", "message"),
    [("missing", "no such input file"), ("shape", "the input needs [N, 1, 32, 32]"), ("text", "expected a .npy")],
)
def test_run_rejects_bad_inputs(tmp_path, capsys, problem, message):
    path = tmp_path / ("x.txt" if problem == "text" else "x.npy")
    if problem == "shape":
        np.save(path, np.zeros((1, 3, 32, 32)))
    elif problem == "text":
        path.write_text("1 2 3")
    code, _, err = _cli(capsys, "run", LENET, "--input", str(path), "--provider", "cpu")
    assert code == 2 and message in err


def _netpbm(path, pixels: np.ndarray) -> None:
    magic = b"P6" if pixels.ndim == 3 else b"P5"
    height, width = pixels.shape[:2]
    path.write_bytes(
        magic + f"\n# made by a test\n{width} {height}\n255\n".encode() + pixels.astype(np.uint8).tobytes()
    )


def test_images_feed_grey_and_colour_inputs(tmp_path, capsys):
    grey = np.arange(32 * 32).reshape(32, 32) % 256
    _netpbm(tmp_path / "g.pgm", grey)
    array = runtime.load_input(str(tmp_path / "g.pgm"), [1, 1, 32, 32])
    np.testing.assert_allclose(array[0, 0], grey / 255, rtol=1e-6)
    colour = np.random.default_rng(0).integers(0, 256, (48, 48, 3))
    _netpbm(tmp_path / "c.ppm", colour)
    array = runtime.load_input(str(tmp_path / "c.ppm"), [1, 3, 96, 96])  # resized x2
    np.testing.assert_allclose(array[0, :, ::2, ::2], colour.transpose(2, 0, 1) / 255, rtol=1e-6)
    assert _cli(capsys, "run", LOCALIZER, "--input", str(tmp_path / "c.ppm"), "--provider", "cpu")[0] == 0
    assert _cli(capsys, "run", LENET, "--input", str(tmp_path / "c.ppm"), "--provider", "cpu")[0] == 0


def test_png_images_with_pillow(tmp_path, capsys):
    image = pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(1).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    image.fromarray(pixels).save(tmp_path / "x.png")
    array = runtime.load_input(str(tmp_path / "x.png"), [1, 3, 32, 32])
    np.testing.assert_allclose(array[0], pixels.transpose(2, 0, 1) / 255, rtol=1e-6)


def test_bench_prints_latency_and_throughput(capsys):
    code, out, _ = _cli(capsys, "run", LENET, "--provider", "cpu", "--bench", "5", "--batch", "3")
    assert code == 0
    match = re.search(r"bench: 5 runs, batch 3: median ([\d.]+) ms, p90 ([\d.]+) ms, ([\d.]+) samples/s", out)
    assert match and 0 < float(match[1]) <= float(match[2])


# -- providers ---------------------------------------------------------------------------------------


@pytest.mark.skipif(HAS_CUDA, reason="checks the fallback without CUDA")
def test_auto_falls_back_to_the_cpu_with_a_one_line_note(capsys):
    code, out, err = _cli(capsys, "run", LENET)
    assert code == 0 and "CPUExecutionProvider" in out
    assert len(err.strip().splitlines()) == 1 and "running on the CPU" in err


@pytest.mark.skipif(HAS_CUDA, reason="checks the message without CUDA")
def test_cuda_without_a_gpu_build_fails_clearly(capsys):
    code, out, err = _cli(capsys, "run", LENET, "--provider", "cuda")
    assert code == 2 and out == ""
    assert "CUDA provider is not available" in err and "onnxruntime-gpu" in err


def test_two_runtime_builds_installed_together_are_reported_with_the_fix(capsys, monkeypatch):
    monkeypatch.setattr(runtime, "_installed", lambda name: name in ("onnxruntime", "onnxruntime-gpu"))
    code, _, err = _cli(capsys, "run", LENET, "--provider", "cpu")
    assert code == 2 and "E0901" in err
    assert "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu" in err


def test_the_cpu_build_alone_is_not_reported():
    assert runtime._installed("onnxruntime")
    assert not runtime._installed("onnxruntime-gpu") or HAS_CUDA


# -- API ------------------------------------------------------------------------------------------------


def test_session_api_runs_the_network():
    net = cnndsl.load(LENET)
    session = net.session(providers="cpu")
    assert session.get_providers() == ["CPUExecutionProvider"]
    x = np.ones((2, 1, 32, 32), np.float32)
    (logits,) = session.run(None, {"digits": x})
    (again,) = ort.InferenceSession(net.to_onnx().SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"digits": x}
    )
    np.testing.assert_array_equal(logits, again)
    assert net.session(providers=["CPUExecutionProvider"], seed=1).run(None, {"digits": x})[0].shape == (2, 10)


def test_session_of_a_model_over_the_threshold_uses_external_data(monkeypatch):
    from cnndsl.backends import onnx as backend

    net = cnndsl.load(LENET)
    x = np.ones((1, 1, 32, 32), np.float32)
    expected = net.session("cpu").run(None, {"digits": x})[0]
    monkeypatch.setattr(backend, "EXTERNAL_DATA_THRESHOLD", 1000)
    np.testing.assert_array_equal(net.session("cpu").run(None, {"digits": x})[0], expected)


def test_no_stray_files_in_the_repository():
    assert not [p for p in os.listdir(ROOT) if p.endswith(".onnx")]
