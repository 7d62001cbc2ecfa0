"""docs/tutorial.md's example runs: it trains the digits network to at least 95 % test
accuracy, onnxruntime agrees with PyTorch on every test image, and transfer learning
leaves the frozen trunk unchanged."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT

pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'cnndsl[torch]')")
pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install 'cnndsl[tutorial]')")
pytest.importorskip("safetensors")


@pytest.mark.slow
def test_tutorial_trains_and_deploys(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_digits.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    accuracy = float(re.search(r"digits: trained .* test accuracy ([\d.]+)%", out).group(1))
    assert accuracy >= 95.0
    agree = re.search(r"onnxruntime agrees with PyTorch on (\d+) of (\d+)", out)
    assert agree.group(1) == agree.group(2)
    assert "kept the initial weights of 1 layer(s) the file lacks: dense1" in done.stderr
    parity = re.search(r"parity: head trained .* trunk unchanged: (\w+), test accuracy ([\d.]+)%", out)
    assert parity.group(1) == "True" and float(parity.group(2)) >= 95.0
    assert (tmp_path / "digits_model.py").exists() and (tmp_path / "digits.onnx").exists()
