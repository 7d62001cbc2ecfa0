"""Analysis passes over the graph, each one linear sweep in topological order."""

from __future__ import annotations

from .cost import cost
from .memory import memory
from .params import params
from .receptive_field import receptive_field

PASSES = (params, cost, receptive_field)


def analyse(graph) -> int:
    """Run every pass; return the peak activation bytes (the memory pass's result)."""
    for run in PASSES:
        run(graph)
    return memory(graph)
