"""`cnndsl render FILE -o OUT.svg|png|pdf|dot [--style blocks]`: draw the architecture."""

from __future__ import annotations

import sys

from ..backends.render import check_style_format, parse_show, render
from . import load_network


def command(args) -> int:
    """`cnndsl render FILE -o OUT.svg|png|pdf|dot`; with `--style blocks` also `.tex`."""
    show = parse_show(args.show)
    check_style_format(args.style, args.output)
    network = load_network(args)
    path = args.output or f"{network.name}.svg"
    written = render(network, path, depth=args.depth, rankdir=args.rankdir, show=show, dot=args.dot, style=args.style)
    print(f"wrote {written}", file=sys.stderr)
    return 0
