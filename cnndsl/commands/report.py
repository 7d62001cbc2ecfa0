"""`cnndsl report FILE`: shapes, parameters, cost and receptive fields."""

from __future__ import annotations

import sys

from . import colour, load_network


def command(args) -> int:
    network = load_network(args)
    text = network.report(args.format, args.depth, colour=args.output is None and colour(args, sys.stdout))
    if args.output:
        from ..files import write_text

        write_text(args.output, text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0
