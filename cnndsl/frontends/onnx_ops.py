"""One handler per ONNX operator type (HANDLERS): the node -> an :class:`~.onnx_patterns.Op`.

:func:`recognise` runs them over the nodes in order.

A handler reads the node's attributes and constant inputs, refuses what
cnndsl cannot express (E1206, naming the node) and adds the op to the
:class:`~.onnx_patterns.Recogniser`.
"""

from __future__ import annotations

import numpy as np

from . import onnx_layout  # noqa: F401  (registers its handlers)
from .onnx_graph import Model
from .onnx_patterns import ACTIVATIONS, HANDLERS, MERGES, Op, Recogniser, handles, pads, pair, same
from .onnx_patterns import cannot as _cannot


def recognise(model: Model) -> Recogniser:
    """The ops of `model`, in order; inputs become ops of kind `input`."""
    r = Recogniser(model)
    for name, shape in model.inputs.items():
        r.ops[name] = Op("input", {"shape": list(shape)}, [], name)
        r.maker[name] = name
    for node in model.nodes:
        handler = HANDLERS.get(node.op)
        if handler is None:
            raise model.fail("E1205", node, "cnndsl has no layer for this operator", hint=_supported())
        handler(r, node)
    for out in model.outputs:
        if out not in r.maker:
            raise model.fail("E1209", None, f"the output `{out}` is a constant, not computed from the input")
    return r


def _supported() -> str:
    return "the importer reads " + ", ".join(sorted(HANDLERS))


# -- values without a layer -----------------------------------------------------------------


@handles("Constant")
def constant(r: Recogniser, node) -> None:
    from onnx import numpy_helper

    value = node.attrs.get("value")
    if value is None:
        keys = [k for k in ("value_float", "value_floats", "value_int", "value_ints") if k in node.attrs]
        if not keys:
            raise _cannot(r, node, f"a Constant given as {', '.join(node.attrs) or 'nothing'}")
        r.model.constants[node.outputs[0]] = np.asarray(node.attrs[keys[0]])
        return
    r.model.constants[node.outputs[0]] = numpy_helper.to_array(value)


@handles("Identity")
def identity(r: Recogniser, node) -> None:
    """Exporters' Identity nodes are noise; in a model cnndsl wrote, one on a value is an `identity` layer."""
    if r.model.producer == "cnndsl" and node.inputs[0] in r.maker and node.outputs[0] not in r.model.outputs:
        return r.add(Op("identity", {}, [r.value(node)]), node)
    return r.alias(node, node.inputs[0])


# -- convolution, normalization, dense --------------------------------------------------------


@handles("Conv", "ConvTranspose")
def conv(r: Recogniser, node) -> None:
    weight, bias = r.constant(node, 1, "weight"), None
    if len(node.inputs) > 2 and node.inputs[2]:
        bias = r.constant(node, 2, "bias")
    if weight.ndim != 4:
        raise _cannot(r, node, f"a {weight.ndim - 2}-D convolution", "cnndsl convolutions are 2-D")
    a, source = node.attrs, r.value(node)
    window = {"stride": pair(a.get("strides", (1, 1))), "pad": _conv_pads(r, node)}
    if window["pad"] is None:  # a zero Pad node before the convolution: folded in
        source, window["pad"] = _folded_pad(r, node)
    dilation, group = pair(a.get("dilations", (1, 1))), int(a.get("group", 1))
    kernel, has_bias = pair(weight.shape[2:]), bias is not None
    if node.op == "ConvTranspose":
        out = weight.shape[1] * group
        output_pad = pair(a.get("output_padding", (0, 0)))
        args = {"out": out, "kernel": kernel, **window, "output_pad": output_pad, "dilation": dilation}
        op = Op("convT", {**args, "groups": group, "bias": has_bias}, [source], positional=2)
    elif group > 1 and weight.shape[1] == 1 and dilation == 1:
        mult = weight.shape[0] // group
        op = Op("dwconv", {"kernel": kernel, **window, "mult": mult, "bias": has_bias}, [source], positional=1)
    else:
        args = {"out": weight.shape[0], "kernel": kernel, **window, "dilation": dilation, "groups": group}
        op = Op("conv", {**args, "bias": has_bias}, [source], positional=2)
    op.weights = {"weight": weight, **({"bias": bias} if has_bias else {})}
    r.add(op, node)


def _conv_pads(r: Recogniser, node):
    """The `pad` argument, or None where a zero `Pad` node before the convolution should be folded in."""
    auto = node.attrs.get("auto_pad", "NOTSET")
    if auto == "SAME_UPPER":
        return "same"
    if auto == "SAME_LOWER":
        raise _cannot(r, node, "auto_pad=SAME_LOWER", "cnndsl's `same` puts the odd pixel at the end")
    if auto == "VALID":
        return 0
    given = node.attrs.get("pads", (0, 0, 0, 0))
    before = r.op_of(node, 0)
    zeros = before is not None and before.kind == "pad" and before.args["mode"] == "constant"
    if zeros and not any(given) and before.args["value"] == 0 and r.only_user(node, 0) and node.op == "Conv":
        return None
    return pads(given)


def _folded_pad(r: Recogniser, node):
    before = r.op_of(node, 0)
    r.drop(before)
    amount = before.args["amount"]
    return before.inputs[0], amount


@handles("BatchNormalization")
def batchnorm(r: Recogniser, node) -> None:
    if node.attrs.get("training_mode", 0) or len(node.outputs) > 1:
        raise _cannot(r, node, "batch normalization in training mode", "export the model in eval mode")
    roles = ("scale", "shift", "mean", "var")
    weights = {role: r.constant(node, i, role) for i, role in enumerate(roles, 1)}
    eps = float(node.attrs.get("epsilon", 1e-5))
    r.add(Op("bn", {"eps": eps}, [r.value(node)], weights=weights), node)


@handles("Gemm")
def gemm(r: Recogniser, node) -> None:
    a = node.attrs
    if a.get("transA", 0):
        raise _cannot(r, node, "a Gemm with transA=1")
    weight = r.constant(node, 1, "weight") * np.float32(a.get("alpha", 1.0))
    weight = weight if a.get("transB", 0) else weight.T
    bias = r.optional(node, 2)
    if len(node.inputs) > 2 and node.inputs[2] and bias is None:
        raise r.model.fail("E1208", node, f"its bias `{node.inputs[2]}` is not a constant (an initializer)")
    op = Op("dense", {"out": weight.shape[0], "bias": bias is not None}, [r.value(node)], positional=1)
    op.weights = {"weight": np.ascontiguousarray(weight)}
    if bias is not None:
        op.weights["bias"] = _bias(r, node, bias * np.float32(a.get("beta", 1.0)), weight.shape[0])
    r.add(op, node)


def _bias(r: Recogniser, node, bias, out: int):
    if bias.size == 1 and out != 1:
        bias = np.full((out,), bias.reshape(()), dtype=bias.dtype)
    if bias.size != out:
        raise _cannot(r, node, f"a bias of shape {list(bias.shape)} for {out} outputs")
    return bias.reshape(out)


@handles("MatMul")
def matmul(r: Recogniser, node) -> None:
    weight = r.constant(node, 1, "weight")
    if weight.ndim != 2:
        raise _cannot(r, node, f"a MatMul with a {weight.ndim}-D constant", "only [in, out] weights make a dense layer")
    op = Op("dense", {"out": weight.shape[1], "bias": False}, [r.value(node)], positional=1)
    op.weights = {"weight": np.ascontiguousarray(weight.T)}
    r.add(op, node)


# -- merges -----------------------------------------------------------------------------------


@handles("Add", "Sum", "Mul", "Max", "Concat")
def merge(r: Recogniser, node) -> None:
    if node.op == "Concat" and any(t in r.symbols for t in node.inputs):
        return _shape_concat(r, node)
    constants = [i for i, t in enumerate(node.inputs) if t in r.model.constants]
    if constants:
        return _with_constant(r, node, constants)
    if node.op == "Concat" and node.attrs.get("axis") not in (1, -3):
        raise _cannot(r, node, f"a Concat on axis {node.attrs.get('axis')}", "cnndsl concatenates channels (axis 1)")
    if len(node.inputs) == 1:
        return r.alias(node, node.inputs[0])
    if node.op == "Mul" and _silu(r, node):
        return None
    inputs = [r.value(node, i) for i in range(len(node.inputs))]
    op = Op(MERGES[node.op], {}, _running_concat(r, inputs) if node.op == "Concat" else inputs)
    r.add(op, node)
    if node.op == "Concat":
        r.concats[tuple(inputs)] = op.name
    return None


def _with_constant(r: Recogniser, node, constants: list[int]) -> None:
    before = r.op_of(node, 1 - constants[0]) if len(node.inputs) == 2 and len(constants) == 1 else None
    fits = before is not None and before.kind == "dense" and not before.args["bias"]
    if node.op == "Add" and fits and r.only_user(node, 1 - constants[0]):
        before.args["bias"] = True
        before.weights["bias"] = _bias(r, node, r.model.constants[node.inputs[constants[0]]], before.args["out"])
        r.maker[node.outputs[0]] = before.name
        return
    if node.op == "Mul" and len(node.inputs) == 2 and len(constants) == 1:
        gamma = r.model.constants[node.inputs[constants[0]]]
        if gamma.ndim >= 1 and gamma.size == max(gamma.shape) and gamma.shape[-1] in (1, gamma.size):
            op = Op("scale", {}, [r.value(node, 1 - constants[0])], weights={"scale": gamma})
            return r.add(op, node)
    raise _cannot(r, node, f"an {node.op} with a constant", "only a bias after MatMul and a per-channel Mul are read")


def _silu(r: Recogniser, node) -> bool:
    """`x * sigmoid(x)` -> silu (the Sigmoid then has no other user)."""
    for gate in (0, 1):
        sigmoid = r.op_of(node, gate)
        other = r.maker.get(node.inputs[1 - gate])
        if sigmoid is not None and sigmoid.kind == "sigmoid" and sigmoid.inputs == [other] and r.only_user(node, gate):
            r.drop(sigmoid)
            r.add(Op("silu", {}, [other]), node)
            return True
    return False


def _running_concat(r: Recogniser, inputs: list[str]) -> list[str]:
    """concat(x0 … xk) where concat(x0 … xj) was made before -> concat(that, xj+1 … xk) (DenseNet)."""
    key = tuple(inputs)
    for cut in range(len(inputs) - 1, 1, -1):
        if key[:cut] in r.concats:
            return [r.concats[key[:cut]], *inputs[cut:]]
    return inputs


# -- activations ----------------------------------------------------------------------------


@handles(*ACTIVATIONS)
def activation(r: Recogniser, node) -> None:
    r.add(Op(ACTIVATIONS[node.op], {}, [r.value(node)]), node)


@handles("LeakyRelu", "Elu")
def with_alpha(r: Recogniser, node) -> None:
    kind, default = {"LeakyRelu": ("leakyrelu", 0.01), "Elu": ("elu", 1.0)}[node.op]
    r.add(Op(kind, {"alpha": float(node.attrs.get("alpha", default))}, [r.value(node)]), node)


@handles("HardSigmoid")
def hardsigmoid(r: Recogniser, node) -> None:
    alpha, beta = node.attrs.get("alpha", 0.2), node.attrs.get("beta", 0.5)
    if not (same(alpha, 1 / 6) and same(beta, 0.5)):
        raise _cannot(r, node, f"HardSigmoid with alpha={alpha:g}, beta={beta:g}", "cnndsl's is relu6(x + 3) / 6")
    r.add(Op("hardsigmoid", {}, [r.value(node)]), node)


@handles("Clip")
def clip(r: Recogniser, node) -> None:
    low, high = node.attrs.get("min"), node.attrs.get("max")
    if len(node.inputs) > 1 and node.inputs[1]:
        low = float(r.constant(node, 1, "minimum"))
    if len(node.inputs) > 2 and node.inputs[2]:
        high = float(r.constant(node, 2, "maximum"))
    if low is not None and same(low, 0) and high is not None and same(high, 6):
        return r.add(Op("relu6", {}, [r.value(node)]), node)
    if low is not None and same(low, 0) and high is None:
        return r.add(Op("relu", {}, [r.value(node)]), node)
    raise _cannot(r, node, f"Clip to [{low}, {high}]", "only [0, 6] (relu6) and [0, inf) (relu) are layers")


@handles("Softmax", "LogSoftmax")
def softmax(r: Recogniser, node) -> None:
    r.add(Op(node.op.lower(), {"axis": int(node.attrs.get("axis", -1))}, [r.value(node)]), node)


@handles("PRelu")
def prelu(r: Recogniser, node) -> None:
    slope = r.constant(node, 1, "slope")
    r.add(Op("prelu", {}, [r.value(node)], weights={"slope": slope}), node)


# -- pooling, shape, regularization -----------------------------------------------------------


@handles("MaxPool", "AveragePool")
def pool(r: Recogniser, node) -> None:
    a = node.attrs
    if any(d != 1 for d in a.get("dilations", (1, 1))) or a.get("storage_order", 0) or len(node.outputs) > 1:
        raise _cannot(r, node, f"a {node.op} with dilations, storage_order or indices")
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise _cannot(r, node, f"auto_pad={a['auto_pad']} on a pool", "export with explicit pads")
    kernel = pair(a["kernel_shape"])
    args = {"kernel": kernel, "stride": pair(a.get("strides", (1, 1))), "pad": pads(a.get("pads", (0, 0, 0, 0)))}
    args["ceil"] = bool(a.get("ceil_mode", 0))
    kind = "maxpool" if node.op == "MaxPool" else "avgpool"
    if kind == "avgpool":  # without padding, counting it changes nothing: left at the default
        args["include_pad"] = bool(a.get("count_include_pad", 0)) and any(a.get("pads", (0,)))
    r.add(Op(kind, args, [r.value(node)], positional=1), node)


@handles("LpPool")
def lppool(r: Recogniser, node) -> None:
    a = node.attrs
    if any(a.get("pads", (0,))) or a.get("auto_pad", "NOTSET") != "NOTSET":
        raise _cannot(r, node, "a padded LpPool")
    args = {"kernel": pair(a["kernel_shape"]), "stride": pair(a.get("strides", (1, 1))), "p": int(a.get("p", 2))}
    r.add(Op("lppool", args, [r.value(node)], positional=1), node)


@handles("GlobalAveragePool", "GlobalMaxPool")
def global_pool(r: Recogniser, node) -> None:
    r.add(Op("gap" if node.op == "GlobalAveragePool" else "gmp", {}, [r.value(node)]), node)


@handles("ReduceMean")
def reduce_mean(r: Recogniser, node) -> None:
    axes = node.attrs.get("axes")
    if axes is None and len(node.inputs) > 1 and node.inputs[1]:
        axes = r.constant(node, 1, "axes").tolist()
    if sorted(int(x) % 4 for x in (axes or ())) != [2, 3]:
        raise _cannot(r, node, f"a mean over axes {axes}", "only the mean over height and width (gap) is a layer")
    if node.attrs.get("keepdims", 1):
        return r.add(Op("gap", {}, [r.value(node)]), node)
    gap = Op("gap", {}, [r.value(node)], name=node.name + "/gap")
    r.add(gap, node)
    r.add(Op("flatten", {}, [gap.name]), node)
    return None


@handles("Flatten")
def flatten(r: Recogniser, node) -> None:
    if node.attrs.get("axis", 1) != 1:
        raise _cannot(r, node, f"a Flatten at axis {node.attrs['axis']}", "cnndsl flattens everything but the batch")
    r.add(Op("flatten", {}, [r.value(node)]), node)


@handles("Dropout")
def dropout(r: Recogniser, node) -> None:
    ratio = node.attrs.get("ratio", 0.5)
    if len(node.inputs) > 1 and node.inputs[1]:
        ratio = float(r.constant(node, 1, "ratio"))
    r.add(Op("dropout", {"p": float(ratio)}, [r.value(node)]), node)


@handles("Pad")
def pad(r: Recogniser, node) -> None:
    amounts = node.attrs.get("pads")
    if amounts is None:
        amounts = r.constant(node, 1, "pads").tolist()
    value = node.attrs.get("value", 0.0)
    if len(node.inputs) > 2 and node.inputs[2]:
        value = float(r.constant(node, 2, "value"))
    if len(node.inputs) > 3 and node.inputs[3]:
        raise _cannot(r, node, "a Pad with axes")
    if len(amounts) != 8 or any(amounts[i] for i in (0, 1, 4, 5)):
        raise _cannot(r, node, f"padding {list(amounts)}", "only height and width are padded")
    mode = node.attrs.get("mode", "constant")
    amount = pads([amounts[2], amounts[3], amounts[6], amounts[7]])
    r.add(Op("pad", {"amount": amount, "mode": mode, "value": float(value)}, [r.value(node)], positional=1), node)


@handles("LRN")
def lrn(r: Recogniser, node) -> None:
    a = node.attrs
    args = {"size": int(a["size"]), "alpha": float(a.get("alpha", 1e-4)), "beta": float(a.get("beta", 0.75))}
    r.add(Op("lrn", {**args, "k": float(a.get("bias", 1.0))}, [r.value(node)]), node)


@handles("Resize", "Upsample")
def resize(r: Recogniser, node) -> None:
    like = _resize_like(r, node)
    args = {**(_resize_target(r, node) if like is None else {}), **_resize_mode(r, node)}
    op = Op("upsample", args, [r.value(node)])
    if like is not None:
        op.refs["like"] = like
    r.add(op, node)


def _resize_like(r: Recogniser, node) -> str | None:
    """`upsample(like=t)` as cnndsl emits it: `sizes` is `Shape(t, start=2, end=4)` on `axes=[2, 3]`
    (the id of t's op), else None."""
    symbol = r.symbols.get(node.inputs[3]) if node.op == "Resize" and len(node.inputs) > 3 else None
    if symbol is None or symbol[0] != "shape":
        return None
    axes = sorted(int(a) % 4 for a in node.attrs.get("axes", ()))
    if axes != [2, 3] or symbol[2] != 2 or symbol[3] != 4:
        raise r.model.fail(
            "E1208",
            node,
            f"its sizes `{node.inputs[3]}` are computed from a shape (axes {axes}, dimensions {symbol[2]}:{symbol[3]})",
            hint="only the height and width of another tensor (`upsample(like=t)`: Shape start=2, end=4) are read",
        )
    return symbol[1]


def _resize_target(r: Recogniser, node) -> dict:
    """`size=[h, w]` from the `sizes` input, or `scale=` from `scales` (N and C unchanged)."""
    axes = list(node.attrs.get("axes", ()))
    if axes and sorted(a % 4 for a in axes) != [2, 3]:
        raise _cannot(r, node, f"a Resize of the axes {axes}", "only height and width are resized")
    index = {"Resize": (3, 2), "Upsample": (None, 1)}[node.op]
    if index[0] is not None and len(node.inputs) > index[0] and node.inputs[index[0]]:
        sizes = [int(v) for v in r.constant(node, index[0], "sizes").tolist()]
        return {"size": sizes[-2:]}
    scales = node.attrs.get("scales")
    if scales is None:
        scales = r.constant(node, index[1], "scales").tolist()
    scales = [float(s) for s in scales]
    if not axes and (len(scales) != 4 or scales[:2] != [1.0, 1.0]):
        raise _cannot(r, node, f"a Resize by {scales}", "only height and width are resized")
    h, w = scales[-2:]
    return {"scale": h if h == w else [h, w]}


def _resize_mode(r: Recogniser, node) -> dict:
    a = node.attrs
    mode, transform = a.get("mode", "nearest"), a.get("coordinate_transformation_mode", "half_pixel")
    if node.op == "Upsample":
        transform = "asymmetric" if mode == "nearest" else "align_corners"
    if mode == "nearest" and transform == "asymmetric" and a.get("nearest_mode", "round_prefer_floor") == "floor":
        return {"mode": "nearest", "align_corners": False}
    if mode == "nearest" and node.op == "Upsample":
        return {"mode": "nearest", "align_corners": False}
    if mode == "linear" and transform in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        return {"mode": "linear", "align_corners": transform == "align_corners"}
    raise _cannot(r, node, f"a {mode} Resize with {transform} coordinates", "PyTorch's nearest and linear are read")


# -- `x.view(x.size(0), -1)`: the batch size read with Shape, Gather, Unsqueeze and Concat ---------------


@handles("Shape")
def shape(r: Recogniser, node) -> None:
    end = node.attrs.get("end")
    r.symbols[node.outputs[0]] = ("shape", r.value(node), int(node.attrs.get("start", 0)), end)


@handles("Gather", "Unsqueeze", "Squeeze", "Cast")
def batch_size(r: Recogniser, node) -> None:
    """The batch dimension out of a Shape (Gather of index 0), kept through Unsqueeze, Squeeze and Cast."""
    symbol = r.symbols.get(node.inputs[0])
    if symbol is None:
        raise _cannot(r, node, f"a {node.op} of a computed value", "only reading the batch size is understood")
    if node.op == "Gather":
        index = r.constant(node, 1, "index")
        if symbol[0] != "shape" or node.attrs.get("axis", 0) != 0 or index.size != 1 or symbol[2] + int(index) != 0:
            raise _cannot(r, node, "a Gather of a size other than the batch", "cnndsl sizes are fixed but the batch")
        symbol = ("batch", symbol[1])
    r.symbols[node.outputs[0]] = symbol


def _shape_concat(r: Recogniser, node) -> None:
    dims = []
    for tensor in node.inputs:
        symbol = r.symbols.get(tensor)
        if symbol is not None and symbol[0] == "batch":
            dims.append(0)
        elif tensor in r.model.constants:
            dims += [int(v) for v in np.ravel(r.model.constants[tensor])]
        else:
            raise _cannot(r, node, "a shape made of computed sizes", "only [batch, -1] (flatten) is read")
    r.symbols[node.outputs[0]] = ("dims", None, dims)
