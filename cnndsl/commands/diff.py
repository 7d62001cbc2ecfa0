"""`cnndsl diff A.cnn [B.cnn]`: what changed from one network to another (docs/diff.md)."""

from __future__ import annotations

import json
import sys

from . import print_diagnostics


def command(args) -> int:
    from .. import network
    from ..tools.diff import diff, table

    sides = []
    for file, name, settings in (
        (args.a, args.network_a or args.network, [*args.overrides, *args.set_a]),
        (args.b or args.a, args.network_b or args.network, [*args.overrides, *args.set_b]),
    ):
        loaded = network.load(file, name, network.parse_overrides(settings))
        print_diagnostics(loaded.warnings, args)
        sides.append(loaded)
    result = diff(*sides, depth=args.depth)
    text = json.dumps(result, indent=2) if args.format == "json" else table(result)
    if args.output:
        from ..files import write_text

        write_text(args.output, text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0
