"""The architecture zoo: every network against its published figures.

Expected numbers never come from the code under test. They are either published
by the reference implementation (torchvision) or derived here by hand, layer by
layer, from the paper's layer table.

Sources of the published figures:

* torchvision's model table, https://pytorch.org/vision/stable/models.html
  ("Params" and "GFLOPS" columns), which are the ``num_params`` and ``_ops``
  entries of each ``*_Weights.IMAGENET1K_V1.meta``. torchvision's "GFLOPS" are
  multiply-accumulates, given to two decimals.
* ``inception_v3``'s 27,161,264 includes its auxiliary classifier (the weights
  are published with ``aux_logits=True``); ``googlenet``'s 6,624,904 excludes the
  two auxiliary classifiers (dropped after loading the weights).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import ARCHITECTURES, ROOT, dims
from conftest import zoo_network as load
from test_zoo_modern import MODERN_PARAMS, MODERN_SMALL

DOCS = ROOT / "docs" / "architectures.md"

# torchvision "Params" column (https://pytorch.org/vision/stable/models.html).
TORCHVISION_PARAMS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "googlenet": 6_624_904,
    "inception_v3": 27_161_264,  # with the auxiliary classifier
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}

# torchvision "GFLOPS" column: giga multiply-accumulates at 224x224 (299x299 for
# inception_v3, measured in eval mode, i.e. without the auxiliary classifier).
TORCHVISION_GMACS = {
    "alexnet": 0.71,
    "vgg11": 7.61,
    "vgg11_bn": 7.61,
    "vgg13": 11.31,
    "vgg13_bn": 11.31,
    "vgg16": 15.47,
    "vgg16_bn": 15.47,
    "vgg19": 19.63,
    "vgg19_bn": 19.63,
    "googlenet": 1.50,
    "inception_v3": 5.71,
    "resnet18": 1.81,
    "resnet34": 3.66,
    "resnet50": 4.09,
    "resnet101": 7.80,
    "resnet152": 11.51,
}


# -- hand arithmetic ---------------------------------------------------------------


def conv(cin: int, cout: int, k, bias: bool = True) -> int:
    """Parameters of a convolution: cin * cout * kh * kw weights (+ cout biases)."""
    kh, kw = (k, k) if isinstance(k, int) else k
    return cin * cout * kh * kw + (cout if bias else 0)


def dense(fin: int, fout: int, bias: bool = True) -> int:
    return fin * fout + (fout if bias else 0)


def bn(c: int) -> int:
    """Learnable scale and shift (running statistics are state)."""
    return 2 * c


def basic_conv(cin: int, cout: int, k) -> int:
    """torchvision's BasicConv2d (GoogLeNet, Inception-v3): conv without bias, then bn."""
    return conv(cin, cout, k, bias=False) + bn(cout)


# VGG classifier on 512x7x7 features.
VGG_CLASSIFIER = dense(512 * 7 * 7, 4096) + dense(4096, 4096) + dense(4096, 1000)
VGG16_FEATURES = TORCHVISION_PARAMS["vgg16"] - VGG_CLASSIFIER

# ZFNet, from figure 3 of Zeiler & Fergus 2013 (input 224x224x3, 1000 classes).
ZFNET_LAYERS = [
    conv(3, 96, 7),  # layer 1: 96 filters 7x7, stride 2          14,208
    conv(96, 256, 5),  # layer 2: 256 filters 5x5, stride 2        614,656
    conv(256, 384, 3),  # layer 3: 384 filters 3x3                 885,120
    conv(384, 384, 3),  # layer 4: 384 filters 3x3               1,327,488
    conv(384, 256, 3),  # layer 5: 256 filters 3x3                 884,992
    dense(6 * 6 * 256, 4096),  # layer 6: 9216 -> 4096        37,752,832
    dense(4096, 4096),  # layer 7                               16,781,312
    dense(4096, 1000),  # output                                 4,097,000
]
ZFNET_PARAMS = 62_357_608
assert sum(ZFNET_LAYERS) == ZFNET_PARAMS
assert ZFNET_LAYERS == [14_208, 614_656, 885_120, 1_327_488, 884_992, 37_752_832, 16_781_312, 4_097_000]

# Network in Network, the authors' ImageNet model (Caffe "NIN-Imagenet"): four
# mlpconv layers, each a convolution and two 1x1 convolutions ("cccp").
NIN_LAYERS = [
    conv(3, 96, 11),  # conv1 11x11/4                 34,944
    conv(96, 96, 1),  # cccp1                          9,312
    conv(96, 96, 1),  # cccp2                          9,312
    conv(96, 256, 5),  # conv2 5x5                   614,656
    conv(256, 256, 1),  # cccp3                       65,792
    conv(256, 256, 1),  # cccp4                       65,792
    conv(256, 384, 3),  # conv3 3x3                  885,120
    conv(384, 384, 1),  # cccp5                      147,840
    conv(384, 384, 1),  # cccp6                      147,840
    conv(384, 1024, 3),  # conv4 3x3               3,539,968
    conv(1024, 1024, 1),  # cccp7                  1,049,600
    conv(1024, 1000, 1),  # cccp8: one map per class 1,025,000
]
NIN_PARAMS = 7_595_176
assert sum(NIN_LAYERS) == NIN_PARAMS

# GoogLeNet auxiliary classifier (torchvision InceptionAux): 1x1 conv to 128,
# fc 128*4*4 -> 1024, fc 1024 -> 1000. After inception 4a (512 ch) and 4d (528 ch).
GOOGLENET_AUX1 = basic_conv(512, 128, 1) + dense(2048, 1024) + dense(1024, 1000)  # 3,188,968
GOOGLENET_AUX2 = basic_conv(528, 128, 1) + dense(2048, 1024) + dense(1024, 1000)  # 3,191,016
GOOGLENET_AUX_PARAMS = 13_004_888  # torchvision googlenet(aux_logits=True), counted before the aux heads are dropped
assert TORCHVISION_PARAMS["googlenet"] + GOOGLENET_AUX1 + GOOGLENET_AUX2 == GOOGLENET_AUX_PARAMS

# Inception-v3 auxiliary classifier (torchvision InceptionAux on 17x17x768):
# conv0 1x1 768 -> 128, conv1 5x5 128 -> 768, fc 768 -> 1000.
INCEPTION_AUX = basic_conv(768, 128, 1) + basic_conv(128, 768, 5) + dense(768, 1000)
assert INCEPTION_AUX == 3_326_696
INCEPTION_V3_NO_AUX = TORCHVISION_PARAMS["inception_v3"] - INCEPTION_AUX  # 23,834,568

# FCN-8s: VGG-16 features, fc6/fc7 as convolutions (the same weights as the dense
# layers), score layers (1x1) at strides 32, 16, 8 and three bias-free transposed
# convolutions (2x: 4x4, 2x: 4x4, 8x: 16x16), 21 PASCAL VOC classes.
FCN8S_PARAMS = (
    VGG16_FEATURES  # 14,714,688
    + conv(512, 4096, 7)  # fc6 102,764,544
    + conv(4096, 4096, 1)  # fc7  16,781,312
    + conv(4096, 21, 1)  # score_fr 86,037
    + conv(512, 21, 1)  # score_pool4 10,773
    + conv(256, 21, 1)  # score_pool3 5,397
    + 2 * conv(21, 21, 4, bias=False)  # upscore2, upscore_pool4 (21 * 21 * 16 each)
    + conv(21, 21, 16, bias=False)  # upscore8 112,896
)
assert VGG16_FEATURES == 14_714_688
assert FCN8S_PARAMS == 134_489_759


def double_conv(cin: int, c: int) -> int:
    return conv(cin, c, 3) + conv(c, c, 3)


# U-Net, figure 1 of Ronneberger et al. 2015: one input channel, two classes.
UNET_PARAMS = (
    double_conv(1, 64)
    + double_conv(64, 128)
    + double_conv(128, 256)
    + double_conv(256, 512)
    + double_conv(512, 1024)
    + sum(conv(2 * c, c, 2) + double_conv(2 * c, c) for c in (512, 256, 128, 64))  # up-conv 2x2, then two 3x3
    + conv(64, 2, 1)
)
assert UNET_PARAMS == 31_030_658

# VGG-16 trunk with a class head and a 4-number box head after fc7.
VGG16_LOCALIZER_PARAMS = TORCHVISION_PARAMS["vgg16"] + dense(4096, 4)

# Edge network: fixed 5x5 Gaussian, Sobel x and y, a fixed 1x1 sum of the two
# squared gradients, eight 3x3 Kirsch masks (all frozen); learnable 1x1 conv 10 -> 1.
EDGE_FROZEN = 25 + 2 * 9 + 2 + 8 * 9
EDGE_TRAINABLE = conv(10, 1, 1)


# -- expectations per file ------------------------------------------------------------

# file stem -> (network name, parameters, where the number comes from)
PARAMS = {
    **{stem: (None, count, "torchvision") for stem, count in TORCHVISION_PARAMS.items() if stem != "inception_v3"},
    "inception_v3": ("InceptionV3", INCEPTION_V3_NO_AUX, "torchvision minus its InceptionAux"),
    "inception_v3_aux": ("InceptionV3Aux", TORCHVISION_PARAMS["inception_v3"], "torchvision"),
    "googlenet_aux": ("GoogLeNetAux", GOOGLENET_AUX_PARAMS, "torchvision aux_logits=True"),
    "zfnet": ("ZFNet", ZFNET_PARAMS, "paper, by hand"),
    "nin": ("NiN", NIN_PARAMS, "paper / Caffe model, by hand"),
    "fcn8s": ("FCN8s", FCN8S_PARAMS, "paper, by hand"),
    "unet": ("UNet", UNET_PARAMS, "paper, by hand"),
    "vgg16_localizer": ("VGG16Localizer", VGG16_LOCALIZER_PARAMS, "torchvision vgg16 + box head"),
    "edge_compass": ("EdgeCompass", EDGE_FROZEN + EDGE_TRAINABLE, "by hand"),
    **MODERN_PARAMS,  # the networks of today: tests/test_zoo_modern.py
}

NAMES = {
    "vgg11": "VGG11",
    "vgg11_bn": "VGG11BN",
    "vgg13": "VGG13",
    "vgg13_bn": "VGG13BN",
    "vgg19": "VGG19",
    "vgg19_bn": "VGG19BN",
    "vgg16_bn": "VGG16BN",
    "resnet18": "ResNet18",
    "resnet34": "ResNet34",
    "resnet101": "ResNet101",
    "resnet152": "ResNet152",
}

RESNET_BASIC = [("c2", 64, 56), ("c3", 128, 28), ("c4", 256, 14), ("c5", 512, 7)]
RESNET_BOTTLENECK = [("c2", 256, 56), ("c3", 512, 28), ("c4", 1024, 14), ("c5", 2048, 7)]
VGG_STAGES = [("s1", 64, 112), ("s2", 128, 56), ("s3", 256, 28), ("s4", 512, 14), ("features", 512, 7)]
# GoogLeNet, Table 1 of Szegedy et al. 2015.
GOOGLENET_STAGES = [
    ("i3a", 256, 28),
    ("i3b", 480, 28),
    ("i4a", 512, 14),
    ("i4b", 512, 14),
    ("i4c", 512, 14),
    ("i4d", 528, 14),
    ("i4e", 832, 14),
    ("i5a", 832, 7),
    ("features", 1024, 7),
]
# Inception-v3 at 299x299: Table 1 of Szegedy et al. 2015 (35x35x288 after the
# 3 x Inception, 17x17x768, 8x8x2048) and torchvision's per-module comments.
INCEPTION_V3_STAGES = [
    ("m5b", 256, 35),
    ("m5c", 288, 35),
    ("m5d", 288, 35),
    ("m6a", 768, 17),
    ("m6b", 768, 17),
    ("m6c", 768, 17),
    ("m6d", 768, 17),
    ("m6e", 768, 17),
    ("m7a", 1280, 8),
    ("m7b", 2048, 8),
    ("features", 2048, 8),
]

# file stem -> [(bound name, channels, side)], published stage outputs.
STAGES = {
    **{f"vgg{d}{bnsuffix}": VGG_STAGES for d in (11, 13, 19) for bnsuffix in ("", "_bn")},
    "vgg16_bn": VGG_STAGES,
    "resnet18": RESNET_BASIC,
    "resnet34": RESNET_BASIC,
    "resnet101": RESNET_BOTTLENECK,
    "resnet152": RESNET_BOTTLENECK,
    "googlenet_aux": GOOGLENET_STAGES,
    "inception_v3": INCEPTION_V3_STAGES,
    "inception_v3_aux": INCEPTION_V3_STAGES,
    # ZFNet, figure 3: 110 (conv 1), 26 (conv 2), 13 (conv 3-5), 6x6x256 after the last pool.
    "zfnet": [
        ("l1", 96, 110),
        ("l2", 256, 26),
        ("l3", 384, 13),
        ("l4", 384, 13),
        ("l5", 256, 13),
        ("features", 256, 6),
    ],
    # NIN-Imagenet: 54 after conv1 (11x11/4), 27, 13 and 6 after the ceil-rounded pools.
    "nin": [("b1", 96, 54), ("b2", 256, 27), ("b3", 384, 13), ("maps", 1000, 6)],
    # FCN-8s: scores at strides 16 and 8 after each fusion, full resolution at the end.
    "fcn8s": [("pool4", 512, 14), ("pool3", 256, 28), ("fuse16", 21, 14), ("fuse8", 21, 28), ("scores", 21, 224)],
    "unet": [
        ("d1", 64, 256),
        ("d2", 128, 128),
        ("d3", 256, 64),
        ("d4", 512, 32),
        ("bottom", 1024, 16),
        ("u4", 512, 32),
        ("u3", 256, 64),
        ("u2", 128, 128),
        ("u1", 64, 256),
        ("scores", 2, 256),
    ],
}

OUTPUTS = {
    "googlenet_aux": {"logits": [1000], "aux1": [1000], "aux2": [1000]},
    "inception_v3": {"logits": [1000]},
    "inception_v3_aux": {"logits": [1000], "aux": [1000]},
    "vgg16_localizer": {"logits": [1000], "box": [4]},
    "fcn8s": {"scores": [21, 224, 224]},
    "unet": {"scores": [2, 256, 256]},
    "edge_compass": {"energy": [1, 64, 64], "compass": [8, 64, 64], "edges": [1, 64, 64]},
}

# -- tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", sorted(PARAMS))
def test_parameter_count(stem):
    name, count, source = PARAMS[stem]
    net = load(stem)
    assert net.name == (name or NAMES.get(stem, net.name))
    assert net.totals["params"] == count, f"{stem}: {net.totals['params']:,} != {count:,} ({source})"


@pytest.mark.parametrize("stem", sorted(TORCHVISION_GMACS))
def test_macs_match_torchvision(stem):
    """torchvision publishes GMACs to two decimals."""
    assert abs(load(stem).totals["macs"] / 1e9 - TORCHVISION_GMACS[stem]) <= 0.005 + 1e-9


@pytest.mark.parametrize("stem", sorted(STAGES))
def test_stage_shapes(stem):
    values = load(stem).values
    got = [(name, *dims(values[name]["shape"])) for name, _, _ in STAGES[stem]]
    assert got == [(name, c, side, side) for name, c, side in STAGES[stem]]


@pytest.mark.parametrize("stem", sorted(OUTPUTS))
def test_outputs(stem):
    assert {o["name"]: dims(o["shape"]) for o in load(stem).outputs} == OUTPUTS[stem]


def test_googlenet_aux_heads_tap_4a_and_4d():
    values = load("googlenet_aux").values
    assert dims(values["i4a"]["shape"]) == [512, 14, 14]
    assert dims(values["i4d"]["shape"]) == [528, 14, 14]
    aux = [n for n in load("googlenet_aux").nodes if n.name.startswith("AuxHead")]
    assert sum(n.params for n in aux) == GOOGLENET_AUX1 + GOOGLENET_AUX2


def test_inception_v3_trunk_is_shared():
    """With and without the auxiliary classifier the trunk is the same."""
    assert load("inception_v3_aux").totals["params"] - load("inception_v3").totals["params"] == INCEPTION_AUX
    assert load("inception_v3_aux").totals["state"] == load("inception_v3").totals["state"] + 2 * (128 + 768)


def test_batch_norm_variants_add_two_parameters_per_channel():
    for depth, convs in (
        (11, [64, 128, 256, 256, 512, 512, 512, 512]),
        (19, [64] * 2 + [128] * 2 + [256] * 4 + [512] * 8),
    ):
        assert load(f"vgg{depth}_bn").totals["params"] - load(f"vgg{depth}").totals["params"] == sum(map(bn, convs))


def test_edge_network_is_frozen_but_its_head():
    totals = load("edge_compass").totals
    assert (totals["trainable"], totals["frozen"], totals["state"]) == (EDGE_TRAINABLE, EDGE_FROZEN, 0)


# Small inputs: where the network pools globally (or is fully convolutional), a
# smaller `size` keeps every parameter and scales every map.
SMALL = {
    "resnet18": (64, {"c5": [512, 2, 2]}),
    "resnet34": (64, {"c5": [512, 2, 2]}),
    "resnet101": (64, {"c5": [2048, 2, 2]}),
    "resnet152": (32, {"c5": [2048, 1, 1]}),
    "inception_v3": (75, {"features": [2048, 1, 1]}),  # torchvision's minimum input
    "nin": (64, {"maps": [1000, 1, 1]}),
    "fcn8s": (64, {"scores": [21, 64, 64]}),
    "unet": (32, {"bottom": [1024, 2, 2], "scores": [2, 32, 32]}),
    "edge_compass": (16, {"edges": [1, 16, 16]}),
    **MODERN_SMALL,
}


@pytest.mark.parametrize("stem", sorted(SMALL))
def test_small_input_keeps_parameters(stem):
    size, shapes = SMALL[stem]
    net = load(stem, size=size)
    assert net.totals["params"] == PARAMS[stem][1]
    for name, shape in shapes.items():
        assert dims(net.values[name]["shape"]) == shape


def test_vgg_small_input_shrinks_only_the_first_dense_layer():
    """torchvision pools adaptively to 7x7; the language has no adaptive pooling, so
    at 32x32 the flattened features are 512x1x1 and fc6 has 512 inputs instead of 25,088."""
    for stem in ("vgg11", "vgg13_bn", "vgg19"):
        net = load(stem, size=32)
        assert dims(net.values["features"]["shape"]) == [512, 1, 1]
        assert net.totals["params"] == PARAMS[stem][1] - (512 * 7 * 7 - 512) * 4096


def test_classes_override():
    assert load("resnet18", classes=10).totals["params"] == TORCHVISION_PARAMS["resnet18"] - dense(512, 990)
    assert load("fcn8s", classes=2).values["scores"]["shape"] == ["N", 2, 224, 224]


EXAMPLES = {"lenet5", "alexnet", "vgg16", "resnet50", "googlenet", "unet_small", "localizer", "edges"}
NEW_FILES = sorted({p.stem for p in ARCHITECTURES.glob("*.cnn")} - EXAMPLES)


@pytest.mark.parametrize("stem", NEW_FILES)
def test_header_cites_a_paper(stem):
    header = []
    for line in (ARCHITECTURES / f"{stem}.cnn").read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    text = " ".join(header)
    assert re.search(r"\b(19|20)\d\d\b", text), f"{stem}.cnn: header cites no paper (author, year)"


def test_every_architecture_is_listed_in_the_docs():
    text = DOCS.read_text()
    missing = [p.name for p in sorted(ARCHITECTURES.glob("*.cnn")) if f"`{p.name}`" not in text]
    assert not missing, f"docs/architectures.md does not list {missing}"


def test_every_architecture_has_expectations_here_or_in_expected_json():
    assert set(NEW_FILES) <= set(PARAMS)


# -- the fixed kernels compute what their names say ------------------------------------

KIRSCH_N = np.array([[5, 5, 5], [-3, 0, -3], [-3, -3, -3]], dtype=np.float64)
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)


def _correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Zero-padded 'same' cross-correlation."""
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)))
    out = np.zeros_like(image)
    for i in range(kh):
        for j in range(kw):
            out += kernel[i, j] * padded[i : i + image.shape[0], j : j + image.shape[1]]
    return out


def _rotations(kernel: np.ndarray) -> list:
    """The eight compass masks: the border ring turned clockwise by one cell at a time."""
    ring = [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0)]
    out = []
    for r in range(8):
        k = np.zeros_like(kernel)
        for idx, (i, j) in enumerate(ring):
            si, sj = ring[(idx - r) % 8]
            k[i, j] = kernel[si, sj]
        out.append(k)
    return out


def test_edge_network_computes_sobel_energy_and_kirsch_compass():
    pytest.importorskip("onnxruntime")
    size = 16
    net = load("edge_compass", size=size)
    session = net.session(providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    image = rng.random((1, 1, size, size), dtype=np.float32)
    energy, compass, edges = session.run(["energy", "compass", "edges"], {"image": image})

    x = image[0, 0].astype(np.float64)
    taps = np.arange(-2, 3)
    g = np.exp(-(taps[:, None] ** 2 + taps[None, :] ** 2) / 2.0)  # sigma 1, sampled at the taps
    smooth = _correlate(x, g / g.sum())

    gx, gy = _correlate(smooth, SOBEL_X), _correlate(smooth, SOBEL_X.T)
    np.testing.assert_allclose(energy[0, 0], gx**2 + gy**2, rtol=1e-4, atol=1e-4)
    for channel, mask in enumerate(_rotations(KIRSCH_N)):  # n, ne, e, se, s, sw, w, nw
        np.testing.assert_allclose(compass[0, channel], _correlate(smooth, mask), rtol=1e-4, atol=1e-4)
    assert edges.shape == (1, 1, size, size) and np.all((edges > 0) & (edges < 1))
