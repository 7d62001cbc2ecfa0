"""`cnndsl compile FILE -o MODEL.onnx`: write the ONNX model (docs/onnx.md, docs/deploy.md)."""

from __future__ import annotations

import sys

from ..backends.onnx import IR_VERSION, OPSET, assemble, compile_file
from ..errors import usage_error
from . import load_network


def command(args) -> int:
    """`cnndsl compile FILE -o MODEL.onnx [--weights W] [--precision fp16 | --quantize int8] [--triton REPO]`."""
    _check_deploy_options(args)
    network = load_network(args)
    weights = None
    if args.weights:
        from ..backends.weightfiles import load

        pending = assemble(network, args.seed)[1]
        weights, notes = load(network, pending, args.weights, args.partial, args.match == "order")
        for note in notes:
            print(note, file=sys.stderr)
    write, kind = _writer(args, network, weights)
    if args.triton:
        from ..backends.triton import write_repository

        folder = write_repository(args.triton, network, write, args.max_batch, args.instances, args.dynamic_batching)
        path, external = f"{folder}/1/model.onnx", ""
    else:
        path = args.output or f"{network.name}.onnx"
        external = " (weights in external data)" if write(path) else ""
    totals = network.totals
    print(
        f"{path}: network {network.name}, {kind}"
        f"{totals['params']:,} params + {totals['state']:,} state, opset {OPSET}, IR {IR_VERSION}{external}",
        file=sys.stderr,
    )
    return 0


def _writer(args, network, weights):
    """A function writing the model to a path, and a note on its precision."""
    if args.precision == "fp32" and not args.quantize:
        return (lambda path: compile_file(network, path, args.seed, weights)), ""
    from ..backends import quantize
    from ..backends.onnx import to_onnx
    from ..files import write_bytes

    model = to_onnx(network, None, args.seed, weights)
    if args.quantize:
        data = quantize.calibration_data(args.calibrate, network.inputs[0]["shape"])
        model = quantize.to_int8(model, data, args.calibration_method)
        kind = "int8 QDQ, "
    else:
        model, kind = quantize.to_fp16(model), "float16, "
    data = model.SerializeToString()
    return (lambda path: write_bytes(path, data)), kind


def _check_deploy_options(args) -> None:
    if args.quantize and args.precision != "fp32":
        raise usage_error("--quantize int8 and --precision fp16 exclude each other", hint="pick one")
    if args.quantize and not args.calibrate:
        raise usage_error("--quantize int8 needs --calibrate DATA", hint="a folder of images or an .npy batch")
    if args.calibrate and not args.quantize:
        raise usage_error("--calibrate is used with --quantize int8")
    if args.triton and args.output:
        raise usage_error("--triton writes REPO/<network>/1/model.onnx; drop -o")
    if not args.triton and (args.max_batch or args.instances != 1 or args.dynamic_batching):
        raise usage_error("--max-batch, --instances and --dynamic-batching describe a --triton repository")
