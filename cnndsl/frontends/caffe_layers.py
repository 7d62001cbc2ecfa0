"""One function per Caffe layer type: the statement it becomes and the shape it gives.

Sizes follow Caffe's layers: convolution `(h + 2*pad - (dilation*(k-1)+1)) / stride + 1`
rounded down; pooling rounded *up*, `ceil((h + 2*pad - k) / stride) + 1`, less
one when that last window would start in the padding (`PoolingLayer::Reshape`),
which is cnndsl's `ceil=true`; average pooling divides by the window clipped to
the padded image (`include_pad=true`). `BatchNorm` followed by `Scale` on its
output is one `bn`.
"""

from __future__ import annotations

from math import ceil

from ..errors import did_you_mean
from .prototxt import Field, Message, Word
from .writer import Builder, Value, call, identifier, located, number

V1_TYPES = {
    "CONVOLUTION": "Convolution", "POOLING": "Pooling", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "TANH": "TanH", "LRN": "LRN", "INNER_PRODUCT": "InnerProduct", "DROPOUT": "Dropout",
    "CONCAT": "Concat", "ELTWISE": "Eltwise", "SOFTMAX": "Softmax", "SPLIT": "Split", "FLATTEN": "Flatten",
}  # fmt: skip
"""Old `layers { type: CONVOLUTION }` enum names -> the layer type strings of `layer { }`."""


class CaffeReader(Builder):
    def __init__(self, path):
        super().__init__()
        self.path = path
        self.blobs: dict[str, Value] = {}
        self.inputs: list[tuple[str, tuple]] = []
        self.taken: set[str] = set()
        self.notes: list[str] = []
        self.loads: list[tuple] = []  # (layer name, Field for errors, statement, [(kind, role, shape)])
        self.layer = Message()

    def error(self, message: str, at: Field | Message | None = None, hint: str = "", code: str = "E1245"):
        at = at or self.layer
        width = at.width if isinstance(at, Field) else 5
        return located(code, message, self.path, at.line, at.column, width, hint)

    def add_input(self, name: str, dims: list, at: Field) -> None:
        if not all(isinstance(d, int) and 0 < d <= 1_000_000 for d in dims) or len(dims) not in (2, 4):
            raise self.error(f"input `{name}` has shape {dims}; expected [N, C, H, W] or [N, F]", at, code="E1243")
        cnn = identifier(name, self.taken)
        self.inputs.append((cnn, tuple(dims[1:])))
        self.blobs[name] = Value(tuple(dims[1:]), None, cnn)
        self.last_input = cnn

    def emit(self, chain: str, shape: tuple, top: str, fuse: bool = False) -> Value:
        """A new statement; with `fuse`, an in-place layer on the last statement joins its chain."""
        last = self.statements[-1] if self.statements else None
        in_place = fuse and last is not None and not last.bind and str(self.layer.get("bottom")) == top
        shared = sum(v.statement is last for v in self.blobs.values()) > 1  # a Split made other names for it
        kinds = [part.split("(")[0].strip() for part in last.chain.split("->")] if last else []
        again = chain.split("(")[0] in kinds  # one node of a kind per line: the sidecar keys by (line, kind)
        if in_place and self.start(self.blobs[top]) == "" and not shared and not again:
            last.chain += " -> " + chain
            return Value(shape, last)
        return self.statement(chain, shape, identifier(top, self.taken))

    def bottom(self, value: Value) -> str:
        return self.start(value)

    def image(self, value: Value) -> tuple:
        if len(value.shape) != 3:
            raise self.error(f"`{self.kind()}` needs an image [C, H, W], got {list(value.shape)}", code="E1246")
        return value.shape

    def kind(self) -> str:
        return str(self.layer.get("type", ""))

    def param(self, name: str) -> Message:
        found = self.layer.get(name)
        return found if isinstance(found, Message) else Message()

    def integer(self, params: Message, name: str, default: int | None, least: int = 0) -> int:
        found = params.first(name)
        if found is None:
            if default is None:
                raise self.error(f"`{self.kind()}` needs `{name}`", params if params.fields else None, code="E1243")
            return default
        if not isinstance(found.value, int) or isinstance(found.value, Word) or not least <= found.value <= 10**6:
            raise self.error(f"`{name}` must be an integer from {least} to 1000000", found, code="E1243")
        return found.value

    def real(self, params: Message, name: str, default: float) -> float:
        found = params.first(name)
        if found is None:
            return default
        if isinstance(found.value, (int, float)) and not isinstance(found.value, bool):
            return float(found.value)
        raise self.error(f"`{name}` must be a number", found, code="E1243")

    def flag(self, params: Message, name: str, default: bool) -> bool:
        found = params.first(name)
        if found is None:
            return default
        if str(found.value) not in ("true", "false"):
            raise self.error(f"`{name}` must be true or false", found, code="E1243")
        return str(found.value) == "true"

    def word(self, params: Message, name: str, default: str, allowed: tuple) -> str:
        found = params.first(name)
        value = str(found.value) if found else default
        if value not in allowed:
            raise self.error(f"`{name}: {value}` is not supported", found, "supported: " + ", ".join(allowed))
        return value

    def pair(self, params: Message, name: str, default: int | None, least: int = 0) -> tuple[int, int]:
        """`name` (one or two values) or `name_h` with `name_w` (kernel_size, stride, pad)."""
        base = name.removesuffix("_size")
        h, w = params.first(f"{base}_h"), params.first(f"{base}_w")
        if h or w:
            return tuple(self.integer(params, f"{base}_{axis}", default, least) for axis in "hw")
        values = params.all(name)
        if len(values) > 2:
            raise self.error(f"`{name}` given {len(values)} times; 2-d layers take one or two", values[2], code="E1243")
        if not values:
            value = self.integer(params, name, default, least)
            return (value, value)
        one = Message(values[:1])
        first = self.integer(one, name, None, least)
        return (first, self.integer(Message(values[1:]), name, None, least) if len(values) == 2 else first)


def translate(reader: CaffeReader, layer: Message, old: bool) -> None:
    reader.layer = layer
    kind = reader.kind()
    if old:
        kind = V1_TYPES.get(kind, kind)
        layer.fields = [f if f.name != "type" else Field("type", kind, f.line, f.column, f.width) for f in layer.fields]
    name = str(layer.get("name", kind))
    if kind == "Input":
        shape = reader.param("input_param").get("shape")
        dims = [d.value for d in shape.all("dim")] if isinstance(shape, Message) else []
        for top in layer.all("top"):
            reader.add_input(str(top.value), dims, top)
        return
    if kind not in HANDLERS:
        at = layer.first("type")
        hint = did_you_mean(kind, HANDLERS) or "supported: " + ", ".join(sorted(HANDLERS))
        if kind.endswith(("Data", "Loss", "Accuracy")):
            hint = "data, loss and accuracy layers belong to training: import the deploy prototxt"
        raise reader.error(f"layer `{name}`: type `{kind}` has no cnndsl counterpart", at, hint, "E1242")
    bottoms = []
    for f in layer.all("bottom"):
        if str(f.value) not in reader.blobs:
            hint = did_you_mean(str(f.value), reader.blobs)
            raise reader.error(f"layer `{name}` reads the blob `{f.value}`, which no earlier layer makes", f, hint,
                               "E1244")  # fmt: skip
        bottoms.append(reader.blobs[str(f.value)])
    tops = [str(f.value) for f in layer.all("top")]
    if not bottoms or not tops:
        raise reader.error(f"layer `{name}` needs a `bottom` and a `top`", code="E1243")
    value = HANDLERS[kind](reader, bottoms, tops[0])
    for top in tops if kind == "Split" else tops[:1]:
        reader.blobs[top] = value


def _one(reader: CaffeReader, bottoms: list[Value]) -> Value:
    if len(bottoms) != 1:
        raise reader.error(f"`{reader.kind()}` takes one bottom, got {len(bottoms)}", code="E1243")
    return bottoms[0]


def _size(value: int | tuple) -> object:
    return value[0] if value[0] == value[1] else list(value)


def convolution(reader: CaffeReader, bottoms, top: str) -> Value:
    x = _one(reader, bottoms)
    channels, height, width = reader.image(x)
    p = reader.param("convolution_param")
    out = reader.integer(p, "num_output", None, 1)
    kernel, stride = reader.pair(p, "kernel_size", None, 1), reader.pair(p, "stride", 1, 1)
    pad, groups = reader.pair(p, "pad", 0), reader.integer(p, "group", 1, 1)
    dilation = reader.integer(p, "dilation", 1, 1)
    bias = reader.flag(p, "bias_term", True)
    if reader.integer(p, "axis", 1) != 1:
        raise reader.error("only `axis: 1` convolutions are supported", p.first("axis"))
    if channels % groups or out % groups:
        raise reader.error(f"group {groups} does not divide {channels} input and {out} output channels",
                           p.first("group"), code="E1246")  # fmt: skip
    axes = zip((height, width), pad, kernel, stride)
    sizes = [(n + 2 * q - (dilation * (k - 1) + 1)) // s + 1 for n, q, k, s in axes]
    if min(sizes) < 1:
        raise reader.error(f"a {kernel[0]}x{kernel[1]} window does not fit the {height}x{width} input", code="E1246")
    options = {"stride": _size(stride)} if stride != (1, 1) else {}
    options |= {"pad": _size(pad)} if pad != (0, 0) else {}
    options |= {"dilation": dilation} if dilation != 1 else {}
    options |= {"groups": groups} if groups != 1 else {}
    options |= {} if bias else {"bias": False}
    value = reader.emit(reader.bottom(x) + call("conv", out, _size(kernel), **options), (out, *sizes), top)
    shapes = [("conv", "weight", (out, channels // groups, *kernel))] + ([("conv", "bias", (out,))] if bias else [])
    reader.loads.append((str(reader.layer.get("name", "")), reader.layer, value.statement, shapes))
    return value


def pooling(reader: CaffeReader, bottoms, top: str) -> Value:
    x = _one(reader, bottoms)
    channels, height, width = reader.image(x)
    p = reader.param("pooling_param")
    method = reader.word(p, "pool", "MAX", ("MAX", "AVE"))
    if reader.flag(p, "global_pooling", False):
        return reader.emit(reader.bottom(x) + ("gmp" if method == "MAX" else "gap"), (channels, 1, 1), top)
    kernel, stride = reader.pair(p, "kernel_size", None, 1), reader.pair(p, "stride", 1, 1)
    pad = reader.pair(p, "pad", 0)
    rounding = reader.word(p, "round_mode", "CEIL", ("CEIL", "FLOOR"))
    sizes, floor = [], []
    for n, k, s, q in zip((height, width), kernel, stride, pad):
        out = (ceil((n + 2 * q - k) / s) if rounding == "CEIL" else (n + 2 * q - k) // s) + 1
        if q and (out - 1) * s >= n + q:
            out -= 1
        if (out - 1) * s >= n + q or q > k // 2 or n + 2 * q < k:
            raise reader.error(f"pooling {k} / {s} with pad {q} over {n} has windows cnndsl cannot reproduce",
                               hint="each window must start inside the image or its left padding, "
                               "and the padding be at most half the window")  # fmt: skip
        sizes.append(out)
        floor.append((n + 2 * q - k) // s + 1)
    options = {"stride": _size(stride)} if stride != kernel else {}
    options |= {"pad": _size(pad)} if pad != (0, 0) else {}
    options |= {"ceil": True} if sizes != floor else {}
    options |= {"include_pad": True} if method == "AVE" and pad != (0, 0) else {}
    layer = call("maxpool" if method == "MAX" else "avgpool", _size(kernel), **options)
    return reader.emit(reader.bottom(x) + layer, (channels, *sizes), top)


def lrn(reader: CaffeReader, bottoms, top: str) -> Value:
    x = _one(reader, bottoms)
    reader.image(x)
    p = reader.param("lrn_param")
    reader.word(p, "norm_region", "ACROSS_CHANNELS", ("ACROSS_CHANNELS",))
    size = reader.integer(p, "local_size", 5, 1)
    if size % 2 == 0:
        raise reader.error(f"`local_size: {size}` must be odd", p.first("local_size"), code="E1243")
    alpha, beta, k = reader.real(p, "alpha", 1.0), reader.real(p, "beta", 0.75), reader.real(p, "k", 1.0)
    layer = f"lrn(size={size}, alpha={number(alpha)}, beta={number(beta)}, k={number(k)})"
    return reader.emit(reader.bottom(x) + layer, x.shape, top, fuse=True)


def inner_product(reader: CaffeReader, bottoms, top: str) -> Value:
    x = _one(reader, bottoms)
    p = reader.param("inner_product_param")
    out = reader.integer(p, "num_output", None, 1)
    bias = reader.flag(p, "bias_term", True)
    if reader.integer(p, "axis", 1) != 1:
        raise reader.error("only `axis: 1` inner products are supported", p.first("axis"))
    if reader.flag(p, "transpose", False):
        raise reader.error("`transpose: true` is not supported", p.first("transpose"))
    features = 1
    for n in x.shape:
        features *= n
    chain = ("flatten -> " if len(x.shape) == 3 else "") + call("dense", out, **({} if bias else {"bias": False}))
    value = reader.emit(reader.bottom(x) + chain, (out,), top)
    shapes = [("dense", "weight", (out, features))] + ([("dense", "bias", (out,))] if bias else [])
    reader.loads.append((str(reader.layer.get("name", "")), reader.layer, value.statement, shapes))
    return value


def _same(layer: str):
    def handler(reader: CaffeReader, bottoms, top: str) -> Value:
        x = _one(reader, bottoms)
        return reader.emit(reader.bottom(x) + layer, x.shape, top, fuse=True)

    return handler


def relu(reader: CaffeReader, bottoms, top: str) -> Value:
    slope = reader.real(reader.param("relu_param"), "negative_slope", 0.0)
    return _same(f"leakyrelu({number(slope)})" if slope else "relu")(reader, bottoms, top)


def dropout(reader: CaffeReader, bottoms, top: str) -> Value:
    ratio = reader.real(reader.param("dropout_param"), "dropout_ratio", 0.5)
    if not 0.0 <= ratio < 1.0:
        raise reader.error(f"`dropout_ratio` must be in [0, 1), got {ratio}", code="E1243")
    return _same(call("dropout", ratio))(reader, bottoms, top)


def softmax(reader: CaffeReader, bottoms, top: str) -> Value:
    if reader.integer(reader.param("softmax_param"), "axis", 1) != 1:
        raise reader.error("only `axis: 1` softmax is supported", reader.param("softmax_param").first("axis"))
    return _same("softmax")(reader, bottoms, top)


def flatten(reader: CaffeReader, bottoms, top: str) -> Value:
    x = _one(reader, bottoms)
    if len(x.shape) == 1:
        return x
    features = x.shape[0] * x.shape[1] * x.shape[2]
    return reader.emit(reader.bottom(x) + "flatten", (features,), top)


def split(reader: CaffeReader, bottoms, top: str) -> Value:
    return _one(reader, bottoms)


def _branches(reader: CaffeReader, bottoms: list[Value]) -> str:
    if len(bottoms) < 2:
        raise reader.error(f"`{reader.kind()}` needs two or more bottoms", code="E1243")
    return "; ".join(reader.name(b) for b in bottoms)


def concat(reader: CaffeReader, bottoms, top: str) -> Value:
    p = reader.param("concat_param")
    if reader.integer(p, "axis", reader.integer(p, "concat_dim", 1)) != 1:
        raise reader.error("only channel concatenation (`axis: 1`) is supported", p.first("axis"))
    first = bottoms[0].shape
    for b in bottoms:
        if len(b.shape) != len(first) or b.shape[1:] != first[1:]:
            shapes = " and ".join(str(list(v.shape)) for v in bottoms)
            raise reader.error(f"cannot concatenate {shapes} on channels", code="E1246")
    shape = (sum(b.shape[0] for b in bottoms), *first[1:])
    return reader.emit(f"concat {{ {_branches(reader, bottoms)} }}", shape, top)


def eltwise(reader: CaffeReader, bottoms, top: str) -> Value:
    p = reader.param("eltwise_param")
    operation = reader.word(p, "operation", "SUM", ("SUM", "PROD", "MAX"))
    coefficients = p.all("coeff")
    if any(c.value != 1 for c in coefficients):
        bad = next(c for c in coefficients if c.value != 1)
        raise reader.error("weighted sums (`coeff` other than 1) have no cnndsl merge", bad)
    for b in bottoms:
        if b.shape != bottoms[0].shape:
            shapes = " and ".join(str(list(v.shape)) for v in bottoms)
            raise reader.error(f"cannot combine {shapes} element by element", code="E1246")
    merge = {"SUM": "add", "PROD": "mul", "MAX": "maximum"}[operation]
    return reader.emit(f"{merge} {{ {_branches(reader, bottoms)} }}", bottoms[0].shape, top)


def batch_norm(reader: CaffeReader, bottoms, top: str) -> Value:
    x = _one(reader, bottoms)
    eps = reader.real(reader.param("batch_norm_param"), "eps", 1e-5)
    layer = "bn" if eps == 1e-5 else call("bn", eps=eps)
    value = reader.emit(reader.bottom(x) + layer, x.shape, top, fuse=True)
    shapes = [("bn", "mean", (x.shape[0],)), ("bn", "var", (x.shape[0],)), ("bn", "factor", (1,))]
    reader.loads.append((str(reader.layer.get("name", "")), reader.layer, value.statement, shapes))
    reader.notes.append(f"BatchNorm `{reader.layer.get('name', top)}` without a Scale after it: `bn` scale 1, shift 0")
    return value


def scale(reader: CaffeReader, bottoms, top: str) -> Value:
    x = _one(reader, bottoms)
    bias = reader.flag(reader.param("scale_param"), "bias_term", False)
    last = reader.statements[-1] if reader.statements else None
    if x.statement is not None and x.statement is last and last.chain.split(" -> ")[-1].startswith("bn"):
        reader.notes.pop()  # the BatchNorm has its Scale
        load = [("bn", "scale", (x.shape[0],))] + ([("bn", "shift", (x.shape[0],))] if bias else [])
        reader.loads.append((str(reader.layer.get("name", "")), reader.layer, last, load))
        return x
    if bias:
        raise reader.error("a `Scale` with `bias_term: true` that does not follow a BatchNorm has no cnndsl layer",
                           reader.param("scale_param").first("bias_term"))  # fmt: skip
    value = reader.emit(reader.bottom(x) + "scale", x.shape, top, fuse=True)
    load = [("scale", "scale", (1, x.shape[0], *[1] * (len(x.shape) - 1)))]  # `scale` keeps [1, C, 1, 1]
    reader.loads.append((str(reader.layer.get("name", "")), reader.layer, value.statement, load))
    return value


HANDLERS = {
    "Convolution": convolution, "Pooling": pooling, "LRN": lrn, "InnerProduct": inner_product, "ReLU": relu,
    "Sigmoid": _same("sigmoid"), "TanH": _same("tanh"), "Dropout": dropout, "Softmax": softmax,
    "Concat": concat, "Eltwise": eltwise, "BatchNorm": batch_norm, "Scale": scale, "Flatten": flatten,
    "Split": split,
}  # fmt: skip
