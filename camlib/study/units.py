"""Class-specific units (Zhou et al. 2016, Sec. 5, Fig. 13): which units a class weighs most, and what they detect.

With GAP and a linear classifier, the weight ``w_k^c`` says how much unit
``k`` of the last convolutional layer counts for class ``c``, and the class
activation map is the units' maps summed with these weights. The paper ranks
the units of a class by ``w_k^c`` (``top_units``) and shows that the top ones
are detectors of the class's objects and parts.

A unit's *segmentation* follows Zhou et al. (2015) and Bau et al. (2017): its
map is upsampled to the image and thresholded at a level ``T_k`` that only the
unit's top activations exceed, fixed over the whole data set
(``unit_thresholds``: the ``1 - top`` quantile of the unit's values over every
cell of every image; Bau et al. take ``top = 0.005`` over upsampled pixels,
the cells of the maps are used here, which the bilinear upsampling roughly
preserves). ``part_hits`` then asks how often an annotated part (a point, as
CUB's part locations) falls inside the segmentation, against how often it
would if the segmentation were placed at random (its share of the image).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from camlib._validate import check_tensor
from camlib.metrics.masks import iou_from_counts, mask_intersection_union, mask_iou

__all__ = ["PartHits", "part_hits", "top_units", "unit_masks", "unit_thresholds"]


def top_units(weight: Tensor, classes: Sequence[int] | Tensor, k: int) -> Tensor:
    """``LongTensor[len(classes), k]``: for each class, the ``k`` units of largest weight ``w_k^c``, largest first.

    Ties go to the lower unit index.

    Example:
        >>> top_units(torch.tensor([[0.1, 0.5, -1.0, 0.5], [2.0, 0.0, 1.0, 3.0]]), [0, 1], 2).tolist()
        [[1, 3], [3, 0]]
    """
    check_tensor("weight", weight, ndim=2, dims="(C, K)", floating=True)
    classes = torch.as_tensor(classes, dtype=torch.long).reshape(-1)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= weight.shape[1]:
        raise ValueError(f"`k` must be an int in [1, {weight.shape[1]}] (the units), but got {k!r}.")
    if len(classes) and not (0 <= int(classes.min()) and int(classes.max()) < weight.shape[0]):
        raise ValueError(f"`classes` must be indices in [0, {weight.shape[0]}), but got {classes.tolist()}.")
    order = torch.sort(weight[classes].detach().cpu(), dim=1, descending=True, stable=True).indices
    return order[:, :k]


def unit_thresholds(maps: Tensor, *, top: float = 0.005, chunk: int = 32) -> Tensor:
    """``Tensor[K]``: each unit's level exceeded by a share ``top`` of its values over all cells of all images.

    The ``ceil(top * M)``-th largest of the unit's ``M = N h w`` values
    (``torch.kthvalue``, in chunks of ``chunk`` units to bound the memory):
    at most that many values lie strictly above it.

    Example:
        >>> maps = torch.arange(200.0).reshape(2, 1, 10, 10)   # one unit, values 0 .. 199
        >>> unit_thresholds(maps, top=0.05).tolist()           # the 10th largest: 190; 9 values above it
        [190.0]
    """
    check_tensor("maps", maps, ndim=4, dims="(N, K, h, w)", floating=True)
    if not 0 < top < 1:
        raise ValueError(f"`top` must be a share in (0, 1), but got {top!r}.")
    N, K = maps.shape[:2]
    M = N * maps.shape[2] * maps.shape[3]
    if M == 0:
        raise ValueError(f"`maps` must hold at least one value per unit, but got shape {tuple(maps.shape)}.")
    above = max(1, math.ceil(top * M - 1e-9))  # the k-th largest, k = ceil(top * M) (0.05 * 200 is 10, not 11)
    rank = M - above + 1  # kthvalue counts from the smallest
    out = []
    for start in range(0, K, chunk):
        values = maps[:, start : start + chunk].transpose(0, 1).reshape(min(chunk, K - start), M).float()
        out.append(values.kthvalue(rank, dim=1).values)
    return torch.cat(out)


def unit_masks(maps: Tensor, thresholds: Tensor, size: tuple[int, int]) -> Tensor:
    """``BoolTensor[N, K, H, W]``: each unit's map upsampled bilinearly to ``size`` and above its threshold.

    Args:
        maps: ``Tensor[N, K, h, w]``, the units' maps (``K`` may be a chosen few).
        thresholds: ``Tensor[K]``, one level per unit (``unit_thresholds``).
        size: ``(H, W)``, the image's frame.
    """
    check_tensor("maps", maps, ndim=4, dims="(N, K, h, w)", floating=True)
    check_tensor("thresholds", thresholds, ndim=1, dims="(K,)", floating=True)
    if len(thresholds) != maps.shape[1]:
        raise ValueError(f"`thresholds` must hold one level per unit ({maps.shape[1]}), but got {len(thresholds)}.")
    up = F.interpolate(maps.float(), size=tuple(size), mode="bilinear", align_corners=False)
    return up > thresholds.to(up)[None, :, None, None]


class PartHits(NamedTuple):
    """How often each part falls inside a unit's segmentation (``part_hits``); all ``Tensor[P]``.

    Attributes:
        hit: the share of the images (with the part visible and the segmentation
            non-empty) where the part's pixel is inside the segmentation; NaN with no such image.
        chance: the segmentation's mean share of the image on those images:
            the hit rate of a segmentation placed at random.
        images: how many images count for each part.
    """

    hit: Tensor
    chance: Tensor
    images: Tensor


def part_hits(masks: Tensor, parts: Tensor) -> PartHits:
    """For one unit, how often each part falls inside its segmentation, against chance.

    Args:
        masks: ``BoolTensor[N, H, W]``, the unit's segmentation of each image.
        parts: ``Tensor[N, P, 3]``, each part's ``(x, y, visible)`` in the
            masks' frame (``x`` the column); the part's pixel is
            ``(floor(y), floor(x))``, clipped to the image.

    Example:
        >>> m = torch.zeros(2, 4, 4, dtype=torch.bool); m[:, :2, :2] = True     # the top-left quarter
        >>> p = torch.tensor([[[0.5, 1.2, 1.0], [3.0, 3.0, 1.0]], [[1.9, 0.0, 1.0], [0.0, 0.0, 0.0]]])
        >>> r = part_hits(m, p)
        >>> r.hit.tolist(), r.chance.tolist(), r.images.tolist()
        ([1.0, 0.0], [0.25, 0.25], [2, 1])
    """
    check_tensor("masks", masks, ndim=3, dims="(N, H, W)")
    check_tensor("parts", parts, ndim=3, dims="(N, P, 3)", floating=True)
    if masks.dtype != torch.bool or len(parts) != len(masks) or parts.shape[2] != 3:
        raise ValueError(
            f"`masks` must be a BoolTensor[N, H, W] and `parts` a Tensor[N, P, 3] of the same N, but "
            f"got {masks.dtype} {tuple(masks.shape)} and {tuple(parts.shape)}."
        )
    N, H, W = masks.shape
    masks, parts = masks.cpu(), parts.cpu()
    x = parts[..., 0].floor().long().clamp(0, W - 1)  # (N, P)
    y = parts[..., 1].floor().long().clamp(0, H - 1)
    inside = masks[torch.arange(N)[:, None], y, x]  # (N, P)
    share = masks.flatten(1).double().mean(1)  # (N,)
    counts = (parts[..., 2] > 0) & (share > 0)[:, None]  # (N, P): the images that count for each part
    images = counts.sum(0)
    hit = (inside & counts).sum(0).double() / images.clamp(min=1)
    chance = (share[:, None] * counts).sum(0) / images.clamp(min=1)
    none = images == 0
    return PartHits(hit.masked_fill(none, float("nan")), chance.masked_fill(none, float("nan")), images)


__all__ += ["detector_rows", "random_units"]


def firing_rates(maps: Tensor, thresholds: Tensor) -> Tensor:
    """``Tensor[K]``: the share of images on which each unit fires (its map's maximum above its level).

    With ``unit_thresholds``' levels every unit covers the same share of all cells, but a unit may spend
    it on a few images or spread it over many: the rate says which. ``random_units(rates=...)`` matches
    the random units to the top units on it, so that "top units detect parts more often" does not
    merely say "the top units fire on more images".

    Example:
        >>> maps = torch.tensor([[[[3.0]], [[0.0]]], [[[3.0]], [[5.0]]]])      # 2 images, 2 units, 1 x 1 maps
        >>> firing_rates(maps, torch.tensor([1.0, 1.0])).tolist()              # unit 0 on both, unit 1 on one
        [1.0, 0.5]
    """
    check_tensor("maps", maps, ndim=4, dims="(N, K, h, w)", floating=True)
    check_tensor("thresholds", thresholds, ndim=1, dims="(K,)", floating=True)
    if thresholds.shape[0] != maps.shape[1]:
        raise ValueError(f"`thresholds` must hold one level per unit ({maps.shape[1]}), but got {thresholds.shape[0]}.")
    peaks = maps.flatten(2).amax(dim=2).float()  # (N, K)
    return (peaks > thresholds.to(peaks)[None]).double().mean(dim=0).cpu()


def random_units(
    weight: Tensor,
    classes: Sequence[int],
    k: int,
    *,
    exclude: Tensor | None = None,
    seed: int = 0,
    rates: Tensor | None = None,
    window: int = 10,
) -> Tensor:
    """``LongTensor[len(classes), k]``: for each class, ``k`` units drawn at random (seeded), none of ``exclude[i]``.

    The baseline of ``top_units``: units that the class's weights did not choose. With ``rates``
    (``Tensor[K]``, e.g. ``firing_rates``), the draw is *matched*: ``exclude`` must hold the class's
    ``k`` top units, and its ``j``-th random unit is drawn among the ``window`` units (neither excluded
    nor drawn already) whose rate is nearest to that of ``exclude[i][j]``.

    Example:
        >>> w = torch.zeros(1, 6)
        >>> random_units(w, [0], 1, exclude=torch.tensor([[0]]), rates=torch.tensor([0.9, 0.1, 0.2, 0.88, 0.3, 0.1]),
        ...              window=1).tolist()                               # the unit whose rate is nearest 0.9
        [[3]]
    """
    K = weight.shape[1]
    g = torch.Generator().manual_seed(seed)
    if rates is not None:
        check_tensor("rates", rates, ndim=1, dims="(K,)", floating=True)
        if rates.shape[0] != K or exclude is None or exclude.shape != (len(classes), k):
            raise ValueError(
                f"`rates` must hold one rate per unit ({K}) and `exclude` the {k} top units of each of the "
                f"{len(classes)} classes, but got {tuple(rates.shape)} and "
                f"{None if exclude is None else tuple(exclude.shape)}."
            )
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"`window` must be an int >= 1, but got {window!r}.")
    out = []
    for i in range(len(classes)):
        banned = set(exclude[i].tolist()) if exclude is not None else set()
        pool = torch.tensor([u for u in range(K) if u not in banned])
        if len(pool) < k:
            raise ValueError(f"`k` = {k} random units need {k} units outside `exclude`, but only {len(pool)} remain.")
        if rates is None:
            out.append(pool[torch.randperm(len(pool), generator=g)[:k]].sort().values)
            continue
        chosen: list[int] = []
        for u in exclude[i].tolist():
            free = torch.tensor([v for v in pool.tolist() if v not in chosen])
            gap = (rates[free].double() - float(rates[u])).abs()
            near = free[torch.sort(gap, stable=True).indices[:window]]  # the nearest in rate; ties: lower index
            chosen.append(int(near[torch.randint(len(near), (1,), generator=g)]))
        out.append(torch.tensor(chosen))
    return torch.stack(out)


__all__ += ["firing_rates"]


def detector_rows(
    maps: Tensor,
    thresholds: Tensor,
    labels: Tensor,
    parts: Tensor,
    units: Tensor,
    classes: Sequence[int],
    *,
    size: tuple[int, int],
    part_names: Sequence[str],
    min_images: int = 5,
    min_hit: float = 0.5,
    min_lift: float = 2.0,
) -> list[dict]:
    """One row per (class, unit): the part the unit's segmentation finds best on the class's images, and whether
    the unit counts as a detector of it.

    For class ``classes[i]`` and each unit of ``units[i]``, the unit is segmented (``unit_masks``) on the
    images of that class and ``part_hits`` asks every part; the best part is the one of largest
    ``hit - chance`` among those counted on at least ``min_images`` images. The unit is a *detector*
    of it when its hit rate is at least ``min_hit`` and at least ``min_lift`` times chance.

    Args:
        maps: ``Tensor[N, K, h, w]``, the units' maps on the images.
        thresholds: ``Tensor[K]`` (``unit_thresholds``).
        labels: ``LongTensor[N]``, each image's class.
        parts: ``Tensor[N, P, 3]``, the part points in the ``size`` frame.
        units: ``LongTensor[len(classes), k]``, the units asked for each class.
        classes: the classes.
        size: ``(H, W)`` of the frame.
        part_names: the ``P`` part names.

    Returns:
        Rows of ``class``, ``unit``, ``part`` (or None), ``hit``, ``chance``, ``images`` (that count for
        the part), ``fires`` (the share of the class's images where the segmentation is not empty) and
        ``detector`` (bool).
    """
    rows = []
    for c, chosen in zip(classes, units.tolist()):
        idx = (labels == c).nonzero()[:, 0]
        for k in chosen:
            masks = unit_masks(maps[idx][:, k : k + 1], thresholds[k : k + 1], size)[:, 0]
            r = part_hits(masks, parts[idx])
            lift = torch.where(r.images >= min_images, r.hit - r.chance, torch.full_like(r.hit, -math.inf))
            best = int(torch.nan_to_num(lift, nan=-math.inf).argmax())
            ok = bool(lift[best] > -math.inf)
            rows.append(
                {
                    "class": int(c),
                    "unit": int(k),
                    "part": part_names[best] if ok else None,
                    "hit": r.hit[best].item() if ok else math.nan,
                    "chance": r.chance[best].item() if ok else math.nan,
                    "images": int(r.images[best]) if ok else 0,
                    "fires": masks.flatten(1).any(1).double().mean().item() if len(idx) else math.nan,
                    "detector": ok
                    and r.hit[best].item() >= min_hit
                    and r.hit[best].item() >= min_lift * r.chance[best].item(),
                }
            )
    return rows


# --- Known parts as masks, and ablation (the controlled part of chapter 07) ------------------------------------

__all__ += ["ablated_scores", "ablation_drops", "part_iou", "part_points"]


def part_points(part_masks: Tensor) -> Tensor:
    """``Tensor[N, P, 3]``: each part mask's centroid ``(x, y, visible)``, for ``part_hits`` and ``detector_rows``.

    ``x`` is the column; the centroid of a mask's pixel centres is ``mean(col) + 0.5``, so that
    ``part_hits``'s ``floor`` lands on a pixel of a convex part. An empty mask gives ``(0, 0, 0)``:
    not visible.

    Example:
        >>> m = torch.zeros(1, 2, 4, 4, dtype=torch.bool); m[0, 0, 1:3, 2] = True   # rows 1-2 of column 2
        >>> part_points(m).tolist()
        [[[2.5, 2.0, 1.0], [0.0, 0.0, 0.0]]]
    """
    check_tensor("part_masks", part_masks, ndim=4, dims="(N, P, H, W)")
    if part_masks.dtype != torch.bool:
        raise TypeError(f"`part_masks` must be a BoolTensor[N, P, H, W], but got {part_masks.dtype}.")
    H, W = part_masks.shape[-2:]
    m = part_masks.double()
    count = m.sum(dim=(2, 3))  # (N, P)
    cols = torch.arange(W, dtype=torch.float64) + 0.5
    rows = torch.arange(H, dtype=torch.float64) + 0.5
    x = (m.sum(2) * cols).sum(2) / count.clamp(min=1)
    y = (m.sum(3) * rows).sum(2) / count.clamp(min=1)
    visible = (count > 0).double()
    return torch.stack([x * visible, y * visible, visible], dim=2)


def part_iou(masks: Tensor, part_masks: Tensor) -> Tensor:
    """``Tensor[P]``: Network Dissection's IoU of one unit's segmentation with each part, over a data set.

    ``IoU_p = sum_i |M_i & P_ip| / sum_i |M_i | P_ip|`` over the images where part ``p`` is present
    (Bau et al. 2017: a unit is a detector of a concept when its IoU exceeds 0.04); NaN where the
    part is present on no image. The counts are ``camlib.metrics.masks.mask_intersection_union``'s,
    summed over the images in float64, divided by ``iou_from_counts``.

    Args:
        masks: ``BoolTensor[N, H, W]``, the unit's segmentation of each image (``unit_masks``).
        part_masks: ``BoolTensor[N, P, H, W]``, the parts' pixels (empty: absent).

    Example:
        >>> m = torch.zeros(2, 4, 4, dtype=torch.bool); m[:, :2, :2] = True        # the top-left quarter
        >>> p = torch.zeros(2, 1, 4, 4, dtype=torch.bool); p[0, 0, :2, :] = True   # image 0: the top half
        >>> part_iou(m, p)                                                         # image 1 lacks the part
        tensor([0.5000], dtype=torch.float64)
    """
    check_tensor("masks", masks, ndim=3, dims="(N, H, W)")
    check_tensor("part_masks", part_masks, ndim=4, dims="(N, P, H, W)")
    if (
        masks.dtype != torch.bool
        or part_masks.dtype != torch.bool
        or masks.shape != (part_masks.shape[0], *part_masks.shape[2:])
    ):
        raise ValueError(
            f"`masks` must be a BoolTensor[N, H, W] and `part_masks` a BoolTensor[N, P, H, W] of the "
            f"same N, H, W, but got {masks.dtype} {tuple(masks.shape)} and {part_masks.dtype} "
            f"{tuple(part_masks.shape)}."
        )
    present = part_masks.flatten(2).any(2)  # (N, P)
    inter, union = mask_intersection_union(masks[:, None], part_masks)  # (N, P) each
    inter, union = inter.double() * present, union.double() * present  # the images where the part is present
    # a part present on some image has a union >= 1 there, so the union sum is 0 exactly where it is present on none
    return iou_from_counts(inter.sum(0), union.sum(0), empty=float("nan"))


def ablated_scores(pooled: Tensor, weight: Tensor, bias: Tensor | None, units: Tensor) -> Tensor:
    """``Tensor[N, C]``: a GAP network's class scores with some units zeroed, ``sum_{k not in U_i} w_k^c F_k + b_c``.

    Zeroing unit ``k``'s map zeroes its pooled value ``F_k``; with GAP and a linear layer the rest of the
    score is unchanged, so no forward pass is needed.

    Args:
        pooled: ``Tensor[N, K]``, the pooled features ``F_k`` (the units' map means).
        weight: ``Tensor[C, K]``; bias: ``Tensor[C]`` or None.
        units: ``LongTensor[N, k]``, the units zeroed on each image.

    Example:
        >>> F_ = torch.tensor([[1.0, 2.0, 3.0]]); w = torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, -1.0]])
        >>> ablated_scores(F_, w, torch.tensor([0.5, 0.0]), torch.tensor([[2]]))   # unit 2 gone: 1 + 2 + 0.5, 2
        tensor([[3.5000, 2.0000]])
    """
    check_tensor("pooled", pooled, ndim=2, dims="(N, K)", floating=True)
    check_tensor("weight", weight, ndim=2, dims="(C, K)", floating=True)
    check_tensor("units", units, ndim=2, dims="(N, k)", integer=True)
    if weight.shape[1] != pooled.shape[1] or len(units) != len(pooled):
        raise ValueError(
            f"`pooled` (N, K), `weight` (C, K) and `units` (N, k) must agree, but got "
            f"{tuple(pooled.shape)}, {tuple(weight.shape)} and {tuple(units.shape)}."
        )
    kept = pooled.scatter(1, units.to(pooled.device), 0.0)
    scores = kept @ weight.to(kept).T
    return scores if bias is None else scores + bias.to(kept)


def ablation_drops(
    pooled: Tensor, weight: Tensor, bias: Tensor | None, labels: Tensor, unit_sets: dict[str, Tensor]
) -> dict[str, tuple[Tensor, Tensor]]:
    """For each named set of units per class, what zeroing the true class's set does on each image.

    Args:
        pooled, weight, bias: as in ``ablated_scores``.
        labels: ``LongTensor[N]``, each image's class.
        unit_sets: name -> ``LongTensor[C, k]``, the units zeroed for an image of class ``c``
            (``top_units``, ``random_units``, another class's top units, ...).

    Returns:
        name -> ``(drop, correct)``: ``drop (Tensor[N])``, the true class's score before minus after;
        ``correct (BoolTensor[N])``, whether the true class still scores highest after.
        ``"none"`` -> the intact network's ``(zeros, correct)``.
    """
    labels = labels.to(pooled.device)
    full = ablated_scores(pooled, weight, bias, torch.zeros(len(pooled), 0, dtype=torch.long))
    out = {"none": (torch.zeros(len(pooled), dtype=full.dtype), full.argmax(1) == labels)}
    rows = torch.arange(len(pooled))
    for name, sets in unit_sets.items():
        after = ablated_scores(pooled, weight, bias, sets.to(pooled.device)[labels])
        out[name] = (full[rows, labels] - after[rows, labels], after.argmax(1) == labels)
    return out


__all__ += ["UnitStudy", "least_similar_classes", "pad_parts", "unit_study"]


def least_similar_classes(weight: Tensor) -> Tensor:
    """``LongTensor[C]``: for each class, the other class whose weight vector has the least cosine with its own.

    The control of an ablation: another class's top units, from the class least like this one (ties: the
    lower index).

    Example:
        >>> least_similar_classes(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.1]])).tolist()
        [2, 0, 0]
    """
    check_tensor("weight", weight, ndim=2, dims="(C, K)", floating=True)
    if len(weight) < 2:
        raise ValueError(f"`weight` must hold at least 2 classes, but got {len(weight)}.")
    w = F.normalize(weight.detach().double(), dim=1)
    cos = w @ w.T
    cos.fill_diagonal_(math.inf)
    return cos.argmin(dim=1)


def pad_parts(parts: Sequence[Tensor]) -> Tensor:
    """``BoolTensor[N, P, H, W]`` from per-image part masks ``[P_i, H, W]``, padded with empty (absent) parts."""
    P = max((len(p) for p in parts), default=0)
    out = (
        torch.zeros(len(parts), P, *parts[0].shape[-2:], dtype=torch.bool)
        if parts
        else torch.zeros(0, 0, 0, 0, dtype=torch.bool)
    )
    for i, p in enumerate(parts):
        out[i, : len(p)] = p
    return out


class UnitStudy(NamedTuple):
    """What ``unit_study`` returns.

    Attributes:
        classes: the classes studied, in order.
        units: name (``"top"``, ``"random"``, ``"other class's top"``) -> ``LongTensor[C, k]``.
        thresholds: ``Tensor[K]``, each unit's segmentation level.
        rows: ``"top"`` / ``"random"`` -> ``detector_rows`` with, per row, ``iou`` (the best part's
            Network Dissection IoU, ``part_iou``), ``iou_part`` and ``iou_detector`` (``iou >= min_iou``).
        drops: ``ablation_drops`` of the three unit sets.
    """

    classes: list[int]
    units: dict[str, Tensor]
    thresholds: Tensor
    rows: dict[str, list[dict]]
    drops: dict[str, tuple[Tensor, Tensor]]


def unit_study(
    features: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    labels: Tensor,
    part_masks: Tensor,
    *,
    k: int,
    top_share: float = 0.005,
    min_images: int = 5,
    min_hit: float = 0.5,
    min_lift: float = 2.0,
    min_iou: float = 0.04,
    seed: int = 0,
) -> UnitStudy:
    """Chapter 07's controlled measurement: do a class's top units detect its known parts, and do they matter?

    For every class present in ``labels``: its ``k`` top units by ``w_k^c`` (``top_units``), ``k``
    random others (``random_units``) and the top units of the least similar class
    (``least_similar_classes``). The top and random units are segmented (``unit_thresholds`` at
    ``top_share``) and scored on the class's images against its part masks two ways: the part's
    centroid inside the segmentation (``part_points``, ``detector_rows`` with ``min_images``,
    ``min_hit``, ``min_lift``) and Network Dissection's IoU (``part_iou``, a detector at ``min_iou``,
    Bau et al.'s 0.04). The three sets are then zeroed on each image of the class (``ablation_drops``).

    Args:
        features: ``Tensor[N, K, h, w]``, the last conv layer's maps (GAP's input).
        weight, bias: the linear layer after GAP, ``Tensor[C, K]`` and ``Tensor[C]`` or None.
        labels: ``LongTensor[N]``.
        part_masks: ``BoolTensor[N, P, H, W]`` in the image frame (``pad_parts``), ``part_names``
            are ``"part 1"``, ``"part 2"``, ... in their order.
    """
    check_tensor("features", features, ndim=4, dims="(N, K, h, w)", floating=True)
    features = features.float().cpu()
    labels = labels.cpu()
    if len(labels) != len(features) or len(part_masks) != len(features):
        raise ValueError(
            f"`features`, `labels` and `part_masks` must hold the same N images, but got "
            f"{len(features)}, {len(labels)} and {len(part_masks)}."
        )
    classes = sorted(set(labels.tolist()))
    weight = weight.detach().cpu().float()
    top = top_units(weight, classes, k)
    other = top_units(weight, least_similar_classes(weight)[classes].tolist(), k)
    units = {"top": top, "random": random_units(weight, classes, k, exclude=top, seed=seed), "other class's top": other}
    thresholds = unit_thresholds(features, top=top_share)
    size = tuple(part_masks.shape[-2:])
    names = [f"part {p + 1}" for p in range(part_masks.shape[1])]
    points = part_points(part_masks)
    rows = {}
    for name in ("top", "random"):
        rows[name] = detector_rows(
            features,
            thresholds,
            labels,
            points,
            units[name],
            classes,
            size=size,
            part_names=names,
            min_images=min_images,
            min_hit=min_hit,
            min_lift=min_lift,
        )
        for row in rows[name]:
            idx = (labels == row["class"]).nonzero()[:, 0]
            u = row["unit"]
            iou = part_iou(unit_masks(features[idx][:, u : u + 1], thresholds[u : u + 1], size)[:, 0], part_masks[idx])
            best = int(torch.nan_to_num(iou, nan=-1.0).argmax())
            row.update(iou=float(iou[best]), iou_part=names[best], iou_detector=bool(iou[best] >= min_iou))
    # ablation: each image loses its own class's set; classes not studied never occur in `labels`
    full_sets = {
        name: torch.zeros(len(weight), k, dtype=torch.long).index_copy(0, torch.tensor(classes), u)
        for name, u in units.items()
    }
    drops = ablation_drops(
        features.mean(dim=(2, 3)), weight, None if bias is None else bias.detach().cpu().float(), labels, full_sets
    )
    return UnitStudy(classes, units, thresholds, rows, drops)


__all__ += ["concept_iou"]


def concept_iou(
    maps: Tensor, thresholds: Tensor, concept_masks: Sequence[Tensor], concept_ids: Sequence[Tensor], num_concepts: int
) -> tuple[Tensor, Tensor]:
    """Network Dissection's IoU of each unit with each concept over a data set (Bau et al. 2017).

    ``IoU_uc = sum_i |M_ui & C_ic| / sum_i |M_ui | C_ic|`` over the images ``i`` where concept ``c``
    is present, ``M_ui`` unit ``u``'s segmentation (``unit_masks``) and ``C_ic`` the union of the
    image's instances of ``c``. One image at a time, so that ``N x U x H x W`` masks are never held:
    each image's counts (``camlib.metrics.masks.mask_intersection_union``, every unit against every
    present concept) are added in float64, and the sums divided at the end (``iou_from_counts``).

    Args:
        maps: ``Tensor[N, U, h, w]``, the units' maps (the chosen units only).
        thresholds: ``Tensor[U]``, their levels (``unit_thresholds`` over all units' data set).
        concept_masks: ``N`` tensors ``BoolTensor[m_i, H, W]``, the instances of each image.
        concept_ids: ``N`` tensors ``LongTensor[m_i]``, each instance's concept in ``[0, num_concepts)``.
        num_concepts: ``C``.

    Returns:
        ``(iou, images)``: ``Tensor[U, C]`` (NaN for a concept present on no image), and
        ``LongTensor[C]``, the number of images where each concept is present.

    Example:
        >>> maps = torch.zeros(2, 1, 2, 2); maps[:, 0, 0, 0] = 1.0                 # the unit fires top-left
        >>> m = torch.zeros(1, 2, 2, dtype=torch.bool); m[0, 0, :] = True          # a concept on the top row
        >>> iou, n = concept_iou(maps, torch.tensor([0.5]), [m, m], [torch.tensor([1]), torch.tensor([1])], 2)
        >>> iou, n   # upsampled 2 x 2 -> 2 x 2: one pixel of the two-pixel row, on both images: 2 / 4
        (tensor([[   nan, 0.5000]], dtype=torch.float64), tensor([0, 2]))
    """
    check_tensor("maps", maps, ndim=4, dims="(N, U, h, w)", floating=True)
    if len(concept_masks) != len(maps) or len(concept_ids) != len(maps):
        raise ValueError(
            f"`concept_masks` and `concept_ids` must hold one entry per image ({len(maps)}), but got "
            f"{len(concept_masks)} and {len(concept_ids)}."
        )
    U = maps.shape[1]
    inter = torch.zeros(U, num_concepts, dtype=torch.float64)
    union = torch.zeros(U, num_concepts, dtype=torch.float64)
    images = torch.zeros(num_concepts, dtype=torch.long)
    for i, (masks, ids) in enumerate(zip(concept_masks, concept_ids)):
        ids = torch.as_tensor(ids, dtype=torch.long).cpu()
        if len(ids) == 0:
            continue
        if not 0 <= int(ids.min()) or int(ids.max()) >= num_concepts:
            raise ValueError(f"`concept_ids[{i}]` must be in [0, {num_concepts}), but got {ids.tolist()}.")
        present = ids.unique()  # (P,)
        concept = torch.stack([masks[ids == c].any(0) for c in present.tolist()]).cpu()  # (P, H, W)
        seg = unit_masks(maps[i : i + 1], thresholds, tuple(concept.shape[-2:]))[0].cpu()  # (U, H, W)
        both, either = mask_intersection_union(seg, concept, pairwise=True)  # (U, P) each
        inter[:, present] += both.double()
        union[:, present] += either.double()
        images[present] += 1
    iou = iou_from_counts(inter, union)  # 0 for a concept present only with empty masks, and no segmentation
    return torch.where(images[None] > 0, iou, torch.full_like(iou, float("nan"))), images


__all__ += ["object_iou"]


def object_iou(maps: Tensor, thresholds: Tensor, units: Tensor, object_masks: Tensor) -> Tensor:
    """``Tensor[N, k]``: on each image, the IoU of each of its chosen units' segmentation with its object's mask.

    Per image, not summed over a data set (as ``concept_iou`` is), because each image asks its own
    class's units: ``camlib.metrics.masks.mask_iou``; an empty segmentation has IoU 0.

    Args:
        maps: ``Tensor[N, K, h, w]``, all units' maps.
        thresholds: ``Tensor[K]`` (``unit_thresholds``).
        units: ``LongTensor[N, k]``, the units asked on each image.
        object_masks: ``BoolTensor[N, H, W]``, e.g. the union of the image's ground-truth boxes.

    Example:
        >>> maps = torch.zeros(1, 2, 2, 2); maps[0, 0, 0, :] = 1.0; maps[0, 1] = 1.0
        >>> obj = torch.zeros(1, 2, 2, dtype=torch.bool); obj[0, 0, :] = True          # the top row
        >>> object_iou(maps, torch.tensor([0.5, 0.5]), torch.tensor([[0, 1]]), obj)   # the top row; everything
        tensor([[1.0000, 0.5000]], dtype=torch.float64)
    """
    check_tensor("maps", maps, ndim=4, dims="(N, K, h, w)", floating=True)
    check_tensor("units", units, ndim=2, dims="(N, k)", integer=True)
    if len(units) != len(maps) or len(object_masks) != len(maps) or object_masks.dtype != torch.bool:
        raise ValueError(
            f"`units` (N, k) and `object_masks` (BoolTensor[N, H, W]) must hold one row per image "
            f"({len(maps)}), but got {tuple(units.shape)} and {tuple(object_masks.shape)}."
        )
    size = tuple(object_masks.shape[-2:])
    out = torch.zeros(units.shape, dtype=torch.float64)
    for i in range(len(maps)):
        chosen = units[i].cpu()
        seg = unit_masks(maps[i : i + 1, chosen], thresholds[chosen], size)[0].cpu()  # (k, H, W)
        out[i] = mask_iou(seg, object_masks[i].cpu())  # (k,); 0 when both are empty
    return out


__all__ += ["DETECTOR_IOU", "best_concepts", "class_object_iou", "detector_share"]

# Network Dissection's criterion (Bau et al. 2017, Sec. 2.2): a unit is a detector of a concept when the IoU of
# its segmentation with the concept, over the data set, exceeds 0.04. A row that calls a unit a detector by IoU
# is held to it.
DETECTOR_IOU = 0.04


def detector_share(iou: Tensor | Sequence[float]) -> float:
    """The share of units whose IoU exceeds ``DETECTOR_IOU`` (Network Dissection's detectors); NaN for none.

    Example:
        >>> detector_share([0.03, 0.05, 0.2, 0.04])  # 0.04 itself does not exceed the criterion
        0.5
    """
    values = torch.as_tensor(iou, dtype=torch.float64).reshape(-1)
    return float("nan") if not len(values) else (values > DETECTOR_IOU).double().mean().item()


def best_concepts(
    maps: Tensor,
    thresholds: Tensor,
    weight: Tensor,
    classes: Sequence[int],
    k: int,
    concept_masks: Sequence[Tensor],
    concept_ids: Sequence[Tensor],
    num_concepts: int,
    *,
    min_images: int = 1,
    seed: int = 0,
    matched: bool = False,
) -> tuple[list[dict], Tensor]:
    """Each class's top and random units, and the concept each detects best over a data set (chapter 07's scenes).

    For every class of ``classes``: its ``k`` top units by ``w_k^c`` (``top_units``) and ``k`` random others
    (``random_units``); each unit's IoU with every concept (``concept_iou``) over the images of ``maps``, a concept
    counting only when present on at least ``min_images`` images; its best concept is the one of largest IoU
    (IoU 0 and concept None when no concept counts). With ``matched``, the random units are matched to the
    top ones on ``firing_rates(maps, thresholds)`` (a unit that fires on more images has more chances to overlap
    a concept).

    Returns:
        ``(rows, images)``: one row per (class, set, unit) with ``class``, ``units`` (``"top"`` or
        ``"random"``), ``unit``, ``concept`` (an index or None) and ``iou``; and ``LongTensor[num_concepts]``,
        the images where each concept is present.
    """
    top = top_units(weight, classes, k)
    rates = firing_rates(maps, thresholds) if matched else None
    sets = {"top": top, "random": random_units(weight, classes, k, exclude=top, seed=seed, rates=rates)}
    asked = torch.cat([u.flatten() for u in sets.values()]).unique()
    iou, images = concept_iou(maps[:, asked], thresholds[asked], concept_masks, concept_ids, num_concepts)
    iou = torch.nan_to_num(iou.masked_fill((images < min_images)[None], float("nan")), nan=-1.0)  # (U, C)
    best, concept = iou.max(dim=1) if num_concepts else (torch.full((len(asked),), -1.0), torch.zeros(len(asked)))
    at = {u: j for j, u in enumerate(asked.tolist())}
    rows = [
        {
            "class": int(c),
            "units": name,
            "unit": u,
            "concept": int(concept[at[u]]) if best[at[u]] >= 0 else None,
            "iou": max(best[at[u]].item(), 0.0),
        }
        for name, units in sets.items()
        for c, row in zip(classes, units.tolist())
        for u in row
    ]
    return rows, images


def class_object_iou(
    maps: Tensor,
    thresholds: Tensor,
    weight: Tensor,
    labels: Tensor,
    object_masks: Tensor,
    k: int,
    *,
    seed: int = 0,
    matched: bool = False,
) -> dict[str, Tensor]:
    """Per image, the mean IoU with its object of its class's ``k`` top units and of ``k`` random others.

    ``object_iou`` of ``top_units(weight, labels, k)`` and of ``random_units`` (none of the top ones), averaged
    over the ``k`` units: ``{"top": Tensor[N], "random": Tensor[N]}`` (chapter 07's ImageNet part). With
    ``matched``, the random units are matched to the top ones on ``firing_rates(maps, thresholds)``.
    """
    classes = labels.tolist()
    top = top_units(weight, classes, k)
    rates = firing_rates(maps, thresholds) if matched else None
    sets = {"top": top, "random": random_units(weight, classes, k, exclude=top, seed=seed, rates=rates)}
    return {name: object_iou(maps, thresholds, units, object_masks).mean(dim=1) for name, units in sets.items()}
