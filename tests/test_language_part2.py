"""Part 2 of the language: conditions, `let`, `fn`, tensor arguments; figures derived by hand."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import cnndsl
from cnndsl.layers import LAYERS, Layer
from cnndsl.layers.args import Arg, integer

DATA = Path(__file__).resolve().parent / "data" / "part2"


def net(text: str, **kwargs):
    return cnndsl.loads(textwrap.dedent(text), **kwargs)


def shape(network, value="output"):
    return network.values[value]["shape"][1:]


def ops(network):
    return [node.op for node in network.nodes]


def fails(text: str) -> list:
    """The diagnostics of a program that must not compile: [(code, line, column, message)]."""
    with pytest.raises(cnndsl.CnnError) as caught:
        net(text)
    return [(d.code, d.span.line, d.span.column, d.message) for d in caught.value.diagnostics]


# -- if / else ------------------------------------------------------------------------------------


def test_if_else_if_else_chooses_one_body():
    n = net("""
        block Stage(out, down) {
          if down { conv(out, 3, stride=2, pad=1) }
          else if out > 8 { conv(out, 3, pad=1) }
          else {
            relu
          }
        }
        network N {
          input x: [4, 16, 16]
          Stage(8, true)
          Stage(16, false)
          Stage(4, false)
        }
    """)
    assert shape(n) == [16, 8, 8]
    assert ops(n) == ["input", "conv", "conv", "relu"]
    assert n.totals["params"] == (8 * 4 * 9 + 8) + (16 * 8 * 9 + 16)


def test_false_if_without_else_passes_the_value_on():
    n = net("network N(extra=false) { input x: [2, 6, 6]; if extra { conv(5, 1) }; relu }")
    assert ops(n) == ["input", "relu"]
    assert shape(n) == [2, 6, 6]
    n = net("network N(extra=false) { input x: [2, 6, 6]; if extra { conv(5, 1) }; relu }", overrides={"extra": True})
    assert shape(n) == [5, 6, 6]


def test_if_as_merge_branch_absent_when_false():
    n = net("""
        block SE(use) {
          mul {
            identity
            if use { gap -> conv(in.channels, 1) -> sigmoid }
          }
        }
        network N { input x: [6, 5, 5]; SE(true); SE(false) }
    """)
    assert ops(n).count("mul") == 1  # the second SE has one branch left: that branch, no merge
    assert n.totals["params"] == 6 * 6 + 6
    assert shape(n) == [6, 5, 5]


def test_if_branches_of_concat():
    n = net("""
        network N(wide=true) {
          input x: [3, 4, 4]
          concat {
            conv(4, 1)
            if wide { conv(8, 1) }
            if not wide { conv(2, 1) } else { conv(3, 1) }
          }
        }
    """)
    assert shape(n) == [4 + 8 + 3, 4, 4]
    assert n.totals["params"] == (4 * 3 + 4) + (8 * 3 + 8) + (3 * 3 + 3)


def test_bindings_inside_if_bodies_are_visible_after():
    n = net("network N { input x: [1, 4, 4]; if true { skip = conv(2, 1) }; conv(2, 1); add { skip; identity } }")
    assert ops(n)[-1] == "add"


# -- expressions -------------------------------------------------------------------------------------


def channels(expr: str, params: str = "a=3") -> int:
    return shape(net(f"network N({params}) {{ input x: [1, 4, 4]; conv({expr}, 1) }}"))[0]


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("round(2.5)", 2),  # halves to even, as Python, numpy and torch
        ("round(3.5)", 4),
        ("round(2.6)", 3),
        ("round(2.675, 2) * 400", 1068.0),  # 2.675 is stored as 2.67499…
        ("floor(7 / 2.0)", 3),
        ("ceil(7 / 2.0)", 4),
        ("ceil(a * 1.1)", 4),
        ("7.5 // 2", 3),  # `//` floors to an integer, for floats too
        ("-7.5 // 2 + 9", 5),
        ("abs(-5)", 5),
        ("abs(a - 10)", 7),
        ("min(3, 7)", 3),
        ("max([2, 9, 4])", 9),
        ("len([1, 2, 3])", 3),
        ("5 if 2 > 1 else 6", 5),
        ("5 if 1 == 2 else 6", 6),
        ("5 if a != 3 else 6", 6),
        ("5 if a >= 3 and a <= 3 and not a < 3 else 6", 5),
        ("5 if false or a > 2 else 6", 5),
        ("5 if [1, 2] == [1, 2.0] else 6", 5),
        ("5 if same != valid else 6", 5),
        ("5 if 1 == true else 6", 6),  # booleans are not numbers
        ("1 if a > 5 else 2 if a > 2 else 3", 2),  # right-associative
        ("[4][5] if false else 3", 3),  # only the chosen side is evaluated
        ("2 if false and [4][5] == 0 else 3", 3),  # `and` stops at false
        ("2 if true or [4][5] == 0 else 3", 2),
    ],
)
def test_expression_values(expr, value):
    if isinstance(value, float):
        assert channels(f"round({expr})") == round(value)
    else:
        assert channels(expr) == value


@pytest.mark.parametrize(
    ("expr", "code", "words"),
    [
        ("1 if 1 else 2", "E0313", "a condition must be `true` or `false`, got the integer 1"),
        ("1 if a and true else 2", "E0313", "`and` must be `true` or `false`, got the integer 3"),
        ("1 if not [1] else 2", "E0313", "`not` must be `true` or `false`"),
        ("1 if a < true else 2", "E0302", "`<` compares numbers, got the boolean `true`"),
        ("len(3)", "E0302", "`len` needs a list or a string"),
        ("floor(1e300)", "E0605", "`floor` gives a number too large"),
        ("max()", "E0212", "`max` needs at least 1 argument, got 0"),
        ("abs(1, 2)", "E0214", "`abs` takes 1 argument, got 2"),
        ("maxx(1, 2)", "E0311", "unknown function `maxx`"),
        ("a(2)", "E0312", "`a` is not a function"),
        ("min(x=1)", "E0211", "`min` takes no keyword arguments"),
    ],
)
def test_expression_errors(expr, code, words):
    ((got, line, _, message),) = fails(f"network N(a=3) {{ input x: [1, 4, 4]; conv({expr}, 1) }}")
    assert (got, line) == (code, 1)
    assert words in message


def test_if_condition_must_be_boolean():
    ((code, line, column, message),) = fails("network N {\n  input x: [1, 4, 4]\n  if 1 { relu }\n}")
    assert (code, line, column) == ("E0313", 3, 6)
    assert message == "the condition of `if` must be `true` or `false`, got the integer 1"


def test_else_without_if():
    ((code, line, column, _),) = fails("network N {\n  input x: [1, 4, 4]\n  relu\n  else { relu }\n}")
    assert (code, line, column) == ("E0106", 4, 3)


# -- let -----------------------------------------------------------------------------------------------


def test_let_at_file_level_and_in_bodies():
    n = net("""
        let base = 4
        let widths = [base, base * 2]
        block B {
          let w = widths[1] + in.channels
          conv(w, 1)
        }
        network N {
          input x: [2, 3, 3]
          B
          let k = 3
          conv(base, k, pad=k // 2)
        }
    """)
    assert shape(n) == [4, 3, 3]
    assert n.totals["params"] == (10 * 2 + 10) + (4 * 10 * 9 + 4)


def test_defaults_see_file_level_names():
    n = net("""
        let base = 6
        fn twice(v) = 2 * v
        block B(out=twice(base)) { conv(out, 1) }
        network N(width=base + 1) {
          input x: [1, 4, 4]
          conv(width, 1)
          B
        }
    """)
    assert [node.shape[1] for node in n.nodes[1:]] == [7, 12]


def test_else_after_a_comment_line():
    n = net("network N {\n  input x: [1, 4, 4]\n  if false { relu }  # no\n  # still the same if\n  else { tanh }\n}")
    assert ops(n) == ["input", "tanh"]


def test_let_holds_for_the_rest_of_its_body_only():
    n = net("network N { input x: [1, 2, 2]; repeat 3 as i { let c = 2 * (i + 1); conv(c, 1) } }")
    assert [node.shape[1] for node in n.nodes[1:]] == [2, 4, 6]
    assert n.totals["params"] == (2 * 1 + 2) + (4 * 2 + 4) + (6 * 4 + 6)
    # bound inside an `if` body: gone after it, so `c` is a bare word again
    ((code, *_, message),) = fails("network N { input x: [1, 2, 2]; if true { let c = 2 }; conv(c, 1) }")
    assert code == "E0301" and "got the word `c`" in message


def test_let_symbol_and_function_values():
    n = net("let mode = linear\nnetwork N { input x: [1, 4, 4]; let s = [2, 3]; upsample(scale=s, mode=mode) }")
    assert shape(n) == [1, 8, 12]


@pytest.mark.parametrize(
    ("line", "code", "words"),
    [
        ("let y = x", "E0235", "not a tensor: `x` is a tensor"),
        ("let y = conv(8, 3)", "E0235", "`conv(…)` is a layer or block call"),
        ("let y = conv(8, 3) -> relu", "E0235", "`let` binds a number, list or symbol, not a tensor"),
        ("let relu = 3", "E0221", "the name `relu` shadows the layer `relu`"),
        ("let w = 2", "E0221", "the name `w` shadows the parameter `w`"),
        ("concat { let q = 1; relu; relu }", "E0237", "a `let` cannot be a branch of a merge"),
    ],
)
def test_let_misuse(line, code, words):
    ((got, row, _, message),) = fails(f"network N(w=1) {{\n  input x: [1, 4, 4]\n  {line}\n}}")
    assert (got, row) == (code, 3)
    assert words in message


def test_let_of_in_inside_a_block():
    ((code, line, column, _),) = fails("block B {\n  let y = in\n}\nnetwork N { input x: [1, 4, 4]; B }")
    assert (code, line, column) == ("E0235", 2, 11)


# -- fn ------------------------------------------------------------------------------------------------

FUNCTIONS = """
    let base = 16
    fn divisible(v, d=8) = max(d, (v + d // 2) // d * d)
    fn pad_for(k, dilation=1) = dilation * (k - 1) // 2
    fn scaled(m) = divisible(base * m)
"""


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("divisible(30)", 32),  # max(8, 34 // 8 * 8)
        ("divisible(3)", 8),  # max(8, 0)
        ("divisible(100, d=16)", 96),  # max(16, 108 // 16 * 16)
        ("divisible(d=4, v=10)", 12),
        ("pad_for(3) + 1", 2),
        ("pad_for(3, 2) + 1", 3),
        ("scaled(2)", 32),  # divisible(32) = max(8, 36 // 8 * 8)
        ("divisible(32 * 1.1)", 32),  # max(8, 39.2 // 8 * 8): `//` floors floats to integers
        ("divisible(16 * 1.4, 4)", 24),  # torchvision's _make_divisible(22.4, 4) = int(24.4) // 4 * 4
    ],
)
def test_fn_values(expr, value):
    n = net(FUNCTIONS + f"network N {{ input x: [1, 4, 4]; conv({expr}, 1) }}")
    assert shape(n)[0] == value


@pytest.mark.parametrize(
    ("source", "code", "line", "words"),
    [
        ("fn f(n) = f(n - 1)", "E0203", 1, "fn `f` calls itself"),
        ("fn a(n) = b(n) + 1\nfn b(n) = 2 * a(n)", "E0203", 2, "fn `a` calls itself through `b`"),
        ("fn max(a) = a", "E0202", 1, "`max` is a built-in function"),
        ("fn g(a) = a\nlet g = 2", "E0201", 2, "`g` is defined twice"),
    ],
)
def test_fn_definition_errors(source, code, line, words):
    ((got, row, _, message),) = fails(source + "\nnetwork N { input x: [1, 4, 4]; relu }")
    assert (got, row) == (code, line)
    assert words in message


@pytest.mark.parametrize(
    ("call", "code", "words"),
    [
        ("divisible()", "E0212", "`divisible` is missing its argument `v`"),
        ("divisible(1, 2, 3)", "E0214", "`divisible` takes at most 2 arguments, got 3"),
        ("divisible(1, e=2)", "E0211", "`divisible` has no parameter `e`"),
        ("divisible(1, v=2)", "E0213", "argument `v` is given twice"),
        ("divisble(30)", "E0311", "unknown function `divisble`"),
        ("divisible", "E0302", "`divisible` is a function"),
        ("pure(1)", "E0308", "`in` is only defined inside a block"),
    ],
)
def test_fn_call_errors(call, code, words):
    source = FUNCTIONS + "fn pure(x) = in.channels * x\n"
    diagnostics = fails(source + f"block B {{ conv({call}, 1) }}\nnetwork N {{ input x: [1, 4, 4]; B }}")
    assert diagnostics[0][0] == code
    assert words in diagnostics[0][3]


def test_functions_calling_each_other_exponentially_are_stopped():
    """f39 would evaluate f0 2^39 times; results are reused by arguments, and distinct calls are bounded."""
    chain = "".join(
        f"fn f{i}(x) = f{i - 1}((3 * x) % 1000003) - f{i - 1}((7 * x + 1) % 1000003)\n" for i in range(1, 40)
    )
    ((code, line, *_),) = fails("fn f0(x) = x\n" + chain + "network N { input x: [1, 4, 4]; conv(f39(1), 1) }")
    assert code == "E0606"
    # the same shape of program with repeated arguments is cheap: f29(1) evaluates 30 + 29 bodies at most
    chain = "".join(f"fn f{i}(x) = f{i - 1}(x) + f{i - 1}(x + 1) - f{i - 1}(x)\n" for i in range(1, 30))
    n = net("fn f0(x) = x\n" + chain + "network N { input x: [1, 4, 4]; conv(f29(1), 1) }")
    assert shape(n)[0] == 30  # f_i(x) = f_{i-1}(x + 1) = x + i


def test_error_inside_a_fn_body_names_the_call():
    with pytest.raises(cnndsl.CnnError) as caught:
        net("fn third(v) = v / 3\nnetwork N {\n  input x: [1, 4, 4]\n  conv(third(10), 1)\n}")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.span.line) == ("E0306", 1)
    assert [(n.span.line, n.message) for n in diagnostic.notes] == [(4, "in this call of `third`")]


# -- symbols, lists and loops -----------------------------------------------------------------------


def test_symbols_in_conditional_expressions():
    n = net("""
        block B(out, first) {
          residual(shortcut=project if first else identity) { conv(out, 3, pad=1, bias=false) -> bn }
        }
        network N { input x: [4, 8, 8]; B(8, true); B(8, false) }
    """)
    first = (8 * 4 * 9 + 16) + (8 * 4 + 16)  # body conv and bn, projection conv 1x1 and bn
    assert n.totals["params"] == first + (8 * 8 * 9 + 16)
    assert n.totals["state"] == 3 * 16


def test_list_indexing_with_loop_variables_and_comparisons():
    n = net("""
        let widths = [4, 8]
        let depths = [1, 2]
        network N {
          input x: [2, 16, 16]
          repeat len(widths) as i {
            repeat depths[i] as j { conv(widths[i], 3, stride=2 if j == 0 else 1, pad=1) }
          }
        }
    """)
    assert shape(n) == [8, 4, 4]
    assert n.totals["params"] == (4 * 2 * 9 + 4) + (8 * 4 * 9 + 8) + (8 * 8 * 9 + 8)


# -- tensor arguments (`upsample(like=…)` and any layer that declares one) ---------------------------


class _Probe(Layer):
    """A test layer that takes the spatial size of its `like=` tensor."""

    kind = "probe"
    arguments = (Arg("channels", integer(0), 0),)
    tensor_args = ("like",)

    def output_shape(self, shapes):
        return (*shapes[0][:2], *shapes[1][2:]) if len(shapes) > 1 else shapes[0]


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.setitem(LAYERS, "probe", _Probe)


def test_tensor_argument_is_an_extra_input(probe):
    n = net("""
        block Match(skip) { probe(like=skip) -> probe(like=in) }
        network N {
          input a: [3, 8, 8]
          input b: [1, 4, 6]
          small = a -> probe(like=b)
          a -> Match(small)
        }
    """)
    node = n.node("probe1")
    assert node.inputs == ("a", "b") and node.shape[1:] == (3, 4, 6)
    assert str(node.layer.attrs["like"]) == "b"
    assert n.node("Match1/probe1").inputs == ("a", "probe1")
    assert n.node("Match1/probe2").inputs == ("Match1/probe1", "a")
    assert n.node("Match1/probe1").shape[1:] == (3, 4, 6)
    assert shape(n) == [3, 8, 8]


@pytest.mark.parametrize(
    ("call", "code", "words"),
    [
        ("probe(like=smal)", "E0236", "`probe` argument `like` must name a tensor; `smal` is not one"),
        ("probe(like=3)", "E0236", "this is not one"),
        ("probe(like=small, like=small)", "E0213", "argument `like` is given twice"),
    ],
)
def test_tensor_argument_errors(probe, call, code, words):
    diagnostics = fails(f"network N {{\n  input a: [3, 8, 8]\n  small = maxpool(2)\n  a -> {call}\n}}")
    assert [(d[0], d[1]) for d in diagnostics] == [(code, 4)]
    assert words in diagnostics[0][3]


def test_upsample_like_a_bound_value_an_input_and_in():
    n = net("""
        block Back { maxpool(2) -> upsample(like=in) }
        network U {
          input image: [3, 37, 53]
          e1 = conv(8, 3, pad=1)
          down = maxpool(2) -> conv(8, 3, pad=1)
          up = upsample(like=e1, mode=linear)
          output out = concat { e1; up }
          output same = image -> maxpool(4) -> upsample(like=image) -> Back
        }
    """)
    up = n.node("upsample1")
    assert up.inputs == ("conv2", "conv1") and up.shape[1:] == (8, 37, 53)  # 37 // 2 = 18 rows, back to 37
    assert shape(n, "down") == [8, 18, 26] and shape(n, "out") == [16, 37, 53]
    assert n.node("upsample2").inputs == ("maxpool2", "image")
    assert n.node("Back1/upsample1").inputs == ("Back1/maxpool1", "upsample2")
    assert shape(n, "same") == [3, 37, 53]
    assert n.totals["params"] == (8 * 3 * 9 + 8) + (8 * 8 * 9 + 8)


def test_upsample_like_excludes_scale():
    ((code, line, column, message),) = fails("network N {\n  input x: [1, 8, 8]\n  upsample(scale=2, like=x)\n}")
    assert (code, line, column) == ("E0301", 3, 26)
    assert "`like` and `scale` exclude each other" in message


# -- the programs of shared/examples-part2 written with these constructs -------------------------------


def test_regnet_y_400mf_matches_torchvision():
    """Figures of torchvision's regnet_y_400mf (params, BN state, conv+linear MACs)."""
    expected = json.loads((DATA / "expected.json").read_text())["regnet_y_400mf.cnn"]
    n = cnndsl.load(str(DATA / "regnet_y_400mf.cnn"))
    assert (n.totals["params"], n.totals["state"], n.totals["macs"]) == (4_344_144, 27_152, 401_842_848)
    assert n.totals["params"] == expected["params"]
    assert shape(n, "logits") == [1000] and shape(n, "features") == [440, 7, 7]


def test_espcn_matches_pytorch():
    """ESPCN with pixel_shuffle; figures of a PyTorch model measured independently (expected.json)."""
    expected = json.loads((DATA / "expected.json").read_text())["espcn.cnn"]
    n = cnndsl.load(str(DATA / "espcn.cnn"))
    convs = (64 * 25 + 64) + (32 * 64 * 9 + 32) + (9 * 32 * 9 + 9)
    assert n.totals["params"] == expected["params"] == convs
    assert n.totals["macs"] == expected["macs"] == 64 * 64 * (64 * 25 + 32 * 64 * 9 + 9 * 32 * 9)
    assert shape(n, "high") == [1, 192, 192]
