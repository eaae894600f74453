"""Why a localization fails, image by image; and a network's classification errors on a loader.

``failure_reasons`` sorts each image by what its top-1 guess got wrong,
the reading of the paper's Fig. 6 and of Choe et al.'s error analysis:

- **localized**: the right class, and its box has IoU >= ``iou_threshold``
  with one of the image's ground-truth boxes (the ILSVRC rule);
- **wrong class**: the guess is not the label (its box does not matter);
- the right class with a box that misses: **box too small** when the box
  has fewer pixels than the ground-truth box it overlaps most (the map lights
  only the most discriminative part), else **box too large** (the map spreads
  over context, or over several objects: **box too large, several objects**
  when the image has more than one ground-truth box, **box too large, one
  object** otherwise).

Boxes and areas follow ``camlib.boxes.geometry`` (inclusive pixel boxes
``(x1, y1, x2, y2)``, ``|b| = (x2 - x1 + 1)(y2 - y1 + 1)``).
``classification_errors`` runs any classifier (GAP, FC or box head) over a
loader and restores every submodule's training flag afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import torch
from PIL import Image
from torch import Tensor, nn

from camlib._validate import check_fraction, check_size, check_tensor
from camlib.boxes.geometry import box_area, box_iou, check_boxes
from camlib.metrics.accuracy import top_k_error

__all__ = [
    "REASONS",
    "ClassificationErrors",
    "area_share",
    "classification_errors",
    "examples_by_reason",
    "failure_reasons",
    "reason_counts",
]

REASONS = ("localized", "box too small", "box too large, one object", "box too large, several objects", "wrong class")


def failure_reasons(
    predicted: Tensor,
    labels: Tensor,
    boxes: Tensor,
    gt_boxes: Sequence[Tensor],
    *,
    iou_threshold: float = 0.5,
) -> list[str]:
    """The outcome of each image's top-1 guess, one of ``REASONS`` (the rule is in the module docstring).

    Ties: the ground-truth box "it overlaps most" is the first of the
    largest IoU (also when the box overlaps none of them, IoU 0 with all);
    a box exactly as large as that ground-truth box counts as too large.

    Args:
        predicted (LongTensor[N]): the top-1 class of each image.
        labels (LongTensor[N]): the true classes.
        boxes (LongTensor[N, 4]): the box of each top-1 guess.
        gt_boxes: ``N`` tensors ``LongTensor[G_i, 4]``, ``G_i >= 1``.
        iou_threshold: the hit rule's IoU, in ``(0, 1]``.

    Returns:
        ``N`` strings of ``REASONS``.

    Raises:
        TypeError: a tensor that is not an integer tensor.
        ValueError: shapes that disagree, or an image without a ground-truth box.

    Example:
        >>> gt = [torch.tensor([[0, 0, 9, 9]])] * 3
        >>> boxes = torch.tensor([[0, 0, 9, 9], [0, 0, 3, 3], [0, 0, 9, 9]])  # the object; 16 of its 100 px
        >>> failure_reasons(torch.tensor([1, 1, 2]), torch.tensor([1, 1, 1]), boxes, gt)
        ['localized', 'box too small', 'wrong class']
    """
    iou_threshold = check_fraction("iou_threshold", iou_threshold)
    if iou_threshold == 0:
        raise ValueError("`iou_threshold` must be in (0, 1], but got 0.")
    predicted = check_tensor("predicted", predicted, ndim=1, dims="(N,)", integer=True).cpu()
    labels = check_tensor("labels", labels, ndim=1, dims="(N,)", integer=True).cpu()
    boxes = check_boxes("boxes", boxes, dims="(N, 4)").long().cpu()
    n = len(predicted)
    if len(labels) != n or len(boxes) != n or len(gt_boxes) != n:
        raise ValueError(
            f"`labels`, `boxes` and `gt_boxes` must have one entry per image of `predicted` ({n}), "
            f"but got {len(labels)}, {len(boxes)} and {len(gt_boxes)}."
        )
    reasons = []
    for i in range(n):
        gt = check_boxes(f"gt_boxes[{i}]", gt_boxes[i], dims="(G, 4)").long().cpu()
        if len(gt) == 0:
            raise ValueError(f"`gt_boxes[{i}]` must hold at least one box (G >= 1), but holds none.")
        iou = box_iou(boxes[i][None], gt)[0]  # (G,)
        if predicted[i] != labels[i]:
            reasons.append("wrong class")
        elif iou.max() >= iou_threshold:
            reasons.append("localized")
        elif box_area(boxes[i][None])[0] < box_area(gt[iou.argmax()][None])[0]:
            reasons.append("box too small")
        else:
            reasons.append("box too large, several objects" if len(gt) > 1 else "box too large, one object")
    return reasons


def _check_reasons(reasons: object) -> list[str]:
    if isinstance(reasons, (str, bytes)) or not isinstance(reasons, Iterable):
        raise TypeError(f"`reasons` must be a sequence of strings of {REASONS}, but got {type(reasons).__name__}.")
    reasons = list(reasons)
    unknown = sorted(set(reasons) - set(REASONS))
    if unknown:
        raise ValueError(f"`reasons` must hold only {REASONS}, but holds {unknown}.")
    return reasons


def reason_counts(reasons: Sequence[str]):
    """How many images fall in each group, and their share in percent: a table, most frequent first.

    Groups with no image are left out; groups with the same count keep the order of ``REASONS``.

    Returns:
        ``pandas.DataFrame`` indexed by the reason (``"top-1 outcome"``) with
        columns ``"percent of images"`` and ``"images"``.

    Example:
        >>> reason_counts(["wrong class", "localized", "wrong class", "box too small"]).to_dict("list")
        {'percent of images': [50.0, 25.0, 25.0], 'images': [2, 1, 1]}
    """
    import pandas as pd

    reasons = _check_reasons(reasons)
    if not reasons:
        raise ValueError("`reasons` must hold at least one image, but holds none.")
    counts = {r: reasons.count(r) for r in REASONS if r in reasons}
    order = sorted(counts, key=lambda r: (-counts[r], REASONS.index(r)))
    table = pd.DataFrame(
        {"percent of images": [100 * counts[r] / len(reasons) for r in order], "images": [counts[r] for r in order]},
        index=pd.Index(order, name="top-1 outcome"),
    )
    return table


def examples_by_reason(reasons: Sequence[str], per_reason: int) -> dict[str, list[int]]:
    """The first ``per_reason`` images of each group, groups in the order of ``REASONS`` (empty ones left out).

    Example:
        >>> examples_by_reason(["wrong class", "localized", "wrong class", "localized", "localized"], 2)
        {'localized': [1, 3], 'wrong class': [0, 2]}
    """
    reasons = _check_reasons(reasons)
    if isinstance(per_reason, bool) or not isinstance(per_reason, int) or per_reason < 1:
        raise ValueError(f"`per_reason` must be a positive int, but got {per_reason!r}.")
    return {r: [i for i, x in enumerate(reasons) if x == r][:per_reason] for r in REASONS if r in reasons}


def area_share(boxes: Tensor | Sequence[Tensor], size: int | tuple[int, int]) -> Tensor:
    """Each image's box area as a share of the image, ``|b| / (H W)``.

    Args:
        boxes: ``LongTensor[N, 4]`` (one box per image), or ``N`` tensors
            ``LongTensor[G_i, 4]`` (ground truth: the largest box of each image, 0 without any).
        size: ``(H, W)`` of the images, or an int ``S``.

    Returns:
        ``Tensor[N]``, float64, in (0, 1] (0 only for an image without a box).

    Example:
        >>> area_share(torch.tensor([[0, 0, 9, 9], [0, 0, 19, 9]]), 20)     # 100 and 200 of 400 pixels
        tensor([0.2500, 0.5000], dtype=torch.float64)
        >>> area_share([torch.tensor([[0, 0, 9, 9], [0, 0, 1, 1]]), torch.zeros(0, 4, dtype=torch.long)], 20)
        tensor([0.2500, 0.0000], dtype=torch.float64)
    """
    H, W = check_size("size", size)
    if isinstance(boxes, Tensor):
        areas = box_area(check_boxes("boxes", boxes, dims="(N, 4)").long()).double()  # (N,)
    elif isinstance(boxes, Sequence) and not isinstance(boxes, (str, bytes)):
        areas = torch.tensor(
            [
                float(box_area(check_boxes(f"boxes[{i}]", b, dims="(G, 4)").long()).max()) if len(b) else 0.0
                for i, b in enumerate(boxes)
            ],
            dtype=torch.float64,
        )
    else:
        raise TypeError(
            f"`boxes` must be a LongTensor[N, 4] or a list of N tensors LongTensor[G_i, 4], "
            f"but got {type(boxes).__name__}."
        )
    return areas.cpu() / (H * W)


class ClassificationErrors(NamedTuple):
    """What ``classification_errors`` returns.

    Attributes:
        top1_err, top5_err: the top-1 and top-5 classification errors, in percent
            (top-5: top-``min(5, C)`` with ``C`` classes).
        predicted (LongTensor[N]): the top-1 class of each image.
        labels (LongTensor[N]): the true classes, in the loader's order.
    """

    top1_err: float
    top5_err: float
    predicted: Tensor
    labels: Tensor


@torch.no_grad()
def classification_errors(
    model: nn.Module, loader: Iterable, *, device: str | torch.device | None = None
) -> ClassificationErrors:
    """A classifier's top-1 and top-5 error on a loader, with every submodule's training flag restored.

    Works for any head: the logits are the model's output, or its ``.logits``
    (``camlib.models.BoxNet``). The model runs in eval mode (dropout off, BatchNorm's
    running statistics), under ``torch.no_grad``.

    Args:
        model: the classifier.
        loader: an iterable of ``camlib.data.Batch`` (``images``, ``labels``).
        device: where to run; default the model's device.

    Returns:
        ``ClassificationErrors(top1_err, top5_err, predicted, labels)``.

    Raises:
        ValueError: an empty loader.
    """
    if device is None:
        device = next(model.parameters()).device
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    logits, labels = [], []
    try:
        for batch in loader:
            out = model(batch.images.to(device))
            logits.append(getattr(out, "logits", out).float().cpu())
            labels.append(batch.labels.cpu())
    finally:
        for module, training in modes:
            module.training = training
    if not logits:
        raise ValueError("`loader` must yield at least one batch, but it yielded none.")
    logits, labels = torch.cat(logits), torch.cat(labels)  # (N, C), (N,)
    top = logits.topk(min(5, logits.shape[1]), dim=1).indices  # (N, k)
    correct = top == labels[:, None]
    return ClassificationErrors(100 * top_k_error(correct, 1), 100 * top_k_error(correct), top[:, 0], labels)


class _Images(NamedTuple):  # what classification_errors reads of a batch
    images: Tensor
    labels: Tensor


def classify_photos(
    model: nn.Module,
    dataset: Sequence,
    preprocess: Callable[[Sequence], Tensor],
    *,
    batch_size: int = 25,
    device: str | torch.device | None = None,
) -> ClassificationErrors:
    """``classification_errors`` on a reader's photographs under a preprocessing of their own.

    The localization passes resize each photograph straight to the input with
    its boxes; classification is usually scored on the centre crop of a
    resized photograph instead (``camlib.Preprocess(224, convention, resize=256)``),
    which no box can follow. This scores the images alone.

    Args:
        model: the classifier.
        dataset: items with ``.image`` (a PIL image: a reader of ``camlib.data`` without a transform)
            and ``.label``.
        preprocess: turns a list of PIL images into ``Tensor[N, 3, H, W]`` (``camlib.Preprocess.batch``).
        batch_size: images per forward pass.
        device: where to run; default the model's device.

    Raises:
        ValueError: an empty dataset; TypeError: items without PIL images.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be an int >= 1, but got {batch_size!r}.")

    def batches():
        for start in range(0, len(dataset), batch_size):
            items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            if not all(isinstance(it.image, Image.Image) for it in items):
                raise TypeError(
                    "`dataset` must hold PIL images (a reader without a transform), but item "
                    f"{start} holds {type(items[0].image).__name__}."
                )
            yield _Images(preprocess([it.image for it in items]), torch.tensor([int(it.label) for it in items]))

    return classification_errors(model, batches(), device=device)


__all__ += ["calibrated_box_hits", "classify_photos"]


def calibrated_box_hits(
    maps: Tensor,
    gt_boxes: Sequence[Tensor],
    thresholds: Sequence[float],
    *,
    calibrate: Tensor,
    iou_threshold: float = 0.5,
) -> tuple[float, Tensor]:
    """A map method at its own best threshold: chosen on some images, scored on the others.

    For each threshold ``t`` of ``thresholds``, every map gets its box by the
    paper's protocol (``camlib.boxes_from_maps(maps, t)``: the largest
    8-connected component above ``t`` of the map's maximum) and a hit when its
    best IoU with the image's ground-truth boxes is ``>= iou_threshold``
    (GT-known). The threshold with the most hits on the ``calibrate`` images
    (the first of equals) is the method's own; the result is the hits of the
    *other* images at it, so that the threshold is never fitted on the images
    it is scored on (Choe et al.'s held-out calibration).

    Args:
        maps: ``Tensor[N, H, W]``, the true class's map of each image (``keep_maps``).
        gt_boxes: ``N`` tensors ``LongTensor[G_i, 4]``, ``(x1, y1, x2, y2)`` inclusive, in the maps' frame.
        thresholds: the candidate thresholds, fractions of each map's maximum, at least one.
        calibrate: ``BoolTensor[N]``, True for the images that choose the threshold;
            at least one True and one False.
        iou_threshold: in ``(0, 1]``.

    Returns:
        ``(threshold, hits)``: the chosen threshold and ``BoolTensor[M]`` of the
        ``M`` other images' hits, in their order.

    Raises:
        ValueError: no thresholds, or ``calibrate`` not a BoolTensor[N] with both values.

    Example:
        >>> m = torch.zeros(2, 8, 8); m[:, 2:6, 2:6] = 1.0; m[:, 0, 0] = 0.5   # a block, and a weaker corner pixel
        >>> gt = [torch.tensor([[2, 2, 5, 5]])] * 2
        >>> calibrated_box_hits(m, gt, [0.2, 0.8], calibrate=torch.tensor([True, False]))  # 0.2: the block still wins
        (0.2, tensor([True]))
    """
    from camlib.boxes.from_maps import boxes_from_maps
    from camlib.boxes.geometry import best_iou

    check_tensor("maps", maps, dims="(N, H, W)", ndim=3)
    if len(thresholds) == 0:
        raise ValueError("`thresholds` must hold at least one threshold, but got none.")
    if not isinstance(calibrate, Tensor) or calibrate.dtype != torch.bool or calibrate.shape != (len(maps),):
        raise ValueError(
            f"`calibrate` must be a BoolTensor[{len(maps)}], but got "
            f"{getattr(calibrate, 'dtype', type(calibrate).__name__)} of shape {getattr(calibrate, 'shape', '?')}."
        )
    if calibrate.all() or not calibrate.any():
        raise ValueError(
            "`calibrate` must mark some images to calibrate on and some to score, but marks "
            f"{int(calibrate.sum())} of {len(calibrate)}."
        )
    iou_threshold = check_fraction("iou_threshold", iou_threshold)
    hits = torch.stack(
        [best_iou(boxes_from_maps(maps, float(t)).cpu(), list(gt_boxes)) >= iou_threshold for t in thresholds], dim=1
    )  # (N, T)
    best = int(hits[calibrate.cpu()].double().mean(0).argmax())  # argmax: the first of equals
    return float(thresholds[best]), hits[~calibrate.cpu(), best]


__all__ += ["OwnThresholds", "own_threshold_hits"]


class OwnThresholds(NamedTuple):
    """Several map methods, each at its own best threshold (``own_threshold_hits``).

    Attributes:
        thresholds: per method, the threshold its calibration half chose.
        hits: per method, ``BoolTensor[M]``: the hits of the other images at it (the same images for every method).
        calibrate: ``BoolTensor[N]``, True for the images that chose.
    """

    thresholds: dict[str, float]
    hits: dict[str, Tensor]
    calibrate: Tensor


def own_threshold_hits(results: dict, thresholds: Sequence[float], *, seed: int = 0) -> OwnThresholds:
    """Each method at its own best threshold, chosen on a random half of the images and scored on the other half.

    ``results`` maps a method's name to its ``LocalizationResult`` on the same
    images in the same order, with ``maps`` (``keep_maps=True``); the half
    (``N // 2`` images drawn by ``torch.randperm`` seeded with ``seed``) is the
    same for every method, so their hits pair up image by image
    (``calibrated_box_hits``).

    Raises:
        ValueError: a result without maps, or results of different lengths.
    """
    lengths = {len(r.gt_boxes) for r in results.values()}
    if len(lengths) != 1 or any(r.maps is None for r in results.values()):
        raise ValueError(
            "`results` must hold results with maps (keep_maps=True) on the same images, but got lengths "
            f"{sorted(lengths)} and maps for {[n for n, r in results.items() if r.maps is not None]}."
        )
    n = lengths.pop()
    half = torch.zeros(n, dtype=torch.bool)
    half[torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: n // 2]] = True
    chosen = {
        name: calibrated_box_hits(r.maps, r.gt_boxes, list(thresholds), calibrate=half) for name, r in results.items()
    }
    return OwnThresholds({k: t for k, (t, _) in chosen.items()}, {k: h for k, (_, h) in chosen.items()}, half)
