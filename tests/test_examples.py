"""The shared examples: figures from shared/examples/expected.json, measured independently."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ARCHITECTURES, EXPECTED_JSON, ROOT, SHARED

import cnndsl

EXPECTED_FILE = SHARED / "examples" / "expected.json"
LOCAL_EXPECTED = ROOT / "tests" / "data" / "expected.json"


def _expected() -> dict:
    return {k: v for k, v in json.loads(EXPECTED_JSON.read_text()).items() if not k.startswith("_")}


EXPECTED = _expected()


def test_local_copy_matches_shared():
    if not EXPECTED_FILE.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert json.loads(LOCAL_EXPECTED.read_text()) == json.loads(EXPECTED_FILE.read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_examples_are_copied_unchanged(name):
    shared = SHARED / "examples" / name
    if not shared.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert (ARCHITECTURES / name).read_bytes() == shared.read_bytes()


def _dims(shape):
    assert shape[0] == "N"
    return list(shape[1:])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_figures(name):
    want = EXPECTED[name]
    net = cnndsl.load(str(ARCHITECTURES / name))
    assert net.name == want["network"]
    for key in ("params", "state", "macs", "trainable"):
        if key in want:
            assert net.totals[key] == want[key], key
    assert {o["name"]: _dims(o["shape"]) for o in net.outputs} == want["outputs"]
    for value, figures in want.get("values", {}).items():
        got = net.values[value]
        assert _dims(got["shape"]) == figures["shape"]
        if "rf" in figures:
            size, stride, padding = figures["rf"]
            assert got["rf"] == {"size": [size] * 2, "stride": [stride] * 2, "padding": [padding] * 2}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_node_figures_sum_to_totals(name):
    net = cnndsl.load(str(ARCHITECTURES / name))
    for key in ("params", "trainable", "state", "macs", "flops", "activation_bytes"):
        assert sum(getattr(n, key) for n in net.nodes) == net.totals[key], key
    for depth in (0, 1):
        rows = net.rows(depth)
        for key in ("params", "state", "macs"):
            assert sum(getattr(r, key) for r in rows) == net.totals[key], (depth, key)


def test_json_report_contract_from_the_command_line():
    """REPORT.md: one JSON document on stdout with the stable keys."""
    path = ARCHITECTURES / "resnet50.cnn"
    done = subprocess.run(
        [sys.executable, "-m", "cnndsl", "report", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout)
    assert set(report["totals"]) >= {
        "params",
        "trainable",
        "frozen",
        "state",
        "macs",
        "flops",
        "activation_bytes",
        "peak_activation_bytes",
    }
    assert report["inputs"] == [{"name": "image", "shape": ["N", 3, 224, 224], "dtype": "float32"}]
    assert report["outputs"] == [{"name": "logits", "shape": ["N", 1000], "dtype": "float32"}]
    first_conv = next(n for n in report["nodes"] if n["op"] == "conv")
    assert first_conv["name"] == "conv1"
    assert first_conv["source"] == f"{path}:19:3"
    assert first_conv["params"] == 64 * 3 * 7 * 7  # no bias
    assert first_conv["macs"] == 64 * 112 * 112 * 3 * 7 * 7
    assert first_conv["activation_bytes"] == 64 * 112 * 112 * 4
    assert first_conv["rf"] == {"size": [7, 7], "stride": [2, 2], "padding": [3, 3]}
    assert report["values"]["features"]["rf"]["size"] == [427, 427]
    assert report["values"]["logits"]["rf"] is None
    assert all(
        set(n)
        >= {
            "name",
            "op",
            "source",
            "inputs",
            "shape",
            "params",
            "trainable",
            "state",
            "macs",
            "flops",
            "activation_bytes",
            "rf",
        }
        for n in report["nodes"]
    )
