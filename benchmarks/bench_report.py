"""Benchmark `cnndsl report`: whole-process latency beside the tools users would
run instead, and scaling on synthetic residual networks of 1,000 to 10,000 blocks.

    python benchmarks/bench_report.py [--runs 7] [--blocks 1000,2000,5000,10000]

Prints a Markdown section for docs/benchmarks.md. The comparisons need
`pip install -e '.[bench]' torchinfo fvcore`; missing tools are reported as such.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESNET50 = ROOT / "architectures" / "resnet50.cnn"

# the same ResNet-50 in plain torch.nn, shared with bench_compile.py
TORCH_RESNET50 = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
import torch
from torch_resnet50 import resnet50
"""

COMPETITORS = {
    "torchinfo `summary` (PyTorch model)": TORCH_RESNET50
    + """
from torchinfo import summary
summary(resnet50().eval(), input_size=(1, 3, 224, 224), depth=9, verbose=1,
        col_names=("output_size", "num_params", "mult_adds"))
""",
    "fvcore `FlopCountAnalysis` + `flop_count_table`": TORCH_RESNET50
    + """
from fvcore.nn import FlopCountAnalysis, flop_count_table
model = resnet50().eval()
print(flop_count_table(FlopCountAnalysis(model, torch.zeros(1, 3, 224, 224))))
""",
}


def timed(command: list[str], runs: int, env=None) -> tuple[float, float] | None:
    """Median and minimum wall time of a whole process, or None if it fails."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        samples.append(time.perf_counter() - start)
        if done.returncode:
            sys.stderr.write(done.stderr[-600:])
            return None
    return statistics.median(samples), min(samples)


def synthetic(blocks: int) -> str:
    return f"""# {blocks} residual blocks of two 3x3 convolutions
block Res(c) {{
  residual {{
    conv(c, 3, pad=1, bias=false) -> bn -> relu
    conv(c, 3, pad=1, bias=false) -> bn
  }}
  relu
}}
network Deep{blocks} {{
  input x: [16, 32, 32]
  repeat {blocks} {{ Res(16) }}
  gap -> flatten -> dense(10)
}}
"""


def cnndsl_command(*args) -> list[str]:
    return [sys.executable, "-m", "cnndsl", *args]


def report_latency(runs: int) -> list[str]:
    lines = [
        "### `cnndsl report architectures/resnet50.cnn`, whole process",
        "",
        "| tool | median (s) | best (s) | ratio to cnndsl |",
        "|---|---:|---:|---:|",
    ]
    ours = timed(cnndsl_command("report", str(RESNET50)), runs)
    lines.append(f"| cnndsl report (table) | {ours[0]:.3f} | {ours[1]:.3f} | 1.0 |")
    json_run = timed(cnndsl_command("report", str(RESNET50), "--format", "json"), runs)
    lines.append(
        f"| cnndsl report --format json | {json_run[0]:.3f} | {json_run[1]:.3f} | {json_run[0] / ours[0]:.2f} |"
    )
    for name, script in COMPETITORS.items():
        result = timed([sys.executable, "-c", script], max(3, runs // 2))
        if result is None:
            lines.append(f"| {name} | not installed or failed | | |")
        else:
            lines.append(f"| {name} | {result[0]:.3f} | {result[1]:.3f} | {result[0] / ours[0]:.1f}x slower |")
    return lines


def scaling(block_counts: list[int], runs: int) -> list[str]:
    lines = [
        "### Scaling: synthetic residual networks (7 nodes per block)",
        "",
        "| blocks | nodes | median (s) | s per 1,000 nodes |",
        "|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        per_node = []
        for blocks in block_counts:
            path = Path(folder) / f"deep{blocks}.cnn"
            path.write_text(synthetic(blocks))
            median, _ = timed(cnndsl_command("report", str(path), "--format", "json"), runs)
            nodes = 7 * blocks + 5
            per_node.append(median / nodes * 1000)
            lines.append(f"| {blocks:,} | {nodes:,} | {median:.2f} | {per_node[-1]:.3f} |")
    growth = per_node[-1] / per_node[0]
    lines += [
        "",
        f"Time per node at {block_counts[-1]:,} blocks is {growth:.2f}x the time per node at "
        f"{block_counts[0]:,} blocks (1.0 is perfectly linear; start-up cost is included in both).",
    ]
    return lines


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--blocks", default="1000,2000,5000,10000")
    args = parser.parse_args()
    blocks = [int(b) for b in args.blocks.split(",")]
    out = [
        "## Report",
        "",
        f"Machine: {machine()}.",
        "",
        *report_latency(args.runs),
        "",
        *scaling(blocks, max(1, args.runs // 3)),
    ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
