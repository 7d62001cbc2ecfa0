"""`cnndsl check FILE`: errors only."""

from __future__ import annotations

import sys

from . import load_network


def command(args) -> int:
    if args.format == "json":
        args.diagnostics = "json"
    network = load_network(args)
    if args.diagnostics == "text":
        print(f"{args.file}: ok: network {network.name}, {len(network.graph)} nodes", file=sys.stderr)
    return 0
