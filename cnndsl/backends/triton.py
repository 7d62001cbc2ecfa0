"""Triton Inference Server model repositories: `compile FILE --triton REPO/` (docs/deploy.md).

Writes `REPO/<network>/config.pbtxt` and `REPO/<network>/1/model.onnx` into a
staging folder inside REPO and renames it into place, so that a server polling
REPO never sees half a model. Dims and data types come from the report.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import usage_error

MAX_BATCH_LIMIT = 2**31 - 1
DATA_TYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "int64": "TYPE_INT64", "int32": "TYPE_INT32"}


def config_text(network, max_batch: int = 0, instances: int = 1, dynamic_batching: bool = False) -> str:
    """The `config.pbtxt` of `network` (protobuf text format of Triton's ModelConfig)."""
    lines = [
        f"name: {_quote(network.name)}",
        'platform: "onnxruntime_onnx"',
        f"max_batch_size: {max_batch}",
    ]
    lines += _tensors("input", network.inputs, max_batch)
    lines += _tensors("output", network.outputs, max_batch)
    lines += ["instance_group [", f"  {{ count: {instances} kind: KIND_AUTO }}", "]"]
    if dynamic_batching:
        lines.append("dynamic_batching { }")
    return "\n".join(lines) + "\n"


def _tensors(kind: str, tensors: list[dict], max_batch: int) -> list[str]:
    """Triton leaves the batch dimension out of dims when max_batch_size > 0; otherwise it is -1 (any size)."""
    entries = []
    for tensor in tensors:
        dims = [d if isinstance(d, int) else -1 for d in tensor["shape"]]  # the report's N: any size
        dims = dims[1:] if max_batch > 0 else dims
        entries.append(
            f"  {{ name: {_quote(tensor['name'])} data_type: {DATA_TYPES[tensor['dtype']]} "
            f"dims: [ {', '.join(map(str, dims))} ] }}"
        )
    return [f"{kind} [", ",\n".join(entries), "]"]


def _quote(text: str) -> str:
    return json.dumps(text)  # names are identifiers: JSON quoting is valid protobuf text


def check_options(max_batch: int, instances: int) -> None:
    if not 0 <= max_batch <= MAX_BATCH_LIMIT:
        raise usage_error(
            f"--max-batch must be between 0 and {MAX_BATCH_LIMIT}, got {max_batch}",
            hint="0 serves unbatched requests; B > 0 lets Triton batch up to B requests",
        )
    if not 1 <= instances <= 1024:
        raise usage_error(f"--instances must be between 1 and 1024, got {instances}")


def write_repository(repo, network, write_model, max_batch: int = 0, instances: int = 1, dynamic=False) -> Path:
    """Write `REPO/<network>/` as a whole; `write_model(path)` writes the ONNX file. Returns the folder."""
    check_options(max_batch, instances)
    root = _repository(Path(repo))
    target = root / network.name
    if target.exists() and not target.is_dir():
        raise usage_error(f"cannot write the model folder {target}: a file of that name is in the way")
    staging = Path(tempfile.mkdtemp(prefix=f".{network.name}.", suffix=".staging", dir=root))
    try:
        (staging / "1").mkdir()
        write_model(staging / "1" / "model.onnx")
        (staging / "config.pbtxt").write_text(config_text(network, max_batch, instances, dynamic), encoding="utf-8")
        os.chmod(staging, 0o755)
        _swap(staging, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)
    return target


def _repository(repo: Path) -> Path:
    if repo.exists() and not repo.is_dir():
        raise usage_error(
            f"--triton expects a model repository folder, but {repo} is a file",
            hint="name a new or existing folder, e.g. --triton models/",
        )
    try:
        repo.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise usage_error(f"cannot create the model repository {repo}: {exc.strerror}") from None
    return repo


def _swap(staging: Path, target: Path) -> None:
    """Rename `staging` to `target`; an old `target` is moved aside first, then deleted."""
    if not target.exists():
        os.rename(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rename(target, old / target.name)
    os.rename(staging, target)
    shutil.rmtree(old)
