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
        raise ValueError(f"`masks` must be a BoolTensor[N, H, W] and `parts` a Tensor[N, P, 3] of the same N, but "
                         f"got {masks.dtype} {tuple(masks.shape)} and {tuple(parts.shape)}.")
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


def random_units(weight: Tensor, classes: Sequence[int], k: int, *, exclude: Tensor | None = None, seed: int = 0) -> Tensor:
    """``LongTensor[len(classes), k]``: for each class, ``k`` units drawn at random (seeded), none of ``exclude[i]``.

    The baseline of ``top_units``: units that the class's weights did not choose.
    """
    K = weight.shape[1]
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(len(classes)):
        banned = set(exclude[i].tolist()) if exclude is not None else set()
        pool = torch.tensor([u for u in range(K) if u not in banned])
        if len(pool) < k:
            raise ValueError(f"`k` = {k} random units need {k} units outside `exclude`, but only {len(pool)} remain.")
        out.append(pool[torch.randperm(len(pool), generator=g)[:k]].sort().values)
    return torch.stack(out)


def detector_rows(
    maps: Tensor, thresholds: Tensor, labels: Tensor, parts: Tensor, units: Tensor, classes: Sequence[int], *,
    size: tuple[int, int], part_names: Sequence[str], min_images: int = 5, min_hit: float = 0.5,
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
            rows.append({"class": int(c), "unit": int(k), "part": part_names[best] if ok else None,
                         "hit": r.hit[best].item() if ok else math.nan,
                         "chance": r.chance[best].item() if ok else math.nan,
                         "images": int(r.images[best]) if ok else 0,
                         "fires": masks.flatten(1).any(1).double().mean().item() if len(idx) else math.nan,
                         "detector": ok and r.hit[best].item() >= min_hit and r.hit[best].item() >= min_lift * r.chance[best].item()})
    return rows
