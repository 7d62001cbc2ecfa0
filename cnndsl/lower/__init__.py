"""Syntax -> graph: resolve names, bind arguments, expand blocks and repeats.

The package, one concern per module:

* :mod:`.env` — the environment a statement is lowered in, and the rules for names;
* :mod:`.binder` — one argument binder for layer calls and block calls;
* :mod:`.walk` — statements, chains and terms, and the one place errors poison values;
* :mod:`.conditions` — file-level `let`/`fn`, `let` in bodies, `if`, tensor arguments (`like=`);
* :mod:`.constructs` — merges, `residual`, `frozen`, block calls and `repeat`;
* :mod:`.limits` — the expansion limits, checked before anything is unrolled.
"""

from __future__ import annotations

from ..graph import Graph
from ..loader import Program
from .constructs import Lowering
from .limits import MAX_DEPTH, MAX_NODES, MAX_STEPS

__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_STEPS", "lower"]


def lower(program: Program, network: str, overrides: dict | None = None) -> Graph:
    """Expand network `network` of `program` into a :class:`Graph` with shapes."""
    return Lowering(program).network(program.networks[network], overrides or {})
