"""Occlusion maps (Zeiler & Fergus, ZFNet): slide a grey patch over the image and
record how much the class probability drops; windows run in batches through
onnxruntime."""

from __future__ import annotations

import numpy as np

from ...errors import usage_error

BATCH = 64
PROGRESS_AFTER = 4  # batches: a progress bar from this many on (when tqdm is installed)


def check_window(shape: tuple, patch: int, stride: int) -> None:
    height, width = shape[1:]
    if patch < 1 or stride < 1:
        raise usage_error(f"--patch and --stride must be 1 or more, got {patch} and {stride}", "E0912")
    if patch > min(height, width):
        raise usage_error(
            f"the patch ({patch}x{patch}) is larger than the image ({width}x{height})",
            "E0912",
            hint=f"use --patch {max(1, min(height, width) // 4)} or less",
        )


def scores(outputs: np.ndarray) -> np.ndarray:
    """Per sample: class probabilities for an [N, K] output (softmax unless it already is one),
    else the output itself flattened."""
    values = outputs.reshape(len(outputs), -1).astype(np.float64)
    if outputs.ndim != 2:
        return values
    if values.min() >= 0 and np.allclose(values.sum(axis=1), 1, atol=1e-3):
        return values
    shifted = np.exp(values - values.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def windows(shape: tuple, patch: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners; the last row and column reach the image's edge."""
    height, width = shape[1:]
    rows = sorted(set(range(0, height - patch + 1, stride)) | {height - patch})
    cols = sorted(set(range(0, width - patch + 1, stride)) | {width - patch})
    return [(r, c) for r in rows for c in cols]


def occlude(run, image: np.ndarray, target, patch: int, stride: int, fill: float, progress: bool = True) -> dict:
    """The occlusion map of `image` [C, H, W] for class `target` (None: the predicted class).

    `run(batch) -> outputs` runs the network. Each pixel's heat is the mean drop of the
    class score over the windows that cover it (positive: hiding it hurts the class).
    Returns {"heat": [H, W], "class": k, "score": unoccluded score,
    "windows": [rows, cols] the class score with the patch at each window position}.
    """
    check_window(image.shape, patch, stride)
    base = scores(run(image[None]))[0]
    target = int(np.argmax(base)) if target is None else target
    if not 0 <= target < len(base):
        raise usage_error(f"--class {target} is out of range: the output has {len(base)} values", "E0912")
    corners = windows(image.shape, patch, stride)
    drop = np.zeros(image.shape[1:])
    count = np.zeros(image.shape[1:])
    recorded = []
    for chunk in _batches(corners, progress):
        batch = np.repeat(image[None], len(chunk), axis=0)
        for k, (r, c) in enumerate(chunk):
            batch[k, :, r : r + patch, c : c + patch] = fill
        values = scores(run(batch))[:, target]
        recorded.extend(values)
        for k, (r, c) in enumerate(chunk):
            drop[r : r + patch, c : c + patch] += base[target] - values[k]
            count[r : r + patch, c : c + patch] += 1
    grid = (len({r for r, _ in corners}), len({c for _, c in corners}))
    return {
        "heat": (drop / count).astype(np.float32),
        "class": target,
        "score": float(base[target]),
        "windows": np.asarray(recorded, np.float32).reshape(grid),
    }


def _batches(corners: list, progress: bool):
    chunks = [corners[i : i + BATCH] for i in range(0, len(corners), BATCH)]
    if progress and len(chunks) >= PROGRESS_AFTER:
        try:
            from tqdm import tqdm
        except ImportError:
            return chunks
        return tqdm(chunks, desc="occlusion", unit="batch", leave=False)
    return chunks
