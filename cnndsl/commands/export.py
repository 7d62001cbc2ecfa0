"""`cnndsl export FILE --to pytorch|safetensors -o PATH`."""

from __future__ import annotations

import sys

from . import load_network


def command(args) -> int:
    network = load_network(args)
    if args.to == "pytorch":
        from ..backends.pytorch import generate
        from ..files import write_text

        write_text(args.output, generate(network))
        print(f"{args.output}: PyTorch module of network {network.name}", file=sys.stderr)
        return 0
    from ..backends.weightfiles import initial_state, save_safetensors

    state = initial_state(network, args.seed)
    save_safetensors(state, args.output)
    print(f"{args.output}: {len(state)} initial tensors of network {network.name}, seed {args.seed}", file=sys.stderr)
    return 0
