"""Frontends: other formats read into cnndsl programs or graphs (importers).

Empty for now. An importer (ONNX, PyTorch, Keras -> `.cnn`) lives here, one
module per source format; it may use the library (`cnndsl.network`,
`cnndsl.layers`) but never `cnndsl.cli` or `cnndsl.commands`.
"""
