"""Every threshold's connected components in one pass: the component tree of a map's upper level sets.

MaxBoxAcc and MaxBoxAccV2 (Choe et al. 2020) box the 8-connected components
of ``{v > level_t}`` at each of ``T`` levels. Labelling ``T`` masks per map
repeats the same work ``T`` times. The components at all levels instead
form one tree (the max-tree, or component tree): sweep the pixels from the
highest level down, add each to a union-find forest and merge it with its
already-added 8-neighbours; after the pixels above ``level_t`` are in, the
forest's roots are exactly the components of ``{v > level_t}``, and each
root carries its area, first pixel and bounding box, merged on union. One
pass over the pixels gives every level, instead of one labelling per level.

Pixels are bucketed by the highest level they exceed (a binary search in
the level grid), so no sort over the pixels is needed and the result does
not depend on the order within a bucket: only the set of pixels added
before a snapshot matters.

The loop over pixels is compiled with Numba: a union-find has no
vectorized form in NumPy or torch, scikit-image's ``max_tree`` gives the
tree but not the per-level box statistics (accumulating them is again a
sequential loop), and OpenCV labels one mask at a time. The reference it is
tested against is ``camlib.components.labels.measure_components`` on the stack of
``T`` masks (scipy and OpenCV labelling).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch

__all__ = ["sweep_best_iou"]


@numba.njit(cache=True, inline="always")
def _find(parent: np.ndarray, p: int) -> int:
    while parent[p] != p:
        parent[p] = parent[parent[p]]  # path halving
        p = parent[p]
    return p


@numba.njit(cache=True, inline="always")
def _iou_with_gt(x1: int, y1: int, x2: int, y2: int, gt: np.ndarray, valid: np.ndarray) -> float:
    """The largest IoU of one inclusive box with the valid ground-truth boxes; -1 if none is valid."""
    best = -1.0
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    for g in range(gt.shape[0]):
        if not valid[g]:
            continue
        w = min(x2, gt[g, 2]) - max(x1, gt[g, 0]) + 1
        h = min(y2, gt[g, 3]) - max(y1, gt[g, 1]) + 1
        inter = max(w, 0) * max(h, 0)
        union = area + (gt[g, 2] - gt[g, 0] + 1) * (gt[g, 3] - gt[g, 1] + 1) - inter
        iou = np.float64(inter) / np.float64(union)
        best = max(best, iou)
    return best


@numba.njit(cache=True, nogil=True)
def _bands(v, levels, integral):
    """Counting sort of the pixels by band b = #levels below v: pixel order, and where each band starts."""
    P, T = v.shape[0], levels.shape[0]
    if integral:  # 8-bit maps: one binary search per value instead of per pixel
        table = np.searchsorted(levels, np.arange(256.0), side="left")
        band = np.empty(P, np.int32)
        for p in range(P):
            band[p] = table[int(v[p])]
    else:
        band = np.searchsorted(levels, v, side="left").astype(np.int32)
    start = np.zeros(T + 2, np.int32)
    for p in range(P):
        start[band[p] + 1] += 1
    for b in range(T + 1):
        start[b + 1] += start[b]
    order = np.empty(P, np.int32)
    fill = start.copy()
    for p in range(P):
        order[fill[band[p]]] = p
        fill[band[p]] += 1
    return order, start


@numba.njit(cache=True, nogil=True)
def _sweep_one(v, levels, W, gt, valid, integral, out_largest, out_all):
    P, T = v.shape[0], levels.shape[0]
    H = P // W
    # A pixel enters when the downward sweep reaches level b - 1 (it is foreground at levels 0..b-1).
    order, start = _bands(v, levels, integral)
    # Union-find on a frame padded by one pixel, so that the 8 neighbours need no bounds checks. Every
    # index below is a padded one, (y + 1) * (W + 2) + x + 1, which keeps row-major order: the smallest
    # padded index of a component is its first pixel.
    Wp = W + 2
    Pp = (H + 2) * Wp
    parent = np.full(Pp, -1, np.int32)  # -1: not added yet
    offsets = np.array([-Wp - 1, -Wp, -Wp + 1, -1, 1, Wp - 1, Wp, Wp + 1], np.int32)
    area = np.zeros(Pp, np.int32)  # per root
    first = np.zeros(Pp, np.int32)
    bx1 = np.zeros(Pp, np.int32)
    by1 = np.zeros(Pp, np.int32)
    bx2 = np.zeros(Pp, np.int32)
    by2 = np.zeros(Pp, np.int32)
    roots = np.empty(P, np.int32)  # the current components, and each root's place in this list
    slot = np.empty(Pp, np.int32)
    n_roots = 0
    largest = -1  # the root with the most pixels (ties: smallest first pixel)
    for t in range(T - 1, -1, -1):
        for j in range(start[t + 1], start[t + 2]):  # the pixels above level t but not level t + 1
            p = order[j]
            y = p // W
            x = p - y * W
            pp = p + 2 * y + Wp + 1
            r = -1  # p's root so far
            for k in range(8):
                q = parent[pp + offsets[k]]
                if q < 0:
                    continue
                while parent[q] != q:  # find, with path halving
                    parent[q] = parent[parent[q]]
                    q = parent[q]
                if r < 0:  # the first neighbour: p joins its component
                    r = q
                    parent[pp] = r
                    area[r] += 1
                    first[r] = min(first[r], pp)
                    bx1[r] = min(bx1[r], x)
                    by1[r] = min(by1[r], y)
                    bx2[r] = max(bx2[r], x)
                    by2[r] = max(by2[r], y)
                    continue
                if q == r:
                    continue
                if area[q] > area[r]:  # union by size: the smaller root joins the larger
                    r, q = q, r
                parent[q] = r
                area[r] += area[q]
                first[r] = min(first[r], first[q])
                bx1[r] = min(bx1[r], bx1[q])
                by1[r] = min(by1[r], by1[q])
                bx2[r] = max(bx2[r], bx2[q])
                by2[r] = max(by2[r], by2[q])
                last = roots[n_roots - 1]  # drop q from the roots: the last one takes its place
                roots[slot[q]] = last
                slot[last] = slot[q]
                n_roots -= 1
            if r < 0:  # no neighbour yet: a new component
                r = pp
                parent[r] = r
                area[r] = 1
                first[r] = r
                bx1[r] = x
                bx2[r] = x
                by1[r] = y
                by2[r] = y
                roots[n_roots] = r
                slot[r] = n_roots
                n_roots += 1
            # Areas only grow, so the largest is the component just grown or the previous one, untouched
            # (when the previous one was merged into r, r has more pixels than it had).
            if largest < 0 or area[r] > area[largest] or (area[r] == area[largest] and first[r] < first[largest]):
                largest = r
        if n_roots == 0:  # no foreground: wsolevaluation's box (0, 0, 0, 0)
            out_largest[t] = out_all[t] = _iou_with_gt(0, 0, 0, 0, gt, valid)
            continue
        r = largest
        out_largest[t] = _iou_with_gt(bx1[r], by1[r], bx2[r], by2[r], gt, valid)
        best = -1.0
        for k in range(n_roots):
            r = roots[k]
            best = max(best, _iou_with_gt(bx1[r], by1[r], bx2[r], by2[r], gt, valid))
        out_all[t] = best


@numba.njit(cache=True, nogil=True)
def _sweep_range(values, levels, W, gt, valid, integral, out_largest, out_all, lo, hi):
    for i in range(lo, hi):
        _sweep_one(values[i], levels[i], W, gt[i], valid[i], integral, out_largest[i], out_all[i])


def sweep_best_iou(
    values: np.ndarray, levels: np.ndarray, width: int, gt: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per map and level: the best IoU with the ground truth of the boxes of ``{v > level}``'s components.

    Equal, level for level, to labelling the masks ``values[i] > levels[i, t]``
    with 8-connectivity (``camlib.components.labels.measure_components``) and
    taking (MaxBoxAcc) the box of the largest component (most pixels, ties:
    the smallest first pixel in row-major order) or (MaxBoxAccV2) the best
    box of all components; a mask with no foreground gives the box
    ``(0, 0, 0, 0)``, as in wsolevaluation. IoU as in ``camlib.boxes.geometry``:
    inclusive boxes, exact integer areas, float64.

    Args:
        values: ``float32`` or ``float64[N, H * W]``, the maps, flattened row-major.
        levels: ``float64[N, T]``, non-decreasing in ``t`` for each map.
        width: ``W``.
        gt: ``int64[N, G, 4]``, ground-truth boxes ``(x1, y1, x2, y2)``.
        valid: ``bool[N, G]``, which of them exist.

    Returns:
        ``(largest, any)``, each ``float64[N, T]``: the largest component's
        IoU, and the best IoU of any component; -1 for a map with no valid
        ground-truth box.

    Example:
        >>> v = np.array([[0, 2, 0, 0, 1, 1, 0, 0, 0]], dtype=float)   # 3 x 3: 2 at (1, 0), 1s at (1, 1), (2, 1)
        >>> largest, _ = sweep_best_iou(v, np.array([[0.0, 1.0]]), 3, np.array([[[1, 0, 1, 0]]]), np.array([[True]]))
        >>> largest   # level 0: one component, box (1, 0)-(2, 1), IoU 1/4; level 1: the 2 alone
        array([[0.25, 1.  ]])
    """
    # float32 maps stay float32 (one copy less); each comparison with a float64 level is exact either way.
    values = np.ascontiguousarray(
        values, dtype=values.dtype if values.dtype in (np.float32, np.float64) else np.float64
    )
    levels = np.ascontiguousarray(levels, dtype=np.float64)
    N, P = values.shape
    if P % width:
        raise ValueError(f"`values` must hold maps of H * {width} pixels, but got {P} pixels per map.")
    if (P // width + 2) * (width + 2) >= 2**31:  # the union-find's int32 indices, frame included
        raise ValueError(f"`values` must hold maps of under 2**31 pixels, but got {P} pixels per map.")
    if levels.ndim != 2 or levels.shape[0] != N or (np.diff(levels, axis=1) < 0).any():
        raise ValueError(f"`levels` must be non-decreasing rows, one per map ({N}), but got shape {levels.shape}.")
    largest = np.empty(levels.shape, dtype=np.float64)
    best = np.empty(levels.shape, dtype=np.float64)
    if N:
        # 8-bit maps (wsolevaluation's quantization) look their band up in a 256-entry table.
        integral = bool(values.min() >= 0 and values.max() <= 255 and (values == np.floor(values)).all())
        args = (
            values,
            levels,
            int(width),
            np.ascontiguousarray(gt, dtype=np.int64),
            np.ascontiguousarray(valid, dtype=np.bool_),
            integral,
            largest,
            best,
        )
        # The compiled loop releases the GIL: torch's CPU threads share the maps. (Numba's own parallel
        # loops would start an OpenMP pool that resets torch's thread count.)
        workers = max(1, min(torch.get_num_threads(), N))
        bounds = np.linspace(0, N, workers + 1).astype(int)
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda k: _sweep_range(*args, bounds[k], bounds[k + 1]), range(workers)))
    return largest, best
