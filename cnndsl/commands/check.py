"""`cnndsl check FILE`: errors only."""

from __future__ import annotations

import sys

from ..errors import CnnError
from . import load_network, print_diagnostics


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
        print_diagnostics(network.warnings, args)
    if getattr(args, "assertions", None):
        from ..assertions import command_line

        command_line(network, args.assertions)
    if args.diagnostics == "text":
        skipped = sum(warning.code == "W1327" for warning in network.graph.warnings)
        held = len(network.graph.assertions) - skipped + len(getattr(args, "assertions", None) or ())
        checked = f", {held} assertion{'s' if held != 1 else ''} hold{'s' if held == 1 else ''}" if held else ""
        nodes = f"{len(network.graph)} nodes{checked}{symbolic}"
        print(f"{args.file}: ok: network {network.name}, {nodes}", file=sys.stderr)
    return 0
