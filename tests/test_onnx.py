"""The ONNX backend: every architecture compiles to a valid model whose tensors have our shapes.

Checked against independent sources: onnx's checker and strict shape inference,
onnxruntime's actual output shapes, the parameter counts in
shared/examples/expected.json, and the source text itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import EXPECTED_JSON, ROOT, architecture_files
from onnx import TensorProto, helper, numpy_helper

import cnndsl
from cnndsl.backends import onnx as backend

EXPECTED = EXPECTED_JSON


pytestmark = pytest.mark.usefixtures("at_repo_root")


def _examples() -> list[Path]:
    """The shared examples (compiled with their real weights here)."""
    names = set(json.loads(EXPECTED.read_text())) - {"_about"}
    return [p for p in architecture_files() if p.name in names]


@pytest.fixture(scope="module", params=_examples(), ids=lambda p: p.stem)
def example(request):
    """(path, network, model, serialized model) of one shared example with its weights, compiled once."""
    path = request.param
    network = cnndsl.load(str(path.relative_to(ROOT)))
    model = network.to_onnx()
    return path, network, model, model.SerializeToString()


@pytest.fixture(scope="module", params=architecture_files(), ids=lambda p: p.stem)
def skeleton(request):
    """(path, network, model) of every architecture as a skeleton: weights are graph inputs.

    The operators, attributes and names are those of the full model; feeding
    zero weights keeps the per-tensor shape check of VGG-sized networks cheap.
    """
    path = request.param
    network = cnndsl.load(str(path.relative_to(ROOT)))
    return path, network, backend.build(network, skeleton=True)


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _tensor_of(model: onnx.ModelProto) -> dict[str, str]:
    """ONNX node name -> its output tensor."""
    return {n.name: n.output[0] for n in model.graph.node}


def _inputs(network, batch: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {i["name"]: rng.standard_normal((batch, *i["shape"][1:]), dtype=np.float32) for i in network.inputs}


def _zero_weights(model: onnx.ModelProto, network) -> dict:
    weights = model.graph.input[len(network.inputs) :]
    return {w.name: np.zeros([d.dim_value for d in w.type.tensor_type.shape.dim], np.float32) for w in weights}


def _output_name(network, node_name: str) -> str:
    return next(name for name, node in network.graph.outputs.items() if node == node_name)


# -- the shared examples, with weights ----------------------------------------------------------


def test_checker_accepts_the_model(example):
    onnx.checker.check_model(example[3], full_check=True)


def test_onnxruntime_runs_it_at_batch_1_and_2(example):
    _, network, _, data = example
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for batch in (1, 2):
        results = session.run(None, _inputs(network, batch))
        for output, result in zip(network.outputs, results):
            assert result.shape == (batch, *output["shape"][1:])
            assert np.isfinite(result).all()


def test_float_initializers_are_exactly_params_and_state(example):
    path, network, model, _ = example
    assert all(t.data_type == TensorProto.FLOAT for t in model.graph.initializer)
    total = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    expected = json.loads(EXPECTED.read_text())[path.name]  # measured independently with PyTorch
    assert total == expected["params"] + expected["state"]
    assert sum(len(t.raw_data) for t in model.graph.initializer) == 4 * total
    assert len(model.graph.input) == len(network.inputs)


def test_pinned_opset_and_ir_load_in_both_runtime_builds(example):
    model = example[2]
    # onnxruntime-gpu 1.31 refuses IR 14 and opset >= 27 (docs/onnx.md)
    assert model.ir_version == backend.IR_VERSION == 10
    assert [(o.domain, o.version) for o in model.opset_import] == [("", backend.OPSET)]
    assert backend.OPSET <= 26


def test_metadata_records_version_source_hash_and_frozen_layers(example):
    path, network, model, _ = example
    props = {p.key: p.value for p in model.metadata_props}
    assert props["cnndsl_version"] == cnndsl.__version__
    assert props["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    frozen = [name for name in props["frozen"].split(",") if name]
    expected = json.loads(EXPECTED.read_text())[path.name]
    assert sum(network.node(name).params for name in frozen) == expected["params"] - expected.get(
        "trainable", expected["params"]
    )


def test_the_skeleton_has_the_same_weights_as_the_model(example):
    _, network, model, _ = example
    shell = backend.build(network, skeleton=True)
    weights = [(w.name, [d.dim_value for d in w.type.tensor_type.shape.dim]) for w in shell.graph.input]
    assert weights[len(network.inputs) :] == [(t.name, list(t.dims)) for t in model.graph.initializer]
    assert [n.SerializeToString() for n in shell.graph.node] == [n.SerializeToString() for n in model.graph.node]


# -- every architecture, as a skeleton ----------------------------------------------------------------


def test_checker_accepts_every_architecture(skeleton):
    onnx.checker.check_model(skeleton[2], full_check=True)


def test_names_come_from_the_source(skeleton):
    _, network, model = skeleton
    assert [i.name for i in model.graph.input][: len(network.inputs)] == network.graph.inputs
    assert [o.name for o in model.graph.output] == list(network.graph.outputs)
    for value in [*model.graph.input[: len(network.inputs)], *model.graph.output]:
        assert value.type.tensor_type.shape.dim[0].dim_param == "N"


def test_every_node_records_its_source_location(skeleton):
    _, network, model = skeleton
    names = {n.name for n in model.graph.node}
    assert {n.name for n in network.nodes if n.op != "input"} <= names
    for onnx_node in model.graph.node:
        match = re.fullmatch(r"(.+):(\d+):(\d+)", onnx_node.doc_string)
        assert match, onnx_node.name
        text = (ROOT / match[1]).read_text().splitlines()[int(match[2]) - 1][int(match[3]) - 1 :]
        graph_node = network.node(_owner(network, onnx_node.name))
        # the location points at the call that made the node (a residual makes its add and projection)
        assert re.match(r"\w+", text)[0] in (graph_node.op, "residual"), (onnx_node.name, text)


def _owner(network, onnx_name: str) -> str:
    """The graph node an ONNX node belongs to: itself, or the node its `/suffix` hangs from."""
    while onnx_name not in network.graph:
        onnx_name = onnx_name.rsplit("/", 1)[0]
    return onnx_name


def test_weights_are_exactly_params_and_state(skeleton):
    _, network, model = skeleton
    weights = model.graph.input[len(network.inputs) :]
    total = sum(int(np.prod([d.dim_value for d in w.type.tensor_type.shape.dim])) for w in weights)
    assert total == network.totals["params"] + network.totals["state"]


def test_onnxruntime_shapes_match_ours_at_batch_1_and_2(skeleton):
    """Every intermediate tensor exposed as an output; its runtime shape equals the inferred one."""
    _, network, model = skeleton
    tensors = _tensor_of(model)
    nodes = [n for n in network.nodes if n.op != "input"]
    known = {o.name for o in model.graph.output}
    extra = [helper.make_empty_tensor_value_info(tensors[n.name]) for n in nodes if tensors[n.name] not in known]
    count = len(model.graph.output)
    model.graph.output.extend(extra)
    try:
        session = _session(model)
    finally:
        del model.graph.output[count:]
    names = [o.name for o in session.get_outputs()]
    weights = _zero_weights(model, network)
    for batch in (1, 2):
        results = dict(zip(names, session.run(None, {**_inputs(network, batch), **weights})))
        for node in nodes:
            tensor = tensors[node.name] if tensors[node.name] in results else _output_name(network, node.name)
            assert results[tensor].shape == (batch, *node.shape[1:]), node.name


def test_strict_shape_inference_agrees(skeleton):
    """ONNX's own shape inference gives our shapes. `upsample(like=…)` reads its size from
    another tensor at run time (Shape -> Resize): ONNX infers its height and width only by
    data propagation, and never the batch dimension, so from there on the batch may be `unk__`."""
    _, network, model = skeleton
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    shapes = {v.name: v.type.tensor_type.shape for v in [*inferred.graph.value_info, *inferred.graph.output]}
    tensors = _tensor_of(model)
    resized = _after_like(network)
    for node in network.nodes:
        if node.op == "input":
            continue
        shape = shapes.get(tensors[node.name]) or shapes[_output_name(network, node.name)]
        dims = [d.dim_param or d.dim_value for d in shape.dim]
        if node.name in resized and str(dims[0]).startswith("unk__"):
            dims[0] = "N"
        assert dims == list(node.shape), node.name


def _after_like(network) -> set:
    """Names of the nodes computed from an `upsample(like=…)` (the graph is in order)."""
    after = set()
    for node in network.graph.nodes():
        if node.layer.attrs.get("like") is not None or any(i in after for i in node.inputs):
            after.add(node.name)
    return after


# -- specific models ------------------------------------------------------------------------------


def test_resnet_node_names_follow_the_source_nesting():
    model = cnndsl.load("architectures/resnet50.cnn").to_onnx()
    names = {n.name for n in model.graph.node}
    assert {"Stage2/Bottleneck1/conv2", "Stage2/Bottleneck1/shortcut_conv1", "Stage4/Bottleneck3/residual1"} <= names
    ops = {n.name: n.op_type for n in model.graph.node}
    assert ops["Stage2/Bottleneck1/residual1"] == "Add"
    assert ops["Stage2/Bottleneck1/shortcut_bn1"] == "BatchNormalization"
    assert "Shape" not in ops.values() and "Flatten" in ops.values()


def test_layers_map_to_standard_operators():
    source = """network Ops {
      input x: [8, 10, 10]
      y = lrn -> pad(1, mode=reflect) -> pad(1, mode=edge) -> pad(1, mode=wrap) -> channel_shuffle(2)
      mul {
        identity
        gap -> conv(8, 1) -> sigmoid
      }
      upsample(2, mode=linear) -> dropout(0.1)
    }"""
    model = cnndsl.loads(source).to_onnx()
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node if n.op_type != "Constant"]
    assert ops == [
        "LRN", "Pad", "Pad", "Pad", "Reshape", "Transpose", "Reshape", "Identity",
        "GlobalAveragePool", "Conv", "Sigmoid", "Mul", "Resize", "Dropout",
    ]  # fmt: skip
    modes = [a.s for n in model.graph.node if n.op_type == "Pad" for a in n.attribute if a.name == "mode"]
    assert modes == [b"reflect", b"edge", b"wrap"]


def test_one_value_under_two_output_names_and_an_input_as_output():
    net = cnndsl.loads("network T { input x: [2, 4, 4]; output a = relu; output b = a; output c = x }")
    model = net.to_onnx()
    onnx.checker.check_model(model, full_check=True)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    a, b, c = _session(model).run(["a", "b", "c"], {"x": x})
    np.testing.assert_array_equal(a, np.maximum(x, 0))
    np.testing.assert_array_equal(b, a)
    np.testing.assert_array_equal(c, x)


def test_an_output_bound_to_an_inner_node_is_renamed_not_duplicated():
    net = cnndsl.loads("network T { input x: [2, 4, 4]; a = conv(3, 1); output y = relu; output z = a }")
    model = net.to_onnx()
    session = _session(model)
    assert [o.name for o in session.get_outputs()] == ["y", "z"]
    y, z = session.run(None, {"x": np.ones((1, 2, 4, 4), np.float32)})
    np.testing.assert_array_equal(y, np.maximum(z, 0))


# -- weights ------------------------------------------------------------------------------------------


def _weights(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_builds_are_reproducible_and_the_seed_changes_them():
    net = cnndsl.load("architectures/lenet5.cnn")
    first, again, other = net.to_onnx(), net.to_onnx(seed=0), net.to_onnx(seed=1)
    assert first.SerializeToString() == again.SerializeToString()
    assert not np.array_equal(_weights(first)["conv1/weight"], _weights(other)["conv1/weight"])


def test_a_weight_does_not_depend_on_unrelated_layers():
    small = cnndsl.loads("network T { input x: [3, 8, 8]; conv(4, 3) }")
    larger = cnndsl.loads("network T { input x: [3, 8, 8]; conv(4, 3) -> relu -> conv(5, 3) }")
    np.testing.assert_array_equal(_weights(small.to_onnx())["conv1/weight"], _weights(larger.to_onnx())["conv1/weight"])


def test_he_initialisation_by_default_and_zero_biases():
    net = cnndsl.loads("network T { input x: [64, 16, 16]; conv(128, 3) -> flatten -> dense(300) }")
    w = _weights(net.to_onnx())
    for name, fan_in in (("conv1/weight", 64 * 9), ("dense1/weight", 128 * 14 * 14)):
        # He: variance 2 / fan_in, drawn uniformly on ±sqrt(6 / fan_in)
        assert abs(w[name].std() / np.sqrt(2 / fan_in) - 1) < 0.02, name
        assert abs(w[name].mean()) < 0.01 * np.sqrt(2 / fan_in)
        assert 0.99 < np.abs(w[name]).max() / np.sqrt(6 / fan_in) <= 1, name
    assert w["dense1/weight"].shape == (300, 128 * 14 * 14)
    assert not w["conv1/bias"].any() and not w["dense1/bias"].any()


@pytest.mark.parametrize(
    ("init", "check"),
    [
        ("zeros", lambda w: not w.any()),
        ("ones", lambda w: (w == 1).all()),
        ("normal(0.05)", lambda w: abs(w.std() - 0.05) < 0.002 and abs(w.mean()) < 0.002),
        ("uniform(0.1)", lambda w: w.min() >= -0.1 and w.max() <= 0.1 and w.max() > 0.099 and w.min() < -0.099),
        # Glorot: ±sqrt(6 / (fan_in + fan_out)) with fan_in = 32*9, fan_out = 64*9
        ("xavier", lambda w: abs(np.abs(w).max() / np.sqrt(6 / (32 * 9 + 64 * 9)) - 1) < 0.01),
    ],
)
def test_init_choices(init, check):
    net = cnndsl.loads(f"network T {{ input x: [32, 8, 8]; conv(64, 3, init={init}) }}")
    assert check(_weights(net.to_onnx())["conv1/weight"])


def test_batch_norm_and_prelu_start_values():
    net = cnndsl.loads("network T { input x: [6, 4, 4]; bn -> prelu }")
    w = _weights(net.to_onnx())
    assert (w["bn1/scale"] == 1).all() and not w["bn1/shift"].any()
    assert not w["bn1/mean"].any() and (w["bn1/var"] == 1).all()
    np.testing.assert_array_equal(w["prelu1/slope"], np.full((6, 1, 1), 0.25, np.float32))


def test_fixed_kernels_are_exactly_the_documented_ones():
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)  # LANGUAGE.md
    laplacian = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)
    kirsch_n = np.array([[5, 5, 5], [-3, 0, -3], [-3, -3, -3]], np.float32)
    kirsch_e = np.array([[-3, -3, 5], [-3, 0, 5], [-3, -3, 5]], np.float32)
    net = cnndsl.loads(
        """network T {
          input x: [3, 8, 8]
          concat {
            conv(2, 3, weights=sobel_x)
            conv(1, 3, weights=sobel_y, bias=false)
            conv(1, 3, weights=laplacian)
            conv(1, 3, weights=kirsch_n)
            conv(1, 3, weights=kirsch_e)
            conv(3, 5, weights=box, groups=3, pad=1)
            conv(1, 5, weights=gaussian(1.0), pad=1)
            conv(1, 3, weights=[[1, 2, 3], [4, 5, 6], [7, 8, 9]])
          }
        }"""
    )
    w = _weights(net.to_onnx())
    assert w["conv1/weight"].shape == (2, 3, 3, 3)
    assert (w["conv1/weight"] == sobel_x).all() and not w["conv1/bias"].any()
    assert (w["conv2/weight"] == sobel_x.T).all()
    assert (w["conv3/weight"] == laplacian).all()
    assert (w["conv4/weight"] == kirsch_n).all() and (w["conv5/weight"] == kirsch_e).all()
    assert w["conv6/weight"].shape == (3, 1, 5, 5) and np.allclose(w["conv6/weight"], 1 / 25)
    gauss = w["conv7/weight"][0, 0]
    centre = np.exp(-((np.arange(5) - 2) ** 2) / 2)
    np.testing.assert_allclose(gauss, np.outer(centre, centre) / np.outer(centre, centre).sum(), rtol=1e-6)
    assert (w["conv8/weight"] == np.arange(1, 10, dtype=np.float32).reshape(3, 3)).all()
    props = {p.key: p.value for p in net.to_onnx().metadata_props}
    assert props["frozen"].split(",") == [f"conv{i}" for i in range(1, 9)]


def test_frozen_blocks_and_trainable_false_are_recorded():
    net = cnndsl.loads(
        "network T { input x: [3, 8, 8]; frozen { conv(4, 3) -> bn -> relu }; "
        "conv(4, 1, trainable=false); conv(2, 1); conv(2, 1, weights=[[1]], trainable=true) }"
    )
    props = {p.key: p.value for p in net.to_onnx().metadata_props}
    assert props["frozen"].split(",") == ["conv1", "bn1", "conv2"]


def _program(tmp_path: Path, text: str) -> Path:
    source = tmp_path / "net.cnn"
    source.write_text(text)
    return source


def test_weights_load_from_npy_relative_to_the_source(tmp_path, monkeypatch):
    kernel = np.arange(4 * 3 * 3 * 3, dtype=np.float64).reshape(4, 3, 3, 3)
    np.save(tmp_path / "k.npy", kernel)
    source = _program(tmp_path, 'network T {\n  input x: [3, 8, 8]\n  conv(4, 3, init="k.npy")\n}\n')
    monkeypatch.chdir(ROOT)  # elsewhere than the source
    w = _weights(cnndsl.load(str(source)).to_onnx())
    np.testing.assert_array_equal(w["conv1/weight"], kernel.astype(np.float32))
    assert w["conv1/weight"].dtype == np.float32


def test_a_wrong_weights_shape_is_a_located_error(tmp_path):
    np.save(tmp_path / "k.npy", np.zeros((4, 3, 5, 5)))
    source = _program(tmp_path, 'network T {\n  input x: [3, 8, 8]\n  conv(4, 3, init="k.npy")\n}\n')
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.load(str(source)).to_onnx()
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.code == "E0701"
    assert (diagnostic.span.file, diagnostic.span.line, diagnostic.span.column) == (str(source), 3, 3)
    assert "[4, 3, 5, 5]" in diagnostic.message and "[4, 3, 3, 3]" in diagnostic.message


@pytest.mark.parametrize("content", [None, b"not a numpy file"])
def test_a_missing_or_unreadable_weights_file_is_a_located_error(tmp_path, content):
    if content is not None:
        (tmp_path / "k.npy").write_bytes(content)
    source = _program(tmp_path, 'network T {\n  input x: [3]\n  dense(2, init="k.npy")\n}\n')
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.load(str(source)).to_onnx()
    assert caught.value.code == "E0702" and caught.value.diagnostics[0].span.line == 3


# -- files ----------------------------------------------------------------------------------------------


def test_to_onnx_writes_the_model_it_returns(tmp_path):
    net = cnndsl.load("architectures/lenet5.cnn")
    model = net.to_onnx(tmp_path / "m.onnx")
    assert isinstance(model, onnx.ModelProto)
    assert onnx.load(tmp_path / "m.onnx").SerializeToString() == model.SerializeToString()


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path, monkeypatch, failure):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"earlier model")

    def fail(*args):
        raise failure

    monkeypatch.setattr(backend.os, "replace", fail)  # after the bytes went into the temporary file
    with pytest.raises((cnndsl.CnnError, KeyboardInterrupt)):
        cnndsl.load("architectures/lenet5.cnn").to_onnx(target)
    assert target.read_bytes() == b"earlier model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_large_models_switch_to_external_data(tmp_path, monkeypatch):
    monkeypatch.setattr(backend, "EXTERNAL_DATA_THRESHOLD", 1000)
    net = cnndsl.load("architectures/lenet5.cnn")
    expected = _session(net.to_onnx()).run(None, {"digits": np.ones((1, 1, 32, 32), np.float32)})[0]
    net.to_onnx(tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.data"]
    assert (tmp_path / "m.onnx").stat().st_size < 100_000
    assert (tmp_path / "m.onnx.data").stat().st_size >= 4 * net.totals["params"]
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"digits": np.ones((1, 1, 32, 32), np.float32)})[0]
    np.testing.assert_array_equal(got, expected)
    onnx.checker.check_model(str(tmp_path / "m.onnx"), full_check=True)


def test_an_interrupted_external_data_write_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(backend, "EXTERNAL_DATA_THRESHOLD", 1000)
    (tmp_path / "m.onnx").write_bytes(b"earlier model")
    real = onnx.save_model

    def interrupted(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx, "save_model", interrupted)  # save_external imports onnx when it runs
    with pytest.raises(KeyboardInterrupt):
        cnndsl.load("architectures/lenet5.cnn").to_onnx(tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    assert (tmp_path / "m.onnx").read_bytes() == b"earlier model"


def test_the_streamed_file_parses_to_the_model_build_makes(tmp_path):
    net = cnndsl.load("architectures/googlenet.cnn", overrides={"classes": 10})
    assert backend.compile_file(net, tmp_path / "g.onnx") is False
    assert onnx.load(tmp_path / "g.onnx").SerializeToString() == backend.build(net).SerializeToString()


STREAMED = """network T {
  input x: [16, 12, 12]
  conv(48, 3, init=normal(0.05)) -> bn -> prelu
  conv(40, 3, init=uniform(0.1)) -> conv(32, 3, init=xavier) -> conv(8, 3, init="k.npy")
  conv(8, 3, weights=sobel_x, groups=8) -> flatten -> dense(600) -> dense(10, init=zeros)
}
"""


@pytest.fixture
def small_pieces(monkeypatch):
    """The file writer draws 1,000 floats at a time through two buffers, and batches under 2 KB:
    every tensor goes in many pieces, the small ones in batches."""
    from cnndsl.backends import onnx_file

    monkeypatch.setattr(onnx_file, "PIECE", 1000)
    monkeypatch.setattr(onnx_file, "BUFFERS", 2)
    monkeypatch.setattr(onnx_file, "SMALL", 2048)


def test_every_kind_of_weight_streams_to_the_values_one_draw_makes(tmp_path, small_pieces):
    import zlib

    kernel = np.random.default_rng(7).standard_normal((8, 32, 3, 3))
    np.save(tmp_path / "k.npy", kernel)
    net = cnndsl.load(str(_program(tmp_path, STREAMED)))
    given = np.full((10, 600), 0.5, np.float32)
    assert backend.compile_file(net, tmp_path / "m.onnx", seed=3, weights={"dense2/weight": given}) is False
    w = _weights(onnx.load(tmp_path / "m.onnx"))
    rng = np.random.default_rng([3, zlib.crc32(b"conv2\0weight")])  # docs/onnx.md: seed, crc32 of name and role
    np.testing.assert_array_equal(w["conv2/weight"], rng.random((40, 48, 3, 3), dtype=np.float32) * 0.2 - 0.1)
    rng = np.random.default_rng([3, zlib.crc32(b"conv1\0weight")])
    np.testing.assert_array_equal(w["conv1/weight"], rng.standard_normal((48, 16, 3, 3), np.float32) * 0.05)
    np.testing.assert_array_equal(w["conv4/weight"], kernel.astype(np.float32))
    np.testing.assert_array_equal(w["dense2/weight"], given)
    built = _weights(backend.build(net, seed=3))
    assert w.keys() == built.keys()
    for name in built:
        if name != "dense2/weight":
            np.testing.assert_array_equal(w[name], built[name], err_msg=name)


def test_a_failed_draw_stops_the_write_and_leaves_the_old_file(tmp_path, small_pieces):
    import threading

    np.save(tmp_path / "k.npy", np.zeros((8, 32, 3, 3)))
    net = cnndsl.load(str(_program(tmp_path, STREAMED)))
    (tmp_path / "k.npy").unlink()  # read when its turn comes, on the drawing thread
    target = tmp_path / "m.onnx"
    target.write_bytes(b"earlier model")
    threads = threading.active_count()
    with pytest.raises(cnndsl.CnnError) as caught:
        backend.compile_file(net, target)
    assert caught.value.code == "E0702" and caught.value.diagnostics[0].span.line == 4
    assert target.read_bytes() == b"earlier model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "net.cnn"]
    assert threading.active_count() == threads


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_stops_the_drawing_thread(tmp_path, small_pieces, monkeypatch, failure):
    import threading

    from cnndsl.backends import onnx_file

    real, written = onnx_file.pieces, []

    def failing(weights):
        for data in real(weights):
            written.append(len(data))
            if len(written) == 5:
                raise failure
            yield data

    monkeypatch.setattr(onnx_file, "pieces", failing)
    threads = threading.active_count()
    with pytest.raises((cnndsl.CnnError, KeyboardInterrupt)):
        backend.compile_file(cnndsl.load("architectures/lenet5.cnn"), tmp_path / "m.onnx")
    assert threading.active_count() == threads and len(written) == 5
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**21 + 5, 555_000_000, 2**31 - 1])
def test_varints_match_protobuf(value):
    from google.protobuf.internal.encoder import _VarintBytes

    from cnndsl.backends.onnx_file import _varint

    assert _varint(value) == _VarintBytes(value)


def test_weights_that_disagree_with_the_analysis_are_an_internal_error(monkeypatch):
    """onnx's checker lets a Conv with the wrong input channels through; the compiler's own count does not."""
    from cnndsl.layers.conv import Conv

    net = cnndsl.loads("network T { input x: [3, 8, 8]; conv(4, 3) }")
    real = Conv.weight_shape
    monkeypatch.setattr(Conv, "weight_shape", lambda self, shapes: (*real(self, shapes)[:1], 2, 3, 3))
    with pytest.raises(AssertionError, match="conv1: emitted 76 weight values, the analysis counts 112"):
        net.to_onnx()
