"""`ceil=true` pooling at opset 21 (issue #11, item 6).

Where PyTorch drops a last window that would start in the end padding, the
model states other end padding (or ceil mode off) so that opset 21's formula,
which lacks that rule, gives the same shape: the model passes
`onnx.checker.check_model(full_check=True)` and onnxruntime computes PyTorch's
values.
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import cnndsl


def _model(call: str, shape: tuple):
    net = cnndsl.loads(f"network T {{ input x: {list(shape)}; {call} }}")
    model = net.to_onnx()
    onnx.checker.check_model(model, full_check=True)
    return net, model


def _run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_issue_case_passes_the_checker():
    net, model = _model("maxpool(2, stride=2, pad=1, ceil=true)", (2, 5, 5))
    assert net.outputs[0]["shape"] == ["N", 2, 3, 3]  # PyTorch: ceil((5 + 2 - 2) / 2) + 1 = 4, last dropped
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5), dtype=np.float32)
    got = _run(model, x)
    # by hand: windows start at -1, 1, 3 on both axes and hold rows {0}, {1, 2}, {3, 4}
    rows = [[0], [1, 2], [3, 4]]
    want = np.array([[[x[0, c][np.ix_(r, s)].max() for s in rows] for r in rows] for c in range(2)])
    np.testing.assert_array_equal(got[0], want)


def _cases():
    """Every pooling on small sizes where PyTorch's drop rule applies on some axis."""
    from cnndsl.layers.window import output_sizes

    for n, k, s in itertools.product(
        ((3, 5), (4, 7), (2, 6), (5, 5)), ((2, 1), (3, 2), (2, 3), (4, 4)), ((2, 3), (3, 1), (4, 2))
    ):
        for p in itertools.product(range(k[0] // 2 + 1), range(k[1] // 2 + 1)):
            if any(n[i] + 2 * p[i] < k[i] for i in range(2)):
                continue
            span = [n[i] + 2 * p[i] - k[i] for i in range(2)]
            plain = tuple(-(-span[i] // s[i]) + 1 for i in range(2))
            if plain != output_sizes("", n, k, s, (*p, *p), ceil=True):
                yield n, k, s, p


CASES = list(_cases())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["maxpool", "avgpool(include_pad=false)", "avgpool(include_pad=true)"])
def test_dropped_windows_match_pytorch(kind):
    torch = pytest.importorskip("torch")
    assert len(CASES) > 20
    rng = np.random.default_rng(1)
    for n, k, s, p in CASES:
        layer, _, options = kind.partition("(")
        call = f"{layer}({list(k)}, stride={list(s)}, pad={list(p)}, ceil=true{', ' + options[:-1] if options else ''})"
        _, model = _model(call, (2, *n))
        x = rng.standard_normal((1, 2, *n), dtype=np.float32)
        t = torch.from_numpy(x)
        if layer == "maxpool":
            want = torch.nn.functional.max_pool2d(t, k, s, p, ceil_mode=True)
        else:
            include = options.startswith("include_pad=true")
            want = torch.nn.functional.avg_pool2d(t, k, s, p, ceil_mode=True, count_include_pad=include)
        np.testing.assert_allclose(_run(model, x), want.numpy(), rtol=1e-5, atol=1e-6, err_msg=call)


def test_asymmetric_padding_passes_the_checker():
    """Pads [top, left, bottom, right] that PyTorch cannot express: shape and checker only."""
    for pads in itertools.product(range(2), repeat=4):
        for kind in ("maxpool", "avgpool"):
            net, model = _model(f"{kind}([2, 3], stride=[3, 2], pad={list(pads)}, ceil=true)", (1, 7, 6))
            got = _run(model, np.zeros((1, 1, 7, 6), np.float32))
            assert list(got.shape[2:]) == net.outputs[0]["shape"][2:]
