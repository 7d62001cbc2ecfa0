"""`cnndsl run FILE.cnn|MODEL.onnx`: run a model with onnxruntime (random input, an array or an image)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..backends.onnx import for_session
from ..backends.runtime import (
    _checked,
    batch_of,
    bench,
    import_onnxruntime,
    load_input,
    open_model,
    providers_for,
    random_inputs,
    run_model,
    summary,
)
from ..errors import usage_error
from . import load_network


def command(args) -> int:
    """`cnndsl run FILE.cnn|MODEL.onnx [--input X] [--bench N] [--provider P]`."""
    ort = import_onnxruntime()
    names, note = providers_for(ort, args.provider)
    if note:
        print(f"cnndsl: note: {note}", file=sys.stderr)
    if args.batch < 1:
        raise usage_error(f"--batch must be 1 or more, got {args.batch}")
    sess = _open(ort, args, names)
    feeds = _feeds(sess, args)
    started = time.perf_counter()
    outputs = run_model(sess, feeds)
    elapsed = time.perf_counter() - started
    batch = batch_of(feeds)
    fed = f"batch {batch}" if batch is not None else "no inputs"
    print(f"{args.file}: {', '.join(sess.get_providers()[:1])}, {fed}, {elapsed * 1e3:.1f} ms")
    for info, value in zip(sess.get_outputs(), outputs):
        print(summary(info.name, value))
    if args.bench:
        print(bench(sess, feeds, args.bench))
    return 0


def _open(ort, args, providers):
    if Path(args.file).suffix.lower() != ".onnx":
        return open_model(ort, for_session(load_network(args), args.seed), providers)
    if args.network or args.overrides:
        raise usage_error("--network and --set apply to .cnn programs, not to an .onnx model")
    if not Path(args.file).is_file():
        raise usage_error(f"no such file: {args.file}")
    return _checked(ort, args.file, providers)


def _feeds(sess, args) -> dict:
    if not args.input:
        return random_inputs(sess, args.batch, args.seed)
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise usage_error(f"--input feeds one input, but the model has {len(inputs)}: {names}")
    shape = [d if isinstance(d, int) else args.batch for d in inputs[0].shape]
    return {inputs[0].name: load_input(args.input, shape)}
