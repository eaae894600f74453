"""Connected components of binary masks, batched, on any device.

Every function here works on a batch of masks ``(..., H, W)`` at once.
Components are 8-connected: two foreground pixels belong to the same
component when a chain of foreground pixels joins them, each pixel of the
chain touching the next by a side or a corner. A component is named by its
first pixel in row-major order: its label is ``1 + y * W + x`` for that pixel
``(x, y)`` (``x`` the column, ``y`` the row), and the background is 0. Label
order is therefore row-major order of first pixels, which is the tie rule of
``camlib.boxes_from_maps``.

Three backends give identical labels. ``"scipy"`` calls
``scipy.ndimage.label`` once on the whole stack (a 3-D structuring element
that joins nothing across maps) and renames its labels; it is the
reference. ``"opencv"`` calls OpenCV's ``connectedComponentsWithStats``
map by map (a well-kept C implementation that returns each component's box
and area with the labels) and renames its labels likewise; it is the fast
CPU path, about four times faster than scipy's for boxes. ``"torch"`` runs
on the masks' device with no Python loop over maps (see ``_label_torch``
for the algorithm).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from camlib._validate import check_masks, check_tensor
from camlib.components.backends import check_backend

__all__ = [
    "LABELLERS",
    "ComponentStats",
    "component_stats",
    "connected_components",
    "measure_components",
    "pointer_labels",
]

LABELLERS = ("auto", "torch", "scipy", "opencv")  # the backends (camlib.components.backends) that label


def _check_masks(masks: Tensor, backend: str) -> str:
    """Check a bool mask stack ``(..., H, W)`` and a backend; return the backend "auto" resolves to."""
    check_masks("masks", masks)
    check_backend(backend, LABELLERS, device=masks.device)
    if backend == "auto":
        return ("opencv" if _has_opencv() else "scipy") if masks.device.type == "cpu" else "torch"
    return backend


def _has_opencv() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def _opencv_raw(masks: Tensor) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Per map of the stack ``(B, H, W)``: ``(b, OpenCV's labels, its stats rows, each component's first pixel)``.

    OpenCV numbers components in its own order; a component's first pixel
    in row-major order lies in its top row (``stats`` y), at the first
    column of that row that holds its label. Maps without foreground are left out.
    """
    import cv2

    B, _, W = masks.shape
    stack = masks.cpu().numpy().view(np.uint8)
    out = []
    for b in range(B):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(
            np.ascontiguousarray(stack[b]), connectivity=8, ltype=cv2.CV_32S
        )
        if n <= 1:
            continue
        top = stats[1:, cv2.CC_STAT_TOP]
        column = (labels[top] == np.arange(1, n)[:, None]).argmax(1)  # (n - 1,) first column in the top row
        out.append((b, labels, stats[1:], top.astype(np.int64) * W + column))
    return out


def _label_opencv(masks: Tensor) -> Tensor:
    """OpenCV's labels of every map, renamed to first-pixel labels."""
    out = np.zeros(masks.shape, dtype=np.int64)
    for b, labels, _, first in _opencv_raw(masks):
        rename = np.zeros(len(first) + 1, dtype=np.int64)
        rename[1:] = first + 1
        out[b] = rename[labels]
    return torch.from_numpy(out).to(masks.device)


def connected_components(masks: Tensor, *, backend: str = "auto") -> Tensor:
    """Label the 8-connected components of each mask.

    Args:
        masks: ``BoolTensor[..., H, W]``, True on the foreground.
        backend: ``"scipy"`` (CPU, ``scipy.ndimage.label`` with a 3 x 3
            structure of ones), ``"opencv"`` (CPU, ``cv2.connectedComponentsWithStats``
            with 8-connectivity), ``"torch"`` (any device) or ``"auto"``:
            OpenCV (else scipy) for CPU masks, torch otherwise.

    Returns:
        ``LongTensor[..., H, W]`` on the device of ``masks``: 0 on the
        background; on a component, ``1 +`` the row-major index
        ``y * W + x`` of its first pixel. The backends agree exactly.

    Raises:
        TypeError: ``masks`` is not a bool tensor.
        ValueError: ``masks`` has fewer than 2 dimensions, or ``backend`` is
            unknown.

    Example:
        >>> m = torch.tensor([[1, 0, 0, 1],
        ...                   [0, 1, 0, 1],
        ...                   [0, 0, 0, 0]], dtype=torch.bool)
        >>> connected_components(m)   # the diagonal pair is one component
        tensor([[1, 0, 0, 4],
                [0, 1, 0, 4],
                [0, 0, 0, 0]])
    """
    backend = _check_masks(masks, backend)
    H, W = masks.shape[-2:]
    flat = masks.reshape(-1, H, W)  # (B, H, W)
    if flat.numel() == 0:
        return torch.zeros(masks.shape, dtype=torch.long, device=masks.device)
    label = {"scipy": _label_scipy, "opencv": _label_opencv, "torch": _label_torch}[backend]
    return label(flat).reshape(masks.shape)


def _scipy_raw(masks: Tensor) -> tuple[np.ndarray, int, np.ndarray]:
    """``scipy.ndimage.label`` on the stack ``(B, H, W)``: its labels, their count and each one's first pixel.

    scipy numbers components in the order of their first pixel in C order
    (checked below; ``np.unique`` sorts when it does not hold), so the first
    pixels come from one pass of a running maximum instead of a sort.
    """
    from scipy import ndimage

    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # 8-connected within a map, nothing across maps
    raw, n = ndimage.label(masks.cpu().numpy(), structure=structure)
    flat = raw.ravel()
    first = np.flatnonzero(np.diff(np.maximum.accumulate(flat), prepend=0) > 0)  # (n,) where a new label starts
    if len(first) != n or not np.array_equal(flat[first], np.arange(1, n + 1)):
        values, index = np.unique(flat, return_index=True)
        first = index[values > 0]
    return raw, n, first


def _label_scipy(masks: Tensor) -> Tensor:
    """The reference: ``scipy.ndimage.label`` on the stack, renamed to first-pixel labels."""
    _, H, W = masks.shape
    raw, n, first = _scipy_raw(masks)
    rename = np.zeros(n + 1, dtype=np.int64)
    rename[1:] = first % (H * W) + 1
    return torch.from_numpy(rename[raw]).to(masks.device)


def _min3x3(x: Tensor, fill: int) -> Tensor:
    """Minimum over each pixel's 3 x 3 neighbourhood (itself included); ``fill`` outside the map."""
    x = F.pad(x, (1, 1, 1, 1), value=fill)  # (B, H + 2, W + 2)
    x = torch.minimum(torch.minimum(x[:, :-2], x[:, 1:-1]), x[:, 2:])  # (B, H, W + 2)
    return torch.minimum(torch.minimum(x[..., :-2], x[..., 1:-1]), x[..., 2:])  # (B, H, W)


def pointer_labels(masks: Tensor, check_every: int = 4) -> Tensor:
    """Batched labelling by min-label propagation with hooking and pointer jumping: ``LongTensor[B * H * W]``.

    Every foreground pixel ``p`` holds a pointer ``par[p]``, the global index
    (over the whole batch) of a pixel of its own component, initially itself;
    pointers only decrease and ``par[q] <= q`` always. One iteration:

    1. ``m[p]``: the smallest pointer in the 3 x 3 neighbourhood of ``p``
       (foreground only) -- plain min-label propagation;
    2. hooking: ``par[par[p]] = min(par[par[p]], m[p])``, so a whole tree
       moves at once, and ``par[p] = min(par[p], m[p])``;
    3. pointer jumping, twice: ``par[p] = par[par[p]]``.

    Stop when ``check_every`` iterations in a row changed nothing (the host
    is asked once per ``check_every`` iterations; extra iterations change
    nothing). Then ``m >= par`` everywhere, so
    the pointer is constant on each component; since ``par[q] <= q``, it is
    the component's smallest index, its first pixel in row-major order.
    Step 1 alone is a breadth-first propagation, so after ``t`` iterations
    every pixel points at or below the smallest index within geodesic
    distance ``t``: the loop ends after at most ``D + 2`` iterations, ``D``
    the largest geodesic diameter of a component. Hooking and jumping make it
    far fewer in practice (a 64 x 64 spiral of diameter ~2,000 needs about
    a dozen); the tests measure this.
    """
    B, H, W = masks.shape
    n = B * H * W
    device = masks.device
    fg = masks.reshape(-1)
    index = torch.arange(n, device=device)
    big = n  # above every index: the background's value, and the spare slot n of the buffers below
    par = torch.where(fg, index, big)  # (n,) each foreground pixel points at a pixel of its component
    spare = torch.full((1,), big, dtype=torch.long, device=device)
    while True:
        before = par
        for _ in range(check_every):
            m = torch.where(fg, _min3x3(par.view(B, H, W), big).view(-1), big)  # smallest pointer around
            # Hooking: the root that p points at takes p's neighbourhood minimum (background aims at slot n).
            new = torch.cat([par, spare]).scatter_reduce(0, torch.where(fg, par, big), m, reduce="amin")[:n]
            new = torch.where(fg, torch.minimum(new, m), big)
            for _ in range(2):  # pointer jumping
                new = torch.where(fg, torch.cat([new, spare])[new], big)
            par = new
        if torch.equal(par, before):  # the one question to the host, every `check_every` iterations
            return par


def _label_torch(masks: Tensor) -> Tensor:
    """Labels ``(B, H, W)`` from ``pointer_labels``: each component named by its first pixel, background 0."""
    B, H, W = masks.shape
    par = pointer_labels(masks)
    return torch.where(par < par.numel(), par % (H * W) + 1, 0).view(B, H, W)


class ComponentStats(NamedTuple):
    """Per-component statistics of a batch of label maps, one row per component.

    Rows are sorted by map, then by label (row-major order of first pixels).

    Attributes:
        map_index: ``LongTensor[n]``, the component's map in the flattened
            batch ``(B, H, W)``.
        label: ``LongTensor[n]``, its label (``1 +`` first pixel index).
        area: ``LongTensor[n]``, its number of pixels.
        box: ``LongTensor[n, 4]``, its bounding box ``(x1, y1, x2, y2)`` in
            inclusive pixel indices (``x`` the column, ``y`` the row).
    """

    map_index: Tensor
    label: Tensor
    area: Tensor
    box: Tensor


def component_stats(labels: Tensor) -> ComponentStats:
    """Area and bounding box of every component, by scatter over labels (no loop over maps).

    Args:
        labels: ``LongTensor[..., H, W]`` as returned by
            ``connected_components`` (0 background).

    Returns:
        ``ComponentStats``; ``map_index`` counts maps in the flattened batch
        ``labels.reshape(-1, H, W)``.

    Example:
        >>> lab = connected_components(torch.tensor([[0, 1, 1], [0, 0, 1], [1, 0, 0]]).bool())
        >>> s = component_stats(lab)
        >>> s.label.tolist(), s.area.tolist(), s.box.tolist()
        ([2, 7], [3, 1], [[1, 0, 2, 1], [0, 2, 0, 2]])
    """
    check_tensor("labels", labels, integer=True)
    if labels.ndim < 2:
        raise ValueError(f"`labels` must have at least 2 dimensions (..., H, W), but got shape {tuple(labels.shape)}.")
    H, W = labels.shape[-2:]
    P = H * W
    flat = labels.reshape(-1, P)  # (B, P)
    device = labels.device
    fg = flat > 0
    map_of, pixel = fg.nonzero(as_tuple=True)  # (F,), (F,)
    keys, slot = torch.unique(map_of * (P + 1) + flat[fg], return_inverse=True)  # (n,), (F,)
    n = keys.shape[0]
    x, y = pixel % W, pixel // W

    def reduce(values: Tensor, how: str, init: int) -> Tensor:
        return torch.full((n,), init, dtype=torch.long, device=device).scatter_reduce(0, slot, values, how)

    area = torch.zeros(n, dtype=torch.long, device=device).scatter_add(0, slot, torch.ones_like(slot))
    box = torch.stack([reduce(x, "amin", W), reduce(y, "amin", H), reduce(x, "amax", -1), reduce(y, "amax", -1)], 1)
    return ComponentStats(keys // (P + 1), keys % (P + 1), area, box)


def measure_components(masks: Tensor, *, backend: str = "auto") -> ComponentStats:
    """``component_stats(connected_components(masks, backend=backend))``, with a fast CPU path.

    With ``"opencv"`` (the CPU default) the boxes and areas are OpenCV's
    own statistics. With ``"scipy"`` the components are
    labelled by ``scipy.ndimage.label`` and measured by
    scatters over scipy's consecutive labels (boxes and areas), one pass each,
    instead of the sort over all foreground pixels that ``component_stats``
    needs for first-pixel labels, which are not consecutive. The result
    is identical, row for row (tested against the composition on random masks).

    Args:
        masks: ``BoolTensor[..., H, W]``.
        backend: as in ``connected_components``.

    Returns:
        ``ComponentStats``, rows sorted by map then label; ``map_index`` counts
        maps in ``masks.reshape(-1, H, W)``.

    Example:
        >>> s = measure_components(torch.tensor([[0, 1, 1], [0, 0, 1], [1, 0, 0]]).bool())
        >>> s.label.tolist(), s.area.tolist(), s.box.tolist()
        ([2, 7], [3, 1], [[1, 0, 2, 1], [0, 2, 0, 2]])
    """
    backend = _check_masks(masks, backend)
    if backend == "torch":
        return component_stats(connected_components(masks, backend="torch"))
    H, W = masks.shape[-2:]
    flat = masks.reshape(-1, H, W)
    device = masks.device
    if flat.numel() == 0 or not bool(flat.any()):
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return ComponentStats(empty, empty, empty, torch.zeros(0, 4, dtype=torch.long, device=device))
    if backend == "opencv":
        return _measure_opencv(flat, device)
    from scipy import ndimage

    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # 8-connected within a map, nothing across maps
    raw, n = ndimage.label(flat.cpu().numpy(), structure=structure)
    # scipy's labels are 1..n: scatter straight into n slots, no sort over the pixels. The first pixel
    # (smallest index) gives the map, the label and the top row; the last pixel the bottom row.
    P = H * W
    labels = torch.from_numpy(raw.reshape(-1)).long()
    where = labels.nonzero()[:, 0]  # (F,) foreground pixels of the stack, in C order
    slot = labels[where] - 1
    x = where % W

    def reduce(values: Tensor, how: str, init: int) -> Tensor:
        return torch.full((n,), init, dtype=torch.long).scatter_reduce(0, slot, values, how)

    first, last = reduce(where, "amin", flat.numel()), reduce(where, "amax", -1)
    area = torch.bincount(slot, minlength=n)
    box = torch.stack([reduce(x, "amin", W), first % P // W, reduce(x, "amax", -1), last % P // W], 1)
    order = torch.argsort(first, stable=True)  # rows by map, then first pixel (a no-op in scipy's usual numbering)
    first = first[order]
    return ComponentStats(
        (first // P).to(device), (first % P + 1).to(device), area[order].to(device), box[order].to(device)
    )


def _measure_opencv(flat: Tensor, device: torch.device) -> ComponentStats:
    """``measure_components`` from OpenCV's own boxes and areas, rows sorted by map then first pixel."""
    import cv2

    rows = [(np.full(len(first), b), first, stats) for b, _, stats, first in _opencv_raw(flat)]
    maps = np.concatenate([r[0] for r in rows]).astype(np.int64)
    first = np.concatenate([r[1] for r in rows])
    stats = np.concatenate([r[2] for r in rows]).astype(np.int64)
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    box = np.stack([x, y, x + stats[:, cv2.CC_STAT_WIDTH] - 1, y + stats[:, cv2.CC_STAT_HEIGHT] - 1], 1)
    order = np.lexsort((first, maps))  # by map, then first pixel
    map_index, label, area = (
        torch.from_numpy(np.ascontiguousarray(v[order])).to(device)
        for v in (maps, first + 1, stats[:, cv2.CC_STAT_AREA])
    )
    return ComponentStats(map_index, label, area, torch.from_numpy(np.ascontiguousarray(box[order])).to(device))
