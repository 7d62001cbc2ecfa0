"""Hover, go to definition, completion and symbols over an :class:`~.analysis.Analysis`.

Plain data in, plain data out (1-based positions, Markdown strings); the LSP
types live in :mod:`cnndsl.tools.lsp`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import syntax as syn
from ..errors import Span
from ..layers import LAYERS, format_shape
from ..layers.args import REQUIRED
from ..values import format_value
from .analysis import Analysis, contains, definitions, enclosing_definition, resolve_import, word_at

CONSTRUCTS = {
    "residual": "the body plus a shortcut (`shortcut=identity` or `project`)",
    "concat": "branches joined along channels",
    "add": "branches summed",
    "mul": "branches multiplied",
    "maximum": "the element-wise maximum of the branches",
    "frozen": "the body's parameters are not trained",
}
KEYWORDS = ("network", "block", "import", "input", "output", "repeat", "in", "let", "fn", "if", "else", "assert")


# -- hover -----------------------------------------------------------------------------


def hover(analysis: Analysis, line: int, column: int) -> tuple[str, Span] | None:
    """Markdown about the name under the cursor, and the span it covers."""
    found = word_at(analysis.text, line, column)
    if found is None:
        return None
    word, span = found
    span = Span(analysis.path, span.line, span.column, span.end_line, span.end_column)
    for text in (_block_hover(analysis, word, span), _layer_hover(analysis, word, span), _value_hover(analysis, word)):
        if text:
            return text, span
    return None


def _block_hover(analysis: Analysis, word: str, span: Span) -> str:
    program = analysis.program
    if program is None or word not in program.blocks:
        return ""
    definition = program.blocks[word]
    head = f"```cnn\nblock {word}{_params(definition.params)}\n```"
    for network in analysis.networks:
        for path, instance in network.graph.blocks.items():
            if _starts_at(instance.span, span):
                return head + "\n\n" + _block_totals(network, path)
    return head + f"\n\ndefined at {definition.name_span}"


def _block_totals(network, path: tuple) -> str:
    nodes = [n for n in network.graph.nodes() if n.scope[: len(path)] == path]
    if not nodes:
        return f"`{'/'.join(path)}`: no layers"
    last = nodes[-1]
    lines = [
        f"`{'/'.join(path)}` in `{network.name}`: {len(nodes)} layers",
        f"- output `{format_shape(last.shape)}`",
        f"- params {sum(n.params for n in nodes):,}",
        f"- MACs {sum(n.macs for n in nodes):,}",
    ]
    if last.field is not None:
        lines.append(f"- receptive field {_field(last.field)}")
    return "\n".join(lines)


def _layer_hover(analysis: Analysis, word: str, span: Span) -> str:
    if word not in LAYERS and word not in CONSTRUCTS:
        return ""
    nodes = [(net, n) for net in analysis.networks for n in net.graph.nodes() if _starts_at(n.span, span)]
    head = _layer_signature(word)
    if not nodes:
        return head
    network, node = nodes[0]
    lines = [
        f"`{node.name}` in `{network.name}`",
        f"- output `{format_shape(node.shape)}`",
        f"- params {node.params:,}",
        f"- MACs {node.macs:,}",
    ]
    if node.field is not None:
        lines.append(f"- receptive field {_field(node.field)}")
    shapes = list(dict.fromkeys(format_shape(n.shape) for _, n in nodes))
    if len(nodes) > 1:
        shown = ", ".join(f"`{s}`" for s in shapes[:6]) + (", …" if len(shapes) > 6 else "")
        lines.append(f"- {len(nodes)} instances; outputs {shown}")
    return head + "\n\n" + "\n".join(lines)


def _layer_signature(word: str) -> str:
    if word in CONSTRUCTS:
        return f"**{word}** — {CONSTRUCTS[word]}"
    doc = getattr(LAYERS[word], "doc", "")
    return f"```cnn\n{_call_text(word)}\n```" + (f"\n\n{doc}" if doc else "")


def _call_text(word: str) -> str:
    args = getattr(LAYERS[word], "arguments", ())
    return f"{word}({', '.join(_arg_text(a) for a in args)})" if args else word


def _value_hover(analysis: Analysis, word: str) -> str:
    for network in analysis.networks:
        value = network.graph.values.get(word)
        if value is None:
            continue
        node = network.graph[value.node]
        text = f"`{word}` in `{network.name}`: `{format_shape(node.shape)}`"
        if node.field is not None:
            text += f"\n\nreceptive field {_field(node.field)}"
        return text
    return ""


def _field(field) -> str:
    data = field.to_json()
    if data.get("global"):
        return "global (the whole input)"
    size = "×".join(str(v) for v in data["size"])
    stride = "×".join(str(v) for v in data["stride"])
    return f"{size}, stride {stride}"


def _starts_at(node_span: Span | None, word: Span) -> bool:
    if node_span is None or (node_span.line, node_span.column) != (word.line, word.column):
        return False
    return _same_file(node_span.file, word.file)


def _same_file(a: str, b: str) -> bool:
    return a == b or Path(a).resolve() == Path(b).resolve()


def _params(params) -> str:
    return "(" + ", ".join(p.name + ("=…" if p.default is not None else "") for p in params) + ")" if params else ""


def _arg_text(arg) -> str:
    return arg.name if arg.default is REQUIRED else f"{arg.name}={_default(arg.default)}"


def _default(value) -> str:
    if value is None:
        return "none"
    try:
        return format_value(value)
    except Exception:  # noqa: BLE001 - an exotic default is shown as Python writes it
        return str(value)


# -- go to definition ---------------------------------------------------------------------


def definition(analysis: Analysis, line: int, column: int) -> list[Span]:
    """Where the name (or imported file) under the cursor is defined."""
    module = analysis.module
    if module is not None:
        for imp in module.imports:
            if contains(imp.span, line, column):
                target = resolve_import(analysis.path, imp.path)
                return [Span(str(target), 1, 1, 1, 1)] if target else []
    found = word_at(analysis.text, line, column)
    if found is None:
        return []
    word = found[0]
    program = analysis.program
    if program is not None:
        for table in (program.blocks, program.networks, getattr(program, "functions", {})):
            if word in table:
                return [table[word].name_span]
    local = _local_binder(analysis, word, line, column)
    if local is not None:
        return [local]
    constants = getattr(program, "constants", {}) if program is not None else {}
    return [constants[word].name_span] if word in constants else []


def _local_binder(analysis: Analysis, word: str, line: int, column: int) -> Span | None:
    scope = enclosing_definition(analysis, line, column)
    if scope is None:
        return None
    binders = [span for name, span in _binders(scope) if name == word]
    before = [s for s in binders if (s.line, s.column) <= (line, column)]
    return before[-1] if before else (binders[0] if binders else None)


def _binders(definition):
    for param in definition.params:
        yield param.name, Span(param.span.file, param.span.line, param.span.column, param.span.line,
                               param.span.column + len(param.name))  # fmt: skip
    body = definition.body if isinstance(definition.body, tuple) else ()
    yield from _body_binders(body)


def _body_binders(body):
    for item in body:
        if type(item) in (syn.Bind, syn.Input, syn.Output) or type(item).__name__ == "Let":
            yield item.name, item.name_span
        for child in _children(item):
            yield from _body_binders(child)


def _children(item):
    """The statement bodies nested in `item` (merge branches, repeats, `if`/`else`)."""
    if isinstance(item, syn.Repeat):
        yield item.body
    elif isinstance(item, syn.Chain):
        for term in item.terms:
            yield from _children(term)
    elif isinstance(item, syn.Call) and item.body:
        yield item.body
    elif isinstance(item, (syn.Bind, syn.Output)) and item.chain is not None:
        yield from _children(item.chain)
    elif type(item).__name__ == "If":
        yield item.body
        if isinstance(item.orelse, tuple):
            yield item.orelse
        elif item.orelse is not None:
            yield (item.orelse,)


# -- completion ----------------------------------------------------------------------------


@dataclass
class Completion:
    label: str
    kind: str  # layer, block, construct, argument, function, keyword
    detail: str = ""
    documentation: str = ""
    insert: str = ""


def complete(analysis: Analysis, line: int, column: int) -> list[Completion]:
    """Argument names inside `name(`, otherwise layer, block, function and keyword names."""
    callee = _open_call(analysis.text, line, column)
    if callee is not None:
        return _arguments(analysis, callee)
    items = [Completion(k, "layer", _call_text(k), getattr(LAYERS[k], "doc", "")) for k in LAYERS]
    items += [Completion(k, "construct", CONSTRUCTS[k]) for k in CONSTRUCTS if k not in LAYERS]
    program = analysis.program
    if program is not None:
        items += [Completion(n, "block", f"block {n}{_params(d.params)}") for n, d in program.blocks.items()]
        items += [Completion(n, "function", f"fn {n}{_params(d.params)}") for n, d in program.functions.items()]
    items += [Completion(k, "keyword") for k in KEYWORDS]
    return items


def _arguments(analysis: Analysis, callee: str) -> list[Completion]:
    if callee in LAYERS:
        return [
            Completion(a.name, "argument", _arg_text(a), a.doc, a.name + "=")
            for a in getattr(LAYERS[callee], "arguments", ())
        ]
    if callee == "residual":
        return [Completion("shortcut", "argument", "shortcut=identity", CONSTRUCTS["residual"], "shortcut=")]
    program = analysis.program
    if program is not None and callee in program.blocks:
        return [
            Completion(p.name, "argument", p.name if p.default is None else f"{p.name}=…", "", p.name + "=")
            for p in program.blocks[callee].params
        ]
    return []


def _open_call(text: str, line: int, column: int) -> str | None:
    """The name before the innermost `(` still open at the cursor, if any."""
    lines = text.splitlines()[:line]
    if not lines:
        return None
    lines[-1] = lines[-1][: column - 1]
    before = "\n".join(lines)[-4000:]
    depth = 0
    for i in range(len(before) - 1, -1, -1):
        char = before[i]
        if char in ")]":
            depth += 1
        elif char in "([":
            if depth == 0:
                if char == "[":
                    return None
                found = word_at(before[:i], before[:i].count("\n") + 1, i - before.rfind("\n", 0, i))
                return found[0] if found else None
            depth -= 1
        elif char in "{}":
            return None
    return None


# -- symbols -------------------------------------------------------------------------------------


def symbols(analysis: Analysis) -> list[tuple[str, str, Span, Span]]:
    """(name, kind, whole span, name span) of each definition of the file."""
    out = []
    for item in definitions(analysis):
        kind = getattr(item, "kind", None) or ("function" if type(item).__name__ == "Function" else "constant")
        out.append((item.name, kind, item.span, item.name_span))
    return out
