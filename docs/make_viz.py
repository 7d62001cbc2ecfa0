"""Draw the pictures of docs/visualise.md into docs/viz/ (needs cnndsl[viz,tutorial]).

    python docs/make_viz.py

1. the fixed-kernel edge network (architectures/edges.cnn) on a generated scene
2. the digits network of the tutorial (examples/digits.cnn), trained 20 epochs as
   examples/train_digits.py does: first-layer filters, feature maps, occlusion maps
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

import cnndsl
from cnndsl.cli import main as cnndsl_main
from cnndsl.tools.viz import draw

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
OUT = DOCS / "viz"


def scene(size: int = 64) -> np.ndarray:
    """The test picture of tests/test_viz.py: a lit gradient, a bright disc, a dark bar, noise."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:size, 0:size] / size
    picture = 60 + 80 * x + 40 * y
    picture[(x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.05] = 230
    picture[int(size * 0.7) : int(size * 0.8), 5 : size // 2] = 20
    picture += rng.normal(0, 6, picture.shape)
    return np.clip(picture, 0, 255).astype(np.uint8)


def cli(*argv: str) -> None:
    print("$ cnndsl " + " ".join(argv))
    if cnndsl_main(list(argv)) != 0:
        sys.exit("failed")


def tutorial():
    spec = importlib.util.spec_from_file_location("train_digits", ROOT / "examples" / "train_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    OUT.mkdir(exist_ok=True)
    Image.fromarray(scene()).resize((128, 128), Image.NEAREST).save(OUT / "scene.png")
    edges = str(ROOT / "architectures" / "edges.cnn")
    cli("viz", "maps", edges, "--input", str(OUT / "scene.png"), "--layer", "edges", "-o", str(OUT / "edges_maps.png"))
    cli("viz", "filters", edges, "--layer", "conv1", "-o", str(OUT / "edges_filters.png"))
    train = tutorial()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    train_x, test_x, train_y, test_y = train.data()
    digits = str(ROOT / "examples" / "digits.cnn")
    model = cnndsl.load(digits, "Digits").to_torch(initial=False)
    train.train(model, train_x, train_y, epochs=20, lr=3e-3)
    with tempfile.TemporaryDirectory() as folder:
        weights = str(Path(folder) / "digits.safetensors")
        save_file(model.state_dict(), weights)
        np.save(Path(folder) / "digit.npy", test_x[0])
        common = ("--network", "Digits", "--weights", weights)
        cli("viz", "filters", digits, *common, "--layer", "Trunk1/conv1", "-o", str(OUT / "digits_filters.png"))
        digit = str(Path(folder) / "digit.npy")
        cli("viz", "maps", digits, *common, "--input", digit, "--layer", "Trunk1/relu1", "Trunk1/relu3",
            "--max-maps", "16", "-o", str(OUT / "digits_maps.png"))  # fmt: skip
        net = cnndsl.load(digits, "Digits")
        for k in range(3):
            result = net.occlusion(test_x[k], weights, target=int(test_y[k]), patch=2, stride=1, fill=0.0)
            draw.save(draw.occlusion_figure(result, f"a test {test_y[k]}"), OUT / f"digits_occlusion{k}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
