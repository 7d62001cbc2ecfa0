"""Language features of shared/LANGUAGE.md, each checked with hand-derived figures."""

from __future__ import annotations

import textwrap

import pytest
from conftest import ROOT

import cnndsl


def net(text: str, **kwargs):
    return cnndsl.loads(textwrap.dedent(text), **kwargs)


def shape(network, value="output"):
    return network.values[value]["shape"][1:]


def test_chains_across_lines_semicolons_and_comments():
    n = net("""
        # a comment
        network N(classes=10) {   # trailing comment
          input x: [3, 32, 32]; conv(8, 3,
                                     pad=1) ->   # continues
            relu ->

            maxpool(2)
          flatten; dense(classes)
        }
    """)
    assert shape(n) == [10]
    assert n.totals["params"] == (8 * 3 * 9 + 8) + (8 * 16 * 16 * 10 + 10)


def test_block_parameters_defaults_keywords_and_in_channels():
    n = net("""
        block Widen(factor, k=3) {
          conv(in.channels * factor, k, pad=k // 2) -> relu
        }
        network N {
          input x: [4, 10, 10]
          Widen(2)
          Widen(factor=3, k=5)
        }
    """)
    assert shape(n) == [24, 10, 10]
    assert n.totals["params"] == (8 * 4 * 9 + 8) + (24 * 8 * 25 + 24)
    names = [node.name for node in n.nodes]
    assert names == ["x", "Widen1/conv1", "Widen1/relu1", "Widen2/conv1", "Widen2/relu1"]


def test_blocks_without_parentheses_and_nested_scopes():
    n = net("""
        block Pair { conv(4, 1) -> relu }
        block Outer { Pair; Pair }
        network N { input x: [2, 5, 5]; Outer }
    """)
    assert [node.name for node in n.nodes][1:] == [
        "Outer1/Pair1/conv1",
        "Outer1/Pair1/relu1",
        "Outer1/Pair2/conv1",
        "Outer1/Pair2/relu1",
    ]
    assert n.graph.blocks[("Outer1", "Pair2")].block == "Pair"


def test_repeat_with_loop_variable_lists_and_indexing():
    n = net("""
        network N(widths=[8, 16, 32]) {
          input x: [3, 64, 64]
          repeat 3 as i { conv(widths[i], 3, stride=2, pad=1) -> relu }
          repeat 0 { conv(1, 1) }
        }
    """)
    assert shape(n) == [32, 8, 8]
    assert [node.name for node in n.nodes if node.op == "conv"] == ["conv1", "conv2", "conv3"]


def test_expressions():
    n = net("""
        network N(a=7) {
          input x: [1, 8, 8]
          conv((a + 1) * 2 - a // 2 % 2 - 6 / 3, 1)
        }
    """)
    assert shape(n)[0] == (7 + 1) * 2 - (7 // 2) % 2 - 2


def test_multiple_inputs_and_outputs():
    n = net("""
        network Two {
          input rgb: [3, 16, 16]
          input depth: [1, 16, 16]
          a = rgb -> conv(4, 3, pad=1)
          b = depth -> conv(4, 3, pad=1)
          output fused = concat { a; b }
          output summed = add { a; b }
        }
    """)
    assert [i["name"] for i in n.inputs] == ["rgb", "depth"]
    assert {o["name"]: o["shape"] for o in n.outputs} == {"fused": ["N", 8, 16, 16], "summed": ["N", 4, 16, 16]}


def test_implicit_single_output_is_named_output():
    n = net("network N { input x: [1, 4, 4]; relu }")
    assert [o["name"] for o in n.outputs] == ["output"]


def test_merges_residual_and_projection():
    n = net("""
        network N {
          input x: [16, 32, 32]
          residual(shortcut=project) {
            conv(32, 3, stride=2, pad=1, bias=false) -> bn -> relu
            conv(32, 3, pad=1, bias=false) -> bn
          }
          residual { conv(32, 3, pad=1) }
          mul {
            identity
            gap -> conv(8, 1) -> relu -> conv(32, 1) -> sigmoid
          }
        }
    """)
    assert shape(n) == [32, 16, 16]
    projection = n.node("shortcut_conv1")
    assert projection.layer.attrs["strides"] == (2, 2)
    assert projection.params == 16 * 32  # 1x1, no bias
    body = 32 * 16 * 9 + 64 + 32 * 32 * 9 + 64
    se = (8 * 32 + 8) + (32 * 8 + 32)
    assert n.totals["params"] == body + 16 * 32 + 64 + (32 * 32 * 9 + 32) + se
    assert n.totals["state"] == 3 * 64


def test_frozen_and_fixed_weights():
    n = net("""
        network N {
          input x: [1, 8, 8]
          frozen { conv(4, 3) -> bn }
          conv(2, 3, weights=laplacian, bias=false)
          conv(2, 1, weights=[[1]], trainable=true)
          conv(3, 1)
        }
    """)
    frozen = 4 * 9 + 4 + 8 + 2 * 4 * 9
    assert n.totals["frozen"] == frozen
    assert n.totals["trainable"] == (2 * 2 + 2) + (3 * 2 + 3)


def test_grouped_depthwise_and_transposed_costs():
    n = net("""
        network N {
          input x: [8, 10, 10]
          conv(16, 3, pad=1, groups=4)
          dwconv(3, stride=2, pad=1, mult=2)
          convT(4, 4, stride=2, pad=1, groups=2)
          channel_shuffle(2)
        }
    """)
    grouped, depthwise, transposed = (node for node in n.nodes if node.op in ("conv", "dwconv", "convT"))
    assert grouped.params == 16 * (8 // 4) * 9 + 16
    assert grouped.macs == 16 * 10 * 10 * 2 * 9
    assert depthwise.shape == ("N", 32, 5, 5)
    assert depthwise.params == 32 * 1 * 9 + 32
    assert depthwise.macs == 32 * 5 * 5 * 9
    assert transposed.shape == ("N", 4, 10, 10)
    assert transposed.params == 32 * (4 // 2) * 16 + 4
    # input elements x output channels per group x kernel area
    assert transposed.macs == 32 * 5 * 5 * 2 * 16


def test_flop_cost_model_on_a_small_network():
    n = net("""
        network N {
          input x: [2, 6, 6]
          conv(3, 3, bias=false) -> relu -> maxpool(2) -> flatten -> dense(5)
        }
    """)
    conv, relu, pool, _, dense = (node for node in n.nodes if node.op != "input")
    assert conv.flops == 2 * (3 * 4 * 4 * 2 * 9) - 3 * 4 * 4  # no bias: one add fewer per output
    assert relu.flops == 3 * 4 * 4
    assert pool.flops == 3 * 2 * 2 * (4 - 1)
    assert dense.flops == 2 * 12 * 5


def test_peak_memory_on_a_diamond():
    # x (4x4x4=64 floats) -> a (64) and b (64) -> concat (128)
    n = net("""
        network N {
          input x: [4, 4, 4]
          concat { relu; sigmoid }
        }
    """)
    assert n.totals["activation_bytes"] == (64 + 64 + 64 + 128) * 4
    # while concat runs, x (kept as input), relu, sigmoid and the concat output are alive
    assert n.totals["peak_activation_bytes"] == (64 + 64 + 64 + 128) * 4
    chain = net("network N { input x: [4, 4, 4]; relu -> relu -> relu }")
    assert chain.totals["peak_activation_bytes"] == 64 * 4 * 3  # input + one in flight + the next


def test_pad_same_and_symbols():
    n = net("""
        network N {
          input x: [3, 15, 15]
          conv(4, 4, stride=2, pad=same)
          pad(1, mode=reflect)
          upsample(scale=2, mode=linear)
        }
    """)
    assert shape(n) == [4, 20, 20]


def test_several_networks_and_overrides():
    text = "network A(c=2) { input x: [1, 4, 4]; conv(c, 1) }\nnetwork B { input x: [1, 4, 4]; relu }\n"
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.loads(text)
    assert caught.value.code == "E0228"
    assert shape(cnndsl.loads(text, network="A", overrides={"c": 5}))[0] == 5
    assert cnndsl.loads(text, network="B").name == "B"


def test_imports_relative_and_bundled(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.cnn").write_text("block Unit(c) { conv(c, 1) -> relu }\n")
    main = tmp_path / "main.cnn"
    main.write_text('import "lib/blocks.cnn"\nnetwork M { input x: [3, 8, 8]; Unit(5) }\n')
    assert shape(cnndsl.load(str(main)))[0] == 5


def test_every_node_points_to_its_source():
    path = ROOT / "architectures" / "googlenet.cnn"
    n = cnndsl.load(str(path))
    lines = path.read_text().splitlines()
    for node in n.nodes:
        line = lines[node.span.line - 1]
        called = line[node.span.column - 1 :]
        assert called.startswith(node.op) or node.op in ("input", "concat"), (node.name, called)


def test_report_formats_and_depth():
    n = cnndsl.load(str(ROOT / "architectures" / "resnet50.cnn"))
    stages = n.rows(depth=0)
    assert [r.name for r in stages if r.op == "block"] == ["Stage1", "Stage2", "Stage3", "Stage4"]
    assert [r.shape[2] for r in stages if r.op == "block"] == [56, 28, 14, 7]
    assert "Stage4" in n.report("markdown", depth=0)
    csv_text = n.report("csv", depth=1)
    assert csv_text.splitlines()[0].startswith("name,op,label,shape,params")
    assert len(csv_text.splitlines()) == 1 + len(n.rows(depth=1))


def test_graph_as_networkx_is_acyclic_and_matches_inputs():
    import networkx

    n = cnndsl.load(str(ROOT / "architectures" / "googlenet.cnn"))
    g = n.graph.nx
    assert networkx.is_directed_acyclic_graph(g)
    assert g.number_of_nodes() == len(n.nodes)
    for node in n.nodes:
        assert set(g.predecessors(node.name)) == set(node.inputs)
        assert g.nodes[node.name]["node"] is node


def test_tensor_arguments_give_blocks_a_second_input():
    """U-Net decoders: `Up(64, e1)` passes the skip tensor `e1` into the block."""
    n = net("""
        block Up(channels, skip) {
          concat {
            convT(channels, 2, stride=2)
            skip
          }
          conv(channels, 3, pad=1) -> relu
        }
        network U {
          input x: [3, 32, 32]
          e1 = conv(16, 3, pad=1)
          e2 = maxpool(2) -> conv(32, 3, pad=1)
          Up(16, e1)
        }
    """)
    assert shape(n) == [16, 32, 32]
    concat = n.node("Up1/concat1")
    assert concat.inputs == ("Up1/convT1", "conv1")
    assert concat.shape == ("N", 32, 32, 32)


def test_a_tensor_argument_is_not_a_number():
    with pytest.raises(cnndsl.CnnError) as caught:
        net("""
            block B(c) { conv(c, 1) }
            network N { input x: [3, 8, 8]; y = relu; B(y) }
        """)
    assert caught.value.code == "E0304"


def test_huge_fixed_kernels_answer_at_once():
    """Found by the fuzzer: a box kernel of 10^9 x 10^9 taps must not be built."""
    import time

    for weights in ("box", "gaussian(1.0)", "sobel_x"):
        begin = time.perf_counter()
        with pytest.raises(cnndsl.CnnError) as caught:
            net(f"network N {{ input x: [1, 8, 8]; conv(1, 1000000000, weights={weights}) }}")
        assert time.perf_counter() - begin < 5
        assert caught.value.code in ("E0301", "E0400")


def test_a_parameter_without_value_is_reported_once():
    with pytest.raises(cnndsl.CnnError) as caught:
        net("network N(a) { input x: [a, 8, 8]; conv(a, 3) }")
    assert [d.code for d in caught.value.diagnostics] == ["E0231"]


def test_unknown_kernel_name_is_an_unknown_word():
    with pytest.raises(cnndsl.CnnError) as caught:
        net("network N { input x: [1, 8, 8]; conv(1, 3, weights=sobel_z) }")
    assert caught.value.code == "E0310"
    assert caught.value.diagnostics[0].hint == "did you mean `sobel_y`?"
