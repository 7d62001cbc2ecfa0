"""`cnndsl compile FILE -o MODEL.onnx`: write the ONNX model."""

from __future__ import annotations

import sys

from ..backends.onnx import IR_VERSION, OPSET, compile_file
from . import load_network


def command(args) -> int:
    """`cnndsl compile FILE -o MODEL.onnx`."""
    network = load_network(args)
    path = args.output or f"{network.name}.onnx"
    external = " (weights in external data)" if compile_file(network, path, args.seed) else ""
    totals = network.totals
    print(
        f"{path}: network {network.name}, "
        f"{totals['params']:,} params + {totals['state']:,} state, opset {OPSET}, IR {IR_VERSION}{external}",
        file=sys.stderr,
    )
    return 0
