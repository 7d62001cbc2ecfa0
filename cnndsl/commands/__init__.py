"""The commands of `cnndsl`: one function per command, imported only by :mod:`cnndsl.cli`.

Each command takes the parsed command line (an `argparse.Namespace`), calls
the library and returns an exit code. Errors are raised as
:class:`cnndsl.errors.CnnError`; the CLI prints them and picks the exit code.
"""

from __future__ import annotations

import os
import sys

from .. import errors


def load_network(args):
    """Compile the network the command line names (warnings go to stderr)."""
    from .. import network

    loaded = network.load(args.file, args.network, network.parse_overrides(args.overrides))
    print_diagnostics(loaded.warnings, args)
    return loaded


def colour(args, stream) -> bool:
    """Whether to colour what goes to `stream` (`--color`, a terminal, NO_COLOR)."""
    if args.color != "auto":
        return args.color == "always"
    return stream.isatty() and "NO_COLOR" not in os.environ


def print_diagnostics(diagnostics, args) -> None:
    """Errors and warnings on stderr, as text (with carets) or as JSON (`--diagnostics json`)."""
    if not diagnostics:
        return
    if getattr(args, "diagnostics", "text") == "json":
        import json  # only here: `check` and `report --format table` never need it

        print(json.dumps({"diagnostics": [d.to_json() for d in diagnostics]}, indent=2), file=sys.stderr)
        return
    use_colour = colour(args, sys.stderr)
    blocks = [errors.render(d, errors.SOURCES, use_colour) for d in diagnostics]
    count = sum(d.severity == "error" for d in diagnostics)
    if count > 1:
        blocks.append(f"{count} errors")
    print("\n\n".join(blocks), file=sys.stderr)
