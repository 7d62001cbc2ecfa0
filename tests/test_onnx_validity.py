"""Every model `compile` writes passes `onnx.checker.check_model(full_check=True)` and
loads in onnxruntime (issue 9, item 2): the reproducers whose names clashed, and the zoo.
(Generated programs get the same oracle in tests/test_fuzz.py.)"""

from __future__ import annotations

import onnx
import pytest
from conftest import architecture_files

import cnndsl
from cnndsl.backends import onnx as backend
from cnndsl.cli import main

ort = pytest.importorskip("onnxruntime")


def compile_and_load(source, tmp_path, capsys) -> onnx.ModelProto:
    out = tmp_path / "model.onnx"
    code = main(["compile", str(source), "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    onnx.checker.check_model(str(out), full_check=True)
    ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    return onnx.load(str(out))


@pytest.mark.parametrize(
    ("program", "outputs"),
    [
        ("network N { input x: [3,32,32]; output relu1 = conv(16,3); relu }", ["relu1"]),
        ("network N { input x: [3,32,32]; output conv1 = relu; conv(16,3) }", ["conv1"]),
        (
            "network N { input x: [3,32,32]; output conv1 = relu; output relu1 = conv(4,3); relu; output y = relu }",
            ["conv1", "relu1", "y"],
        ),
        ("network N { input x: [3,32,32]; a = relu; output a; output b = a }", ["a", "b"]),
        ("network N { input x: [3,32,32]; output x }", ["x"]),
    ],
)
def test_names_that_clash_with_internal_tensors(program, outputs, tmp_path, capsys):
    source = tmp_path / "n.cnn"
    source.write_text(program + "\n")
    model = compile_and_load(source, tmp_path, capsys)
    assert [o.name for o in model.graph.output] == outputs
    names = [out for node in model.graph.node for out in node.output]
    assert len(names) == len(set(names))  # single static assignment


def test_an_output_named_like_the_input_is_a_located_error(tmp_path, capsys):
    source = tmp_path / "n.cnn"
    source.write_text("network N { input x: [3,32,32]; output x = relu }\n")
    assert main(["compile", str(source), "-o", str(tmp_path / "m.onnx"), "--color", "never"]) == 1
    err = capsys.readouterr().err
    assert "n.cnn:1:40: error: the output `x` has the name of a network input [E0704]" in err
    assert not (tmp_path / "m.onnx").exists()


FULL_WEIGHTS_LIMIT = 15_000_000
"""Zoo models up to this many parameters are compiled with their weights; larger ones
(VGG, FCN-8s, ResNet-101/152, ...) as skeletons: the same graph, names and attributes
(built by the same emitter), with each weight a graph input, so that the check does not
write, read and shape-check hundreds of megabytes on a small CI machine."""


@pytest.mark.slow
@pytest.mark.parametrize("path", architecture_files(), ids=lambda p: p.stem)
def test_every_zoo_model_passes_the_full_check_and_loads(path, tmp_path, capsys):
    network = cnndsl.load(str(path))
    if network.totals["params"] + network.totals["state"] <= FULL_WEIGHTS_LIMIT:
        compile_and_load(path, tmp_path, capsys)
        return
    model = backend.build(network, skeleton=True)
    onnx.checker.check_model(model, full_check=True)
    ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
