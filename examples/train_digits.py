"""Train a network written in cnndsl, then deploy it through ONNX (docs/tutorial.md).

1. `examples/digits.cnn` -> a PyTorch module (`cnndsl export --to pytorch`)
2. train it on scikit-learn's bundled 8x8 digits (no download), on the CPU
3. compile the network with the trained weights (`cnndsl compile --weights`)
4. onnxruntime gives the same predictions as PyTorch
5. transfer: the trained trunk, frozen, under a new odd/even head (`--partial`)

Needs: pip install 'cnndsl[torch,tutorial]'. Run: python examples/train_digits.py [--out DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from safetensors.torch import save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from cnndsl.cli import main as cnndsl

HERE = Path(__file__).resolve().parent
SOURCE = str(HERE / "digits.cnn")


def data():
    """Digits as [N, 1, 8, 8] float32 in 0..1, split 80/20 (stratified, fixed seed)."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    return train_test_split(images, digits.target, test_size=0.2, random_state=0, stratify=digits.target)


def import_generated(path: Path):
    """Import the module `cnndsl export` wrote: plain Python that needs only torch."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(model, images, labels, epochs: int, lr: float) -> None:
    """Adam on the parameters that are not frozen, mini-batches of 64."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(trainable, lr=lr)
    x, y = torch.from_numpy(images), torch.from_numpy(labels).long()
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(64):
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()


def predict(model, images) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(images)).argmax(1).numpy()


def onnx_predict(path: Path, images) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {session.get_inputs()[0].name: images})
    return logits.argmax(1)


def run(command: list[str]) -> None:
    print("$ cnndsl " + " ".join(command), flush=True)
    if cnndsl(command) != 0:
        sys.exit(f"cnndsl {command[0]} failed")


def digits(out: Path, split, epochs: int) -> dict:
    train_x, test_x, train_y, test_y = split
    run(["export", SOURCE, "--network", "Digits", "--to", "pytorch", "-o", str(out / "digits_model.py")])
    model = import_generated(out / "digits_model.py").Digits()
    started = time.perf_counter()
    train(model, train_x, train_y, epochs, lr=3e-3)
    seconds = time.perf_counter() - started
    ours = predict(model, test_x)
    accuracy = float((ours == test_y).mean())
    print(f"digits: trained {epochs} epochs in {seconds:.1f} s, test accuracy {accuracy:.2%}")

    weights, onnx = out / "digits.safetensors", out / "digits.onnx"
    save_file(model.state_dict(), str(weights))
    run(["compile", SOURCE, "--network", "Digits", "--weights", str(weights), "-o", str(onnx)])
    theirs = onnx_predict(onnx, test_x)
    agree = int((ours == theirs).sum())
    print(f"digits: onnxruntime agrees with PyTorch on {agree} of {len(test_x)} test images")
    np.save(out / "first.npy", test_x[:1])
    run(["run", str(onnx), "--input", str(out / "first.npy")])
    print(f"digits: the first test image is a {test_y[0]}; PyTorch predicts {ours[0]}")
    return {"accuracy": accuracy, "agree": agree, "state": model.state_dict()}


def parity(out: Path, split, state: dict, epochs: int) -> dict:
    train_x, test_x, train_y, test_y = split
    trunk = {k: v for k, v in state.items() if k.startswith("Trunk1.")}
    save_file(trunk, str(out / "trunk.safetensors"))
    weights = str(out / "trunk.safetensors")
    run(["compile", SOURCE, "--network", "Parity", "--weights", weights, "--partial", "-o", str(out / "parity.onnx")])
    run(["export", SOURCE, "--network", "Parity", "--to", "pytorch", "-o", str(out / "parity_model.py")])
    model = import_generated(out / "parity_model.py").Parity()
    model.load_state_dict(trunk, strict=False)  # the head keeps its fresh start
    before = {k: v.clone() for k, v in model.Trunk1.state_dict().items()}
    train(model, train_x, train_y % 2, epochs, lr=1e-2)
    unchanged = all(torch.equal(before[k], v) for k, v in model.Trunk1.state_dict().items())
    accuracy = float((predict(model, test_x) == test_y % 2).mean())
    print(f"parity: head trained {epochs} epochs, trunk unchanged: {unchanged}, test accuracy {accuracy:.2%}")
    return {"accuracy": accuracy, "unchanged": unchanged}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the generated files (default: a temporary one)")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)  # small batches: one thread is fastest, and never oversubscribed
    split = data()
    with tempfile.TemporaryDirectory() as temporary:
        out = args.out or Path(temporary)
        out.mkdir(parents=True, exist_ok=True)
        result = digits(out, split, args.epochs)
        parity(out, split, result["state"], max(1, args.epochs // 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
