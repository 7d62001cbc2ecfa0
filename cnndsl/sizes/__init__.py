"""Symbolic input sizes (docs/sizes.md): formulas for every shape, and which sizes are valid.

* :mod:`.expr` — size formulas (floor-affine maps of one variable) and products of them;
* :mod:`.maps` — every node's shape as formulas, and the conditions for a valid size;
* :mod:`.solve` — the exact valid values of one variable: smallest, period, residues;
* :mod:`.symbolic` — lower a program once at representative sizes and map it;
* :mod:`.cost` — MACs, FLOPs and bytes as formulas, for `cnndsl report` of a symbolic program.
"""

from __future__ import annotations

from .analysis import analyse_sizes

__all__ = ["analyse_sizes"]
