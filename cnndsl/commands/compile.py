"""`cnndsl compile FILE -o MODEL.onnx`: write the ONNX model."""

from __future__ import annotations

import sys

from ..backends.onnx import IR_VERSION, OPSET, assemble, compile_file
from . import load_network


def command(args) -> int:
    """`cnndsl compile FILE -o MODEL.onnx [--weights W [--partial] [--match order]]`."""
    network = load_network(args)
    path = args.output or f"{network.name}.onnx"
    weights = None
    if args.weights:
        from ..backends.weightfiles import load

        pending = assemble(network, args.seed)[1]
        weights, notes = load(network, pending, args.weights, args.partial, args.match == "order")
        for note in notes:
            print(note, file=sys.stderr)
    external = " (weights in external data)" if compile_file(network, path, args.seed, weights) else ""
    totals = network.totals
    print(
        f"{path}: network {network.name}, "
        f"{totals['params']:,} params + {totals['state']:,} state, opset {OPSET}, IR {IR_VERSION}{external}",
        file=sys.stderr,
    )
    return 0
