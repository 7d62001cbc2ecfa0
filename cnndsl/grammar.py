"""Where the grammar file is: `grammars/cnn.lark` beside the sources, or bundled in a wheel."""

from __future__ import annotations

from pathlib import Path

GRAMMAR_DIRS = (
    Path(__file__).resolve().parent / "_bundled" / "grammars",
    Path(__file__).resolve().parent.parent / "grammars",
)


def grammar_path() -> Path:
    for folder in GRAMMAR_DIRS:
        if (folder / "cnn.lark").is_file():
            return folder / "cnn.lark"
    raise FileNotFoundError("grammars/cnn.lark is missing from the installation")
