"""The last stage: fold, write the text, compile it once and key the weights by its node names.

The program is compiled with cnndsl itself: its nodes, in order, are the
imported layers in the order the text calls them (blocks and repeats
expanded), so the learnable ones pair up one to one and every weight gets
the name `cnndsl compile --weights` looks for (`Layer2/LayerBlock1/conv1.weight`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CnnError, error
from . import Imported
from .fold import Folder, group, merge_scopes
from .onnx_graph import Model
from .onnx_patterns import Recogniser
from .program_text import identifier, program
from .structure import Call, Layer, Merge, Repeat, Source, nest


def imported(r: Recogniser, model: Model) -> Imported:
    nesting = nest(r)
    names = _names(model, r, nesting)
    trees = []
    for _, items, _ in nesting.statements:
        _resolve(items, names)
        merge_scopes(items)
        trees.append(group(items))
    for op in r.ops.values():  # `upsample(like=name)`
        op.args = {**{k: _text_name(names[v]) for k, v in op.refs.items()}, **op.args}
    folder = Folder([item for tree in trees for item in tree])
    final = [folder.final(tree, statements=True) for tree in trees]
    folder.finish()
    text = _text(model, nesting, names, [items for items in final], folder)
    weights = _weights(model, text, [item for items in final for item in items])
    notes = list(model.notes)
    if folder.order:
        listed = ", ".join(f"{b.name} ({len(b.instances)} uses)" for b in folder.order)
        notes.append(f"folded repeated sub-graphs into blocks: {listed}")
    return Imported(text, weights, notes)


def _names(model: Model, r: Recogniser, nesting) -> dict:
    """The name of every bound value: the input's, each output's (("output", name)), `trunk`, `trunk2`, …
    where the outputs' paths part, and after its node's first scope (`doubleconv4`) for the others."""
    names = {nesting.start: identifier(nesting.start, "image")}
    taken = set(names.values())

    def fresh(chosen: str) -> str:
        base, k = chosen, 1
        while chosen in taken:
            k += 1
            chosen = f"{base}_{k}"
        taken.add(chosen)
        return chosen

    for out in model.outputs:
        chosen = "output" if out == "output" and len(model.outputs) == 1 else identifier(out, "logits")
        names[r.maker[out]] = ("output", fresh(chosen))
    for k, split in enumerate(nesting.splits):
        names[split] = fresh(f"trunk{k + 1 if k else ''}")
    for value in r.ops:
        if value in nesting.bound and value not in names:
            first = next((p for p in value.split("#")[0].split("/") if p), value)
            names[value] = fresh(identifier(first.lower(), "value"))
    return names


def _text_name(name) -> str:
    return name[1] if isinstance(name, tuple) else name


def _resolve(items: list, names: dict) -> None:
    for item in items:
        if isinstance(item, Source):
            item.name = _text_name(names[item.value])
        elif isinstance(item, Merge):
            for branch in item.branches:
                _resolve(branch, names)


def _text(model: Model, nesting, names: dict, final: list, folder: Folder) -> str:
    """The program text: the statements with their bound names."""
    name = identifier(Path(model.path).stem, "Imported")
    name = name[0].upper() + name[1:]
    head = (name, Path(model.path).name, names[nesting.start], model.inputs[nesting.start])
    segments = [(names[a], items, names[b]) for (a, _, b), items in zip(nesting.statements, final)]
    return program(head, folder.order, segments)


def ops_in_order(items: list):
    """The imported ops in the order the written program makes its nodes."""
    for item in items:
        if isinstance(item, Layer):
            yield item.op
        elif isinstance(item, Merge):
            for branch in item.branches:
                yield from ops_in_order(branch)
            yield item.op
        elif isinstance(item, Call):
            index = next(i for i, g in enumerate(item.block.instances) if g is item.group)
            yield from ops_in_order(item.block.bodies[index])
        elif isinstance(item, Repeat):
            for instance in item.instances:
                yield from ops_in_order(instance)


def _weights(model: Model, text: str, final: list) -> dict[str, np.ndarray]:
    import cnndsl

    from ..backends.onnx import assemble
    from ..backends.weightfiles import slots

    try:
        network = cnndsl.loads(text, name=f"<import of {Path(model.path).name}>")
    except CnnError as exc:
        first = exc.diagnostics[0]
        raise error("E1210", f"{model.path}: the imported program does not compile: {first.message}") from None
    _, pending = assemble(network, skeleton=False)
    table = {s.onnx: s for s in slots(network, pending)}
    learned = [n for n in network.graph.nodes() if n.params + n.state > 0]
    ops = [op for op in ops_in_order(final) if op.weights]
    if [op.kind for op in ops] != [n.op for n in learned]:
        raise AssertionError("the imported layers and the compiled nodes do not pair up")
    out = {}
    for op, node in zip(ops, learned):
        for role, array in op.weights.items():
            slot = table[f"{node.name}/{role}"]
            if array.size != int(np.prod(slot.shape)):
                raise error(
                    "E1210",
                    f"{model.path}: node `{op.name}`: its {role} has the shape {list(array.shape)}, where the "
                    f"imported `{op.kind}` needs {list(slot.shape)}",
                    hint="the model's weights do not fit its own layer (an older opset's per-group form?)",
                )
            out[slot.key] = np.ascontiguousarray(array.reshape(slot.shape), dtype=np.float32)
    if len(out) != len(table):
        raise AssertionError(f"{len(table) - len(out)} tensors of the program were not imported")
    return out
