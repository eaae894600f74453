"""Negative controls: the same measurement where the paper's claim is known to be false.

A test that cannot fail proves nothing. Beside a row of the book, a chapter computes its effect
once more with the claimed-better method *broken* in a way that keeps everything else as it was
(the same images, the same ground truth, the same rule), and the row's rule must then read
*not reproduced* (``camlib.book.report.ClaimTable.add(controls=...)``):

- ``derangement``: a seeded permutation with no fixed point, so that every image gets another
  image's output (Sattolo's algorithm: one cycle through all the images).
- ``other_images``: a ``LocalizationResult`` in which every image's predictions (classes,
  scores, boxes, the true class's box) are another image's; the ground truth stays. Its
  classification and localization are then chance-level by construction.
- ``other_box_hits`` and ``other_class_correct``: the same for a bare list of boxes or of predicted
  classes (a crop study's CAM boxes, an SVM's answers).
- ``mirror_region_ious``: a class's region against its own region on the mirrored image: the same
  region, where "two regions differ" must not hold.
- ``control_runs``: ``compare_heads``' runs with one method's results replaced by ``other_images``,
  ready for ``seed_effect`` and ``versus_baseline`` exactly as the row computes its effect.
- ``other_map_hits``: pointing and box hits of maps scored against another item's targets (a
  concept's or a class's map from another pair).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "control_runs",
    "derangement",
    "mirror_region_ious",
    "other_box_hits",
    "other_class_correct",
    "other_images",
    "other_map_hits",
]


def derangement(n: int, seed: int = 0) -> Tensor:
    """``LongTensor[n]``: a seeded permutation ``p`` of ``0 .. n-1`` with ``p[i] != i`` for every ``i``.

    Sattolo's algorithm (a Fisher-Yates shuffle that never swaps an element with itself) draws a
    uniformly random cyclic permutation, which has no fixed point.

    Raises:
        ValueError: ``n < 2`` (one image has no other image).

    Example:
        >>> p = derangement(5, seed=0)
        >>> sorted(p.tolist()), bool((p != torch.arange(5)).all())
        ([0, 1, 2, 3, 4], True)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"`n` must be an int >= 2 (every image needs another one), but got {n!r}.")
    g = torch.Generator().manual_seed(seed)
    p = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(torch.randint(0, i, (1,), generator=g))  # j < i: never itself
        p[i], p[j] = p[j], p[i]
    return torch.tensor(p, dtype=torch.long)


def other_images(result: Any, seed: int = 0) -> Any:
    """The ``LocalizationResult`` (or pooling head's ``HeadScore``) of a method that answers every image with
    another image's output.

    Image ``i`` gets the top-k classes, scores and boxes, and the true class's box, of image ``p[i]``
    (``p = derangement(N, seed)``), and so do the top-5 heuristic's guesses where there are any; its
    labels and ground-truth boxes stay its own, and the hits and the GT-known IoU are computed again from
    them (``camlib.boxes.geometry.best_iou``). The measures that need the maps (MaxBoxAcc, mask
    coverage) are dropped (None).
    The boxes must share one frame (the evaluation's input size), as ``evaluate_localization``'s do.

    Example:
        >>> from camlib.metrics.evaluate import LocalizationResult
        >>> gt = [torch.tensor([[0, 0, 9, 9]]), torch.tensor([[20, 20, 29, 29]])]
        >>> boxes = torch.tensor([[[0, 0, 9, 9]], [[20, 20, 29, 29]]])   # each image's box is right
        >>> r = LocalizationResult("cam", 0.2, "largest", torch.tensor([0, 1]), torch.tensor([[0], [1]]),
        ...                        torch.zeros(2, 1), boxes, torch.ones(2, 1, dtype=torch.bool), gt,
        ...                        boxes[:, 0], torch.ones(2))
        >>> c = other_images(r)
        >>> c.hits.tolist(), c.true_iou.tolist()                          # the other image's answers miss
        ([[False], [False]], [0.0, 0.0])
    """
    from camlib.boxes.geometry import best_iou

    if hasattr(result, "localized"):  # a pooling head's HeadScore (camlib.study.experiments)
        return _other_images_of_head(result, seed)
    n = len(result.labels)
    p = derangement(n, seed)
    classes, boxes, true_boxes = result.classes[p], result.boxes[p], result.true_boxes[p]
    correct = classes == result.labels[:, None]  # (N, k)
    hits = correct & (best_iou(boxes, result.gt_boxes) >= 0.5)  # (N, k)
    h_classes = h_boxes = h_hits = None
    if result.heuristic_hits is not None:
        h_classes, h_boxes = result.heuristic_classes[p], result.heuristic_boxes[p]
        h_hits = (h_classes == result.labels[:, None]) & (best_iou(h_boxes, result.gt_boxes) >= 0.5)
    return dataclasses.replace(
        result,
        classes=classes,
        scores=result.scores[p],
        boxes=boxes,
        hits=hits,
        true_boxes=true_boxes,
        true_iou=best_iou(true_boxes, result.gt_boxes),
        heuristic_classes=h_classes,
        heuristic_boxes=h_boxes,
        heuristic_hits=h_hits,
        box_acc=None,
        box_acc_v2=None,
        box_acc_wsol=None,
        box_acc_v2_wsol=None,
        mask_coverage=None,
        fg_precision=None,
        parts_found=None,
        maps=None,
    )


def _other_images_of_head(score: Any, seed: int) -> Any:
    """``other_images`` for a ``HeadScore``: the predicted class and both boxes from another image."""
    import math

    from camlib.boxes.geometry import best_iou

    if score.boxes is None or score.labels is None or score.gt_boxes is None:
        raise ValueError("`result` must keep its labels, boxes and ground truth (score_pooling_head's), but got none.")
    p = derangement(len(score.labels), seed)
    predicted, boxes = score.predicted[p], score.boxes[p]
    correct = predicted == score.labels
    return dataclasses.replace(
        score,
        predicted=predicted,
        correct=correct,
        gt_known=best_iou(boxes[:, 1], score.gt_boxes) >= 0.5,
        localized=correct & (best_iou(boxes[:, 0], score.gt_boxes) >= 0.5),
        maxboxaccv2=math.nan,
        boxes=boxes,
    )


def control_runs(runs: Sequence[Any], method: str, seed: int = 0) -> list[Any]:
    """``compare_heads``' runs with ``method``'s results answered from other images (``other_images``).

    Raises:
        ValueError: no run of ``method``.
    """
    if not any(r.name == method for r in runs):
        raise ValueError(
            f"`method` must name a method of the runs {sorted({r.name for r in runs})}, but got {method!r}."
        )
    return [dataclasses.replace(r, result=other_images(r.result, seed)) if r.name == method else r for r in runs]


def other_box_hits(boxes: Tensor, gt_boxes: Sequence[Tensor], seed: int = 0, iou: float = 0.5) -> Tensor:
    """``DoubleTensor[N]``: 1.0 where image ``p[i]``'s box hits image ``i``'s ground truth (IoU >= ``iou``).

    ``boxes`` is ``LongTensor[N, 4]`` in the frame of ``gt_boxes`` (``N`` tensors ``[m_i, 4]``); ``p`` is
    ``derangement(N, seed)``.

    Example:
        >>> gt = [torch.tensor([[0, 0, 9, 9]]), torch.tensor([[20, 20, 29, 29]])]
        >>> other_box_hits(torch.tensor([[0, 0, 9, 9], [20, 20, 29, 29]]), gt).tolist()
        [0.0, 0.0]
    """
    from camlib.boxes.geometry import best_iou

    if len(boxes) != len(gt_boxes):
        raise ValueError(f"`boxes` and `gt_boxes` must be one per image, but got {len(boxes)} and {len(gt_boxes)}.")
    p = derangement(len(boxes), seed)
    return (best_iou(boxes[p], list(gt_boxes)) >= iou).double()


def other_class_correct(predicted: Tensor, labels: Tensor, seed: int = 0) -> Tensor:
    """``DoubleTensor[N]``: 1.0 where image ``p[i]``'s predicted class is image ``i``'s label (``p = derangement``).

    Example:
        >>> other_class_correct(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2])).tolist()
        [0.0, 0.0, 0.0]
    """
    if predicted.shape != labels.shape or predicted.ndim != 1:
        raise ValueError(
            f"`predicted` and `labels` must be 1-D and of one length, but got {tuple(predicted.shape)} and "
            f"{tuple(labels.shape)}."
        )
    p = derangement(len(labels), seed)
    return (predicted.cpu()[p] == labels.cpu()).double()


@torch.no_grad()
def mirror_region_ious(
    model: torch.nn.Module, images: Tensor, classes: Tensor, sizes: Sequence[tuple[int, int]], threshold: float = 0.2
) -> Tensor:
    """``Tensor[N * k]``: each class's region on each image against its region on the mirrored image.

    For image ``i`` and class ``classes[i, j]``: the class's map on the image and on the image flipped left to
    right (``camlib.compute_cams``), the second flipped back, both upsampled to ``sizes[i]`` and divided by their
    maximum as the chapter shows them; then ``camlib.metrics.accuracy.region_overlap``'s IoU of the two regions
    (pixels above ``threshold`` of the maximum). Image-major order: ``[i0 j0, i0 j1, ..., i1 j0, ...]``.

    Args:
        model: a GAP network (eval mode).
        images: ``Tensor[N, 3, H, W]``, preprocessed, on the model's device.
        classes: ``LongTensor[N, k]``, the classes whose regions are compared.
        sizes: ``N`` sizes ``(height, width)``, each image's own.
        threshold: the region's fraction of the map's maximum.
    """
    from camlib.cam.extractor import compute_cams
    from camlib.cam.kernel import normalize_maps, resize_maps
    from camlib.metrics.accuracy import region_overlap

    if len(sizes) != len(images) or classes.shape[0] != len(images):
        raise ValueError(
            f"`classes` and `sizes` must be one per image ({len(images)}), but got {classes.shape[0]} and {len(sizes)}."
        )
    plain = compute_cams(model, images, classes).maps  # (N, k, h, w)
    mirrored = compute_cams(model, images.flip(-1), classes).maps.flip(-1)
    ious = []
    for i, size in enumerate(sizes):
        a, b = (normalize_maps(resize_maps(m[i : i + 1], size), "max")[0].cpu() for m in (plain, mirrored))
        ious += [region_overlap(torch.stack([a[j], b[j]]), threshold).iou[0] for j in range(classes.shape[1])]
    return torch.stack(ious)


def other_map_hits(
    maps: Tensor,
    targets: Tensor | Sequence[Tensor],
    *,
    tolerance: int = 0,
    threshold: float | None = None,
    seed: int = 0,
) -> dict[str, Tensor]:
    """Each item scored with item ``p[i]``'s map (``p = derangement(N, seed)``): its pointing hit and, for box
    targets with a ``threshold``, its box hit.

    The row's own measures, where the map is another item's (another image's, or on the same image another
    concept's): ``"point"``, the map's maximum on item ``i``'s target within ``tolerance`` pixels
    (``camlib.study.pointing.pointing_hits``); ``"box"``, the paper's box at ``threshold`` of that map with IoU
    >= 0.5 with one of item ``i``'s boxes (``camlib.boxes.from_maps.boxes_from_maps``, ``best_iou``).

    Args:
        maps: ``Tensor[N, H, W]``, in the targets' frame.
        targets: ``BoolTensor[N, H, W]`` masks (or a list of ``N`` masks), or ``N`` tensors of inclusive boxes
            ``[m_i, 4]``.
        tolerance: the pointing tolerance in pixels.
        threshold: the box rule's fraction of the maximum (None: no box hits; masks have none).
        seed: the derangement's seed.

    Returns:
        ``{"point": DoubleTensor[N]}``, and ``"box"`` with box targets and a threshold.

    Example:
        >>> m = torch.zeros(2, 8, 8); m[0, 1, 1] = 1.0; m[1, 6, 6] = 1.0       # each map peaks on its own box
        >>> boxes = [torch.tensor([[0, 0, 2, 2]]), torch.tensor([[5, 5, 7, 7]])]
        >>> {k: v.tolist() for k, v in other_map_hits(m, boxes, threshold=0.5).items()}
        {'point': [0.0, 0.0], 'box': [0.0, 0.0]}
    """
    from camlib.boxes.from_maps import boxes_from_maps
    from camlib.boxes.geometry import best_iou
    from camlib.study.pointing import pointing_hits

    if len(targets) != len(maps):
        raise ValueError(f"`targets` must hold one target per map ({len(maps)}), but got {len(targets)}.")
    if not isinstance(targets, Tensor) and len(targets) and all(t.dtype == torch.bool for t in targets):
        targets = torch.stack(list(targets))  # masks kept one per item (``ConceptPairs.targets``)
    p = derangement(len(maps), seed)
    other = maps[p]
    out = {"point": pointing_hits(other, targets, tolerance=tolerance).double()}
    if threshold is not None and not isinstance(targets, Tensor):
        out["box"] = (
            best_iou(boxes_from_maps(other, threshold).cpu(), [t.reshape(-1, 4) for t in targets]) >= 0.5
        ).double()
    return out
