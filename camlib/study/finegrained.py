"""Fine-grained recognition on crops around boxes, and how well the boxes localize (Zhou et al. 2016, Sec. 4.1).

The paper classifies CUB-200-2011 birds with a linear SVM on GAP features of
the whole image, of a crop around the box of the SVM's own class activation
map, and of a crop around the ground-truth box (its Table 4), and scores the
CAM boxes against random ones. This module holds the pieces of that study
that chapter 03 runs on real photographs and on the controlled benchmark:

- ``hits_with_baselines``: per image, whether each set of boxes localizes the
  object (IoU ``>= 0.5``), beside the three baselines of
  ``camlib.boxes.baselines`` (``RANDOM_UNIFORM``, ``RANDOM_SIZED``, ``CENTRE``);
- ``box_summary``: what a crop around the boxes keeps of the object (IoU,
  coverage, area);
- ``accuracy_by_group``: the accuracy of each input on groups of test images;
- ``crop_study``: the whole pipeline on in-memory image tensors (the
  controlled benchmark), for one object size.

Boxes are ``(x1, y1, x2, y2)`` inclusive pixel indices (``camlib.boxes.geometry``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from camlib._validate import check_size, check_tensor
from camlib.boxes.baselines import (
    best_centre_box_size,
    centre_box,
    centre_box_hits,
    random_box_hits,
)
from camlib.boxes.geometry import best_iou, box_area, box_coverage, check_boxes
from camlib.data.batch import Batch
from camlib.study.crops import crop_resize
from camlib.study.features import Features, extract_features
from camlib.study.stats import PairedBootstrap, paired_bootstrap
from camlib.study.svm import fit_and_score

__all__ = [
    "CENTRE",
    "CropStudy",
    "INPUTS",
    "RANDOM_SIZED",
    "RANDOM_UNIFORM",
    "accuracy_by_group",
    "as_batch",
    "box_summary",
    "crop_study",
    "hits_with_baselines",
]

RANDOM_UNIFORM = "random box (uniform corners)"
RANDOM_SIZED = "random box of a training size"
CENTRE = "centre box of the mean size"
INPUTS = ("whole image", "CAM crop", "GT crop")  # what the SVM is trained and tested on


def as_batch(dataset: Any) -> Batch:
    """Every item of a map-style data set in one ``camlib.data.Batch`` (``camlib.data.collate``).

    Example:
        >>> from camlib.data.synthetic import FineGrained
        >>> b = as_batch(FineGrained(3, seed=0, num_classes=4))
        >>> b.images.shape, len(b.boxes)
        (torch.Size([3, 3, 64, 64]), 3)
    """
    from camlib.data.batch import collate

    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(f"`dataset` must be a map-style data set (len and indexing), but got {type(dataset).__name__}.")
    if len(dataset) == 0:
        raise ValueError("`dataset` must hold at least one item, but holds none.")
    return collate([dataset[i] for i in range(len(dataset))])


def _one_box_each(name: str, boxes: Sequence[Tensor] | None) -> Tensor:
    """``N`` tensors ``(1, 4)`` -> ``LongTensor[N, 4]``; an image with another number of boxes is an error."""
    if boxes is None or isinstance(boxes, Tensor):
        raise TypeError(f"`{name}` must be a list of N tensors (1, 4), one box per image, but got "
                        f"{type(boxes).__name__}.")  # fmt: skip
    counts = [len(b.reshape(-1, 4)) for b in boxes]
    if any(c != 1 for c in counts):
        i = next(i for i, c in enumerate(counts) if c != 1)
        raise ValueError(f"`{name}` must hold one box per image, but image {i} has {counts[i]}.")
    return torch.cat([b.reshape(-1, 4) for b in boxes]).long()


def hits_with_baselines(
    boxes: Mapping[str, Tensor],
    gt_boxes: Sequence[Tensor],
    size: int | tuple[int, int],
    *,
    train_boxes: Tensor,
    draws: int,
    generator: torch.Generator,
    iou_threshold: float = 0.5,
) -> dict[str, Tensor]:
    """Per image, whether each set of boxes localizes its object, beside three baselines that do not look.

    An image is localized by a box when the box's IoU with one of its
    ground-truth boxes is ``>= iou_threshold`` (``camlib.boxes.geometry.best_iou``).
    Beside every entry of ``boxes``:

    - ``RANDOM_UNIFORM``: the share of ``draws`` random boxes with uniform
      corners that localize the image (``camlib.boxes.baselines.random_box_hits``);
    - ``RANDOM_SIZED``: the same for boxes of the size of a random
      ``train_boxes`` box, placed at random (they know how large objects are, not where);
    - ``CENTRE``: one box at the image centre of the ground-truth boxes' mean
      height and width (``camlib.boxes.baselines.centre_box``); its mean is
      ``camlib.boxes.baselines.centre_box_accuracy``.

    The generator is drawn from in that order (uniform corners, then sizes).

    Args:
        boxes: ``{name: LongTensor[N, 4]}``, one box per image.
        gt_boxes: ``N`` tensors ``LongTensor[G_i, 4]`` with ``G_i >= 1``.
        size: ``(H, W)`` of the images, or an int ``S``.
        train_boxes: ``LongTensor[n, 4]``, the boxes whose sizes the sized random boxes take.
        draws: random boxes per image, >= 1.
        generator: a ``torch.Generator``.
        iou_threshold: in ``(0, 1]``.

    Returns:
        ``{name: Tensor[N]}`` (float64) for every entry of ``boxes``, then the
        three baselines: 1.0 or 0.0 per image for a box, the share of hits for
        the random boxes. The mean of each is its accuracy.

    Raises:
        TypeError, ValueError: a bad argument (named in the message).

    Example:
        >>> gt = [torch.tensor([[16, 16, 47, 47]]), torch.tensor([[0, 0, 31, 31]])]
        >>> hits = hits_with_baselines({"CAM": torch.tensor([[16, 16, 47, 47], [32, 32, 63, 63]])}, gt, 64,
        ...                          train_boxes=torch.tensor([[0, 0, 31, 31]]), draws=2,
        ...                          generator=torch.Generator().manual_seed(0))
        >>> hits["CAM"].tolist(), hits[CENTRE].tolist()     # the centre box of mean size 32 x 32 is the first gt
        ([1.0, 0.0], [1.0, 0.0])
    """
    H, W = check_size("size", size)
    if not isinstance(boxes, Mapping) or not boxes:
        raise TypeError(f"`boxes` must be a non-empty dict {{name: LongTensor[N, 4]}}, but got {type(boxes).__name__}.")
    n = len(gt_boxes)
    hits = {}
    for name, b in boxes.items():
        b = check_boxes(f"boxes[{name!r}]", b).long()
        if len(b) != n:
            raise ValueError(f"`boxes[{name!r}]` must hold one box per image ({n}), but got {len(b)}.")
        hits[name] = (best_iou(b.cpu(), [g.cpu() for g in gt_boxes]) >= iou_threshold).double()  # (N,)
    train_boxes = check_boxes("train_boxes", train_boxes).long().cpu()
    sizes = torch.stack([train_boxes[:, 3] - train_boxes[:, 1] + 1, train_boxes[:, 2] - train_boxes[:, 0] + 1], dim=1)
    random = dict(draws=draws, generator=generator, iou_threshold=iou_threshold)
    hits[RANDOM_UNIFORM] = random_box_hits(list(gt_boxes), (H, W), **random)
    hits[RANDOM_SIZED] = random_box_hits(list(gt_boxes), (H, W), sizes=sizes, **random)
    every = torch.cat([g.reshape(-1, 4) for g in gt_boxes]).double()  # (n, 4)
    if len(every) == 0:
        raise ValueError("`gt_boxes` must hold at least one box, but holds none.")
    mean_size = ((every[:, 3] - every[:, 1] + 1).mean().item(), (every[:, 2] - every[:, 0] + 1).mean().item())
    centre = centre_box((H, W), mean_size).expand(n, 4)  # (N, 4): the same box for every image
    hits[CENTRE] = (best_iou(centre, [g.cpu() for g in gt_boxes]) >= iou_threshold).double()
    return hits


def box_summary(boxes: Tensor, gt_boxes: Tensor, size: int | tuple[int, int], *, keep: float = 0.9) -> dict[str, float]:
    """What a crop around each box keeps of its object: IoU, coverage and area, averaged over the images.

    Args:
        boxes: ``LongTensor[N, 4]``, one box per image (N >= 1).
        gt_boxes: ``LongTensor[N, 4]``, the object's box in each image.
        size: ``(H, W)`` of the images, or an int ``S``.
        keep: the coverage that counts as keeping the object.

    Returns:
        ``{"mean IoU", "mean coverage", "keeps object", "box area", "object area", "area ratio"}``:
        the mean IoU; the mean share of the object's box inside the box
        (``camlib.boxes.geometry.box_coverage``); the share of images whose coverage
        is ``>= keep``; the boxes' and the objects' mean area as a share of
        the image; and the ratio of those two means.

    Example:
        >>> s = box_summary(torch.tensor([[0, 0, 9, 9]]), torch.tensor([[0, 0, 4, 9]]), 20)   # 100 vs 50 pixels
        >>> s["mean IoU"], s["keeps object"], s["box area"], s["area ratio"]
        (0.5, 1.0, 0.25, 2.0)
    """
    H, W = check_size("size", size)
    boxes, gt_boxes = check_boxes("boxes", boxes).long().cpu(), check_boxes("gt_boxes", gt_boxes).long().cpu()
    if len(boxes) == 0 or boxes.shape != gt_boxes.shape:
        raise ValueError(f"`boxes` and `gt_boxes` must hold one box per image each (N >= 1), but got "
                         f"{len(boxes)} and {len(gt_boxes)}.")  # fmt: skip
    iou = best_iou(boxes, list(gt_boxes[:, None]))  # (N,)
    cover = box_coverage(boxes, gt_boxes)  # (N,)
    area, object_area = box_area(boxes).double().mean().item(), box_area(gt_boxes).double().mean().item()
    return {"mean IoU": iou.mean().item(), "mean coverage": cover.mean().item(),
            "keeps object": (cover >= keep).double().mean().item(), "box area": area / (H * W),
            "object area": object_area / (H * W), "area ratio": area / object_area}  # fmt: skip


def accuracy_by_group(
    correct: Mapping[str, Tensor],
    groups: Mapping[str, Tensor],
    *,
    compared: tuple[str, str] = ("CAM crop", "whole image"),
) -> list[dict[str, object]]:
    """The accuracy of each input on groups of the test images, and the change of one input against another.

    Args:
        correct: ``{input: Tensor[N]}``, 1.0 where the input's SVM is right.
        groups: ``{group: BoolTensor[N]}``, the images of each group.
        compared: ``(a, b)``: the last column is ``accuracy(a) - accuracy(b)`` on the group.

    Returns:
        One row per group that holds an image, in the order given:
        ``{"test images": group, "share (%)", "<input> accuracy (%)" for every
        input, "<a> - <b> (points)"}``, rounded to 0.1; a group without an image
        has no row.

    Example:
        >>> correct = {"whole image": torch.tensor([1.0, 0.0, 0.0, 1.0]),
        ...            "CAM crop": torch.tensor([1.0, 1.0, 0.0, 0.0])}
        >>> rows = accuracy_by_group(correct, {"first half": torch.tensor([True, True, False, False])})
        >>> rows[0]["share (%)"], rows[0]["CAM crop accuracy (%)"], rows[0]["CAM crop - whole image (points)"]
        (50.0, 100.0, 50.0)
    """
    a, b = compared
    if a not in correct or b not in correct:
        raise ValueError(f"`compared` must name two inputs of `correct` {list(correct)}, but got {compared!r}.")
    n = len(correct[a])
    rows = []
    for group, mask in groups.items():
        check_tensor(f"groups[{group!r}]", mask, ndim=1, dims="(N,)")
        if mask.dtype != torch.bool or len(mask) != n:
            raise ValueError(f"`groups[{group!r}]` must be a BoolTensor[{n}], but got {mask.dtype} "
                             f"of length {len(mask)}.")  # fmt: skip
        if not mask.any():
            continue
        row = {"test images": group, "share (%)": round(100 * mask.double().mean().item(), 1)}
        row.update({f"{k} accuracy (%)": round(100 * v[mask].double().mean().item(), 1) for k, v in correct.items()})
        change = correct[a][mask].double().mean() - correct[b][mask].double().mean()
        row[f"{a} - {b} (points)"] = round(100 * change.item(), 1)
        rows.append(row)
    return rows


@dataclass(frozen=True)
class CropStudy:
    """What ``crop_study`` returns for one benchmark (fractions in [0, 1], not percent).

    Attributes:
        accuracy: ``{input: test accuracy}`` for each of ``INPUTS``.
        correct: ``{input: Tensor[N]}``, per test image.
        bootstrap: ``{"CAM crop", "GT crop"}``: the paired bootstrap of that
            input's accuracy minus the whole image's (``camlib.study.stats.paired_bootstrap``).
        localization: ``{"CAM box (predicted class)", RANDOM_UNIFORM, RANDOM_SIZED, CENTRE}``:
            the share of test images localized at IoU >= 0.5 (``hits_with_baselines``), and
            ``CENTRE_FITTED``: the centred box of the best size on the training boxes.
        boxes: ``box_summary`` of the CAM boxes on the test images.
        examples: ``{"images": Tensor[k, 3, H, W], "gt": k tensors (1, 4),
            "columns": {"SVM's class" | "true class": (maps Tensor[k, H, W], boxes LongTensor[k, 4])}}``,
            the first ``k`` test images, for ``camlib.viz.show_localizations``.
        hits: ``{name: Tensor[N]}`` (float64), per test image, for every entry of
            ``localization`` (to pair them: ``versus_strongest``).
        predicted: ``{input: LongTensor[N]}``, each SVM's class per test image (for a negative control:
            ``camlib.study.controls.other_class_correct``); labels: ``LongTensor[N]``, the test images' classes.
    """

    accuracy: dict[str, float]
    correct: dict[str, Tensor]
    bootstrap: dict[str, PairedBootstrap]
    localization: dict[str, float]
    boxes: dict[str, float]
    examples: dict[str, Any]
    hits: dict[str, Tensor] = field(default_factory=dict)
    predicted: dict[str, Tensor] = field(default_factory=dict)
    labels: Tensor | None = None


def _features(model: nn.Module, images: Tensor, labels: Tensor, keep_maps: bool, batch_size: int) -> Features:
    batches = [Batch(images[i : i + batch_size], labels[i : i + batch_size]) for i in range(0, len(labels), batch_size)]
    return extract_features(model, batches, keep_maps=keep_maps)


def crop_study(
    model: nn.Module,
    train: Batch,
    test: Batch,
    *,
    Cs: Sequence[float] = (0.1, 1.0, 10.0),
    folds: int = 3,
    seed: int = 0,
    n_jobs: int = 1,
    threshold: float = 0.2,
    margin: float = 0.0,
    draws: int = 20,
    generator: torch.Generator,
    resamples: int = 10000,
    examples: int = 2,
    batch_size: int = 256,
) -> CropStudy:
    """The paper's crop study on in-memory images: an SVM on the whole image, on CAM crops, on ground-truth crops.

    1. GAP features of ``model`` (a fixed feature extractor) on the whole
       images; an SVM cross-validated on the training split
       (``camlib.study.svm.fit_and_score``) scores the test split.
    2. The CAM box of each image, training and test alike, from the SVM's
       map of the class it predicts (``LinearSVM.cam_boxes`` at ``threshold``).
    3. Each image cropped to its CAM box, and to its ground-truth box (grown
       by ``margin``), resized back to the image size (``camlib.study.crops.crop_resize``);
       a new SVM for each, fitted and scored in the same way.
    4. The localization of the test CAM boxes against the baselines
       (``hits_with_baselines``: ``generator`` is drawn from there), and the
       paired bootstrap of each crop's accuracy minus the whole image's.

    Args:
        model: a GAP network on the images' size.
        train, test: ``camlib.data.Batch`` with ``images`` ``Tensor[N, 3, S, S]``,
            ``labels`` and exactly one box per image (``as_batch`` of a benchmark).
        Cs, folds, seed, n_jobs: the SVMs' (``fit_linear_svm``); ``seed`` also seeds the bootstrap.
        threshold: the box protocol's fraction of the map's maximum.
        margin: the crop's margin (``camlib.boxes.geometry.expand_boxes``).
        draws: random boxes per test image.
        generator: a ``torch.Generator`` for the random boxes.
        resamples: bootstrap resamples.
        examples: test images kept in ``examples``.
        batch_size: images per forward pass.

    Returns:
        ``CropStudy``.

    Raises:
        TypeError, ValueError: a batch without images, labels or one box per image.
    """
    for name, b in (("train", train), ("test", test)):
        if not isinstance(b, Batch) or not isinstance(b.images, Tensor):
            raise TypeError(f"`{name}` must be a camlib.data.Batch of image tensors, but got {type(b).__name__}.")
    side = test.images.shape[-1]
    data = {"train": train, "test": test}
    gt = {s: _one_box_each(f"{s}.boxes", b.boxes) for s, b in data.items()}  # (N, 4) each
    svm_args = dict(Cs=Cs, folds=folds, seed=seed, n_jobs=n_jobs)
    whole = {s: _features(model, b.images, b.labels, True, batch_size) for s, b in data.items()}
    svm, predicted_test, correct = fit_and_score(whole["train"], whole["test"], **svm_args)
    predicted = {"train": svm.predict(whole["train"].pooled), "test": predicted_test}
    cam = {s: svm.cam_boxes(whole[s].maps, predicted[s], size=side, threshold=threshold) for s in data}
    result, answers = {"whole image": correct}, {"whole image": predicted_test}
    for name, crop_boxes in (("CAM crop", cam), ("GT crop", gt)):
        f = {s: _features(model, crop_resize(b.images, crop_boxes[s], side, margin=margin), b.labels, False, batch_size)
             for s, b in data.items()}  # fmt: skip
        _, answers[name], result[name] = fit_and_score(f["train"], f["test"], **svm_args)
    hits = hits_with_baselines({"CAM box (predicted class)": cam["test"]}, list(gt["test"][:, None]), side,
                             train_boxes=gt["train"], draws=draws, generator=generator)  # fmt: skip
    hits[CENTRE_FITTED] = fitted_centre_hits(list(gt["test"][:, None]), side, train_boxes=gt["train"])
    k = min(examples, len(test.labels))
    maps = whole["test"].maps[:k]
    true = test.labels[:k]
    return CropStudy(
        accuracy={name: c.mean().item() for name, c in result.items()},
        correct=result,
        bootstrap={
            name: paired_bootstrap(result[name], correct, resamples=resamples, seed=seed)
            for name in ("CAM crop", "GT crop")
        },  # fmt: skip
        localization={name: h.mean().item() for name, h in hits.items()},
        hits=hits,
        predicted=answers,
        labels=test.labels,
        boxes=box_summary(cam["test"], gt["test"], side),
        examples={
            "images": test.images[:k],
            "gt": list(gt["test"][:k, None]),
            "columns": {
                "SVM's class": (svm.cams(maps, predicted["test"][:k, None], size=side)[:, 0], cam["test"][:k]),
                "true class": (
                    svm.cams(maps, true[:, None], size=side)[:, 0],
                    svm.cam_boxes(maps, true, size=side, threshold=threshold),
                ),
            },
        },  # fmt: skip
    )


__all__ += ["BASELINES", "CENTRE_FITTED", "fitted_centre_hits", "versus_strongest"]

CENTRE_FITTED = "centre box of the best training size"
BASELINES = (RANDOM_UNIFORM, RANDOM_SIZED, CENTRE_FITTED)  # the baselines that see no test box


def fitted_centre_hits(
    gt_boxes: Sequence[Tensor], size: int | tuple[int, int], *, train_boxes: Tensor, iou_threshold: float = 0.5
) -> Tensor:
    """Per image, whether the centred box of the best size on the *training* boxes localizes its object.

    The size is ``camlib.boxes.baselines.best_centre_box_size(train_boxes, size)``
    (fitted on other images than those scored, so the baseline does not peek
    at the test boxes as the mean-size ``CENTRE`` does); the hits are
    ``camlib.boxes.baselines.centre_box_hits`` with that size.

    Args:
        gt_boxes: ``N`` tensors ``LongTensor[G_i, 4]`` (the scored images).
        size: ``(H, W)`` of the images, or an int ``S``.
        train_boxes: ``LongTensor[n, 4]`` or ``n`` tensors ``LongTensor[G_i, 4]``: the boxes the size is fitted on.
        iou_threshold: in ``(0, 1]``.

    Returns:
        ``Tensor[N]`` (float64), 1.0 where the box localizes the image's object.

    Example:
        >>> train = torch.tensor([[16, 16, 47, 47]] * 3)          # centred 32 x 32 boxes: the fitted size is 32 x 32
        >>> fitted_centre_hits([torch.tensor([[16, 16, 47, 47]]), torch.tensor([[0, 0, 31, 31]])], 64,
        ...                    train_boxes=train).tolist()
        [1.0, 0.0]
    """
    box_size = best_centre_box_size(train_boxes, size, iou_threshold=iou_threshold)
    return centre_box_hits(list(gt_boxes), size, box_size=box_size, iou_threshold=iou_threshold).double()  # (N,)


def versus_strongest(
    hits: Mapping[str, Tensor],
    box: str,
    *,
    baselines: Sequence[str] = BASELINES,
    resamples: int = 10000,
    seed: int = 0,
) -> tuple[str, PairedBootstrap]:
    """A localizer against the strongest of the baselines: its per-image hits minus the best baseline's.

    The strongest baseline is the one of ``baselines`` with the highest mean
    hit rate on these images (the first of equals); the difference
    ``hits[box] - hits[strongest]`` is bootstrapped over the images, paired
    (``camlib.study.stats.paired_bootstrap``). Choosing the strongest on the scored
    images favours the baselines: a localizer that beats it has beaten each.

    Args:
        hits: ``{name: Tensor[N]}``, per image (1/0 for a box, a share for random boxes), e.g. ``hits_with_baselines``.
        box: the localizer's name in ``hits``.
        baselines: the names of the baselines in ``hits``.
        resamples, seed: the bootstrap's.

    Returns:
        ``(name of the strongest baseline, PairedBootstrap of box - strongest)`` (fractions, not percent).

    Raises:
        ValueError: ``box`` or a baseline missing from ``hits``, or no baseline.

    Example:
        >>> hits = {"CAM": torch.tensor([1.0, 1.0, 0.0, 1.0]), "a": torch.tensor([0.0, 0.0, 0.0, 1.0]),
        ...         "b": torch.tensor([1.0, 0.0, 1.0, 1.0])}
        >>> name, b = versus_strongest(hits, "CAM", baselines=("a", "b"), resamples=200)
        >>> name, b.difference                                   # b hits 3 of 4, as the CAM does: 0.75 - 0.75
        ('b', 0.0)
    """
    if not isinstance(hits, Mapping) or box not in hits:
        raise ValueError(f"`box` must name an entry of `hits`, but got {box!r} (entries: {list(hits)}).")
    missing = [b for b in baselines if b not in hits]
    if missing or len(baselines) == 0:
        raise ValueError(f"`baselines` must name at least one entry of `hits` {list(hits)}, but got {list(baselines)}.")
    strongest = max(baselines, key=lambda b: hits[b].double().mean().item())  # the first of equals
    return strongest, paired_bootstrap(hits[box], hits[strongest], resamples=resamples, seed=seed)


CAM_BOX = "CAM box (predicted class)"  # the paper's: the map of the class the SVM predicts
CAM_BOX_TRUE = "CAM box (true class, GT-known)"


@dataclass(frozen=True)
class PhotoCropStudy:
    """What ``photo_crop_study`` returns for one network on one data set (fractions, not percent).

    Attributes:
        features: ``{split: Features}`` of the whole images (pooled, labels, boxes; the maps dropped).
        scores: ``{input: SVMScore}`` for each of ``INPUTS`` (``camlib.study.svm.fit_and_score``).
        svm: the whole-image SVM (its weights draw the maps).
        predicted: ``{split: LongTensor[N]}``, the whole-image SVM's class on every image.
        cam: ``{split: {"predicted" | "true": LongTensor[N, 4]}}``: the CAM boxes (``"true"`` on the test split only).
        hits: per test image, ``{CAM_BOX, CAM_BOX_TRUE, RANDOM_UNIFORM, RANDOM_SIZED, CENTRE_FITTED}`` to
            ``Tensor[N]`` (float64): 1.0 or 0.0 for a box, the share of hits for the random boxes.
        localization: the same names to their means.
        boxes: ``box_summary`` of the CAM boxes on the test images.
        accuracy: ``{input: test accuracy}``.
        bootstrap: ``{"CAM crop", "GT crop"}``: that input's accuracy minus the whole image's, paired.
        versus_random: ``CAM_BOX`` minus ``RANDOM_UNIFORM`` (the paper's comparison), paired.
        strongest: ``(name, PairedBootstrap)``: ``CAM_BOX`` minus the strongest baseline (``versus_strongest``).
    """

    features: dict[str, Features]
    scores: dict[str, Any]
    svm: Any
    predicted: dict[str, Tensor]
    cam: dict[str, dict[str, Tensor]]
    hits: dict[str, Tensor]
    localization: dict[str, float]
    boxes: dict[str, float]
    accuracy: dict[str, float]
    bootstrap: dict[str, PairedBootstrap]
    versus_random: PairedBootstrap
    strongest: tuple[str, PairedBootstrap]


def photo_crop_study(
    model: nn.Module,
    photos: Mapping[str, Any],
    whole: Mapping[str, Any],
    *,
    size: int,
    transform: Any,
    network: dict[str, Any],
    svm: Mapping[str, Any],
    threshold: float = 0.2,
    margin: float = 0.0,
    draws: int = 20,
    resamples: int = 10000,
    seed: int = 0,
    **extract: Any,
) -> PhotoCropStudy:
    """The paper's crop study on photographs (CUB): one network, its features cached, the three SVMs and the boxes.

    The pipeline of Sec. 4.1, as chapter 03 runs it for each network:

    1. GAP features of the whole images of both splits (``camlib.study.features.cached_gap_features``);
    2. a linear SVM on them (``camlib.study.svm.fit_and_score``, ``C`` by cross-validation on the training split);
    3. the CAM box of the class it predicts on every image, and of the true class on the test images
       (``camlib.study.features.cached_cam_boxes``: the paper's protocol at ``threshold``);
    4. the test boxes beside the baselines (``hits_with_baselines``; the centred box fitted on the training boxes,
       ``fitted_centre_hits``);
    5. crops around the CAM boxes and around the ground-truth boxes of both splits
       (``camlib.study.crops.BoxCrops``), their features, an SVM each;
    6. the paired bootstrap of each crop's accuracy against the whole image's, and of the CAM box against the
       random boxes and against the strongest baseline.

    Args:
        model: the network (eval mode, on its device).
        photos: ``{"train", "test"}``: readers without a transform (PIL photographs and their boxes, to crop).
        whole: the same images through ``transform`` (the network's input, with their boxes).
        size: the input side.
        transform: ``camlib.data.PreprocessWithBoxes`` for the crops.
        network: what identifies the network in the cache keys (arch, weights id, precision).
        svm: ``fit_and_score``'s keyword arguments (``Cs``, ``folds``, ``seed``, ``n_jobs``).
        threshold, margin: the box protocol and the crop's margin.
        draws: random boxes per test image.
        resamples, seed: the bootstraps' (``seed`` also draws the random boxes).
        **extract: ``cached_gap_features``' other arguments (``batch_size``, ``num_workers``, ``channels_last``,
            ``autocast``).
    """
    from camlib.study.crops import BoxCrops
    from camlib.study.features import cached_cam_boxes, cached_gap_features

    splits = ("train", "test")
    full = {s: cached_gap_features(model, whole[s], keep_maps=True, network=network, **extract) for s in splits}
    scores = {"whole image": fit_and_score(full["train"], full["test"], **svm)}
    svm_full = scores["whole image"].svm
    predicted = {"train": svm_full.predict(full["train"].pooled), "test": scores["whole image"].predicted}
    cam = {
        s: cached_cam_boxes(
            svm_full,
            model,
            whole[s],
            {"predicted": predicted[s], **({"true": full[s].labels} if s == "test" else {})},
            size=size,
            threshold=threshold,
            maps=full[s].maps,
            network=network,
            **extract,
        )  # fmt: skip
        for s in splits
    }
    full = {s: f._replace(maps=None) for s, f in full.items()}  # the maps are no longer needed
    gt_test = full["test"].boxes
    train_boxes = torch.cat(full["train"].boxes)
    hits = hits_with_baselines(
        {CAM_BOX: cam["test"]["predicted"], CAM_BOX_TRUE: cam["test"]["true"]}, gt_test, size,
        train_boxes=train_boxes, draws=draws, generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    hits.pop(CENTRE)  # its size is the test boxes' mean: fitted on the training boxes instead
    hits[CENTRE_FITTED] = fitted_centre_hits(gt_test, size, train_boxes=train_boxes)
    for name, boxes in (("CAM crop", cam), ("GT crop", None)):
        crops = {
            s: BoxCrops(
                photos[s], boxes[s]["predicted"] if boxes else None, box_size=size, margin=margin, transform=transform
            )  # fmt: skip
            for s in splits
        }
        f = {s: cached_gap_features(model, crops[s], network=network, **extract) for s in splits}
        scores[name] = fit_and_score(f["train"], f["test"], **svm)
    boot = {k: paired_bootstrap(scores[k].correct, scores["whole image"].correct, resamples=resamples, seed=seed)
            for k in ("CAM crop", "GT crop")}  # fmt: skip
    return PhotoCropStudy(
        features=full,
        scores=scores,
        svm=svm_full,
        predicted=predicted,
        cam=cam,
        hits=hits,
        localization={k: h.mean().item() for k, h in hits.items()},
        boxes=box_summary(cam["test"]["predicted"], torch.cat(gt_test), size),
        accuracy={k: r.correct.mean().item() for k, r in scores.items()},
        bootstrap=boot,
        versus_random=paired_bootstrap(hits[CAM_BOX], hits[RANDOM_UNIFORM], resamples=resamples, seed=seed),
        strongest=versus_strongest(hits, CAM_BOX, resamples=resamples, seed=seed),
    )


__all__ += ["CAM_BOX", "CAM_BOX_TRUE", "PhotoCropStudy", "photo_crop_study"]
