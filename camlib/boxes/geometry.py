"""Box geometry: the one home of the box convention, areas, IoU and box moves (like torchvision's ``ops/boxes.py``).

The convention, used by every module of camlib:

- A box is ``(x1, y1, x2, y2)`` in *inclusive integer pixel indices*, ``x``
  the column and ``y`` the row: it covers columns ``x1..x2`` and rows
  ``y1..y2``, so its width is ``x2 - x1 + 1``, its height ``y2 - y1 + 1`` and
  its area ``(x2 - x1 + 1) * (y2 - y1 + 1)`` (the "+1" of the ILSVRC devkit
  and of wsolevaluation). Boxes have an integer dtype; a batch of them is a
  ``LongTensor[N, 4]``.
- A box is at least one pixel: ``x2 >= x1`` and ``y2 >= y1`` (``x2 == x1`` is
  one column wide). There is no zero-area box; ``x2 = x1 - 1`` is refused.
- As a continuous region of pixel edges, an inclusive box covers
  ``[x1, x2 + 1) x [y1, y2 + 1)``; ``resize_boxes`` and the unit encoding
  (``boxes_to_unit``) move those edges.
- The intersection of two boxes is the box ``(max x1, max y1, min x2, min y2)``,
  empty when a side is below 1 pixel;
  ``IoU = |a ∩ b| / (|a| + |b| - |a ∩ b|)``, computed in float64 from exact
  integer areas (float32 on MPS, which has no float64). The union of two
  boxes is never 0.
- A box *hits* a ground-truth box when their IoU is ``>= iou_threshold``,
  with ``iou_threshold`` in ``(0, 1]``. Ground truth comes as one
  ``LongTensor[G_i, 4]`` per image (``G_i`` may differ, and may be 0: an
  image without a box is never hit).

``check_boxes`` is the validation shared by every public function that takes
boxes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from camlib._validate import _shape, check_size, check_tensor

__all__ = [
    "best_iou",
    "box_area",
    "box_coverage",
    "box_intersection",
    "box_iou",
    "boxes_to_unit",
    "check_boxes",
    "check_iou_threshold",
    "clip_boxes",
    "expand_boxes",
    "resize_boxes",
    "unit_to_boxes",
]


# --- validation -------------------------------------------------------------------------


def check_boxes(
    name: str, boxes: object, *, dims: str = "(N, 4)", ndim: int | None = 2, ordered: bool = True
) -> Tensor:
    """Check a tensor of inclusive boxes: integer dtype, last dimension 4, and ``x2 >= x1``, ``y2 >= y1``.

    Args:
        name: the argument's name, as the caller's signature spells it.
        boxes: what the caller passed.
        dims: the dimension names for the message, e.g. ``"(N, 4)"`` or ``"(N, k, 4)"``.
        ndim: the required number of dimensions, or None for any (at least 1).
        ordered: also require ``x2 >= x1`` and ``y2 >= y1`` (False: any corners).

    Returns:
        ``boxes``, unchanged.

    Raises:
        TypeError: ``boxes`` is not a tensor of an integer dtype.
        ValueError: the wrong shape, or a box with ``x2 < x1`` or ``y2 < y1``
            (the message shows the first such box and its index).

    Example:
        >>> check_boxes("boxes", torch.tensor([[0, 0, 3, 3], [5, 0, 4, 3]]))
        Traceback (most recent call last):
        ...
        ValueError: `boxes` must hold boxes (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1, but box 1 is [5, 0, 4, 3].
    """
    boxes = check_tensor(name, boxes, integer=True)
    if ndim is not None and (boxes.ndim != ndim or boxes.shape[-1] != 4):
        raise ValueError(f"`{name}` must be a {ndim}-D tensor {dims}, but got shape {_shape(boxes)}.")
    if boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"`{name}` must have shape {dims} with a last dimension of 4, but got shape {_shape(boxes)}.")
    if ordered:
        bad = (boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1])
        if bad.any():
            where = tuple(int(i) for i in bad.nonzero()[0])
            index = where[0] if len(where) == 1 else where
            raise ValueError(
                f"`{name}` must hold boxes (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1, "
                f"but box {index} is {boxes[where].tolist()}."
            )
    return boxes


def check_iou_threshold(name: str, value: object) -> float:
    """Check an IoU threshold: a real number in ``(0, 1]`` (bools refused); returns it as a float.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is outside ``(0, 1]``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a real number in (0, 1], but got {value!r}.")
    if not 0.0 < value <= 1.0:
        raise ValueError(f"`{name}` must be in (0, 1], but got {value!r}.")
    return float(value)


def _size(name: str, value: object) -> tuple[int, int]:
    """An image size ``S`` or ``(H, W)``; None refused."""
    if value is None:
        raise TypeError(f"`{name}` must be an int S or a pair (H, W) of ints, but got None.")
    size = check_size(name, value)
    assert size is not None  # check_size returns None only for None, refused above
    return size


# --- areas and IoU (no validation: broadcast boxes (..., 4)) ----------------------------


def _area(b: Tensor) -> Tensor:
    """Inclusive pixel areas of boxes ``(..., 4)``."""
    return (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)


def _inter(a: Tensor, b: Tensor) -> Tensor:
    """Pixels shared by broadcast boxes ``(..., 4)``: 0 when they do not overlap."""
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0]) + 1).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1]) + 1).clamp(min=0)
    return iw * ih


def _iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of broadcast boxes ``(..., 4)`` from exact integer areas, float64 (float32 on MPS)."""
    inter = _inter(a, b)
    dtype = torch.float32 if inter.device.type == "mps" else torch.float64
    return inter.to(dtype) / (_area(a) + _area(b) - inter).to(dtype)


def _pad_gt(gt_boxes: object, n: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Ground-truth lists -> ``(boxes (N, G, 4), valid (N, G))`` on ``device``, ``G = max(1, max G_i)``."""
    if isinstance(gt_boxes, Tensor) or not isinstance(gt_boxes, Sequence):
        raise TypeError(
            f"`gt_boxes` must be a list of N tensors LongTensor[m_i, 4], but got {type(gt_boxes).__name__}."
        )
    if len(gt_boxes) != n:
        raise ValueError(f"`gt_boxes` must hold one LongTensor[m_i, 4] per image ({n}), but got {len(gt_boxes)}.")
    for i, boxes in enumerate(gt_boxes):
        check_boxes(f"gt_boxes[{i}]", boxes, dims="(m, 4)")
    m = max((len(b) for b in gt_boxes), default=0)
    padded = torch.zeros(n, max(m, 1), 4, dtype=torch.long, device=device)
    valid = torch.zeros(n, max(m, 1), dtype=torch.bool, device=device)
    for i, boxes in enumerate(gt_boxes):
        padded[i, : len(boxes)] = boxes.to(device)
        valid[i, : len(boxes)] = True
    return padded, valid


def _best_iou(boxes: Tensor, gt: Tensor, valid: Tensor) -> Tensor:
    """Largest IoU of each box ``(N, P, 4)`` with the valid ground truth ``(N, G, 4)`` -> ``(N, P)``; -1 if none."""
    iou = _iou(boxes[:, :, None, :], gt[:, None, :, :])  # (N, P, G)
    return torch.where(valid[:, None, :], iou, -1.0).amax(dim=2)


def box_area(boxes: Tensor) -> Tensor:
    """Pixel areas ``(x2 - x1 + 1) * (y2 - y1 + 1)`` of inclusive boxes.

    Args:
        boxes (LongTensor[N, 4]): ``(x1, y1, x2, y2)``.

    Returns:
        LongTensor[N]: at least 1 each.

    Example:
        >>> box_area(torch.tensor([[0, 0, 9, 9], [3, 3, 3, 3], [2, 0, 4, 1]]))   # 10 x 10, one pixel, 3 x 2
        tensor([100,   1,   6])
    """
    return _area(check_boxes("boxes", boxes))


def box_intersection(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Pairwise pixels shared by two sets of inclusive boxes.

    Args:
        boxes1 (LongTensor[N, 4]): ``(x1, y1, x2, y2)``.
        boxes2 (LongTensor[M, 4]): on the same device.

    Returns:
        LongTensor[N, M]: ``|a ∩ b|``, 0 for boxes that share no pixel.

    Example:
        >>> box_intersection(torch.tensor([[0, 0, 9, 9]]), torch.tensor([[5, 5, 14, 14], [10, 0, 12, 9]]))
        tensor([[25,  0]])
    """
    boxes1, boxes2 = _check_pair(boxes1, boxes2)
    return _inter(boxes1[:, None, :], boxes2[None, :, :])  # (N, M)


def _check_pair(boxes1: object, boxes2: object) -> tuple[Tensor, Tensor]:
    boxes1 = check_tensor("boxes1", boxes1, integer=True)
    boxes2 = check_tensor("boxes2", boxes2, integer=True)
    if boxes1.device != boxes2.device:
        raise ValueError(f"`boxes2` must be on the device of `boxes1` ({boxes1.device}), but is on {boxes2.device}.")
    return check_boxes("boxes1", boxes1, dims="(N, 4)"), check_boxes("boxes2", boxes2, dims="(M, 4)")


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Pairwise intersection over union of inclusive pixel boxes (the ILSVRC devkit convention).

    ``|a| = (x2 - x1 + 1)(y2 - y1 + 1)``; the intersection is the box
    ``(max x1, max y1, min x2, min y2)``, empty when a side is below 1;
    ``IoU = |a ∩ b| / (|a| + |b| - |a ∩ b|)``. A box is at least one pixel,
    so the union is never 0.

    Args:
        boxes1: ``LongTensor[N, 4]``, ``(x1, y1, x2, y2)``.
        boxes2: ``LongTensor[M, 4]``, on the same device.

    Returns:
        ``Tensor[N, M]``, float64 (float32 on MPS).

    Raises:
        TypeError: a box tensor is not an integer tensor.
        ValueError: wrong shape, a box with ``x2 < x1`` or ``y2 < y1``, or
            two devices.

    Example:
        >>> a = torch.tensor([[0, 0, 9, 9]])                  # 10 x 10 = 100 pixels
        >>> b = torch.tensor([[0, 0, 4, 4], [5, 0, 14, 9]])   # 25 pixels inside; 100, half overlapping
        >>> box_iou(a, b)                                      # 25 / 100; 50 / (100 + 100 - 50)
        tensor([[0.2500, 0.3333]], dtype=torch.float64)
    """
    boxes1, boxes2 = _check_pair(boxes1, boxes2)
    return _iou(boxes1[:, None, :], boxes2[None, :, :])


def best_iou(boxes: Tensor, gt_boxes: Sequence[Tensor]) -> Tensor:
    """The IoU of each box with the best of its own image's ground-truth boxes.

    ``best_iou(boxes, gt)[i] = max_j IoU(boxes[i], gt[i][j])``, and 0 for an
    image without a ground-truth box (it is never hit). With several boxes
    per image (``Tensor[N, P, 4]``) each of them gets its own best IoU.

    Args:
        boxes: ``LongTensor[N, 4]`` (one box per image) or ``LongTensor[N, P, 4]``.
        gt_boxes: ``N`` tensors ``LongTensor[G_i, 4]``, moved to the device of ``boxes``.

    Returns:
        ``Tensor[N]`` (or ``Tensor[N, P]``), float64 (float32 on MPS), in [0, 1].

    Raises:
        TypeError: ``gt_boxes`` is not a sequence of integer tensors, or ``boxes``
            is not an integer tensor.
        ValueError: wrong shapes, not one ``gt_boxes`` entry per image, or a
            box with ``x2 < x1`` or ``y2 < y1``.

    Example:
        >>> boxes = torch.tensor([[0, 0, 9, 9], [0, 0, 4, 4], [0, 0, 1, 1]])
        >>> gt = [torch.tensor([[0, 0, 4, 4], [0, 0, 9, 9]]),   # the second is the box itself: 1
        ...       torch.tensor([[0, 0, 9, 9]]),                 # a quarter-size box inside: 25 / 100
        ...       torch.zeros(0, 4, dtype=torch.long)]          # no ground truth: 0
        >>> best_iou(boxes, gt)
        tensor([1.0000, 0.2500, 0.0000], dtype=torch.float64)
    """
    check_tensor("boxes", boxes, integer=True)
    if boxes.ndim not in (2, 3):
        raise ValueError(f"`boxes` must be a tensor (N, 4) or (N, P, 4), but got shape {_shape(boxes)}.")
    check_boxes("boxes", boxes, dims="(N, 4)" if boxes.ndim == 2 else "(N, P, 4)", ndim=boxes.ndim)
    gt, valid = _pad_gt(gt_boxes, boxes.shape[0], boxes.device)
    best = _best_iou(boxes if boxes.ndim == 3 else boxes[:, None], gt, valid).clamp(min=0)  # (N, P)
    return best if boxes.ndim == 3 else best[:, 0]


def box_coverage(boxes: Tensor, gt_boxes: Tensor) -> Tensor:
    """The share of each ground-truth box's pixels that lie inside its box: what a crop keeps of the object.

    ``|box ∩ gt| / |gt|`` with inclusive pixel areas (``box_iou``'s
    convention). Unlike IoU it does not penalize a box larger than the
    object: a crop that holds the whole object scores 1 however loose it is.

    Args:
        boxes: ``LongTensor[N, 4]``, one box per image.
        gt_boxes: ``LongTensor[N, 4]``, the object's box in each image.

    Returns:
        ``Tensor[N]``, float64, in [0, 1].

    Example:
        >>> box_coverage(torch.tensor([[0, 0, 9, 9], [0, 0, 4, 9]]), torch.tensor([[2, 2, 5, 5], [0, 0, 9, 9]]))
        tensor([1.0000, 0.5000], dtype=torch.float64)
    """
    boxes, gt_boxes = check_boxes("boxes", boxes).long(), check_boxes("gt_boxes", gt_boxes).long()
    if boxes.shape != gt_boxes.shape:
        raise ValueError(f"`gt_boxes` must hold one box per box of `boxes` ({len(boxes)}), but got {len(gt_boxes)}.")
    return _inter(boxes, gt_boxes).double() / _area(gt_boxes).double()


# --- moving boxes -----------------------------------------------------------------------


def resize_boxes(boxes: Tensor, from_size: tuple[int, int], to_size: tuple[int, int]) -> Tensor:
    """Inclusive boxes of an image of ``from_size``, moved to the same image resized to ``to_size``.

    An inclusive box ``(x1, y1, x2, y2)`` covers the continuous region
    ``[x1, x2 + 1) x [y1, y2 + 1)`` of pixel edges. A straight resize from
    ``(H, W)`` to ``(H', W')`` scales that region exactly, by ``W'/W`` along
    x and ``H'/H`` along y; each edge then goes to the nearest pixel boundary
    (halves up), and the box keeps at least one pixel:

        x1' = floor(x1 W'/W + 1/2),   x2' = max(floor((x2 + 1) W'/W + 1/2) - 1, x1'),

    and likewise for y, computed in exact integer arithmetic, then clipped to
    the output image. Rounding the edges keeps the box's area unbiased (an
    outer cover would add half a pixel per edge on average); a box touching
    the right or bottom border still touches it (``x2 = W - 1`` gives
    ``x2' = W' - 1``), and the same size gives the same boxes. wsolevaluation
    scales the corners instead, ``int(x W'/W)``: at most one pixel away when
    the image shrinks, more when it grows.

    Args:
        boxes (LongTensor[m, 4]): ``(x1, y1, x2, y2)`` inclusive, ``x`` the column.
        from_size: ``(H, W)`` of the image the boxes refer to (an int ``S`` for ``(S, S)``).
        to_size: ``(H', W')`` of the resized image.

    Returns:
        LongTensor[m, 4]: the boxes in the resized image.

    Example:
        >>> resize_boxes(torch.tensor([[0, 0, 226, 226], [2, 10, 5, 10]]), 227, 224)
        tensor([[  0,   0, 223, 223],
                [  2,  10,   5,  10]])
        >>> resize_boxes(torch.tensor([[1, 0, 4, 1]]), (2, 8), (4, 4))  # x halved, y doubled
        tensor([[1, 0, 2, 3]])
    """
    boxes = check_boxes("boxes", boxes, dims="(m, 4)", ordered=False).long()
    (H, W), (H2, W2) = _size("from_size", from_size), _size("to_size", to_size)
    scale_from = torch.tensor([W, H, W, H])
    scale_to = torch.tensor([W2, H2, W2, H2])
    edges = boxes + torch.tensor([0, 0, 1, 1])  # (m, 4) pixel edges x1, y1, x2 + 1, y2 + 1
    edges = (2 * edges * scale_to + scale_from) // (2 * scale_from)  # floor(e * to / from + 1/2)
    out = edges - torch.tensor([0, 0, 1, 1])
    out[:, 2:] = torch.maximum(out[:, 2:], out[:, :2])
    return clip_boxes(out, (H2, W2))


def clip_boxes(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Inclusive boxes clipped to an image of ``size = (H, W)``: ``0 <= x <= W - 1``, ``0 <= y <= H - 1``.

    Example:
        >>> clip_boxes(torch.tensor([[-3, 2, 12, 4]]), (5, 10))
        tensor([[0, 2, 9, 4]])
    """
    boxes = check_boxes("boxes", boxes, dims="(m, 4)", ordered=False)
    H, W = _size("size", size)
    upper = torch.tensor([W - 1, H - 1, W - 1, H - 1], dtype=boxes.dtype)
    return torch.minimum(boxes.clamp(min=0), upper)


def _check_margin(margin: object) -> float:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)):
        raise TypeError(f"`margin` must be a number >= 0, but got {margin!r}.")
    if not margin >= 0:
        raise ValueError(f"`margin` must be a number >= 0, but got {margin!r}.")
    return float(margin)


def expand_boxes(boxes: Tensor, margin: float, size: int | tuple[int, int]) -> Tensor:
    """Boxes grown by ``margin`` times their own width (height) on each side, clipped to the image.

    A box ``w = x2 - x1 + 1`` pixels wide gains ``p = floor(margin * w + 1/2)``
    pixels left and right, ``x1' = max(x1 - p, 0)``, ``x2' = min(x2 + p, W - 1)``,
    and likewise along y with its height. ``margin = 0`` returns the boxes
    clipped to the image.

    Args:
        boxes: ``LongTensor[N, 4]``, inclusive pixel boxes.
        margin: a number >= 0 (0.1: a tenth of the box on every side).
        size: ``(H, W)`` of the image, or an int ``S`` for ``(S, S)``.

    Returns:
        ``LongTensor[N, 4]``.

    Example:
        >>> expand_boxes(torch.tensor([[10, 10, 19, 29], [0, 0, 3, 3]]), 0.1, 40)   # 10 x 20 box: 1 and 2 pixels
        tensor([[ 9,  8, 20, 31],
                [ 0,  0,  3,  3]])
    """
    boxes = check_boxes("boxes", boxes).long()
    margin = _check_margin(margin)
    H, W = _size("size", size)
    w = (boxes[:, 2] - boxes[:, 0] + 1).double()
    h = (boxes[:, 3] - boxes[:, 1] + 1).double()
    px, py = (margin * w + 0.5).floor().long(), (margin * h + 0.5).floor().long()
    grown = torch.stack([boxes[:, 0] - px, boxes[:, 1] - py, boxes[:, 2] + px, boxes[:, 3] + py], dim=1)
    return clip_boxes(grown, (H, W))


# --- the unit encoding (box regression) -------------------------------------------------


def boxes_to_unit(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Inclusive pixel boxes -> normalized box edges in ``[0, 1]``.

    A box ``(x1, y1, x2, y2)`` of inclusive pixel indices covers the
    continuous interval ``[x1, x2 + 1)``; in units of the image side ``W``
    its edges are ``(x1 / W, y1 / H, (x2 + 1) / W, (y2 + 1) / H)``.

    Args:
        boxes (LongTensor[N, 4]): inclusive pixel boxes.
        size: ``(H, W)`` of the image (an int ``S`` for ``(S, S)``).

    Returns:
        Tensor[N, 4]: float32 edges, on the device of ``boxes``.

    Example:
        >>> boxes_to_unit(torch.tensor([[0, 0, 63, 31]]), (64, 64))
        tensor([[0.0000, 0.0000, 1.0000, 0.5000]])
    """
    check_boxes("boxes", boxes)
    H, W = _size("size", size)
    scale = torch.tensor([W, H, W, H], dtype=torch.float32, device=boxes.device)
    return (boxes.float() + torch.tensor([0, 0, 1, 1], device=boxes.device)) / scale  # (N, 4)


def unit_to_boxes(unit: Tensor, size: tuple[int, int]) -> Tensor:
    """Normalized box edges -> inclusive pixel boxes (the inverse of ``boxes_to_unit``).

    Edges are rounded to the nearest pixel boundary (``torch.round``, halves
    to even) and clipped to the image; a box is at least one pixel wide and high.

    Args:
        unit (Tensor[N, 4]): floating-point edges ``(x1, y1, x2, y2)`` in units of the image sides.
        size: ``(H, W)`` of the image (an int ``S`` for ``(S, S)``).

    Returns:
        LongTensor[N, 4]: inclusive boxes inside the image.

    Example:
        >>> unit_to_boxes(torch.tensor([[0.0, 0.0, 1.0, 0.5]]), (64, 64))
        tensor([[ 0,  0, 63, 31]])
    """
    check_tensor("unit", unit, ndim=2, dims="(N, 4)", floating=True)
    if unit.shape[1] != 4:
        raise ValueError(f"`unit` must be a 2-D tensor (N, 4), but got shape {tuple(unit.shape)}.")
    H, W = _size("size", size)
    scale = torch.tensor([W, H, W, H], dtype=unit.dtype, device=unit.device)
    edges = torch.round(unit * scale).long()  # (N, 4) pixel boundaries
    x1, y1 = edges[:, 0].clamp(0, W - 1), edges[:, 1].clamp(0, H - 1)
    x2 = torch.maximum(edges[:, 2] - 1, x1).clamp(max=W - 1)
    y2 = torch.maximum(edges[:, 3] - 1, y1).clamp(max=H - 1)
    return torch.stack([x1, y1, x2, y2], dim=1)  # (N, 4)
