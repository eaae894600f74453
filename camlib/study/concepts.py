"""Weak labels from captions: an image is a positive for a concept when one of its captions names it.

Zhou et al. (2016, Sec. 4.2, Fig. 10) learn concept detectors from image-level
tags. COCO's captions play the tags here: ``caption_labels`` marks image ``i``
as a positive for concept ``c`` when a caption of ``i`` contains one of ``c``'s
words (``COCO_SYNONYMS``: a small table from COCO's category names to the
words captions use for them, shown in the chapter that uses it) as a whole word
or phrase, case-insensitive, in the singular or with an ``s``/``es`` plural.
Matching is deliberately simple and visible; its errors (a "hot dog stand"
with no hot dog, a "man" who is on a poster) are the weak labels' noise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import Tensor

from camlib._validate import check_tensor

if TYPE_CHECKING:
    from camlib.study.svm import LinearSVM

__all__ = ["COCO_SYNONYMS", "IMAGENET_FOR_COCO", "caption_labels"]

COCO_SYNONYMS: dict[str, tuple[str, ...]] = {  # COCO category -> the words that name it in captions
    "person": (
        "person",
        "people",
        "man",
        "men",
        "woman",
        "women",
        "boy",
        "girl",
        "child",
        "children",
        "kid",
        "player",
        "guy",
        "lady",
        "skier",
        "surfer",
        "skateboarder",
    ),
    "bicycle": ("bicycle", "bike"),
    "car": ("car",),
    "motorcycle": ("motorcycle", "motorbike"),
    "airplane": ("airplane", "plane", "jet", "aircraft"),
    "bus": ("bus",),
    "train": ("train",),
    "truck": ("truck",),
    "boat": ("boat", "ship"),
    "traffic light": ("traffic light", "stop light"),
    "fire hydrant": ("fire hydrant", "hydrant"),
    "stop sign": ("stop sign",),
    "parking meter": ("parking meter",),
    "bench": ("bench",),
    "bird": ("bird",),
    "cat": ("cat", "kitten"),
    "dog": ("dog", "puppy"),
    "horse": ("horse",),
    "sheep": ("sheep", "lamb"),
    "cow": ("cow", "cattle"),
    "elephant": ("elephant",),
    "bear": ("bear",),
    "zebra": ("zebra",),
    "giraffe": ("giraffe",),
    "backpack": ("backpack",),
    "umbrella": ("umbrella",),
    "handbag": ("handbag", "purse"),
    "tie": ("tie",),
    "suitcase": ("suitcase", "luggage"),
    "frisbee": ("frisbee",),
    "skis": ("ski", "skis"),
    "snowboard": ("snowboard",),
    "sports ball": ("ball",),
    "kite": ("kite",),
    "baseball bat": ("baseball bat", "bat"),
    "baseball glove": ("baseball glove", "glove", "mitt"),
    "skateboard": ("skateboard",),
    "surfboard": ("surfboard",),
    "tennis racket": ("tennis racket", "racket", "racquet"),
    "bottle": ("bottle",),
    "wine glass": ("wine glass",),
    "cup": ("cup", "mug"),
    "fork": ("fork",),
    "knife": ("knife", "knives"),
    "spoon": ("spoon",),
    "bowl": ("bowl",),
    "banana": ("banana",),
    "apple": ("apple",),
    "sandwich": ("sandwich",),
    "orange": ("orange",),
    "broccoli": ("broccoli",),
    "carrot": ("carrot",),
    "hot dog": ("hot dog",),
    "pizza": ("pizza",),
    "donut": ("donut", "doughnut"),
    "cake": ("cake",),
    "chair": ("chair",),
    "couch": ("couch", "sofa"),
    "potted plant": ("potted plant", "plant"),
    "bed": ("bed",),
    "dining table": ("dining table", "table"),
    "toilet": ("toilet",),
    "tv": ("tv", "television"),
    "laptop": ("laptop", "computer"),
    "mouse": ("mouse",),
    "remote": ("remote", "controller"),
    "keyboard": ("keyboard",),
    "cell phone": ("cell phone", "phone", "cellphone"),
    "microwave": ("microwave",),
    "oven": ("oven", "stove"),
    "toaster": ("toaster",),
    "sink": ("sink",),
    "refrigerator": ("refrigerator", "fridge"),
    "book": ("book",),
    "clock": ("clock",),
    "vase": ("vase",),
    "scissors": ("scissors",),
    "teddy bear": ("teddy bear", "stuffed animal"),
    "hair drier": ("hair drier", "hair dryer", "blow dryer"),
    "toothbrush": ("toothbrush",),
}


IMAGENET_FOR_COCO: dict[str, tuple[int, ...]] = {  # COCO category -> ImageNet-1k class indices that are instances of it
    "dog": tuple(range(151, 269)),  # the 118 dog breeds, Chihuahua .. Mexican hairless
    "cat": tuple(range(281, 286)),  # tabby .. Egyptian cat
    "bear": (294, 295, 296, 297),
    "zebra": (340,),
    "elephant": (101, 385, 386),
    "sheep": (348,),
    "horse": (339,),
    "cow": (345,),
    "airplane": (404, 895),
    "bus": (654, 779, 874),
    "train": (466, 547, 565, 820),
    "truck": (555, 569, 675, 717, 864, 867),
    "car": (436, 468, 511, 609, 627, 656, 751, 817),
    "boat": (472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914),
    "bicycle": (444, 671),
    "motorcycle": (665, 670),
    "traffic light": (920,),
    "parking meter": (704,),
    "bench": (703,),
    "umbrella": (879,),
    "backpack": (414,),
    "tie": (906,),
    "sports ball": (429, 430, 574, 768, 805, 852, 890),
    "tennis racket": (752,),
    "bottle": (440, 720, 737, 898, 907),
    "cup": (504, 968),
    "bowl": (659, 809),
    "banana": (954,),
    "orange": (950,),
    "broccoli": (937,),
    "hot dog": (934,),
    "pizza": (963,),
    "chair": (423, 559, 765),
    "couch": (831,),
    "dining table": (532,),
    "toilet": (861,),
    "tv": (851,),
    "laptop": (620,),
    "mouse": (673,),
    "remote": (761,),
    "keyboard": (508,),
    "cell phone": (487,),
    "microwave": (651,),
    "oven": (827,),
    "toaster": (859,),
    "sink": (896,),
    "refrigerator": (760,),
    "clock": (409, 892),
    "vase": (883,),
    "teddy bear": (850,),
    "hair drier": (589,),
}


def _pattern(words: Sequence[str]) -> re.Pattern:
    """A whole-word match of any of ``words`` (each a word or a phrase), with an optional plural ``s``/``es``."""
    alternatives = sorted((re.escape(w.lower()).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")(?:e?s)?\b")


def caption_labels(
    captions: Sequence[Sequence[str]], concepts: Sequence[str], synonyms: Mapping[str, Sequence[str]] = COCO_SYNONYMS
) -> Tensor:
    """``BoolTensor[N, C]``: image ``i`` is a positive for concept ``c`` when a caption of ``i`` names it.

    Args:
        captions: per image, its captions.
        concepts: the concepts, keys of ``synonyms``.
        synonyms: concept -> the words and phrases that name it.

    Raises:
        ValueError: a concept that ``synonyms`` does not define.

    Example:
        >>> caption_labels([["Two dogs run on a beach."], ["A hot dog stand."], ["A man on a bicycle."]],
        ...                ["dog", "person", "bicycle"]).int().tolist()
        [[1, 0, 0], [1, 0, 0], [0, 1, 1]]
    """
    unknown = [c for c in concepts if c not in synonyms]
    if unknown:
        raise ValueError(f"`concepts` must be keys of `synonyms`, but got {unknown[:5]}.")
    patterns = [_pattern(synonyms[c]) for c in concepts]
    out = torch.zeros(len(captions), len(concepts), dtype=torch.bool)
    for i, texts in enumerate(captions):
        text = " ".join(t.lower() for t in texts)
        for j, pattern in enumerate(patterns):
            out[i, j] = pattern.search(text) is not None
    return out


# --- concept detectors from weak labels (Fig. 10) ----------------------------------------

__all__ += [
    "ConceptDetector",
    "ConceptPairs",
    "concept_pointing",
    "cross_validated_detector",
    "mine_hard_negatives",
    "noisy_tags",
]


def _check_labels(name: str, labels: Tensor, n: int) -> Tensor:
    check_tensor(name, labels, ndim=1, dims="(N,)")
    if labels.dtype != torch.bool:
        raise TypeError(f"`{name}` must be a BoolTensor[N] (positives), but got {labels.dtype}.")
    if len(labels) != n:
        raise ValueError(f"`{name}` must hold one label per row of `pooled` ({n}), but got {len(labels)}.")
    return labels.cpu()


def mine_hard_negatives(
    pooled: Tensor,
    positive: Tensor,
    *,
    start: float | None = 1.0,
    rounds: int = 3,
    Cs: Sequence[float] = (0.1, 1.0, 10.0),
    folds: int = 3,
    seed: int = 0,
    max_iter: int = 20000,
) -> tuple[LinearSVM, Tensor, list[int]]:
    """A linear SVM for one concept, trained with its hard negatives mined (margin violators, Felzenszwalb et al. 2010).

    The paper learns its concept detectors "with hard negatives mined"
    without saying how; this is the classic procedure. Round 0 trains on
    every positive and ``start`` negatives per positive drawn at random
    (seeded); each later round scores the negatives left out and adds every
    one inside the margin (``w.F + b > -1``: the hard ones), then retrains; it
    stops when a round adds none, or after ``rounds`` rounds. ``start=None``
    trains once on all the negatives (no mining). Each training picks its
    ``C`` by ``folds``-fold cross-validation on its own training set
    (``camlib.study.svm.fit_linear_svm``; nothing is cached: the fits take milliseconds).

    Args:
        pooled: ``Tensor[N, K]``, GAP features.
        positive: ``BoolTensor[N]``, the (weak) labels.
        start: negatives per positive in round 0, > 0; None: all negatives, no mining.
        rounds: the most mining rounds after round 0, >= 0.
        Cs, folds, seed, max_iter: as ``camlib.study.svm.fit_linear_svm``.

    Returns:
        ``(svm, negatives, added)``: the final ``LinearSVM`` (two rows: class 1
        is the concept), the indices of the negatives it was trained on, and
        the number of negatives each round added (round 0 first).

    Raises:
        ValueError: fewer than ``folds`` positives or negatives, a bad ``start`` or ``rounds``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = torch.arange(40) < 8                           # 8 positives, 32 negatives
        >>> x = torch.randn(40, 3, generator=g) + 3.0 * y[:, None]
        >>> svm, negatives, added = mine_hard_negatives(x, y, start=1.0)
        >>> added[0], len(negatives) == sum(added), bool((svm.predict(x) == y).float().mean() > 0.9)
        (8, True, True)
    """
    from camlib.study.svm import fit_linear_svm

    check_tensor("pooled", pooled, ndim=2, dims="(N, K)", floating=True)
    positive = _check_labels("positive", positive, len(pooled))
    if start is not None and not (isinstance(start, (int, float)) and not isinstance(start, bool) and start > 0):
        raise ValueError(f"`start` must be a positive number of negatives per positive, or None, but got {start!r}.")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise ValueError(f"`rounds` must be an int >= 0, but got {rounds!r}.")
    pos, neg = positive.nonzero()[:, 0], (~positive).nonzero()[:, 0]
    if len(pos) < folds or len(neg) < folds:
        raise ValueError(
            f"`positive` must hold at least `folds` = {folds} positives and negatives, "
            f"but got {len(pos)} and {len(neg)}."
        )
    if start is None:
        chosen = neg
    else:
        order = neg[torch.randperm(len(neg), generator=torch.Generator().manual_seed(seed))]
        chosen = order[: max(folds, min(len(neg), round(start * len(pos))))].sort().values
    added = [len(chosen)]
    while True:
        index = torch.cat([pos, chosen])
        svm = fit_linear_svm(
            pooled[index], positive[index].long(), Cs=Cs, folds=folds, seed=seed, max_iter=max_iter, cache=False
        )
        if start is None or len(added) > rounds:
            return svm, chosen, added
        rest = neg[~torch.isin(neg, chosen)]
        scores = svm.decision(pooled[rest])
        hard = rest[(scores[:, 1] - scores[:, 0]) > -1.0]  # inside the margin: w.F + b > -1
        if not len(hard):
            return svm, chosen, added
        chosen = torch.cat([chosen, hard]).sort().values
        added.append(len(hard))


class ConceptDetector(NamedTuple):
    """One concept's detector, cross-validated: every image is scored by a detector that did not see it.

    Attributes:
        concept: its name.
        positive (BoolTensor[N]): the weak labels it was trained on.
        scores (Tensor[N]): the held-out margin ``w.F + b`` of each image (float64).
        fold (LongTensor[N]): the outer fold that held each image out.
        weight (Tensor[F, K]): the weights ``w`` of each fold's detector (raw features).
        bias (Tensor[F]): their biases.
        C (list[float]): each fold's chosen ``C``.
        negatives (list[int]): each fold's negatives trained on (after mining).
        available (list[int]): each fold's negatives available.
    """

    concept: str
    positive: Tensor
    scores: Tensor
    fold: Tensor
    weight: Tensor
    bias: Tensor
    C: list
    negatives: list
    available: list

    def maps(self, feature_maps: Tensor, index: Tensor, *, size: int | tuple[int, int] | None = None) -> Tensor:
        """The concept's held-out CAMs ``sum_k w_k f_k`` of images ``index``, each by its own fold's detector.

        Args:
            feature_maps: ``Tensor[M, K, h, w]``: the unpooled features of the images ``index`` (in that order).
            index: ``LongTensor[M]``, the images' rows in ``positive``.
            size: upsample to this frame (``camlib.class_activation_maps``).

        Returns:
            ``Tensor[M, H, W]``.
        """
        from camlib.cam.kernel import class_activation_maps

        check_tensor("index", index, ndim=1, dims="(M,)", integer=True)
        if len(index) != len(feature_maps):
            raise ValueError(
                f"`index` must name one image per feature map ({len(feature_maps)}), but got {len(index)}."
            )
        if not len(index):
            return feature_maps.new_zeros(0, *(size if isinstance(size, tuple) else (size or 0,) * 2))
        folds = self.fold[index.cpu()].view(-1, 1).to(feature_maps.device)
        return class_activation_maps(
            feature_maps.float(), self.weight.to(feature_maps.device).float(), folds, size=size
        )[:, 0]

    def average_precision(self, truth: Tensor | None = None) -> float:
        """The held-out scores' average precision against ``truth`` (``BoolTensor[N]``; default the weak labels)."""
        from sklearn.metrics import average_precision_score

        y = self.positive if truth is None else _check_labels("truth", truth, len(self.scores))
        return float(average_precision_score(y.numpy(), self.scores.numpy())) if y.any() else float("nan")


def enough_positives(positives: int, images: int, *, folds: int = 5, inner_folds: int = 3) -> bool:
    """Whether ``cross_validated_detector`` can train on ``positives`` of ``images`` with these folds.

    Each outer fold needs a positive and a negative to hold out, and each
    training part ``inner_folds`` positives and negatives to choose ``C``.

    Example:
        >>> enough_positives(6, 100), enough_positives(4, 100), enough_positives(4, 100, folds=2, inner_folds=2)
        (True, False, True)
    """
    negatives = images - positives
    return (
        min(positives, negatives) >= folds
        and positives - -(-positives // folds) >= inner_folds
        and negatives - -(-negatives // folds) >= inner_folds
    )


def cross_validated_detector(
    pooled: Tensor,
    positive: Tensor,
    concept: str = "",
    *,
    folds: int = 5,
    start: float | None = 1.0,
    rounds: int = 3,
    Cs: Sequence[float] = (0.1, 1.0, 10.0),
    inner_folds: int = 3,
    seed: int = 0,
    max_iter: int = 20000,
) -> ConceptDetector:
    """A concept detector scored on every image by cross-validation: what so few weakly labelled images allow.

    ``StratifiedKFold(folds, shuffle=True, random_state=seed)`` splits the
    images (positives spread evenly over the folds); for each fold, a
    detector (``mine_hard_negatives`` with ``start``, ``rounds``, and its
    ``C`` chosen by ``inner_folds``-fold cross-validation inside the other
    folds) scores the held-out fold. The held-out scores give an unbiased
    detection measure and the held-out maps an unbiased localization measure
    on all the images at once.

    Raises:
        ValueError: fewer positives or negatives than ``folds``, or too few left
            in a training part for ``inner_folds``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = torch.arange(60) < 15
        >>> x = torch.randn(60, 4, generator=g) + 2.0 * y[:, None]
        >>> det = cross_validated_detector(x, y, "thing", folds=3)
        >>> det.weight.shape, det.fold.bincount().tolist(), det.average_precision() > 0.8
        (torch.Size([3, 4]), [20, 20, 20], True)
    """
    from sklearn.model_selection import StratifiedKFold

    check_tensor("pooled", pooled, ndim=2, dims="(N, K)", floating=True)
    positive = _check_labels("positive", positive, len(pooled))
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"`folds` must be an int >= 2, but got {folds!r}.")
    n_pos = int(positive.sum())
    if not enough_positives(n_pos, len(positive), folds=folds, inner_folds=inner_folds):
        raise ValueError(
            f"`positive` must hold at least `folds` = {folds} positives and negatives, and leave "
            f"`inner_folds` = {inner_folds} positives in each training part, but holds {n_pos} positives "
            f"of {len(positive)} ({concept or 'the concept'})."
        )
    x, y = pooled.detach().cpu(), positive
    scores, fold = torch.zeros(len(y), dtype=torch.float64), torch.zeros(len(y), dtype=torch.long)
    weights, biases, Cs_chosen, used, available = [], [], [], [], []
    split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(x.numpy(), y.numpy())
    for f, (train, held) in enumerate(split):
        train, held = torch.from_numpy(train), torch.from_numpy(held)
        svm, negatives, _ = mine_hard_negatives(
            x[train], y[train], start=start, rounds=rounds, Cs=Cs, folds=inner_folds, seed=seed, max_iter=max_iter
        )
        w, b = svm.weight[1] - svm.weight[0], svm.bias[1] - svm.bias[0]  # the margin w.F + b
        scores[held] = x[held].double() @ w.double() + b.double()
        fold[held] = f
        weights.append(w.float())
        biases.append(b.float())
        Cs_chosen.append(svm.C)
        used.append(len(negatives))
        available.append(int((~y[train]).sum()))
    return ConceptDetector(
        concept, y, scores, fold, torch.stack(weights), torch.stack(biases), Cs_chosen, used, available
    )


def noisy_tags(present: Tensor, *, miss: float = 0.3, false: float = 0.02, seed: int = 0) -> Tensor:
    """Weak tags from true presence: each present concept is left untagged with probability ``miss``, each absent one tagged with ``false``.

    What captions do to annotations: they leave out objects they do not
    mention, and sometimes name one that is not there. Seeded; the same call
    gives the same tags.

    Args:
        present: ``BoolTensor[N, C]``, the truth.
        miss, false: probabilities in [0, 1].

    Example:
        >>> noisy_tags(torch.tensor([[True, False]] * 4), miss=0.0, false=0.0).tolist() == [[True, False]] * 4
        True
    """
    check_tensor("present", present, ndim=2, dims="(N, C)")
    if present.dtype != torch.bool:
        raise TypeError(f"`present` must be a BoolTensor[N, C], but got {present.dtype}.")
    for name, p in (("miss", miss), ("false", false)):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"`{name}` must be a probability in [0, 1], but got {p!r}.")
    u = torch.rand(present.shape, generator=torch.Generator().manual_seed(seed))
    return torch.where(present.cpu(), u >= miss, u < false)


class ConceptPairs(NamedTuple):
    """The (image, concept) pairs a concept localization is scored on, with each method's per-pair outcome.

    Attributes:
        image (LongTensor[P]), concept (LongTensor[P]): the pairs (rows of the detectors' labels, detector index).
        hits (dict[str, Tensor[P]]): per method, 1.0/0.0 per pair (float64; the random
            baselines' expected hit rate): ``"CAM point"``, ``"centre point"``,
            ``"random point"``, ``"CAM box"``, ``"centre box"`` and ``"random box"``
            (the CAM box's size, centred or at random).
        maps (Tensor[P, H, W]): each pair's held-out concept CAM, in the targets' frame.
        targets (list): each pair's target (``LongTensor[G, 4]`` boxes or a ``BoolTensor[H, W]`` mask).
    """

    image: Tensor
    concept: Tensor
    hits: dict
    maps: Tensor
    targets: list


def concept_pointing(
    detectors: Sequence[ConceptDetector],
    feature_maps: Tensor,
    targets: Sequence[Mapping[int, Tensor]],
    *,
    size: tuple[int, int],
    threshold: float = 0.2,
    tolerance: int = 0,
    random_draws: int = 100,
    seed: int = 0,
) -> ConceptPairs:
    """Whether each concept's held-out CAM finds the concept on the images its weak labels call positive.

    A pair is an image the labels call positive for the concept, with a
    target there (a box list or a mask). Per pair: the map's maximum on the
    target (pointing, ``camlib.study.pointing.pointing_hits``); the map's box (the
    paper's rule at ``threshold``) with IoU >= 0.5 with a target box (box
    targets only); and the baselines that know nothing of the image: the
    image centre, a random point (the target's share of the image), and the
    CAM box's own size centred in the image or placed at random (so that the
    CAM box is judged on where it is, not on its size).

    Args:
        detectors: ``cross_validated_detector`` results on the same images.
        feature_maps: ``Tensor[N, K, h, w]`` of all the images.
        targets: per detector, ``{image: LongTensor[G, 4] boxes or BoolTensor[H, W] mask}`` in the ``size`` frame.
        size: ``(H, W)``, the frame of the maps and targets.
        threshold, tolerance: the box rule's fraction of the maximum; the pointing tolerance (pixels).
        random_draws, seed: the random boxes per pair and their seed.

    Returns:
        ``ConceptPairs``; the box methods are absent when the targets are masks.
    """
    from camlib.boxes.baselines import centre_box, random_boxes
    from camlib.boxes.from_maps import boxes_from_maps
    from camlib.boxes.geometry import best_iou
    from camlib.study.pointing import centre_point_hits, pointing_hits, random_point_hits

    if len(targets) != len(detectors):
        raise ValueError(f"`targets` must hold one mapping per detector ({len(detectors)}), but got {len(targets)}.")
    images, concepts, cams, goals = [], [], [], []
    for c, (det, target) in enumerate(zip(detectors, targets)):
        index = torch.tensor([i for i in sorted(target) if det.positive[i]], dtype=torch.long)
        if not len(index):
            continue
        cams.append(det.maps(feature_maps[index], index, size=size).cpu())
        goals += [target[int(i)] for i in index]
        images.append(index)
        concepts.append(torch.full((len(index),), c, dtype=torch.long))
    if not cams:
        raise ValueError("No pair to score: no image is both a positive of a detector and holds a target of it.")
    maps = torch.cat(cams)
    masks = all(g.dtype == torch.bool for g in goals)
    target = torch.stack(goals) if masks else [g.reshape(-1, 4) for g in goals]
    hits = {
        "CAM point": pointing_hits(maps, target, tolerance=tolerance).double(),
        "centre point": centre_point_hits(target, size, tolerance=tolerance).double(),
        "random point": random_point_hits(target, size, tolerance=tolerance),
    }
    if not masks:
        boxes = boxes_from_maps(maps, threshold).cpu()
        hits["CAM box"] = (best_iou(boxes, target) >= 0.5).double()
        g, centred, placed = torch.Generator().manual_seed(seed), [], []
        for b, t in zip(boxes.tolist(), target):  # the CAM box's own size, centred or placed at random
            hw = torch.tensor([[b[3] - b[1] + 1, b[2] - b[0] + 1]])
            centred.append(float(best_iou(centre_box(size, tuple(hw[0].tolist()))[None], [t])[0] >= 0.5))
            drawn = random_boxes(random_draws, size, generator=g, sizes=hw)
            placed.append((best_iou(drawn, [t] * random_draws) >= 0.5).double().mean().item())
        hits["centre box"] = torch.tensor(centred, dtype=torch.float64)
        hits["random box"] = torch.tensor(placed, dtype=torch.float64)
    return ConceptPairs(torch.cat(images), torch.cat(concepts), hits, maps, list(target))


__all__ += ["concept_summary", "enough_positives", "tagged_concept_pointing"]


def concept_summary(detectors: Sequence[ConceptDetector], pairs: ConceptPairs, truth: Tensor) -> list[dict]:
    """One row per concept: its weak labels, mining, held-out detection and localization, for a table.

    Args:
        detectors: the concepts' detectors (``cross_validated_detector``).
        pairs: ``concept_pointing``'s result on them.
        truth: ``BoolTensor[N, len(detectors)]``, where each concept really is (the annotations).

    Returns:
        Rows of ``concept``, ``positives`` (weak labels), ``annotated`` (truth),
        ``negatives used`` and ``negatives available`` (means over the folds),
        ``AP (weak labels)``, ``AP (truth)``, ``prevalence`` (the AP of a
        detector that guesses), ``pairs`` and, per method of ``pairs``, its
        mean (percent; NaN without a pair).
    """
    check_tensor("truth", truth, ndim=2, dims="(N, C)")
    if truth.shape[1] != len(detectors):
        raise ValueError(f"`truth` must have one column per detector ({len(detectors)}), but got {truth.shape[1]}.")
    rows = []
    for c, det in enumerate(detectors):
        mine = pairs.concept == c
        rows.append({
            "concept": det.concept, "positives": int(det.positive.sum()), "annotated": int(truth[:, c].sum()),
            "negatives used": sum(det.negatives) / len(det.negatives),
            "negatives available": sum(det.available) / len(det.available),
            "AP (weak labels)": det.average_precision(), "AP (truth)": det.average_precision(truth[:, c].bool()),
            "prevalence": truth[:, c].double().mean().item(), "pairs": int(mine.sum()),
            **{k: 100 * v[mine].mean().item() if mine.any() else float("nan") for k, v in pairs.hits.items()},
        })  # fmt: skip
    return rows


def tagged_concept_pointing(
    pooled: Tensor,
    feature_maps: Tensor,
    present: Tensor,
    masks: Sequence[Tensor],
    categories: Sequence[Tensor],
    *,
    miss: float = 0.3,
    false: float = 0.02,
    seed: int = 0,
    **detector: Any,
) -> tuple[list[ConceptDetector], ConceptPairs]:
    """The controlled Fig. 10: detectors of every concept from noisy tags, scored against the exact object masks.

    The tags are ``noisy_tags(present, miss, false, seed)``; each concept's
    detector is ``cross_validated_detector(pooled, tags[:, c], seed=seed,
    **detector)``; its targets are the union of the concept's instance masks
    in each image that holds it, and ``concept_pointing`` scores the pairs.
    Concepts with too few tagged positives for the folds
    (``enough_positives``) get no detector; each detector's ``concept`` is
    its column of ``present``, as a string.

    Args:
        pooled, feature_maps: ``Tensor[N, K]`` and ``Tensor[N, K, h, w]``, the images' features.
        present: ``BoolTensor[N, C]``, where each concept is.
        masks: per image, ``BoolTensor[m_i, H, W]``, its objects' masks.
        categories: per image, ``LongTensor[m_i]``, their concepts.

    Returns:
        ``(detectors, pairs)``.
    """
    check_tensor("present", present, ndim=2, dims="(N, C)")
    if not (len(masks) == len(categories) == len(present)):
        raise ValueError(
            f"`masks` and `categories` must hold one entry per row of `present` ({len(present)}), "
            f"but got {len(masks)} and {len(categories)}."
        )
    tags = noisy_tags(present.bool(), miss=miss, false=false, seed=seed)
    folds = {k: detector[k] for k in ("folds", "inner_folds") if k in detector}
    kept = [c for c in range(present.shape[1]) if enough_positives(int(tags[:, c].sum()), len(tags), **folds)]
    if not kept:
        raise ValueError(
            f"No concept has enough tagged positives among {len(tags)} images for {folds or 'the folds'}; "
            "use more images."
        )
    detectors = [cross_validated_detector(pooled, tags[:, c], str(c), seed=seed, **detector) for c in kept]
    size = tuple(masks[0].shape[-2:])
    targets = [
        {i: m[k == c].any(0) for i, (m, k) in enumerate(zip(masks, categories)) if bool(present[i, c])} for c in kept
    ]
    return detectors, concept_pointing(detectors, feature_maps, targets, size=size)
