"""Graph -> ONNX ModelProto.

Every layer class emits its own operators through an :class:`Emitter`
(``Layer.onnx(emit, inputs, node) -> output tensor name``); this module only
walks the graph in order, names things and makes weights; :mod:`.onnx_file` writes the file. It
never asks which kind a layer is.

The model pins ``OPSET`` and ``IR_VERSION`` so that both onnxruntime (CPU) and
onnxruntime-gpu load it (docs/onnx.md). The batch dimension is the symbolic
``N``. Learnable parameters and batch-norm state are the model's only float
initializers; structural constants (pads, shapes, clip bounds) are
``Constant`` nodes.

>>> import cnndsl
>>> model = cnndsl.loads("network T { input x: [3, 8, 8]; conv(4, 3) -> relu }").to_onnx()
>>> [(n.name, n.op_type) for n in model.graph.node], [o.name for o in model.graph.output]
([('conv1', 'Conv'), ('relu1', 'Relu')], ['output'])
>>> model.ir_version, model.opset_import[0].version
(10, 21)
>>> [(t.name, list(t.dims)) for t in model.graph.initializer]
[('conv1/weight', [4, 3, 3, 3]), ('conv1/bias', [4])]
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import error, usage_error
from . import weights
from .onnx_file import little_endian, save_external, write
from .onnx_proto import DataType, make_model, make_node, tensor, value_info
from .weights import Source

OPSET = 21
IR_VERSION = 10
DOMAIN = ""
# protobuf cannot serialise a message over 2 GiB; keep a margin for the graph itself
EXTERNAL_DATA_THRESHOLD = 2**31 - 2**26
THREADS = min(4, os.cpu_count() or 1)


class Emitter:
    """What a layer's `onnx` method may use: nodes, constants and weights.

    Helper nodes of a layer are named ``<node>/<suffix>``; the layer's last
    node carries the graph node's own name (``Stage2/Bottleneck1/conv2``) and
    every node's ``doc_string`` is the source location ``file:line:col``.
    """

    def __init__(self, graph, generator: weights.Generator, skeleton: bool = False):
        self.graph = graph
        self.generator = generator
        self.skeleton = skeleton
        self.weight_inputs: list = []  # ValueInfoProto
        self.pending: list[tuple[str, tuple, Source]] = []  # the weights: (name, shape, make), in order
        self.nodes: list = []  # NodeProto
        self.inputs: list = []  # ValueInfoProto
        self.floats: dict[str, int] = {}  # graph node -> float values it added

    # -- nodes --------------------------------------------------------------------------
    def op(self, op_type: str, inputs: list[str], node, suffix: str = "", **attrs) -> str:
        """Add one ONNX node for graph node `node`; return its output tensor name."""
        name = f"{node.name}/{suffix}" if suffix else node.name
        attrs = {key: _attribute(value) for key, value in attrs.items()}
        self.nodes.append(make_node(op_type, list(inputs), [name], name=name, doc_string=str(node.span), **attrs))
        return name

    def constant(self, node, suffix: str, value, dtype=np.int64) -> str:
        """A structural constant (not a weight) as a `Constant` node."""
        value = tensor(np.asarray(value, dtype=dtype), f"{node.name}/{suffix}")
        return self.op("Constant", [], node, suffix, value=value)

    def input_shapes(self, node) -> list[tuple]:
        return [self.graph[i].shape for i in node.inputs]

    def graph_input(self, node) -> str:
        self.inputs.append(_value_info(node.name, node.shape))
        return node.name

    # -- weights --------------------------------------------------------------------------
    def weight(self, node, role: str, shape: tuple, default: tuple = ("he",)) -> str:
        """A learnable tensor made by the layer's `init=` (or `default`)."""
        init, shape = node.layer.attrs.get("init") or default, tuple(shape)
        return self.add(node, role, shape, self.generator.source(node.name, init, shape, node.span, role))

    def filled(self, node, role: str, shape: tuple, value: float) -> str:
        """A tensor of one value: biases (0), batch-norm shift (0), mean (0) and variance (1)."""
        shape = tuple(shape)
        return self.add(node, role, shape, Source(lambda: weights.constant(shape, value)))

    def fixed(self, node, role: str, kernel, shape: tuple) -> str:
        """A conv weight holding the 2-D `kernel` for every [out, in/groups] pair."""
        shape = tuple(shape)
        return self.add(node, role, shape, Source(lambda: weights.fixed(kernel, shape)))

    def add(self, node, role: str, shape: tuple, make: Source) -> str:
        """Register the tensor `<node>/<role>`: an initializer made by `make`, or a graph input in a skeleton."""
        name, shape = f"{node.name}/{role}", tuple(shape)
        if self.skeleton:
            self.weight_inputs.append(_value_info(name, shape))
        else:
            self.pending.append((name, shape, make))
        self.floats[node.name] = self.floats.get(node.name, 0) + math.prod(shape)
        return name


def _attribute(value):
    """Layer attribute -> ONNX attribute value (tuples become lists)."""
    if isinstance(value, tuple):
        return list(value)
    return value


def _value_info(name: str, shape: tuple):
    return value_info(name, list(shape))


# -- the model ---------------------------------------------------------------------------


def build(network, seed: int = 0, skeleton: bool = False):
    """The ONNX model of `network` with weights drawn from `seed`.

    A `skeleton` has no weights: each weight is a graph input of its shape
    instead (after the network's inputs), which makes shape checks of very
    large networks cheap.
    """
    model, pending = assemble(network, seed, skeleton)
    attach(model, pending)
    return model


def assemble(network, seed: int = 0, skeleton: bool = False) -> tuple:
    """The model without its initializers, and its weights still to be made: (name, shape, make)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise usage_error(f"the seed must be a whole number of 0 or more, got {seed!r}", "E0703")
    emit = Emitter(network.graph, weights.Generator(seed), skeleton)
    tensors: dict[str, str] = {}
    for node in network.graph.nodes():
        tensors[node.name] = node.layer.onnx(emit, [tensors[i] for i in node.inputs], node)
        _check_floats(emit, node)
    if not skeleton:
        check_weight_memory(network.graph, emit.floats)
    outputs = []
    _free_output_names(emit, network.graph, tensors)
    for name, node in network.graph.outputs.items():
        tensors[node] = _name_output(emit, tensors[node], name, network.graph[node], outputs)
        outputs.append(_value_info(name, network.graph[node].shape))
    graph = {"node": emit.nodes, "name": network.name, "input": emit.inputs + emit.weight_inputs, "output": outputs}
    model = make_model(
        OPSET,
        IR_VERSION,
        metadata(network, seed),
        graph,
        producer_name="cnndsl",
        producer_version=__version__,
        doc_string=f"network {network.name} from {network.source}",
    )
    return model, emit.pending


def realise(pending: list):
    """The weights as (name, float32 array), in order, made on a few threads.

    numpy releases the GIL while it draws. (Writing a file streams the weights
    instead: :func:`.onnx_file.write`.)
    """
    from concurrent.futures import ThreadPoolExecutor  # not on `compile`'s path: logging comes with it

    with ThreadPoolExecutor(THREADS) as pool:
        yield from zip((name for name, _, _ in pending), pool.map(lambda item: item[2](), pending))


def attach(model, pending: list) -> None:
    """Add the weights to the model as initializers (written in place: no protobuf copies)."""
    for name, array in realise(pending):
        initializer = model.graph.initializer.add()
        initializer.name, initializer.data_type = name, DataType.FLOAT
        initializer.dims.extend(array.shape)
        initializer.raw_data = little_endian(array).tobytes()


def _check_floats(emit: Emitter, node) -> None:
    """The weights emitted for a node are exactly its parameters and state (a compiler check)."""
    made, expected = emit.floats.get(node.name, 0), node.params + node.state
    if made != expected:
        raise AssertionError(f"{node.name}: emitted {made} weight values, the analysis counts {expected}")


def _name_output(emit: Emitter, tensor: str, name: str, node, outputs: list) -> str:
    """Give an output its source name: rename the producing tensor, or add an Identity.

    An Identity is needed when the tensor is a graph input or already another
    output, or when the name is taken.
    """
    if tensor == name:
        return name
    producer = next((n for n in emit.nodes if tensor in n.output), None)
    taken = any(name in n.output or name in n.input for n in emit.nodes) or name in _names(emit)
    if producer is None or taken or tensor in {o.name for o in outputs}:
        emit.nodes.append(
            make_node("Identity", [tensor], [name], name=f"{node.name}/{name}", doc_string=str(node.span))
        )
        return name
    for other in emit.nodes:
        for i, value in enumerate(other.input):
            if value == tensor:
                other.input[i] = name
    producer.output[0] = name
    return name


MAX_WEIGHT_BYTES = 2**36
"""64 GiB: `compile` refuses larger models before drawing any weight (so does free memory)."""


def check_weight_memory(graph, floats: dict[str, int]) -> None:
    """Estimate the weight bytes before any is drawn: refuse past MAX_WEIGHT_BYTES or the free memory."""
    total = 4 * sum(floats.values())
    if not floats:
        return
    largest = max(floats, key=floats.get)
    free = available_memory()
    if total > MAX_WEIGHT_BYTES or (free is not None and 4 * floats[largest] > free):
        limit = f"the limit is {_bytes(MAX_WEIGHT_BYTES)}" if total > MAX_WEIGHT_BYTES else f"{_bytes(free)} is free"
        raise error(
            "E0705",
            f"the model needs {_bytes(total)} of weights, `{largest}` alone {_bytes(4 * floats[largest])}; {limit}",
            graph[largest].span,
            hint="make the layer smaller (a dense layer on a large flattened map is the usual cause)",
        )


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f.read(1 << 16).splitlines():
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _bytes(count: int) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


def _free_output_names(emit: Emitter, graph, tensors: dict[str, str]) -> None:
    """Rename internal tensors that carry an output's name, so that every ONNX value
    name stays unique (`output relu1 = conv(16, 3) -> relu` makes a second `relu1`).
    An output named like a graph input cannot be renamed: that is a located error."""
    produced = {out: n for n in emit.nodes for out in n.output}
    used = set(produced) | _names(emit)
    inputs = {i.name for i in emit.inputs}
    for name, node in graph.outputs.items():
        if tensors[node] == name:
            continue
        if name in inputs:
            raise error(
                "E0704",
                f"the output `{name}` has the name of a network input",
                graph.values[name].span if name in graph.values else graph[node].span,
                hint="ONNX needs distinct input and output names: rename the output",
            )
        if name in produced:
            fresh = next(f"{name}:{k}" for k in range(len(used) + 1) if f"{name}:{k}" not in used)
            used.add(fresh)
            _rename(emit, name, fresh)
            produced[fresh] = produced.pop(name)
            for key, tensor in tensors.items():
                if tensor == name:
                    tensors[key] = fresh


def _rename(emit: Emitter, old: str, new: str) -> None:
    for other in emit.nodes:
        for i, value in enumerate(other.input):
            if value == old:
                other.input[i] = new
        for i, value in enumerate(other.output):
            if value == old:
                other.output[i] = new


def _names(emit: Emitter) -> set:
    return {i.name for i in emit.inputs + emit.weight_inputs} | {name for name, _, _ in emit.pending}


def metadata(network, seed: int) -> dict[str, str]:
    """`metadata_props`: provenance of the model and its frozen layers."""
    source = network.program.sources.get(network.source, "")
    frozen = [n.name for n in network.graph.nodes() if n.params > 0 and n.trainable == 0]
    return {
        "cnndsl_version": __version__,
        "source": network.source,
        "source_sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
        "network": network.name,
        "seed": str(seed),
        "frozen": ",".join(frozen),
    }


def weight_bytes(model) -> int:
    return sum(len(t.raw_data) for t in model.graph.initializer)


# -- files ---------------------------------------------------------------------------------


def to_onnx(network, path: str | os.PathLike | None = None, seed: int = 0, weights: dict | None = None):
    """The model of `network` (an :class:`onnx.ModelProto`); written atomically to `path` when given.

    Over 2 GiB of weights the file is saved with ONNX external data (a
    `<name>.data` file beside it), and the returned model then refers to it.
    `weights` ({tensor name: array}) replaces the initial values of those tensors.
    """
    import onnx  # noqa: F401  (the API returns onnx's own ModelProto class: see onnx_proto)

    model, pending = assemble(network, seed)
    pending = with_weights(pending, weights)
    arrays = list(realise(pending))  # made once: written and attached
    made = [(name, array.shape, Source.of(array)) for name, array in arrays]
    if path is not None and _nbytes(pending) < EXTERNAL_DATA_THRESHOLD:
        write(model, made, path)
        path = None
    attach(model, made)
    if path is not None:
        save_external(model, Path(path))
    return model


def for_session(network, seed: int = 0):
    """The model to open in onnxruntime from memory. Built on onnx's own classes (importing
    onnx) only when it needs external data (over 2 GiB), which onnx writes; else without onnx."""
    if _needs_external(network):
        return to_onnx(network, seed=seed)
    return build(network, seed)


def _needs_external(network) -> bool:
    return 4 * (network.totals["params"] + network.totals["state"]) >= EXTERNAL_DATA_THRESHOLD


def compile_file(network, path: str | os.PathLike, seed: int = 0, weights: dict | None = None) -> bool:
    """Write the model of `network` to `path` (atomically); True when it needed external data."""
    if _needs_external(network):
        import onnx  # noqa: F401  (onnx writes external data, on its own classes: see onnx_proto)
    model, pending = assemble(network, seed)
    pending = with_weights(pending, weights)
    if _nbytes(pending) < EXTERNAL_DATA_THRESHOLD:
        write(model, pending, path)
        return False
    attach(model, pending)
    save_external(model, Path(path))
    return True


def with_weights(pending: list, weights: dict | None) -> list:
    """`pending` with the tensors named in `weights` (loaded by backends/weightfiles.py) taken from it."""
    if not weights:
        return pending
    given = {name: Source.of(array) for name, array in weights.items()}
    return [(name, shape, given.get(name, make)) for name, shape, make in pending]


def _nbytes(pending: list) -> int:
    return sum(4 * math.prod(shape) for _, shape, _ in pending)
