"""`cnndsl render FILE -o OUT.svg|png|pdf|dot`: draw the architecture."""

from __future__ import annotations

import sys

from ..backends.render import check_format, parse_show, render
from . import load_network


def command(args) -> int:
    """`cnndsl render FILE -o OUT.svg|png|pdf|dot`."""
    show = parse_show(args.show)
    check_format(args.output)
    network = load_network(args)
    path = args.output or f"{network.name}.svg"
    written = render(network, path, depth=args.depth, rankdir=args.rankdir, show=show, dot=args.dot)
    print(f"wrote {written}", file=sys.stderr)
    return 0
