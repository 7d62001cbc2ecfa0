"""`cnndsl lsp`: the language server on stdio (cnndsl/tools/lsp.py; needs the `lsp` extra)."""

from __future__ import annotations

import importlib.util
import sys

MISSING = "cnndsl lsp needs pygls: pip install 'cnndsl[lsp]'"


def command(args) -> int:
    if importlib.util.find_spec("pygls") is None:
        print(f"cnndsl: {MISSING}", file=sys.stderr)
        return 2
    from ..tools.lsp import server

    server().start_io()
    return 0
