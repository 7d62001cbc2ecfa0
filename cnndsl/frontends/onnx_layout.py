"""Handlers for layout operators and the normalizations (see onnx_ops.py for the rest).

Some layers are a few ONNX nodes around a `Reshape` or `Transpose`; the
nodes in between leave a *symbol* on their output tensor instead of an op
(``r.symbols``), and the node that completes the pattern makes the layer:

- `channel_shuffle(g)`: Reshape `[0, g, C/g, H, W]` -> Transpose `[0, 2, 1, 3, 4]` -> Reshape `[0, C, H, W]`
- `pixel_unshuffle(r)`: Reshape `[0, C, H/r, r, W/r, r]` -> Transpose `[0, 1, 3, 5, 2, 4]` -> Reshape
- `layernorm` on images: Transpose to NHWC -> LayerNormalization (last axis) -> Transpose back
"""

from __future__ import annotations

from .onnx_patterns import Op, Recogniser, cannot, handles

FLAT = {"flatten", "dense"}  # ops whose output is [N, F]
ELEMENTWISE = {"relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "dropout", "layernorm", "leakyrelu", "elu", "selu"}


@handles("Reshape")
def reshape(r: Recogniser, node) -> None:
    symbol = r.symbols.get(node.inputs[1])
    shape = symbol[2] if symbol and symbol[0] == "dims" else r.constant(node, 1, "shape").tolist()
    moved = r.symbols.get(node.inputs[0])
    if moved is not None and moved[0] == "moved" and len(shape) == 4:
        return r.add(Op(moved[2], moved[3], [moved[1]], positional=1), node)
    if len(shape) in (5, 6) and shape[0] == 0 and node.inputs[0] in r.maker:
        r.symbols[node.outputs[0]] = ("split", r.value(node), [int(d) for d in shape])
        return None
    if len(shape) != 2 or shape[1] != -1:
        raise cannot(r, node, f"a Reshape to {shape}", "only [batch, -1] (flatten) and channel shuffles are read")
    return r.add(Op("flatten", {}, [r.value(node)]), node)


@handles("Transpose")
def transpose(r: Recogniser, node) -> None:
    perm, out = [int(p) for p in node.attrs.get("perm", ())], node.outputs[0]
    symbol = r.symbols.get(node.inputs[0])
    if symbol is not None and symbol[0] == "split":
        dims = symbol[2]
        if len(dims) == 5 and perm == [0, 2, 1, 3, 4]:
            r.symbols[out] = ("moved", symbol[1], "channel_shuffle", {"groups": dims[1]})
        elif len(dims) == 6 and perm == [0, 1, 3, 5, 2, 4] and dims[3] == dims[5]:
            r.symbols[out] = ("moved", symbol[1], "pixel_unshuffle", {"factor": dims[3]})
        else:
            raise cannot(r, node, f"a Transpose {perm} of a Reshape to {dims}")
    elif symbol is not None and symbol[0] == "normed" and perm == [0, 3, 1, 2]:
        r.maker[out] = symbol[1]
    elif symbol is None and perm == [0, 2, 3, 1]:
        r.symbols[out] = ("nhwc", r.value(node))
    else:
        raise cannot(r, node, f"a Transpose {perm}", "only the layouts of layernorm and channel shuffles are read")


@handles("LayerNormalization")
def layernorm(r: Recogniser, node) -> None:
    symbol, axis = r.symbols.get(node.inputs[0]), int(node.attrs.get("axis", -1))
    weights = {"scale": r.constant(node, 1, "scale"), "shift": r.constant(node, 2, "bias")}
    args = {"eps": float(node.attrs.get("epsilon", 1e-5))}
    if symbol is not None and symbol[0] == "nhwc" and axis in (-1, 3):
        op = Op("layernorm", args, [symbol[1]], weights=weights)
        r.add(op, node)
        del r.maker[node.outputs[0]]
        r.symbols[node.outputs[0]] = ("normed", op.name)
    elif symbol is None and axis in (-1, 1) and _flat(r, r.value(node)):
        r.add(Op("layernorm", args, [r.value(node)], weights=weights), node)
    else:
        hint = "cnndsl's layernorm normalises channels: NHWC between two Transposes, or a flat [N, F] value"
        raise cannot(r, node, f"a LayerNormalization over axis {axis} here", hint)


def _flat(r: Recogniser, name: str) -> bool:
    op = r.ops.get(name)
    while op is not None and op.kind in ELEMENTWISE and op.inputs:
        op = r.ops.get(op.inputs[0])
    if op is not None and op.kind == "input":
        return len(op.args["shape"]) == 1
    return op is not None and op.kind in FLAT


@handles("GroupNormalization", "InstanceNormalization")
def group_norm(r: Recogniser, node) -> None:
    weights = {"scale": r.constant(node, 1, "scale"), "shift": r.constant(node, 2, "bias")}
    eps = float(node.attrs.get("epsilon", 1e-5))
    if node.op == "InstanceNormalization":
        return r.add(Op("instancenorm", {"eps": eps}, [r.value(node)], weights=weights), node)
    groups = int(node.attrs["num_groups"])
    op = Op("groupnorm", {"groups": groups, "eps": eps}, [r.value(node)], positional=1, weights=weights)
    return r.add(op, node)


@handles("Slice")
def channel_slice(r: Recogniser, node) -> None:
    starts, ends = r.constant(node, 1, "starts").tolist(), r.constant(node, 2, "ends").tolist()
    axes = r.constant(node, 3, "axes").tolist() if len(node.inputs) > 3 and node.inputs[3] else [0]
    steps = r.constant(node, 4, "steps").tolist() if len(node.inputs) > 4 and node.inputs[4] else [1]
    if axes != [1] or steps != [1] or not 0 <= starts[0] < ends[0] < 2**31:
        raise cannot(r, node, f"a Slice of axes {axes}, {starts}:{ends}", "only a channel range [start, stop) is read")
    r.add(Op("slice", {"start": int(starts[0]), "stop": int(ends[0])}, [r.value(node)], positional=2), node)


@handles("DepthToSpace")
def depth_to_space(r: Recogniser, node) -> None:
    if node.attrs.get("mode", "DCR") != "CRD":
        raise cannot(r, node, "DepthToSpace in DCR mode", "PyTorch's pixel_shuffle is the CRD mode")
    r.add(Op("pixel_shuffle", {"factor": int(node.attrs["blocksize"])}, [r.value(node)], positional=1), node)
