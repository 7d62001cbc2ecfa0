"""The generated PyTorch module is parametric: one class per block with the block's parameters,
the network's parameters as keyword arguments, `repeat` as a loop, `if` as an `if`. Instances
built with other keyword arguments match what cnndsl compiles with the same `--set`."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import ARCHITECTURES, SHARED

import cnndsl
from cnndsl.backends.onnx import assemble
from cnndsl.backends.pytorch import class_name
from cnndsl.backends.weightfiles import save_safetensors, slots
from cnndsl.cli import main

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'cnndsl[torch]')")


def module_class(source: str):
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - cnndsl's own output
    return namespace[class_name(source)]


@pytest.mark.slow  # torchvision's import
def test_resnet50_has_a_class_per_block_a_loop_and_keyword_defaults():
    source = cnndsl.load(str(ARCHITECTURES / "resnet50.cnn")).to_pytorch_source()
    classes = re.findall(r"^class (\w+)\(nn\.Module\):", source, re.MULTILINE)
    assert classes == ["Bottleneck", "Stage", "ResNet50"]
    assert 'def __init__(self, in_channels, width, stride=1, shortcut="identity"):' in source
    assert "def __init__(self, classes=1000):" in source
    assert re.search(r'for i in range\(blocks - 1\):.*\n.*add_module\(f"Bottleneck\{i \+ 2\}"', source)
    torchvision = pytest.importorskip("torchvision")
    with torch.device("meta"):
        ours = module_class(source)(classes=10)
        theirs = torchvision.models.resnet50(num_classes=10)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(ours) == count(theirs) == 23_528_522  # torchvision's figure for 10 classes
    assert ours.Stage3.Bottleneck6.conv2.stride == (1, 1) and ours.Stage3.Bottleneck1.conv2.stride == (2, 2)


PROGRAM = """fn half(v) = v // 2

block Unit(width, act=relu, shortcut=identity) {
  residual(shortcut=shortcut) {
    conv(width, 3, pad=1, bias=false) -> bn
    if act == relu { relu } else if act == silu { silu } else { tanh }
  }
}

block Mixer(width) {
  concat {
    conv(half(width), 1)
    maxpool(3, stride=1, pad=1) -> conv(width - half(width), 1)
  }
}

network Small(depth=2, wide=false, classes=3) {
  input image: [3, 10, 10]
  let width = 12 if wide else 8
  conv(width, 3, pad=1) -> relu
  repeat depth as i {
    Unit(width + 4 * i, act=relu if i % 2 == 0 else silu, shortcut=project if i > 0 else identity)
  }
  if wide { Mixer(width * 2) -> relu } else { conv(width, 1) }
  Unit(6, act=tanh, shortcut=project)
  gap -> flatten
  output logits = dense(classes)
}
"""

# Nested loops whose names need a counter, an `if` in a loop, a default that reads another
# parameter (and that `forward` needs), `in` as a value and as `like=`, two outputs.
LOOPS = """let base = [4, 6]
fn twice(v) = v * 2

block Gate(mid=2) {
  mul {
    identity
    gap -> conv(mid, 1) -> relu -> conv(in.channels, 1) -> sigmoid
  }
}

block Mix(out, n, inner=out * 2) {
  let wide = inner > 8
  repeat n as k {
    if k % 2 == 0 { conv(out, 1) -> bn } else { conv(out, 3, pad=1) }
    if wide { relu }
  }
  skip = in
  concat { skip; in -> conv(inner, 1) -> upsample(like=skip) }
  Gate
}

network Loops(levels=2, scale=1.0, classes=4) {
  input image: [3, 16, 16]
  conv(base[0], 3, pad=1) -> relu
  repeat levels as i {
    repeat i + 1 as j { Mix(twice(base[i % 2]), j + 1) }
    maxpool(2)
  }
  gap -> flatten
  output logits = dense(classes)
  output extra = dropout(0.5 * scale)
}
"""

CASES = [
    ("small", {}),
    ("small", {"depth": 3}),
    ("small", {"depth": 0, "wide": True}),
    ("small", {"depth": 4, "wide": True, "classes": 5}),
    ("loops", {}),
    ("loops", {"levels": 3, "classes": 2}),
]


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("programs")
    (folder / "small.cnn").write_text(PROGRAM)
    (folder / "loops.cnn").write_text(LOOPS)
    return folder


@pytest.mark.parametrize(("program", "settings"), CASES, ids=lambda c: c if isinstance(c, str) else _ids(c))
def test_keyword_arguments_build_what_set_compiles(program, settings, programs):
    ort = pytest.importorskip("onnxruntime")
    path = programs / f"{program}.cnn"
    source = cnndsl.load(str(path)).to_pytorch_source()
    assert not source.startswith("#") and re.search(r"for \w+ in range\(", source) and "if " in source
    torch.manual_seed(0)
    module = module_class(source)(**settings).eval()
    with torch.no_grad():  # batch-norm statistics away from 0 and 1, so a misplaced tensor shows
        for key, tensor in module.state_dict().items():
            if key.endswith(("running_mean", "running_var")):
                tensor.copy_(torch.rand(tensor.shape) + 0.5)
    sets = [f"--set={k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in settings.items()]
    weights, model = programs / f"{program}{len(sets)}.safetensors", programs / f"{program}{len(sets)}.onnx"
    save_safetensors({k: v.numpy() for k, v in module.state_dict().items()}, str(weights))
    assert main(["compile", str(path), *sets, "--weights", str(weights), "-o", str(model)]) == 0
    net = cnndsl.load(str(path), overrides=settings)
    assert sum(p.numel() for p in module.parameters()) == net.totals["params"]
    x = np.random.default_rng(0).standard_normal((2, *net.inputs[0]["shape"][1:]), dtype=np.float32)
    expected = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"image": x})
    with torch.no_grad():
        got = module(torch.from_numpy(x))
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    for ours, theirs in zip(got, expected):
        assert ours.shape == theirs.shape
        assert float(np.abs(ours.numpy() - theirs).max()) <= 1e-4 * max(1.0, float(np.abs(theirs).max()))


def _ids(settings: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in settings.items()) or "defaults"


def test_set_values_become_the_defaults(programs):
    net = cnndsl.load(str(programs / "small.cnn"), overrides={"depth": 3})
    source = net.to_pytorch_source()
    assert "def __init__(self, depth=3, wide=False, classes=3):" in source
    module = net.to_torch(initial=False)
    assert sum(p.numel() for p in module.parameters()) == net.totals["params"]


def zoo_and_examples() -> list:
    paths = sorted(ARCHITECTURES.glob("*.cnn"))
    return paths + sorted(p for p in SHARED.glob("examples*/*.cnn"))


@pytest.mark.parametrize("path", zoo_and_examples(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_state_dict_keys_and_shapes_are_those_compile_reads(path):
    """Every zoo network and shared example: parametric, and its module (built on the meta device,
    without memory) has exactly the tensors `compile --weights` reads, in their shapes."""
    net = cnndsl.load(str(path))
    source = net.to_pytorch_source()
    assert not source.startswith("# Literal"), source.splitlines()[1]
    with torch.device("meta"):
        module = module_class(source)()
    ours = {k: tuple(v.shape) for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    _, pending = assemble(net, 0)
    assert ours == {s.key: s.shape for s in slots(net, pending)}


def test_a_construct_without_a_parametric_form_gets_the_literal_module():
    net = cnndsl.loads(
        "block B(width) {\n  conv(width, 3, pad=1) -> bn -> relu\n}\n"
        "network N(width=4) {\n  input x: [3, 8, 8]\n  frozen { B(width) }\n  gap -> flatten -> dense(2)\n}\n"
    )
    source = net.to_pytorch_source()
    assert source.startswith("# Literal form") and "block `B` inside `frozen`" in source.splitlines()[1]
    module = net.to_torch(initial=False)
    assert sum(p.numel() for p in module.parameters()) == net.totals["params"]
    assert not any(p.requires_grad for p in module.B1.parameters()) and not module.train().B1.bn1.training
