"""Smaller models: float16 weights and activations, or static int8 QDQ quantisation.

`compile --precision fp16` converts with onnxruntime's float16 converter, keeping
float32 at the graph's edges (inputs and outputs), so callers feed the same arrays.
`compile --quantize int8 --calibrate DATA` runs onnxruntime.quantization's static
quantisation in QDQ format, calibrated on DATA (a folder of images or an `.npy`
batch). onnx and onnxruntime are imported here only, when these options are used.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path

import numpy as np

from ..errors import usage_error
from .runtime import IMAGE_SUFFIXES, NETPBM_SUFFIXES, _fit, _read_npy, image

METHODS = ("minmax", "entropy", "percentile")
MAX_CALIBRATION_IMAGES = 10_000
CALIBRATION_BATCH = 32


def to_fp16(model):
    """`model` (an onnx ModelProto) with float16 weights and activations, float32 inputs and outputs."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=False)
    _sort_nodes(model.graph)  # the converter appends its input Casts at the end
    return model


def _sort_nodes(graph) -> None:
    """Order the nodes of `graph` topologically (Kahn; ties keep their order), as onnx.checker requires."""
    ready = {v.name for v in graph.input} | {i.name for i in graph.initializer} | {""}
    waiting, ordered = list(graph.node), []
    while waiting:
        rest = []
        for node in waiting:
            if all(name in ready for name in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(waiting):
            raise ValueError("the float16 graph has a cycle or a missing input")
        waiting = rest
    copies = [type(node)() for node in ordered]
    for copy, node in zip(copies, ordered):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def to_int8(model, data: np.ndarray, method: str = "minmax"):
    """`model` statically quantised to int8 (QDQ), calibrated on the batch `data` [N, ...]."""
    import onnx
    from onnxruntime import quantization as q
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method not in METHODS:
        raise usage_error(f"unknown calibration method {method!r}; choose from {', '.join(METHODS)}")
    methods = {
        "minmax": q.CalibrationMethod.MinMax,
        "entropy": q.CalibrationMethod.Entropy,
        "percentile": q.CalibrationMethod.Percentile,
    }
    name = model.graph.input[0].name
    with tempfile.TemporaryDirectory(prefix="cnndsl-int8-") as folder, _quiet():
        source, target = Path(folder) / "float.onnx", Path(folder) / "int8.onnx"
        onnx.save_model(model, str(Path(folder) / "raw.onnx"))
        # shape inference and onnxruntime's graph optimisations (batch norm folded into the convolutions);
        # every shape but the batch is concrete, so ONNX's own inference suffices (the symbolic one needs sympy)
        quant_pre_process(str(Path(folder) / "raw.onnx"), str(source), skip_symbolic_shape=True)
        q.quantize_static(
            str(source),
            str(target),
            _Reader(name, data),
            quant_format=q.QuantFormat.QDQ,
            per_channel=True,
            activation_type=q.QuantType.QInt8,
            weight_type=q.QuantType.QInt8,
            calibrate_method=methods[method],
            extra_options={"CalibTensorRangeSymmetric": False},
        )
        return onnx.load_model(str(target))


@contextlib.contextmanager
def _quiet():
    """onnxruntime.quantization logs advice on the root logger; keep the command's stderr for cnndsl."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


class _Reader:
    """onnxruntime's CalibrationDataReader protocol: `get_next()` -> feeds, or None at the end."""

    def __init__(self, name: str, data: np.ndarray):
        self.batches = iter([{name: data[i : i + CALIBRATION_BATCH]} for i in range(0, len(data), CALIBRATION_BATCH)])

    def get_next(self):
        return next(self.batches, None)

    def rewind(self):  # pragma: no cover - only some calibrators ask
        raise NotImplementedError


def calibration_data(path: str, shape) -> np.ndarray:
    """DATA for `--calibrate`: an `.npy` batch [N, ...] or a folder of images, fitted to the input `shape`."""
    location = Path(path)
    if location.is_dir():
        return _images(location, shape)
    if location.is_file() and location.suffix.lower() == ".npy":
        return _fit(_read_npy(location), shape, path)
    raise usage_error(
        f"--calibrate expects a folder of images or an .npy batch, got {path}",
        "E0904",
        hint="e.g. np.save('calib.npy', images[:200]) with images shaped [N, C, H, W] like the input",
    )


def _images(folder: Path, shape) -> np.ndarray:
    if len(shape) != 4 or shape[1] not in (1, 3):
        raise usage_error(f"images can calibrate a 1- or 3-channel image input; this input is {list(shape)}", "E0904")
    suffixes = IMAGE_SUFFIXES + NETPBM_SUFFIXES
    files = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in suffixes)
    if not files:
        raise usage_error(f"{folder} holds no images ({', '.join(suffixes)})", "E0904")
    files = files[:MAX_CALIBRATION_IMAGES]
    return np.stack([image(f, shape[1], shape[2], shape[3]) for f in files])
