"""Reading an ONNX model: the bytes (size-limited), the protobuf, the checker, the node order.

The result is plain records (:class:`Model`, :class:`OnnxNode`) that the
later stages read without touching protobuf objects.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import Diagnostic, UsageError, error
from ..files import read_limited

MAX_BYTES = 2**31 - 1
"""protobuf's own limit on one message: larger models keep their weights as external data."""


@dataclass
class OnnxNode:
    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict


@dataclass
class Model:
    """The graph of one ONNX model, in topological order."""

    path: str
    nodes: list[OnnxNode]
    constants: dict[str, np.ndarray]  # initializers and `Constant` outputs
    inputs: dict[str, tuple]  # graph input -> (C, H, W) or (F,)
    outputs: list[str]
    notes: list[str] = field(default_factory=list)
    producer: str = ""  # `producer_name`: "cnndsl" for models `cnndsl compile` wrote
    frozen: set = field(default_factory=set)  # node names a cnndsl model lists as frozen (metadata `frozen`)

    def fail(self, code: str, node: OnnxNode | None, message: str, hint: str = ""):
        """A located error: the file, then the node's name and operator type."""
        where = f"node `{node.name}` ({node.op}): " if node is not None else ""
        return error(code, f"{self.path}: {where}{message}", hint=hint)


def load(path: Path) -> Model:
    """The checked model at `path` as a :class:`Model`."""
    data = _bytes(path)
    proto = _parse(path, data)
    _external(proto, path)
    graph = proto.graph
    nodes = [_node(n, i) for i, n in enumerate(graph.node)]
    model = Model(str(path), [], {}, {}, [o.name for o in graph.output], producer=proto.producer_name)
    if model.producer == "cnndsl":
        frozen = next((p.value for p in proto.metadata_props if p.key == "frozen"), "")
        model.frozen = {name for name in frozen.split(",") if name}
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    model.nodes = _ordered(model, nodes, known)  # before the checker: a cycle is named as one
    _check(data, path)  # the bytes as read: the checker needs no second serialisation
    del data
    model.constants = _initializers(graph)
    model.inputs = _inputs(model, graph)
    return model


def _bytes(path: Path) -> bytes:
    try:
        data = read_limited(path, MAX_BYTES)
    except OSError as exc:
        raise UsageError(Diagnostic("E1201", f"cannot read {path}: {exc.strerror or exc}")) from None
    if len(data) > MAX_BYTES:
        raise UsageError(Diagnostic("E1201", f"{path}: larger than 2 GiB, protobuf's limit for one model"))
    return data


def _parse(path: Path, data: bytes):
    import onnx
    from google.protobuf.message import DecodeError

    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        hint = "the file is truncated or not an ONNX model"
        reason = str(exc).strip() or "protobuf error"
        raise error("E1202", f"{path}: not a readable ONNX model ({reason})", hint=hint) from None
    if not proto.graph.node and not proto.graph.input:
        raise error("E1202", f"{path}: not an ONNX model (no graph)", hint="the file is empty or of another kind")
    return proto


def _external(proto, path: Path) -> None:
    for tensor in proto.graph.initializer:
        if tensor.data_location == 1:  # TensorProto.EXTERNAL
            hint = "load it with onnx.load and save it again without external data (under 2 GiB)"
            raise error("E1203", f"{path}: the weight `{tensor.name}` is stored in an external file", hint=hint)


def _check(data: bytes, path: Path) -> None:
    import onnx

    try:
        onnx.checker.check_model(data)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid model"
        raise error("E1203", f"{path}: the ONNX checker rejects the model: {first}") from None


def _node(proto, index: int) -> OnnxNode:
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in proto.attribute}
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    name = proto.name or f"{proto.op_type}_{index}"
    return OnnxNode(name, proto.op_type, list(proto.input), list(proto.output), attrs)


def _initializers(graph) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def _ordered(model: Model, nodes: list[OnnxNode], known: set[str]) -> list[OnnxNode]:
    """The nodes in an order where every input is made first (Kahn's, taking the earliest ready node in
    the file, so that a sorted file keeps its order); a cycle is an error naming a node on it."""
    producer = {out: n for n in nodes for out in n.outputs}
    waiting = {id(n): {i for i in n.inputs if i and i not in known} for n in nodes}
    index = {id(n): k for k, n in enumerate(nodes)}
    users: dict[str, list[OnnxNode]] = {}
    for n in nodes:
        for i in waiting[id(n)]:
            users.setdefault(i, []).append(n)
    ready = [index[id(n)] for n in nodes if not waiting[id(n)]]
    order = []
    while ready:
        node = nodes[heapq.heappop(ready)]
        order.append(node)
        for out in node.outputs:
            for user in users.get(out, ()):
                waiting[id(user)].discard(out)
                if not waiting[id(user)]:
                    heapq.heappush(ready, index[id(user)])
    if len(order) < len(nodes):
        stuck = next(n for n in nodes if waiting[id(n)])
        missing = sorted(waiting[id(stuck)])
        if all(m in producer for m in missing):
            raise model.fail("E1204", stuck, f"is on a cycle: its input `{missing[0]}` depends on its own output")
        raise model.fail("E1204", stuck, f"reads `{missing[0]}`, which no node makes")
    return order


def _inputs(model: Model, graph) -> dict[str, tuple]:
    inputs = {}
    for value in graph.input:
        if value.name in model.constants:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]
        if len(dims) not in (2, 4) or any(d is None or d <= 0 for d in dims[1:]):
            shown = "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"
            raise error(
                "E1207",
                f"{model.path}: the input `{value.name}` has the shape {shown}; cnndsl needs [N, C, H, W] or [N, F] "
                "with fixed sizes after the batch",
                hint="export the model with a fixed input size (only the batch may be dynamic)",
            )
        inputs[value.name] = tuple(dims[1:])
    return inputs
