"""How each layer kind reads in PyTorch: its module, its call in `forward`, its tensor names.

One entry of :data:`MODULES` per layer kind (tests check that every kind in
:data:`cnndsl.layers.LAYERS` has one). An entry is a function ``(layer, node,
shapes) -> Torch``: the module constructor as Python source (None for
operations without state, written inline) and the call, a format string whose
``{m}`` is the module and ``{0}``, ``{1}``, … the inputs. This module writes
source text only; it never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import usage_error


@dataclass(frozen=True)
class Torch:
    module: str | None  # constructor source: `nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)`
    call: str = "{m}({0})"
    uses: tuple = ()  # names the generated file must import: "torch", "functional"
    setup: tuple = ()  # statements after construction, `{m}` the module: fixed kernels
    constants: tuple = ()  # (name, value) pairs defined at the top of the file
    helpers: tuple = ()  # names of the small classes of HELPERS the module needs


def size(pair) -> str:
    """`3` for (3, 3), `(1, 7)` otherwise."""
    pair = tuple(pair)
    return str(pair[0]) if len(set(pair)) == 1 else repr(pair)


def _options(**options) -> str:
    """`, stride=2, bias=False`: the options that differ from PyTorch's defaults (given as (value, default))."""
    return "".join(f", {key}={value}" for key, (value, default) in options.items() if value != default)


def _pad_call(pads, value: str = "") -> str:
    """`functional.pad({0}, (left, right, top, bottom))` for asymmetric padding."""
    top, left, bottom, right = pads
    return f"{{m}}(functional.pad({{0}}, ({left}, {right}, {top}, {bottom}){value}))"


def _symmetric(pads) -> bool:
    return pads[0] == pads[2] and pads[1] == pads[3]


def conv(layer, node, shapes) -> Torch:
    a, pads = layer.attrs, layer.pads_for(shapes[0])
    cin, cout, groups = layer.in_channels(shapes), layer.out_channels(shapes), layer.group_count(shapes)
    padding = size(pads[:2]) if _symmetric(pads) else "0"
    options = _options(
        stride=(size(a["strides"]), "1"),
        padding=(padding, "0"),
        dilation=(size(a["dilations"]), "1"),
        groups=(str(groups), "1"),
        bias=(str(a["bias"]), "True"),
    )
    module = f"nn.Conv2d({cin}, {cout}, {size(a['kernel_shape'])}{options})"
    call, uses, setup = "{m}({0})", (), ()
    if not _symmetric(pads):
        call, uses = _pad_call(pads), ("functional",)
    if a.get("weights") is not None:
        from ...layers.kernels import kernel_for

        kernel = kernel_for(a["weights"], *a["kernel_shape"])
        how, what = a["weights"]
        name = "kernel" if how == "literal" else str(what) if how == "named" else f"gaussian_{what:g}".replace(".", "_")
        name = f"{name}_{len(kernel)}x{len(kernel[0])}".upper()
        setup = (f"{{m}}.weight.data.copy_(torch.tensor({name}).expand_as({{m}}.weight))",)
        setup += ("{m}.bias.data.zero_()",) if a["bias"] else ()
        return Torch(module, call, (*uses, "torch"), setup, ((name, kernel),))
    return Torch(module, call, uses)


def conv_transpose(layer, node, shapes) -> Torch:
    a, pads = layer.attrs, layer.pads_for(shapes[0])
    cin, cout = layer.in_channels(shapes), layer.out_channels(shapes)
    padding = size(pads[:2]) if _symmetric(pads) else "0"
    options = _options(
        stride=(size(a["strides"]), "1"),
        padding=(padding, "0"),
        output_padding=(size(a["output_padding"]), "0"),
        groups=(str(layer.group_count(shapes)), "1"),
        bias=(str(a["bias"]), "True"),
        dilation=(size(a["dilations"]), "1"),
    )
    module = f"nn.ConvTranspose2d({cin}, {cout}, {size(a['kernel_shape'])}{options})"
    if _symmetric(pads):
        return Torch(module)
    height, width = node.shape[2:]
    top, left = pads[:2]
    return Torch(module, f"{{m}}({{0}})[:, :, {top}:{top + height}, {left}:{left + width}]")


def batch_norm(layer, node, shapes) -> Torch:
    rank = "2d" if len(shapes[0]) == 4 else "1d"
    return Torch(f"nn.BatchNorm{rank}({shapes[0][1]}{_options(eps=(repr(layer.attrs['epsilon']), '1e-05'))})")


def dense(layer, node, shapes) -> Torch:
    bias = _options(bias=(str(layer.attrs["bias"]), "True"))
    return Torch(f"nn.Linear({shapes[0][1]}, {layer.attrs['out']}{bias})")


def _pool(cls: str, layer, shapes, extra: str = "", fill: str = "") -> Torch:
    a, pads = layer.attrs, layer.pads_for(shapes[0])
    padding = size(pads[:2]) if _symmetric(pads) else "0"
    options = _options(stride=(size(layer.strides), size(a["kernel_shape"])), padding=(padding, "0"))
    options += _options(ceil_mode=(str(a.get("ceil", False)), "False"))
    module = f"nn.{cls}({size(a['kernel_shape'])}{options}{extra})"
    if _symmetric(pads):
        return Torch(module)
    if fill is None:
        raise usage_error(
            f"`{layer.kind}` with uneven padding {list(pads)} and include_pad=false has no PyTorch module",
            "E1102",
            "pad explicitly (`pad(...)`) or choose padding that is the same on both sides",
        )
    return Torch(module, _pad_call(pads, fill), ("functional",))


def max_pool(layer, node, shapes) -> Torch:
    return _pool("MaxPool2d", layer, shapes, fill=', value=float("-inf")')


def avg_pool(layer, node, shapes) -> Torch:
    pads = layer.pads_for(shapes[0])
    include = layer.attrs["include_pad"]
    extra = ", count_include_pad=False" if any(pads) and not include else ""
    return _pool("AvgPool2d", layer, shapes, extra, fill="" if include or not any(pads) else None)


def lp_pool(layer, node, shapes) -> Torch:
    a = layer.attrs
    stride = _options(stride=(size(layer.strides), size(a["kernel_shape"])))
    module = f"nn.LPPool2d({a['p']}, {size(a['kernel_shape'])}{stride})"
    # ONNX sums |x|^p; PyTorch sums x^p, the same for even p only
    return Torch(module, "{m}({0})" if a["p"] % 2 == 0 else "{m}({0}.abs())")


def pad(layer, node, shapes) -> Torch:
    top, left, bottom, right = layer.attrs["pads"]
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}[layer.attrs["mode"]]
    value = f", value={layer.attrs['value']!r}" if mode == "constant" and layer.attrs["value"] else ""
    options = "" if mode == "constant" else f', mode="{mode}"'
    return Torch(None, f"functional.pad({{0}}, ({left}, {right}, {top}, {bottom}){options}{value})", ("functional",))


def upsample(layer, node, shapes) -> Torch:
    """PyTorch's `nearest` reads floor(o * in / out), as the ONNX model (asymmetric, floor)."""
    size = "{1}.shape[2:]" if len(shapes) > 1 else repr(tuple(node.shape[2:]))
    mode = '"nearest"' if layer.attrs["mode"] == "nearest" else '"bilinear"'
    if layer.attrs["mode"] == "linear":
        mode += f", align_corners={bool(layer.attrs.get('align_corners'))}"
    return Torch(None, f"functional.interpolate({{0}}, size={size}, mode={mode})", ("functional",))


def _affine_norm(layer, node, shapes) -> Torch:
    channels, eps = shapes[0][1], _options(eps=(repr(layer.attrs["epsilon"]), "1e-05"))
    if layer.kind == "groupnorm":
        return Torch(f"nn.GroupNorm({layer.attrs['num_groups']}, {channels}{eps})")
    if layer.kind == "instancenorm":
        return Torch(f"nn.InstanceNorm2d({channels}{eps}, affine=True)")
    if len(shapes[0]) == 2:
        return Torch(f"nn.LayerNorm({channels}{eps})")
    return Torch(f"LayerNorm2d({channels}{eps})", helpers=("LayerNorm2d",))


def _pick(layer, node, shapes) -> Torch:
    start, stop = layer.bounds(shapes[0][1])
    return Torch(None, f"{{0}}[:, {start}:{stop}]")


# Small modules PyTorch lacks, written into the generated file when used
HELPERS = {
    "LayerNorm2d": '''class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels at every position of [N, C, H, W] (ConvNeXt's)."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)''',
    "ChannelScale": '''class ChannelScale(nn.Module):
    """A learned multiplier per channel (cnndsl's `scale`, ConvNeXt's layer scale)."""

    def __init__(self, shape, init):
        super().__init__()
        self.weight = nn.Parameter(torch.full(shape, float(init)))

    def forward(self, x):
        return x * self.weight''',
    "DropPath": '''class DropPath(nn.Module):
    """Stochastic depth: in training, drops whole samples of a branch with probability p."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device) >= self.p
        return x * keep / (1 - self.p)''',
}


def _fixed(source: str):
    return lambda layer, node, shapes: Torch(source)


def _activation(cls: str, option: str = ""):
    def make(layer, node, shapes) -> Torch:
        value = f"{layer.attrs[option]!r}" if option else ""
        return Torch(f"nn.{cls}({value})")

    return make


def _softmax(cls: str):
    return lambda layer, node, shapes: Torch(f"nn.{cls}(dim={layer.attrs['axis']})")


def _merge(separator: str):
    def make(layer, node, shapes) -> Torch:
        return Torch(None, separator.join(f"{{{i}}}" for i in range(len(shapes))))

    return make


def maximum(layer, node, shapes) -> Torch:
    call = "{0}"
    for i in range(1, len(shapes)):
        call = f"torch.maximum({call}, {{{i}}})"
    return Torch(None, call, ("torch",))


def concat(layer, node, shapes) -> Torch:
    items = ", ".join(f"{{{i}}}" for i in range(len(shapes)))
    return Torch(None, f"torch.cat([{items}], dim=1)", ("torch",))


MODULES = {
    "conv": conv,
    "dwconv": conv,
    "convT": conv_transpose,
    "bn": batch_norm,
    "lrn": lambda layer, node, shapes: Torch(
        f"nn.LocalResponseNorm({layer.attrs['size']}, alpha={layer.attrs['alpha']!r}, "
        f"beta={layer.attrs['beta']!r}, k={layer.attrs['bias']!r})"
    ),
    "dropout": lambda layer, node, shapes: Torch(f"nn.Dropout({layer.attrs['ratio']!r})"),
    "relu": _fixed("nn.ReLU()"),
    "relu6": _fixed("nn.ReLU6()"),
    "leakyrelu": _activation("LeakyReLU", "alpha"),
    "elu": _activation("ELU", "alpha"),
    "selu": _fixed("nn.SELU()"),
    "gelu": _fixed("nn.GELU()"),
    "silu": _fixed("nn.SiLU()"),
    "sigmoid": _fixed("nn.Sigmoid()"),
    "tanh": _fixed("nn.Tanh()"),
    "hardswish": _fixed("nn.Hardswish()"),
    "prelu": lambda layer, node, shapes: Torch(f"nn.PReLU({shapes[0][1]})"),
    "softmax": _softmax("Softmax"),
    "logsoftmax": _softmax("LogSoftmax"),
    "maxpool": max_pool,
    "avgpool": avg_pool,
    "lppool": lp_pool,
    "gap": _fixed("nn.AdaptiveAvgPool2d(1)"),
    "gmp": _fixed("nn.AdaptiveMaxPool2d(1)"),
    "flatten": _fixed("nn.Flatten()"),
    "dense": dense,
    "identity": _fixed("nn.Identity()"),
    "pad": pad,
    "upsample": upsample,
    "hardsigmoid": _fixed("nn.Hardsigmoid()"),
    "softplus": _fixed("nn.Softplus()"),
    "mish": _fixed("nn.Mish()"),
    "layernorm": _affine_norm,
    "groupnorm": _affine_norm,
    "instancenorm": _affine_norm,
    "scale": lambda layer, node, shapes: Torch(
        f"ChannelScale({(1, shapes[0][1], *[1] * (len(shapes[0]) - 2))!r}, {layer.attrs['init']!r})",
        uses=("torch",),
        helpers=("ChannelScale",),
    ),
    "droppath": lambda layer, node, shapes: Torch(
        f"DropPath({layer.attrs['ratio']!r})", uses=("torch",), helpers=("DropPath",)
    ),
    "slice": _pick,
    "chunk": lambda layer, node, shapes: Torch(
        None, f"{{0}}.chunk({layer.attrs['parts']}, dim=1)[{layer.attrs['index']}]"
    ),  # equal parts (cnndsl checks that they divide), so torch.chunk cuts where `chunk` does
    "pixel_shuffle": lambda layer, node, shapes: Torch(f"nn.PixelShuffle({layer.attrs['blocksize']})"),
    "pixel_unshuffle": lambda layer, node, shapes: Torch(f"nn.PixelUnshuffle({layer.attrs['blocksize']})"),
    "channel_shuffle": lambda layer, node, shapes: Torch(f"nn.ChannelShuffle({layer.attrs['groups']})"),
    "concat": concat,
    "add": _merge(" + "),
    "mul": _merge(" * "),
    "maximum": maximum,
}


def torch_for(node, shapes) -> Torch:
    """The PyTorch form of `node`, whose inputs have `shapes`."""
    make = MODULES.get(node.op)
    if make is None:
        raise usage_error(
            f"layer kind `{node.op}` has no PyTorch form yet", "E1101", "export to ONNX instead (`cnndsl compile`)"
        )
    return make(node.layer, node, shapes)
