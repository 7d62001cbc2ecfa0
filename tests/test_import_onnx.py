"""`cnndsl import` of ONNX models (cnndsl/frontends/onnx_model.py and the stages after it; docs/import.md).

Expected figures come from elsewhere: the original program's own report (the
round trip), torchvision's parameter count, onnxruntime's outputs of the
original model.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.errors import CnnError, Diagnostic, Span, render
from cnndsl.network import parse_overrides

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "architectures"


def _run(model: Path, *extra) -> int:
    return main(["import", str(model), *map(str, extra)])


def _outputs(path: Path, image: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: image})[0]


def _import_and_recompile(model: Path, tmp: Path) -> tuple[Path, Path]:
    """`cnndsl import` then `cnndsl compile --weights` of the result: (the .cnn, the recompiled .onnx)."""
    stem = tmp / f"imported_{model.stem}"
    program, weights, again = stem.with_suffix(".cnn"), stem.with_suffix(".safetensors"), stem.with_suffix(".onnx")
    assert _run(model, "-o", program, "--weights-out", weights) == 0
    assert main(["compile", str(program), "--weights", str(weights), "-o", str(again)]) == 0
    return program, again


def _agree(first: Path, second: Path, shape: tuple, batch: int = 2) -> None:
    image = np.random.default_rng(7).standard_normal((batch, *shape)).astype(np.float32)
    expected, got = _outputs(first, image), _outputs(second, image)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))


SAME = {"chunk": "slice", "droppath": "identity"}
"""Kinds that export to the same ONNX as another: `chunk` and `slice` emit the same Slice, which reads
back as `slice`; `droppath` is an Identity at inference, which reads back as `identity`."""


def _layers(network) -> list:
    """What the report says of each layer, in a comparable form (identity nodes are no layers)."""
    rows = [
        (SAME.get(n["op"], n["op"]), tuple(n["shape"]), n["params"], n["state"], n["macs"], n["flops"])
        for n in network.to_dict()["nodes"]
    ]
    return sorted(row for row in rows if row[0] not in ("identity", "input"))


# -- the round trip: cnndsl compile -> import -> the same report and outputs ----------------------

ROUND_TRIP = [
    ("resnet18", ["size=32"]),
    ("mobilenet_v2", ["size=32"]),
    ("densenet121", ["size=32"]),
    ("squeezenet1_1", ["size=64"]),
    ("shufflenet_v2", ["size=32"]),  # chunk (read as slice) and channel_shuffle
    ("edges", []),  # fixed, frozen kernels: the model's `frozen` metadata keeps them frozen
    ("edge_compass", ["size=32"]),  # a value used across branches and an output used later: bound by name
    ("unet_any", ["size=36"]),  # upsample(like=skip): 36 -> 18 -> 9 -> 4, so the like= resize matters
    ("deeplabv3_resnet50", ["size=32", "classes=10"]),  # upsample(like=in) in ASPP, like=image at the end
]


def _round_trip(tmp_path: Path, original, name: str, agree: bool = True) -> str:
    """compile -> import -> the same totals, layers and output shapes; with `agree`, the same outputs.
    The imported program's text."""
    model = tmp_path / f"{name}.onnx"
    original.to_onnx(str(model))
    program, again = _import_and_recompile(model, tmp_path)
    imported = cnndsl.load(str(program))
    assert imported.totals == original.totals
    assert [o["shape"] for o in imported.outputs] == [o["shape"] for o in original.outputs]
    assert _layers(imported) == _layers(original)
    if agree:
        _agree(model, again, tuple(original.inputs[0]["shape"][1:]))
    return program.read_text()


@pytest.mark.slow
@pytest.mark.parametrize(("name", "settings"), ROUND_TRIP, ids=[n for n, _ in ROUND_TRIP])
def test_round_trip_of_zoo_networks(tmp_path, name, settings):
    text = _round_trip(tmp_path, cnndsl.load(str(ZOO / f"{name}.cnn"), overrides=parse_overrides(settings)), name)
    if name == "unet_any":  # the skips come back bound, as docs/import.md shows
        shown = (ROOT / "docs" / "import.md").read_text().split("unet_any.cnn`, from the middle):\n\n```\n")[1]
        assert shown.split("```")[0] in text


EVERY = os.environ.get("CNNDSL_IMPORT_EVERY") == "1"
SMALL = [["classes=10", f"size={n}"] for n in (32, 64, 75, 96)] + [["classes=10"], []]
"""The settings tried in turn: the first that compiles is the network's small size."""


@pytest.mark.slow
@pytest.mark.skipif(not EVERY, reason="about 3 minutes: run with CNNDSL_IMPORT_EVERY=1 (docs/import.md)")
@pytest.mark.parametrize("path", sorted(ZOO.glob("*.cnn")), ids=lambda p: p.stem)
def test_round_trip_of_every_zoo_network(tmp_path, path):
    """Every network of architectures/ at its smallest size; outputs compared below 60 M parameters."""
    original = None
    for settings in SMALL:
        try:
            original = cnndsl.load(str(path), overrides=parse_overrides(settings))
            break
        except CnnError:
            continue
    assert original is not None, f"{path.name} compiles at none of the settings {SMALL}"
    _round_trip(tmp_path, original, path.stem, agree=original.totals["params"] < 60_000_000)


def _compile_and_import(source, tmp_path):
    """The program of `source` compiled to ONNX, then imported: (original network, model, program, recompiled)."""
    model = tmp_path / f"{source.stem}.onnx"
    original = cnndsl.load(str(source))
    original.to_onnx(str(model))
    return (original, model, *_import_and_recompile(model, tmp_path))


def test_small_program_round_trip_folds_repeats_and_keeps_residuals(tmp_path):
    source = tmp_path / "small.cnn"
    source.write_text(
        "block Unit(out) {\n  residual {\n    conv(out, 3, pad=1, bias=false) -> bn -> relu\n"
        "    conv(out, 3, pad=1) -> bn\n  }\n  relu\n}\n"
        "network Small {\n  input image: [3, 16, 16]\n  conv(8, 3, stride=2, pad=1) -> relu6\n"
        "  repeat 3 { Unit(8) }\n  concat {\n    conv(4, 1) -> silu\n    maxpool(3, stride=1, pad=1)\n  }\n"
        "  gap -> flatten -> identity -> dropout(p=0.25)\n  dense(5) -> softmax\n}\n"
    )
    original, model, program, again = _compile_and_import(source, tmp_path)
    text = program.read_text()
    assert "repeat 3 {" in text and "residual {" in text and "concat {" in text
    assert "relu6" in text and "silu" in text and "identity -> dropout(p=0.25)" in text
    assert cnndsl.load(str(program)).totals == original.totals
    _agree(model, again, (3, 16, 16))


def test_skip_by_name_comes_back_as_the_name_not_identity(tmp_path):
    """A branch that was a bound name is empty in the ONNX cnndsl writes (its `identity` is a node):
    the import binds the value again, so the report (activation memory included) is the original's."""
    source = tmp_path / "skip.cnn"
    source.write_text(
        "network Skip {\n  input image: [3, 8, 8]\n  d1 = conv(4, 3, pad=1) -> relu\n"
        "  d2 = maxpool(2) -> conv(8, 3, pad=1) -> relu\n  maxpool(2) -> conv(8, 1)\n"
        "  concat { d2; convT(8, 2, stride=2) }\n  output y = concat { convT(4, 2, stride=2); d1 } -> conv(2, 1)\n}\n"
    )
    original, model, program, again = _compile_and_import(source, tmp_path)
    text = program.read_text()
    assert "identity" not in text and re.search(r"concat \{\n\s+convT\(4, 2, stride=2\)\n\s+relu1\n", text)
    assert cnndsl.load(str(program)).totals == original.totals
    _agree(model, again, (3, 8, 8))


def test_model_without_scopes_still_folds_merges(tmp_path):
    import onnx

    source = tmp_path / "plain.cnn"
    source.write_text(
        "network Plain {\n  input image: [3, 8, 8]\n  conv(4, 3, pad=1)\n"
        "  repeat 3 { residual { conv(4, 3, pad=1) -> relu } -> relu }\n}\n"
    )
    model = tmp_path / "plain.onnx"
    cnndsl.load(str(source)).to_onnx(str(model))
    proto = onnx.load(str(model))
    for i, node in enumerate(proto.graph.node):
        node.name = f"n{i}"  # no scopes left
    onnx.save(proto, str(model))
    program, again = _import_and_recompile(model, tmp_path)
    text = program.read_text()
    assert "block Residual {" in text and text.count("Residual -> relu") == 3
    _agree(model, again, (3, 8, 8))


# -- hand-made ONNX: exporter patterns and malformed models -----------------------------------------


def _model(nodes, inputs, outputs, initializers=(), path=None, opset=17):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", "C", "H", "W"]) for n in outputs],
        [
            numpy_helper.from_array(np.asarray(a, dtype=np.float32 if a.dtype.kind == "f" else a.dtype), n)
            for n, a in initializers
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if path is not None:
        onnx.save(model, str(path))
    return model


def test_exporter_patterns_pad_conv_bn_matmul_add_reducemean(tmp_path):
    from onnx import helper

    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    bn = [rng.random(4) + 0.5 for _ in range(4)]
    fc, bias = rng.standard_normal((4, 6)), rng.standard_normal(6)
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"], name="/stem/Pad"),
        helper.make_node("Conv", ["p", "w", "b"], ["c"], name="/stem/conv/Conv", strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c", "s", "t", "m", "v"], ["n"], name="/stem/bn/BN", epsilon=1e-3),
        helper.make_node("Identity", ["n"], ["i"], name="noise"),
        helper.make_node("Clip", ["i", "lo", "hi"], ["r"], name="/stem/act/Clip"),
        helper.make_node("ReduceMean", ["r"], ["g"], name="/pool/ReduceMean", axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["g", "fc"], ["mm"], name="/fc/MatMul"),
        helper.make_node("Add", ["mm", "bias"], ["y"], name="/fc/Add"),
    ]
    consts = [
        ("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)), ("w", w), ("b", b),
        ("s", bn[0]), ("t", bn[1]), ("m", bn[2]), ("v", bn[3]), ("lo", np.array(0.0)), ("hi", np.array(6.0)),
        ("fc", fc), ("bias", bias),
    ]  # fmt: skip
    path = tmp_path / "patterns.onnx"
    _model(nodes, [("x", [None, 3, 9, 9])], ["y"], consts, path)
    program, again = _import_and_recompile(path, tmp_path)
    text = program.read_text()
    assert "conv(4, 3, stride=2, pad=1) -> bn(eps=0.001) -> relu6" in text
    assert "gap -> flatten" in text and "dense(6)" in text and "pad(" not in text
    _agree(path, again, (3, 9, 9))


def test_view_by_batch_size_reads_as_flatten(tmp_path):
    """`x.view(x.size(0), -1)` exports as Shape -> Gather(0) -> Unsqueeze -> Concat(…, [-1]) -> Reshape."""
    from onnx import helper

    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="/relu/Relu"),
        helper.make_node("Shape", ["r"], ["s"], name="/Shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="/Gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="/Unsqueeze"),
        helper.make_node("Concat", ["n1", "minus"], ["shape"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["r", "shape"], ["f"], name="/Reshape"),
        helper.make_node("Gemm", ["f", "w"], ["y"], name="/fc/Gemm", transB=1),
    ]
    consts = [
        ("zero", np.array(0, np.int64)), ("axes", np.array([0], np.int64)), ("minus", np.array([-1], np.int64)),
        ("w", rng.standard_normal((5, 12))),
    ]  # fmt: skip
    path = tmp_path / "view.onnx"
    _model(nodes, [("x", [None, 3, 2, 2])], ["y"], consts, path)
    program, again = _import_and_recompile(path, tmp_path)
    assert "relu -> flatten" in program.read_text()
    _agree(path, again, (3, 2, 2))


def _error(capsys, path: Path, code: str) -> str:
    assert _run(path) == (2 if code == "E1201" else 1)
    err = capsys.readouterr().err
    assert f"[{code}]" in err and "Traceback" not in err
    return err


def test_truncated_protobuf_is_a_located_error(tmp_path, capsys):
    from onnx import helper

    model = _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [("x", [1, 3, 4, 4])], ["y"])
    path = tmp_path / "cut.onnx"
    data = model.SerializeToString()
    path.write_bytes(data[: len(data) // 2])
    assert str(path) in _error(capsys, path, "E1202")


def test_cyclic_graph_names_a_node_on_the_cycle(tmp_path, capsys):
    from onnx import helper

    nodes = [
        helper.make_node("Relu", ["c"], ["b"], name="loop_relu"),
        helper.make_node("Add", ["x", "b"], ["c"], name="loop_add"),
    ]
    path = tmp_path / "cycle.onnx"
    _model(nodes, [("x", [1, 3, 4, 4])], ["c"], path=path)
    err = _error(capsys, path, "E1204")
    assert "cycle" in err and ("`loop_relu` (Relu)" in err or "`loop_add` (Add)" in err)


def test_unsupported_operator_names_node_and_type(tmp_path, capsys):
    from onnx import helper

    nodes = [helper.make_node("Relu", ["x"], ["r"], name="ok"), helper.make_node("Cos", ["r"], ["y"], name="/head/Cos")]
    path = tmp_path / "cos.onnx"
    _model(nodes, [("x", [1, 3, 4, 4])], ["y"], path=path)
    err = _error(capsys, path, "E1205")
    assert f"{path}: node `/head/Cos` (Cos)" in err


def test_value_used_across_branches_is_bound_by_name(tmp_path):
    """`a` feeds a branch of the inner add and the outer add: it is bound (`a = relu`) and named in both."""
    from onnx import helper

    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="a"),
        helper.make_node("Sigmoid", ["a"], ["b"], name="b"),
        helper.make_node("Tanh", ["x"], ["c"], name="c"),
        helper.make_node("Add", ["b", "c"], ["m1"], name="m1"),
        helper.make_node("Add", ["m1", "a"], ["y"], name="m2"),
    ]
    path = tmp_path / "cross.onnx"
    _model(nodes, [("x", [None, 3, 4, 4])], ["y"], path=path)
    program, again = _import_and_recompile(path, tmp_path)
    text = program.read_text()
    assert "a = relu" in text and "a -> sigmoid" in text
    _agree(path, again, (3, 4, 4))


def test_resize_to_the_size_of_another_tensor_reads_as_like(tmp_path, capsys):
    """Resize whose sizes are Shape(t, start=2, end=4): upsample(like=t), t bound; other shapes stay refused."""
    from onnx import helper

    w = np.random.default_rng(2).standard_normal((3, 3, 2, 2))
    nodes = [
        helper.make_node("MaxPool", ["x"], ["p"], name="/down/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Relu", ["p"], ["q"], name="/mid/Relu"),
        helper.make_node("ConvTranspose", ["q", "w"], ["t"], name="/up/ConvTranspose", strides=[2, 2]),
        helper.make_node("Shape", ["x"], ["s"], name="/up/Shape", start=2, end=4),
        helper.make_node("Resize", ["t", "", "", "s"], ["r"], name="/up/Resize", axes=[2, 3], mode="linear"),
        helper.make_node("Concat", ["x", "r"], ["y"], name="/up/Concat", axis=1),
    ]
    path = tmp_path / "like.onnx"
    _model(nodes, [("x", [None, 3, 9, 9])], ["y"], [("w", w)], path, opset=18)  # Resize's axes: opset 18
    program, again = _import_and_recompile(path, tmp_path)
    assert "upsample(like=x, mode=linear)" in program.read_text()
    _agree(path, again, (3, 9, 9))
    nodes[3] = helper.make_node("Shape", ["x"], ["s"], name="/up/Shape", start=1, end=3)
    _model(nodes, [("x", [None, 3, 9, 9])], ["y"], [("w", w)], path, opset=18)
    assert "`/up/Resize` (Resize)" in _error(capsys, path, "E1208")


def test_weight_that_is_not_a_constant_is_refused(tmp_path, capsys):
    from onnx import helper

    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="/conv/Conv")]
    path = tmp_path / "computed.onnx"
    _model(nodes, [("x", [1, 3, 4, 4]), ("w", [2, 3, 1, 1])], ["y"], path=path)
    err = _error(capsys, path, "E1208")
    assert "`/conv/Conv` (Conv)" in err


def test_program_that_does_not_compile_says_why(tmp_path, capsys):
    from onnx import helper

    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], name="/fc/Gemm", transB=1)]  # an image into a dense layer
    path = tmp_path / "unflat.onnx"
    _model(nodes, [("x", [1, 3, 2, 2])], ["y"], [("w", np.ones((5, 12)))], path)
    assert "does not compile" in _error(capsys, path, "E1210")


def test_missing_file_and_dynamic_sizes(tmp_path, capsys):
    from onnx import helper

    _error(capsys, tmp_path / "absent.onnx", "E1201")
    path = tmp_path / "dynamic.onnx"
    _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [("x", [None, 3, None, None])], ["y"], path=path)
    assert "fixed input size" in _error(capsys, path, "E1207")


def test_a_span_without_a_line_renders():
    text = render(Diagnostic("E1205", "m.onnx: node `x` (Cos): no layer", Span("m.onnx", 0, 0)), {})
    assert text.startswith("m.onnx:0:0: error: m.onnx: node `x` (Cos): no layer [E1205]")


# -- torchvision, exported with torch.onnx.export -----------------------------------------------------

TORCHVISION = ["resnet18", "resnet50", "vgg16", "googlenet", "mobilenet_v2", "densenet121"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Each model exported once: legacy exporter, BatchNormalization kept (TrainingMode.PRESERVE in eval);
    removed when the module's tests are done."""
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("torchvision.models")
    folder = tmp_path_factory.mktemp("torchvision")
    out = {}
    for name in TORCHVISION:
        size = 224 if name == "vgg16" else 64  # VGG's adaptive pool exports only for 7x7 features
        options = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
        torch.manual_seed(0)
        module = getattr(models, name)(**options).eval()
        path = folder / f"{name}.onnx"
        torch.onnx.export(
            module,
            torch.randn(1, 3, size, size),
            str(path),
            dynamo=False,
            training=torch.onnx.TrainingMode.PRESERVE,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
        )
        out[name] = (path, sum(p.numel() for p in module.parameters()), size)
        del module
    yield out
    shutil.rmtree(folder, ignore_errors=True)  # about a gigabyte, VGG's weights most of it


def _documented_lines() -> dict[str, int]:
    text = (ROOT / "docs" / "import.md").read_text()
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^\| `?(\w+)`? \| (\d+) \|", text, re.M)}


@pytest.mark.slow
@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_exports_import(exports, tmp_path, name):
    path, params, size = exports[name]
    program, again = _import_and_recompile(path, tmp_path)
    network = cnndsl.load(str(program))
    assert network.totals["params"] == params
    _agree(path, again, (3, size, size), batch=1)
    lines = program.read_text().count("\n")
    assert _documented_lines()[name] == lines
    if name == "resnet50":
        assert lines <= 60


def test_resize_reads_as_upsample(tmp_path):
    source = tmp_path / "up.cnn"
    source.write_text(
        "network Up {\n  input image: [3, 8, 8]\n  conv(4, 3, pad=1) -> upsample(2)\n"
        "  upsample(size=[20, 20], mode=linear) -> upsample(size=[40, 40], mode=linear, align_corners=true)\n}\n"
    )
    model = tmp_path / "up.onnx"
    original = cnndsl.load(str(source))
    original.to_onnx(str(model))
    program, again = _import_and_recompile(model, tmp_path)
    text = program.read_text()
    assert "upsample(size=[16, 16])" in text and "upsample(size=[20, 20], mode=linear)" in text
    assert "align_corners=true" in text
    assert cnndsl.load(str(program)).totals == original.totals
    _agree(model, again, (3, 8, 8))


def test_several_outputs_parting_at_two_places(tmp_path):
    import onnxruntime as ort

    source = tmp_path / "heads.cnn"
    source.write_text(
        "network Heads {\n  input image: [3, 16, 16]\n  a = conv(8, 3, pad=1) -> relu\n"
        "  b = conv(8, 3, pad=1) -> relu\n  c = conv(8, 3, pad=1) -> relu\n"
        "  output logits = gap -> flatten -> dense(10)\n"
        "  output aux = a -> gap -> flatten -> dense(3)\n  output mask = b -> conv(4, 1)\n}\n"
    )
    model = tmp_path / "heads.onnx"
    original = cnndsl.load(str(source))
    original.to_onnx(str(model))
    program, again = _import_and_recompile(model, tmp_path)
    assert cnndsl.load(str(program)).totals == original.totals
    image = np.random.default_rng(3).standard_normal((2, 3, 16, 16)).astype(np.float32)
    runs = []
    for path in (model, again):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        runs.append(dict(zip(names, session.run(None, {"image": image}))))
    assert sorted(runs[0]) == sorted(runs[1]) == ["aux", "logits", "mask"]
    for name, value in runs[0].items():
        np.testing.assert_allclose(runs[1][name], value, rtol=1e-5, atol=1e-6)
