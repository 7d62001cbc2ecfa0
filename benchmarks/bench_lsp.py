"""Language-server latency: an edit of ResNet-152, then a hover (docs/editors.md, "Speed").

    python benchmarks/bench_lsp.py [--runs 30]

In-process, without the protocol: :class:`cnndsl.tools.analysis.Workspace`
receives the edited text and the hover on `BottleneckStage(256, 36, 2)` is
answered, which compiles the new version first. Three kinds of edit: none
(the analysis is reused), a changed comment, a changed argument (the
network's `classes`). Goal: a hover within 50 ms of a change. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from cnndsl.tools import features
from cnndsl.tools.analysis import Workspace

ROOT = Path(__file__).resolve().parents[1]
RESNET152 = ROOT / "architectures" / "resnet152.cnn"


def _edits(text: str, kind: str, runs: int):
    for i in range(runs):
        if kind == "none":
            yield text
        elif kind == "comment":
            yield text.replace("# ResNet-152", f"# ResNet-152 (edit {i})", 1)
        else:
            yield text.replace("classes=1000", f"classes={1000 + i + 1}", 1)


def _time(workspace: Workspace, path: str, texts, position) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of each edit-then-hover (they differ on a busy machine)."""
    wall, cpu = [], []
    for text in texts:
        start, start_cpu = time.perf_counter(), time.process_time()
        workspace.update(path, text)
        found = features.hover(workspace.get(path), *position)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        assert found and "[N, 1024, 14, 14]" in found[0], found
    return wall, cpu


def _ms(times: list[float]) -> str:
    times = sorted(times)
    return f"{statistics.median(times) * 1000:.1f} | {times[int(0.9 * (len(times) - 1))] * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    os.chdir(ROOT)
    text = RESNET152.read_text(encoding="utf-8")
    path = str(RESNET152)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "BottleneckStage(256, 36, 2)" in s)
    position = (line, text.splitlines()[line - 1].index("BottleneckStage") + 1)
    workspace = Workspace()
    start = time.perf_counter()
    workspace.update(path, text)
    features.hover(workspace.get(path), *position)
    first = time.perf_counter() - start
    machine = platform.processor() or platform.machine()
    print(f"ResNet-152, hover after an edit; {machine}, Python {platform.python_version()}\n")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| edit | wall median ms | wall p90 ms | CPU median ms | CPU p90 ms |\n|---|---:|---:|---:|---:|")
    print(f"| first open (nothing cached) | {first * 1000:.1f} | | | |")
    for kind in ("none", "comment", "argument"):
        wall, cpu = _time(workspace, path, _edits(text, kind, args.runs), position)
        print(f"| {kind} | {_ms(wall)} | {_ms(cpu)} |")


if __name__ == "__main__":
    main()
