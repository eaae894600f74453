"""What the performance appendix (A2) and ``benchmarks/bench_boxes.py`` measure, and the peer they measure against.

- ``median_seconds``: a callable's median wall time over repeats after a warm-up.
- ``smooth_maps``: blurred noise shaped like upsampled CAMs, the benchmarks' inputs.
- ``contours_max_box_acc_v2``: MaxBoxAccV2 the way wsolevaluation computes it
  (Choe et al. 2020), written here from its published definition, as a user
  would run it: a Python loop over maps and thresholds, OpenCV's
  ``threshold`` and ``findContours`` (all contours, the holes' inner ones
  too), ``boundingRect`` boxes ``(x, y, x + w, y + h)`` and IoU with +1
  areas. It is the peer of ``camlib.metrics`` (whose conventions differ:
  tight inclusive boxes, components rather than contours; see
  ``BoxAccAccumulator``), so its value is printed beside camlib's, not
  asserted equal.
- ``chapter_times``: each executed chapter's wall time, from papermill's
  metadata, for the book's cost table.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

__all__ = ["chapter_times", "contours_max_box_acc_v2", "median_seconds", "smooth_maps"]


def median_seconds(fn: Callable[[], object], *, repeats: int = 3, warmup: int = 1) -> float:
    """The median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` untimed ones."""
    if repeats < 1:
        raise ValueError(f"`repeats` must be at least 1, but got {repeats!r}.")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def smooth_maps(n: int, size: int, seed: int = 0) -> Tensor:
    """``Tensor[n, size, size]`` of blurred noise (sigma 1/16 of the side), float32: maps like upsampled CAMs."""
    noise = np.random.default_rng(seed).standard_normal((n, size, size))
    return torch.from_numpy(ndimage.gaussian_filter(noise, sigma=(0, size / 16, size / 16))).float()


def _area(b: np.ndarray) -> np.ndarray:
    return (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)


def contours_max_box_acc_v2(
    maps: Tensor, gt_boxes: Sequence[Tensor], thresholds: Sequence[float], iou_thresholds=(0.3, 0.5, 0.7)
) -> float:
    """wsolevaluation's MaxBoxAccV2 by a per-map, per-threshold OpenCV loop (the peer; see the module docstring).

    Each map is min-max normalized, scaled to 0-255 (``uint8``), thresholded at
    ``tau * max`` and its contours boxed; an image counts at ``(delta, tau)``
    when a box has IoU ``>= delta`` with a ground-truth box. The value is the
    mean over ``delta`` of the best accuracy over ``tau``.

    Example:
        >>> m = torch.zeros(1, 8, 8); m[0, 2:5, 2:5] = 1.0
        >>> contours_max_box_acc_v2(m, [torch.tensor([[2, 2, 5, 5]])], [0.5])   # its box reaches x + w = 5
        1.0
    """
    import cv2

    hits = np.zeros((len(iou_thresholds), len(thresholds)))
    for m, boxes in zip(maps.double().cpu().numpy(), gt_boxes):
        s = (m - m.min()) / max(m.max() - m.min(), 1e-300)
        s8 = (s * 255).astype(np.uint8)
        g = boxes.cpu().numpy()
        for t, tau in enumerate(thresholds):
            _, mask = cv2.threshold(s8, int(tau * s8.max()), 255, cv2.THRESH_BINARY)
            contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
            H, W = mask.shape
            est = np.array([[x, y, min(x + w, W - 1), min(y + h, H - 1)]
                            for x, y, w, h in (cv2.boundingRect(c) for c in contours)] or [[0, 0, 0, 0]])
            x1, y1 = np.maximum(est[:, None, 0], g[None, :, 0]), np.maximum(est[:, None, 1], g[None, :, 1])
            x2, y2 = np.minimum(est[:, None, 2], g[None, :, 2]), np.minimum(est[:, None, 3], g[None, :, 3])
            inter = np.clip(x2 - x1 + 1, 0, None) * np.clip(y2 - y1 + 1, 0, None)
            best = (inter / (_area(est)[:, None] + _area(g)[None] - inter)).max()
            hits[:, t] += [best >= d for d in iou_thresholds]
    return float((hits.max(axis=1) / max(len(maps), 1)).mean())


def chapter_times(paths: Sequence[str | Path]) -> list[dict]:
    """Each executed notebook's name, profile and wall time (papermill's ``duration``), in the given order.

    A notebook that papermill did not execute (no ``duration``) is left out.
    """
    rows = []
    for path in map(Path, paths):
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("papermill", {})
        if meta.get("duration") is None:
            continue
        rows.append({"notebook": path.stem, "profile": meta.get("parameters", {}).get("profile", ""),
                     "seconds": float(meta["duration"])})
    return rows
