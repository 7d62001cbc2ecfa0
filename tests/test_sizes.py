"""Symbolic input sizes and `cnndsl sizes` (docs/sizes.md), checked against brute force: every size in
a range is compiled concretely with the ordinary compiler, and must be valid exactly when `sizes` says
so; the report's formulas, evaluated at those sizes, must equal the concrete reports."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnndsl import loads
from cnndsl.cli import main
from cnndsl.errors import CnnError, Span
from cnndsl.lower import lower
from cnndsl.network import from_program
from cnndsl.sizes import analyse_sizes
from cnndsl.sizes.cost import SymbolicNetwork
from cnndsl.sizes.symbolic import load, program_of

DATA = Path(__file__).parent / "data" / "sizes"
SYMBOLIC = ("unet_pad", "unet_valid", "resnet", "inception", "decoder")
LOW, HIGH = 1, 48


def _text(name: str) -> str:
    return (DATA / f"{name}.cnn").read_text()


@pytest.fixture(scope="module")
def analysed() -> dict:
    out = {}
    for name in (*SYMBOLIC, "lenet"):
        loaded = load(program_of(str(DATA / f"{name}.cnn")), None, {}, concrete_axes=True)
        out[name] = (loaded, analyse_sizes(loaded))
    return out


def _program(text: str):
    return _PROGRAMS.get(text) or _PROGRAMS.setdefault(text, program_of(text=text))


def _compiles(text: str, sizes: dict):
    """The lowered graph at `sizes` (the ordinary compiler's shape checks), or None when it fails."""
    program = _program(text)
    try:
        return lower(program, program.main_networks[0], {k: (v, Span("<test>", 1, 1)) for k, v in sizes.items()})
    except CnnError as exc:
        assert all(d.code.startswith("E04") for d in exc.diagnostics), exc  # a shape error, nothing else
        return None


_PROGRAMS: dict = {}


def _partner(answers: dict, name: str) -> dict:
    """Valid values for the other variables, so that only `name` decides."""
    return {other: answer.smallest + 0 for other, answer in answers.items() if other != name}


@pytest.mark.parametrize("name", SYMBOLIC)
def test_valid_exactly_when_a_concrete_compile_succeeds(analysed, name):
    _, answers = analysed[name]
    text = _text(name)
    for variable, answer in answers.items():
        others = _partner(answers, variable)
        brute = [x for x in range(LOW, HIGH + 1) if _compiles(text, {**others, variable: x}) is not None]
        assert answer.valid(LOW, HIGH) == brute, variable
        assert answer.smallest == brute[0]  # each program has a valid size below HIGH


@pytest.mark.parametrize("name", ("unet_valid", "inception"))
def test_the_period_holds_far_beyond_the_range(analysed, name):
    _, answers = analysed[name]
    text = _text(name)
    variable, answer = next(iter(answers.items()))
    others = _partner(answers, variable)
    for x in range(2000, 2000 + 2 * answer.period):
        claimed = x % answer.period in answer.residues
        assert (_compiles(text, {**others, variable: x}) is not None) == claimed == answer.is_valid(x)


def test_concrete_program_keeps_the_dense_it_was_built_for(analysed):
    loaded, answers = analysed["lenet"]
    text = _text("lenet")
    original = loads(text)
    features = original.node("flatten1").shape[1]
    for axis, fixed in (("height", "28]"), ("width", None)):
        answer = answers[f"image.{axis}"]
        brute = []
        for x in range(LOW, HIGH + 1):
            shape = f"[1, {x}, 28]" if fixed else f"[1, 32, {x}]"
            net = _compiles(text.replace("[1, 32, 28]", shape), {})
            if net is not None and net["flatten1"].shape[1] == features:
                brute.append(x)
        assert answer.valid(LOW, HIGH) == brute
        assert answer.period is None  # a dense fixes the size up to a few values


def _evaluate(formula, env: dict):
    if isinstance(formula, int) or formula == "N":
        return formula
    return eval(_compiled(formula), {"__builtins__": {}, "max": max}, dict(env))  # noqa: S307 - checked below


@functools.cache
def _compiled(formula: str):
    assert re.fullmatch(r"[\w\s()+*/,-]+", formula), formula  # only arithmetic, max and the variables
    return compile(formula, "<formula>", "eval")


@pytest.mark.parametrize("name", SYMBOLIC)
def test_report_formulas_equal_the_concrete_reports(analysed, name):
    loaded, answers = analysed[name]
    for step, depth in ((0, None), (1, None), (2, None), (1, 0)):
        symbolic = SymbolicNetwork(loaded).to_dict(depth)  # depth 0: blocks summed into one row each
        env = {v: a.nearest(LOW + 9 * step + 1)[1] for v, a in answers.items()}  # from 2, 11, 20: odd and even
        concrete = from_program(_program(_text(name)), None, env).to_dict(depth)
        for key in ("params", "macs", "flops", "activation_bytes", "peak_activation_bytes"):
            assert _evaluate(symbolic["totals"][key], env) == concrete["totals"][key], key
        assert len(symbolic["nodes"]) == len(concrete["nodes"])
        for sym, con in zip(symbolic["nodes"], concrete["nodes"]):
            assert [_evaluate(d, env) for d in sym["shape"]] == con["shape"], sym["name"]
            for key in ("params", "macs", "flops", "activation_bytes"):
                assert _evaluate(sym[key], env) == con[key], (sym["name"], key)


def test_formulas_print_simplified(analysed):
    loaded, _ = analysed["resnet"]
    shapes = {name: [str(d) for d in shape] for name, shape in loaded.shapes.items()}
    # conv 7x7 /2 pad 3, then maxpool 3 /2 pad 1, then two stride-2 stages: the size halves four times
    assert shapes["conv1"][2] == "(S - 1) // 2 + 1"
    assert shapes["maxpool1"][2] == "(S - 1) // 4 + 1"
    assert shapes["Basic3/relu1"][2] == "(S - 1) // 16 + 1"


def test_the_sizes_command_json(capsys):
    assert main(["sizes", str(DATA / "unet_pad.cnn"), "--format", "json", "--range", "1..40", "--near", "30"]) == 0
    data = json.loads(capsys.readouterr().out)["variables"]["S"]
    # three 2x2 pools and three 2x up-convolutions: exactly the multiples of 8 (hand derivation)
    assert (data["smallest"], data["period"], data["residues"]) == (8, 8, [0])
    assert data["valid"] == [8, 16, 24, 32, 40]
    assert data["near"] == {"value": 30, "below": 24, "above": 32, "valid": False}


def test_the_sizes_command_table(capsys):
    assert main(["sizes", str(DATA / "unet_valid.cnn"), "--range", "40..60"]) == 0
    out = capsys.readouterr().out
    assert "H:\n  smallest   44\n  pattern    4k" in out
    assert "in 40..60: 5 valid: 44, 48, 52, 56, 60" in out


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["--range", "9..3"], 2, "--range expects LO..HI"),
        (["--range", "0..3"], 2, "--range expects LO..HI"),
        (["--set", "S=0"], 1, "E1302"),
        (["--set", "S=2.5"], 1, "E1302"),
    ],
)
def test_sizes_command_refuses_bad_arguments(capsys, argv, code, message):
    assert main(["sizes", str(DATA / "unet_pad.cnn"), *argv]) == code
    assert message in capsys.readouterr().err


def test_set_makes_a_symbolic_program_concrete(capsys):
    assert main(["report", str(DATA / "unet_pad.cnn"), "--set", "S=64", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outputs"][0]["shape"] == ["N", 2, 64, 64]


def test_compile_of_a_symbolic_program_names_the_missing_size(capsys, tmp_path):
    assert main(["compile", str(DATA / "unet_pad.cnn"), "-o", str(tmp_path / "u.onnx")]) == 1
    err = capsys.readouterr().err
    assert "error: the input size `S` has no value [E1300]" in err and "--set S=224" in err


def test_check_and_report_accept_a_symbolic_program(capsys):
    assert main(["check", str(DATA / "inception.cnn")]) == 0
    assert main(["report", str(DATA / "inception.cnn"), "--format", "csv"]) == 0
    assert "(H - 1) // 2" in capsys.readouterr().out  # conv 3x3 /2 unpadded: (H - 3) // 2 + 1


def test_sizes_refuses_variables_tied_together(capsys, tmp_path):
    path = tmp_path / "tied.cnn"
    path.write_text("network T {\n  input a: [3, H, W]\n  input b: [3, W, H]\n  add {\n    a\n    b\n  }\n}\n")
    assert main(["check", str(path)]) == 0  # H = W at the representative size
    assert main(["sizes", str(path)]) == 1
    err = capsys.readouterr().err
    assert ":4:3: error: `add` ties the sizes `H` and `W` together" in err and "[E1306]" in err


def test_sizes_refuses_a_period_too_long(capsys, tmp_path):
    strides = " -> ".join(f"conv(1, 1, stride={s})" for s in (7, 11, 13, 17, 19))  # period 323,323
    (tmp_path / "long.cnn").write_text(f"network L {{\n  input x: [1, S, S]\n  {strides}\n}}\n")
    assert main(["sizes", str(tmp_path / "long.cnn")]) == 1
    assert "repeat with a period over 65,536" in capsys.readouterr().err


def test_sizes_and_a_symbolic_report_import_nothing_heavy(tmp_path):
    heavy = ("onnx", "onnxruntime", "graphviz", "networkx", "numpy", "torch", "sympy")
    script = (
        "import sys, json\n"
        "from cnndsl.cli import main\n"
        f"main(['sizes', {str(DATA / 'unet_pad.cnn')!r}])\n"
        f"main(['report', {str(DATA / 'inception.cnn')!r}, '--format', 'json'])\n"
        f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


def _layers_accept(graph, source: str, axis: int, x: int) -> bool:
    """Every layer's own `output_shape` accepts the graph with input `source`'s `axis` set to x, and every
    learnable layer on a flat value sees the features it was built for (the oracle for a concrete program)."""
    from cnndsl.layers import ShapeError

    shapes = {}
    for node in graph.nodes():
        if not node.inputs:
            shape = list(node.shape)
            if node.name == source:
                shape[axis] = x
            shapes[node.name] = tuple(shape)
            continue
        ins = [shapes[i] for i in node.inputs]
        try:
            shapes[node.name] = node.layer.output_shape(ins)
        except ShapeError:
            return False
        if len(ins[0]) == 2 and node.params and ins[0][1] != graph[node.inputs[0]].shape[1]:
            return False
    return True


@pytest.mark.parametrize("name", ("fcn8s", "yolov2", "googlenet_aux", "squeezenet1_1"))
def test_bundled_architectures_against_their_layers(name):
    from conftest import ARCHITECTURES

    loaded = load(program_of(str(ARCHITECTURES / f"{name}.cnn")), None, {}, concrete_axes=True)
    graph = loaded.network.graph
    for variable, answer in analyse_sizes(loaded).items():
        source, axis = variable.rsplit(".", 1)
        for x in (*range(1, 97), *range(1000, 1040)):
            assert answer.is_valid(x) == _layers_accept(graph, source, 2 if axis == "height" else 3, x), (variable, x)


def test_the_editor_analysis_accepts_a_symbolic_program():
    from cnndsl.tools.analysis import analyse

    good = analyse("unet_pad.cnn", _text("unet_pad"))
    assert good.diagnostics == [] and [n.name for n in good.networks] == ["UNetPad"]
    bad = analyse("dense.cnn", "network D {\n  input x: [3, H, W]\n  flatten -> dense(10)\n}\n")
    assert [d.code for d in bad.diagnostics] == ["E1303"]


def test_an_error_at_every_size_says_which_size_it_was_compiled_at(capsys, tmp_path):
    path = tmp_path / "bad.cnn"
    path.write_text("network B {\n  input x: [3, S, S]\n  add {\n    conv(4, 1)\n    conv(8, 1)\n  }\n}\n")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert ":4:5: error: `add` branches disagree" in err
    assert "compiled at S = 1024: no size from 1024 to 1055 compiles" in err
