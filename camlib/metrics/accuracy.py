"""Localization metrics: IoU, ILSVRC errors, GT-known accuracy, MaxBoxAcc(V2) and PxAP.

Boxes and IoU follow ``camlib.boxes.geometry`` (where ``box_iou`` lives; it is
re-exported here): ``(x1, y1, x2, y2)`` in inclusive pixel indices, integer
dtype, area ``(x2 - x1 + 1) * (y2 - y1 + 1)``. Ground truth
comes as one ``LongTensor[m_i, 4]`` per image (``m_i`` may differ; an image
with no box is never correct); it is moved to the device of the predictions.
A box hits a ground-truth box when their IoU is ``>= iou_threshold``. IoU
ratios are computed in float64 from exact integer areas (float32 on MPS).

The threshold-sweeping metrics follow Choe et al., CVPR 2020 ("Evaluating
weakly supervised object localization methods right", code: wsolevaluation)
and stream: an accumulator takes batch after batch (``update``) and keeps only
counts, so 50,000 images never need to be in memory at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from camlib._validate import check_choice, check_maps, check_size, check_tensor
from camlib.boxes.from_maps import _largest_boxes
from camlib.boxes.geometry import _best_iou, _pad_gt, box_iou, check_boxes, check_iou_threshold
from camlib.cam.kernel import normalize_maps
from camlib.components.backends import check_backend
from camlib.components.contours import contour_best_iou
from camlib.components.labels import measure_components
from camlib.components.tree import sweep_best_iou
from camlib.metrics.masks import mask_iou

__all__ = [
    "box_iou",
    "localization_hits",
    "top_k_error",
    "classification_error",
    "localization_error",
    "gt_known_accuracy",
    "threshold_grid",
    "CONVENTIONS",
    "BoxAccuracy",
    "BoxAccAccumulator",
    "update_box_accuracies",
    "max_box_acc",
    "max_box_acc_v2",
    "max_box_accs",
    "PxAP",
    "PxAPAccumulator",
    "pxap",
]


# --- ILSVRC errors and GT-known accuracy -----------------------------------------------


def localization_hits(
    classes: Tensor,
    boxes: Tensor,
    gt_classes: Tensor,
    gt_boxes: Sequence[Tensor],
    *,
    iou_threshold: float = 0.5,
    size: tuple[int, int] | None = None,
) -> Tensor:
    """Which (class, box) guesses localize the object, by the ILSVRC rule.

    Guess ``j`` of image ``i`` is correct when its class is the image's label
    and its box has IoU ``>= iou_threshold`` with at least one ground-truth
    box of the image. As in ILSVRC CLS-LOC, every ground-truth box of an image
    belongs to its one label. Several guesses may share a class (the top-5
    heuristic of ``camlib.boxes.from_maps.top5_heuristic``).

    Args:
        classes: ``LongTensor[N, k]``, the guessed classes, best first.
        boxes: ``LongTensor[N, k, 4]``, their boxes.
        gt_classes: ``LongTensor[N]``, the labels.
        gt_boxes: ``N`` tensors ``LongTensor[m_i, 4]``.
        iou_threshold: in ``(0, 1]``; the ILSVRC rule is 0.5.
        size: ``(H, W)`` of the frame the boxes are in (the network's input); when given, a ground-truth
            box outside it raises (boxes left in the photograph's pixels would silently score 0).

    Returns:
        ``BoolTensor[N, k]``. Per batch these are all that a 50,000-image
        evaluation needs to keep: concatenate them and reduce with
        ``top_k_error(hits, k)``.

    Example:
        >>> gt = [torch.tensor([[0, 0, 9, 9]])]
        >>> localization_hits(torch.tensor([[3, 3]]), torch.tensor([[[0, 0, 9, 9], [0, 0, 4, 4]]]),
        ...                   torch.tensor([3]), gt)   # IoU 1 and 0.25
        tensor([[ True, False]])
    """
    check_tensor("classes", classes, ndim=2, dims="(N, k)", integer=True)
    check_boxes("boxes", boxes, dims="(N, k, 4)", ndim=None)
    check_tensor("gt_classes", gt_classes, ndim=1, dims="(N,)", integer=True)
    if boxes.ndim != 3 or boxes.shape[:2] != classes.shape:
        raise ValueError(
            f"`boxes` must have shape ({classes.shape[0]}, {classes.shape[1]}, 4) to match `classes`, "
            f"but got {tuple(boxes.shape)}."
        )
    if gt_classes.shape[0] != classes.shape[0]:
        raise ValueError(
            f"`gt_classes` must have one label per image ({classes.shape[0]}), but got {gt_classes.shape[0]}."
        )
    iou_threshold = check_iou_threshold("iou_threshold", iou_threshold)
    gt, valid = _pad_gt(gt_boxes, classes.shape[0], boxes.device)
    if size is not None:
        H, W = check_size("size", size) or (0, 0)
        _check_inside("gt_boxes", gt, valid, H, W)
    right_class = classes.to(boxes.device) == gt_classes.to(boxes.device)[:, None]  # (N, k)
    return right_class & (_best_iou(boxes, gt, valid) >= iou_threshold)


def top_k_error(correct: Tensor, k: int | None = None) -> float:
    """The fraction of images none of whose first ``k`` guesses is correct.

    Args:
        correct: ``BoolTensor[N, k']``, e.g. ``localization_hits`` of several
            batches concatenated, or ``classes == labels[:, None]``.
        k: how many guesses count (default: all ``k'``).

    Example:
        >>> top_k_error(torch.tensor([[False, True], [False, False]]), k=2)
        0.5
    """
    check_tensor("correct", correct, ndim=2, dims="(N, k)")
    if correct.dtype != torch.bool:
        raise TypeError(f"`correct` must be a bool tensor, but got {correct.dtype}.")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= correct.shape[1]):
        raise ValueError(f"`k` must be None or an int in [1, {correct.shape[1]}], but got {k!r}.")
    if correct.shape[0] == 0:
        raise ValueError(f"`correct` must hold at least one image, but got shape {tuple(correct.shape)}.")
    return 1.0 - correct[:, :k].any(dim=1).double().mean().item()


def classification_error(classes: Tensor, gt_classes: Tensor, *, k: int | None = None) -> float:
    """Top-k classification error: the fraction of images whose label is not among the first ``k`` guesses.

    Args:
        classes: ``LongTensor[N, k']``, best first. gt_classes: ``LongTensor[N]``.
        k: how many guesses count (default: all ``k'``).

    Example:
        >>> classification_error(torch.tensor([[1, 2], [0, 3]]), torch.tensor([2, 4]), k=1), \\
        ...     classification_error(torch.tensor([[1, 2], [0, 3]]), torch.tensor([2, 4]))
        (1.0, 0.5)
    """
    check_tensor("classes", classes, ndim=2, dims="(N, k)", integer=True)
    check_tensor("gt_classes", gt_classes, ndim=1, dims="(N,)", integer=True)
    if gt_classes.shape[0] != classes.shape[0]:
        raise ValueError(
            f"`gt_classes` must have one label per image ({classes.shape[0]}), but got {gt_classes.shape[0]}."
        )
    return top_k_error(classes == gt_classes.to(classes.device)[:, None], k)


def localization_error(
    classes: Tensor,
    boxes: Tensor,
    gt_classes: Tensor,
    gt_boxes: Sequence[Tensor],
    *,
    k: int | None = None,
    iou_threshold: float = 0.5,
    size: tuple[int, int] | None = None,
) -> float:
    """Top-k ILSVRC localization error: the fraction of images with no correct guess among the first ``k``.

    See ``localization_hits`` for when a guess is correct. For the paper's
    top-5 heuristic pass its five guesses and ``k=None``.

    Example:
        >>> gt = [torch.tensor([[0, 0, 9, 9]]), torch.tensor([[5, 5, 6, 6]])]
        >>> classes = torch.tensor([[3, 1], [2, 0]])
        >>> boxes = torch.tensor([[[0, 0, 9, 9], [0, 0, 9, 9]], [[5, 5, 6, 6], [5, 5, 6, 6]]])
        >>> localization_error(classes, boxes, torch.tensor([3, 0]), gt, k=1), \\
        ...     localization_error(classes, boxes, torch.tensor([3, 0]), gt, k=2)
        (0.5, 0.0)
    """
    return top_k_error(
        localization_hits(classes, boxes, gt_classes, gt_boxes, iou_threshold=iou_threshold, size=size), k
    )


def gt_known_accuracy(boxes: Tensor, gt_boxes: Sequence[Tensor], *, iou_threshold: float = 0.5) -> float:
    """GT-known localization accuracy: the fraction of images whose box hits a ground-truth box.

    Args:
        boxes: ``LongTensor[N, 4]``, one box per image from the map of its
            ground-truth class (the class prediction is ignored).
        gt_boxes: ``N`` tensors ``LongTensor[m_i, 4]``.
        iou_threshold: in ``(0, 1]``.

    Example:
        >>> gt_known_accuracy(torch.tensor([[0, 0, 9, 9], [0, 0, 4, 4]]),
        ...                   [torch.tensor([[0, 0, 9, 9]]), torch.tensor([[0, 0, 9, 9]])])  # IoU 1 and 0.25
        0.5
    """
    check_boxes("boxes", boxes)
    iou_threshold = check_iou_threshold("iou_threshold", iou_threshold)
    if boxes.shape[0] == 0:
        raise ValueError(f"`boxes` must hold at least one image, but got shape {tuple(boxes.shape)}.")
    gt, valid = _pad_gt(gt_boxes, boxes.shape[0], boxes.device)
    return (_best_iou(boxes[:, None], gt, valid) >= iou_threshold).double().mean().item()


# --- MaxBoxAcc and MaxBoxAccV2 (Choe et al. 2020) --------------------------------------

CONVENTIONS = ("camlib", "wsolevaluation")  # how a thresholded map becomes boxes; see BoxAccAccumulator


def threshold_grid(interval: float = 0.01) -> Tensor:
    """Choe et al.'s map thresholds ``np.arange(0, 1, interval)``, as float64.

    wsolevaluation's code defaults to ``interval = 0.001``; its README runs
    the evaluation with 0.01, the default here.

    Example:
        >>> threshold_grid(0.25)
        tensor([0.0000, 0.2500, 0.5000, 0.7500], dtype=torch.float64)
    """
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0.0 < interval < 1.0:
        raise ValueError(f"`interval` must be a number in (0, 1), but got {interval!r}.")
    return torch.from_numpy(np.arange(0, 1, interval))


def _check_thresholds(thresholds: object) -> Tensor:
    if thresholds is None:
        return threshold_grid()
    t = torch.as_tensor(thresholds, dtype=torch.float64).cpu() if not isinstance(thresholds, str) else None
    if t is None or t.ndim != 1:
        raise ValueError(f"`thresholds` must be a 1-D sequence of numbers, but got {thresholds!r}.")
    if t.numel() == 0:
        raise ValueError("`thresholds` must not be empty, but got no threshold.")
    if not ((t >= 0) & (t < 1)).all() or not (t[1:] > t[:-1]).all():
        raise ValueError(f"`thresholds` must increase strictly within [0, 1), but got {t.tolist()}.")
    return t


def _check_iou_thresholds(iou_thresholds: object) -> Tensor:
    if isinstance(iou_thresholds, (int, float)):
        iou_thresholds = (iou_thresholds,)
    if not isinstance(iou_thresholds, Sequence) or isinstance(iou_thresholds, str):
        raise TypeError(f"`iou_thresholds` must be a sequence of numbers in (0, 1], but got {iou_thresholds!r}.")
    if len(iou_thresholds) == 0:
        raise ValueError("`iou_thresholds` must not be empty, but got no threshold.")
    return torch.tensor([check_iou_threshold("iou_thresholds", d) for d in iou_thresholds], dtype=torch.float64)


@dataclass(frozen=True)
class BoxAccuracy:
    """Box accuracy over map thresholds, as MaxBoxAcc and MaxBoxAccV2 report it.

    Attributes:
        thresholds: ``Tensor[T]``, the map thresholds ``tau``.
        iou_thresholds: ``Tensor[D]``, the IoU thresholds ``delta``.
        curves: ``Tensor[D, T]``, the fraction of images whose box (or one of
            whose boxes) hits a ground-truth box at IoU ``>= delta``, at each
            ``tau``: the accuracy-vs-threshold curves.
        best_thresholds: ``Tensor[D]``, the ``tau`` maximizing each curve
            (the smallest one on ties).
        best_accuracy: ``Tensor[D]``, each curve's maximum.
        value: the mean of ``best_accuracy`` over ``delta``: MaxBoxAcc with
            ``D = 1`` (``delta = 0.5``), MaxBoxAccV2 with ``(0.3, 0.5, 0.7)``.
            A fraction in [0, 1] (Choe et al. print percentages).
        count: the number of images.
    """

    thresholds: Tensor
    iou_thresholds: Tensor
    curves: Tensor
    best_thresholds: Tensor
    best_accuracy: Tensor
    value: float
    count: int


class BoxAccAccumulator:
    """Streaming MaxBoxAcc / MaxBoxAccV2 (Choe et al. 2020): ``update`` per batch, then ``compute``.

    For each map and each threshold ``tau`` of the grid:

    1. The map is min-max normalized on its own, ``s = (M - min M) / (max M - min M)``
       (all zeros for a constant map), as wsolevaluation's
       ``normalize_scoremap``.
    2. Foreground: ``s > tau * max s``, with the paper's strict rule
       (``max s`` is 1, or 0 for a constant map). With ``quantize=True``,
       wsolevaluation's 8-bit rule instead: ``q = floor(255 s)`` (computed in
       the maps' dtype; pass float64 maps to match its float64 pipeline) and
       foreground ``q > floor(tau * max q)``.
    3. The 8-connected components of the foreground; with
       ``all_components=False`` the box of the largest one (MaxBoxAcc), else
       the boxes of all of them (MaxBoxAccV2). No foreground gives the single
       box ``(0, 0, 0, 0)``, as in wsolevaluation.
    4. The image counts as correct at ``(delta, tau)`` when a box has IoU
       ``>= delta`` with any ground-truth box.

    Only the ``(D, T)`` counts are kept. On the CPU (``backend="tree"``, the
    default there) every threshold's components come from one pass over
    each map's pixels (``camlib.components.tree``): the components of all
    levels form one tree, built by a union-find sweep from high to low
    values. The other backends label the ``(N, T, H, W)`` masks
    (``camlib.components.measure_components``), all thresholds of a batch at once,
    in chunks of about ``chunk_pixels`` mask pixels to bound memory; they
    are the reference, and the results are identical (tested).

    Conventions (``convention``): steps 3-4 above are camlib's
    (``"camlib"``): components counted in pixels, tight inclusive boxes.
    wsolevaluation's own code boxes OpenCV contours instead
    (``"wsolevaluation"``, ``camlib.components.contours``): the largest component is the
    contour of largest polygon area (``cv2.contourArea``, 0 for a one-pixel or
    one-line blob), its box ``(x, y, x + w, y + h)`` reaches one pixel further
    right and down (clipped to the image), and with ``all_components`` the
    inner contours of holes are boxed too. That convention reproduces Choe et
    al.'s numbers exactly (it needs ``quantize``, which it implies); it traces
    every threshold's contours with OpenCV, so it is slower (about as slow as
    wsolevaluation itself; levels that thresholds share are traced once).
    The two differ by a few tenths of a point on real maps.

    Args:
        iou_thresholds: the ``delta``s, each in ``(0, 1]``.
        all_components: boxes of all components (V2) instead of the largest.
        thresholds: the ``tau`` grid, strictly increasing in ``[0, 1)``;
            default ``threshold_grid(0.01)``.
        quantize: wsolevaluation's 0-255 quantization; default False for
            ``convention="camlib"``, True (and required) for ``"wsolevaluation"``.
        convention: ``"camlib"`` or ``"wsolevaluation"`` (see above).
        backend: ``"tree"`` (CPU maps: the one-pass component tree), one of
            ``camlib.components.connected_components``'s backends (label each
            threshold's mask), or ``"auto"``: the tree for CPU maps, the
            torch labelling on other devices. Only ``"auto"`` with
            ``convention="wsolevaluation"`` (OpenCV traces the contours).
        chunk_pixels: mask pixels labelled at once (labelling backends).

    Example:
        >>> acc = BoxAccAccumulator((0.5,), thresholds=[0.0, 0.5])
        >>> m = torch.zeros(1, 4, 4); m[0, 1:3, 1:3] = 1.0; m[0, 0, 0] = 0.4
        >>> acc.update(m, [torch.tensor([[1, 1, 2, 2]])])
        >>> r = acc.compute()   # tau 0: (0, 0)-(2, 2), IoU 4/9; tau 0.5: the block, IoU 1
        >>> r.curves, r.best_thresholds, r.value
        (tensor([[0., 1.]], dtype=torch.float64), tensor([0.5000], dtype=torch.float64), 1.0)
    """

    def __init__(
        self,
        iou_thresholds: Sequence[float] = (0.5,),
        *,
        all_components: bool = False,
        thresholds: Sequence[float] | Tensor | None = None,
        quantize: bool | None = None,
        convention: str = "camlib",
        backend: str = "auto",
        chunk_pixels: int = 2**22,
    ) -> None:
        self.iou_thresholds = _check_iou_thresholds(iou_thresholds)
        self.thresholds = _check_thresholds(thresholds)
        self.all_components = bool(all_components)
        self.convention = check_choice("convention", convention, CONVENTIONS)
        self.backend = check_backend(backend, ("auto", "torch", "scipy", "opencv", "tree"))
        if convention == "wsolevaluation":
            if quantize is False:
                raise ValueError("`quantize` must be True (or None) with convention 'wsolevaluation': its contours "
                                 "trace the 8-bit map, but got quantize=False.")  # fmt: skip
            if backend != "auto":
                raise ValueError(f"`backend` must be 'auto' with convention 'wsolevaluation' (OpenCV traces its "
                                 f"contours), but got {backend!r}.")  # fmt: skip
        self.quantize = convention == "wsolevaluation" if quantize is None else bool(quantize)
        self.chunk_pixels = int(chunk_pixels)
        self.counts = torch.zeros(len(self.iou_thresholds), len(self.thresholds), dtype=torch.long)
        self.count = 0

    def update(self, maps: Tensor, gt_boxes: Sequence[Tensor]) -> None:
        """Add a batch: ``maps (Tensor[N, H, W])`` and ``N`` tensors ``LongTensor[m_i, 4]``."""
        update_box_accuracies([self], maps, gt_boxes)

    def _best_iou(self, stats, n: int, T: int, P: int, gt: Tensor, valid: Tensor) -> Tensor:
        """Per (image, threshold): the best IoU of its box(es) with the ground truth, from the components' stats."""
        device = gt.device
        if not self.all_components:
            boxes = _largest_boxes(stats, n * T, P).view(n, T, 4)  # (n, T, 4); zeros where no foreground
            return _best_iou(boxes, gt, valid)
        image = stats.map_index // T
        iou = _best_iou(stats.box[:, None], gt[image], valid[image])[:, 0]  # (n_components,)
        best = torch.full((n * T,), -1.0, dtype=iou.dtype, device=device)
        best = best.scatter_reduce(0, stats.map_index, iou, reduce="amax").view(n, T)
        empty = _best_iou(torch.zeros(n, 1, 4, dtype=torch.long, device=device), gt, valid)  # (n, 1)
        return torch.where(best < 0, empty, best)

    def compute(self) -> BoxAccuracy:
        """The curves, best thresholds and the metric over all images added so far."""
        if self.count == 0:
            raise RuntimeError("No image was added: call `update(maps, gt_boxes)` before `compute()`.")
        curves = self.counts.double() / self.count  # (D, T)
        best_accuracy, best = curves.max(dim=1)
        return BoxAccuracy(
            thresholds=self.thresholds.clone(),
            iou_thresholds=self.iou_thresholds.clone(),
            curves=curves,
            best_thresholds=self.thresholds[best],
            best_accuracy=best_accuracy,
            value=best_accuracy.mean().item(),
            count=self.count,
        )


def _check_inside(name: str, gt: Tensor, valid: Tensor, H: int, W: int) -> None:
    """Raise when a ground-truth box leaves the maps' ``H x W`` frame: it was given in another frame.

    A box in the photograph's own pixels scored against maps of the network's input would silently
    score 0 (or a lucky hit); ``camlib.boxes.geometry.resize_boxes`` moves boxes between frames.
    """
    outside = valid & ((gt[..., 2] >= W) | (gt[..., 3] >= H))  # (N, G); x1 <= x2 and y1 <= y2 are checked already
    if outside.any():
        i, j = (int(v) for v in outside.nonzero()[0])
        raise ValueError(
            f"`{name}` must lie inside the maps' frame ({H} x {W}), but image {i} has the box "
            f"{gt[i, j].tolist()} ({int(outside.sum())} such box(es) in all): were the boxes given in the "
            "photograph's pixels? Resize them to the maps' frame (camlib.boxes.geometry.resize_boxes)."
        )


def update_box_accuracies(accumulators: Sequence[BoxAccAccumulator], maps: Tensor, gt_boxes: Sequence[Tensor]) -> None:
    """Add one batch to several ``BoxAccAccumulator``s that share their masks: label the masks once.

    MaxBoxAcc and MaxBoxAccV2 threshold the same maps at the same ``tau``s and
    differ only in which components they box, so ``evaluate_localization``
    feeds both through one labelling of the ``(N, T, H, W)`` masks. Each
    accumulator ends exactly as after its own ``update(maps, gt_boxes)``.

    Raises:
        ValueError: the accumulators differ in ``thresholds``, ``quantize``,
            ``convention``, ``backend`` or ``chunk_pixels``; bad ``maps``.
    """
    if not accumulators:
        return
    first = accumulators[0]
    for acc in accumulators[1:]:
        if not (
            torch.equal(acc.thresholds, first.thresholds)
            and acc.quantize == first.quantize
            and acc.convention == first.convention
            and acc.backend == first.backend
            and acc.chunk_pixels == first.chunk_pixels
        ):
            raise ValueError("`accumulators` must share thresholds, quantize, convention, backend and chunk_pixels "
                             "to share their masks; update them one by one instead.")  # fmt: skip
    check_maps("maps", maps)
    if maps.ndim != 3:
        raise ValueError(f"`maps` must be a 3-D tensor (N, H, W), but got shape {tuple(maps.shape)}.")
    N, H, W = maps.shape
    gt, valid = _pad_gt(gt_boxes, N, maps.device)
    _check_inside("gt_boxes", gt, valid, H, W)
    T = len(first.thresholds)
    tau = first.thresholds.to(maps.device)
    s = normalize_maps(maps, "minmax")
    v = torch.floor(s * 255) if first.quantize else s
    top = v.amax(dim=(1, 2)).double()  # (N,)
    levels = tau[None, :] * top[:, None]  # (N, T)
    if first.quantize:
        levels = torch.floor(levels)
    tree = first.backend == "tree" or (first.backend == "auto" and maps.device.type == "cpu")
    if first.convention == "wsolevaluation" or tree:
        if first.convention == "wsolevaluation":  # OpenCV's contours of the 8-bit maps, level by level
            largest, best = (
                torch.from_numpy(a)
                for a in contour_best_iou(
                    v.cpu().numpy().astype(np.uint8), levels.long().cpu().numpy(), gt.cpu().numpy(), valid.cpu().numpy()
                )
            )
        else:
            values = v.reshape(N, H * W).cpu().numpy()  # compared with the float64 levels, as `v.double()` below
            largest, best = (
                torch.from_numpy(a)
                for a in sweep_best_iou(values, levels.cpu().numpy(), W, gt.cpu().numpy(), valid.cpu().numpy())
            )  # (N, T) each
        for acc in accumulators:
            iou = best if acc.all_components else largest
            acc.counts += (iou[None] >= acc.iou_thresholds[:, None, None]).sum(dim=1)
            acc.count += N
        return
    step = max(1, first.chunk_pixels // (T * H * W))
    for i in range(0, N, step):
        masks = v[i : i + step, None].double() > levels[i : i + step, :, None, None]  # (n, T, H, W)
        n = masks.shape[0]
        stats = measure_components(masks.reshape(n * T, H, W), backend=first.backend)
        for acc in accumulators:
            best = acc._best_iou(stats, n, T, H * W, gt[i : i + step], valid[i : i + step])  # (n, T)
            hits = best[None] >= acc.iou_thresholds.to(maps.device)[:, None, None]  # (D, n, T)
            acc.counts += hits.sum(dim=1).cpu()
    for acc in accumulators:
        acc.count += N


def max_box_acc(
    maps: Tensor,
    gt_boxes: Sequence[Tensor],
    *,
    thresholds: Sequence[float] | Tensor | None = None,
    quantize: bool | None = None,
    convention: str = "camlib",
    backend: str = "auto",
) -> BoxAccuracy:
    """MaxBoxAcc (Choe et al. 2020): box accuracy at IoU 0.5 at the best map threshold, largest component.

    Args:
        maps: ``Tensor[N, H, W]``, the maps of the ground-truth classes.
        gt_boxes: ``N`` tensors ``LongTensor[m_i, 4]``.
        thresholds, quantize, convention, backend: see ``BoxAccAccumulator``;
            ``convention="wsolevaluation"`` gives Choe et al.'s own numbers.

    Returns:
        ``BoxAccuracy``; ``.value`` is MaxBoxAcc as a fraction.

    Example:
        >>> m = torch.zeros(1, 6, 6); m[0, 1:4, 1:4] = 1.0
        >>> max_box_acc(m, [torch.tensor([[1, 1, 3, 3]])]).value
        1.0
        >>> m = torch.zeros(1, 8, 8); m[0, 1:3, 1:3] = 1.0; m[0, 6, :6] = 1.0  # a 2 x 2 block, a 6-pixel line
        >>> gt = [torch.tensor([[1, 1, 3, 3]])]     # the block as wsolevaluation boxes it (x + w = 3)
        >>> max_box_acc(m, gt).value, max_box_acc(m, gt, convention="wsolevaluation").value
        (0.0, 1.0)

        camlib boxes the line (6 pixels against 4); wsolevaluation the block
        (contour area 1 against the line's 0).
    """
    acc = BoxAccAccumulator((0.5,), thresholds=thresholds, quantize=quantize, convention=convention, backend=backend)
    acc.update(maps, gt_boxes)
    return acc.compute()


def max_box_acc_v2(
    maps: Tensor,
    gt_boxes: Sequence[Tensor],
    *,
    iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7),
    thresholds: Sequence[float] | Tensor | None = None,
    quantize: bool | None = None,
    convention: str = "camlib",
    backend: str = "auto",
) -> BoxAccuracy:
    """MaxBoxAccV2 (Choe et al. 2020): the mean over IoU 0.3, 0.5, 0.7 of the best-threshold accuracy, all components.

    The best threshold is chosen per IoU threshold; an image is correct when
    the box of *any* component hits a ground-truth box.

    Example:
        >>> m = torch.zeros(1, 6, 6); m[0, 0:2, 0:2] = 1.0; m[0, 4:6, 4:6] = 1.0
        >>> r = max_box_acc_v2(m, [torch.tensor([[4, 4, 5, 5]])])
        >>> r.best_accuracy, r.value      # the second blob hits: MaxBoxAcc would take the first
        (tensor([1., 1., 1.], dtype=torch.float64), 1.0)
    """
    acc = BoxAccAccumulator(
        iou_thresholds,
        all_components=True,
        thresholds=thresholds,
        quantize=quantize,
        convention=convention,
        backend=backend,
    )
    acc.update(maps, gt_boxes)
    return acc.compute()


def max_box_accs(
    maps: Tensor,
    gt_boxes: Sequence[Tensor],
    *,
    iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7),
    thresholds: Sequence[float] | Tensor | None = None,
    quantize: bool | None = None,
    convention: str = "camlib",
    backend: str = "auto",
) -> tuple[BoxAccuracy, BoxAccuracy]:
    """MaxBoxAcc and MaxBoxAccV2 of the same maps from one pass: ``(max_box_acc(...), max_box_acc_v2(...))``.

    Both threshold the same maps at the same ``tau``s; one labelling (one
    sweep of the component tree on the CPU) serves both
    (``update_box_accuracies``), so this costs about what one of them costs.
    The arguments are those of ``max_box_acc_v2``; MaxBoxAcc is at IoU 0.5.

    Example:
        >>> m = torch.zeros(1, 6, 6); m[0, 0:2, 0:2] = 1.0; m[0, 4:6, 4:6] = 1.0
        >>> acc, acc_v2 = max_box_accs(m, [torch.tensor([[4, 4, 5, 5]])])
        >>> acc.value, acc_v2.value   # the largest component (the first blob) misses; one of all hits
        (0.0, 1.0)
    """
    options: dict[str, Any] = dict(thresholds=thresholds, quantize=quantize, convention=convention, backend=backend)
    pair = [BoxAccAccumulator((0.5,), **options), BoxAccAccumulator(iou_thresholds, all_components=True, **options)]
    update_box_accuracies(pair, maps, gt_boxes)
    return pair[0].compute(), pair[1].compute()


# --- PxAP (Choe et al. 2020) -----------------------------------------------------------


@dataclass(frozen=True)
class PxAP:
    """Pixel average precision and its precision-recall curve.

    Attributes:
        thresholds: ``Tensor[T + 2]``, the map thresholds of the curve: the
            grid, then 1 and 2 (as in wsolevaluation's histogram edges).
        precision: ``Tensor[T + 2]``: among pixels with ``s >= tau``, the
            fraction in the mask (NaN where there is none).
        recall: ``Tensor[T + 2]``: among mask pixels, the fraction with
            ``s >= tau``.
        value: ``sum_l Prec(tau_l) (Rec(tau_l) - Rec(tau_{l+1}))`` over the
            thresholds in increasing order, terms with no pixel above
            ``tau_l`` left out: the PxAP, a fraction in [0, 1].
    """

    thresholds: Tensor
    precision: Tensor
    recall: Tensor
    value: float


class PxAPAccumulator:
    """Streaming PxAP (Choe et al. 2020): ``update`` per batch, then ``compute``.

    Each map is min-max normalized on its own (as for ``BoxAccAccumulator``)
    to ``s`` in [0, 1]; the pixels of all images are pooled. For each
    threshold ``tau`` of the grid and for 1 and 2, a pixel is predicted
    foreground when ``s >= tau``; precision and recall against the mask give
    a curve, and PxAP is its average precision (``PxAP.value``). Ignored
    pixels (OpenImages' ignore regions) count neither way. Only two
    histograms of ``T + 3`` bins are kept.

    Args:
        thresholds: the grid, strictly increasing in ``[0, 1)``; default
            ``threshold_grid(0.01)``.

    Example:
        >>> acc = PxAPAccumulator(thresholds=[0.0, 0.5])
        >>> acc.update(torch.tensor([[[0.0, 0.2, 0.6, 1.0]]]), torch.tensor([[[False, True, False, True]]]))
        >>> r = acc.compute()    # s >= 2, 1, 0.5, 0: TP 0, 1, 1, 2; FP 0, 0, 1, 2
        >>> r.value              # 1 * (1/2 - 0) + 1/2 * 0 + 1/2 * (1 - 1/2)
        0.75
    """

    def __init__(self, *, thresholds: Sequence[float] | Tensor | None = None) -> None:
        self.thresholds = _check_thresholds(thresholds)
        self.edges = torch.cat([self.thresholds, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)])
        self.positive = torch.zeros(len(self.edges) + 1, dtype=torch.long)
        self.negative = torch.zeros(len(self.edges) + 1, dtype=torch.long)

    def update(self, maps: Tensor, masks: Tensor, ignore: Tensor | None = None) -> None:
        """Add a batch: ``maps (Tensor[N, H, W])``, ``masks`` and optional ``ignore`` (``BoolTensor[N, H, W]``)."""
        check_maps("maps", maps)
        if maps.ndim != 3:
            raise ValueError(f"`maps` must be a 3-D tensor (N, H, W), but got shape {tuple(maps.shape)}.")
        for name, mask in (("masks", masks), ("ignore", ignore)):
            if mask is None:
                continue
            check_tensor(name, mask)
            if mask.dtype != torch.bool:
                raise TypeError(f"`{name}` must be a bool tensor, but got {mask.dtype}.")
            if mask.shape != maps.shape:
                raise ValueError(
                    f"`{name}` must have the shape of `maps` {tuple(maps.shape)}, but got {tuple(mask.shape)}."
                )
        masks = masks.to(maps.device)
        keep = torch.ones_like(masks) if ignore is None else ~ignore.to(maps.device)
        s = normalize_maps(maps, "minmax").double()
        above = torch.bucketize(s, self.edges.to(maps.device), right=True)  # number of edges <= s
        size = len(self.edges) + 1
        self.positive += torch.bincount(above[masks & keep], minlength=size).cpu()
        self.negative += torch.bincount(above[~masks & keep], minlength=size).cpu()

    def compute(self) -> PxAP:
        """The curve and PxAP over all pixels added so far."""
        # tp[j]: positive pixels with s >= edges[j], i.e. with more than j edges at or below them.
        tp = self.positive.flip(0).cumsum(0).flip(0)[1:-1].double()  # (T + 2,): edges without 3
        fp = self.negative.flip(0).cumsum(0).flip(0)[1:-1].double()
        if tp[0] == 0:
            raise ValueError("PxAP needs at least one ground-truth foreground pixel, but the masks have none.")
        precision = tp / (tp + fp)
        recall = tp / tp[0]
        # Walk the thresholds downwards from 2 (recall 0), as wsolevaluation does.
        gain = precision[:-1] * (recall[:-1] - recall[1:])
        value = gain[(tp + fp)[:-1] > 0].sum().item()
        return PxAP(self.edges[:-1].clone(), precision, recall, value)


def pxap(
    maps: Tensor, masks: Tensor, ignore: Tensor | None = None, *, thresholds: Sequence[float] | Tensor | None = None
) -> PxAP:
    """PxAP of one batch of maps against pixel masks; see ``PxAPAccumulator``.

    Example:
        >>> pxap(torch.tensor([[[0.0, 1.0]]]), torch.tensor([[[False, True]]])).value   # perfect ranking
        1.0
    """
    acc = PxAPAccumulator(thresholds=thresholds)
    acc.update(maps, masks, ignore)
    return acc.compute()


# --- How much the maps of different classes agree ----------------------------------------

__all__ += ["RegionOverlap", "region_overlap"]


class RegionOverlap(NamedTuple):
    """What ``region_overlap`` returns: map 0 against each of the other ``k - 1`` maps, float64."""

    iou: Tensor  # (k - 1,): IoU of the regions
    peak_distance: Tensor  # (k - 1,): distance of the peaks over the image diagonal


def region_overlap(maps: Tensor, threshold: float = 0.2) -> RegionOverlap:
    """How much the maps of several classes on one image agree: map 0 against every other map.

    Zhou et al. 2016 (Fig. 4) show that the maps of an image's top classes
    highlight different regions. A map's *region* is ``camlib.foreground``:
    its pixels strictly above ``threshold`` times its own maximum (the box
    protocol's rule, so no region for a map whose maximum is ``<= 0``). For
    ``j = 1 .. k - 1``:

    - ``iou[j - 1] = |R_0 ∩ R_j| / |R_0 ∪ R_j|`` (1: the same region, 0: disjoint
      regions, and 0 when both are empty: ``camlib.metrics.masks.mask_iou``);
    - ``peak_distance[j - 1]``: the Euclidean distance in pixels between the
      peaks of map 0 and map ``j`` (each map's ``argmax``, the first in
      row-major order on ties) divided by the image diagonal ``sqrt(H² + W²)``.

    Args:
        maps: ``Tensor[k, H, W]``, floating point, finite, ``k >= 1`` (e.g. an
            image's top-k maps at its size, the top-1 map first).
        threshold: the fraction of each map's maximum, in ``[0, 1]``.

    Returns:
        ``RegionOverlap(iou (k - 1,), peak_distance (k - 1,))``, on the CPU.

    Raises:
        TypeError: ``maps`` is not a floating-point tensor.
        ValueError: ``maps`` is not 3-D, holds NaN or inf, or ``threshold`` is
            outside ``[0, 1]``.

    Example:
        >>> maps = torch.zeros(2, 4, 4)
        >>> maps[0, :2, :2] = 1.0          # region: the top-left 2 x 2 (4 px), peak (0, 0)
        >>> maps[1, :2, 1:3] = 1.0         # the top 2 x 2 one column right: 2 px shared, 6 in the union
        >>> r = region_overlap(maps)
        >>> round(r.iou.item(), 4), round(r.peak_distance.item(), 4)   # peaks (0, 0) and (0, 1): 1 / sqrt(32)
        (0.3333, 0.1768)
    """
    from camlib.boxes.from_maps import foreground

    check_maps("maps", maps)
    if maps.ndim != 3:
        raise ValueError(f"`maps` must be a 3-D tensor (k, H, W), but got shape {tuple(maps.shape)}.")
    k, H, W = maps.shape
    regions = foreground(maps, threshold).cpu()  # (k, H, W)
    iou = mask_iou(regions[:1], regions[1:])  # (k - 1,); 0 when both are empty
    flat = maps.flatten(1).argmax(dim=1).cpu()  # (k,): the first maximum in row-major order
    peaks = torch.stack([flat // W, flat % W], dim=1).double()  # (k, 2): (row, column)
    distance = (peaks[1:] - peaks[:1]).norm(dim=1) / float(np.hypot(H, W))  # (k - 1,)
    return RegionOverlap(iou, distance)
