"""From a map to boxes: the paper's protocol, its variants and the authors' released generator.

Conventions, used by every function here and in ``camlib.metrics.accuracy``:

- A box is ``(x1, y1, x2, y2)`` in inclusive pixel indices, ``x`` the column
  and ``y`` the row: it covers columns ``x1..x2`` and rows ``y1..y2``, and
  its area is ``(x2 - x1 + 1) * (y2 - y1 + 1)`` (the ILSVRC devkit's; the
  convention of ``camlib.boxes.geometry``, which owns box geometry).
- Threshold rule: a pixel is foreground when its value is *strictly greater*
  than ``threshold * max`` of its own map (Zhou et al. 2016, Sec. 3: "above
  20% of the max value"), computed in the map's dtype. A map whose maximum is
  ``<= 0`` has no foreground at any threshold in ``[0, 1]``.
- Components are 8-connected (``camlib.components.labels``).
- A map with no foreground pixel gives the box ``(0, 0, 0, 0)``.
- Maps holding NaN (or inf) are refused with a ``ValueError`` naming the map.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from camlib._validate import check_choice, check_fraction, check_maps, check_masks, check_tensor
from camlib.boxes.geometry import box_area
from camlib.components.backends import check_backend
from camlib.components.labels import measure_components, pointer_labels
from camlib.components.runs import largest_component_boxes

__all__ = [
    "foreground",
    "boxes_from_maps",
    "boxes_from_masks",
    "component_boxes",
    "authors_boxes",
    "top5_heuristic",
    "MODES",
    "AUTHORS_THRESHOLDS",
    "TIGHT",
    "LOOSE",
]

MODES = ("largest", "union", "authors")
AUTHORS_THRESHOLDS = (20, 100, 110)  # on the map scaled to 0-255 by its maximum
LOOSE = 20 / 255  # the released generator's lowest threshold, ~7.8% of the max
TIGHT = 100 / 255  # its middle threshold, ~39.2% of the max


def foreground(maps: Tensor, threshold: float = 0.2) -> Tensor:
    """The pixels strictly above ``threshold`` times their own map's maximum.

    Args:
        maps: ``Tensor[..., H, W]``, floating point.
        threshold: a fraction in ``[0, 1]``.

    Returns:
        ``BoolTensor[..., H, W]``.

    Example:
        >>> foreground(torch.tensor([[0.1, 0.2, 0.3], [1.0, -2.0, 0.21]]))  # max 1.0: above 0.2
        tensor([[False, False,  True],
                [ True, False,  True]])
    """
    check_maps("maps", maps)
    threshold = check_fraction("threshold", threshold)
    return maps > threshold * maps.amax(dim=(-2, -1), keepdim=True)


def boxes_from_maps(maps: Tensor, threshold: float = 0.2, *, mode: str = "largest", backend: str = "auto") -> Tensor:
    """One box per map: the paper's box protocol and two variants.

    Modes:

    - ``"largest"`` (the paper): the bounding box of the 8-connected
      component of the foreground (``foreground(maps, threshold)``) with the
      most pixels; ties go to the component whose first pixel in row-major
      order comes first.
    - ``"union"``: the bounding box of all foreground pixels.
    - ``"authors"``: the first box of ``authors_boxes`` (the released
      generator's largest box after its merging step), the box that the
      authors' ``ILSVRC_evaluate_bbox.m`` scores as each class's single
      guess. It uses the generator's own thresholds; ``threshold`` must be
      left at its default.

    Args:
        maps: ``Tensor[..., H, W]``, floating point, any device.
        threshold: fraction of each map's maximum, in ``[0, 1]``.
        mode: ``"largest"``, ``"union"`` or ``"authors"``.
        backend: the connected-components backend (``camlib.components.connected_components``),
            or ``"runs"`` (see ``boxes_from_masks``; the CPU default for ``"largest"``).

    Returns:
        ``LongTensor[..., 4]`` of boxes ``(x1, y1, x2, y2)``, inclusive pixel
        indices, on the device of ``maps``; ``(0, 0, 0, 0)`` for a map with
        no foreground (for instance a map whose maximum is ``<= 0``).

    Raises:
        TypeError: ``maps`` is not a floating tensor, ``threshold`` not a number.
        ValueError: ``maps`` has rank < 2 or holds NaN (the message names the
            map), ``threshold`` is outside ``[0, 1]``, ``mode`` is unknown.

    Example:
        >>> m = torch.tensor([[0.9, 0.0, 0.0, 0.0],
        ...                   [0.0, 0.0, 1.0, 0.5],
        ...                   [0.0, 0.0, 0.6, 0.0]])
        >>> boxes_from_maps(m)                  # one pixel vs three: the three
        tensor([2, 1, 3, 2])
        >>> boxes_from_maps(m, mode="union")
        tensor([0, 0, 3, 2])
        >>> boxes_from_maps(torch.zeros(2, 5, 5))   # no foreground
        tensor([[0, 0, 0, 0],
                [0, 0, 0, 0]])
    """
    check_choice("mode", mode, MODES)
    if mode == "authors":
        if threshold != 0.2:
            raise ValueError(
                f"`threshold` is not used by mode 'authors' (its thresholds are {AUTHORS_THRESHOLDS} of 255; "
                f"see `authors_boxes`), but got {threshold!r}."
            )
        first, _ = _first_two(authors_boxes(maps, backend=backend), maps.device)
        return first.reshape(*maps.shape[:-2], 4)
    return boxes_from_masks(foreground(maps, threshold), mode=mode, backend=backend)


def boxes_from_masks(masks: Tensor, *, mode: str = "largest", backend: str = "auto") -> Tensor:
    """``boxes_from_maps`` on given foreground masks (``BoolTensor[..., H, W]``).

    ``mode`` is ``"largest"`` or ``"union"``; see ``boxes_from_maps``. For
    ``"largest"`` on CPU masks, ``backend="auto"`` (or ``"runs"``) takes
    ``camlib.components.runs``'s union-find over runs, which needs no label
    image; off the CPU (or ``"torch"``), the dense torch labelling of all
    masks at once (``_dense_largest_boxes``); ``"scipy"`` and ``"opencv"``
    label on the CPU. Every backend gives the same boxes (tested).

    Example:
        >>> boxes_from_masks(torch.tensor([[1, 0, 1], [0, 0, 1]]).bool())  # one pixel vs two: the two
        tensor([2, 0, 2, 1])
    """
    check_masks("masks", masks)
    check_choice("mode", mode, ("largest", "union"))
    check_backend(backend, ("auto", "torch", "scipy", "opencv", "runs"), device=masks.device)
    H, W = masks.shape[-2:]
    flat = masks.reshape(-1, H, W)  # (B, H, W)
    if mode == "union":
        boxes = _union_boxes(flat)
    elif backend == "runs" or (backend == "auto" and masks.device.type == "cpu"):
        boxes = torch.from_numpy(largest_component_boxes(flat.numpy()))
    elif backend in ("torch", "auto"):  # any device: the dense labelling, no boolean indexing
        boxes = _dense_largest_boxes(flat) if len(flat) else torch.zeros(0, 4, dtype=torch.long, device=masks.device)
    else:
        stats = measure_components(flat, backend=backend)
        boxes = _largest_boxes(stats, flat.shape[0], H * W)
    return boxes.reshape(*masks.shape[:-2], 4)


def _dense_largest_boxes(masks: Tensor, check_every: int = 4) -> Tensor:
    """Largest 8-connected component's box of each mask ``(B, H, W)`` -> ``(B, 4)``, dense tensors only.

    The masks are labelled by ``pointer_labels`` (the host asked once every
    ``check_every`` iterations whether the labels still change); areas and
    boxes are scattered into one slot per pixel, so the largest component of
    every mask is an ``argmax`` (ties: the first pixel in row-major order).
    """
    B, H, W = masks.shape
    P = H * W
    n = B * P
    device = masks.device
    index = torch.arange(n, device=device)
    slot = pointer_labels(masks, check_every)  # (n,) each pixel's component, named by its first pixel; background: n
    area = torch.zeros(n + 1, dtype=torch.long, device=device).scatter_add(0, slot, torch.ones_like(slot))[:n]
    x, y = index % W, index // W % H

    def reduce(values: Tensor, how: str, init: int) -> Tensor:
        return torch.full((n + 1,), init, dtype=torch.long, device=device).scatter_reduce(0, slot, values, how)[:n]

    box = torch.stack([reduce(x, "amin", W), reduce(y, "amin", H), reduce(x, "amax", -1), reduce(y, "amax", -1)], 1)
    best, first = area.view(B, P).max(dim=1)  # the first maximum: ties go to the smaller first pixel
    chosen = box[torch.arange(B, device=device) * P + first]  # (B, 4)
    return torch.where(best[:, None] > 0, chosen, torch.zeros_like(chosen))


def _union_boxes(masks: Tensor) -> Tensor:
    """Bounding box of all foreground pixels of each mask ``(B, H, W)`` -> ``(B, 4)``."""
    B, H, W = masks.shape
    rows, cols = masks.any(dim=2), masks.any(dim=1)  # (B, H), (B, W)
    # argmax gives the first True; on the flipped axis, the last one.
    y1, x1 = rows.byte().argmax(1), cols.byte().argmax(1)
    y2, x2 = H - 1 - rows.flip(1).byte().argmax(1), W - 1 - cols.flip(1).byte().argmax(1)
    boxes = torch.stack([x1, y1, x2, y2], dim=1)
    return torch.where(rows.any(1, keepdim=True), boxes, torch.zeros_like(boxes))


def _largest_boxes(stats, num_maps: int, num_pixels: int) -> Tensor:
    """Box of the component with the most pixels per map (ties: smallest label), zeros where none."""
    # One score orders components by area, then by smaller label; scores are distinct within a map.
    score = stats.area * (num_pixels + 1) + (num_pixels + 1 - stats.label)
    best = torch.full((num_maps,), -1, dtype=torch.long, device=score.device)
    best = best.scatter_reduce(0, stats.map_index, score, reduce="amax")
    chosen = score == best[stats.map_index]
    boxes = torch.zeros(num_maps, 4, dtype=torch.long, device=score.device)
    boxes[stats.map_index[chosen]] = stats.box[chosen]
    return boxes


def component_boxes(maps: Tensor, threshold: float = 0.2, *, backend: str = "auto") -> list[Tensor]:
    """The boxes of all 8-connected components of each map's foreground.

    Args:
        maps: ``Tensor[..., H, W]``, floating point.
        threshold: as in ``boxes_from_maps``.
        backend: as in ``camlib.components.connected_components``.

    Returns:
        One ``LongTensor[n_i, 4]`` per map of ``maps.reshape(-1, H, W)``,
        in row-major order of the components' first pixels; ``n_i = 0`` for a
        map without foreground.

    Example:
        >>> m = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
        >>> component_boxes(m)
        [tensor([[0, 0, 0, 0],
                [2, 0, 2, 1]])]
    """
    masks = foreground(maps, threshold)
    H, W = masks.shape[-2:]
    flat = masks.reshape(-1, H, W)
    stats = measure_components(flat, backend=backend)
    counts = torch.bincount(stats.map_index, minlength=flat.shape[0])
    return list(stats.box.split(counts.tolist()))


def authors_boxes(
    maps: Tensor, thresholds: Sequence[int] = AUTHORS_THRESHOLDS, *, backend: str = "auto"
) -> list[Tensor]:
    """All boxes of the authors' released generator (``bboxgenerator/dt_box.cpp``), re-implemented.

    What the released code does, step by step, and what this function does:

    1. The heat map is divided by its maximum and written as an 8-bit image:
       ``q = round(255 * clip(M / max M, 0, 1))``, rounding halves up. Here
       too; a map with ``max M <= 0`` gives no box. (The released pipeline
       stores ``q`` as a JPEG, whose compression is not reproduced.)
    2. For each threshold ``t`` in ``(20, 100, 110)``: the binary image
       ``q > t``.
    3. A distance-transform step: ``d`` = Euclidean distance of each pixel to
       the nearest background pixel of the image, scaled to
       ``round(255 * d / max d)``; the pixels where that exceeds 10 are kept
       (an erosion by about 4% of the largest depth, which also removes
       components much thinner than the thickest one). A binary image
       without background is kept whole. Here too, exactly.
    4. The bounding boxes of all contours at all thresholds (OpenCV
       ``findContours``, ``RETR_CCOMP``). **Departure:** here, the boxes of
       the 8-connected components; the released code also boxes the inner
       contours of holes. It also shrinks each box to stay 5 pixels off the
       right and bottom edges; not done here.
    5. The boxes sorted by decreasing area, then merged: walking down the
       list, a box is dropped when its intersection with an earlier (so
       larger or equal) box exceeds half of that box's area. As in the
       released loop, after a drop the box that moves into its place is not
       compared with that same larger box. Ties in area keep threshold
       order, then component order (the released ``std::sort`` leaves them
       unspecified).

    The paper's text describes none of this: it speaks of "tight" and
    "loose" boxes (see ``top5_heuristic``) and of thresholding at 20% of the
    maximum (``boxes_from_maps``).

    Args:
        maps: ``Tensor[..., H, W]``, floating point.
        thresholds: the thresholds on the 0-255 scale (the released ones by default).
        backend: as in ``camlib.components.connected_components``.

    Returns:
        One ``LongTensor[n_i, 4]`` per map of ``maps.reshape(-1, H, W)``,
        inclusive boxes sorted by decreasing area; ``n_i = 0`` when the map
        has no foreground.

    Example:
        >>> m = torch.zeros(40, 40)
        >>> m[5:35, 5:35] = 0.3; m[15:25, 15:25] = 1.0   # a plateau (q = 77) with a peak (q = 255)
        >>> authors_boxes(m)   # peak boxes at 100 and 110 merge; the peak covers 100/900 of the plateau
        [tensor([[ 5,  5, 34, 34],
                [15, 15, 24, 24]])]
    """
    check_maps("maps", maps)
    if (
        isinstance(thresholds, (str, bytes))
        or not isinstance(thresholds, Sequence)
        or not all(isinstance(t, int) and not isinstance(t, bool) for t in thresholds)
    ):
        raise TypeError(f"`thresholds` must be a sequence of ints (0-255), but got {thresholds!r}.")
    if len(thresholds) == 0 or not all(0 <= t <= 255 for t in thresholds):
        raise ValueError(f"`thresholds` must be a non-empty sequence of ints in [0, 255], but got {thresholds!r}.")
    H, W = maps.shape[-2:]
    flat = maps.reshape(-1, H, W)  # (B, H, W)
    B, T = flat.shape[0], len(thresholds)
    if B == 0:
        return []
    hi = flat.amax(dim=(1, 2), keepdim=True)
    scaled = torch.where(hi > 0, flat / torch.where(hi > 0, hi, torch.ones_like(hi)), torch.zeros_like(flat))
    q = torch.floor(255 * scaled.double().clamp(0, 1) + 0.5)  # (B, H, W)
    levels = torch.tensor(thresholds, dtype=torch.float64, device=maps.device)
    masks = _distance_filter((q[:, None] > levels[None, :, None, None]).reshape(B * T, H, W))
    stats = measure_components(masks, backend=backend)
    image, level = stats.map_index // T, stats.map_index % T
    area = box_area(stats.box)
    # Sort by image, then decreasing box area, then threshold, then label (stats are label-sorted).
    order = torch.argsort(level, stable=True)
    order = order[torch.argsort(-area[order], stable=True)]
    order = order[torch.argsort(image[order], stable=True)]
    counts = torch.bincount(image, minlength=B).tolist()
    lists = stats.box[order].cpu().split(counts)
    return [torch.tensor(_merge(b.tolist()), dtype=torch.long).reshape(-1, 4).to(maps.device) for b in lists]


def _first_two(lists: list[Tensor], device: torch.device) -> tuple[Tensor, Tensor]:
    """The first and second box of each list ``(B, 4)``: the first again if alone, zeros if none."""
    padded = torch.zeros(len(lists), 2, 4, dtype=torch.long)
    for i, boxes in enumerate(lists):
        if len(boxes):
            padded[i] = boxes[[0, min(1, len(boxes) - 1)]].cpu()
    return padded[:, 0].to(device), padded[:, 1].to(device)


def _distance_filter(masks: Tensor) -> Tensor:
    """Step 3 of ``authors_boxes``: keep pixels with ``round(255 * d / max d) > 10``."""
    B, H, W = masks.shape
    bg = ~masks
    has_bg = bg.flatten(1).any(1)  # (B,)
    if masks.device.type == "cpu":
        d = _edt_scipy(masks, has_bg)
    else:
        d = _edt_torch(masks)
    dmax = torch.where(masks, d, 0).flatten(1).amax(1)[:, None, None]  # (B, 1, 1)
    scale = 255.0 / torch.where(dmax > 0, dmax, torch.ones_like(dmax))
    keep = torch.floor(d * scale + 0.5) > 10
    # An all-foreground (or all-background) image is left as it is.
    return torch.where(has_bg[:, None, None], keep & masks, masks)


def _edt_scipy(masks: Tensor, has_bg: Tensor) -> Tensor:
    """Euclidean distance of each pixel to the nearest background pixel of its own map, by
    ``scipy.ndimage.distance_transform_edt`` (exact, C), one map at a time; maps without background: 0."""
    from scipy import ndimage

    out = torch.zeros(masks.shape, dtype=torch.float64)
    array = masks.numpy()
    for i in torch.nonzero(has_bg & masks.flatten(1).any(1))[:, 0].tolist():
        out[i] = torch.from_numpy(ndimage.distance_transform_edt(array[i]))
    return out


def _edt_torch(masks: Tensor) -> Tensor:
    """The same distances on any device: two exact 1-D passes (columns, then rows), no Python loop over maps."""
    B, H, W = masks.shape
    big = H + W  # beyond any distance inside the map
    rows = torch.arange(H, device=masks.device)[None, :, None]
    bg = ~masks
    # Column pass: distance to the nearest background pixel in the same column.
    above = torch.where(bg, rows, -big).cummax(dim=1).values
    below = -torch.where(bg, -rows, -big - H).flip(1).cummax(dim=1).values.flip(1)
    g2 = torch.minimum(rows - above, below - rows).clamp(max=big) ** 2  # (B, H, W)
    # Row pass: d2(y, x) = min over x' of (x - x')^2 + g2(y, x'), exact.
    d2 = g2.clone()
    has_bg = bg.flatten(1).any(1)  # (B,)
    for dx in range(1, W):
        # Done when no pixel can gain: every current d2 is at most dx^2 (maps with background only).
        if dx * dx >= int(torch.where(has_bg, d2.flatten(1).amax(1), 0).max()):
            break
        torch.minimum(d2[..., dx:], g2[..., :-dx] + dx * dx, out=d2[..., dx:])  # from x' = x - dx
        torch.minimum(d2[..., :-dx], g2[..., dx:] + dx * dx, out=d2[..., :-dx])  # from x' = x + dx
    return d2.double().sqrt()


def _merge(boxes: list[list[int]]) -> list[list[int]]:
    """Step 5 of ``authors_boxes`` on one image's area-sorted boxes, as the released loop runs."""
    i = 0
    while i < len(boxes):
        j = i + 1
        while j < len(boxes):
            a, b = boxes[i], boxes[j]
            iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
            ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
            if max(iw, 0) * max(ih, 0) * 2 > (a[2] - a[0] + 1) * (a[3] - a[1] + 1):
                del boxes[j]  # the released loop then steps past the box shifted into slot j
            j += 1
        i += 1
    return boxes


def top5_heuristic(
    maps: Tensor,
    classes: Tensor,
    *,
    generator: str = "thresholds",
    loose: float = LOOSE,
    tight: float = TIGHT,
    backend: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Five (class, box) guesses per image from the maps of its top-3 classes (paper Table 3).

    The paper takes "two bounding boxes (one tight and one loose) from the
    class activation map of the top 1st and 2nd predicted classes and one
    loose bounding box from the top 3rd predicted class", without saying
    what makes a box tight or loose. The guesses, in this order, are
    ``(c1, loose), (c1, tight), (c2, loose), (c2, tight), (c3, loose)``.

    Generators:

    - ``"thresholds"``: the loose box is the largest component's box at
      ``loose`` (default ``20/255``, ~7.8% of the max) and the tight box at
      ``tight`` (default ``100/255``, ~39.2%), with the rule of
      ``boxes_from_maps``. The defaults are the two lowest thresholds of the
      authors' released generator, the only numbers they published for this
      heuristic; a lower threshold gives a larger, looser box.
    - ``"authors"``: as the released ``ILSVRC_evaluate_bbox.m`` does
      ("bboxCombine"): the loose box is the first of ``authors_boxes`` (the
      largest), the tight box the second (the first again when there is
      only one). ``loose`` and ``tight`` are not used.

    Args:
        maps: ``Tensor[N, k, H, W]`` with ``k >= 3``, the maps of each
            image's top-k classes in decreasing score; the first three are used.
        classes: ``LongTensor[N, k]``, those classes.
        generator: ``"thresholds"`` or ``"authors"``.
        loose, tight: fractions of the max, for ``"thresholds"``.
        backend: as in ``camlib.components.connected_components``.

    Returns:
        ``(classes, boxes)``: ``LongTensor[N, 5]`` and ``LongTensor[N, 5, 4]``,
        ready for ``camlib.metrics.accuracy.localization_error``.

    Example:
        >>> maps = torch.zeros(1, 3, 8, 8); maps[:, :, 2:6, 2:6] = 0.3; maps[:, :, 3:5, 3:5] = 1.0
        >>> c, b = top5_heuristic(maps, torch.tensor([[7, 1, 4]]))
        >>> c.tolist(), b[0, :2].tolist()   # loose: the plateau; tight: the peak
        ([[7, 7, 1, 1, 4]], [[2, 2, 5, 5], [3, 3, 4, 4]])
    """
    check_maps("maps", maps)
    if maps.ndim != 4 or maps.shape[1] < 3:
        raise ValueError(f"`maps` must be a 4-D tensor (N, k, H, W) with k >= 3, but got shape {tuple(maps.shape)}.")
    check_tensor("classes", classes, ndim=2, dims="(N, k)", integer=True)
    if tuple(classes.shape) != tuple(maps.shape[:2]):
        raise ValueError(
            f"`classes` must have shape {tuple(maps.shape[:2])} (N, k) like `maps`, but got {tuple(classes.shape)}."
        )
    check_choice("generator", generator, ("thresholds", "authors"))
    top3 = maps[:, :3]  # (N, 3, H, W)
    if generator == "thresholds":
        loose_boxes = boxes_from_maps(top3, loose, backend=backend)  # (N, 3, 4)
        tight_boxes = boxes_from_maps(top3, tight, backend=backend)
    else:
        first, second = _first_two(authors_boxes(top3, backend=backend), maps.device)
        loose_boxes, tight_boxes = first.reshape(-1, 3, 4), second.reshape(-1, 3, 4)
    slot = [(0, loose_boxes), (0, tight_boxes), (1, loose_boxes), (1, tight_boxes), (2, loose_boxes)]
    guess_classes = torch.stack([classes[:, j] for j, _ in slot], dim=1).long().to(maps.device)  # (N, 5)
    guess_boxes = torch.stack([boxes[:, j] for j, boxes in slot], dim=1)  # (N, 5, 4)
    return guess_classes, guess_boxes
