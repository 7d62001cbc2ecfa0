"""The error catalogue: one bad program per kind of mistake, in tests/errors/.

Each `tests/errors/NAME.cnn` is compiled from inside tests/errors/ (so file
names print relative); its stderr must equal `NAME.expected` (golden,
rewritten by `pytest --update-goldens`), and its first diagnostic must have the
code, line, column and message listed in CATALOGUE below.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import check_golden

import cnndsl
from cnndsl import cli

ERRORS = Path(__file__).resolve().parent / "errors"

# name: (code, line, column, words of the message, extra command-line arguments)
CATALOGUE = {
    # syntax
    "syntax_unclosed_brace": ("E0101", 1, 15, "unclosed `{`: the file ends before its `}`", ()),
    "syntax_unclosed_paren": ("E0101", 3, 7, "unclosed `(`: expected `)` before `->`", ()),
    "syntax_unclosed_paren_newline": ("E0101", 3, 7, "unclosed `(`: expected `)` before name `relu`", ()),
    "syntax_unclosed_bracket": ("E0101", 3, 12, "unclosed `[`: expected `]` before `)`", ()),
    "syntax_unclosed_block": ("E0101", 1, 12, "unclosed `{`: expected `}` before `network`", ()),
    "syntax_unmatched_paren": ("E0105", 3, 14, "unmatched `)`", ()),
    "syntax_stray_token": ("E0100", 3, 15, "unexpected name `relu`", ()),
    "syntax_missing_value": ("E0100", 3, 19, "unexpected `)`", ()),
    "syntax_bad_number": ("E0103", 3, 12, "malformed number `3.3.3`", ()),
    "syntax_bad_number_suffix": ("E0103", 3, 12, "malformed number `3x3`", ()),
    "syntax_unterminated_string": ("E0102", 3, 20, "unterminated string", ()),
    "syntax_bad_character": ("E0104", 3, 23, "unexpected character `@`", ()),
    # names, definitions, arguments
    "unknown_layer": ("E0210", 3, 25, "unknown layer or block `relux`", ()),
    "unknown_block": ("E0210", 7, 3, "unknown layer or block `Stme`", ()),
    "unknown_argument": ("E0211", 3, 15, "`conv` has no argument `strid`", ()),
    "unknown_block_parameter": ("E0211", 7, 8, "block `Stem` has no parameter `chanels`", ()),
    "unknown_enum_word": ("E0310", 3, 19, "unknown padding `sme`", ()),
    "unknown_enum_mode": ("E0310", 3, 17, "unknown value `nearst`", ()),
    "missing_argument": ("E0212", 3, 3, "`conv` is missing its argument `kernel`", ()),
    "missing_block_argument": ("E0212", 7, 3, "block `Stem` is missing its argument `channels`", ()),
    "duplicate_argument": ("E0213", 3, 15, "argument `out` is given twice", ()),
    "too_many_arguments": ("E0214", 3, 27, "`maxpool` takes at most 4 arguments, got 5", ()),
    "positional_after_keyword": ("E0215", 3, 16, "a positional argument follows a keyword argument", ()),
    "wrong_argument_type": ("E0301", 3, 8, 'expected an integer, got the string "16"', ()),
    "wrong_argument_bool": ("E0301", 3, 20, "expected `true` or `false`, got the integer 1", ()),
    "undefined_name": ("E0220", 4, 3, "`skpi` is not defined", ()),
    "undefined_output": ("E0220", 4, 10, "`feature` is not defined", ()),
    "shadowing_layer": ("E0221", 3, 3, "the name `conv` shadows the layer `conv`", ()),
    "shadowing_parameter": ("E0221", 2, 3, "the name `width` shadows the parameter `width`", ()),
    "duplicate_definition": ("E0201", 5, 7, "`Stem` is defined twice", ()),
    "redefine_layer": ("E0202", 1, 7, "`conv` is a built-in layer", ()),
    "recursive_block": ("E0222", 8, 3, "block `Down` calls itself through `Up`", ()),
    "network_called": ("E0226", 8, 3, "`Trunk` is a network; only blocks can be called", ("--network", "Small")),
    "no_input_yet": ("E0223", 2, 3, "`conv` has no input value yet", ()),
    "merge_one_branch": ("E0218", 3, 3, "`concat` needs at least two branches, got 1", ()),
    "import_missing": ("E0011", 1, 1, 'cannot find the imported file "blocks/stems.cnn"', ()),
    "import_cycle": ("E0012", 1, 1, 'import cycle: "../import_cycle.cnn" imports this file again', ()),
    # expressions
    "inexact_division": ("E0306", 3, 8, "10 / 4 is not a whole number", ()),
    "division_by_zero": ("E0305", 3, 8, "division by zero", ()),
    "index_out_of_range": ("E0307", 3, 15, "index 2 is out of range for a list of 2", ()),
    "tensor_as_number": ("E0304", 4, 8, "`skip` is a tensor, not a number", ()),
    # Part 2: conditions, let, fn
    "condition_not_boolean": ("E0313", 2, 6, "the condition of `if` must be `true` or `false`, got the integer 6", ()),
    "else_without_if": ("E0106", 4, 3, "`else` without `if`", ()),
    "recursive_fn": ("E0203", 2, 24, "fn `width` calls itself through `double`", ()),
    "let_tensor": ("E0235", 4, 18, "`let` binds a number, list or symbol, not a tensor", ()),
    "unknown_function": ("E0311", 5, 8, "unknown function `divisable`", ()),
    "like_no_tensor": ("E0236", 4, 31, "`upsample` argument `like` must name a tensor; `skp` is not one", ()),
    "function_arity": ("E0214", 5, 25, "`divisible` takes at most 2 arguments, got 3", ()),
    # shapes
    "shape_nonpositive_conv": ("E0400", 3, 32, "`conv` output height would be 0: floor((2 - 3) / 1) + 1 = 0", ()),
    "shape_nonpositive_pool": ("E0400", 3, 14, "`maxpool` output height would be 0", ()),
    "shape_add_channels": ("E0401", 5, 5, "`add` branches disagree: [N, 128, 28, 28] vs [N, 64, 56, 56]", ()),
    "shape_add_spatial": ("E0401", 4, 5, "`add` branches disagree: [N, 16, 30, 30] vs [N, 16, 32, 32]", ()),
    "shape_residual_body": ("E0401", 4, 5, "`add` branches disagree: [N, 32, 32, 32] vs [N, 16, 32, 32]", ()),
    "shape_mul_channels": ("E0401", 5, 5, "`mul` branches disagree: [N, 64, 32, 32] vs [N, 32, 1, 1]", ()),
    "shape_mul_spatial": ("E0401", 5, 5, "`mul` branches disagree: [N, 64, 32, 32] vs [N, 64, 16, 16]", ()),
    "shape_concat_spatial": ("E0401", 4, 5, "`concat` branches disagree on spatial size", ()),
    "shape_concat_rank": ("E0401", 4, 5, "`concat` branches disagree on rank", ()),
    "shape_dense_unflattened": ("E0400", 4, 3, "`dense` needs a flat input [N, F], got [N, 16, 30, 30]", ()),
    "shape_groups": ("E0400", 3, 3, "30 input channels are not divisible by groups=4", ()),
    "shape_convT_output_pad": ("E0301", 3, 36, "output_pad 2 on the height must be smaller than the stride (2)", ()),
    "shape_projection": ("E0403", 3, 3, "no 1x1 stride maps [N, 16, 32, 32] to [N, 32, 30, 30]", ()),
    # layers of Part 2, and lrn
    "lrn_even_size": ("E0301", 3, 35, "`lrn` argument `size`: must be odd, got 4", ()),
    "slice_empty": ("E0301", 3, 27, "stop 8 must be greater than start 8", ()),
    "shape_slice_out_of_range": ("E0400", 4, 3, "`slice(8, 24)` is out of range: the input has 16 channels", ()),
    "chunk_index_out_of_range": ("E0301", 3, 27, "index 2 is out of range for 2 parts", ()),
    "shape_chunk_not_dividing": ("E0400", 4, 3, "16 channels do not divide into 3 equal parts", ()),
    "upsample_size_and_scale": ("E0301", 3, 20, "`size` and `scale` exclude each other", ()),
    "upsample_align_corners_nearest": ("E0301", 3, 41, "align_corners needs mode=linear", ()),
    "shape_pixel_shuffle_channels": ("E0400", 4, 3, "6 channels are not divisible by 2*2 = 4", ()),
    "shape_pixel_unshuffle_size": ("E0400", 4, 3, "the size 25x25 is not divisible by 2", ()),
    "shape_groupnorm_groups": ("E0400", 3, 18, "24 channels are not divisible by groups=5", ()),
    # files
    "file_empty": ("E0006", 1, 1, "the file is empty", ()),
    "file_comments_only": ("E0006", 1, 1, "the file holds only comments", ()),
    "file_binary": ("E0004", 1, 1, "this is a binary file", ()),
    "file_not_utf8": ("E0005", 1, 9, "the file is not valid UTF-8 (byte 0xfc)", ()),
    "no_network": ("E0227", 1, 1, "this file defines no network", ()),
    # limits
    "limit_repeat": ("E0604", 3, 10, "`repeat 1,000,000,000` would expand the network past the limit", ()),
    "limit_nested_repeat": ("E0604", 3, 10, "`repeat 1,000` would expand the network past the limit", ()),
    "limit_block_fanout": ("E0604", 45, 3, "block `B40` would expand the network past the limit", ()),
    "limit_block_depth": ("E0603", 8, 12, "nested more than 64 deep", ()),
    "limit_block_chain": ("E0603", 278, 14, "nested more than 64 deep", ()),
    "limit_block_fanout_calls": ("E0604", 11, 3, "block `Big` would expand the network past the limit", ()),
    "limit_list_items": ("E0605", 2, 20, "a list of 10,001 items is longer than 10,000", ()),
    "poisoned_repeat": ("E0301", 3, 12, "got [3, 8, -1]", ()),
    # symbolic sizes (docs/sizes.md)
    "size_variable_channels": ("E1301", 3, 13, "only an input's height and width may be size variables", ()),
    "size_dense_features": ("E1303", 4, 36, "`dense` would see 4 * (H - 2) * (W - 2) features", ()),
    "size_read_in_block": ("E1304", 3, 11, "this reads `in.height`", ()),
    "size_ceil_pool": ("E1305", 4, 3, "cannot give `maxpool` a size formula", ()),
    "limit_brackets": ("E0601", 3, 70, "brackets nested more than 64 deep", ()),
    "limit_expression_depth": ("E0601", 3, 210, "expression nested more than 100 levels deep", ()),
    # several mistakes at once
    "independent_errors": ("E0211", 3, 15, "`conv` has no argument `strid`", ()),
    "no_cascade": ("E0210", 3, 32, "unknown layer or block `rellu`", ()),
    # weights files (need the ONNX backend: `cnndsl compile`)
    "weights_npy_shape": ("E0701", 3, 3, "holds an array of shape [16, 3, 5, 5]; this layer needs [16, 3, 3, 3]", ()),
    "weights_npy_missing": ("E0702", 3, 3, 'weights file "data/missing.npy" not found', ()),
    # hardening (issue 9): extreme floats, line separators, ONNX names, weight memory, npy headers
    "float_overflow": ("E0605", 3, 18, "the number is too large for a float", ()),
    "float_overflow_arithmetic": ("E0605", 3, 18, "`*` gives a number too large for a float", ()),
    "source_line_separators": ("E0211", 4, 14, "`conv` has no argument `strid`", ()),
    "onnx_output_named_like_input": ("E0704", 3, 10, "the output `x` has the name of a network input", ()),
    "onnx_weights_too_large": ("E0705", 4, 3, "the model needs 719.0 GiB of weights, `dense1` alone 719.0 GiB", ()),
    "weights_npy_huge_header": ("E0701", 3, 3, "holds an array of shape [100000, 1000000]", ()),
    # assertions and number suffixes (issue 14)
    "assert_failed": ("E1320", 4, 10, "assertion failed: params < 400 — params is 448", ()),
    "assert_failed_in_block": ("E1320", 3, 10, "— params is 1,152, shape(in) is [8, 32, 32]", ()),
    "assert_unknown_figure": ("E1322", 4, 10, "unknown figure `parms` in an assertion", ()),
    "assert_unknown_tensor": ("E1324", 4, 16, "`shape` of `feature`: no tensor has that name here", ()),
    "assert_not_spatial": ("E1325", 5, 13, "`rf(flat)`: the value [16] has no receptive field", ()),
    "assert_tensor_as_figure": ("E1323", 4, 10, "`features` is a tensor", ()),
    "assert_merge_branch": ("E1326", 5, 5, "an `assert` cannot be a branch of a merge", ()),
    "syntax_bad_suffix": ("E0103", 4, 19, "malformed number `5Q`: unknown suffix", ()),
    "syntax_bad_suffix_case": ("E0103", 4, 24, "malformed number `64MB`: unknown suffix", ()),
    "suffix_not_whole": ("E1321", 4, 17, "`1.0005K` is 1000.5, not a whole number", ()),
}

# How many diagnostics some entries report (all others: exactly one).
COUNTS = {"independent_errors": 3}


def _command(name: str) -> list[str]:
    return ["compile", "-o", "-"] if name.startswith(("weights_", "onnx_")) else ["check"]


def _run(name: str, capsys, tmp_path, *extra: str) -> tuple[int, str, float]:
    command = _command(name)
    if command[0] == "compile":
        command = ["compile", "-o", str(tmp_path / "model.onnx")]
    start = time.perf_counter()
    code = cli.main([*command, f"{name}.cnn", "--color", "never", *CATALOGUE[name][4], *extra])
    elapsed = time.perf_counter() - start
    return code, capsys.readouterr().err, elapsed


def test_every_catalogue_file_is_listed():
    assert sorted(p.stem for p in ERRORS.glob("*.cnn")) == sorted(CATALOGUE)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_error_catalogue(name, capsys, monkeypatch, tmp_path, update_goldens):
    if name.startswith(("weights_", "onnx_")):
        pytest.importorskip("onnx")
    code, line, column, words, _ = CATALOGUE[name]
    monkeypatch.chdir(ERRORS)

    status, text, elapsed = _run(name, capsys, tmp_path)
    assert status == 1, text
    assert elapsed < 5, f"{name} took {elapsed:.1f} s"
    assert "Traceback" not in text and "internal error" not in text
    assert text.startswith(f"{name}.cnn:{line}:{column}: error: ") or name == "import_cycle", text
    check_golden(ERRORS / f"{name}.expected", text, update_goldens)

    status, text, _ = _run(name, capsys, tmp_path, "--diagnostics", "json")
    diagnostics = json.loads(text)["diagnostics"]
    first = diagnostics[0]
    assert (first["code"], first["line"], first["column"]) == (code, line, column)
    assert words in first["message"]
    assert len(diagnostics) == COUNTS.get(name, 1), diagnostics


def test_api_reports_code_line_column():
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.loads("network N {\n  input x: [3, 8, 8]\n  conv(4, 3, pad=sme)\n}\n")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("E0310", 3, 18)
    assert diagnostic.hint == "did you mean `same`?"


def test_limits_answer_fast():
    """Limits refuse before they build. Speed is measured in benchmarks/, not asserted here: the
    bound below only guards against a hang (each answers in milliseconds on an idle machine)."""
    programs = [
        "network N { input x: [3, 8, 8]; repeat 1000000000 { relu } }",
        "network N { input x: [3, 8, 8]; repeat 1000000 { repeat 1000000 { } } }",
        "block B(n) { repeat n { relu } }\nnetwork N { input x: [3, 8, 8]; repeat 100000 { B(10000) } }",
        "network N { input x: [3, 8, 8]; conv(" + "[" * 100_000 + " }",
        "network N { input x: [3, 8, 8]; conv(" + "-" * 50_000 + "1, 3) }",
        "network N { input x: [3, 8, 8]; conv(" + "+".join(["1"] * 20_000) + ", 3) }",
    ]
    for text in programs:
        start = time.perf_counter()
        with pytest.raises(cnndsl.CnnError) as caught:
            cnndsl.loads(text)
        assert time.perf_counter() - start < 60.0, text[:80]  # a hang guard, not a speed test
        assert caught.value.code.startswith(("E06", "E010")), caught.value.diagnostics


def test_too_large_file(tmp_path, capsys):
    big = tmp_path / "big.cnn"
    big.write_text("# padding\n" * 200_000)
    assert cli.main(["check", str(big)]) == 1
    err = capsys.readouterr().err
    assert f"{big}:1:1: error: the file is 2,000,000 bytes; the limit is 1,000,000 [E0003]" in err


def test_one_mistake_gives_one_error():
    text = (
        "network N {\n  input x: [3, 8, 8]\n  a = conv(4, 3) -> rellu\n  b = a -> relu\n  add { a; b }\n  dense(3)\n}\n"
    )
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.loads(text)
    assert [d.code for d in caught.value.diagnostics] == ["E0210"]


def test_repeated_mistake_is_reported_once():
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.loads("network N {\n  input x: [3, 8, 8]\n  repeat 50 { conv(1.5, 3) }\n}\n")
    assert len(caught.value.diagnostics) == 1


@pytest.mark.parametrize(
    "params",
    [
        "a=2, p0=a * a, " + ", ".join(f"p{i}=p{i - 1} * p{i - 1}" for i in range(1, 40)),
        "a=[1], p0=a + a, " + ", ".join(f"p{i}=p{i - 1} + p{i - 1}" for i in range(1, 40)),
        "a=" + "9" * 5000,
    ],
)
def test_huge_values_are_refused(params):
    """Doubling numbers or lists, or a 5,000-digit literal: a located E0605, not an exhausted machine."""
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.loads(f"network N({params}) {{ input x: [3, 8, 8]; relu }}")
    assert [d.code for d in caught.value.diagnostics] == ["E0605"]


def test_string_escapes_never_crash():
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.loads('import "\\x\\u12"\nnetwork N { input x: [3, 8, 8]; relu }')
    assert caught.value.code == "E0011"
