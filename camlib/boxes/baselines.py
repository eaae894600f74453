"""The trivial localization baselines that every localization number must stand beside.

A localizer that sees the image should beat boxes that do not look at it:

- ``centre_box_accuracy``: one fixed box at the image centre for every image,
  by default of the mean ground-truth size (photographers centre their
  objects, so this is often far from trivial to beat);
- ``best_centre_box_size``: the centred box size that does best on a set of
  (training) boxes, to be scored on held-out ones;
- ``random_boxes`` / ``random_box_accuracy``: boxes drawn at random, with
  uniform corners or at a random place with a known size.

Boxes, IoU and the hit rule (IoU ``>= iou_threshold``) follow ``camlib.boxes.geometry``.
Ground truth ``gt_boxes`` is either a ``LongTensor[N, 4]`` (one box per image)
or a sequence of ``N`` tensors ``LongTensor[G_i, 4]``; an image hits when its
box hits any of its ground-truth boxes, and an image without one never hits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from camlib._validate import check_fraction, check_size, check_tensor
from camlib.boxes.geometry import _best_iou, _pad_gt, check_boxes, check_iou_threshold

__all__ = [
    "CENTRE_FRACTIONS",
    "best_centre_box_size",
    "center_box_accuracy",
    "centre_box",
    "centre_box_accuracy",
    "centre_box_hits",
    "centre_box_iou",
    "random_box_accuracy",
    "random_boxes",
]

CENTRE_FRACTIONS = tuple(i / 20 for i in range(1, 21))  # 0.05, 0.10, ..., 1.00 of the image side


def _image_size(size: object) -> tuple[int, int]:
    if size is None:
        raise TypeError("`size` must be an int S or a pair (H, W) of ints, but got None.")
    checked = check_size("size", size)
    assert checked is not None  # check_size returns None only for None, refused above
    return checked


def _gt(gt_boxes: object) -> tuple[Tensor, Tensor, Tensor]:
    """``gt_boxes`` -> ``(padded (N, G, 4), valid (N, G), all boxes (n, 4))`` on the CPU; N >= 1."""
    if isinstance(gt_boxes, Tensor):
        boxes = check_boxes("gt_boxes", gt_boxes, dims="(N, 4)").long().cpu()
        padded, valid = boxes[:, None], torch.ones(len(boxes), 1, dtype=torch.bool)
    elif isinstance(gt_boxes, Sequence) and not isinstance(gt_boxes, (str, bytes)):
        padded, valid = _pad_gt(gt_boxes, len(gt_boxes), torch.device("cpu"))
        boxes = padded[valid]  # (n, 4)
    else:
        raise TypeError(
            f"`gt_boxes` must be a LongTensor[N, 4] or a list of N tensors LongTensor[G_i, 4], "
            f"but got {type(gt_boxes).__name__}."
        )
    if len(padded) == 0:
        raise ValueError("`gt_boxes` must hold at least one image, but got none.")
    return padded, valid, boxes


def _check_box_size(box_size: object, H: int, W: int) -> tuple[float, float]:
    if (
        not isinstance(box_size, (tuple, list))
        or len(box_size) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box_size)
    ):
        raise TypeError(f"`box_size` must be a pair (h, w) of numbers, but got {box_size!r}.")
    h, w = box_size
    if not (1 <= h <= H and 1 <= w <= W):
        raise ValueError(f"`box_size` must have 1 <= h <= {H} and 1 <= w <= {W}, but got {tuple(box_size)}.")
    return float(h), float(w)


def centre_box(size: int | tuple[int, int], box_size: tuple[float, float]) -> Tensor:
    """The box of ``box_size = (h, w)`` pixels at the centre of an image of ``size = (H, W)``.

    ``x1 = round((W - w) / 2)``, ``x2 = x1 + round(w) - 1``, and likewise
    along y, with Python's ``round`` (halves to even); ``h`` and ``w`` may be
    fractional (a mean size). The box always lies inside the image.

    Args:
        size: ``(H, W)`` of the image, or an int ``S`` for ``(S, S)``.
        box_size: ``(h, w)``, real numbers with ``1 <= h <= H`` and ``1 <= w <= W``.

    Returns:
        LongTensor[4]: ``(x1, y1, x2, y2)``, inclusive.

    Raises:
        TypeError: ``size`` or ``box_size`` is not a pair of numbers.
        ValueError: ``box_size`` is below one pixel or larger than the image.

    Example:
        >>> centre_box(64, (32, 32))        # (64 - 32) / 2 = 16: columns and rows 16..47
        tensor([16, 16, 47, 47])
        >>> centre_box((10, 20), (4, 5))    # round(15 / 2) = 8 (halves to even), round(6 / 2) = 3
        tensor([ 8,  3, 12,  6])
    """
    H, W = _image_size(size)
    h, w = _check_box_size(box_size, H, W)
    x1, y1 = round((W - w) / 2), round((H - h) / 2)
    return torch.tensor([x1, y1, x1 + round(w) - 1, y1 + round(h) - 1], dtype=torch.long)


def _mean_size(boxes: Tensor) -> tuple[float, float]:
    """The mean ``(h, w)`` of boxes ``(n, 4)``, n >= 1."""
    if len(boxes) == 0:
        raise ValueError("`gt_boxes` must hold at least one box to take the mean box size, but holds none; "
                         "pass `box_size`.")  # fmt: skip
    b = boxes.double()
    return (b[:, 3] - b[:, 1] + 1).mean().item(), (b[:, 2] - b[:, 0] + 1).mean().item()


def centre_box_accuracy(
    gt_boxes: Tensor | Sequence[Tensor],
    size: int | tuple[int, int],
    *,
    box_size: tuple[float, float] | None = None,
    iou_threshold: float = 0.5,
) -> float:
    """The share of images that one box at the image centre localizes: the baseline that needs no image.

    Every image gets the same box, ``centre_box(size, box_size)``; an image
    counts when that box's IoU with one of its ground-truth boxes is
    ``>= iou_threshold``. Localizing well means doing clearly better than this.

    Args:
        gt_boxes: ``LongTensor[N, 4]`` or ``N`` tensors ``LongTensor[G_i, 4]``.
        size: ``(H, W)`` of the images, or an int ``S``.
        box_size: ``(h, w)`` of the centred box; None for the mean height and
            width of all the ground-truth boxes (measured on the boxes being
            scored; ``best_centre_box_size`` fits a size on other boxes).
        iou_threshold: in ``(0, 1]``.

    Returns:
        The share in [0, 1].

    Raises:
        TypeError, ValueError: a bad argument (named in the message); no image,
            or no box at all to take the mean size of.

    Example:
        >>> gt = torch.tensor([[16, 16, 47, 47], [0, 0, 31, 31]])   # mean 32 x 32: the centred box is the first
        >>> centre_box_accuracy(gt, (64, 64)), centre_box_accuracy(gt, 64, box_size=(64, 64))  # 1024 / 4096
        (0.5, 0.0)
    """
    return centre_box_hits(gt_boxes, size, box_size=box_size, iou_threshold=iou_threshold).double().mean().item()


__all__ += ["centre_box_hits"]


def centre_box_hits(
    gt_boxes: Tensor | Sequence[Tensor],
    size: int | tuple[int, int],
    *,
    box_size: tuple[float, float] | None = None,
    iou_threshold: float = 0.5,
) -> Tensor:
    """Per image, whether the centred box localizes its object: ``centre_box_accuracy`` image by image.

    The per-image outcomes pair with a localizer's on the same images
    (``camlib.study.stats.paired_bootstrap``), so that "the CAM beats a centred box"
    gets an interval. Arguments as ``centre_box_accuracy``.

    Returns:
        ``BoolTensor[N]``.

    Example:
        >>> centre_box_hits(torch.tensor([[16, 16, 47, 47], [0, 0, 31, 31]]), 64)
        tensor([ True, False])
    """
    iou_threshold = check_iou_threshold("iou_threshold", iou_threshold)
    return centre_box_iou(gt_boxes, size, box_size=box_size) >= iou_threshold  # (N,)


def centre_box_iou(
    gt_boxes: Tensor | Sequence[Tensor], size: int | tuple[int, int], *, box_size: tuple[float, float] | None = None
) -> Tensor:
    """Per image, the IoU of the centred box with the best of the image's boxes (``centre_box_hits`` before the threshold).

    What a box regressor that learned one box for every image scores: its mean is the chance level
    a trained regressor must beat (``camlib.study.experiments.convergence``'s ``chance``).
    Arguments as ``centre_box_accuracy``.

    Returns:
        ``DoubleTensor[N]``; 0 for an image without a box.

    Example:
        >>> centre_box_iou(torch.tensor([[16, 16, 47, 47], [0, 0, 31, 31]]), 64)  # the mean size: 32 x 32
        tensor([1.0000, 0.1429], dtype=torch.float64)
    """
    H, W = _image_size(size)
    gt, valid, boxes = _gt(gt_boxes)
    box = centre_box((H, W), _mean_size(boxes) if box_size is None else box_size)
    return _best_iou(box.expand(len(gt), 1, 4), gt, valid)[:, 0].double().clamp(min=0)  # (N,); -1 (no box) -> 0


def center_box_accuracy(boxes: Tensor, image_size: int | tuple[int, int], *, fraction: float | None = None) -> float:
    """``centre_box_accuracy`` at IoU 0.5 under its first name: a centred box of ``fraction`` of each side.

    ``fraction`` None: the boxes' mean size; else ``box_size = (fraction * H, fraction * W)``.

    Example:
        >>> center_box_accuracy(torch.tensor([[16, 16, 47, 47], [0, 0, 31, 31]]), (64, 64))
        0.5
    """
    if fraction is None:
        return centre_box_accuracy(boxes, image_size)
    H, W = _image_size(image_size)
    fraction = check_fraction("fraction", fraction)
    return centre_box_accuracy(boxes, (H, W), box_size=(fraction * H, fraction * W))


def best_centre_box_size(
    gt_boxes: Tensor | Sequence[Tensor],
    size: int | tuple[int, int],
    *,
    fractions: Sequence[float] = CENTRE_FRACTIONS,
    iou_threshold: float = 0.5,
) -> tuple[int, int]:
    """The centred box size ``(h, w)`` that localizes the most of ``gt_boxes``: fit it on training boxes.

    The search grid: the heights ``max(1, round(f * H))`` and the widths
    ``max(1, round(f * W))`` for every ``f`` in ``fractions`` (by default
    ``CENTRE_FRACTIONS``: 0.05, 0.10, ..., 1.00 of the image side), every
    height with every width (20 x 20 boxes by default). The winner has the
    highest ``centre_box_accuracy``; ties go to the higher mean best IoU,
    then to the smaller height, then the smaller width. Score it with
    ``centre_box_accuracy(held_out, size, box_size=...)`` on other images:
    on the boxes it was fitted to, it is optimistic.

    Args:
        gt_boxes: ``LongTensor[N, 4]`` or ``N`` tensors ``LongTensor[G_i, 4]``.
        size: ``(H, W)`` of the images, or an int ``S``.
        fractions: fractions of the image side, each in ``(0, 1]``.
        iou_threshold: in ``(0, 1]``.

    Returns:
        ``(h, w)`` in pixels.

    Example:
        >>> gt = torch.tensor([[25, 25, 74, 74]] * 3 + [[0, 0, 9, 9]])   # three centred 50 x 50 boxes, one corner
        >>> best_centre_box_size(gt, 100)     # 50 x 50: IoU 1 with three of four
        (50, 50)
    """
    H, W = _image_size(size)
    iou_threshold = check_iou_threshold("iou_threshold", iou_threshold)
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, Sequence):
        raise TypeError(f"`fractions` must be a sequence of numbers in (0, 1], but got {fractions!r}.")
    if len(fractions) == 0:
        raise ValueError("`fractions` must hold at least one fraction, but got none.")
    for f in fractions:
        if check_fraction("fractions", f) == 0:
            raise ValueError(f"`fractions` must hold numbers in (0, 1], but got {f!r}.")
    gt, valid, _ = _gt(gt_boxes)
    heights = sorted({max(1, round(f * H)) for f in fractions})
    widths = sorted({max(1, round(f * W)) for f in fractions})
    sizes = [(h, w) for h in heights for w in widths]  # grid order: height, then width
    candidates = torch.stack([centre_box((H, W), s) for s in sizes])  # (C, 4)
    N, G = valid.shape
    hits, mean_iou = [], []
    step = max(1, 2**22 // (N * G))
    for i in range(0, len(candidates), step):
        c = candidates[i : i + step]  # (c, 4)
        best = _best_iou(c[None].expand(N, -1, 4), gt, valid).clamp(min=0)  # (N, c)
        hits += (best >= iou_threshold).sum(dim=0).tolist()
        mean_iou += best.mean(dim=0).tolist()
    i = max(range(len(sizes)), key=lambda j: (hits[j], mean_iou[j]))  # the first of equals: grid order
    return sizes[i]


def random_boxes(
    n: int, size: int | tuple[int, int], *, generator: torch.Generator, sizes: Tensor | None = None
) -> Tensor:
    """``n`` random boxes in an image of ``size``: the chance baselines of localization.

    - ``sizes`` None (*uniform corners*): along each axis, two independent
      uniform draws from the pixel indices ``0 .. W - 1``, sorted, give
      ``x1 <= x2`` (likewise ``y1 <= y2``). Any box can come out; small ones
      are as likely as large ones along each axis.
    - ``sizes`` given (*random placement of a known size*): each box takes a
      row ``(h, w)`` of ``sizes`` uniformly at random (e.g. the ground-truth
      boxes of the training images) and a position drawn uniformly among
      those that keep it inside the image. It knows the typical object size
      but not where the object is.

    Args:
        n: the number of boxes, >= 0.
        size: ``(H, W)`` of the image, or an int ``S``.
        generator: a ``torch.Generator`` (the draws are a pure function of its state).
        sizes: ``LongTensor[m, 2]`` of ``(h, w)`` with ``1 <= h <= H``,
            ``1 <= w <= W``, or None.

    Returns:
        ``LongTensor[n, 4]``, inclusive pixel boxes inside the image.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> random_boxes(2, (1, 1), generator=g)                          # a one-pixel image
        tensor([[0, 0, 0, 0],
                [0, 0, 0, 0]])
        >>> random_boxes(1, (5, 8), generator=g, sizes=torch.tensor([[5, 8]]))   # the whole image
        tensor([[0, 0, 7, 4]])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"`n` must be an int >= 0, but got {n!r}.")
    H, W = _image_size(size)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator, but got {type(generator).__name__}.")
    if sizes is None:
        xs = torch.randint(W, (n, 2), generator=generator).sort(dim=1).values  # (n, 2)
        ys = torch.randint(H, (n, 2), generator=generator).sort(dim=1).values
        return torch.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], dim=1)
    check_tensor("sizes", sizes, ndim=2, dims="(m, 2)", integer=True)
    if sizes.shape[1] != 2 or len(sizes) == 0:
        raise ValueError(f"`sizes` must be a non-empty tensor (m, 2) of (h, w), but got shape {tuple(sizes.shape)}.")
    h, w = sizes[:, 0].long().cpu(), sizes[:, 1].long().cpu()
    if (h < 1).any() or (w < 1).any() or (h > H).any() or (w > W).any():
        raise ValueError(f"`sizes` must hold (h, w) with 1 <= h <= {H} and 1 <= w <= {W}, but got values outside.")
    pick = torch.randint(len(sizes), (n,), generator=generator)
    h, w = h[pick], w[pick]
    # a uniform position among the W - w + 1 (H - h + 1) that fit: floor(u * count) with u in [0, 1)
    u = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    x1 = (u[:, 0] * (W - w + 1)).floor().long().clamp(max=W - w)
    y1 = (u[:, 1] * (H - h + 1)).floor().long().clamp(max=H - h)
    return torch.stack([x1, y1, x1 + w - 1, y1 + h - 1], dim=1)


def random_box_accuracy(
    gt_boxes: Tensor | Sequence[Tensor],
    size: int | tuple[int, int],
    *,
    draws: int,
    generator: torch.Generator,
    sizes: Tensor | None = None,
    iou_threshold: float = 0.5,
) -> float:
    """The share of random boxes that localize their image's object: the chance level of localization.

    Draws ``random_boxes(N * draws, size, generator=generator, sizes=sizes)``
    in one call; boxes ``i * draws .. (i + 1) * draws - 1`` go to image ``i``.
    The result is the share of all ``N * draws`` boxes whose IoU with one of
    their image's ground-truth boxes is ``>= iou_threshold`` (the GT-known
    accuracy of the random boxes, ``camlib.gt_known_accuracy``).

    Args:
        gt_boxes: ``LongTensor[N, 4]`` or ``N`` tensors ``LongTensor[G_i, 4]``.
        size: ``(H, W)`` of the images, or an int ``S``.
        draws: random boxes per image, >= 1.
        generator: a ``torch.Generator``; the result is a pure function of its state.
        sizes: None or ``LongTensor[m, 2]`` of ``(h, w)``: see ``random_boxes``.
        iou_threshold: in ``(0, 1]``.

    Returns:
        The share in [0, 1].

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> random_box_accuracy(torch.tensor([[0, 0, 7, 4]]), (5, 8), draws=3, generator=g,
        ...                     sizes=torch.tensor([[5, 8]]))   # only the whole image fits: IoU 1
        1.0
    """
    return _random_hits(gt_boxes, size, draws, generator, sizes, iou_threshold).double().mean().item()


__all__ += ["random_box_hits"]


def random_box_hits(
    gt_boxes: Tensor | Sequence[Tensor],
    size: int | tuple[int, int],
    *,
    draws: int,
    generator: torch.Generator,
    sizes: Tensor | None = None,
    iou_threshold: float = 0.5,
) -> Tensor:
    """Per image, the share of its ``draws`` random boxes that localize its object: ``random_box_accuracy`` per image.

    The same draws as ``random_box_accuracy`` with the same generator state
    (boxes ``i * draws .. (i + 1) * draws - 1`` go to image ``i``), so the
    mean of the result is ``random_box_accuracy``; per image, it can be
    paired with a localizer's hits (``camlib.study.stats.paired_bootstrap``).

    Args:
        gt_boxes, size, draws, generator, sizes, iou_threshold: as for ``random_box_accuracy``.

    Returns:
        ``Tensor[N]``, float64, multiples of ``1 / draws`` in [0, 1].

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> random_box_hits([torch.tensor([[0, 0, 0, 0]]), torch.zeros(0, 4, dtype=torch.long)], 1,
        ...                 draws=2, generator=g)   # a one-pixel image: always hit; no ground truth: never
        tensor([1., 0.], dtype=torch.float64)
    """
    return _random_hits(gt_boxes, size, draws, generator, sizes, iou_threshold).double().mean(dim=1)  # (N,)


def _random_hits(gt_boxes, size, draws, generator, sizes, iou_threshold) -> Tensor:
    """``BoolTensor[N, draws]``: whether each random box of each image hits it (the draws of both functions above)."""
    _image_size(size)
    iou_threshold = check_iou_threshold("iou_threshold", iou_threshold)
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"`draws` must be an int >= 1, but got {draws!r}.")
    gt, valid, _ = _gt(gt_boxes)
    N = len(gt)
    boxes = random_boxes(N * draws, size, generator=generator, sizes=sizes)  # (N * draws, 4)
    return _best_iou(boxes.view(N, draws, 4), gt, valid) >= iou_threshold  # (N, draws)
