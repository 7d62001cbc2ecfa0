"""`cnndsl check FILE`: errors only."""

from __future__ import annotations

import sys

from . import load_network


def command(args) -> int:
    if args.format == "json":
        args.diagnostics = "json"
    network = load_network(args)
    if getattr(args, "assertions", None):
        from ..assertions import command_line

        command_line(network, args.assertions)
    if args.diagnostics == "text":
        held = len(network.graph.assertions) + len(getattr(args, "assertions", None) or ())
        checked = f", {held} assertion{'s' if held != 1 else ''} hold{'s' if held == 1 else ''}" if held else ""
        print(f"{args.file}: ok: network {network.name}, {len(network.graph)} nodes{checked}", file=sys.stderr)
    return 0
