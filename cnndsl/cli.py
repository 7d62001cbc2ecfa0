"""The `cnndsl` command: parse arguments, call the library, print diagnostics, exit.

Exit codes: 0 success, 1 errors in the program, 2 bad command line or
unreadable file, 3 internal error (traceback only with --debug).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from . import __version__
from .errors import CnnError, internal_error

EXIT_OK, EXIT_USAGE, EXIT_INTERNAL = 0, 2, 3


def run() -> None:
    """The `cnndsl` program (console script and `python -m cnndsl`): :func:`main`, then exit.

    When nothing waits for the interpreter's exit (no `atexit` callback, no other
    thread), the process ends as soon as stdout and stderr are flushed: every
    file a command writes is closed before it returns, and tearing the
    interpreter down, which frees each module and object in turn, takes 20-40 ms
    once numpy is loaded (a tenth of a `compile`). What needs the exit registers
    a callback (torch, ray when started, a temporary folder still open), and then
    the interpreter exits as usual; logging's (Lark imports it) is run here.
    """
    code = main()
    if _nothing_waits():
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: its reader left
                stream.flush()
        os._exit(code)
    sys.exit(code)


def _nothing_waits() -> bool:
    import atexit
    import threading

    callbacks = getattr(atexit, "_ncallbacks", None)  # CPython's; elsewhere, exit as usual
    if callbacks is None or threading.active_count() > 1:
        return False
    logging = sys.modules.get("logging")
    if logging is not None:  # it registers one callback when imported, and we run it now
        logging.shutdown()  # flushes and closes its handlers, as it would at exit
    return callbacks() == (logging is not None)


def main(argv: list[str] | None = None) -> int:
    # numpy's OpenBLAS starts a thread per core when numpy is imported (0.1 s of a `compile`);
    # no command does linear algebra in numpy (onnxruntime and torch keep their own threads)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = _parser(_command_named(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args) or EXIT_OK
    except CnnError as exc:
        _print_diagnostics(exc.diagnostics, args)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cnndsl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if args.debug:
            raise
        diagnostic = internal_error(exc, __version__)
        if getattr(args, "diagnostics", "text") == "json":
            _print_diagnostics([diagnostic], args)
        else:
            print(f"cnndsl: {diagnostic.message}", file=sys.stderr)
        return EXIT_INTERNAL


# -- command line ---------------------------------------------------------------


def _parser(wanted: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `wanted`, only that command's options are built (the others
    are listed by name and help alone: building every option costs a start-up ~10 ms)."""
    common = _common(top=False)
    parser = argparse.ArgumentParser(
        prog="cnndsl",
        parents=[_common(top=True)],
        description="A declarative language and compiler for convolutional networks.",
    )
    parser.add_argument("--version", action="version", version=f"cnndsl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_only(wanted))

    program = argparse.ArgumentParser(add_help=False, parents=[common])
    program.add_argument("file", help="a .cnn program")
    program.add_argument("--network", metavar="NAME", help="which network of the file (when it has several)")
    program.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        dest="overrides",
        help="override a network parameter, e.g. --set classes=10 (repeatable)",
    )

    check = commands.add_parser("check", parents=[program], help="report errors only")
    check.add_argument("--format", choices=("text", "json"), default="text", help="diagnostics format")
    _assert_option(check)
    check.set_defaults(run=_command("check"))

    report = commands.add_parser("report", parents=[program], help="shapes, parameters, cost and receptive fields")
    report.add_argument("--format", choices=("table", "json", "markdown", "csv"), default="table")
    report.add_argument("--depth", type=_depth, metavar="N", help="collapse blocks nested deeper than N")
    report.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of stdout")
    report.set_defaults(run=_command("report"))

    compile_ = commands.add_parser("compile", parents=[program], help="emit an ONNX model")
    compile_.add_argument("-o", "--output", metavar="MODEL.onnx", help="default: the network's name + .onnx")
    compile_.add_argument("--seed", type=int, default=0, help="weight initialisation seed (default 0)")
    compile_.set_defaults(run=_command("compile"))
    _weights_commands(commands, program, compile_)
    _deploy_commands(commands, program, compile_)

    _render_parser(commands, program)

    run = commands.add_parser("run", parents=[common], help="run a .cnn or .onnx model with onnxruntime")
    run.add_argument("file", help="a .cnn program or an .onnx model")
    run.add_argument("--network", metavar="NAME")
    run.add_argument("--set", metavar="NAME=VALUE", action="append", default=[], dest="overrides")
    run.add_argument("--input", metavar="PATH", help=".npy array or an image file (default: random input)")
    run.add_argument("--batch", type=int, default=1, help="batch size of the random input")
    run.add_argument("--bench", type=int, metavar="N", default=0, help="time N runs: median, p90, throughput")
    run.add_argument("--provider", choices=("auto", "cpu", "cuda"), default="auto")
    run.add_argument("--seed", type=int, default=0)
    run.set_defaults(run=_command("run"))
    _viz_command(commands, program)
    _editor_commands(commands, common)
    _import_command(commands, common)
    _sizes_command(commands, program)
    _diff_command(commands, common)
    return parser


def _sizes_command(commands, program) -> None:
    """`sizes`: the valid input sizes, exactly (cnndsl/sizes/, docs/sizes.md)."""
    sizes = commands.add_parser("sizes", parents=[program], help="which input sizes are valid")
    sizes.add_argument("--range", metavar="LO..HI", help="list the valid sizes in LO..HI (default 1..1024)")
    sizes.add_argument("--near", type=_count(1), metavar="N", help="name the nearest valid sizes to N")
    sizes.add_argument("--format", choices=("table", "json"), default="table")
    sizes.set_defaults(run=_command("sizes"))


def _render_parser(commands, program) -> None:
    """`cnndsl render`: both styles, graph (Graphviz) and blocks (3D boxes)."""
    render_ = commands.add_parser("render", parents=[program], help="draw the architecture (Graphviz, or 3D blocks)")
    render_.add_argument(
        "-o", "--output", metavar="OUT", help="OUT.svg, .png, .pdf or .dot; blocks: .svg, .tex (TikZ), .png, .pdf"
    )
    render_.add_argument(
        "--style",
        choices=("graph", "blocks"),
        default="graph",
        help="graph: a Graphviz diagram; blocks: layered 3D boxes for papers and slides "
        "(SVG and TikZ need nothing; PNG and PDF need matplotlib: pip install 'cnndsl[figures]')",
    )
    render_.add_argument("--depth", type=_depth, metavar="N", help="collapse blocks nested deeper than N")
    render_.add_argument("--rankdir", choices=("TB", "LR"), default="TB")
    render_.add_argument("--show", default="", metavar="WHAT", help="extra node lines: params,rf,macs")
    render_.add_argument("--dot", metavar="PATH", help="the Graphviz `dot` executable to use")
    render_.set_defaults(run=_command("render"))


def _viz_command(commands, program) -> None:
    """`cnndsl viz maps|filters|occlusion` (docs/visualise.md); its options live in commands/viz.py."""
    from .commands.viz import add_parser

    add_parser(commands, program)
    commands.choices["viz"].set_defaults(run=_command("viz"))


def _weights_commands(commands, program, compile_) -> None:
    """`compile --weights/--partial/--match` and `export --to pytorch|safetensors` (docs/pytorch.md)."""
    compile_.add_argument("--weights", metavar="FILE", help="trained weights: .safetensors, .npz, .pt or .pth")
    compile_.add_argument("--partial", action="store_true", help="keep fresh weights for layers FILE lacks")
    compile_.add_argument("--match", choices=("name", "order"), default="name", help="pair tensors by name or order")
    export = commands.add_parser("export", parents=[program], help="PyTorch source or initial weights")
    export.add_argument("--to", choices=("pytorch", "safetensors"), required=True, help="what to write")
    export.add_argument("-o", "--output", metavar="PATH", required=True, help="model.py or init.safetensors")
    export.add_argument("--seed", type=int, default=0, help="weight initialisation seed (default 0)")
    export.set_defaults(run=_command("export"))


def _import_command(commands, common) -> None:
    """`import`: ONNX, Darknet and Caffe models to .cnn (cnndsl/frontends/, docs/import.md)."""
    import_ = commands.add_parser("import", parents=[common], help="turn an ONNX, Darknet or Caffe model into .cnn")
    import_.add_argument("model", help="a .onnx, Darknet .cfg or Caffe .prototxt file")
    import_.add_argument("-o", "--output", metavar="PATH", help="the .cnn program (default: stdout)")
    import_.add_argument("--from", choices=("onnx", "darknet", "caffe"), dest="source_format", help="the format")
    import_.add_argument("--weights", metavar="FILE", help="Darknet .weights to read with a .cfg")
    import_.add_argument("--weights-out", metavar="PATH", help="write the weights as .safetensors for --weights")
    import_.set_defaults(run=_command("import_"))


def _assert_option(check) -> None:
    """`check --assert EXPR`: one more assertion about the network's figures (docs/language.md)."""
    check.add_argument(
        "--assert",
        metavar="EXPR",
        action="append",
        default=[],
        dest="assertions",
        help="also require EXPR of the network's figures, e.g. 'params < 5M' (repeatable)",
    )


def _diff_command(commands, common) -> None:
    """`diff A.cnn [B.cnn]`: nodes added, removed, changed; totals' deltas; transferable weights (docs/diff.md)."""
    diff = commands.add_parser("diff", parents=[common], help="compare two networks node by node")
    diff.add_argument("a", metavar="A", help="a .cnn program")
    diff.add_argument("b", metavar="B", nargs="?", help="another .cnn program (default: A again, for --set-b)")
    diff.add_argument("--network", metavar="NAME", help="the network of both files (when they hold several)")
    diff.add_argument("--network-a", metavar="NAME", help="the network of A")
    diff.add_argument("--network-b", metavar="NAME", help="the network of B")
    for flag, dest, side in (("--set", "overrides", "both"), ("--set-a", "set_a", "A"), ("--set-b", "set_b", "B")):
        diff.add_argument(flag, metavar="NAME=VALUE", action="append", default=[], dest=dest, help=f"override, {side}")
    diff.add_argument("--format", choices=("table", "json"), default="table")
    diff.add_argument("--depth", type=_depth, metavar="N", help="collapse blocks nested deeper than N")
    diff.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of stdout")
    diff.set_defaults(run=_command("diff"))


def _editor_commands(commands, common) -> None:
    """`fmt` and `lsp` (cnndsl/tools/ through cnndsl/commands/)."""
    fmt = commands.add_parser("fmt", parents=[common], help="lay out .cnn files in the canonical style")
    fmt.add_argument("files", nargs="+", metavar="FILE", help=".cnn files; `-` reads stdin and writes stdout")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file would change")
    fmt.add_argument("--diff", action="store_true", help="change nothing; print what would change")
    fmt.set_defaults(run=_command("fmt"))
    lsp = commands.add_parser("lsp", parents=[common], help="the language server, on stdio (needs pygls)")
    lsp.set_defaults(run=_command("lsp"))


def _deploy_commands(commands, program, compile_) -> None:
    """`compile --precision/--quantize/--triton` and `sweep` (docs/deploy.md, docs/sweep.md)."""
    compile_.add_argument("--precision", choices=("fp32", "fp16"), default="fp32", help="fp16: float16 inside")
    compile_.add_argument("--quantize", choices=("int8",), help="static int8 QDQ quantisation (needs --calibrate)")
    compile_.add_argument("--calibrate", metavar="DATA", help="calibration data: a folder of images or an .npy batch")
    compile_.add_argument(
        "--calibration-method", choices=("minmax", "entropy", "percentile"), default="minmax", help="default minmax"
    )
    compile_.add_argument("--triton", metavar="REPO", help="write a Triton model repository entry REPO/<network>/")
    compile_.add_argument("--max-batch", type=_count(0), default=0, metavar="B", help="Triton max_batch_size")
    compile_.add_argument("--instances", type=_count(1), default=1, metavar="K", help="Triton instance count")
    compile_.add_argument("--dynamic-batching", action="store_true", help="let Triton batch requests")
    sweep = commands.add_parser("sweep", parents=[program], help="compile and analyse every combination of settings")
    sweep.add_argument("--grid", metavar="NAME=V1,V2", action="append", default=[], help="values of one parameter")
    sweep.add_argument("--bench", type=_count(0), default=0, metavar="N", help="time N onnxruntime runs per variant")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=_count(1), metavar="J", help="worker processes (default: all cores)")
    where.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS", help="run each variant as a Ray task")
    sweep.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sweep.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of stdout")
    sweep.add_argument("--plot", metavar="OUT.png", help="draw the Pareto front (needs matplotlib)")
    sweep.add_argument("--progress", choices=("auto", "always", "never"), default="auto", help="progress bar")
    sweep.set_defaults(run=_command("sweep"))


def _count(least: int):
    """An argparse type: a whole number of at least `least` (and at most 2**31 - 1)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not least <= value <= 2**31 - 1:
            raise argparse.ArgumentTypeError(f"expected a whole number from {least} to {2**31 - 1}, got {value}")
        return value

    return parse


def _common(top: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the command. After it, they default to
    SUPPRESS so that `cnndsl --debug check f.cnn` is not reset by the subcommand."""
    common = argparse.ArgumentParser(add_help=False)

    def default(value):
        return value if top else argparse.SUPPRESS

    common.add_argument("--debug", action="store_true", default=default(False), help="show internal tracebacks")
    common.add_argument(
        "--color", choices=("auto", "always", "never"), default=default("auto"), help="colour diagnostics"
    )
    common.add_argument(
        "--diagnostics",
        choices=("text", "json"),
        default=default("text"),
        help="how errors and warnings are printed on stderr",
    )
    return common


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the depth must be 0 or more")
    return value


def _command(name: str):
    """The command `name` of :mod:`cnndsl.commands`, imported when it runs (keeps `check` light)."""

    def run(args) -> int:
        import importlib

        return importlib.import_module(f"cnndsl.commands.{name}").command(args)

    return run


def _command_named(argv: list[str]) -> str | None:
    """The command word of `argv` (the first word that is not an option or an option's value)."""
    takes_value = {"--color", "--diagnostics"}
    for previous, word in zip([None, *argv], argv):
        if word == "--" or word in ("-h", "--help", "--version"):
            return None
        if not word.startswith("-") and previous not in takes_value:
            return word
    return None


def _only(wanted: str | None):
    """A `parser_class` for the commands: a real parser for `wanted` (all when None), else a stand-in."""

    def make(**kwargs):
        if wanted is None or kwargs.get("prog", "").split()[-1:] == [wanted]:
            return argparse.ArgumentParser(**kwargs)
        return _Unbuilt()

    return make


class _Unbuilt:
    """A command that is not run: accepts the calls that would build its options, and ignores them."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: self


def _print_diagnostics(diagnostics, args) -> None:
    from .commands import print_diagnostics

    print_diagnostics(diagnostics, args)


if __name__ == "__main__":
    run()
