"""onnxruntime latency of two ONNX models on the same input, measured interleaved.

    python benchmarks/bench_runtime.py A.onnx B.onnx [--runs 200] [--batch 1]

Both sessions get the same options (all graph optimisations, default threads).
Runs alternate in blocks of ten so that drift of the machine hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import onnxruntime as ort

BLOCK = 10


def session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def feed(sess: ort.InferenceSession, batch: int) -> dict:
    (info,) = sess.get_inputs()
    shape = [d if isinstance(d, int) else batch for d in info.shape]
    return {info.name: np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}


def compare(paths: list[str], runs: int = 200, batch: int = 1) -> list[dict]:
    """Median and p90 latency (ms) of each model."""
    sessions = [session(p) for p in paths]
    feeds = [feed(s, batch) for s in sessions]
    for s, f in zip(sessions, feeds):
        for _ in range(BLOCK):
            s.run(None, f)
    times: list[list[float]] = [[] for _ in paths]
    while len(times[0]) < runs:
        for s, f, t in zip(sessions, feeds, times):
            for _ in range(BLOCK):
                start = time.perf_counter()
                s.run(None, f)
                t.append(time.perf_counter() - start)
    return [
        {"model": p, "median_ms": 1e3 * statistics.median(t), "p90_ms": 1e3 * float(np.percentile(t, 90))}
        for p, t in zip(paths, times)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs=2)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    a, b = compare(args.models, args.runs, args.batch)
    for row in (a, b):
        print(f"{row['model']}: median {row['median_ms']:.2f} ms, p90 {row['p90_ms']:.2f} ms")
    print(f"ratio (first / second): {a['median_ms'] / b['median_ms']:.3f}")


if __name__ == "__main__":
    main()
