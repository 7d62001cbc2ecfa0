"""`cnndsl export FILE --to pytorch|safetensors -o PATH`."""

from __future__ import annotations

import sys


def command(args) -> int:
    from ..cli import load_network

    network = load_network(args)
    if args.to == "pytorch":
        from ..files import write_text
        from .pytorch import generate

        write_text(args.output, generate(network))
        print(f"{args.output}: PyTorch module of network {network.name}", file=sys.stderr)
        return 0
    from .weightfiles import initial_state, save_safetensors

    state = initial_state(network, args.seed)
    save_safetensors(state, args.output)
    print(f"{args.output}: {len(state)} initial tensors of network {network.name}, seed {args.seed}", file=sys.stderr)
    return 0
