"""Backends: ONNX emission, onnxruntime execution, Graphviz rendering."""
