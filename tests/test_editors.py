"""editors/vscode: the TextMate grammar knows every keyword of the language and every layer."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cnndsl.layers import LAYERS
from cnndsl.parser import grammar_path

VSCODE = Path(__file__).resolve().parents[1] / "editors" / "vscode"


def _grammar() -> dict:
    return json.loads((VSCODE / "syntaxes" / "cnn.tmLanguage.json").read_text(encoding="utf-8"))


def _matches(pattern_names: list[str], word: str) -> bool:
    grammar = _grammar()["repository"]
    patterns = []
    for name in pattern_names:
        entry = grammar[name]
        patterns += [p["match"] for p in entry.get("patterns", [entry]) if "match" in p]
    return any(re.fullmatch(p, word) for p in patterns)


def test_every_keyword_of_the_lark_grammar_is_highlighted():
    keywords = set(re.findall(r'"([a-z]+)"', grammar_path().read_text(encoding="utf-8")))
    assert keywords >= {"network", "block", "import", "repeat"}
    missing = sorted(k for k in keywords if not _matches(["keyword", "constant"], k))
    assert missing == []


def test_every_layer_is_highlighted_as_a_builtin():
    missing = sorted(name for name in LAYERS if not _matches(["builtin"], name))
    assert missing == []
    assert not _matches(["builtin"], "Bottleneck")


def test_the_extension_starts_cnndsl_lsp_for_cnn_files():
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (language,) = package["contributes"]["languages"]
    assert language["extensions"] == [".cnn"]
    assert (VSCODE / package["main"]).is_file()
    setting = package["contributes"]["configuration"]["properties"]["cnndsl.server.command"]
    assert setting["default"] == ["cnndsl", "lsp"]
    config = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert ["(", ")"] in config["brackets"] and ["{", "}"] in config["brackets"]
