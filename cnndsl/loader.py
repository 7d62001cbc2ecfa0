"""Source files -> a :class:`Program`: read with limits, parse, follow imports.

Imports are resolved relative to the importing file, then in the bundled
`architectures/` folder. Every definition is checked for duplicates across files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from . import syntax as syn
from .cache import load_syntax, store_syntax
from .errors import SOURCES, CnnError, Collector, Label, Span, error, usage_error
from .files import read_limited
from .functions import BUILTINS, VALUE_FUNCTIONS

MAX_FILE_BYTES = 1_000_000
MAX_IMPORT_DEPTH = 32
_HERE = Path(__file__).resolve().parent
ARCHITECTURE_DIRS = (_HERE / "_bundled" / "architectures", _HERE.parent / "architectures")


@dataclass
class Program:
    """All definitions reachable from one main file, and the text of every source."""

    main: str
    sources: dict[str, str] = field(default_factory=dict)
    blocks: dict[str, syn.Definition] = field(default_factory=dict)
    networks: dict[str, syn.Definition] = field(default_factory=dict)
    main_networks: list[str] = field(default_factory=list)
    constants: dict[str, syn.Let] = field(default_factory=dict)  # file-level `let`, in load order
    functions: dict[str, syn.Function] = field(default_factory=dict)


def decode(data: bytes, file: str) -> str:
    """Bytes of a source file -> text, rejecting binary and non-UTF-8 input."""
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(len(data), file)
    if b"\0" in data[:8192]:
        raise error("E0004", "this is a binary file, not a .cnn program", Span(file, 1, 1))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(
            "E0005",
            f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            Span(file, line, column),
            hint="save the file as UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


def _too_large(size: int, file: str):
    return error(
        "E0003",
        f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}"
        if size != MAX_FILE_BYTES + 1
        else f"the file is larger than the limit of {MAX_FILE_BYTES:,} bytes",
        Span(file, 1, 1),
        hint="split it into files joined with `import`",
    )


def read_source(path: str) -> str:
    """The text of the source file at `path` (a usage error when it cannot be read)."""
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES + 1:
            raise _too_large(size, path)
        data = read_limited(path, MAX_FILE_BYTES, regular=False)  # /dev/zero and pipes end at the limit
    except FileNotFoundError:
        raise usage_error(f"no such file: {path}") from None
    except IsADirectoryError:
        raise usage_error(f"{path} is a directory, not a .cnn file") from None
    except OSError as exc:
        raise usage_error(f"cannot read {path}: {exc.strerror}") from None
    return decode(data, path)


def parse(text: str, file: str) -> syn.Module:
    """The syntax tree of `text`: kept from when `file` last held it (cnndsl/cache.py), else parsed."""
    module = load_syntax(file, text)
    if module is None:
        from .parser import parse as parse_text  # Lark and its tables: only for a text not seen before

        module = parse_text(text, file)
        store_syntax(file, text, module)
    return module


def load_program(path: str | None = None, text: str | None = None, name: str = "<string>") -> Program:
    """Read, parse and import everything the main file needs."""
    main = path if path is not None else name
    program = Program(main)
    text = read_source(main) if text is None else decode(text.encode("utf-8", "surrogatepass"), main)
    program.sources[main] = SOURCES[main] = text
    errors = Collector()
    module = parse(text, main)
    if not module.imports and not module.definitions:
        raise _empty(text, main)
    _load(program, module, errors, stack=(str(Path(main).resolve()) if path else main,))
    program.main_networks = [d.name for d in module.definitions if d.kind == "network"]
    check_recursion(program.functions, errors)
    errors.raise_if_any()
    return program


def _empty(text: str, file: str):
    what = "is empty" if not text.strip() else "holds only comments"
    return error(
        "E0006",
        f"the file {what}: there is no network to compile",
        Span(file, 1, 1),
        hint="a program looks like `network Name { input x: [3, 32, 32]; conv(16, 3) -> relu }`",
    )


def _load(program: Program, module: syn.Module, errors: Collector, stack: tuple) -> None:
    for imp in module.imports:
        try:
            _import(program, imp, errors, stack)
        except CnnError as exc:
            errors.add(exc)
    for definition in module.definitions:
        _define(program, definition, errors)
    for named in sorted((*module.constants, *module.functions), key=lambda d: (d.span.line, d.span.column)):
        _define_name(program, named, errors)


def _import(program: Program, imp: syn.Import, errors: Collector, stack: tuple) -> None:
    path = _resolve(imp)
    key = str(path)
    if key in stack:
        raise error(
            "E0012",
            f'import cycle: "{imp.path}" imports this file again',
            imp.span,
            hint="move the shared blocks into a file that imports neither",
        )
    if len(stack) > MAX_IMPORT_DEPTH:
        raise error("E0013", f"imports nested deeper than {MAX_IMPORT_DEPTH} files", imp.span)
    if any(str(Path(f).resolve()) == key for f in program.sources if Path(f).exists()):
        return  # already loaded through another import
    display = _display(path)
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES + 1:
            raise _too_large(size, display)
        data = read_limited(path, MAX_FILE_BYTES)
    except OSError as exc:
        raise error(
            "E0014",
            f'cannot read the imported file "{imp.path}": {exc.strerror or exc}',
            imp.span,
            hint=f"the file is {display}",
        ) from None
    text = decode(data, display)
    program.sources[display] = SOURCES[display] = text
    _load(program, parse(text, display), errors, stack + (key,))


def _resolve(imp: syn.Import) -> Path:
    here = Path(imp.span.file).resolve().parent if Path(imp.span.file).exists() else Path.cwd()
    candidates = [here / imp.path] + [d / imp.path for d in ARCHITECTURE_DIRS]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise error(
        "E0011",
        f'cannot find the imported file "{imp.path}"',
        imp.span,
        hint=f"looked next to {imp.span.file} and in the bundled architectures/",
    )


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _define(program: Program, definition: syn.Definition, errors: Collector) -> None:
    table = program.blocks if definition.kind == "block" else program.networks
    other = program.networks if definition.kind == "block" else program.blocks
    previous = table.get(definition.name) or other.get(definition.name)
    if previous is not None:
        errors.add(_defined_twice(definition, previous))
        return
    from .layers import LAYERS

    if definition.name in LAYERS:
        errors.add(
            error(
                "E0202",
                f"`{definition.name}` is a built-in layer and cannot be redefined",
                definition.name_span,
                hint=f"call the {definition.kind} something else",
            )
        )
        return
    table[definition.name] = definition


def _defined_twice(named, previous):
    """E0201: a block, network, `let` or `fn` whose name is already defined."""
    return error(
        "E0201",
        f"`{named.name}` is defined twice",
        named.name_span,
        label="defined again here",
        notes=[Label(previous.name_span, "first defined here")],
        hint="rename one of them",
    )


def _define_name(program: Program, named, errors: Collector) -> None:
    """A file-level `let` or `fn`: one namespace for both, shared by all loaded files."""
    kind = "fn" if type(named) is syn.Function else "let"
    previous = program.constants.get(named.name) or program.functions.get(named.name)
    if previous is not None:
        errors.add(_defined_twice(named, previous))
        return
    if kind == "fn" and (named.name in BUILTINS or named.name in VALUE_FUNCTIONS):
        errors.add(
            error(
                "E0202",
                f"`{named.name}` is a built-in function and cannot be redefined",
                named.name_span,
                hint="call the function something else",
            )
        )
        return
    (program.functions if kind == "fn" else program.constants)[named.name] = named


def check_recursion(functions: dict[str, syn.Function], errors: Collector) -> None:
    """A `fn` may call other `fn`s but never itself, directly or through others (E0203)."""
    done: set[str] = set()

    def visit(name: str, stack: tuple) -> None:
        definition = functions[name]
        params = {p.name for p in definition.params}
        for call in _calls((definition.body, *(p.default for p in definition.params))):
            if call.name in params or call.name not in functions:
                continue
            if call.name in stack:
                errors.add(_recursion(functions[call.name], call, stack[stack.index(call.name) + 1 :]))
            elif call.name not in done:
                visit(call.name, (*stack, call.name))
        done.add(name)

    for name in functions:
        if name not in done:
            visit(name, (name,))


def _recursion(definition: syn.Function, call: syn.FunCall, through: tuple):
    via = f" through {', '.join(f'`{f}`' for f in through)}" if through else ""
    return error(
        "E0203",
        f"fn `{definition.name}` calls itself{via}",
        call.name_span or call.span,
        notes=[Label(definition.name_span, "defined here")],
        hint="an `fn` may call other functions but not itself: write the values out, or use `repeat`",
    )


def _calls(node):
    """Every function call inside the expression(s) `node`."""
    if isinstance(node, tuple):
        for item in node:
            yield from _calls(item)
        return
    if type(node) is syn.FunCall:
        yield node
    for name in getattr(node, "__slots__", ()):
        value = getattr(node, name)
        if isinstance(value, tuple) or hasattr(value, "span"):
            yield from _calls(value)
