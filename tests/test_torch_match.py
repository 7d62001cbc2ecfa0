"""`--match order` loads torchvision's own state_dicts (randomly initialised, nothing
downloaded) into the zoo's networks, and onnxruntime then reproduces torchvision's outputs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from conftest import ARCHITECTURES

from cnndsl.cli import main

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'cnndsl[torch]')")
models = pytest.importorskip("torchvision.models", reason="torchvision is not installed")

CASES = {
    # torchvision model, our file, --set, input size
    "resnet18": (lambda: models.resnet18(weights=None), "resnet18", ["--set", "size=64"], 64),
    "resnet50": (lambda: models.resnet50(weights=None), "resnet50", [], 224),
    "vgg16": (lambda: models.vgg16(weights=None), "vgg16", [], 224),
    "googlenet": (
        lambda: models.googlenet(weights=None, aux_logits=False, init_weights=True, transform_input=False),
        "googlenet",
        [],
        224,
    ),
}


def randomise_statistics(model) -> None:
    """Batch-norm statistics away from 0 and 1, so that a misplaced buffer shows."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.copy_(torch.rand(buffer.shape, generator=generator) - 0.5)
            elif name.endswith("running_var"):
                buffer.copy_(torch.rand(buffer.shape, generator=generator) + 0.5)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_match_order_reproduces_torchvision(name, tmp_path, capsys):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    make, stem, sets, size = CASES[name]
    model = make().eval()
    randomise_statistics(model)
    weights = tmp_path / f"{name}.pth"
    torch.save(model.state_dict(), weights)
    out = tmp_path / "m.onnx"
    source = str(ARCHITECTURES / f"{stem}.cnn")
    assert main(["compile", source, *sets, "--weights", str(weights), "--match", "order", "-o", str(out)]) == 0
    mapping = capsys.readouterr().err
    assert "--match order mapped:" in mapping
    assert "fc.weight -> " in mapping or "classifier.6.weight -> " in mapping
    image = np.random.default_rng(0).standard_normal((2, 3, size, size), dtype=np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (ours,) = session.run(None, {session.get_inputs()[0].name: image})
    with torch.no_grad():
        expected = model(torch.from_numpy(image)).numpy()
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() <= 1e-4 * np.abs(expected).max()
