"""Benchmark `cnndsl sweep`: the analysis-only sweep of 1,000 ResNet-18 variants (docs/sweep.md).

    python benchmarks/bench_sweep.py [--classes 10] [--sizes 100] [--jobs 2]

Whole-process wall time of `cnndsl sweep architectures/resnet18.cnn --grid classes=...
--grid size=...` (classes x sizes variants), and the per-variant cost. Not a test:
nothing is asserted; the numbers go to docs/sweep.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESNET18 = ROOT / "architectures" / "resnet18.cnn"


def sweep(classes: int, sizes: int, jobs: int) -> tuple[float, int]:
    grid = [
        "--grid",
        "classes=" + ",".join(str(10 + c) for c in range(classes)),
        "--grid",
        "size=" + ",".join(str(64 + 8 * s) for s in range(sizes)),
    ]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "rows.csv"
        command = [sys.executable, "-m", "cnndsl", "sweep", str(RESNET18), *grid, "--jobs", str(jobs)]
        started = time.perf_counter()
        subprocess.run([*command, "--format", "csv", "-o", str(out), "--progress", "never"], check=True)
        seconds = time.perf_counter() - started
        rows = len(out.read_text().splitlines()) - 1
    return seconds, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--sizes", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    seconds, rows = sweep(args.classes, args.sizes, args.jobs)
    print("| variants | jobs | wall time (s) | per variant (ms) | per variant x jobs (ms) |")
    print("|---:|---:|---:|---:|---:|")
    per = seconds / rows * 1e3
    print(f"| {rows:,} | {args.jobs} | {seconds:.1f} | {per:.1f} | {per * args.jobs:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
