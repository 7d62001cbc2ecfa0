"""`cnndsl sweep` (docs/sweep.md): rows equal separate `report --set` runs, locally and on Ray."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, interruptible

from cnndsl.cli import main
from cnndsl.errors import UsageError
from cnndsl.tools import sweep

LENET = str(ROOT / "architectures" / "lenet5.cnn")
RESNET18 = str(ROOT / "architectures" / "resnet18.cnn")


def _sweep_json(capsys, *args) -> dict:
    assert main(["sweep", *args, "--format", "json", "--progress", "never"]) == 0
    return json.loads(capsys.readouterr().out)


def _report(capsys, source, *settings) -> dict:
    assert main(["report", source, "--format", "json", *[a for s in settings for a in ("--set", s)]]) == 0
    return json.loads(capsys.readouterr().out)


def test_rows_equal_separate_report_runs(capsys):
    result = _sweep_json(capsys, RESNET18, "--grid", "classes=10,100", "--grid", "size=64,96,128", "--jobs", "2")
    rows = result["rows"]
    assert [r["settings"] for r in rows] == [
        {"classes": c, "size": s} for c in ("10", "100") for s in ("64", "96", "128")
    ]
    for row in rows:
        report = _report(capsys, RESNET18, *(f"{k}={v}" for k, v in row["settings"].items()))
        totals = report["totals"]
        assert (row["params"], row["macs"], row["flops"]) == (totals["params"], totals["macs"], totals["flops"])
        assert row["peak_memory"] == totals["peak_activation_bytes"]
        assert row["outputs"] == {o["name"]: o["shape"] for o in report["outputs"]}
        assert row["error"] is None and row["latency_ms"] is None


def test_a_failing_variant_gets_its_error_and_the_sweep_goes_on(capsys):
    assert (
        main(["sweep", RESNET18, "--grid", "size=0,64", "--jobs", "1", "--format", "csv", "--progress", "never"]) == 0
    )
    out, err = capsys.readouterr()
    header, bad, good = csv.DictReader(io.StringIO(out)).fieldnames, *csv.DictReader(io.StringIO(out))
    assert header == ["size", "params", "MACs", "FLOPs", "peak_memory", "outputs", "latency_ms", "error"]
    assert bad["size"] == "0" and bad["params"] == ""
    assert bad["error"].startswith(f"{RESNET18}:8:16: an input shape is") and bad["error"].endswith("[E0301]")
    assert good["size"] == "64" and good["error"] == "" and int(good["params"]) > 0
    assert good["outputs"] == "logits=[N,1000]"
    assert "1 of 2 variants failed" in err


def test_the_pool_and_one_process_agree(capsys):
    args = (RESNET18, "--grid", "classes=2,3,4,5", "--grid", "size=32,64")
    assert _sweep_json(capsys, *args, "--jobs", "2") == _sweep_json(capsys, *args, "--jobs", "1")


def test_fixed_settings_apply_to_every_variant(capsys):
    rows = _sweep_json(capsys, RESNET18, "--set", "size=64", "--grid", "classes=7,8", "--jobs", "1")["rows"]
    assert [r["outputs"] for r in rows] == [{"logits": ["N", 7]}, {"logits": ["N", 8]}]
    assert rows[0]["macs"] == _report(capsys, RESNET18, "size=64", "classes=7")["totals"]["macs"]


@pytest.mark.parametrize(
    "specs, message",
    [
        ([], "at least one --grid"),
        (["classes"], "NAME=V1,V2"),
        (["classes=1,,2"], "each one non-empty"),
        (["a=1", "a=2"], "twice"),
        (["a=" + ",".join(["1"] * 400), "b=" + ",".join(["1"] * 400)], "the limit is"),
    ],
)
def test_bad_grids_are_clear_errors(specs, message):
    with pytest.raises(UsageError, match=message):
        sweep.parse_grid(specs)


def test_grid_values_keep_their_brackets():
    assert sweep.parse_grid(["w=[1, 2],[3,4]", "k=3"]) == {"w": ["[1, 2]", "[3,4]"], "k": ["3"]}
    assert sweep.variants({"a": ["1", "2"], "b": ["x", "y"]}) == [
        ["a=1", "b=x"],
        ["a=1", "b=y"],
        ["a=2", "b=x"],
        ["a=2", "b=y"],
    ]


def test_pareto_front_by_brute_force():
    points = [(3, 1), (1, 5), (2, 2), (2, 6), (4, 4), (1, 7)]
    dominated = {i for i, p in enumerate(points) for q in points if q != p and q[0] <= p[0] and q[1] <= p[1]}
    assert set(sweep.pareto(points)) == set(range(len(points))) - dominated


def test_bench_measures_a_latency(capsys):
    pytest.importorskip("onnxruntime")
    rows = _sweep_json(capsys, LENET, "--grid", "classes=10", "--bench", "3", "--jobs", "1")["rows"]
    assert rows[0]["latency_ms"] > 0


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "front.png"
    args = [RESNET18, "--grid", "classes=10", "--grid", "size=32,64,96", "--jobs", "1", "--plot", str(out)]
    assert main(["sweep", *args, "--progress", "never"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ray_matches_the_local_pool(capsys):
    ray = pytest.importorskip("ray")
    from cnndsl.tools.sweep_ray import run_ray

    grid = sweep.parse_grid(["classes=10,20", "size=32,64"])
    tasks = [(RESNET18, None, settings, 0) for settings in sweep.variants(grid)]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rows = run_ray(tasks, None, None)
    finally:
        ray.shutdown()
    assert rows == sweep.run_local(tasks, 2, None)


def test_ctrl_c_stops_the_workers_and_writes_nothing(tmp_path):
    out = tmp_path / "rows.json"
    command = [
        sys.executable,
        "-m",
        "cnndsl",
        "sweep",
        RESNET18,
        "--grid",
        "classes=" + ",".join(map(str, range(1, 400))),
    ]
    command += ["--jobs", "2", "--format", "json", "-o", str(out), "--progress", "always"]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, start_new_session=True, text=True, preexec_fn=interruptible
    )
    seen = ""
    while "sweep [" not in seen:  # the progress bar: the pool is running
        char = process.stderr.read(1)
        assert char, f"the sweep ended before it started: {seen}"
        seen += char
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    with pytest.raises(ProcessLookupError):  # no worker left behind
        for _ in range(50):
            os.killpg(process.pid, 0)
            time.sleep(0.1)
    assert os.listdir(tmp_path) == []
