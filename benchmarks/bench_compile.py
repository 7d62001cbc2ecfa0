"""Runtime and large-compile benchmark (docs/benchmarks.md, "Runtime, and a large compile").

    python benchmarks/bench_compile.py [--repeat 3] [--runs 200]

In one run on this machine:

1. onnxruntime latency of our ResNet-50 against the one that plain torch.nn and
   torch.onnx.export make (benchmarks/torch_resnet50.py, timed against `cnndsl
   compile` by benchmarks/run_all.py; latency by benchmarks/bench_runtime.py);
   goal: ratio <= 1.05;
2. whole-process `cnndsl compile architectures/vgg16.cnn` against the floor of
   generating its 138 M weights with numpy and `onnx.save` (a process that
   does only that); goal: <= 1.5x.

Each process time is the median of `--repeat` runs. Prints Markdown.
Needs torch (`pip install torch`), not part of the test suite.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_runtime import compare  # noqa: E402

# The floor: VGG-16's weights drawn as cnndsl draws them (He uniform float32 conv/dense weights,
# zero biases) and onnx.save, nothing else.
FLOOR = """
import sys, numpy as np, onnx
from onnx import helper, numpy_helper
rng = np.random.default_rng(0)
convs = [(64, 3), (64, 64), (128, 64), (128, 128), (256, 128), (256, 256), (256, 256),
         (512, 256), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
shapes = [(o, i, 3, 3) for o, i in convs] + [(4096, 25088), (4096, 4096), (1000, 4096)]
tensors = []
for k, shape in enumerate(shapes):
    fan_in = int(np.prod(shape[1:]))
    limit = np.sqrt(6 / fan_in)
    w = rng.random(shape, dtype=np.float32)
    w *= np.float32(2 * limit)
    w -= np.float32(limit)
    tensors.append(numpy_helper.from_array(w, f"w{k}"))
    tensors.append(numpy_helper.from_array(np.zeros(shape[0], np.float32), f"b{k}"))
graph = helper.make_graph([], "floor", [], [], tensors)
onnx.save(helper.make_model(graph), sys.argv[1])
"""


def timed(argv: list[str], repeat: int) -> float:
    """Median wall time of running `argv` as a fresh process."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        cpu = names[0] if names else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GiB RAM"
    import numpy
    import onnx
    import onnxruntime
    import torch

    return (
        f"{cpu}, {os.cpu_count()} logical cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, onnx {onnx.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="cnndsl compile and runtime benchmark")
    parser.add_argument("--repeat", type=int, default=3, help="process runs per timing (median)")
    parser.add_argument("--runs", type=int, default=200, help="onnxruntime runs per model")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = f"{tmp}/resnet50.onnx", f"{tmp}/resnet50_torch.onnx"
        subprocess.run([python, "-m", "cnndsl", "compile", "architectures/resnet50.cnn", "-o", ours], check=True)
        subprocess.run([python, str(HERE / "torch_resnet50.py"), theirs], check=True)
        ours_rt, torch_rt = compare([ours, theirs], args.runs)
        vgg = timed(
            [python, "-m", "cnndsl", "compile", "architectures/vgg16.cnn", "-o", f"{tmp}/vgg16.onnx"], args.repeat
        )
        floor = timed([python, "-c", FLOOR, f"{tmp}/floor.onnx"], args.repeat)
    latency = ours_rt["median_ms"] / torch_rt["median_ms"]
    print(f"Machine: {machine()}\n")
    print("| measurement | cnndsl | reference | ratio | goal |")
    print("|---|---|---|---|---|")
    print(
        f"| onnxruntime ResNet-50, batch 1, median (p90) | {ours_rt['median_ms']:.1f} ms "
        f"({ours_rt['p90_ms']:.1f}) | PyTorch export {torch_rt['median_ms']:.1f} ms ({torch_rt['p90_ms']:.1f}) "
        f"| {latency:.3f} | <= 1.05 |"
    )
    print(
        f"| compile VGG-16, 138 M weights (whole process) | {vgg:.2f} s | numpy + onnx.save floor "
        f"{floor:.2f} s | {vgg / floor:.2f}x | <= 1.5x |"
    )


if __name__ == "__main__":
    main()
