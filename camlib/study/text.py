"""A weakly supervised text detector (Zhou et al. 2016, Sec. 4.2, Fig. 11): maps scored against word masks.

The paper trains a linear SVM to tell images with text from images without,
on GAP features, and shows that the CAM of the text class highlights the
words without any box annotation. ``score_text_maps`` measures that against
the words' masks, image by image, for any map: the CAM, and the baselines a
reader asks for: ``centre_prior`` (photographers centre things),
``random_maps`` (chance) and ``edge_density`` (text is a dense cluster of
strong edges: a simple image statistic that likes text). ``text_split``
splits images into training and test halves, seeded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from camlib._validate import check_fraction, check_tensor

__all__ = [
    "TextScores",
    "centre_prior",
    "edge_density",
    "per_image_pxap",
    "random_maps",
    "score_text_maps",
    "text_free",
    "text_split",
]

# What marks a COCO image as holding text: a word of its captions, or one of its object categories (a sign, a
# book, a screen, a clock face). The paper's negatives were outdoor SUN scenes without text; a negative that holds
# a street sign would teach the text SVM that signs are not text.
TEXT_WORDS = tuple(
    "sign signs signage text writing written word words letter letters lettering banner billboard "
    "poster logo label number numbers graffiti menu book books newspaper magazine screen clock "
    "license plate advertisement advertising ad ads name says reads read scoreboard jersey shirt".split()
)
TEXT_CATEGORIES = ("stop sign", "parking meter", "book", "clock", "tv", "laptop", "cell phone", "keyboard", "remote")


def text_free(captions: Sequence[str], categories: Sequence[str]) -> bool:
    """Whether an image may serve as a negative of text: no caption names text and no object usually bears it.

    A caption word (lower case, split at anything but letters) of ``TEXT_WORDS``, or a category of
    ``TEXT_CATEGORIES``, marks the image as holding text. Captions miss text that nobody mentioned, so
    this keeps fewer images with text, not none; an image with no captions is not known to be free of text.

    Example:
        >>> text_free(["A dog runs on the beach."], ["dog"]), text_free(["A red stop sign."], ["stop sign"])
        (True, False)
        >>> text_free(["Two men read the paper."], ["person"]), text_free([], ["dog"])
        (False, False)
    """
    if not captions:
        return False
    words = {w for c in captions for w in re.split(r"[^a-z]+", c.lower()) if w}
    return not (words & set(TEXT_WORDS)) and not (set(categories) & set(TEXT_CATEGORIES))


def text_split(n: int, *, train: float = 0.5, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A seeded random split of ``n`` images: ``(train indices, test indices)``, each sorted.

    Example:
        >>> a, b = text_split(10, seed=0)
        >>> len(a), len(b), sorted(a.tolist() + b.tolist()) == list(range(10))
        (5, 5, True)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"`n` must be an int >= 2, but got {n!r}.")
    if not 0 < train < 1:
        raise ValueError(f"`train` must be a fraction in (0, 1), but got {train!r}.")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    k = min(n - 1, max(1, round(train * n)))
    return order[:k].sort().values, order[k:].sort().values


def edge_density(images: Tensor, *, window: int = 16) -> Tensor:
    """``Tensor[N, H, W]``: the Sobel gradient magnitude of each grey image, averaged over a ``window`` square.

    Text is a dense cluster of strong edges, so this map likes text without
    any learning; it is the baseline a detector of text must beat. The
    gradients are ``scipy.ndimage.sobel`` along each axis of the mean of the
    colour channels (borders: ``"nearest"``), their magnitude is averaged by
    ``scipy.ndimage.uniform_filter`` over ``window x window`` pixels (set it
    to the feature cell of the network the map is compared with).

    Args:
        images: ``Tensor[N, C, H, W]`` (any scale; colour channels averaged).
        window: the side of the averaging square in pixels, >= 1.

    Example:
        >>> x = torch.zeros(1, 3, 8, 8); x[..., 4:] = 1.0          # a vertical edge between columns 3 and 4
        >>> e = edge_density(x, window=1)[0]
        >>> bool(e[:, 3:5].min() > 0), float(e[:, :2].max()), float(e[:, 6:].max())
        (True, 0.0, 0.0)
    """
    from scipy import ndimage

    check_tensor("images", images, ndim=4, dims="(N, C, H, W)", floating=True)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"`window` must be an int >= 1 (pixels), but got {window!r}.")
    out = []
    for image in images.detach().cpu().double().mean(1).numpy():  # (H, W) grey
        gx = ndimage.sobel(image, axis=1, mode="nearest")
        gy = ndimage.sobel(image, axis=0, mode="nearest")
        out.append(ndimage.uniform_filter(np.hypot(gx, gy), size=window, mode="nearest"))
    return torch.from_numpy(np.stack(out)).float()


def centre_prior(n: int, size: tuple[int, int]) -> Tensor:
    """``Tensor[N, H, W]``: a map that falls linearly from 1 at the image centre to 0 at the corners.

    Example:
        >>> m = centre_prior(1, (3, 3))[0]
        >>> float(m[1, 1]), float(m[0, 0])
        (1.0, 0.0)
    """
    H, W = size
    y = (torch.arange(H, dtype=torch.float64) + 0.5) / H - 0.5
    x = (torch.arange(W, dtype=torch.float64) + 0.5) / W - 0.5
    r = torch.sqrt(y[:, None] ** 2 + x[None, :] ** 2)
    r = r / r.max() if r.max() > 0 else r
    return (1 - r).float().expand(n, H, W).clone()


def random_maps(n: int, size: tuple[int, int], *, seed: int = 0) -> Tensor:
    """``Tensor[N, H, W]`` of independent uniform values: a map that knows nothing (seeded)."""
    return torch.rand(n, *size, generator=torch.Generator().manual_seed(seed))


def per_image_pxap(maps: Tensor, masks: Tensor, *, thresholds: Sequence[float] | Tensor | None = None) -> Tensor:
    """``Tensor[N]``: each map's PxAP against its own mask (``camlib.metrics.accuracy.pxap`` image by image), at once.

    The same rule as ``camlib.metrics.accuracy.PxAPAccumulator`` (min-max normalized
    maps, the grid's thresholds then 1 and 2, wsolevaluation's sum), with
    the histograms of all the images made in one pass; NaN for an image
    whose mask is empty.

    Example:
        >>> maps = torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]]]); masks = torch.tensor([[[False, True]], [[False, True]]])
        >>> per_image_pxap(maps, masks).tolist()   # a perfect ranking, then the worst (precision 1/2 at full recall)
        [1.0, 0.5]
    """
    from camlib.cam.kernel import normalize_maps
    from camlib.metrics.accuracy import _check_thresholds

    check_tensor("maps", maps, ndim=3, dims="(N, H, W)", floating=True)
    if masks.shape != maps.shape or masks.dtype != torch.bool:
        raise ValueError(
            f"`masks` must be a BoolTensor of the maps' shape {tuple(maps.shape)}, "
            f"but got {masks.dtype} of shape {tuple(masks.shape)}."
        )
    grid = _check_thresholds(thresholds)
    edges = torch.cat([grid, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)])
    bins = len(edges) + 1
    above = torch.bucketize(normalize_maps(maps.cpu(), "minmax").double(), edges, right=True).flatten(1)  # (N, P)
    index = above + bins * torch.arange(len(maps))[:, None]
    flat = masks.cpu().flatten(1)
    positive = torch.bincount(index[flat], minlength=bins * len(maps)).view(len(maps), bins)
    negative = torch.bincount(index[~flat], minlength=bins * len(maps)).view(len(maps), bins)
    tp = positive.flip(1).cumsum(1).flip(1)[:, 1:-1].double()  # (N, T + 2): pixels at or above each edge
    fp = negative.flip(1).cumsum(1).flip(1)[:, 1:-1].double()
    precision = tp / (tp + fp).clamp(min=1)
    recall = tp / tp[:, :1].clamp(min=1)
    gain = precision[:, :-1] * (recall[:, :-1] - recall[:, 1:])
    value = (gain * ((tp + fp)[:, :-1] > 0)).sum(1)
    return torch.where(tp[:, 0] > 0, value, torch.nan)


class TextScores(NamedTuple):
    """Per image, how a map finds its words (``score_text_maps``); all ``Tensor[N]``, float64.

    Attributes:
        pointing: 1 when the map's maximum falls on a word (any word, legible or not), else 0.
        touched: the share of the image's legible words that the high region
            touches (at least one pixel); NaN for an image without a legible word.
        precision: the share of the high region's pixels that are on words; NaN when the region is empty.
        box_iou: the best IoU of the map's box (the paper's rule) with a word's
            box or with the box around all the words.
        pxap: the average precision of the map's values as a per-pixel text
            detector on the image (``camlib.metrics.accuracy.pxap``).
        region: the high region's share of the image (what ``touched`` and
            ``precision`` are to be read against: a region of 80% touches
            nearly every word).
    """

    pointing: Tensor
    touched: Tensor
    precision: Tensor
    box_iou: Tensor
    pxap: Tensor
    region: Tensor


def score_text_maps(
    maps: Tensor, words: Sequence[Tensor], legible: Sequence[Tensor], *, threshold: float = 0.2
) -> TextScores:
    """Score maps as text detectors against each image's word masks.

    The high region is ``camlib.foreground(maps, threshold)`` (pixels
    strictly above ``threshold`` times the map's maximum); the map's box is
    ``camlib.boxes_from_maps(maps, threshold)`` (the largest connected part of
    that region, the paper's protocol).

    Args:
        maps: ``Tensor[N, H, W]``.
        words: per image, ``BoolTensor[m_i, H, W]``: every word's mask (``m_i >= 1``).
        legible: per image, ``BoolTensor[m_i]``: which words are legible.
        threshold: the fraction of the maximum.

    Raises:
        ValueError: an image without words, or masks in another frame.

    Example:
        >>> maps = torch.zeros(1, 4, 6); maps[0, 1, 1:3] = 1.0
        >>> w = torch.zeros(2, 4, 6, dtype=torch.bool); w[0, 1, 0:3] = True; w[1, 3, 5] = True
        >>> s = score_text_maps(maps, [w], [torch.tensor([True, True])])
        >>> s.pointing.item(), s.touched.item(), s.precision.item()
        (1.0, 0.5, 1.0)
    """
    from camlib.boxes.from_maps import boxes_from_maps, boxes_from_masks, foreground
    from camlib.boxes.geometry import best_iou
    from camlib.study.pointing import peaks

    check_tensor("maps", maps, ndim=3, dims="(N, H, W)", floating=True)
    check_fraction("threshold", threshold)
    if not (len(words) == len(legible) == len(maps)):
        raise ValueError(
            f"`words` and `legible` must hold one entry per map ({len(maps)}), but got {len(words)} and {len(legible)}."
        )
    maps = maps.detach().cpu()
    size = tuple(maps.shape[1:])
    for i, (w, keep) in enumerate(zip(words, legible)):
        if w.ndim != 3 or tuple(w.shape[1:]) != size or len(w) == 0 or w.dtype != torch.bool:
            raise ValueError(
                f"`words[{i}]` must be a BoolTensor[m >= 1, {size[0]}, {size[1]}], "
                f"but got {w.dtype} of shape {tuple(w.shape)}."
            )
        if tuple(keep.shape) != (len(w),):
            raise ValueError(
                f"`legible[{i}]` must hold one flag per word ({len(w)}), but got shape {tuple(keep.shape)}."
            )
    text = torch.stack([w.any(0) for w in words])  # (N, H, W): any word, legible or not
    regions = foreground(maps, threshold)
    top = peaks(maps)
    n = torch.arange(len(maps))
    out = {"pointing": text[n, top[:, 0], top[:, 1]].double(), "pxap": per_image_pxap(maps, text)}
    area = regions.flatten(1).sum(1)
    out["region"] = area.double() / regions[0].numel() if len(regions) else area.double()
    on_text = (regions & text).flatten(1).sum(1)
    out["precision"] = torch.where(area > 0, on_text.double() / area.clamp(min=1), torch.nan)
    out["touched"] = torch.tensor(
        [
            (w[keep] & r).flatten(1).any(1).double().mean().item() if keep.any() else math.nan
            for w, keep, r in zip(words, legible, regions)
        ],
        dtype=torch.float64,
    )
    boxes = boxes_from_maps(maps, threshold).cpu()
    each = boxes_from_masks(torch.cat(list(words)), mode="union")  # every word's box, image after image
    whole = boxes_from_masks(text, mode="union")  # the box around all the words of each image
    targets = [torch.cat([b, g[None]]) for b, g in zip(each.split([len(w) for w in words]), whole)]
    out["box_iou"] = best_iou(boxes, targets).double()
    return TextScores(**out)


__all__ += ["breakdown", "svm_maps", "word_heights"]


def svm_maps(model, dataset, svm, label: int, *, batch_size: int = 8, channels_last: bool = True) -> Tensor:
    """``Tensor[N, h, w]``: the class map of ``label`` by a linear SVM on ``model``'s GAP features, for every image.

    One pass of ``model`` over ``dataset`` (``camlib.study.features.extract_features`` a
    batch at a time); each batch's unpooled features become
    ``sum_k w_k^label f_k`` at once and are dropped, so the memory holds the
    maps only (the features of a large input are 512 values per cell).
    """
    from torch.utils.data import DataLoader

    from camlib.data.batch import collate
    from camlib.study.features import extract_features

    out = []
    for batch in DataLoader(dataset, batch_size, collate_fn=collate):
        f = extract_features(model, [batch], keep_maps=True, channels_last=channels_last, progress=False)
        out.append(svm.cams(f.maps, torch.full((len(f.maps), 1), label, dtype=torch.long))[:, 0])
    return torch.cat(out)


def word_heights(words: Sequence[Tensor], legible: Sequence[Tensor]) -> Tensor:
    """``Tensor[N]``: per image, the median height (pixels) of its legible words' boxes; NaN without one.

    Example:
        >>> w = torch.zeros(2, 9, 9, dtype=torch.bool); w[0, 1:4, 1:5] = True; w[1, 5:9, 0:2] = True
        >>> word_heights([w], [torch.tensor([True, False])]).tolist()
        [3.0]
    """
    from camlib.boxes.from_maps import boxes_from_masks

    out = torch.full((len(words),), float("nan"), dtype=torch.float64)
    for i, (w, keep) in enumerate(zip(words, legible)):
        if keep.any():
            b = boxes_from_masks(w[keep], mode="union")
            out[i] = (b[:, 3] - b[:, 1] + 1).double().median()
    return out


def breakdown(scores: dict[str, Tensor], key: Tensor, edges: Sequence[float], *, name: str = "level") -> list[dict]:
    """Rows of each score's mean (percent) per bin of ``key``: how a result depends on a property of the images.

    Bin ``j`` holds the images with ``edges[j] <= key < edges[j + 1]``; images
    whose ``key`` is NaN, and NaN scores, are left out of the means.

    Example:
        >>> breakdown({"hit": torch.tensor([1.0, 0.0, 1.0])}, torch.tensor([1.0, 5.0, 6.0]), [0, 4, 8])
        [{'level': '0-4', 'images': 1, 'hit': 100.0}, {'level': '4-8', 'images': 2, 'hit': 50.0}]
    """
    rows = []
    for lo, hi in pairwise(edges):
        inside = (key >= lo) & (key < hi)
        row = {name: f"{lo:g}-{hi:g}", "images": int(inside.sum())}
        for k, v in scores.items():
            chosen = v[inside].double()
            chosen = chosen[~chosen.isnan()]
            row[k] = 100 * chosen.mean().item() if len(chosen) else float("nan")
        rows.append(row)
    return rows
