"""wsolevaluation's boxes: OpenCV contours of each thresholded 8-bit map (Choe et al. 2020's own convention).

Choe et al.'s evaluation code (wsolevaluation, ``compute_bboxes_from_scoremaps``)
boxes a score map ``s`` in ``[0, 1]`` at a threshold ``tau`` like this:

1. ``q = (255 s).astype(uint8)`` (truncation), and the mask ``q > int(tau * max q)``
   (``cv2.threshold`` with ``THRESH_BINARY``);
2. its contours by ``cv2.findContours`` (``RETR_TREE``, ``CHAIN_APPROX_SIMPLE``):
   the outer contour of each 8-connected component *and* the inner contour of
   each hole;
3. MaxBoxAcc keeps the contour of largest polygon area (``cv2.contourArea``;
   the first of OpenCV's list on ties, as Python's ``max`` does); MaxBoxAccV2
   (``multi_contour_eval``) keeps them all;
4. each contour's box is ``(x, y, x + w, y + h)`` from ``cv2.boundingRect``,
   its right and bottom edge clipped to ``W - 1`` and ``H - 1``: one pixel
   further than the contour reaches;
5. no contour gives the box ``(0, 0, 0, 0)``; IoU with +1 areas (as
   ``camlib.boxes.geometry``).

This module reproduces those steps with OpenCV itself, because what they
depend on (the polygon area of a traced contour, the boxes of holes' inner
contours, OpenCV's order on ties) has no exact shortcut: a component tree
knows pixel counts, not polygon areas. It is the slow, exact path behind
``BoxAccAccumulator(convention="wsolevaluation")``; camlib's own convention
(``camlib.components.tree``) is the fast one. Per map, the levels that the
thresholds share (an 8-bit map has at most 256) are traced once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["contour_boxes", "contour_best_iou"]


def contour_boxes(q: np.ndarray, level: int) -> tuple[np.ndarray, int]:
    """wsolevaluation's boxes of one 8-bit map at one integer level: all contours' boxes, and which one is largest.

    Args:
        q: ``uint8[H, W]``, the quantized map.
        level: the mask is ``q > level``.

    Returns:
        ``(boxes, largest)``: ``int64[n, 4]`` boxes ``(x, y, min(x + w, W - 1),
        min(y + h, H - 1))`` of the ``n`` contours in OpenCV's order (outer and
        inner), and the index of the first contour of largest
        ``cv2.contourArea``; ``([[0, 0, 0, 0]], 0)`` when the mask is empty.

    Example:
        >>> q = np.zeros((6, 6), np.uint8); q[1:4, 1:3] = 200
        >>> contour_boxes(q, 100)   # a 2 x 3 block at columns 1-2, rows 1-3: the box reaches x + w = 3, y + h = 4
        (array([[1, 1, 3, 4]]), 0)
    """
    import cv2

    H, W = q.shape
    mask = (q > level).astype(np.uint8)
    contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]
    if len(contours) == 0:
        return np.zeros((1, 4), dtype=np.int64), 0
    rects = np.array([cv2.boundingRect(c) for c in contours], dtype=np.int64)  # (n, 4): x, y, w, h
    boxes = np.stack([rects[:, 0], rects[:, 1], np.minimum(rects[:, 0] + rects[:, 2], W - 1),
                      np.minimum(rects[:, 1] + rects[:, 3], H - 1)], axis=1)  # fmt: skip
    areas = [cv2.contourArea(c) for c in contours]
    return boxes, int(np.argmax(areas))  # argmax: the first maximum, as Python's max(contours, key=...)


def _area(b: np.ndarray) -> np.ndarray:
    return (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)


def _iou(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of ``boxes (n, 4)`` with ``gt (G, 4)``, inclusive +1 areas, float64 -> ``(n, G)``.

    ``camlib.boxes.geometry``'s rule in NumPy: its torch version costs more per call than the tracing itself
    (measured: the convention took 2.5 times as long), and this runs once per map and level.
    """
    w = np.minimum(boxes[:, None, 2], gt[None, :, 2]) - np.maximum(boxes[:, None, 0], gt[None, :, 0]) + 1
    h = np.minimum(boxes[:, None, 3], gt[None, :, 3]) - np.maximum(boxes[:, None, 1], gt[None, :, 1]) + 1
    inter = np.maximum(w, 0) * np.maximum(h, 0)
    return inter / (_area(boxes)[:, None] + _area(gt)[None, :] - inter).astype(np.float64)


def _one_map(q: np.ndarray, levels: np.ndarray, gt: np.ndarray, out_largest: np.ndarray, out_all: np.ndarray) -> None:
    if len(gt) == 0:
        out_largest[:] = -1.0
        out_all[:] = -1.0
        return
    seen: dict[int, tuple[float, float]] = {}
    for t, level in enumerate(levels.tolist()):
        if level not in seen:
            boxes, largest = contour_boxes(q, int(level))
            iou = _iou(boxes, gt).max(axis=1)  # (n,)
            seen[level] = (iou[largest], iou.max())
        out_largest[t], out_all[t] = seen[level]


def contour_best_iou(
    q: np.ndarray, levels: np.ndarray, gt: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per map and level: the best IoU with the ground truth of wsolevaluation's contour boxes (MaxBoxAcc, V2).

    The counterpart of ``camlib.components.tree.sweep_best_iou`` in
    wsolevaluation's convention (see the module docstring).

    Args:
        q: ``uint8[N, H, W]``, the quantized maps.
        levels: ``int64[N, T]``, each map's integer levels ``int(tau * max q)``.
        gt: ``int64[N, G, 4]``, ground-truth boxes ``(x1, y1, x2, y2)``, inclusive.
        valid: ``bool[N, G]``, which of them exist.

    Returns:
        ``(largest, any)``, each ``float64[N, T]``: the IoU of the largest
        contour's box, and the best IoU of any contour's box; -1 for a map
        with no valid ground-truth box.

    Example:
        >>> q = np.zeros((1, 6, 6), np.uint8); q[0, 1:4, 1:3] = 200
        >>> contour_best_iou(q, np.array([[0, 100]]), np.array([[[1, 1, 2, 3]]]), np.array([[True]]))
        (array([[0.5, 0.5]]), array([[0.5, 0.5]]))
    """
    q = np.ascontiguousarray(q, dtype=np.uint8)
    levels = np.asarray(levels, dtype=np.int64)
    if q.ndim != 3 or levels.ndim != 2 or levels.shape[0] != q.shape[0]:
        raise ValueError(f"`q` must be (N, H, W) and `levels` (N, T), but got {q.shape} and {levels.shape}.")
    N = q.shape[0]
    largest = np.empty(levels.shape, dtype=np.float64)
    best = np.empty(levels.shape, dtype=np.float64)
    # One map after another: threads over the maps were slower here (measured), as the Python calls per
    # contour hold the GIL for most of the time.
    for i in range(N):
        _one_map(q[i], levels[i], gt[i][valid[i]], largest[i], best[i])
    return largest, best
