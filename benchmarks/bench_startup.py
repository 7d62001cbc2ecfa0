"""Start-up cost of the parser tables: whole-process `cnndsl check architectures/lenet5.cnn`.

    python benchmarks/bench_startup.py [--runs 15]

Compares the tables loaded from the private per-user cache (the default; see
docs/benchmarks.md, "Start-up") with tables built afresh in every process
(`CNNDSL_NO_CACHE=1`). Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "cnndsl", "check", str(ROOT / "architectures" / "lenet5.cnn")]


def whole_process(env: dict, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(COMMAND, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as cache:
        cached = {**os.environ, "XDG_CACHE_HOME": cache}
        fresh = {**cached, "CNNDSL_NO_CACHE": "1"}
        subprocess.run(COMMAND, env=cached, check=True, capture_output=True)  # fills the cache
        rows = [
            ("tables from the private cache (default)", whole_process(cached, runs)),
            ("tables built in each process (CNNDSL_NO_CACHE=1)", whole_process(fresh, runs)),
        ]
    print("| `cnndsl check architectures/lenet5.cnn` | median (s) | best (s) |\n|---|---:|---:|")
    for label, times in rows:
        print(f"| {label} | {statistics.median(times):.3f} | {min(times):.3f} |")


if __name__ == "__main__":
    main()
