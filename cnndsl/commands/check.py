"""`cnndsl check FILE`: errors only."""

from __future__ import annotations

import sys

from ..errors import CnnError
from . import load_network


def command(args) -> int:
    if args.format == "json":
        args.diagnostics = "json"
    symbolic = ""
    try:
        network = load_network(args)
    except CnnError as exc:  # `input x: [3, H, W]`: check it at every size (docs/sizes.md)
        from ..network import parse_overrides
        from ..sizes.symbolic import symbolic_network, unset_sizes

        if not unset_sizes(exc):
            raise
        loaded = symbolic_network(args.file, args.network, parse_overrides(args.overrides)).loaded
        network, symbolic = loaded.network, f" (symbolic sizes {', '.join(loaded.variables)})"
    if args.diagnostics == "text":
        print(f"{args.file}: ok: network {network.name}, {len(network.graph)} nodes{symbolic}", file=sys.stderr)
    return 0
