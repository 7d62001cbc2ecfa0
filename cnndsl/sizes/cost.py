"""The report of a symbolic program: shapes, MACs, FLOPs and bytes as formulas in the size variables.

Parameters and state do not depend on the sizes and stay numbers. A layer's
MACs and FLOPs come from the layer's own methods (`macs`, `flops`), fitted to
``const + sum(coef_k * measure_k)`` where a measure is the height × width of
an image tensor it reads or writes (or the features of a flat one whose count
depends on the sizes); the fit is checked at a third point, and a layer that
does not fit is refused (E1305) rather than guessed. Receptive fields are
those of the representative sizes (large inputs: no field is clipped).
"""

from __future__ import annotations

from ..errors import error
from ..layers.base import FLOAT_BYTES
from ..network import Row
from .expr import Poly


def plain(formula):
    """A JSON-ready value: numbers stay numbers, formulas become strings."""
    if isinstance(formula, (int, str)):
        return formula
    if isinstance(formula, Maximum):
        return str(formula)
    constant = Poly.of(formula).constant
    return constant if constant is not None else str(formula)


class SymbolicNetwork:
    """What `report` reads of a network (cnndsl/report.py), with formulas for the sizes."""

    def __init__(self, loaded):
        self.loaded, self.net = loaded, loaded.network
        self.name, self.source, self.warnings = self.net.name, self.net.source, self.net.warnings
        self.facts = {node.name: self._facts(node) for node in self.net.graph.nodes()}

    def _facts(self, node) -> dict:
        shapes, graph = self.loaded.shapes, self.net.graph
        return {
            "macs": _fit(node, graph, shapes, node.layer.macs, "MACs"),
            "flops": _fit(node, graph, shapes, node.layer.flops, "FLOPs"),
            "activation_bytes": _elements(shapes[node.name]).times(FLOAT_BYTES),
        }

    def _shape(self, name: str) -> list:
        return [plain(d) for d in self.loaded.shapes[name]]

    @property
    def inputs(self) -> list[dict]:
        return [{"name": n, "shape": self._shape(n), "dtype": "float32"} for n in self.net.graph.inputs]

    @property
    def outputs(self) -> list[dict]:
        outputs = self.net.graph.outputs.items()
        return [{"name": n, "shape": self._shape(node), "dtype": "float32"} for n, node in outputs]

    @property
    def values(self) -> dict:
        out = self.net.values
        for name, value in self.net.graph.values.items():
            out[name]["shape"] = self._shape(value.node)
        return out

    @property
    def totals(self) -> dict:
        totals = dict(self.net.totals)
        for key in ("macs", "flops", "activation_bytes"):
            total = Poly.of(0)
            for facts in self.facts.values():
                total = total + facts[key]
            totals[key] = plain(total)
        totals["peak_activation_bytes"] = self._peak()
        return totals

    def _peak(self):
        """The memory pass's schedule, with byte formulas; the peak is the max of the candidates."""
        graph = self.net.graph
        order, last_use = list(graph.nodes()), {}
        for step, node in enumerate(order):
            for source in node.inputs:
                last_use[source] = step
        keep = set(graph.outputs.values()) | set(graph.inputs)
        alive, candidates = Poly.of(0), []
        for step, node in enumerate(order):
            alive = alive + self.facts[node.name]["activation_bytes"]
            candidates.append(alive)
            for name in [n for n, s in last_use.items() if s == step and n not in keep]:
                alive = alive + self.facts[name]["activation_bytes"].times(-1)
            if node.name not in keep and node.name not in last_use:
                alive = alive + self.facts[node.name]["activation_bytes"].times(-1)
        return plain(_maximum(candidates))

    def rows(self, depth: int | None = None) -> list[Row]:
        rows = []
        for row, (_, nodes) in zip(self.net.rows(depth), self.net.graph.collapse(depth)):
            sums = {key: Poly.of(0) for key in ("macs", "flops", "activation_bytes")}
            for node in nodes:
                for key in sums:
                    sums[key] = sums[key] + self.facts[node.name][key]
            shape = self._shape(nodes[-1].name)
            updated = {key: plain(sums[key]) for key in sums}
            if row.op == "input" and len(shape) == 4:
                updated["label"] = "input " + "x".join(map(str, shape[1:]))
            rows.append(Row(**{**row.__dict__, "shape": tuple(shape), **updated}))
        return rows

    def to_dict(self, depth: int | None = None) -> dict:
        from ..report import json_report

        return json_report(self, depth)

    def report(self, format: str = "table", depth: int | None = None, colour: bool = False) -> str:
        from .. import report

        return report.render(self, format, depth, colour)


def _elements(shape: tuple) -> Poly:
    total = Poly.of(1)
    for dim in shape[1:]:
        total = total * Poly.of(dim)
    return total


def _measures(node, graph, shapes) -> list[tuple[int, Poly]]:
    """(slot, measure) for every tensor of the node (inputs, then the output) whose size varies."""
    out = []
    for slot, name in enumerate((*node.inputs, node.name)):
        shape = shapes[name]
        measure = Poly.of(shape[2]) * Poly.of(shape[3]) if len(shape) == 4 else Poly.of(shape[1])
        if measure.constant is None:
            out.append((slot, measure))
    return out


def _fit(node, graph, shapes, method, what: str) -> Poly:
    concrete = [graph[i].shape for i in node.inputs] + [node.shape]
    measures = _measures(node, graph, shapes)
    if not measures:
        return Poly.of(method(concrete[:-1], concrete[-1]))

    def at(values: dict) -> int:
        probe = [_resized(t, values[k]) if k in values else t for k, t in enumerate(concrete)]
        return method(probe[:-1], probe[-1])

    try:
        ones = {slot: 1 for slot, _ in measures}
        base = at(ones)
        coefs = {slot: at({**ones, slot: 2}) - base for slot, _ in measures}
        const = base - sum(coefs.values())
        trial = {slot: 6 + 5 * i for i, (slot, _) in enumerate(measures)}
        fits = at(trial) == const + sum(coefs[s] * v for s, v in trial.items())
    except (ArithmeticError, ValueError, TypeError):
        fits = False
    if not fits:
        raise error("E1305", f"cannot give the {what} of `{node.op}` as a formula of the sizes", node.span)
    total = Poly.of(const)
    for slot, measure in measures:
        total = total + measure.times(coefs[slot])
    return total


def _resized(shape: tuple, measure: int) -> tuple:
    """`shape` with `measure` elements per channel: height `measure`, width 1 (or `measure` features)."""
    return (*shape[:2], measure, 1) if len(shape) == 4 else (shape[0], measure)


def _maximum(candidates: list[Poly]):
    """The candidates that no other bounds term by term (every term is positive at a valid size)."""
    kept: list[Poly] = []
    for poly in dict.fromkeys(candidates):
        if any(_bounds(other, poly) for other in kept):
            continue
        kept = [k for k in kept if not _bounds(poly, k)] + [poly]
    return kept[0] if len(kept) == 1 else Maximum(tuple(kept))


def _bounds(big: Poly, small: Poly) -> bool:
    return all(c >= 0 for _, c in (big + small.times(-1)).terms)


class Maximum:
    def __init__(self, parts: tuple):
        self.parts = parts

    def value(self, env: dict) -> int:
        return max(p.value(env) for p in self.parts)

    def __str__(self) -> str:
        return "max(" + ", ".join(map(str, self.parts)) + ")"
