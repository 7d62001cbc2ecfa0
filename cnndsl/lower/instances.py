"""Block calls seen before: expanded once, copied after.

A call of the same block with the same arguments, inside or outside `frozen`,
on an input of the same shape expands to the same nodes, only under another
path (`Stage/Res2/conv1` instead of `Stage/Res1/conv1`). The first such call is
lowered statement by statement and its nodes are kept as a :class:`Template`;
every later one copies the template under its own path, which costs a
fraction of binding arguments and inferring shapes again (`repeat 10000 {
Res(16) }` lowers about four times faster). The copy is the graph the walk
would have built, node for node (tests/test_block_templates.py compares the
two on every network of the zoo).

A call is not templated when copying could differ from lowering: a block
given tensors (`like=t` arguments point outside it), a lowering that reported
an error or a warning or left an `assert` to check, a layer pointing at
another tensor, or arguments that are not plain values.
"""

from __future__ import annotations

from itertools import islice

from ..graph import BlockInstance, Graph, Node, Value
from ..values import TensorRef


class Template:
    """The nodes, nested block instances and bound values one block call added."""

    __slots__ = ("path", "block_input", "result", "nodes", "blocks", "values", "steps")

    def __init__(self, path, block_input, result, nodes, blocks, values, steps):
        self.path, self.block_input, self.result = path, block_input, result
        self.nodes, self.blocks, self.values, self.steps = nodes, blocks, values, steps


class Mark:
    """How much the graph held before a call: what the call adds is what lies beyond."""

    __slots__ = ("nodes", "blocks", "values", "warnings", "assertions", "errors", "steps")

    def __init__(self, graph: Graph, errors: int, steps: int):
        self.nodes, self.blocks, self.values = len(graph), len(graph.blocks), len(graph.values)
        self.warnings, self.assertions = len(graph.warnings), len(graph.assertions)
        self.errors, self.steps = errors, steps


def call_key(block: str, arguments: dict, frozen: bool, shape) -> tuple | None:
    """What makes two calls expand alike, or None when the arguments are not plain values."""
    try:
        key = (block, frozen, shape, tuple(sorted((name, _plain(value)) for name, value in arguments.items())))
        hash(key)
    except TypeError:
        return None
    return key


def _plain(value):
    """The value with its type, so that `1`, `1.0` and `true` stay three different arguments."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_plain(item) for item in value))
    return (type(value).__name__, value)


def capture(graph: Graph, mark: Mark, errors: int, steps: int, path: tuple, block_input: str, result):
    """The template of the call that added everything beyond `mark`, or None if it cannot be copied."""
    if result is None or errors != mark.errors:
        return None
    if len(graph.warnings) != mark.warnings or len(graph.assertions) != mark.assertions:
        return None
    nodes = _last(graph._nodes.values(), len(graph) - mark.nodes)
    inside = {node.name for node in nodes}
    prefix = "/".join(path) + "/"
    for node in nodes:
        if not node.name.startswith(prefix) or node.scope[: len(path)] != path:
            return None
        if any(name not in inside and name != block_input for name in node.inputs):
            return None
        if any(type(value) is TensorRef for value in node.layer.attrs.values()):
            return None
    if result not in inside and result != block_input:
        return None
    blocks = _last(graph.blocks.values(), len(graph.blocks) - mark.blocks)
    values = _last(graph.values.values(), len(graph.values) - mark.values)
    inside.add(block_input)  # a name may be bound to the block's input itself
    if any(not value.name.startswith(prefix) or value.node not in inside for value in values):
        return None
    return Template(path, block_input, result, nodes, blocks, values, steps - mark.steps)


def _last(items, count: int) -> list:
    """The last `count` of a dict view, in order, without walking the rest."""
    return list(islice(reversed(items), count))[::-1] if count else []


def copy(template: Template, graph: Graph, path: tuple, block_input: str) -> str:
    """Add the template's nodes under `path`, reading `block_input`; the copy's result."""
    old, new = len("/".join(template.path)) + 1, "/".join(path) + "/"
    depth = len(template.path)
    names = {template.block_input: block_input}
    for node in template.nodes:
        name = names[node.name] = new + node.name[old:]
        inputs = tuple(names[source] for source in node.inputs)
        scope = path + node.scope[depth:]
        graph.add(Node(name, node.layer, inputs, node.span, scope, node.frozen, shape=node.shape))
    for block in template.blocks:
        moved = path + block.path[depth:]
        graph.blocks[moved] = BlockInstance(moved, block.block, block.span)
    for value in template.values:
        key = new + value.name[old:]
        graph.values[key] = Value(key, names[value.node], value.span)
    return names[template.result]
