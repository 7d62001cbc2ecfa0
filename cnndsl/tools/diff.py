"""Two compiled networks compared node by node: `cnndsl diff` (docs/diff.md).

Nodes (report rows, so `--depth` collapses blocks as the report does) are
paired by name first; the rest, where names moved, by structure: the longest
run of the same kind and layer label in the same order (difflib's matcher over
the unpaired rows of each side). Each pair is `same` or `changed` (in name,
kind, shape, parameters, MACs or receptive field); a row of B alone is
`added`, one of A alone `removed`. The totals' deltas are B minus A. The
transferable tensors are those `compile --weights FILE --partial` would load
into B from A's weights: the same state_dict key, the same shape.
"""

from __future__ import annotations

from collections import deque
from difflib import SequenceMatcher

COMPARED = ("name", "op", "label", "shape", "params", "macs", "rf")
CHANGES = ("added", "removed", "changed", "same")


def diff(a, b, depth: int | None = None) -> dict:
    """The comparison of networks `a` and `b` (:class:`cnndsl.network.Network`) as a JSON-ready dict."""
    rows_a, rows_b = a.rows(depth), b.rows(depth)
    nodes = [_entry(x, y) for x, y in _ordered(rows_a, rows_b, pair(rows_a, rows_b))]
    keys_a, keys_b = tensors(a), tensors(b)
    transferable = [key for key, shape in keys_b.items() if keys_a.get(key) == shape]
    renamed = _renamed(nodes, keys_a, keys_b)
    return {
        "a": _side(a),
        "b": _side(b),
        "totals": {key: _delta(a.totals[key], b.totals[key]) for key in a.totals},
        "summary": {change: sum(n["change"] == change for n in nodes) for change in CHANGES},
        "nodes": nodes,
        "transferable": transferable,
        "transferable_params": sum(_count(keys_b[key]) for key in transferable),
        "renamed": renamed,
        "tensors": {"a": len(keys_a), "b": len(keys_b)},
    }


def _side(network) -> dict:
    return {"network": network.name, "source": network.source}


def _delta(a, b) -> dict:
    return {"a": a, "b": b, "delta": b - a}


def _count(shape: tuple) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


# -- pairing ----------------------------------------------------------------------------------


def pair(rows_a: list, rows_b: list) -> dict[int, int]:
    """{index in A: index in B}: equal names first, then equal structure among the rest, in order."""
    by_name = {row.name: i for i, row in enumerate(rows_b)}
    pairs = {i: by_name[row.name] for i, row in enumerate(rows_a) if row.name in by_name}
    taken = set(pairs.values())
    left = [i for i in range(len(rows_a)) if i not in pairs]
    right = [j for j in range(len(rows_b)) if j not in taken]
    keys_a = [_structure(rows_a[i]) for i in left]
    keys_b = [_structure(rows_b[j]) for j in right]
    matcher = SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            pairs[left[block.a + k]] = right[block.b + k]
    return pairs


def _structure(row) -> tuple:
    return (row.op, row.label)


def _ordered(rows_a: list, rows_b: list, pairs: dict[int, int]):
    """(row of A or None, row of B or None) in B's order, as a unified diff shows them: between two
    pairs, the rows of A alone (removed) before the rows of B alone (added)."""
    partner = {j: i for i, j in pairs.items()}
    removed = deque(k for k in range(len(rows_a)) if k not in pairs)
    added: list = []
    for j, row in enumerate(rows_b):
        i = partner.get(j)
        if i is None:
            added.append(row)
            continue
        while removed and removed[0] < i:
            yield rows_a[removed.popleft()], None
        yield from ((None, b) for b in added)
        added = []
        yield rows_a[i], row
    yield from ((rows_a[k], None) for k in removed)
    yield from ((None, b) for b in added)


# -- entries --------------------------------------------------------------------------------------


def _facts(row) -> dict | None:
    if row is None:
        return None
    return {
        "name": row.name,
        "op": row.op,
        "label": row.label,
        "shape": list(row.shape),
        "params": row.params,
        "macs": row.macs,
        "rf": row.field.to_json() if row.field else None,
        "source": row.source,
    }


def _entry(row_a, row_b) -> dict:
    a, b = _facts(row_a), _facts(row_b)
    if a is None or b is None:
        return {"name": (a or b)["name"], "change": "added" if a is None else "removed", "a": a, "b": b}
    differs = [key for key in COMPARED if a[key] != b[key]]
    entry = {"name": b["name"], "change": "changed" if differs else "same", "a": a, "b": b}
    if differs:
        entry["differs"] = differs
    return entry


# -- weights ----------------------------------------------------------------------------------------


def _renamed(nodes: list, keys_a: dict, keys_b: dict) -> list[dict]:
    """Tensors of nodes paired by structure under another name, of the same shape: they would
    transfer if renamed (`compile --weights` loads by name, so these are not loaded as they are)."""
    out = []
    for node in nodes:
        a, b = node["a"], node["b"]
        if a is None or b is None or a["name"] == b["name"] or a["op"] == "block":
            continue
        prefix_a, prefix_b = a["name"].replace("/", ".") + ".", b["name"].replace("/", ".") + "."
        for key, shape in keys_a.items():
            if key.startswith(prefix_a) and "." not in key[len(prefix_a) :]:
                other = prefix_b + key[len(prefix_a) :]
                if keys_b.get(other) == shape and other not in keys_a:
                    out.append({"a": key, "b": other})
    return out


def tensors(network) -> dict[str, tuple]:
    """{state_dict key: shape} of the network's weights, as `compile --weights` names them.

    Nothing is drawn: a skeleton model lists each weight as a graph input of its shape
    (no memory check, so networks too large to compile still compare; no `onnx` import).
    """
    from ..backends.onnx import assemble
    from ..backends.weightfiles import slots

    model, _ = assemble(network, skeleton=True)
    weights = model.graph.input[len(network.graph.inputs) :]
    pending = [(info.name, _dims(info), None) for info in weights]
    return {slot.key: tuple(slot.shape) for slot in slots(network, pending)}


def _dims(info) -> tuple:
    return tuple(dim.dim_value for dim in info.type.tensor_type.shape.dim)


# -- the table ------------------------------------------------------------------------------------

MARKS = {"added": "+", "removed": "-", "changed": "~", "same": " "}
TOTALS = ("params", "trainable", "frozen", "state", "macs", "flops", "peak_activation_bytes")


def table(result: dict) -> str:
    """The comparison as text: one line per node (`+` added, `-` removed, `~` changed), the totals,
    the transferable tensors."""
    a, b = result["a"], result["b"]
    lines = [f"--- {a['network']}  ({a['source']})", f"+++ {b['network']}  ({b['source']})", ""]
    cells = [_cells(node) for node in result["nodes"]]
    header = ("", "Layer", "Op", "Output shape", "Params", "MACs", "RF")
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]
    for row in (header, *cells):
        parts = [c.rjust(w) if i in (4, 5) else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(parts).rstrip())
    counts = result["summary"]
    lines += ["", ", ".join(f"{counts[c]} {c}" for c in CHANGES), "", _totals(result["totals"]), ""]
    count, total = len(result["transferable"]), result["tensors"]["b"]
    lines.append(
        f"Transferable: {count} of {total} weight tensors of {b['network']} "
        f"({result['transferable_params']:,} values) load from {a['network']}'s weights "
        "with `compile --weights FILE --partial`"
    )
    if result["renamed"]:
        lines.append(f"Renamed: {len(result['renamed'])} more would load under B's names (--format json lists them)")
    return "\n".join(lines)


def _cells(node: dict) -> tuple:
    a, b = node["a"], node["b"]
    name = node["name"] if a is None or b is None or a["name"] == b["name"] else f"{a['name']} -> {b['name']}"

    def both(key, show=str):
        if a is None or b is None:
            return show((a or b)[key])
        before, after = show(a[key]), show(b[key])
        return before if before == after else f"{before} -> {after}"

    return (
        MARKS[node["change"]],
        name,
        both("label"),
        both("shape", _shape),
        both("params", lambda v: f"{v:,}"),
        both("macs", lambda v: f"{v:,}"),
        both("rf", _field),
    )


def _shape(shape: list) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _field(rf) -> str:
    if rf is None:
        return "-"
    if rf.get("global"):
        return "global"
    h, w = rf["size"]
    return f"{h}" if h == w else f"{h}x{w}"


def _totals(totals: dict) -> str:
    rows = [("Totals", "A", "B", "B - A")]
    rows += [(key, f"{t['a']:,}", f"{t['b']:,}", f"{t['delta']:+,}") for key, t in totals.items() if key in TOTALS]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows
    )
