"""`cnndsl diff` (issue 14, docs/diff.md).

Oracles: the two networks' own `cnndsl report --format json` totals (a separately
tested path) for the deltas; torchvision's published parameter counts and
state_dict sizes; the architectures' stage layouts for which blocks are added;
and `compile --weights --partial` itself for the transferable list.
"""

from __future__ import annotations

import json

import pytest
from conftest import ARCHITECTURES

import cnndsl
from cnndsl import cli
from cnndsl.tools.diff import diff

RESNET18, RESNET34 = str(ARCHITECTURES / "resnet18.cnn"), str(ARCHITECTURES / "resnet34.cnn")
SMALL = ["--set", "size=32"]  # ResNet's head pools globally: the parameters do not depend on the size


def run_json(capsys, *argv) -> dict:
    assert cli.main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def check_totals(result: dict, report_a: dict, report_b: dict) -> None:
    assert set(result["totals"]) == set(report_a["totals"])
    for key, entry in result["totals"].items():
        a, b = report_a["totals"][key], report_b["totals"][key]
        assert (entry["a"], entry["b"], entry["delta"]) == (a, b, b - a), key


@pytest.fixture(scope="module")
def resnets():
    return cnndsl.load(RESNET18, overrides={"size": 32}), cnndsl.load(RESNET34, overrides={"size": 32})


def test_resnet18_to_resnet34(capsys, resnets):
    result = run_json(capsys, "diff", RESNET18, RESNET34, *SMALL)
    check_totals(result, run_json(capsys, "report", RESNET18, *SMALL), run_json(capsys, "report", RESNET34, *SMALL))
    assert result["totals"]["params"]["a"] == 11_689_512  # torchvision resnet18
    assert result["totals"]["params"]["b"] == 21_797_672  # torchvision resnet34
    assert (result["a"]["network"], result["b"]["network"]) == ("ResNet18", "ResNet34")
    changes = {node["name"]: node["change"] for node in result["nodes"]}
    assert changes["Stem1/conv1"] == changes["Head1/dense1"] == "same"
    assert changes["BasicStage1/BasicBlock3/conv1"] == "added"
    assert "removed" not in changes.values()
    # torchvision's state_dicts without the num_batches_tracked counters: resnet18 has 102 tensors, resnet34 182,
    # and every tensor of resnet18 has a namesake of the same shape in resnet34 (the extra blocks come after).
    assert result["tensors"] == {"a": 102, "b": 182}
    assert len(result["transferable"]) == 102
    assert result["transferable_params"] == 11_689_512 + 9_600  # the parameters and the BN statistics


def test_depth_collapses_to_the_blocks_that_were_added(resnets):
    result = diff(*resnets, depth=1)
    added = [node["name"] for node in result["nodes"] if node["change"] == "added"]
    # stages of [2, 2, 2, 2] basic blocks become [3, 4, 6, 3]
    assert added == [
        "BasicStage1/BasicBlock3",
        *(f"BasicStage2/BasicBlock{i}" for i in (3, 4)),
        *(f"BasicStage3/BasicBlock{i}" for i in (3, 4, 5, 6)),
        "BasicStage4/BasicBlock3",
    ]
    assert result["summary"]["added"] == 8
    block = next(node for node in result["nodes"] if node["name"] == "BasicStage1/BasicBlock1")
    assert block["change"] == "same" and block["b"]["op"] == "block"


def test_vgg16_to_vgg16_bn_pairs_the_moved_convolutions_by_structure(capsys):
    vgg16, vgg16_bn = str(ARCHITECTURES / "vgg16.cnn"), str(ARCHITECTURES / "vgg16_bn.cnn")
    result = run_json(capsys, "diff", vgg16, vgg16_bn)
    check_totals(result, run_json(capsys, "report", vgg16), run_json(capsys, "report", vgg16_bn))
    assert result["totals"]["params"] == {"a": 138_357_544, "b": 138_365_992, "delta": 8_448}  # torchvision
    assert result["totals"]["state"]["delta"] == 2 * 4_224  # running mean and variance of 4,224 channels
    assert result["totals"]["macs"]["delta"] == 0
    added = [node for node in result["nodes"] if node["change"] == "added"]
    assert len(added) == 13 and {node["b"]["op"] for node in added} == {"bn"}  # one per convolution
    assert result["summary"]["removed"] == 0
    convs = [node for node in result["nodes"] if node["b"] is not None and node["b"]["op"] == "conv"]
    assert len(convs) == 13
    for node in convs:  # paired although their names differ (Stage1/conv1 -> StageBN1/conv1)
        assert node["change"] == "changed" and node["differs"] == ["name"], node
        assert node["a"]["name"].replace("Stage", "StageBN", 1) == node["b"]["name"]
    # compile --partial loads by name, and no name is shared; 13 convolutions and 3 dense layers would
    # transfer under B's names (weight and bias each).
    assert result["transferable"] == []
    assert len(result["renamed"]) == 2 * (13 + 3)


def test_a_network_against_itself_at_other_settings(capsys, tmp_path):
    result = run_json(capsys, "diff", RESNET18, *SMALL, "--set-b", "classes=10")
    ten = run_json(capsys, "report", RESNET18, *SMALL, "--set", "classes=10")
    check_totals(result, run_json(capsys, "report", RESNET18, *SMALL), ten)
    changed = [node for node in result["nodes"] if node["change"] != "same"]
    assert [node["name"] for node in changed] == ["Head1/dense1"]
    assert changed[0]["differs"] == ["label", "shape", "params", "macs"]
    assert (changed[0]["a"]["params"], changed[0]["b"]["params"]) == (512 * 1000 + 1000, 512 * 10 + 10)
    assert result["totals"]["params"]["delta"] == (512 * 10 + 10) - (512 * 1000 + 1000)
    assert sorted(set(result["transferable"]) ^ set(resnet18_tensors())) == [
        "Head1.dense1.bias",
        "Head1.dense1.weight",
    ]


def resnet18_tensors():
    from cnndsl.tools.diff import tensors

    return tensors(cnndsl.load(RESNET18, overrides={"size": 32}))


TINY = """block Trunk {
  conv(8, 3, pad=1, bias=false) -> bn -> relu
  conv(8, 3, pad=1)
}
network Tiny(classes=4) {
  input x: [3, 8, 8]
  Trunk
  gap -> flatten -> dense(classes)
}
"""


def test_the_transferable_list_loads_with_compile_partial(tmp_path, capsys):
    a = tmp_path / "a.cnn"
    a.write_text(TINY)
    b = tmp_path / "b.cnn"
    b.write_text(TINY.replace("conv(8, 3, pad=1)\n", "conv(8, 3, pad=1) -> relu\n  conv(16, 1)\n"))
    result = run_json(capsys, "diff", str(a), str(b), "--set-b", "classes=6")
    assert result["transferable"] == [
        f"Trunk1.{k}" for k in ("conv1.weight", *_bn("bn1"), "conv2.weight", "conv2.bias")
    ]
    assert [n["name"] for n in result["nodes"] if n["change"] == "added"] == ["Trunk1/relu2", "Trunk1/conv3"]
    _load_partial(tmp_path, a, b, result["transferable"], ["--set-b", "classes=6"])


def _bn(name: str) -> list[str]:
    return [f"{name}.{role}" for role in ("weight", "bias", "running_mean", "running_var")]


def _load_partial(tmp_path, a, b, keys: list, settings: list) -> None:
    """Export A's weights, keep the transferable ones, and load them into B with compile --partial."""
    from safetensors.numpy import load_file, save_file

    exported = tmp_path / "a.safetensors"
    assert cli.main(["export", str(a), "--to", "safetensors", "-o", str(exported)]) == 0
    state = load_file(str(exported))
    kept = tmp_path / "kept.safetensors"
    save_file({key: state[key] for key in keys}, str(kept))
    b_settings = [s.replace("--set-b", "--set") for s in settings]
    out = tmp_path / "b.onnx"
    argv = ["compile", str(b), *b_settings, "--weights", str(kept), "--partial", "-o", str(out)]
    assert cli.main(argv) == 0
    assert out.exists()
    assert cli.main(["compile", str(b), *b_settings, "--weights", str(exported), "--partial", "-o", str(out)]) == 1


@pytest.mark.slow
def test_resnet18_weights_load_into_resnet34(tmp_path, capsys):
    result = run_json(capsys, "diff", RESNET18, RESNET34, *SMALL)
    _load_partial_resnet(tmp_path, result["transferable"])


def _load_partial_resnet(tmp_path, keys: list) -> None:
    from safetensors.numpy import load_file, save_file

    exported = tmp_path / "r18.safetensors"
    assert cli.main(["export", RESNET18, *SMALL, "--to", "safetensors", "-o", str(exported)]) == 0
    state = load_file(str(exported))
    assert sorted(state) == sorted(keys)  # every tensor of resnet18 transfers
    kept = tmp_path / "kept.safetensors"
    save_file({key: state[key] for key in keys}, str(kept))
    out = tmp_path / "r34.onnx"
    assert cli.main(["compile", RESNET34, *SMALL, "--weights", str(kept), "--partial", "-o", str(out)]) == 0


def test_table_marks_each_change(capsys, tmp_path):
    a = tmp_path / "a.cnn"
    a.write_text(TINY)
    assert cli.main(["diff", str(a), "--set-b", "classes=6", "--depth", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"--- Tiny  ({a})", f"+++ Tiny  ({a})"]
    (head,) = [line for line in lines if "dense1" in line]
    assert head.startswith("~  dense1") and "[N, 4] -> [N, 6]" in head and "36 -> 54" in head  # 8*4+4, 8*6+6
    assert "0 added, 0 removed, 1 changed, 4 same" in lines  # x, Trunk1, gap1, flatten1
    # conv 8*3*9 = 216, bn 2*8 = 16, conv 8*8*9 + 8 = 584, dense 36 or 54
    assert any(line.split() == ["params", "852", "870", "+18"] for line in lines)


def test_errors_are_located_and_exit_nonzero(tmp_path, capsys):
    a = tmp_path / "a.cnn"
    a.write_text(TINY)
    assert cli.main(["diff", str(a), "--set-b", "clases=6", "--color", "never"]) == 1
    assert "has no parameter `clases`" in capsys.readouterr().err
    assert cli.main(["diff", str(a), str(tmp_path / "missing.cnn")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_diff_imports_neither_onnx_nor_torch(tmp_path):
    import subprocess
    import sys

    a = tmp_path / "a.cnn"
    a.write_text(TINY)
    code = (
        "import sys; from cnndsl import cli; "
        f"assert cli.main(['diff', {str(a)!r}, '--set-b', 'classes=6', '-o', {str(tmp_path / 'd.txt')!r}]) == 0; "
        "print(sorted(m for m in ('onnx', 'onnxruntime', 'torch', 'networkx', 'graphviz') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "1 changed" in (tmp_path / "d.txt").read_text()


def test_the_example_in_the_docs_is_real_output(capsys, at_repo_root):
    from conftest import ROOT

    argv = ["diff", "architectures/resnet18.cnn", "--set-b", "classes=10", "--depth", "0"]
    assert cli.main(argv) == 0
    shown = capsys.readouterr().out
    assert f"`cnndsl {' '.join(argv)}`:\n\n```\n{shown}```" in (ROOT / "docs" / "diff.md").read_text()


def test_networks_too_large_to_compile_still_compare(tmp_path, capsys):
    # 192 x 10^9 weights (768 GB): `compile` refuses (E0705); `diff` lists the weights without drawing them
    path = tmp_path / "big.cnn"
    path.write_text("network N(n=1000000000) {\n  input x: [3, 8, 8]\n  flatten\n  dense(n)\n}\n")
    result = run_json(capsys, "diff", str(path), "--set-b", "n=10")
    assert result["totals"]["params"]["a"] == 192 * 10**9 + 10**9  # 192 inputs * n outputs + n biases
    assert result["transferable"] == [] and result["tensors"] == {"a": 2, "b": 2}
