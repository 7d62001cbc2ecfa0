"""The PyTorch export and weight files: names, frozen layers, fixed kernels, generated
source accepted by ruff, initial weights shared with ONNX, hostile weight files."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import numpy as np
import onnx
import pytest
from conftest import ARCHITECTURES, SHARED
from onnx import numpy_helper
from test_cli import run

import cnndsl
from cnndsl.backends.pytorch.layers import MODULES
from cnndsl.backends.pytorch.pyexpr import Unsupported
from cnndsl.backends.pytorch.verify import check
from cnndsl.layers import LAYERS

TINY = """network Tiny(classes=3) {
  input image: [3, 12, 12]
  frozen {
    conv(4, 3, pad=1) -> bn -> relu
  }
  conv(2, 3, weights=sobel_x, bias=false) -> prelu
  gap -> flatten
  output logits = dense(classes)
}
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.cnn"
    path.write_text(TINY)
    return path


def test_every_layer_kind_has_a_pytorch_form():
    assert sorted(set(LAYERS) - set(MODULES)) == []


def test_generated_source_is_accepted_by_ruff(tmp_path):
    """Every zoo network and shared example, under the project's own rules (pyproject.toml)."""
    sources = [*sorted(ARCHITECTURES.glob("*.cnn")), *sorted(SHARED.glob("examples*/*.cnn"))]
    for source in sources:
        text = cnndsl.load(str(source)).to_pytorch_source()
        (tmp_path / f"{source.parent.name.replace('-', '_')}_{source.stem}.py").write_text(text)
    rules = ["--select", "E,F,W,I,B,UP,N,SIM", "--ignore", "B905,SIM108,N818", "--line-length", "120"]
    rules += ["--no-cache", "--isolated"]
    command = [sys.executable, "-m", "ruff", "check", *rules, str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_export_writes_source_that_compiles(tiny, tmp_path):
    out = tmp_path / "model.py"
    done = run("export", str(tiny), "--to", "pytorch", "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    compile(text, str(out), "exec")
    assert "class Tiny(nn.Module):" in text and "tiny.cnn:4" in text and "import onnx" not in text


def test_a_module_that_differs_from_the_compiled_graph_is_caught(tiny):
    """The check behind the parametric export (no torch): what the source builds must be the graph."""
    net = cnndsl.load(str(tiny))
    source = net.to_pytorch_source()
    assert not source.startswith("#")
    check(source, "Tiny", net.graph)
    for wrong in ("nn.Conv2d(3, 5, 3", "self.conv1 = nn.Conv2d(3, 4, 3, stride=2", "self.conv9 = nn.Conv2d(3"):
        changed = source.replace(wrong.replace("5", "4").replace(", stride=2", "").replace("conv9", "conv1"), wrong)
        assert changed != source
        with pytest.raises(Unsupported):
            check(changed, "Tiny", net.graph)


torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'cnndsl[torch]')")
safetensors_numpy = pytest.importorskip("safetensors.numpy")


def test_state_dict_keys_are_node_names():
    net = cnndsl.load(str(ARCHITECTURES / "resnet50.cnn"))
    keys = set(net.to_torch(initial=False).state_dict())
    assert {"Stage2.Bottleneck1.conv2.weight", "Stage2.Bottleneck1.bn1.running_mean", "logits.weight"} - keys == {
        "logits.weight"
    }
    suffixes = {"conv": ["weight"], "bn": ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]}
    suffixes["dense"] = ["weight", "bias"]
    expected = {f"{node.name.replace('/', '.')}.{suffix}" for node in net.nodes for suffix in suffixes.get(node.op, [])}
    assert keys == expected


def test_frozen_layers_and_fixed_kernels(tiny):
    module = cnndsl.load(str(tiny)).to_torch()
    grads = {name: p.requires_grad for name, p in module.named_parameters()}
    assert grads == {
        "conv1.weight": False,
        "conv1.bias": False,
        "bn1.weight": False,
        "bn1.bias": False,
        "conv2.weight": False,
        "prelu1.weight": True,
        "dense1.weight": True,
        "dense1.bias": True,
    }
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    assert (module.conv2.weight.detach().numpy() == sobel_x).all()
    assert module.prelu1.weight.detach().numpy().tolist() == [0.25, 0.25]


def test_frozen_batch_norm_keeps_its_statistics_in_training(tiny):
    module = cnndsl.load(str(tiny)).to_torch().train()
    before = module.bn1.running_mean.clone()
    module(torch.rand(4, 3, 12, 12) + 1.0)
    assert module.training and not module.bn1.training
    assert torch.equal(module.bn1.running_mean, before)


def onnx_weights(model) -> dict:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_initial_weights_are_those_compile_draws(tiny, tmp_path):
    out = tmp_path / "init.safetensors"
    assert run("export", str(tiny), "--to", "safetensors", "--seed", "7", "-o", str(out)).returncode == 0
    saved = safetensors_numpy.load_file(str(out))
    model = onnx_weights(cnndsl.load(str(tiny)).to_onnx(seed=7))
    renames = {"scale": "weight", "shift": "bias", "mean": "running_mean", "var": "running_var", "slope": "weight"}
    expected = {}
    for name, array in model.items():
        node, role = name.rsplit("/", 1)
        expected[f"{node}.{renames.get(role, role)}"] = array
    assert sorted(saved) == sorted(expected)
    for key, array in expected.items():
        assert np.array_equal(saved[key].reshape(array.shape), array), key
    module = cnndsl.load(str(tiny)).to_torch(seed=7)
    for key, value in module.state_dict().items():
        if key in expected:
            assert np.array_equal(value.numpy().reshape(expected[key].shape), expected[key]), key


def test_trained_weights_reach_onnx(tiny, tmp_path):
    module = cnndsl.load(str(tiny)).to_torch()
    with torch.no_grad():
        module.dense1.weight.mul_(3.0)
        module.bn1.running_var.fill_(4.0)
    path = tmp_path / "w.pt"
    torch.save(module.state_dict(), path)
    out = tmp_path / "m.onnx"
    done = run("compile", str(tiny), "--weights", str(path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    weights = onnx_weights(onnx.load(str(out)))
    assert np.array_equal(weights["dense1/weight"], module.dense1.weight.detach().numpy())
    assert (weights["bn1/var"] == 4.0).all()


def test_partial_keeps_fresh_layers_and_says_which(tiny, tmp_path):
    state = cnndsl.load(str(tiny)).to_torch().state_dict()
    trunk = {k: v.numpy() for k, v in state.items() if not k.startswith("dense1")}
    path = tmp_path / "trunk.npz"
    np.savez(path, **trunk)
    refused = run("compile", str(tiny), "--weights", str(path), "-o", str(tmp_path / "m.onnx"))
    assert refused.returncode == 1
    assert "has no `dense1.weight`" in refused.stderr and "tiny.cnn:8" in refused.stderr
    assert "--partial" in refused.stderr and "Traceback" not in refused.stderr
    done = run("compile", str(tiny), "--weights", str(path), "--partial", "-o", str(tmp_path / "m.onnx"))
    assert done.returncode == 0, done.stderr
    assert "kept the initial weights of 1 layer(s) the file lacks: dense1" in done.stderr


# -- hostile and wrong weight files ------------------------------------------------------------------


def good_state(tiny) -> dict:
    return {k: v.numpy() for k, v in cnndsl.load(str(tiny)).to_torch().state_dict().items()}


def safetensors_bytes(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def write_case(case: str, tiny, folder):
    state = good_state(tiny)
    if case == "wrong names":
        state["dense9.weight"] = state.pop("dense1.weight")
    elif case == "wrong shape":
        state["conv1.weight"] = np.zeros((4, 3, 5, 5), np.float32)
    elif case == "integer dtype":
        state["dense1.bias"] = np.zeros(3, np.int32)
    elif case == "nan":
        state["bn1.running_mean"] = np.full(4, np.nan, np.float32)
    if case in ("wrong names", "wrong shape", "integer dtype", "nan"):
        path = folder / "w.safetensors"
        path.write_bytes(safetensors_numpy.save({k: np.ascontiguousarray(v) for k, v in state.items()}))
        return path
    if case == "truncated safetensors":
        path = folder / "w.safetensors"
        path.write_bytes(safetensors_numpy.save(state)[:-100])
        return path
    if case == "huge header":
        path = folder / "w.safetensors"
        header = {"conv1.weight": {"dtype": "F32", "shape": [100_000, 1_000_000], "data_offsets": [0, 4 * 10**11]}}
        path.write_bytes(safetensors_bytes(header, b"\0" * 64))
        return path
    if case == "header past the end":
        path = folder / "w.safetensors"
        path.write_bytes(struct.pack("<Q", 10**12) + b"{}")
        return path
    if case == "pickle not a state_dict":
        path = folder / "w.pt"
        torch.save([1, 2, 3], path)
        return path
    if case == "pickle with code":
        path = folder / "w.pt"
        torch.save({"conv1.weight": torch.zeros(1), "hook": subprocess.run}, path)
        return path
    if case == "not a pickle":
        path = folder / "w.pth"
        path.write_bytes(b"\x80\x04garbage" * 10)
        return path
    if case == "huge npy header":
        path = folder / "w.npz"
        np.savez(path, **{"conv1.weight": np.zeros(4, np.float32)})
        import zipfile

        with zipfile.ZipFile(path, "w") as archive:
            header = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000,), }"
            header = header.ljust(117) + "\n"
            archive.writestr("conv1.weight.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header.encode())
        return path
    if case == "object npz":
        path = folder / "w.npz"
        np.savez(path, **{"conv1.weight": np.array([object()], dtype=object)})
        return path
    raise AssertionError(case)


CASES = {
    # case: (exit code, text expected in the message)
    "wrong names": (1, "`dense9.weight` [3, 2] matches no tensor"),
    "wrong shape": (1, "tiny.cnn:4"),
    "integer dtype": (1, "holds int32 values"),
    "nan": (1, "NaN or infinite"),
    "truncated safetensors": (2, "truncated or damaged"),
    "huge header": (2, "claims shape [100000, 1000000]"),
    "header past the end": (2, "claims a header of"),
    "pickle not a state_dict": (2, "holds a list, not a state_dict"),
    "pickle with code": (2, "torch can load safely"),
    "not a pickle": (2, "torch can load safely"),
    "huge npy header": (2, "claims shape [100000000000]"),
    "object npz": (2, "w.npz"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_weights_file_gets_a_located_error(case, tiny, tmp_path):
    path = write_case(case, tiny, tmp_path)
    done = run("compile", str(tiny), "--weights", str(path), "-o", str(tmp_path / "m.onnx"))
    code, text = CASES[case]
    assert done.returncode == code, done.stderr
    assert text in done.stderr and "Traceback" not in done.stderr
    assert str(path) in done.stderr or "tiny.cnn:" in done.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_match_order_refuses_what_order_cannot_pair(tiny, tmp_path):
    state = good_state(tiny)
    renamed = {f"t{i}": v for i, (k, v) in enumerate(state.items()) if not k.endswith("num_batches_tracked")}
    keys = list(renamed)
    renamed[keys[0]], renamed[keys[-1]] = renamed[keys[-1]], renamed[keys[0]]  # first and last swapped: shapes differ
    path = tmp_path / "w.npz"
    np.savez(path, **renamed)
    done = run("compile", str(tiny), "--weights", str(path), "--match", "order", "-o", str(tmp_path / "m.onnx"))
    assert done.returncode == 1 and "order and shape do not determine" in done.stderr
    np.savez(path, **dict(list(renamed.items())[1:]))
    done = run("compile", str(tiny), "--weights", str(path), "--match", "order", "-o", str(tmp_path / "m.onnx"))
    assert done.returncode == 2 and "the network needs" in done.stderr
