"""The ONNX protobuf classes, without importing the `onnx` package.

`import onnx` costs 0.6-2.5 s since `ml_dtypes` 0.7 (onnx imports it eagerly
for its float8 helpers, which cnndsl never uses), against 0.15 s for the
generated protobuf module alone. Building and writing a model needs only the
message classes, so `compile` loads `onnx/onnx_ml_pb2.py` from the installed
`onnx` distribution without running the package's `__init__`, and builds
nodes, attributes and tensors with the small helpers below.

When `onnx` is already imported (a Python user who works with the returned
model, the tests), its own classes are used, so a model from the API is always
a genuine :class:`onnx.ModelProto`. Both load the same descriptors, and
protobuf accepts the same file registered twice, so the two can coexist.

>>> node = make_node("Conv", ["x", "w"], ["y"], name="conv1", strides=[2, 2], auto_pad="NOTSET")
>>> [(a.name, a.type) for a in node.attribute] == [("auto_pad", AttributeType.STRING), ("strides", AttributeType.INTS)]
True
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache

import numpy as np


def pb():
    """The module holding ModelProto, NodeProto, TensorProto, ... (onnx's own once onnx is imported)."""
    onnx = sys.modules.get("onnx")
    if onnx is not None and hasattr(onnx, "onnx_ml_pb2"):
        return onnx.onnx_ml_pb2
    return _generated()


@cache
def _generated():
    """onnx's generated protobuf module, loaded by path under a private name."""
    spec = importlib.util.find_spec("onnx")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = f"{folder}/onnx_ml_pb2.py"
        generated = importlib.util.spec_from_file_location("cnndsl._onnx_ml_pb2", path)
        if generated is None:
            continue
        try:
            module = importlib.util.module_from_spec(generated)
            generated.loader.exec_module(module)
        except (OSError, ImportError):  # pragma: no cover - a different onnx layout: use the package
            break
        return module
    import onnx  # pragma: no cover - the fallback costs the slow import, nothing else

    return onnx.onnx_ml_pb2  # pragma: no cover


class _Types:
    """Enum values looked up on first use (`AttributeType.INTS`, `DataType.FLOAT`)."""

    def __init__(self, message: str, enum: str):
        self._message, self._enum = message, enum

    def __getattr__(self, name: str) -> int:
        return getattr(getattr(pb(), self._message), self._enum).Value(name)


AttributeType = _Types("AttributeProto", "AttributeType")
DataType = _Types("TensorProto", "DataType")

_NUMPY_TYPES = {
    np.dtype("float32"): "FLOAT",
    np.dtype("float64"): "DOUBLE",
    np.dtype("int64"): "INT64",
    np.dtype("int32"): "INT32",
    np.dtype("uint8"): "UINT8",
    np.dtype("int8"): "INT8",
    np.dtype("bool"): "BOOL",
    np.dtype("float16"): "FLOAT16",
}


def tensor(array, name: str = ""):
    """A TensorProto holding `array` as little-endian raw data."""
    array = np.asarray(array)
    kind = _NUMPY_TYPES.get(array.dtype)
    if kind is None:
        raise TypeError(f"no ONNX tensor type for numpy {array.dtype}")
    proto = pb().TensorProto(name=name, dims=array.shape, data_type=getattr(DataType, kind))
    proto.raw_data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return proto


def attribute(name: str, value):
    """An AttributeProto typed from the Python value, as `onnx.helper.make_attribute` does."""
    proto = pb().AttributeProto(name=name)
    if isinstance(value, (bool, int, np.integer)):
        proto.type, proto.i = AttributeType.INT, int(value)
    elif isinstance(value, (float, np.floating)):
        proto.type, proto.f = AttributeType.FLOAT, float(value)
    elif isinstance(value, (str, bytes)):
        proto.type, proto.s = AttributeType.STRING, value.encode("utf-8") if isinstance(value, str) else value
    elif isinstance(value, pb().TensorProto):
        proto.type = AttributeType.TENSOR
        proto.t.CopyFrom(value)
    elif isinstance(value, (list, tuple)):
        _list_attribute(proto, list(value))
    else:
        raise TypeError(f"attribute {name}: unsupported value {value!r}")
    return proto


def _list_attribute(proto, values: list) -> None:
    if all(isinstance(v, (bool, int, np.integer)) for v in values):
        proto.type = AttributeType.INTS
        proto.ints.extend(int(v) for v in values)
    elif all(isinstance(v, (bool, int, float, np.integer, np.floating)) for v in values):
        proto.type = AttributeType.FLOATS
        proto.floats.extend(float(v) for v in values)
    elif all(isinstance(v, str) for v in values):
        proto.type = AttributeType.STRINGS
        proto.strings.extend(v.encode("utf-8") for v in values)
    else:
        raise TypeError(f"attribute {proto.name}: mixed list {values!r}")


def make_node(op_type: str, inputs: list[str], outputs: list[str], name: str = "", doc_string: str = "", **attrs):
    """A NodeProto with its attributes sorted by name, as `onnx.helper.make_node` makes it."""
    node = pb().NodeProto(op_type=op_type, input=inputs, output=outputs)
    if name:
        node.name = name
    if doc_string:
        node.doc_string = doc_string
    node.attribute.extend(attribute(key, value) for key, value in sorted(attrs.items()) if value is not None)
    return node


def value_info(name: str, shape: list, elem_type: str = "FLOAT"):
    """A ValueInfoProto of a tensor; string dimensions are symbolic (`N`)."""
    info = pb().ValueInfoProto(name=name)
    tensor_type = info.type.tensor_type
    tensor_type.elem_type = getattr(DataType, elem_type)
    tensor_type.shape.SetInParent()
    for size in shape:
        dim = tensor_type.shape.dim.add()
        if isinstance(size, str):
            dim.dim_param = size
        else:
            dim.dim_value = int(size)
    return info


def make_model(opset: int, ir_version: int, metadata: dict[str, str], graph: dict, **fields):
    """A ModelProto with one default-domain opset, `metadata_props` and the graph's `fields`."""
    model = pb().ModelProto(ir_version=ir_version, **fields)
    for key, value in graph.items():
        if isinstance(value, list):
            getattr(model.graph, key).extend(value)
        else:
            setattr(model.graph, key, value)
    model.opset_import.add(domain="", version=opset)
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    return model
