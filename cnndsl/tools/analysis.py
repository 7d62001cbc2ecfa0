"""What the language server knows about one document, without any LSP types.

:class:`Workspace` keeps one :class:`Analysis` per open document: its program
(parsed with the imports), every network of the file compiled, and the
diagnostics. Positions here are 1-based lines and columns, as in
:class:`cnndsl.errors.Span`; :mod:`cnndsl.tools.lsp` converts.

Work is reused between changes: each imported file is parsed once per
content (the loader's parse goes through :class:`ParseCache`), and a document
whose text did not change is not compiled again.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from .. import loader
from .. import syntax as syn
from ..errors import CnnError, Diagnostic, Span

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ParseCache:
    """Memoises :func:`cnndsl.parser.parse` on (file, text): syntax trees are immutable, so
    an unchanged import is never parsed twice. Installed as the loader's ``parse``."""

    def __init__(self, parse, size: int = 128):
        self.parse, self.size = parse, size
        self.entries: OrderedDict = OrderedDict()

    def __call__(self, text: str, file: str = "<string>"):
        key = (file, text)
        module = self.entries.get(key)
        if module is None:
            module = self.parse(text, file)  # a syntax error raises and is not cached
            self.entries[key] = module
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        else:
            self.entries.move_to_end(key)
        return module

    @classmethod
    def install(cls) -> ParseCache:
        if not isinstance(loader.parse, cls):
            loader.parse = cls(loader.parse)
        return loader.parse


@dataclass
class Analysis:
    """One version of one document."""

    path: str
    text: str
    program: loader.Program | None = None
    networks: list = field(default_factory=list)  # compiled networks of this file
    diagnostics: list[Diagnostic] = field(default_factory=list)
    module: syn.Module | None = None


def analyse(path: str, text: str) -> Analysis:
    """Load, parse and compile `text` as the file at `path`; every problem becomes a diagnostic."""
    from ..network import _compile

    result = Analysis(path, text)
    try:
        result.program = loader.load_program(text=text, name=path)
    except CnnError as exc:
        result.diagnostics += exc.diagnostics
        _parse_only(result)
        return result
    result.module = loader.parse(result.program.sources[path], path)
    for name in result.program.main_networks:
        try:
            network = _compile(result.program, name, None)
        except CnnError as exc:
            network, diagnostics = _symbolic(result.program, name, exc)
            result.diagnostics += diagnostics
            if network is None:
                continue
        result.networks.append(network)
        result.diagnostics += network.warnings
    return result


def _symbolic(program, name: str, exc: CnnError) -> tuple:
    """(network, diagnostics) of a program with size variables (`[3, H, W]`, docs/sizes.md): lowered at a
    representative size, as `cnndsl check` does; (None, the diagnostics of `exc`) for any other failure."""
    from ..sizes.symbolic import load, unset_sizes

    if not unset_sizes(exc):
        return None, exc.diagnostics
    try:
        return load(program, name, {}).network, []
    except CnnError as again:
        return None, again.diagnostics


def _parse_only(result: Analysis) -> None:
    """After a loading error, keep at least the syntax tree (for symbols and definitions)."""
    try:
        result.module = loader.parse(result.text.removeprefix("\ufeff"), result.path)
    except CnnError:
        result.module = None


class Workspace:
    """Open documents and their latest analysis (computed when first asked for)."""

    def __init__(self):
        ParseCache.install()
        self.texts: dict[str, str] = {}
        self.analyses: dict[str, Analysis] = {}

    def update(self, path: str, text: str) -> None:
        self.texts[path] = text

    def close(self, path: str) -> None:
        self.texts.pop(path, None)
        self.analyses.pop(path, None)

    def get(self, path: str) -> Analysis | None:
        text = self.texts.get(path)
        if text is None:
            return None
        current = self.analyses.get(path)
        if current is None or current.text != text:
            current = self.analyses[path] = analyse(path, text)
        return current


# -- positions ---------------------------------------------------------------------


def contains(span: Span | None, line: int, column: int) -> bool:
    if span is None:
        return False
    end_line = span.end_line or span.line
    end_column = span.end_column or span.column + 1
    return (span.line, span.column) <= (line, column) < (end_line, end_column) or (line, column) == (
        end_line,
        end_column,
    )


def word_at(text: str, line: int, column: int) -> tuple[str, Span] | None:
    """The name under (or just before) the cursor, with its span."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return None
    for match in _WORD.finditer(lines[line - 1]):
        if match.start() + 1 <= column <= match.end() + 1:
            return match.group(), Span("", line, match.start() + 1, line, match.end() + 1)
    return None


def resolve_import(importer: str, target: str) -> Path | None:
    """The file an `import "target"` in `importer` loads, as the loader finds it."""
    here = Path(importer).resolve().parent if Path(importer).exists() else Path.cwd()
    for candidate in [here / target] + [d / target for d in loader.ARCHITECTURE_DIRS]:
        if candidate.is_file():
            return candidate.resolve()
    return None


def definitions(analysis: Analysis) -> list:
    """The file's own definitions: blocks, networks, `fn`s and file-level `let`s."""
    module = analysis.module
    if module is None:
        return []
    items = [*module.definitions, *getattr(module, "functions", ()), *getattr(module, "constants", ())]
    return sorted(items, key=lambda d: (d.span.line, d.span.column))


def enclosing_definition(analysis: Analysis, line: int, column: int):
    for definition in definitions(analysis):
        if contains(definition.span, line, column):
            return definition
    return None
