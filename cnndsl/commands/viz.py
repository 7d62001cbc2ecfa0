"""`cnndsl viz maps|filters|occlusion`: see inside a network (docs/visualise.md)."""

from __future__ import annotations

import sys

from ..errors import usage_error
from ..files import atomic_path
from . import load_network


def add_parser(commands, program) -> None:
    """The `viz` command and its three subcommands (called by cli.py)."""
    viz = commands.add_parser("viz", help="feature maps, filters and occlusion maps (needs matplotlib, Pillow)")
    kinds = viz.add_subparsers(dest="viz", metavar="WHAT", required=True)
    maps = kinds.add_parser("maps", parents=[program], help="feature maps of named layers for an image")
    maps.add_argument("--input", metavar="IMG", required=True, help="an image (PNG, JPEG, …) or a .npy array")
    maps.add_argument("--layer", metavar="NAME", nargs="+", action="extend", required=True, help="layers or values")
    maps.add_argument("--max-maps", type=int, default=32, metavar="N", help="channels shown per layer (default 32)")
    maps.add_argument("--scale", choices=("shared", "each"), default="shared", help="one colour scale per layer or map")
    maps.add_argument("--npy", metavar="PATH", help="also save the raw maps (.npy, or .npz for several layers)")
    filters = kinds.add_parser("filters", parents=[program], help="a convolution's kernels as tiles")
    filters.add_argument("--layer", metavar="NAME", required=True)
    filters.add_argument("--max-maps", type=int, default=64, metavar="N", help="tiles shown (default 64)")
    occlusion = kinds.add_parser("occlusion", parents=[program], help="which part of the image a class depends on")
    occlusion.add_argument("--input", metavar="IMG", required=True)
    occlusion.add_argument("--class", type=int, dest="target", metavar="K", help="default: the predicted class")
    occlusion.add_argument("--patch", type=int, default=8, metavar="P", help="patch side in pixels (default 8)")
    occlusion.add_argument("--stride", type=int, default=4, metavar="S", help="step between windows (default 4)")
    occlusion.add_argument("--fill", type=float, default=0.5, help="the patch's value (default 0.5, grey)")
    occlusion.add_argument("--npy", metavar="PATH", help="also save the heat map [H, W]")
    for sub in (maps, filters, occlusion):
        sub.add_argument("--weights", metavar="W", help="trained weights: .safetensors, .npz, .pt or .pth")
        sub.add_argument("--seed", type=int, default=0, help="initialisation seed without --weights")
        sub.add_argument("-o", "--output", metavar="OUT.png", required=True, help="the picture (.png, .svg, .pdf)")


def command(args) -> int:
    from ..tools import viz
    from ..tools.viz import draw

    network = load_network(args)
    notes: list[str] = []
    if args.viz == "maps":
        _positive(args.max_maps, "--max-maps")
        maps = viz.feature_maps(network, args.input, args.layer, args.weights, args.seed, notes)
        figure = draw.maps_figure(maps, args.max_maps, args.scale)
        raw = maps
    elif args.viz == "filters":
        _positive(args.max_maps, "--max-maps")
        kernels = viz.filters(network, args.layer, args.weights, args.seed)
        figure = draw.filters_figure(kernels, _rgb(network, args.layer, kernels), args.layer, args.max_maps)
        raw = None
    else:
        result = viz.occlusion(
            network, args.input, args.weights, args.target, args.patch, args.stride, args.fill, args.seed, True, notes
        )
        figure = draw.occlusion_figure(result, network.name)
        raw = {"heat": result["heat"]}
        notes.append(f"class {result['class']}: p = {result['score']:.3f}; largest drop {result['heat'].max():.3f}")
    for note in notes:
        print(f"cnndsl: note: {note}", file=sys.stderr)
    draw.save(figure, args.output)
    if getattr(args, "npy", None) and raw is not None:
        _save_arrays(raw, args.npy)
    print(f"{args.output}: {args.viz} of {network.name}", file=sys.stderr)
    return 0


def _positive(value: int, option: str) -> None:
    if value < 1:
        raise usage_error(f"{option} must be 1 or more, got {value}")


def _rgb(network, layer: str, kernels) -> bool:
    """RGB tiles for a convolution fed by a 3-channel network input."""
    from ..tools.viz.model import node_of

    node = network.graph[node_of(network, layer)]
    return kernels.shape[1] == 3 and all(i in network.graph.inputs for i in node.inputs)


def _save_arrays(arrays: dict, path: str) -> None:
    """One array as .npy; several as .npz keyed by layer name."""
    import numpy as np

    with atomic_path(path) as temporary, open(temporary, "wb") as f:
        if len(arrays) == 1 and not path.endswith(".npz"):
            np.save(f, next(iter(arrays.values())), allow_pickle=False)
        else:
            np.savez(f, **arrays)
