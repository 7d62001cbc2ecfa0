"""Frontends: other formats read into cnndsl programs (`cnndsl import`).

One module per source format, each with a ``read(path, weights=None) ->
Imported`` function: `onnx_model` (.onnx), `darknet` (.cfg, with an optional
Darknet .weights file), `caffe` (.prototxt). A frontend may use the library
(`cnndsl.network`, `cnndsl.layers`) but never `cnndsl.cli` or
`cnndsl.commands`; it imports its heavy dependencies (onnx) itself, lazily.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import Diagnostic, UsageError

FORMATS: dict[str, str] = {"onnx": "onnx_model", "darknet": "darknet", "caffe": "caffe"}
"""Format name (`--from`) -> module of this package that reads it."""

SUFFIXES: dict[str, str] = {".onnx": "onnx", ".cfg": "darknet", ".prototxt": "caffe"}
"""File suffix -> format name, when `--from` is not given."""


@dataclass
class Imported:
    """What an importer made of a model file."""

    source: str
    """The `.cnn` program text (ends with a newline)."""
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    """Tensors keyed by the names `cnndsl compile --weights` expects (empty when the model had none)."""
    notes: list[str] = field(default_factory=list)
    """One line each: what the user should know (folded blocks, dropped no-op nodes, ...)."""


def format_of(path: str | Path, given: str | None = None) -> str:
    """The format name for `path`: `given` (from `--from`) or the file's suffix."""
    if given:
        return given
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        known = ", ".join(sorted(SUFFIXES))
        raise _unknown_format(f"{path}: cannot tell the model format from the suffix {suffix or '(none)'!r}", known)
    return SUFFIXES[suffix]


def read(path: str | Path, given: str | None = None, weights: str | Path | None = None) -> Imported:
    """Import the model at `path` (format from `given` or the suffix)."""
    module = importlib.import_module(f"{__name__}.{FORMATS[format_of(path, given)]}")
    return module.read(Path(path), weights=Path(weights) if weights else None)


def _unknown_format(message: str, known: str) -> UsageError:
    return UsageError(Diagnostic("E1200", message, hint=f"use --from onnx|darknet|caffe, or one of {known}"))
