"""Arguments that crashed or hung `check` (issue 9, item 4): every float is finite and in
range, fixed Gaussian kernels never divide by zero, and receptive-field arithmetic is
closed-form (see tests/test_global_field.py for huge strides and kernels)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import cnndsl
from cnndsl.layers.kernels import gaussian


@pytest.mark.parametrize(
    ("scale", "column"),
    [("1e400", 48), ("1e400-1e400", 48), ("-1e400", 49), ("1e200 * 1e200", 48), ("1e300 * 10", 48)],
)
def test_non_finite_or_huge_floats_are_located_errors(scale, column):
    # "network N { input x: [3,32,32]; upsample(scale=" is 47 characters: the value starts at 48
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.loads(f"network N {{ input x: [3,32,32]; upsample(scale={scale}) }}")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E0605" and diagnostic.span.column == column


def test_floats_up_to_the_limit_still_work():
    net = cnndsl.loads("network N { input x: [3,32,32]; bn(eps=1e-300) -> leakyrelu(alpha=1e-3) }")
    assert net.totals["params"] == 6


def sampled(sigma: float, kh: int, kw: int) -> np.ndarray:
    """The Gaussian by its definition, in float64 with exact exponent arithmetic where it can."""
    rows, cols = np.mgrid[0:kh, 0:kw]
    d2 = (rows - (kh - 1) / 2) ** 2 + (cols - (kw - 1) / 2) ** 2
    raw = np.exp(-(d2 - d2.min()) / (2 * sigma**2))
    return raw / raw.sum()


@pytest.mark.parametrize("sigma", [0.5, 1.0, 3.0, 100.0])
def test_gaussian_kernels_match_their_definition(sigma):
    np.testing.assert_allclose(gaussian(sigma, 5, 3), sampled(sigma, 5, 3), rtol=1e-12)


def test_gaussian_with_a_tiny_sigma_is_the_centre_tap():
    """sigma = 1e-200: 2 * sigma**2 underflows to 0 (it divided by zero); the limit is a delta."""
    assert gaussian(1e-200, 3, 3) == [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]


def test_gaussian_on_an_even_kernel_with_a_small_sigma_shares_the_centre():
    """conv(1, 2, weights=gaussian(0.01)): the four taps are equally far from the centre (all
    exp(-2500) = 0 in floating point before, so 0 / 0); by symmetry each weighs 1/4."""
    assert gaussian(0.01, 2, 2) == [[0.25, 0.25], [0.25, 0.25]]
    net = cnndsl.loads("network N { input x: [1, 4, 4]; conv(1, 2, weights=gaussian(0.01)) }")
    model = net.to_onnx()
    weight = [t for t in model.graph.initializer if t.name.endswith("weight")][0]
    assert list(np.frombuffer(weight.raw_data, "<f4")) == [0.25] * 4


def test_gaussian_with_a_huge_sigma_is_a_box():
    assert all(math.isclose(v, 1 / 6) for row in gaussian(1e300, 2, 3) for v in row)
