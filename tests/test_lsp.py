"""The language server end to end: a real LSP client (pytest-lsp) talks to `cnndsl lsp` over stdio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESNET50 = ROOT / "architectures" / "resnet50.cnn"
RESNET152 = ROOT / "architectures" / "resnet152.cnn"
BLOCKS = ROOT / "architectures" / "blocks" / "resnet.cnn"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "cnndsl", "lsp"]))
async def client(lsp_client: LanguageClient):
    params = types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.resolve().as_uri()
    text = path.read_text(encoding="utf-8") if text is None else text
    document = types.TextDocumentItem(uri=uri, language_id="cnn", version=1, text=text)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=document))
    return uri


async def _diagnostics(client: LanguageClient, uri: str) -> list:
    while uri not in client.diagnostics:
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return client.diagnostics[uri]


def _position(text: str, needle: str, occurrence: int = 0) -> types.Position:
    """The position of the start of the `occurrence`-th `needle` in `text` (found by the test, not the server)."""
    at = -1
    for _ in range(occurrence + 1):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at)
    return types.Position(line, at - (text.rfind("\n", 0, at) + 1))


def _line_of(path: Path, prefix: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines()) if line.startswith(prefix))


BAD = """network Bad {
  input x: [3, 32, 32]
  conv(16, 3, strid=2) -> relu
}
"""


@pytest.mark.asyncio
async def test_diagnostics_point_at_the_bad_argument(client: LanguageClient, tmp_path):
    path = tmp_path / "bad.cnn"
    path.write_text(BAD)
    uri = _open(client, path)
    diagnostics = await _diagnostics(client, uri)
    assert len(diagnostics) == 1
    found = diagnostics[0]
    start = _position(BAD, "strid")
    assert found.range.start == start
    assert found.range.end == types.Position(start.line, start.character + len("strid=2"))
    assert found.severity == types.DiagnosticSeverity.Error
    assert found.code and found.code.startswith("E")
    assert "strid" in found.message


@pytest.mark.asyncio
async def test_diagnostics_follow_changes(client: LanguageClient, tmp_path):
    path = tmp_path / "edit.cnn"
    good = BAD.replace("strid", "stride")
    path.write_text(good)
    uri = _open(client, path)
    assert list(await _diagnostics(client, uri)) == []
    broken = good.replace("relu\n", "relu -> conv(8, 3\n")  # an unclosed `(`
    change = types.TextDocumentContentChangeWholeDocument(text=broken)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(uri=uri, version=2), [change])
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    (found,) = client.diagnostics[uri]
    assert found.range.start == _position(broken, "(8, 3")


@pytest.mark.asyncio
async def test_hover_on_the_first_conv_of_resnet50(client: LanguageClient):
    uri = _open(client, RESNET50)
    text = RESNET50.read_text()
    position = _position(text, "conv(64, 7, stride=2, pad=3")
    result = await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri), position))
    size = (224 + 2 * 3 - 7) // 2 + 1  # the output size of a 7x7, stride-2, pad-3 window on 224 pixels
    assert f"[N, 64, {size}, {size}]" in result.contents.value
    assert f"params {64 * 3 * 7 * 7:,}" in result.contents.value  # bias=false


@pytest.mark.asyncio
async def test_hover_on_a_block_call_and_a_bound_name(client: LanguageClient):
    uri = _open(client, RESNET50)
    text = RESNET50.read_text()
    block = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), _position(text, "Stage(512"))
    )
    assert "[N, 2048, 7, 7]" in block.contents.value  # ResNet-50's last stage: 4 x 512 channels at 224 / 32
    name = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), _position(text, "features ="))
    )
    assert "[N, 2048, 7, 7]" in name.contents.value


@pytest.mark.asyncio
async def test_definition_of_a_block_call(client: LanguageClient):
    uri = _open(client, RESNET50)
    text = RESNET50.read_text()
    result = await client.text_document_definition_async(
        types.DefinitionParams(types.TextDocumentIdentifier(uri), _position(text, "Stage(128"))
    )
    (location,) = result
    assert location.uri == uri
    assert location.range.start.line == _line_of(RESNET50, "block Stage")


@pytest.mark.asyncio
async def test_definition_across_an_import(client: LanguageClient):
    uri = _open(client, RESNET152)
    text = RESNET152.read_text()
    result = await client.text_document_definition_async(
        types.DefinitionParams(types.TextDocumentIdentifier(uri), _position(text, "BottleneckStage(128"))
    )
    (location,) = result
    assert location.uri == BLOCKS.resolve().as_uri()
    assert location.range.start.line == _line_of(BLOCKS, "block BottleneckStage")
    imported = await client.text_document_definition_async(
        types.DefinitionParams(types.TextDocumentIdentifier(uri), _position(text, '"blocks/resnet.cnn"'))
    )
    assert [loc.uri for loc in imported] == [BLOCKS.resolve().as_uri()]


@pytest.mark.asyncio
async def test_completion_of_conv_arguments(client: LanguageClient, tmp_path):
    text = "network C {\n  input x: [3, 32, 32]\n  conv(\n}\n"
    uri = _open(client, tmp_path / "c.cnn", text)
    position = types.Position(2, len("  conv("))
    result = await client.text_document_completion_async(
        types.CompletionParams(types.TextDocumentIdentifier(uri), position)
    )
    labels = {item.label for item in result.items}
    assert {"stride", "pad", "dilation", "groups"} <= labels
    groups = next(item for item in result.items if item.label == "groups")
    assert groups.detail == "groups=1"


@pytest.mark.asyncio
async def test_document_symbols_and_formatting(client: LanguageClient, tmp_path):
    from cnndsl.tools.fmt import format_text

    text = "block B { conv(8,3)->relu }\nnetwork N{input x:[3,8,8];B}\n"
    uri = _open(client, tmp_path / "s.cnn", text)
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(types.TextDocumentIdentifier(uri))
    )
    assert [(s.name, s.range.start.line) for s in symbols] == [("B", 0), ("N", 1)]
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(types.TextDocumentIdentifier(uri), types.FormattingOptions(2, True))
    )
    (edit,) = edits
    assert edit.new_text == format_text(text)
    assert edit.range.start == types.Position(0, 0)


@pytest.mark.asyncio
async def test_malformed_requests_and_text_do_not_end_the_server(client: LanguageClient, tmp_path):
    uri = _open(client, RESNET50)
    for body in (
        b'{"jsonrpc": "2.0", "id": 9001, "method": "textDocument/hover", "params": {"textDocument": {}}}',
        b'{"jsonrpc": "2.0", "id": 9002, "method": "textDocument/definition", "params": {"position": "nowhere"}}',
        b'{"jsonrpc": "2.0", "id": 9003, "method": "textDocument/completion", "params": [1, 2]}',
        b"this is not json",
    ):
        client.protocol.writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier("file:///nowhere/unopened.cnn"), types.Position(0, 0))
    )
    bad = _open(client, tmp_path / "latin1.cnn", "network L { input x: [3, 8, 8]; conv(4, 3) } # caf\udce9\n")
    diagnostics = await _diagnostics(client, bad)
    assert [d.code for d in diagnostics] == ["E0005"]
    text = RESNET50.read_text()
    result = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), _position(text, "conv(64, 7"))
    )
    assert "[N, 64, 112, 112]" in result.contents.value


def test_lsp_without_pygls_says_what_to_install():
    code = "import sys; sys.modules['pygls'] = None; from cnndsl.cli import main; sys.exit(main(['lsp']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert "pip install 'cnndsl[lsp]'" in done.stderr
