"""`cnndsl lsp`: the language server, on stdio, built on pygls (an optional extra).

Diagnostics on open and after each change (errors and warnings, with codes
and ranges), hover (a layer's output shape, parameters, MACs and receptive
field; a block call's totals; a bound name's shape), go to definition,
completion, document symbols and formatting. The knowledge lives in
:mod:`cnndsl.tools.analysis` and :mod:`cnndsl.tools.features`; this module
only translates to and from the protocol, and is the only one that imports
pygls.
"""

from __future__ import annotations

import asyncio
import logging

from .. import __version__
from ..errors import CnnError, Diagnostic, Span
from . import features
from .analysis import Workspace

DEBOUNCE_S = 0.15
"""Diagnostics wait this long after a change, so that fast typing compiles once."""
log = logging.getLogger("cnndsl.lsp")


def server():
    """A pygls ``LanguageServer`` with every cnndsl feature registered."""
    from lsprotocol import types as t
    from pygls.lsp.server import LanguageServer

    ls = LanguageServer("cnndsl", __version__, text_document_sync_kind=t.TextDocumentSyncKind.Incremental)
    ls.cnn = Workspace()
    ls.pending = {}
    _register_sync(ls, t)
    _register_queries(ls, t)
    return ls


def _register_sync(ls, t) -> None:
    @ls.feature(t.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params):
        _refresh(ls, params.text_document.uri)
        _publish(ls, t, params.text_document.uri)

    @ls.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls, params):
        uri = params.text_document.uri
        _refresh(ls, uri)
        previous = ls.pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        ls.pending[uri] = asyncio.ensure_future(_publish_later(ls, t, uri))

    @ls.feature(t.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls, params):
        _publish(ls, t, params.text_document.uri)

    @ls.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params):
        uri = params.text_document.uri
        ls.cnn.close(_path(uri))
        ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def _register_queries(ls, t) -> None:
    @ls.feature(t.TEXT_DOCUMENT_HOVER)
    def hover(ls, params):
        found = _guarded(features.hover, ls, params)
        if not found:
            return None
        text, span = found
        return t.Hover(t.MarkupContent(t.MarkupKind.Markdown, text), _range(t, span))

    @ls.feature(t.TEXT_DOCUMENT_DEFINITION)
    def definition(ls, params):
        spans = _guarded(features.definition, ls, params) or []
        return [t.Location(_uri(s.file), _range(t, s)) for s in spans]

    @ls.feature(t.TEXT_DOCUMENT_COMPLETION, t.CompletionOptions(trigger_characters=["(", ",", " "]))
    def completion(ls, params):
        items = _guarded(features.complete, ls, params) or []
        return t.CompletionList(is_incomplete=False, items=[_completion_item(t, c) for c in items])

    @ls.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(ls, params):
        analysis = _analysis(ls, params.text_document.uri)
        if analysis is None:
            return []
        kinds = {"network": t.SymbolKind.Module, "block": t.SymbolKind.Class, "function": t.SymbolKind.Function}
        return [
            t.DocumentSymbol(name, kinds.get(kind, t.SymbolKind.Constant), _range(t, whole), _range(t, head), kind)
            for name, kind, whole, head in features.symbols(analysis)
        ]

    @ls.feature(t.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls, params):
        return _format(ls, t, params.text_document.uri)


# -- documents and analyses -----------------------------------------------------------


def _path(uri: str) -> str:
    from pygls.uris import to_fs_path

    return to_fs_path(uri) or uri if uri.startswith("file:") else uri


def _uri(file: str) -> str:
    from pathlib import Path

    from pygls.uris import from_fs_path

    path = Path(file)
    return from_fs_path(str(path.resolve())) if path.exists() else file


def _refresh(ls, uri: str) -> None:
    document = ls.workspace.get_text_document(uri)
    ls.cnn.update(_path(uri), document.source)


def _analysis(ls, uri: str):
    """The analysis of an open document; None for one that is not open (never read from disk here)."""
    try:
        return ls.cnn.get(_path(uri))
    except Exception:  # noqa: BLE001 - a bug in analysis must not end the session
        log.exception("analysis of %s failed", uri)
        return None


def _guarded(feature, ls, params):
    """Run a feature at the request's position; an internal error answers nothing."""
    analysis = _analysis(ls, params.text_document.uri)
    if analysis is None:
        return None
    position = params.position
    try:
        return feature(analysis, position.line + 1, position.character + 1)
    except Exception:  # noqa: BLE001
        log.exception("%s failed", feature.__name__)
        return None


# -- diagnostics ------------------------------------------------------------------------


async def _publish_later(ls, t, uri: str) -> None:
    await asyncio.sleep(DEBOUNCE_S)
    ls.pending.pop(uri, None)
    _publish(ls, t, uri)


def _publish(ls, t, uri: str) -> None:
    analysis = _analysis(ls, uri)
    if analysis is None:
        return
    items = [_diagnostic(t, d, analysis) for d in analysis.diagnostics]
    ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=items))


def _diagnostic(t, d: Diagnostic, analysis):
    span = _local_span(d.span, analysis)
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    if d.span is not None and span is not d.span:
        message = f"{d.span}: {message}"  # the problem is in an imported file
    related = [
        t.DiagnosticRelatedInformation(t.Location(_uri(n.span.file), _range(t, n.span)), n.message)
        for n in d.notes
        if n.span is not None
    ]
    severity = t.DiagnosticSeverity.Warning if d.severity == "warning" else t.DiagnosticSeverity.Error
    return t.Diagnostic(_range(t, span), message, severity, d.code, source="cnndsl", related_information=related)


def _local_span(span: Span | None, analysis) -> Span:
    """The span itself when it is in this document, else the `import` that leads to it (or the start)."""
    if span is not None and (span.file == analysis.path or span.file in ("<stdin>", "<string>")):
        return span
    module = analysis.module
    if span is not None and module is not None:
        for imp in module.imports:
            if imp.path.split("/")[-1] == span.file.replace("\\", "/").split("/")[-1]:
                return imp.span
    return Span(analysis.path, 1, 1, 1, 1)


def _range(t, span: Span):
    start = t.Position(max(span.line - 1, 0), max(span.column - 1, 0))
    end_line = span.end_line or span.line
    end_column = span.end_column or span.column + 1
    return t.Range(start, t.Position(max(end_line - 1, 0), max(end_column - 1, 0)))


# -- completion and formatting -------------------------------------------------------------


def _completion_item(t, item: features.Completion):
    kinds = {
        "layer": t.CompletionItemKind.Function,
        "block": t.CompletionItemKind.Class,
        "construct": t.CompletionItemKind.Keyword,
        "argument": t.CompletionItemKind.Property,
        "function": t.CompletionItemKind.Function,
        "keyword": t.CompletionItemKind.Keyword,
    }
    return t.CompletionItem(
        label=item.label,
        kind=kinds.get(item.kind),
        detail=item.detail or None,
        documentation=item.documentation or None,
        insert_text=item.insert or None,
    )


def _format(ls, t, uri: str):
    from .fmt import FormatError, format_source

    text = ls.cnn.texts.get(_path(uri))
    if text is None:
        return None
    try:
        result = format_source(text, _path(uri))
    except (CnnError, FormatError):
        return None  # a program that does not parse is left as it is
    if result == text:
        return []
    lines = text.split("\n")
    end = t.Position(len(lines) - 1, len(lines[-1]))
    return [t.TextEdit(t.Range(t.Position(0, 0), end), result)]
