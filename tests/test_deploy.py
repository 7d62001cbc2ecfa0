"""`compile --precision fp16`, `--quantize int8 --calibrate DATA` and `--triton REPO` (docs/deploy.md).

Expected values come from onnxruntime running the float32 model, from the
report (the shapes), and from tritonclient's own ModelConfig protobuf class.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from conftest import ROOT

from cnndsl.cli import main
from cnndsl.network import load

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

DIGITS = str(ROOT / "examples" / "digits.cnn")
LENET = str(ROOT / "architectures" / "lenet5.cnn")


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _logits(path, images: np.ndarray) -> np.ndarray:
    sess = _session(path)
    return sess.run(None, {sess.get_inputs()[0].name: images})[0]


def _compile(tmp_path, *extra, name="model.onnx", source=DIGITS, network="Digits"):
    out = tmp_path / name
    assert main(["compile", source, "--network", network, "-o", str(out), *extra]) == 0
    return out


def _float_types(model) -> set[int]:
    return {init.data_type for init in model.graph.initializer}


def test_fp16_is_checked_runs_and_keeps_float32_edges(tmp_path):
    fp32, fp16 = _compile(tmp_path), _compile(tmp_path, "--precision", "fp16", name="half.onnx")
    model = onnx.load(str(fp16))
    onnx.checker.check_model(model, full_check=True)
    assert onnx.TensorProto.FLOAT16 in _float_types(model)
    assert onnx.TensorProto.FLOAT not in _float_types(model)
    edges = [*model.graph.input, *model.graph.output]
    assert {v.type.tensor_type.elem_type for v in edges} == {onnx.TensorProto.FLOAT}
    images = np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32)
    want, got = _logits(fp32, images), _logits(fp16, images)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2 * np.abs(want).max())
    assert os.path.getsize(fp16) < 0.6 * os.path.getsize(fp32)


def _pgm(path, pixels: np.ndarray) -> None:
    height, width = pixels.shape
    path.write_bytes(f"P5 {width} {height} 255\n".encode() + pixels.astype(np.uint8).tobytes())


def test_int8_from_a_folder_of_images_is_checked_and_runs(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "calib"
    folder.mkdir()
    for i in range(20):
        _pgm(folder / f"{i:02}.pgm", rng.integers(0, 256, (32, 32)))
    fp32 = _compile(tmp_path, source=LENET, network="LeNet5")
    int8 = _compile(
        tmp_path, "--quantize", "int8", "--calibrate", str(folder), name="q.onnx", source=LENET, network="LeNet5"
    )
    model = onnx.load(str(int8))
    onnx.checker.check_model(model, full_check=True)
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert onnx.TensorProto.INT8 in _float_types(model)
    images = rng.random((4, 1, 32, 32), dtype=np.float32)
    want, got = _logits(fp32, images), _logits(int8, images)
    assert got.shape == want.shape and np.isfinite(got).all()
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.9


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--quantize", "int8"], "needs --calibrate"),
        (["--calibrate", "x.npy"], "used with --quantize"),
        (["--quantize", "int8", "--precision", "fp16", "--calibrate", "x.npy"], "exclude each other"),
        (["--quantize", "int8", "--calibrate", "missing.npy"], "a folder of images or an .npy batch"),
        (["--max-batch", "4"], "describe a --triton repository"),
    ],
)
def test_deploy_misuse_is_a_clear_error(tmp_path, capsys, extra, message):
    assert main(["compile", DIGITS, "--network", "Digits", "-o", str(tmp_path / "m.onnx"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_calibration_batch_of_the_wrong_shape_is_a_clear_error(tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((4, 3, 8, 8), np.float32))
    args = ["--quantize", "int8", "--calibrate", str(tmp_path / "bad.npy")]
    assert main(["compile", DIGITS, "--network", "Digits", "-o", str(tmp_path / "m.onnx"), *args]) == 2
    assert "the input needs [N, 1, 8, 8]" in capsys.readouterr().err


# -- Triton -------------------------------------------------------------------------------


def _config(path):
    pytest.importorskip("tritonclient.grpc", reason="pip install 'tritonclient[grpc]'")
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


@pytest.mark.parametrize("max_batch", [0, 8])
def test_triton_repository_matches_the_report(tmp_path, max_batch):
    repo = tmp_path / "models"
    args = ["--triton", str(repo), "--max-batch", str(max_batch), "--instances", "2", "--dynamic-batching"]
    assert main(["compile", LENET, *args]) == 0
    report = load(LENET).to_dict()
    folder = repo / report["network"]
    config = _config(folder / "config.pbtxt")
    assert config.name == report["network"] and config.platform == "onnxruntime_onnx"
    assert config.max_batch_size == max_batch
    batch = [] if max_batch else [-1]  # with max_batch_size > 0, Triton's dims leave the batch out
    for tensors, expected in ((config.input, report["inputs"]), (config.output, report["outputs"])):
        assert [t.name for t in tensors] == [e["name"] for e in expected]
        assert all(e["shape"][0] == "N" for e in expected)
        assert [list(t.dims) for t in tensors] == [batch + e["shape"][1:] for e in expected]
        assert all(t.data_type == config.input[0].data_type for t in tensors)
    from tritonclient.grpc import model_config_pb2

    assert config.input[0].data_type == model_config_pb2.TYPE_FP32
    assert [(g.count, g.kind) for g in config.instance_group] == [(2, model_config_pb2.ModelInstanceGroup.KIND_AUTO)]
    assert config.HasField("dynamic_batching")
    sess = _session(folder / "1" / "model.onnx")
    assert [i.name for i in sess.get_inputs()] == [e["name"] for e in report["inputs"]]
    assert sorted(os.listdir(repo)) == [report["network"]]  # no staging folder left behind


def test_triton_rewrite_replaces_the_model_as_a_whole(tmp_path):
    repo = tmp_path / "models"
    assert main(["compile", LENET, "--triton", str(repo)]) == 0
    (repo / "LeNet5" / "stale.txt").write_text("from an older model")
    assert main(["compile", LENET, "--triton", str(repo), "--precision", "fp16"]) == 0
    assert sorted(os.listdir(repo / "LeNet5")) == ["1", "config.pbtxt"]
    model = onnx.load(str(repo / "LeNet5" / "1" / "model.onnx"))
    assert onnx.TensorProto.FLOAT16 in _float_types(model)
    assert sorted(os.listdir(repo)) == ["LeNet5"]


@pytest.mark.parametrize("value", ["-1", "two", str(2**31)])
def test_triton_bad_max_batch_is_a_clear_error(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit:
        main(["compile", LENET, "--triton", str(tmp_path / "models"), "--max-batch", value])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "--max-batch" in err and "expected a whole number" in err
    assert not (tmp_path / "models").exists()


def test_triton_repo_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    repo = tmp_path / "models"
    repo.write_text("not a folder")
    assert main(["compile", LENET, "--triton", str(repo)]) == 2
    assert f"{repo} is a file" in capsys.readouterr().err
    assert repo.read_text() == "not a folder"


# -- the tutorial's digits network, trained ----------------------------------------------------


def _tutorial():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    pytest.importorskip("safetensors")
    spec = importlib.util.spec_from_file_location("train_digits", ROOT / "examples" / "train_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_int8_digits_accuracy_within_one_point_of_float32(tmp_path):
    tutorial = _tutorial()
    from safetensors.torch import save_file

    train_x, test_x, train_y, test_y = tutorial.data()
    tutorial.torch.manual_seed(0)
    tutorial.torch.set_num_threads(1)  # small batches: one thread is fastest (as in the tutorial)
    tutorial.run(["export", DIGITS, "--network", "Digits", "--to", "pytorch", "-o", str(tmp_path / "m.py")])
    model = tutorial.import_generated(tmp_path / "m.py").Digits()
    tutorial.train(model, train_x, train_y, 8, lr=3e-3)
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    np.save(tmp_path / "calib.npy", train_x[:256])
    weights = ["--weights", str(tmp_path / "w.safetensors")]
    fp32 = _compile(tmp_path, *weights)
    int8 = _compile(tmp_path, *weights, "--quantize", "int8", "--calibrate", str(tmp_path / "calib.npy"), name="q.onnx")
    onnx.checker.check_model(onnx.load(str(int8)), full_check=True)
    accuracy = {p: float((_logits(p, test_x).argmax(1) == test_y).mean()) for p in (fp32, int8)}
    assert accuracy[fp32] >= 0.95
    assert abs(accuracy[int8] - accuracy[fp32]) <= 0.01
