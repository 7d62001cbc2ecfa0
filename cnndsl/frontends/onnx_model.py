"""ONNX -> `.cnn`: read and check the model, then hand it to the next stages.

The stages, one module each: :mod:`.onnx_graph` reads the file (with a size limit),
runs `onnx.checker`, refuses cycles and external data and collects the
graph into plain records; :mod:`.onnx_ops` and :mod:`.onnx_layout` (on the
records of :mod:`.onnx_patterns`) recognise cnndsl layers in the nodes;
:mod:`.structure` turns the graph of layers into
nested statements (chains, merges, `residual`); :mod:`.fold` groups them by
the scopes of the node names into blocks and folds repeated ones;
:mod:`.program_text` writes the `.cnn` text and :mod:`.naming` compiles it
once to key the weights by the names `cnndsl compile --weights` expects.

Every problem names the ONNX node and its operator type (docs/import.md).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Diagnostic, UsageError


def read(path: Path, weights: Path | None = None):
    """Import the ONNX model at `path` (see the package docs)."""
    from .naming import imported
    from .onnx_graph import load
    from .onnx_ops import recognise

    if weights is not None:
        raise UsageError(Diagnostic("E1201", "--weights is for Darknet; an ONNX file holds its own weights"))
    model = load(path)
    return imported(recognise(model), model)
