"""`report --format json`: the text is the JSON report (json's own reader is the oracle), one node per line."""

from __future__ import annotations

import json

from conftest import ARCHITECTURES

import cnndsl
from cnndsl.report import json_report


def test_json_text_holds_the_report_one_node_a_line():
    network = cnndsl.load(str(ARCHITECTURES / "lenet5.cnn"))
    text = network.report("json")
    assert json.loads(text) == json.loads(json.dumps(json_report(network)))
    lines = text.splitlines()
    node_lines = [line for line in lines if line.startswith('    {"name": ')]
    assert len(node_lines) == len(json_report(network)["nodes"])
    nodes = json.loads(text)["nodes"]
    assert [json.loads(line.rstrip(",")) for line in node_lines] == nodes


def test_json_text_of_a_network_without_warnings():
    network = cnndsl.loads("network N { input x: [3, 8, 8]; conv(4, 3) }")
    data = json.loads(network.report("json"))
    assert data["warnings"] == [] and [n["op"] for n in data["nodes"]] == ["input", "conv"]


def test_a_path_object_names_the_file(tmp_path):
    """`cnndsl.load(Path(...))` works like a string path, JSON report included."""
    network = cnndsl.load(ARCHITECTURES / "lenet5.cnn")
    assert json.loads(network.report("json"))["network"]
