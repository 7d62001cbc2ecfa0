"""onnxruntime sessions: open a model on the best provider, feed it, time it.

onnxruntime (CPU) and onnxruntime-gpu install into the same import folder; with
both installed neither works reliably, so that state is detected before the
import and reported with the fix. The provider actually used is read back from
``session.get_providers()``: onnxruntime-gpu silently falls back to the CPU when
CUDA libraries are missing.
"""

from __future__ import annotations

import importlib.metadata
import math
import re
import tempfile
import time
import weakref
from pathlib import Path

import numpy as np

from ..errors import usage_error
from ..files import read_limited

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"
GPU_BUILDS = ("onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino")
SWAP_TO_GPU = "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
NETPBM_SUFFIXES = (".pgm", ".ppm", ".pnm")
WARMUP_RUNS = 3
_GAP = rb"(?:\s|#[^\n]*\n)+"  # whitespace and comments between header fields
_NETPBM_HEADER = re.compile(rb"(P[56])" + _GAP + rb"(\d+)" + _GAP + rb"(\d+)" + _GAP + rb"(\d+)\s")


def import_onnxruntime():
    """The onnxruntime module; a clear error when it is missing or two builds collide."""
    builds = [name for name in ("onnxruntime", *GPU_BUILDS) if _installed(name)]
    if len(builds) > 1:
        raise usage_error(
            f"{' and '.join(builds)} are installed together; they share one import folder and break each other",
            "E0901",
            hint=f"keep one build. For CUDA: `{SWAP_TO_GPU}`; for CPU only: "
            f"`pip uninstall -y {' '.join(builds)} && pip install onnxruntime`",
        )
    try:
        import onnxruntime
    except ImportError as exc:
        raise usage_error(
            f"onnxruntime cannot be imported ({exc})", "E0902", hint="pip install 'cnndsl[cpu]' (or 'cnndsl[gpu]')"
        ) from None
    return onnxruntime


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def providers_for(ort, choice=None) -> tuple[list[str], str]:
    """Execution providers for `choice` (`auto`, `cpu`, `cuda` or a list), and a note for the user."""
    if choice is None:
        choice = "auto"
    if not isinstance(choice, str):
        return list(choice), ""
    available = ort.get_available_providers()
    if choice == "cpu":
        return [CPU], ""
    if choice not in ("auto", "cuda"):
        raise usage_error(f"unknown provider `{choice}`; expected auto, cpu or cuda", "E0903")
    if CUDA in available:
        return [CUDA, CPU], ""
    if choice == "cuda":
        raise usage_error(
            f"the CUDA provider is not available (onnxruntime {ort.__version__} offers {', '.join(available)})",
            "E0905",
            hint=f"CUDA needs onnxruntime-gpu and an NVIDIA GPU: `{SWAP_TO_GPU}` (or pip install 'cnndsl[gpu]' "
            "in a fresh environment); or use --provider cpu",
        )
    return [CPU], "no CUDA provider (needs onnxruntime-gpu and a GPU); running on the CPU"


def session(network, providers=None, seed: int = 0):
    """An onnxruntime InferenceSession of `network` with weights drawn from `seed`.

    `providers` is `"auto"` (default: CUDA when available), `"cpu"`, `"cuda"`,
    or a list of onnxruntime provider names.
    """
    from .onnx import for_session

    ort = import_onnxruntime()
    names, _ = providers_for(ort, providers)
    return open_model(ort, for_session(network, seed), names)


def open_model(ort, model, providers: list[str]):
    """A session of an in-memory model; over 2 GiB it goes through a temporary external-data file."""
    from .onnx import EXTERNAL_DATA_THRESHOLD, weight_bytes
    from .onnx_file import save_external

    if weight_bytes(model) < EXTERNAL_DATA_THRESHOLD:
        return _checked(ort, model.SerializeToString(), providers)
    folder = tempfile.TemporaryDirectory(prefix="cnndsl-")
    path = Path(folder.name) / "model.onnx"
    save_external(model, path)
    sess = _checked(ort, str(path), providers)
    weakref.finalize(sess, folder.cleanup)
    return sess


def _checked(ort, model, providers: list[str]):
    try:
        sess = ort.InferenceSession(model, providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        raise usage_error(f"onnxruntime cannot load the model: {exc}", "E0906") from None
    if CUDA in providers[:1] and CUDA not in sess.get_providers():
        raise usage_error(
            "onnxruntime-gpu could not start CUDA and fell back to the CPU",
            "E0905",
            hint="check the CUDA and cuDNN libraries that this onnxruntime-gpu build needs, or use --provider cpu",
        )
    return sess


# -- inputs ---------------------------------------------------------------------------------


MAX_INPUT_BYTES = 2**32
"""4 GiB: the most input data `run` makes or reads (less when less memory is free)."""
_FLOATS = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}
_INTEGERS = {f"tensor({t})": np.dtype(t) for t in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")}


def random_inputs(sess, batch: int, seed: int = 0) -> dict:
    """Random inputs of each input's type: standard normal floats, small integers (0-9),
    booleans; the symbolic batch dimension becomes `batch`."""
    rng = np.random.default_rng(seed)
    inputs = sess.get_inputs()
    check_input_bytes([(_concrete(i.shape, batch), _itemsize(i)) for i in inputs], f"--batch {batch}")
    return {i.name: _random(rng, i, _concrete(i.shape, batch)) for i in inputs}


def _itemsize(info) -> int:
    kind = _FLOATS.get(info.type) or _INTEGERS.get(info.type)
    return np.dtype(kind).itemsize if kind is not None else 1


def _random(rng, info, shape: tuple) -> np.ndarray:
    if info.type in _FLOATS:
        return rng.standard_normal(shape, dtype=np.float32).astype(_FLOATS[info.type])
    if info.type in _INTEGERS:
        return rng.integers(0, 10, shape).astype(_INTEGERS[info.type])
    if info.type == "tensor(bool)":
        return rng.integers(0, 2, shape).astype(bool)
    raise usage_error(
        f"cannot make a random value for the input `{info.name}` of type {info.type}",
        "E0904",
        hint="run takes float, integer and boolean tensor inputs",
    )


def check_input_bytes(shapes: list[tuple], what: str) -> None:
    """Refuse input data past MAX_INPUT_BYTES or half the free memory, before allocating it."""
    from .onnx import _bytes, available_memory

    total = sum(math.prod(shape) * size for shape, size in shapes)
    free = available_memory()
    limit = min(MAX_INPUT_BYTES, free // 2) if free else MAX_INPUT_BYTES
    if total > limit:
        raise usage_error(f"{what} makes {_bytes(total)} of input data; the limit is {_bytes(limit)}", "E0904")


def _concrete(shape, batch: int) -> tuple:
    return tuple(d if isinstance(d, int) else batch for d in shape)


def load_input(path: str, shape) -> np.ndarray:
    """An `.npy` array or an image file as a batch for an input of `shape` ([N, C, H, W] or [N, F])."""
    file = Path(path)
    if not file.exists():
        raise usage_error(f"no such input file: {path}", "E0904")
    if not file.is_file():
        raise usage_error(f"{path} is not a regular file (a folder, pipe or device)", "E0904")
    suffix = file.suffix.lower()
    if suffix == ".npy":
        return _fit(_read_npy(file), shape, path)
    if suffix in IMAGE_SUFFIXES + NETPBM_SUFFIXES:
        if len(shape) != 4 or shape[1] not in (1, 3):
            raise usage_error(f"an image can feed a 1- or 3-channel image input; this input is {list(shape)}", "E0904")
        return image(file, shape[1], shape[2], shape[3])[None]
    raise usage_error(f"{path}: expected a .npy array or an image ({', '.join(IMAGE_SUFFIXES + NETPBM_SUFFIXES)})")


def _read_npy(file: Path) -> np.ndarray:
    """The array of an `.npy` file; its header is checked (numeric, size) before the data is read."""
    try:
        with open(file, "rb") as f:
            version = np.lib.format.read_magic(f)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = header(f)
            if dtype.hasobject or dtype.kind not in "fiub":
                raise usage_error(f"{file} does not hold a numeric array", "E0904")
            check_input_bytes([(tuple(shape), dtype.itemsize)], str(file))
            f.seek(0)
            array = np.lib.format.read_array(f, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise usage_error(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}", "E0904") from None
    return array.astype(np.float32)


def _fit(array: np.ndarray, shape, path: str) -> np.ndarray:
    """Add the batch axis when the array is one sample; the other dimensions must match."""
    if array.ndim == len(shape) - 1:
        array = array[None]
    if array.ndim >= 1 and array.shape[0] == 0:
        raise usage_error(f"{path} holds no sample (a batch of 0)", "E0904")
    expected = list(shape[1:])
    if array.ndim != len(shape) or list(array.shape[1:]) != expected:
        raise usage_error(
            f"{path} holds an array of shape {list(array.shape)}; the input needs [N, {', '.join(map(str, expected))}]",
            "E0904",
        )
    return array


def image(file: Path, channels: int, height: int, width: int) -> np.ndarray:
    """An image file as float32 [C, H, W] in [0, 1], resized to the input (grey or RGB)."""
    if file.suffix.lower() in NETPBM_SUFFIXES:
        pixels = _netpbm(file)
    else:
        pixels = _pillow(file)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if channels == 1 and pixels.shape[2] == 3:
        pixels = pixels @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]  # ITU-R 601 luma
    elif channels == 3 and pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return _resize(pixels, height, width).transpose(2, 0, 1).copy()


def _pillow(file: Path) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError:
        raise usage_error(
            f"reading {file.suffix} images needs Pillow",
            "E0904",
            hint="pip install pillow, or pass a .npy or .ppm/.pgm",
        ) from None
    try:
        with Image.open(file) as img:
            rgb = img.convert("RGB")
    except OSError as exc:
        raise usage_error(f"cannot read the image {file}: {exc}", "E0904") from None
    return np.asarray(rgb, np.float32) / 255.0


def _netpbm(file: Path) -> np.ndarray:
    """Binary PGM (P5) or PPM (P6), 8 or 16 bits per sample."""
    try:
        data = read_limited(file, MAX_INPUT_BYTES)
    except OSError as exc:
        raise usage_error(f"cannot read {file}: {exc.strerror or exc}", "E0904") from None
    if len(data) > MAX_INPUT_BYTES:
        raise usage_error(f"{file} is larger than {MAX_INPUT_BYTES:,} bytes", "E0904")
    header = _NETPBM_HEADER.match(data)
    if header is None:
        raise usage_error(f"{file} is not a binary PGM/PPM image (P5 or P6)", "E0904")
    width, height, top = (int(v) for v in header.groups()[1:])
    if width < 1 or height < 1 or not 1 <= top <= 65535:
        raise usage_error(
            f"{file}: a {width}x{height} image with maxval {top} (expected sizes of 1 or more, maxval 1 to 65535)",
            "E0904",
        )
    depth = 3 if header[1] == b"P6" else 1
    dtype = np.dtype(">u2" if top > 255 else "u1")
    count = width * height * depth
    if len(data) < header.end() + count * dtype.itemsize:
        raise usage_error(f"{file} is truncated", "E0904")
    samples = np.frombuffer(data, dtype, count, header.end())
    return samples.reshape(height, width, depth).astype(np.float32) / top


def _resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize with pixel centres aligned (a no-op at the right size)."""
    rows = ((np.arange(height) + 0.5) * pixels.shape[0] / height).astype(int)
    cols = ((np.arange(width) + 0.5) * pixels.shape[1] / width).astype(int)
    return pixels[rows][:, cols]


def summary(name: str, value, top: int = 5) -> str:
    """One output: shape and range; for a classifier ([N, K], K >= 5) the top-5 of the first sample.
    Sequences, maps and empty or non-numeric tensors are described, not summarised."""
    if isinstance(value, (list, dict)):
        return f"  {name}: a {'sequence' if isinstance(value, list) else 'map'} of {len(value)} items"
    value = np.asarray(value)
    if value.size == 0 or value.dtype.kind not in "fiub":
        return f"  {name}: {list(value.shape)} {value.dtype}"
    text = (
        f"  {name}: {list(value.shape)} {value.dtype}  "
        f"min {value.min():.4g}  max {value.max():.4g}  mean {value.mean():.4g}"
    )
    if value.ndim == 2 and value.shape[1] >= top:
        probabilities = _probabilities(value[0].astype(np.float64))
        best = np.argsort(-probabilities, kind="stable")[:top]
        text += f"\n    top-{top}: " + "  ".join(f"{i} ({probabilities[i]:.3f})" for i in best)
    return text


def _probabilities(row: np.ndarray) -> np.ndarray:
    """The row itself when it is already a distribution, else its softmax."""
    if row.min() >= 0 and abs(row.sum() - 1) < 1e-3:
        return row
    shifted = np.exp(row - row.max())
    return shifted / shifted.sum()


def run_model(sess, feeds: dict) -> list:
    """The outputs of one run; a failure inside onnxruntime is the model's problem (exit 2), not a crash."""
    try:
        return sess.run(None, feeds)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise usage_error(f"onnxruntime failed to run the model: {message}", "E0907") from None


def batch_of(feeds: dict) -> int | None:
    """The batch size of the feeds (the first dimension of the first input), None without inputs."""
    first = next(iter(feeds.values()), None)
    return first.shape[0] if first is not None and first.ndim else None


def bench(sess, feeds: dict, runs: int) -> str:
    """Latency median and p90 over `runs` timed runs (after warm-up) and throughput."""
    if runs < 1:
        raise usage_error(f"--bench needs a number of runs of 1 or more, got {runs}")
    for _ in range(WARMUP_RUNS):
        run_model(sess, feeds)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - started)
    batch = batch_of(feeds) or 1
    median, p90 = np.percentile(times, 50), np.percentile(times, 90)
    return (
        f"bench: {runs} runs, batch {batch}: median {median * 1e3:.2f} ms, p90 {p90 * 1e3:.2f} ms, "
        f"{batch * runs / sum(times):.1f} samples/s"
    )
