"""Every zoo network through PyTorch: the exported module has the report's parameter and
state counts, and with the same (random) weights PyTorch and onnxruntime agree."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import ARCHITECTURES

from cnndsl.backends.pytorch import class_name
from cnndsl.backends.weightfiles import save_safetensors
from cnndsl.cli import main
from cnndsl.errors import CnnError
from cnndsl.loader import load_program
from cnndsl.network import from_program

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'cnndsl[torch]')")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("safetensors")

SIZES = (32, 64, 75, 96, 128, 160, 224)  # the smallest that the network accepts is used


def small(stem: str):
    """The network at the smallest input size it accepts (when it has a `size` parameter), 10 classes.
    The file is parsed once; only the compilations at sizes it refuses are repeated."""
    program = load_program(path=str(ARCHITECTURES / f"{stem}.cnn"))
    (name,) = program.main_networks
    params = {p.name for p in program.networks[name].params}
    overrides = {"classes": 10} if "classes" in params else {}
    for size in SIZES if "size" in params else (None,):
        chosen = {**overrides, "size": size} if size else overrides
        try:
            return from_program(program, overrides=chosen), chosen
        except CnnError:
            continue
    return from_program(program), {}


def build(net):
    """The exported module with its tensors allocated but not initialised: `randomise` fills them all,
    so PyTorch's own initialisation (a second pass over every weight) is skipped."""
    source = net.to_pytorch_source()
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - cnndsl's own output
    with torch.device("meta"):
        module = namespace[class_name(source)]()
    return module.to_empty(device="cpu")


def randomise(module) -> None:
    """Weights and batch-norm statistics far from their initial values, so a misplaced tensor shows."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            fresh = torch.rand(tensor.shape, generator=generator)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + fresh)
            else:
                fan = tensor[0].numel() if tensor.dim() > 1 else 1
                tensor.copy_((fresh - 0.5) * 2 * (3.0 / fan) ** 0.5)


@pytest.fixture(scope="module", autouse=True)
def threads():
    """PyTorch on every core, as onnxruntime is (the suite runs one test at a time): the large
    networks at 224x224 (vgg16, alexnet) spend most of their time in the two forward passes."""
    before = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(max(1, min(4, cores)))
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(p.stem for p in ARCHITECTURES.glob("*.cnn")))
def test_pytorch_and_onnxruntime_agree(stem, tmp_path):
    net, overrides = small(stem)
    module = build(net)
    params = sum(p.numel() for p in module.parameters())
    state = sum(b.numel() for b in module.buffers() if b.is_floating_point())
    assert (params, state) == (net.totals["params"], net.totals["state"])
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    assert trainable == net.totals["trainable"]

    randomise(module)
    weights = tmp_path / "w.safetensors"
    save_safetensors({k: v.numpy() for k, v in module.state_dict().items()}, str(weights))
    sets = [f"--set={k}={v}" for k, v in overrides.items()]
    model = tmp_path / "m.onnx"
    source = str(ARCHITECTURES / f"{stem}.cnn")
    assert main(["compile", source, *sets, "--weights", str(weights), "-o", str(model)]) == 0
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    module.eval()
    rng = np.random.default_rng(1)
    for batch in (1, 3):
        feeds = {i["name"]: rng.standard_normal((batch, *i["shape"][1:]), dtype=np.float32) for i in net.inputs}
        expected = session.run(None, feeds)
        with torch.no_grad():
            got = module(*(torch.from_numpy(feeds[i["name"]]) for i in net.inputs))
        got = got if isinstance(got, tuple) else (got,)
        assert len(got) == len(expected)
        for ours, theirs in zip(got, expected):
            scale = max(float(np.abs(theirs).max()), 1e-6)
            assert float(np.abs(ours.numpy() - theirs).max()) <= 1e-4 * scale
