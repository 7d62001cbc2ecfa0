"""`cnndsl import MODEL -o model.cnn [--weights-out w.safetensors]` (docs/import.md)."""

from __future__ import annotations

import sys


def command(args) -> int:
    from .. import frontends
    from ..files import write_text

    imported = frontends.read(args.model, args.source_format, args.weights)
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.weights_out:
        from ..backends.weightfiles import save_safetensors

        save_safetensors(imported.weights, args.weights_out)
        print(f"{args.weights_out}: {len(imported.weights)} tensors", file=sys.stderr)
    if args.output in (None, "-"):
        sys.stdout.write(imported.source)
    else:
        write_text(args.output, imported.source)
        lines = imported.source.count("\n")
        print(f"{args.output}: {lines} lines", file=sys.stderr)
    return 0
