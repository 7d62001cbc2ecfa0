"""The networks of today (LANGUAGE.md Part 2) against their published figures.

Expected numbers never come from the code under test. Sources:

* ``num_params`` and ``_ops`` of torchvision's weight metadata,
  ``torchvision.models.get_model_weights(name).DEFAULT.meta`` (torchvision 0.29),
  which is also the "Params" and "GFLOPS" columns of
  https://pytorch.org/vision/stable/models.html. ``_ops`` counts the
  multiply-accumulates of the convolutions and linear layers, in billions, to
  three decimals (docs/cost-model.md), at the resolution of the weights'
  transforms (crop 224, EfficientNet B1-B7 240 to 600, DeepLabV3 520).
* BN state: the running mean and variance (2 x channels of every BatchNorm2d)
  counted in a torchvision 0.29.1 model instance; torchvision publishes no such
  column. With torchvision installed, the last test recounts it, with the
  parameters, MACs and output shapes, at a small input size.
* YOLOv2 has no torchvision twin: its figures are derived here by hand from the
  authors' yolo-voc.cfg (Redmon & Farhadi 2017).
"""

from __future__ import annotations

import pytest
from conftest import dims
from conftest import zoo_network as load

import cnndsl

# id: (file stem, overrides, network name, params (torchvision num_params), BN state, _ops GMACs)
MODERN = {
    "mobilenet_v2": ("mobilenet_v2", {}, "MobileNetV2", 3_504_872, 34_112, 0.301),
    "mobilenet_v3_small": ("mobilenet_v3_small", {}, "MobileNetV3Small", 2_542_856, 12_112, 0.057),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}, "MobileNetV3Large", 5_483_032, 24_400, 0.217),
    "efficientnet_b0": ("efficientnet", {}, "EfficientNet", 5_288_548, 42_016, 0.386),
    "efficientnet_b1": ("efficientnet", {"depth": 1.1, "size": 240}, "EfficientNet", 7_794_184, 62_048, 0.687),
    "efficientnet_b2": (
        "efficientnet",
        {"width": 1.1, "depth": 1.2, "size": 288},
        "EfficientNet",
        9_109_994,
        67_568,
        1.088,
    ),
    "efficientnet_b3": (
        "efficientnet",
        {"width": 1.2, "depth": 1.4, "size": 300},
        "EfficientNet",
        12_233_232,
        87_296,
        1.827,
    ),
    "efficientnet_b4": (
        "efficientnet",
        {"width": 1.4, "depth": 1.8, "size": 380},
        "EfficientNet",
        19_341_616,
        125_200,
        4.394,
    ),
    "efficientnet_b5": (
        "efficientnet",
        {"width": 1.6, "depth": 2.2, "size": 456},
        "EfficientNet",
        30_389_784,
        172_736,
        10.266,
    ),
    "efficientnet_b6": (
        "efficientnet",
        {"width": 1.8, "depth": 2.6, "size": 528},
        "EfficientNet",
        43_040_704,
        224_432,
        19.068,
    ),
    "efficientnet_b7": (
        "efficientnet",
        {"width": 2.0, "depth": 3.1, "size": 600},
        "EfficientNet",
        66_347_960,
        310_720,
        37.746,
    ),
    "resnext50_32x4d": ("resnext50_32x4d", {}, "ResNeXt50", 25_028_904, 68_224, 4.23),
    "wide_resnet50_2": ("wide_resnet50_2", {}, "WideResNet50", 68_883_240, 68_224, 11.398),
    "shufflenet_v2_x0_5": ("shufflenet_v2", {"width": 0.5}, "ShuffleNetV2", 1_366_792, 7_952, 0.04),
    "shufflenet_v2_x1_0": ("shufflenet_v2", {}, "ShuffleNetV2", 2_278_604, 16_180, 0.145),
    "shufflenet_v2_x1_5": ("shufflenet_v2", {"width": 1.5}, "ShuffleNetV2", 3_503_624, 23_440, 0.296),
    "shufflenet_v2_x2_0": ("shufflenet_v2", {"width": 2.0}, "ShuffleNetV2", 7_393_996, 33_716, 0.583),
    "regnet_y_400mf": ("regnet_y_400mf", {}, "RegNetY400MF", 4_344_144, 27_152, 0.402),
    "regnet_y_800mf": ("regnet_y_800mf", {}, "RegNetY800MF", 6_432_512, 30_432, 0.834),
    "convnext_tiny": ("convnext_tiny", {}, "ConvNeXtTiny", 28_589_128, 0, 4.456),
    "convnext_small": ("convnext_small", {}, "ConvNeXtSmall", 50_223_688, 0, 8.684),
    "densenet121": ("densenet121", {}, "DenseNet121", 7_978_856, 83_648, 2.834),
    "squeezenet1_1": ("squeezenet1_1", {}, "SqueezeNet11", 1_235_496, 0, 0.349),
    # torchvision publishes the weights with the auxiliary FCN head: 42,004,074 parameters
    # and 178.722 GMACs (the aux head runs in eval mode too); without it 39,638,869.
    "deeplabv3_resnet50_aux": (
        "deeplabv3_resnet50",
        {"aux": True, "size": 520},
        "DeepLabV3ResNet50",
        42_004_074,
        57_216,
        178.722,
    ),
}
DEEPLAB_NO_AUX = 39_638_869  # torchvision deeplabv3_resnet50(aux_loss=False)
DEEPLAB_NO_AUX_STATE = 56_704


# -- YOLOv2, by hand from yolo-voc.cfg ----------------------------------------------------


def unit(cin: int, cout: int, k: int) -> int:
    """Darknet convolution with batch norm: no bias; the norm's scale and shift."""
    return cin * cout * k * k + 2 * cout


# (input channels, output channels, kernel, output side at 416x416) of every convolution.
YOLOV2_CONVS = [
    (3, 32, 3, 416),
    (32, 64, 3, 208),
    (64, 128, 3, 104),
    (128, 64, 1, 104),
    (64, 128, 3, 104),
    (128, 256, 3, 52),
    (256, 128, 1, 52),
    (128, 256, 3, 52),
    (256, 512, 3, 26),
    (512, 256, 1, 26),
    (256, 512, 3, 26),
    (512, 256, 1, 26),
    (256, 512, 3, 26),
    (512, 1024, 3, 13),
    (1024, 512, 1, 13),
    (512, 1024, 3, 13),
    (1024, 512, 1, 13),
    (512, 1024, 3, 13),
    (1024, 1024, 3, 13),
    (1024, 1024, 3, 13),  # detection head
    (512, 64, 1, 26),  # passthrough: 26x26x64 -> reorg -> 13x13x256
    (256 + 1024, 1024, 3, 13),  # after the route joins both
]
YOLOV2_OUT = 5 * (5 + 20)  # 5 anchors x (x, y, w, h, objectness + 20 VOC classes) = 125
YOLOV2_PARAMS = sum(unit(i, o, k) for i, o, k, _ in YOLOV2_CONVS) + 1024 * YOLOV2_OUT + YOLOV2_OUT
YOLOV2_STATE = 2 * sum(o for _, o, _, _ in YOLOV2_CONVS)
YOLOV2_MACS = sum(i * o * k * k * s * s for i, o, k, s in YOLOV2_CONVS) + 1024 * YOLOV2_OUT * 13 * 13

# U-Net (figure 1 of Ronneberger et al. 2015), the same count as test_zoo.UNET_PARAMS.
UNET_PARAMS = 31_030_658
UNET_LEVELS = [64, 128, 256, 512, 1024]


def unet_macs(size: int, classes: int = 2) -> int:
    """By hand: 3x3 convolutions at each level's side (each 2x2 pool floors), 2x2
    up-convolutions from the level below (input elements x 4 taps x channels), the
    1x1 scores; the resize after an up-convolution adds no MACs."""
    sides = [size]
    for _ in UNET_LEVELS[1:]:
        sides.append(sides[-1] // 2)
    total, cin = 0, 1
    for c, s in zip(UNET_LEVELS, sides):
        total += (cin * c + c * c) * 9 * s * s
        cin = c
    for k in range(len(UNET_LEVELS) - 2, -1, -1):
        c, s, below = UNET_LEVELS[k], sides[k], sides[k + 1]
        total += below * below * (2 * c) * c * 4 + (2 * c * c + c * c) * 9 * s * s
    return total + 64 * classes * s * s


# file stem -> (network name, parameters, source): the default network of each file.
MODERN_PARAMS = {
    **{
        stem: (name, params, "torchvision num_params") for stem, over, name, params, _, _ in MODERN.values() if not over
    },
    "deeplabv3_resnet50": ("DeepLabV3ResNet50", DEEPLAB_NO_AUX, "torchvision num_params, aux_loss=False"),
    "yolov2": ("YOLOv2", YOLOV2_PARAMS, "yolo-voc.cfg, by hand"),
    "unet_any": ("UNetAnySize", UNET_PARAMS, "paper, by hand"),
}

# Small inputs for tests/test_zoo.py (parameters kept) and tests/test_zoo_runtime.py.
MODERN_SMALL = {
    "mobilenet_v2": (32, {"features": [1280, 1, 1]}),
    "mobilenet_v3_small": (32, {"features": [576, 1, 1]}),
    "efficientnet": (32, {"features": [1280, 1, 1]}),
    "shufflenet_v2": (32, {"features": [1024, 1, 1]}),
    "regnet_y_400mf": (32, {"features": [440, 1, 1]}),
    "convnext_tiny": (32, {"features": [768, 1, 1]}),  # torchvision's min_size
    "densenet121": (32, {"b4": [1024, 1, 1]}),
    "squeezenet1_1": (17, {"features": [512, 1, 1]}),  # torchvision's min_size
    "resnext50_32x4d": (32, {"c5": [2048, 1, 1]}),
    "deeplabv3_resnet50": (33, {"c5": [2048, 5, 5], "scores": [21, 33, 33]}),
    "yolov2": (64, {"detections": [125, 2, 2]}),
    "unet_any": (37, {"bottom": [1024, 2, 2], "scores": [2, 37, 37]}),
}


@pytest.mark.parametrize("key", sorted(MODERN))
def test_torchvision_params_state_and_ops(key):
    stem, overrides, name, params, state, ops = MODERN[key]
    net = load(stem, **overrides)
    assert net.name == name
    assert (net.totals["params"], net.totals["state"]) == (params, state)
    assert abs(net.totals["macs"] / 1e9 - ops) <= 0.0005 + 1e-12, f"{net.totals['macs']:,} MACs, torchvision {ops} G"


def test_deeplab_without_its_auxiliary_head():
    net = load("deeplabv3_resnet50", size=520)
    assert (net.totals["params"], net.totals["state"]) == (DEEPLAB_NO_AUX, DEEPLAB_NO_AUX_STATE)
    assert {o["name"]: dims(o["shape"]) for o in net.outputs} == {"scores": [21, 520, 520]}
    with_aux = load("deeplabv3_resnet50", aux=True, size=520)
    assert {o["name"]: dims(o["shape"]) for o in with_aux.outputs} == {
        "scores": [21, 520, 520],
        "aux_scores": [21, 520, 520],
    }
    # the FCN head: conv 3x3 1024 -> 256 without bias, bn, conv 1x1 256 -> 21
    assert with_aux.totals["params"] - net.totals["params"] == 1024 * 256 * 9 + 2 * 256 + 256 * 21 + 21


@pytest.mark.parametrize("size", [97, 224, 513])
def test_deeplab_at_any_size(size):
    """Output stride 8 (two dilated stages), scores resized to the input."""
    net = load("deeplabv3_resnet50", size=size)
    assert net.totals["params"] == DEEPLAB_NO_AUX
    c5 = -(-size // 2)  # the stem's conv and max pool and c3's stride each round up
    for _ in range(2):
        c5 = -(-c5 // 2)
    assert dims(net.values["c5"]["shape"]) == [2048, c5, c5]
    assert dims(net.outputs[0]["shape"]) == [21, size, size]


# Published feature-map sizes at the default input.
MODERN_VALUES = {
    "mobilenet_v2": {"features": [1280, 7, 7]},
    "mobilenet_v3_small": {"features": [576, 7, 7]},
    "mobilenet_v3_large": {"features": [960, 7, 7]},
    "efficientnet": {"features": [1280, 7, 7]},
    "resnext50_32x4d": {"c2": [256, 56, 56], "c3": [512, 28, 28], "c4": [1024, 14, 14], "c5": [2048, 7, 7]},
    "wide_resnet50_2": {"c2": [256, 56, 56], "c3": [512, 28, 28], "c4": [1024, 14, 14], "c5": [2048, 7, 7]},
    "shufflenet_v2": {"features": [1024, 7, 7]},  # Table 5: Conv5 at 7x7
    "regnet_y_800mf": {"features": [784, 7, 7]},
    "convnext_tiny": {"features": [768, 7, 7]},
    "convnext_small": {"features": [768, 7, 7]},
    # DenseNet Table 1: dense blocks at 56, 28, 14, 7; 64 + 6 x 32 = 256 channels after block 1
    "densenet121": {
        "b1": [256, 56, 56],
        "t1": [128, 28, 28],
        "b2": [512, 28, 28],
        "b3": [1024, 14, 14],
        "b4": [1024, 7, 7],
    },
    "squeezenet1_1": {"f2": [128, 55, 55], "f4": [256, 27, 27], "features": [512, 13, 13]},
    "deeplabv3_resnet50": {"c3": [512, 28, 28], "c4": [1024, 28, 28], "c5": [2048, 28, 28]},  # stride 8 at 224
    # YOLOv2 at 416: 26x26 fine features, 13x13 grid, passthrough 26x26x64 -> 13x13x256
    "yolov2": {
        "fine": [512, 26, 26],
        "coarse": [1024, 13, 13],
        "passthrough": [256, 13, 13],
        "detections": [125, 13, 13],
    },
    # U-Net at 200: pools floor 25 -> 12, the up step from 12 resizes 24 to the skip's 25
    "unet_any": {
        "d3": [256, 50, 50],
        "d4": [512, 25, 25],
        "bottom": [1024, 12, 12],
        "u4": [512, 25, 25],
        "u1": [64, 200, 200],
        "scores": [2, 200, 200],
    },
}


@pytest.mark.parametrize("stem", sorted(MODERN_VALUES))
def test_feature_maps(stem):
    values = load(stem).values
    assert {name: dims(values[name]["shape"]) for name in MODERN_VALUES[stem]} == MODERN_VALUES[stem]


def test_yolov2_by_hand():
    net = load("yolov2")
    assert YOLOV2_PARAMS == 50_655_389 and YOLOV2_OUT == 125
    assert (net.totals["params"], net.totals["state"], net.totals["macs"]) == (YOLOV2_PARAMS, YOLOV2_STATE, YOLOV2_MACS)
    voc = load("yolov2", classes=80)  # COCO: 5 x 85 outputs per cell
    assert dims(voc.outputs[0]["shape"]) == [425, 13, 13]


@pytest.mark.parametrize("size", [101, 256, 572])
def test_unet_any_size(size):
    net = load("unet_any", size=size)
    assert net.totals["params"] == UNET_PARAMS
    assert dims(net.outputs[0]["shape"]) == [2, size, size]
    assert net.totals["macs"] == unet_macs(size)


def test_shufflenet_width_outside_table_5_is_an_error():
    with pytest.raises(cnndsl.CnnError, match="out of range"):
        load("shufflenet_v2", width=0.75)


def test_upsample_like_names_a_tensor():
    """`upsample(like=x)` resizes to the size of `x` (lang reads Layer.tensor_arguments)."""
    net = cnndsl.loads("network T { input x: [1, 8, 8]; maxpool(2); output y = upsample(like=x) }")
    assert dims(net.outputs[0]["shape"]) == [1, 8, 8]


# -- with torchvision installed: the same figures recounted in a model instance -------------

# id -> (torchvision builder name, keyword arguments, small input size)
TORCHVISION_TWINS = {
    "mobilenet_v2": ("mobilenet_v2", {}, 64),
    "mobilenet_v3_small": ("mobilenet_v3_small", {}, 64),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}, 64),
    "efficientnet_b0": ("efficientnet_b0", {}, 64),
    "efficientnet_b3": ("efficientnet_b3", {}, 64),
    "resnext50_32x4d": ("resnext50_32x4d", {}, 64),
    "shufflenet_v2_x0_5": ("shufflenet_v2_x0_5", {}, 64),
    "shufflenet_v2_x2_0": ("shufflenet_v2_x2_0", {}, 64),
    "regnet_y_800mf": ("regnet_y_800mf", {}, 64),
    "convnext_tiny": ("convnext_tiny", {}, 64),
    "densenet121": ("densenet121", {}, 64),
    "squeezenet1_1": ("squeezenet1_1", {}, 65),
    "deeplabv3_resnet50_aux": ("deeplabv3_resnet50", {"aux_loss": True, "weights_backbone": None}, 97),
}


def torch_figures(builder: str, kwargs: dict, size: int):
    """(params, BN state, conv + linear MACs, output shapes) of a torchvision model at `size`."""
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("torchvision.models")
    model = models.get_model(builder, weights=None, **kwargs).eval()
    macs = [0]

    def count(module, _, out):
        if isinstance(module, torch.nn.Linear):
            macs[0] += out[0].numel() * module.in_features
        else:  # each output element reads in/groups channels through the kernel
            macs[0] += (
                out[0].numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            )

    hooks = [
        m.register_forward_hook(count) for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)
    ]
    with torch.no_grad():
        out = model(torch.zeros(1, 3, size, size))
    for hook in hooks:
        hook.remove()
    params = sum(p.numel() for p in model.parameters())
    state = sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    shapes = [list(v.shape[1:]) for v in out.values()] if isinstance(out, dict) else [list(out.shape[1:])]
    return params, state, macs[0], shapes


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(TORCHVISION_TWINS))
def test_torchvision_instance_agrees_at_a_small_size(key):
    builder, kwargs, size = TORCHVISION_TWINS[key]
    params, state, macs, shapes = torch_figures(builder, kwargs, size)
    stem, overrides, _, published, _, _ = MODERN[key]
    net = load(stem, **{**overrides, "size": size})
    assert params == published  # the metadata and the instance agree
    assert (net.totals["params"], net.totals["state"], net.totals["macs"]) == (params, state, macs)
    assert [dims(o["shape"]) for o in net.outputs] == shapes
