"""`cnndsl run` edge cases (issue 9, item 8): each works or is a clear error with exit 1 or 2."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from conftest import ROOT
from onnx import TensorProto, helper

from cnndsl.cli import main

ort = pytest.importorskip("onnxruntime")
LENET = str(ROOT / "architectures" / "lenet5.cnn")


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([*argv, "--provider", "cpu"])
    out, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err
    return code, out, err


def save(model: onnx.ModelProto, path) -> str:
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return str(path)


def model(nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


def test_an_input_of_batch_0_is_refused(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((0, 1, 32, 32), np.float32))
    code, _, err = cli(capsys, "run", LENET, "--input", str(tmp_path / "x.npy"))
    assert code == 2 and "holds no sample" in err


@pytest.mark.parametrize(("header", "message"), [(b"P5 0 0 255\n", "0x0 image"), (b"P5 2 2 0\n", "maxval 0")])
def test_degenerate_pgm_images_are_refused(tmp_path, capsys, header, message):
    path = tmp_path / "x.pgm"
    path.write_bytes(header + b"\0" * 4)
    code, _, err = cli(capsys, "run", LENET, "--input", str(path))
    assert code == 2 and message in err


def test_integer_and_boolean_inputs_get_random_values_of_their_type(tmp_path, capsys):
    graph = model(
        [helper.make_node("Cast", ["i"], ["f"], to=TensorProto.FLOAT), helper.make_node("Not", ["b"], ["nb"])],
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, ["N", 3]),
            helper.make_tensor_value_info("b", TensorProto.BOOL, ["N", 2]),
        ],
        [
            helper.make_tensor_value_info("f", TensorProto.FLOAT, ["N", 3]),
            helper.make_tensor_value_info("nb", TensorProto.BOOL, ["N", 2]),
        ],
    )
    code, out, _ = cli(capsys, "run", save(graph, tmp_path / "m.onnx"), "--batch", "2")
    assert code == 0
    assert "f: [2, 3] float32" in out and "nb: [2, 2] bool" in out
    values = [float(v) for v in out.split("f: [2, 3] float32")[1].split()[1:6:2]]  # min, max, mean
    assert 0 <= values[0] <= values[1] <= 9  # integers drawn from 0-9, cast to float


def test_a_string_input_is_a_clear_error(tmp_path, capsys):
    graph = model(
        [helper.make_node("Identity", ["s"], ["t"])],
        [helper.make_tensor_value_info("s", TensorProto.STRING, [2])],
        [helper.make_tensor_value_info("t", TensorProto.STRING, [2])],
    )
    code, _, err = cli(capsys, "run", save(graph, tmp_path / "m.onnx"))
    assert code == 2 and "cannot make a random value for the input `s` of type tensor(string)" in err


def test_a_model_without_inputs_runs(tmp_path, capsys):
    value = helper.make_tensor("v", TensorProto.FLOAT, [2], [1.0, 2.0])
    graph = model(
        [helper.make_node("Constant", [], ["c"], value=value)],
        [],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [2])],
    )
    code, out, _ = cli(capsys, "run", save(graph, tmp_path / "m.onnx"))
    assert code == 0 and "no inputs" in out and "c: [2] float32" in out and "max 2" in out


def test_a_sequence_output_is_described(tmp_path, capsys):
    graph = model(
        [helper.make_node("SequenceConstruct", ["x", "x"], ["s"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [2])],
    )
    code, out, _ = cli(capsys, "run", save(graph, tmp_path / "m.onnx"))
    assert code == 0 and "s: a sequence of 2 items" in out


def test_a_failure_inside_onnxruntime_is_a_clear_error(tmp_path, capsys):
    """Reshape to a shape that does not fit the data fails only when the model runs."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [5])
    graph = model(
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5])],
        [shape],
    )
    code, _, err = cli(capsys, "run", save(graph, tmp_path / "m.onnx"))
    assert code == 2 and "onnxruntime failed to run the model" in err and "[E0907]" in err


def test_a_huge_batch_is_refused_before_allocating(capsys):
    code, _, err = cli(capsys, "run", LENET, "--batch", "100000000")
    assert code == 2 and "--batch 100000000 makes" in err and "of input data" in err


def test_an_npy_header_claiming_a_huge_array_is_refused_before_loading(tmp_path, capsys):
    path = tmp_path / "x.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**11, 1, 32, 32)})
    code, _, err = cli(capsys, "run", LENET, "--input", str(path))
    assert code == 2 and "of input data" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_input_is_refused(tmp_path, capsys):
    os.mkfifo(tmp_path / "x.npy")
    code, _, err = cli(capsys, "run", LENET, "--input", str(tmp_path / "x.npy"))
    assert code == 2 and "not a regular file" in err
