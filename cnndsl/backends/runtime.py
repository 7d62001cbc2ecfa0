"""onnxruntime sessions: open a model on the best provider, feed it, time it.

onnxruntime (CPU) and onnxruntime-gpu install into the same import folder; with
both installed neither works reliably, so that state is detected before the
import and reported with the fix. The provider actually used is read back from
``session.get_providers()``: onnxruntime-gpu silently falls back to the CPU when
CUDA libraries are missing.
"""

from __future__ import annotations

import importlib.metadata
import re
import tempfile
import time
import weakref
from pathlib import Path

import numpy as np

from ..errors import usage_error

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
    ort = import_onnxruntime()
    names, _ = providers_for(ort, providers)
    return open_model(ort, network.to_onnx(seed=seed), names)


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


def random_inputs(sess, batch: int, seed: int = 0) -> dict:
    """Standard-normal float32 inputs; the symbolic batch dimension becomes `batch`."""
    rng = np.random.default_rng(seed)
    return {i.name: rng.standard_normal(_concrete(i.shape, batch), dtype=np.float32) for i in sess.get_inputs()}


def _concrete(shape, batch: int) -> tuple:
    return tuple(d if isinstance(d, int) else batch for d in shape)


def load_input(path: str, shape) -> np.ndarray:
    """An `.npy` array or an image file as a batch for an input of `shape` ([N, C, H, W] or [N, F])."""
    file = Path(path)
    if not file.is_file():
        raise usage_error(f"no such input file: {path}", "E0904")
    suffix = file.suffix.lower()
    if suffix == ".npy":
        return _fit(_read_npy(file), shape, path)
    if suffix in IMAGE_SUFFIXES + NETPBM_SUFFIXES:
        if len(shape) != 4 or shape[1] not in (1, 3):
            raise usage_error(f"an image can feed a 1- or 3-channel image input; this input is {list(shape)}", "E0904")
        return image(file, shape[1], shape[2], shape[3])[None]
    raise usage_error(f"{path}: expected a .npy array or an image ({', '.join(IMAGE_SUFFIXES + NETPBM_SUFFIXES)})")


def _read_npy(file: Path) -> np.ndarray:
    try:
        array = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise usage_error(f"cannot read {file}: {exc}", "E0904") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiub":
        raise usage_error(f"{file} does not hold a numeric array", "E0904")
    return array.astype(np.float32)


def _fit(array: np.ndarray, shape, path: str) -> np.ndarray:
    """Add the batch axis when the array is one sample; the other dimensions must match."""
    if array.ndim == len(shape) - 1:
        array = array[None]
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
    data = file.read_bytes()
    header = _NETPBM_HEADER.match(data)
    if header is None:
        raise usage_error(f"{file} is not a binary PGM/PPM image (P5 or P6)", "E0904")
    width, height, top = (int(v) for v in header.groups()[1:])
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


def summary(name: str, value: np.ndarray, top: int = 5) -> str:
    """One output: shape and range; for a classifier ([N, K], K >= 5) the top-5 of the first sample."""
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


def bench(sess, feeds: dict, runs: int) -> str:
    """Latency median and p90 over `runs` timed runs (after warm-up) and throughput."""
    if runs < 1:
        raise usage_error(f"--bench needs a number of runs of 1 or more, got {runs}")
    for _ in range(WARMUP_RUNS):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - started)
    batch = next(iter(feeds.values())).shape[0]
    median, p90 = np.percentile(times, 50), np.percentile(times, 90)
    return (
        f"bench: {runs} runs, batch {batch}: median {median * 1e3:.2f} ms, p90 {p90 * 1e3:.2f} ms, "
        f"{batch * runs / sum(times):.1f} samples/s"
    )
