"""Weight files in and out: `.safetensors`, `.npz` and PyTorch `.pt`/`.pth` state_dicts.

Tensors are keyed by PyTorch's names for the generated module: the node name
with `/` written `.`, then the tensor (`Stage2.Bottleneck1.bn1.running_mean`;
batch-norm's ONNX scale/shift/mean/var are weight/bias/running_mean/running_var).
Nothing is read blindly: a safetensors header is checked against the file's
size before any data is read, every `.npz` member's header against its stored
size, `.pt` files go through ``torch.load(weights_only=True)`` (no arbitrary
unpickling) with memory mapping, and every value must be finite.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CnnError, Collector, Diagnostic, UsageError, error, usage_error
from ..layers.base import format_shape

MAX_HEADER = 100 * 2**20  # safetensors' own limit on its JSON header
MAX_TENSORS = 100_000
FLOAT_KINDS = {"F16": np.float16, "F32": np.float32, "F64": np.float64}
SIZES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
IGNORED = ("num_batches_tracked",)  # PyTorch's batch-norm step counter: no ONNX counterpart


# ONNX tensor role (`conv1/weight`) -> PyTorch state_dict suffix (`conv1.weight`), where they differ
ROLES = {
    "bn": {"scale": "weight", "shift": "bias", "mean": "running_mean", "var": "running_var"},
    "prelu": {"slope": "weight"},
    "layernorm": {"scale": "weight", "shift": "bias"},
    "groupnorm": {"scale": "weight", "shift": "bias"},
    "instancenorm": {"scale": "weight", "shift": "bias"},
    "scale": {"scale": "weight"},
}


def torch_key(node, role: str) -> str:
    """The state_dict key of the ONNX tensor `<node>/<role>`: `Stage2.Bottleneck1.bn1.running_mean`."""
    return node.name.replace("/", ".") + "." + ROLES.get(node.op, {}).get(role, role)


def import_torch():
    """torch, or a usage error saying how to install it."""
    try:
        import torch
    except ImportError:
        hint = "pip install 'cnndsl[torch]'"
        raise usage_error("this needs PyTorch, which is not installed", "E1103", hint) from None
    return torch


@dataclass(frozen=True)
class Slot:
    """A tensor the network needs: its ONNX name, its key in a weights file, its shape there, its node."""

    onnx: str
    key: str
    shape: tuple
    node: object


def slots(network, pending) -> list[Slot]:
    out = []
    for name, shape, _ in pending:
        node_name, role = name.rsplit("/", 1)
        node = network.graph[node_name]
        key = torch_key(node, role)
        out.append(Slot(name, key, (shape[0],) if node.op == "prelu" else tuple(shape), node))
    return out


def initial_state(network, seed: int = 0) -> dict[str, np.ndarray]:
    """The initial weights `compile` draws with `seed`, keyed and shaped as in the PyTorch module."""
    from .onnx import assemble, realise

    _, pending = assemble(network, seed)
    table = {s.onnx: s for s in slots(network, pending)}
    return {table[name].key: array.reshape(table[name].shape) for name, array in realise(pending)}


# -- reading ----------------------------------------------------------------------------------


def read(path: str) -> dict[str, np.ndarray]:
    """The tensors of a weights file, by name, in the file's order (float arrays or int counters)."""
    where = Path(path)
    if not where.is_file():
        raise usage_error(f"weights file {path} not found", "E1110")
    suffix = where.suffix.lower()
    readers = {".safetensors": _safetensors, ".npz": _npz, ".pt": _torch, ".pth": _torch}
    if suffix not in readers:
        kind = suffix or where.name
        raise usage_error(f"weights file {path}: unknown kind `{kind}`", "E1110", "use .safetensors, .npz, .pt or .pth")
    tensors = readers[suffix](where)
    if len(tensors) > MAX_TENSORS:
        raise _bad(where, f"holds {len(tensors):,} tensors (at most {MAX_TENSORS:,})")
    return tensors


def _bad(path, message: str, hint: str = "") -> UsageError:
    return usage_error(f"weights file {path}: {message}", "E1111", hint)


def _safetensors(path: Path) -> dict[str, np.ndarray]:
    header = _safetensors_header(path)
    for name, entry in header.items():
        if entry["dtype"] == "BF16":
            raise _bad(path, f"`{name}` is bfloat16, which numpy cannot hold", "save it as float32 or float16")
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise _bad(path, f"cannot read it ({_first(exc)})") from None
    order = sorted(header, key=lambda name: header[name]["data_offsets"][0])
    return {name: tensors[name] for name in order}


def _safetensors_header(path: Path) -> dict:
    """The JSON header, checked: every tensor's size agrees with its byte range, inside the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        start = f.read(8)
        if len(start) < 8:
            raise _bad(path, "is truncated (no header)")
        (length,) = struct.unpack("<Q", start)
        if length > min(MAX_HEADER, size - 8):
            raise _bad(path, f"claims a header of {length:,} bytes in a file of {size:,}", "the file is damaged")
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, ValueError):
            raise _bad(path, "its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise _bad(path, "its header is not a table of tensors")
    header.pop("__metadata__", None)
    data = size - 8 - length
    for name, entry in header.items():
        _check_entry(path, name, entry, data)
    return header


def _check_entry(path: Path, name: str, entry, data: int) -> None:
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
        raise _bad(path, f"header entry `{name}` is malformed")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in SIZES:
        raise _bad(path, f"`{name}` has dtype {dtype}", "weights must be floating point (float32, float16, float64)")
    if not isinstance(shape, list) or not all(isinstance(d, int) and 0 <= d < 2**40 for d in shape):
        raise _bad(path, f"`{name}` has a malformed shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise _bad(path, f"`{name}` has malformed data offsets")
    begin, end = offsets
    need = math.prod(shape) * SIZES[dtype]
    if not 0 <= begin <= end <= data or end - begin != need:
        raise _bad(
            path,
            f"`{name}` claims shape {format_shape(shape)} ({need:,} bytes) at bytes {begin:,}..{end:,} "
            f"of {data:,} bytes of data",
            "the file is truncated or damaged",
        )


def _npz(path: Path) -> dict[str, np.ndarray]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _bad(path, f"is not a readable .npz archive ({_first(exc)})") from None
    with archive:
        infos = [i for i in archive.infolist() if i.filename.endswith(".npy")]
        for info in infos:
            _check_npy(path, archive, info)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise _bad(path, f"cannot read it ({_first(exc)})") from None


def _check_npy(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """An `.npz` member's header must promise no more data than the member holds."""
    name = info.filename[:-4]
    try:
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else None
            read_header = np.lib.format.read_array_header_2_0 if version == (2, 0) else read_header
            if read_header is None:
                raise ValueError(f"npy format version {version} is not supported")
            shape, _, dtype = read_header(f, max_header_size=10_000)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise _bad(path, f"member `{name}` is not a numpy array ({_first(exc)})") from None
    if dtype.hasobject:
        raise _bad(path, f"`{name}` holds Python objects", "save plain numeric arrays")
    need = math.prod(shape) * dtype.itemsize
    if need > info.file_size:
        raise _bad(
            path,
            f"`{name}` claims shape {format_shape(shape)} ({need:,} bytes) but holds {info.file_size:,} bytes",
            "the file is truncated or damaged",
        )


def _torch(path: Path) -> dict[str, np.ndarray]:
    torch = import_torch()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types for a bad file
        raise _bad(
            path,
            f"is not a PyTorch state_dict torch can load safely ({_first(exc)})",
            "save it with torch.save(model.state_dict(), path)",
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise _bad(
            path,
            f"holds a {type(state).__name__}, not a state_dict of named tensors",
            "save it with torch.save(model.state_dict(), path)",
        )
    out = {}
    for key, value in state.items():
        if value.dtype == torch.bfloat16:
            value = value.float()
        out[key] = value.detach().cpu().numpy()
    return out


def _first(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


# -- matching --------------------------------------------------------------------------------------


def match(network, pending, tensors: dict, path: str, partial: bool = False, order: bool = False):
    """The arrays to use, by ONNX name, and notes for the user; located errors for any mismatch."""
    wanted = slots(network, pending)
    tensors = {k: v for k, v in tensors.items() if k.rsplit(".", 1)[-1] not in IGNORED}
    notes = []
    if order:
        tensors, notes = _by_order(wanted, tensors, path)
    errors, chosen, fresh = Collector(limit=200), {}, []
    for slot in wanted:
        array = tensors.get(slot.key)
        if array is None:
            fresh.append(slot)
            continue
        problem = _problem(slot, array)
        if problem:
            errors.add(error("E1112", f"`{slot.key}` in {path}: {problem}", slot.node.span))
            continue
        chosen[slot.onnx] = np.ascontiguousarray(array, dtype=np.float32).reshape(_onnx_shape(slot, pending))
    known = {s.key for s in wanted}
    for key, array in tensors.items():
        if key not in known:
            errors.add(_unexpected(key, array, path, wanted))
    if fresh and not partial:
        for slot in fresh:
            errors.add(
                error(
                    "E1113",
                    f"{path} has no `{slot.key}` (layer {slot.node.name} needs {format_shape(slot.shape)})",
                    slot.node.span,
                    hint="--partial keeps the fresh initial weights of layers the file lacks",
                )
            )
    errors.raise_if_any()
    layers = list(dict.fromkeys(s.node.name for s in fresh))
    if layers:
        notes.append(f"kept the initial weights of {len(layers)} layer(s) the file lacks: {', '.join(layers)}")
    return chosen, notes


def _onnx_shape(slot: Slot, pending) -> tuple:
    return next(shape for name, shape, _ in pending if name == slot.onnx)


def _problem(slot: Slot, array: np.ndarray) -> str:
    if array.dtype.kind != "f":
        return f"holds {array.dtype.name} values; weights must be floating point"
    if tuple(array.shape) != slot.shape:
        return f"the file holds {format_shape(array.shape)}; layer {slot.node.name} needs {format_shape(slot.shape)}"
    if not np.isfinite(array).all():
        bad = int(np.size(array) - np.isfinite(array).sum())
        return f"holds {bad:,} NaN or infinite value(s)"
    return ""


def _unexpected(key: str, array, path: str, wanted: list[Slot]) -> CnnError:
    from ..errors import did_you_mean

    hint = did_you_mean(key, [s.key for s in wanted]) or "--match order maps a state_dict with other names by order"
    return CnnError(
        Diagnostic(
            "E1114", f"{path}: `{key}` {format_shape(np.shape(array))} matches no tensor of the network", hint=hint
        )
    )


def _by_order(wanted: list[Slot], tensors: dict, path: str):
    """Rename the file's tensors to the network's, pairing them in order; refuse unless shapes agree."""
    keys = list(tensors)
    if len(keys) != len(wanted):
        raise usage_error(
            f"--match order: {path} holds {len(keys)} tensors, the network needs {len(wanted)}",
            "E1115",
            "order cannot pair them; compare `cnndsl export --to safetensors` with the file",
        )
    renamed, lines = {}, []
    for position, (key, slot) in enumerate(zip(keys, wanted)):
        shape = tuple(np.shape(tensors[key]))
        if shape != slot.shape:
            raise CnnError(
                Diagnostic(
                    "E1115",
                    f"--match order: tensor {position + 1} of {path}, `{key}` {format_shape(shape)}, falls on "
                    f"`{slot.key}`, which needs {format_shape(slot.shape)}",
                    slot.node.span,
                    hint="order and shape do not determine the mapping; rename the tensors to the network's names",
                )
            )
        renamed[slot.key] = tensors[key]
        lines.append(f"  {key} -> {slot.key} {format_shape(shape)}")
    return renamed, ["--match order mapped:", *lines]


def load(network, pending, path: str, partial: bool = False, order: bool = False):
    """Read `path` and match it to the network's tensors: ({onnx name: array}, notes)."""
    tensors = read(os.fspath(path))
    return match(network, pending, tensors, os.fspath(path), partial, order)


def save_safetensors(state: dict[str, np.ndarray], path: str) -> None:
    from safetensors.numpy import save

    from ..files import write_bytes

    write_bytes(path, save({k: np.ascontiguousarray(v) for k, v in state.items()}))
