"""`assert` statements, `check --assert` and number suffixes (issue 14, docs/language.md#assertions).

Expected figures are derived by hand in the comments (or are published counts);
every figure is tested on both sides of its true value, so each assertion is seen
to pass and to fail.
"""

from __future__ import annotations

import pytest
from conftest import ARCHITECTURES

import cnndsl
from cnndsl import cli
from cnndsl.tools.fmt import format_text

# x [3, 8, 8] -> conv(4, 3): 4*3*9 + 4 = 112 params, 4*6*6 * 3*9 = 3,888 MACs, [4, 6, 6], rf 3
#             -> bn: 2*4 = 8 params (trainable), 2*4 = 8 state, rf 3
#             -> relu -> features = maxpool(2): [4, 3, 3], rf 3 + (2-1)*1 = 4
#             -> frozen { conv(2, 1) }: 2*4 + 2 = 10 frozen params, 2*3*3 * 4 = 72 MACs
# params 130 = trainable 120 + frozen 10; macs 3,960.
# Activation bytes (float32): x 768, conv 576, bn 576, relu 576, maxpool 144, conv 72; total 2,712.
# Peak, scheduling in order and freeing after the last use (inputs and outputs stay):
# x+conv 1344, +bn 1920 (conv freed -> 1344), +relu 1920, +maxpool 1488, +conv 1560.
NETWORK = """network T {{
  input x: [3, 8, 8]
  conv(4, 3) -> bn -> relu
  features = maxpool(2)
  frozen {{ conv(2, 1) }}
  assert {condition}
}}
"""
FIGURES = {
    "params": 130,
    "trainable": 120,
    "frozen": 10,
    "state": 8,
    "macs": 3960,
    "activation_bytes": 2712,
    "peak_memory": 1920,
    "peak_activation_bytes": 1920,
    "shape(features)": [4, 3, 3],
    "shape(x)": [3, 8, 8],
    "rf(features)": 4,
    "rf(x)": 1,
}


def compile_with(condition: str):
    return cnndsl.loads(NETWORK.format(condition=condition), name="t.cnn")


def failure(condition: str, source: str | None = None):
    text = source if source is not None else NETWORK.format(condition=condition)
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.loads(text, name="t.cnn")
    return caught.value.diagnostics


@pytest.mark.parametrize("figure", sorted(FIGURES))
def test_each_figure_passes_at_its_value_and_fails_beside_it(figure):
    value = FIGURES[figure]
    compile_with(f"{figure} == {_literal(value)}")
    if isinstance(value, int):
        compile_with(f"{figure} <= {value} and {figure} > {value - 1}")
        (diagnostic,) = failure(f"{figure} < {value}")
        assert diagnostic.message == f"assertion failed: {figure} < {value} — {figure} is {value:,}" + _bytes(figure)
    else:
        wrong = [*value[:-1], value[-1] + 1]
        (diagnostic,) = failure(f"{figure} == {_literal(wrong)}")
        assert diagnostic.message.endswith(f"— {figure} is {_literal(value)}")
    assert (diagnostic.code, diagnostic.span.file, diagnostic.span.line, diagnostic.span.column) == (
        "E1320",
        "t.cnn",
        6,
        10,
    )


def _literal(value) -> str:
    return "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else str(value)


def _bytes(figure: str) -> str:
    return " (1.9 KiB)" if figure.startswith("peak") else " (2.6 KiB)" if figure == "activation_bytes" else ""


def test_flops_is_a_figure():
    total = cnndsl.loads(NETWORK.format(condition="true"), name="t.cnn").totals["flops"]
    assert total > FIGURES["macs"]  # bias, batch norm, relu and pooling add to the multiply-adds
    compile_with(f"flops == {total}")
    assert failure(f"flops != {total}")[0].code == "E1320"


def test_a_failed_assertion_shows_every_figure_it_read():
    (diagnostic,) = failure("params < 1K and shape(features) == [4, 2, 2]")
    assert diagnostic.message == (
        "assertion failed: params < 1K and shape(features) == [4, 2, 2] — params is 130, shape(features) is [4, 3, 3]"
    )


def test_independent_failures_are_reported_together():
    source = NETWORK.format(condition="params < 100\n  assert macs < 1K\n  assert state == 8")
    assert [d.message.split(" — ")[1] for d in failure("", source)] == ["params is 130", "macs is 3,960"]


# -- blocks: checked at every call, about that call -------------------------------------------------

BLOCK = """block Unit(width) {{
  conv(width, 3, pad=1) -> relu
  assert {condition}
}}

network T {{
  input x: [3, 8, 8]
  Unit(4)
  Unit(16)
}}
"""
# Unit(4) on 3 channels: 4*3*9 + 4 = 112 params, 64*27*4 = 6,912 MACs; Unit(16) on 4 channels: 16*4*9 + 16 = 592
# params, 64*36*16 = 36,864 MACs. The network holds 704 params.


def test_a_block_assertion_is_about_each_call():
    cnndsl.loads(BLOCK.format(condition="params == width * in.channels * 9 + width"), name="t.cnn")
    cnndsl.loads(BLOCK.format(condition="macs == 64 * shape(in)[0] * 9 * width"), name="t.cnn")
    cnndsl.loads(BLOCK.format(condition="rf(in) == 1 or rf(in) == 3"), name="t.cnn")  # the first call's input is x
    diagnostics = failure("", BLOCK.format(condition="params < 500"))
    assert len(diagnostics) == 1
    (diagnostic,) = diagnostics
    assert diagnostic.message == "assertion failed: params < 500 — params is 592"
    assert (diagnostic.span.line, diagnostic.span.column) == (3, 10)
    (note,) = diagnostic.notes
    assert (note.span.line, note.span.column, note.message) == (9, 3, "in this call of `Unit` (Unit2)")


def test_every_failing_call_is_reported():
    diagnostics = failure("", BLOCK.format(condition="params < 100"))
    assert [d.message for d in diagnostics] == [
        "assertion failed: params < 100 — params is 112",
        "assertion failed: params < 100 — params is 592",
    ]
    assert [d.notes[0].span.line for d in diagnostics] == [8, 9]


def test_a_block_assertion_sees_its_parameters_and_shows_them():
    (diagnostic,) = failure("", BLOCK.format(condition="width < 8"))
    assert diagnostic.message == "assertion failed: width < 8 — width is 16"


def test_block_peak_memory_is_the_calls_own():
    # Unit(16): conv [16, 8, 8] is 4,096 bytes, and the relu's 4,096 more while the conv's output is still
    # held: 8,192. Unit(4): 1,024 + 1,024. The block's input is not the call's own.
    cnndsl.loads(BLOCK.format(condition="peak_memory == 8192 or width == 4"), name="t.cnn")
    cnndsl.loads(BLOCK.format(condition="peak_memory == 2048 or width == 16"), name="t.cnn")
    assert failure("", BLOCK.format(condition="peak_memory < 8K or width == 4"))[0].message.endswith(
        "peak_memory is 8,192 (8.0 KiB), width is 16"
    )


def test_assertions_inside_if_and_repeat_bodies():
    source = """network T(deep=false) {
  input x: [3, 8, 8]
  repeat 2 { conv(3, 1); assert params <= 100 }
  if deep { assert params < 0 }
}
"""
    cnndsl.loads(source, name="t.cnn")  # 2 * (3*3 + 3) = 24 params; the `if` body is not taken
    assert cnndsl.loads(source, name="t.cnn").totals["params"] == 24
    assert failure("", source.replace("deep=false", "deep=true"))[0].message.endswith("params is 24")


# -- the command line ---------------------------------------------------------------------------------


def test_check_assert_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "t.cnn"
    path.write_text(NETWORK.format(condition="true"))
    assert cli.main(["check", str(path), "--assert", "params < 5M", "--assert", "shape(features) == [4, 3, 3]"]) == 0
    assert "3 assertions hold" in capsys.readouterr().err
    assert cli.main(["check", str(path), "--assert", "macs < 1K", "--color", "never"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "<--assert>:1:1: error: assertion failed: macs < 1K — macs is 3,960 [E1320]",
        "  |",
        "1 | macs < 1K",
        "  | ^^^^^^^^^",
    ]


@pytest.mark.parametrize(
    ("expression", "code", "column"),
    [
        ("params < 5Q", "E0103", 10),
        ("params <", "E0100", 8),
        ("parms < 5M", "E1322", 1),
        ("shape(y) == [1]", "E1324", 7),
    ],
)
def test_check_assert_errors_are_located_in_the_pseudo_file(tmp_path, capsys, expression, code, column):
    path = tmp_path / "t.cnn"
    path.write_text(NETWORK.format(condition="true"))
    assert cli.main(["check", str(path), "--assert", expression, "--color", "never"]) == 1
    text = capsys.readouterr().err
    assert text.startswith(f"<--assert>:1:{column}: error: ") and f"[{code}]" in text, text
    assert f"1 | {expression}" in text and "Traceback" not in text


def test_a_published_count_in_the_failure_message(capsys):
    # ResNet-18 has 11,689,512 parameters (torchvision); its head pools globally, so size=64 keeps them.
    argv = ["check", str(ARCHITECTURES / "resnet18.cnn"), "--set", "size=64", "--assert", "params < 5M"]
    assert cli.main([*argv, "--color", "never"]) == 1
    assert "assertion failed: params < 5M — params is 11,689,512 [E1320]" in capsys.readouterr().err


def test_report_and_compile_fail_on_a_failing_assertion(tmp_path, capsys):
    path = tmp_path / "t.cnn"
    path.write_text(NETWORK.format(condition="params < 100"))
    assert cli.main(["report", str(path)]) == 1
    assert cli.main(["compile", str(path), "-o", str(tmp_path / "t.onnx")]) == 1
    assert not (tmp_path / "t.onnx").exists()
    assert capsys.readouterr().err.count("assertion failed: params < 100") == 2


# -- number suffixes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("2K", 2000), ("1.5K", 1500), ("3M", 3_000_000), ("1G", 10**9), ("2KiB", 2048), ("1.5KiB", 1536),
     ("1MiB", 1024 * 1024), ("1GiB", 1024**3), ("0.001M", 1000)],
)  # fmt: skip
def test_suffixed_numbers_are_whole_numbers(text, value):
    # dense(1) on [n] features has n + 1 parameters
    network = cnndsl.loads(f"network T(n={text}) {{ input x: [n]; dense(1) }}")
    assert network.totals["params"] == value + 1
    assert network.inputs[0]["shape"] == ["N", value]


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [("5Q", "E0103", "malformed number `5Q`: unknown suffix"), ("5k", "E0103", "did you mean `5K`?"),
     ("64MB", "E0103", "did you mean `64MiB`?"), ("5MiBx", "E0103", "malformed number `5MiBx`"),
     ("1.0001K", "E1321", "`1.0001K` is 1000.1, not a whole number"), ("5Mi", "E0103", "malformed number `5Mi`")],
)  # fmt: skip
def test_malformed_suffixes_are_located(text, code, words):
    (diagnostic,) = failure("", f"network T {{\n  input x: [3, 8, 8]\n  let n = {text}\n}}\n")
    assert diagnostic.code == code
    assert words in diagnostic.message + " " + diagnostic.hint
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.span.width) == (3, 11, len(text))


def test_a_name_after_a_space_is_not_a_suffix():
    diagnostic = failure("", "network T {\n  input x: [3, 8, 8]\n  let n = 5 M\n}\n")[0]
    assert diagnostic.code == "E0100" and (diagnostic.span.line, diagnostic.span.column) == (3, 13)


# -- misuse ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "code", "column"),
    [("parms < 5M", "E1322", 10), ("features == [4, 3, 3]", "E1323", 10), ("shape(feature) == [4]", "E1324", 16),
     ("shape(1) == [4]", "E1324", 10), ("rf(in) == 1", "E1324", 10), ("params", "E0313", 10)],
)  # fmt: skip
def test_misuse_is_located(condition, code, column):
    (diagnostic,) = failure(condition)
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == (code, 6, column)


def test_unknown_figure_suggests_the_close_one():
    assert failure("peak_mem < 1M")[0].hint == "did you mean `peak_memory`?"


def test_the_formatter_keeps_assertions_and_suffixes():
    source = (
        "network T(budget=5M){input x:[3,8,8];conv(4,3)\nassert params<budget and peak_memory<=64MiB;assert rf(x)==1}"
    )
    formatted = format_text(source)
    assert "  assert params < budget and peak_memory <= 64MiB\n  assert rf(x) == 1\n" in formatted
    assert "network T(budget=5M) {" in formatted
    assert format_text(formatted) == formatted
    assert cnndsl.loads(formatted).totals == cnndsl.loads(source).totals


def test_assert_is_a_reserved_word():
    assert failure("", "network T { input x: [3, 8, 8]; assert = conv(4, 3) }")[0].code == "E0100"


def test_an_assert_outside_a_body_is_located():
    (diagnostic,) = failure("", "network T { input x: [3, 8, 8] }\nassert params < 5M\n")
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("E0100", 2, 1)
    assert diagnostic.message == "syntax error: `assert` stands inside a network or block"


def test_symbolic_sizes_check_only_size_free_assertions(tmp_path, capsys):
    """With `input x: [3, H, W]` the program is lowered at a stand-in size: `params` (9 * 16 + 16
    = 160 for the conv, 16 * 10 + 10 = 170 for the dense) is checked, `macs` only with --set."""
    source = tmp_path / "sym.cnn"
    source.write_text(
        "network N {\n  input x: [3, H, W]\n  conv(16, 3, pad=1) -> relu\n"
        "  assert params == 618\n  assert macs < 1M\n  gap -> flatten -> dense(10)\n}\n"
    )
    assert cli.main(["check", str(source)]) == 0
    err = capsys.readouterr().err
    assert "W1327" in err and "1 assertion holds" in err
    source.write_text(source.read_text().replace("618", "617"))
    assert cli.main(["check", str(source)]) == 1
    assert "params is 618" in capsys.readouterr().err
    source.write_text(source.read_text().replace("617", "618"))
    assert cli.main(["check", str(source), "--set", "H=8", "--set", "W=8"]) == 0  # 3*3*3*16*64 = 27,648 MACs
    assert cli.main(["check", str(source), "--set", "H=256", "--set", "W=256"]) == 1  # 28,311,552 MACs
    assert "assertion failed: macs < 1M" in capsys.readouterr().err
