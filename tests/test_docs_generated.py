"""The generated tables in docs/ match the layer classes, and a new layer kind needs one file."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import onnx
import pytest

import cnndsl
from cnndsl.layers import LAYERS

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_docs_match_the_layer_classes():
    generate = _generator()
    for page, sections in generate.SECTIONS.items():
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert generate.generated(text, sections) == text, f"docs/{page} is stale: run python docs/generate.py"


def test_the_generator_notices_a_stale_table():
    generate = _generator()
    text = (ROOT / "docs" / "onnx.md").read_text(encoding="utf-8")
    stale = text.replace("| `conv` | `Conv` |", "| `conv` | `Conv2d` |")
    assert stale != text
    assert generate.generated(stale, generate.SECTIONS["onnx.md"]) == text


NEW_KINDS = """
from cnndsl.layers.base import Elementwise, register
from cnndsl.layers.merge import Merge


@register
class Softsign(Elementwise):
    kind = "softsign_test"
    cost = 3
    doc = "x / (1 + |x|), a throw-away kind"
    onnx_op = "Softsign"
    onnx_doc = "unary, opset 1"


@register
class Maximum(Merge):
    kind = "maximum_test"
    glyph = "M"
    doc = "element-wise maximum of the branches"
    onnx_ops = "`Max`"
    flops_doc = "`(branches - 1)` comparisons per output element"

    def onnx(self, emit, inputs, node):
        return emit.op("Max", inputs, node)

    def output_shape(self, shapes):
        return shapes[0]
"""


@pytest.fixture
def new_kinds(tmp_path):
    """Two layer kinds, one a merge, defined in a module of their own and nowhere else."""
    before = dict(LAYERS)
    path = tmp_path / "throwaway_layers.py"
    path.write_text(NEW_KINDS, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("throwaway_layers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["throwaway_layers"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("throwaway_layers", None)
        LAYERS.clear()
        LAYERS.update(before)


PROGRAM = """
network T {
  input x: [3, 8, 8]
  conv(4, 3, pad=1)
  maximum_test {
    softsign_test
    relu
  }
}
"""


def test_a_new_layer_kind_reaches_report_onnx_diagram_and_docs(new_kinds):
    net = cnndsl.loads(PROGRAM)
    ops = [row.op for row in net.rows()]
    assert ops == ["input", "conv", "softsign_test", "relu", "maximum_test"]
    softsign = next(row for row in net.rows() if row.op == "softsign_test")
    assert softsign.flops == 3 * 4 * 8 * 8  # cost 3 per element, hand-derived
    assert "maximum_test" in net.report("table")

    model = net.to_onnx()
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["Conv", "Softsign", "Relu", "Max"]

    generate = _generator()
    assert "| `softsign_test` |  | x / (1 + \\|x\\|), a throw-away kind |" in generate.layer_table()
    assert "| `maximum_test { … }` | `Max` |" in generate.onnx_table()
    assert "`maximum_test { … }` | `(branches - 1)` comparisons per output element |" in generate.flops_table()


def test_a_new_merge_is_drawn_with_its_glyph(new_kinds):
    pytest.importorskip("graphviz")
    dot = cnndsl.loads(PROGRAM).render()
    assert "label=M" in dot or 'label="M"' in dot


def test_a_learnable_kind_gets_the_freezing_switch():
    from cnndsl.layers.base import Layer, register

    before = dict(LAYERS)
    try:

        @register
        class Scale(Layer):
            kind = "scale_test"
            learnable = True

            def parameters(self, shapes, out):
                return shapes[0][1]

        assert [a.name for a in Scale.arguments] == ["init", "trainable"]
        net = cnndsl.loads("network T { input x: [3, 4, 4]; scale_test }")
        assert (net.totals["params"], net.totals["trainable"]) == (3, 3)
        frozen = cnndsl.loads("network T { input x: [3, 4, 4]; scale_test(trainable=false) }")
        assert (frozen.totals["params"], frozen.totals["trainable"]) == (3, 0)
    finally:
        LAYERS.clear()
        LAYERS.update(before)
