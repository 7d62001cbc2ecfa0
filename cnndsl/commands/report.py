"""`cnndsl report FILE`: shapes, parameters, cost and receptive fields."""

from __future__ import annotations

import sys

from ..errors import CnnError
from . import colour, load_network, print_diagnostics


def command(args) -> int:
    try:
        network = load_network(args)
    except CnnError as exc:  # `input x: [3, H, W]` without --set H=…: shapes as formulas (docs/sizes.md)
        from ..network import parse_overrides
        from ..sizes.symbolic import symbolic_network, unset_sizes

        if not unset_sizes(exc):
            raise
        network = symbolic_network(args.file, args.network, parse_overrides(args.overrides))
        print_diagnostics(network.warnings, args)
    text = network.report(args.format, args.depth, colour=args.output is None and colour(args, sys.stdout))
    if args.output:
        from ..files import write_text

        write_text(args.output, text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0
