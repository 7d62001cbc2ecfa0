"""Zoo networks at a small input size with real weights: onnxruntime runs them and
every output has the shape the compiler inferred, with finite values."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from conftest import ARCHITECTURES
from test_zoo import SMALL

import cnndsl


@pytest.mark.parametrize("stem", sorted(set(SMALL) - {"fcn8s"}))  # fcn8s: 134 M weights whatever the size
def test_small_input_runs_in_onnxruntime(stem):
    size, _ = SMALL[stem]
    net = cnndsl.load(str(ARCHITECTURES / f"{stem}.cnn"), overrides={"size": size})
    model = net.to_onnx()
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {i["name"]: np.random.default_rng(0).random((1, *i["shape"][1:]), dtype=np.float32) for i in net.inputs}
    results = session.run(None, feeds)
    for output, result in zip(net.outputs, results):
        assert list(result.shape) == [1, *output["shape"][1:]]
        assert np.isfinite(result).all()
