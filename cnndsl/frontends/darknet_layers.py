"""One function per Darknet section kind: the statement it becomes and the shape it gives.

Sizes follow Darknet's parser (`parse_convolutional`, `parse_maxpool`, …):
convolution `(h + 2*pad - size) / stride + 1` with `pad=1` meaning `size/2`;
max pooling `(h + padding - size) / stride + 1` with `padding = size - 1` by
default, the windows starting `padding/2` before the image; `[avgpool]` is
global; `[reorg]` is AlexeyAB's space-to-depth, the block offset before the
channel (`pixel_unshuffle` then `channel_shuffle`).
"""

from __future__ import annotations

from .darknet_cfg import Reader
from .writer import Value, call


def translate(reader: Reader, index: int) -> None:
    kind = reader.section.kind
    handler = {
        "conv": convolutional, "convolutional": convolutional, "maxpool": maxpool, "max": maxpool,
        "avgpool": avgpool, "avg": avgpool, "route": route, "shortcut": shortcut, "upsample": upsample,
        "reorg": reorg, "dropout": dropout, "connected": connected, "conn": connected, "softmax": softmax,
        "soft": softmax, "yolo": detection, "region": detection,
    }[kind]  # fmt: skip
    handler(reader, index)


def convolutional(reader: Reader, index: int) -> None:
    channels, height, width = reader.image("convolutional")
    filters = reader.integer("filters", None, 1)
    size = reader.integer("size", 1, 1)
    stride = reader.integer("stride", 1, 1)
    groups = reader.integer("groups", 1, 1)
    for key in ("stride_x", "stride_y"):
        reader.refuse(key, (stride, -1), "the emitted convolution has one stride for both axes")
    reader.refuse("dilation", (1,), "Darknet's dilated sizes differ between versions")
    for key in ("xnor", "binary", "deform", "antialiasing", "assisted_excitation"):
        reader.refuse(key, (0,), "it has no cnndsl counterpart")
    reader.refuse("share_index", (), "shared weights have no cnndsl counterpart")
    padding = size // 2 if reader.integer("pad", 0) else reader.integer("padding", 0)
    bn = bool(reader.integer("batch_normalize", 0))
    if channels % groups or filters % groups:
        raise reader.error(f"groups={groups} does not divide {channels} input and {filters} output channels", "groups")
    out_h, out_w = ((n + 2 * padding - size) // stride + 1 for n in (height, width))
    if min(out_h, out_w) < 1:
        raise reader.error(f"a {size}x{size} window does not fit the {height}x{width} input", "size", code="E1226")
    options = {"stride": stride} if stride != 1 else {}
    options |= {"pad": padding} if padding else {}
    options |= {"groups": groups} if groups != 1 else {}
    options |= {"bias": False} if bn else {}
    chain = [call("conv", filters, size, **options), *(["bn"] if bn else []), *reader.activation()]
    statement = reader.emit(reader.start(reader.previous()) + " -> ".join(chain), (filters, out_h, out_w))
    reader.loads.append((reader.section, statement, "conv", (filters, channels // groups, size, size), bn))


def maxpool(reader: Reader, index: int) -> None:
    channels, height, width = reader.image("maxpool")
    stride = reader.integer("stride", 1, 1)
    size = reader.integer("size", stride, 1)
    padding = reader.integer("padding", size - 1)
    for key in ("stride_x", "stride_y"):
        reader.refuse(key, (stride, -1), "the emitted pooling has one stride for both axes")
    for key in ("maxpool_depth", "antialiasing"):
        reader.refuse(key, (0,), "it has no cnndsl counterpart")
    sizes = [(n + padding - size) // stride + 1 for n in (height, width)]
    if min(sizes) < 1:
        raise reader.error(f"a {size}x{size} window does not fit the {height}x{width} input", "size", code="E1226")
    begin, end = padding // 2, padding - padding // 2
    options = {"stride": stride} if stride != size else {}
    unpadded = [(n - size) // stride + 1 for n in (height, width)]
    if padding and not (begin == 0 and unpadded == sizes):
        if max(begin, end) > size // 2:
            raise reader.error(f"padding={padding} puts more than half a {size}-wide window outside the image",
                               "padding", "cnndsl pools pad at most half the window on each side")  # fmt: skip
        options["pad"] = [begin, begin, end, end] if begin != end else begin
    statement = call("maxpool", size, **options)
    reader.emit(reader.start(reader.previous()) + statement, (channels, *sizes))


def avgpool(reader: Reader, index: int) -> None:
    channels, _, _ = reader.image("avgpool")
    reader.emit(reader.start(reader.previous()) + "gap", (channels, 1, 1))


def _indices(reader: Reader, key: str, index: int) -> list[int]:
    option = reader.option(key)
    if option is None:
        raise reader.error(f"[{reader.section.kind}] needs `{key}=`", code="E1223")
    out = []
    for part in option.value.split(","):
        try:
            value = int(part)
        except ValueError:
            raise reader.error(f"`{key}` must list layer numbers, got `{part.strip()}`", key, code="E1223") from None
        target = index + value if value < 0 else value
        if not 0 <= target < index:
            hint = f"layer {index} can refer to layers 0 to {index - 1} (or -1 to -{index})" if index else ""
            raise reader.error(f"`{key}`: {value} refers to layer {target}, which is not before layer {index}",
                               key, hint, "E1224")  # fmt: skip
        out.append(target)
    return out


def route(reader: Reader, index: int) -> None:
    sources = [reader.values[i] for i in _indices(reader, "layers", index)]
    groups, group = reader.integer("groups", 1, 1), reader.integer("group_id", 0)
    if group >= groups:
        raise reader.error(f"group_id={group} is not below groups={groups}", "group_id", code="E1223")
    for value in sources:
        if len(value.shape) != 3 or value.shape[1:] != sources[0].shape[1:] or value.shape[0] % groups:
            shapes = " and ".join(str(list(v.shape)) for v in sources)
            raise reader.error(f"cannot join {shapes} on channels in {groups} group(s)", "layers", code="E1226")
    pick = f" -> {call('chunk', groups, group)}" if groups > 1 else ""
    shape = (sum(v.shape[0] // groups for v in sources), *sources[0].shape[1:])
    if len(sources) == 1 and not pick:
        reader.values.append(Value(shape, sources[0].statement))
        return
    if len(sources) == 1:
        reader.emit(reader.start(sources[0]) + pick[4:], shape)
        return
    branches = "; ".join(reader.name(v) + pick for v in sources)
    reader.emit(f"concat {{ {branches} }}", shape)


def shortcut(reader: Reader, index: int) -> None:
    previous = reader.previous()
    sources = [reader.values[i] for i in _indices(reader, "from", index)]
    reader.refuse("weights_type", ("none",), "weighted shortcuts have no cnndsl counterpart")
    for value in sources:
        if value.shape != previous.shape:
            raise reader.error(f"cannot add {list(value.shape)} to {list(previous.shape)}", "from", code="E1226")
    branches = "; ".join([reader.name(previous), *(reader.name(v) for v in sources)])
    chain = " -> ".join([f"add {{ {branches} }}", *reader.activation("linear")])
    reader.emit(chain, previous.shape)


def upsample(reader: Reader, index: int) -> None:
    channels, height, width = reader.image("upsample")
    stride = reader.integer("stride", 2, 1)
    reader.refuse("scale", (1, "1.0", "1.", "1.000000"), "a scaled upsample has no cnndsl counterpart")
    layer = "upsample" if stride == 2 else call("upsample", stride)
    reader.emit(reader.start(reader.previous()) + layer, (channels, height * stride, width * stride))


def reorg(reader: Reader, index: int) -> None:
    channels, height, width = reader.image("reorg")
    stride = reader.integer("stride", 1, 1)
    for key in ("reverse", "flatten", "extra"):
        reader.refuse(key, (0,), "only the forward space-to-depth reorg is supported")
    if height % stride or width % stride:
        raise reader.error(f"the {height}x{width} input does not divide by stride={stride}", "stride", code="E1226")
    shape = (channels * stride * stride, height // stride, width // stride)
    chain = f"{call('pixel_unshuffle', stride)} -> {call('channel_shuffle', channels)}"
    reader.emit(reader.start(reader.previous()) + chain, shape)


def dropout(reader: Reader, index: int) -> None:
    p = reader.real("probability", 0.5)
    if not 0.0 <= p < 1.0:
        raise reader.error(f"`probability` must be in [0, 1), got {p}", "probability", code="E1223")
    reader.emit(reader.start(reader.previous()) + call("dropout", p), reader.previous().shape)


def connected(reader: Reader, index: int) -> None:
    previous = reader.previous()
    outputs = reader.integer("output", None, 1)
    bn = bool(reader.integer("batch_normalize", 0))
    features = 1
    for n in previous.shape:
        features *= n
    chain = ["flatten"] if len(previous.shape) == 3 else []
    chain += [call("dense", outputs, **({"bias": False} if bn else {})), *(["bn"] if bn else [])]
    statement = reader.emit(reader.start(previous) + " -> ".join(chain + reader.activation()), (outputs,))
    reader.loads.append((reader.section, statement, "dense", (outputs, features), bn))


def softmax(reader: Reader, index: int) -> None:
    reader.refuse("groups", (1,), "grouped softmax has no cnndsl counterpart")
    reader.refuse("temperature", (1, "1.0", "1."), "a softmax temperature has no cnndsl counterpart")
    reader.emit(reader.start(reader.previous()) + "softmax", reader.previous().shape)


def detection(reader: Reader, index: int) -> None:
    """[yolo] / [region]: the value before it becomes a named output; the decoding is not part of the graph."""
    previous = reader.previous()
    if previous.statement is None:
        raise reader.error(f"[{reader.section.kind}] directly on the input has nothing to mark as an output")
    statement = previous.statement
    if not statement.output:
        statement.output = True
        statement.bind = statement.bind or f"{reader.section.kind}{index}"
        reader.heads.append(statement.bind)
    reader.values.append(Value(previous.shape, statement))
