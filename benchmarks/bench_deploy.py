"""Benchmark the deploy options (docs/deploy.md): size and accuracy of the tutorial's digits
network in float32, float16 and int8, and onnxruntime latency of ResNet-50 in each precision.

    python benchmarks/bench_deploy.py [--epochs 20] [--runs 30] [--skip-resnet]

Needs `pip install -e '.[test,tutorial]'`. Nothing is asserted; the Markdown goes to docs/deploy.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime

from cnndsl.cli import main as cnndsl

ROOT = Path(__file__).resolve().parent.parent
DIGITS = str(ROOT / "examples" / "digits.cnn")
RESNET50 = str(ROOT / "architectures" / "resnet50.cnn")
PRECISIONS = {"float32": [], "float16": ["--precision", "fp16"], "int8": ["--quantize", "int8", "--calibrate"]}


def tutorial():
    spec = importlib.util.spec_from_file_location("train_digits", ROOT / "examples" / "train_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_all(source: str, folder: Path, extra: list[str], calibration: Path) -> dict[str, Path]:
    paths = {}
    for name, flags in PRECISIONS.items():
        paths[name] = folder / f"{Path(source).stem}-{name}.onnx"
        flags = [*flags, str(calibration)] if name == "int8" else flags
        if cnndsl(["compile", source, *extra, *flags, "-o", str(paths[name])]) != 0:
            sys.exit(f"compile {name} failed")
    return paths


def session(path: Path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def digits(folder: Path, epochs: int) -> None:
    module = tutorial()
    module.torch.manual_seed(0)
    module.torch.set_num_threads(1)
    train_x, test_x, train_y, test_y = module.data()
    cnndsl(["export", DIGITS, "--network", "Digits", "--to", "pytorch", "-o", str(folder / "digits_model.py")])
    model = module.import_generated(folder / "digits_model.py").Digits()
    module.train(model, train_x, train_y, epochs, lr=3e-3)
    module.save_file(model.state_dict(), str(folder / "digits.safetensors"))
    np.save(folder / "calib.npy", train_x[:256])
    extra = ["--network", "Digits", "--weights", str(folder / "digits.safetensors")]
    paths = compile_all(DIGITS, folder, extra, folder / "calib.npy")
    print(f"Digits, trained {epochs} epochs; test set of {len(test_y)} images; calibration: 256 training images.\n")
    print("| precision | file (bytes) | size vs float32 | test accuracy | change (points) |")
    print("|---|---:|---:|---:|---:|")
    base = None
    for name, path in paths.items():
        sess = session(path)
        accuracy = float((sess.run(None, {"image": test_x})[0].argmax(1) == test_y).mean()) * 100
        size = os.path.getsize(path)
        base = base or (size, accuracy)
        print(f"| {name} | {size:,} | {size / base[0]:.2f} | {accuracy:.2f} % | {accuracy - base[1]:+.2f} |")


def latency(path: Path, runs: int) -> float:
    sess = session(path)
    feeds = {"image": np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)}
    for _ in range(3):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def resnet(folder: Path, runs: int) -> None:
    np.save(folder / "r50-calib.npy", np.random.default_rng(1).random((8, 3, 224, 224), dtype=np.float32))
    paths = compile_all(RESNET50, folder, [], folder / "r50-calib.npy")
    print(f"\nResNet-50 (random weights), batch 1, onnxruntime {onnxruntime.__version__} CPU, median of {runs} runs.\n")
    print("| precision | file (MB) | median latency (ms) | ratio to float32 |")
    print("|---|---:|---:|---:|")
    base = None
    for name, path in paths.items():
        ms = latency(path, runs)
        base = base or ms
        print(f"| {name} | {os.path.getsize(path) / 1e6:.1f} | {ms:.1f} | {ms / base:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--skip-resnet", action="store_true")
    parser.add_argument("--skip-digits", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        if not args.skip_digits:
            started = time.perf_counter()
            digits(Path(temporary), args.epochs)
            print(f"\n(digits: {time.perf_counter() - started:.0f} s)", file=sys.stderr)
        if not args.skip_resnet:
            resnet(Path(temporary), args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
