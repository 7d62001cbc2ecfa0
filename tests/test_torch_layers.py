"""Every layer kind in PyTorch agrees with onnxruntime: one network uses them all (a new
kind fails here until it has a PyTorch form and a place in this network)."""

from __future__ import annotations

import numpy as np
import pytest

import cnndsl
from cnndsl.backends.weightfiles import save_safetensors
from cnndsl.cli import main
from cnndsl.layers import LAYERS

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'cnndsl[torch]')")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("safetensors")

EVERY_KIND = """network All {
  input x: [8, 12, 12]
  a = conv(8, 3, pad=same, stride=2) -> bn -> relu6 -> leakyrelu(0.1) -> elu -> selu
  b = a -> gelu -> silu -> sigmoid -> tanh -> hardswish -> prelu -> hardsigmoid -> softplus -> mish
  c = b -> upsample(like=x) -> layernorm -> groupnorm(2) -> instancenorm -> scale(0.5) -> droppath(0.1)
  d = c -> slice(0, 4) -> pixel_shuffle(2) -> pixel_unshuffle(2) -> channel_shuffle(2)
  e = c -> chunk(2, 1) -> dwconv(3, pad=1, mult=2) -> convT(4, 3, stride=2, pad=1, output_pad=1)
  f = concat { d; e -> maxpool(2) }
  g = f -> lrn(3) -> pad(1, mode=reflect) -> avgpool(3, stride=1, pad=1, include_pad=true) -> lppool(2, p=3)
  h = g -> upsample(2, mode=linear) -> upsample(size=[5, 7], mode=linear, align_corners=true) -> upsample(size=[9, 9])
  i = add { h; h -> identity } -> mul { h; h -> gap -> sigmoid } -> maximum { relu; tanh } -> dropout(0.2) -> relu
  j = i -> pad(1, mode=edge) -> pad([1, 2], mode=wrap) -> pad(1, value=0.5) -> avgpool(2, pad=1) -> gmp -> flatten
  output logits = j -> dense(5) -> bn -> softmax
  output logp = i -> conv(3, [2, 3], pad=[0, 1, 1, 0]) -> maxpool(2, pad=[1, 0, 0, 1]) -> gap -> flatten -> logsoftmax
}
"""


def test_every_layer_kind_agrees_with_onnxruntime(tmp_path):
    net = cnndsl.loads(EVERY_KIND)
    assert set(LAYERS) - {node.op for node in net.nodes} == set()
    module = net.to_torch(initial=False)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=generator) - (0.0 if "var" in key else 0.5))
    assert sum(p.numel() for p in module.parameters()) == net.totals["params"]
    assert sum(b.numel() for b in module.buffers() if b.is_floating_point()) == net.totals["state"]
    (tmp_path / "all.cnn").write_text(EVERY_KIND)
    save_safetensors({k: v.numpy() for k, v in module.state_dict().items()}, str(tmp_path / "w.safetensors"))
    args = ["compile", str(tmp_path / "all.cnn"), "--weights", str(tmp_path / "w.safetensors")]
    assert main([*args, "-o", str(tmp_path / "all.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "all.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((3, 8, 12, 12), dtype=np.float32)
    expected = session.run(None, {"x": x})
    with torch.no_grad():
        got = module.eval()(torch.from_numpy(x))
    for ours, theirs in zip(got, expected):
        assert ours.shape == theirs.shape
        assert float(np.abs(ours.numpy() - theirs).max()) <= 1e-4 * float(np.abs(theirs).max())
