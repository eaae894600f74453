"""The IoU of boolean masks, ``|A ∩ B| / |A ∪ B|``: the one primitive under every mask IoU of camlib.

Three layers, so that both forms of the IoU use the same counts and the same division:

- ``mask_intersection_union``: the exact pixel counts ``|A ∩ B|`` and
  ``|A ∪ B|`` (int64), per pair of masks;
- ``iou_from_counts``: their ratio, with a chosen value where the union is
  empty. A *data-set* IoU (Network Dissection, Bau et al. 2017) sums the
  counts over the images first and divides once:
  ``IoU = sum_i |A_i ∩ B_i| / sum_i |A_i ∪ B_i|``;
- ``mask_iou``: the two together, one IoU per pair of masks (per image).

The ratio is computed in float64 from the exact counts (float32 on MPS).
"""

from __future__ import annotations

import torch
from torch import Tensor

from camlib._validate import check_masks, check_tensor

__all__ = ["iou_from_counts", "mask_intersection_union", "mask_iou"]


def _shape(t: Tensor) -> str:
    return str(tuple(t.shape))


def _check_pair(a: object, b: object, pairwise: bool) -> tuple[Tensor, Tensor]:
    a, b = check_masks("a", a), check_masks("b", b)
    if not isinstance(pairwise, bool):
        raise TypeError(f"`pairwise` must be a bool, but got {pairwise!r}.")
    if pairwise:
        for name, t in (("a", a), ("b", b)):
            if t.ndim < 3:
                raise ValueError(
                    f"`{name}` must have at least 3 dimensions (..., {'M' if name == 'a' else 'P'}, H, W) with "
                    f"`pairwise=True`, but got shape {_shape(t)}."
                )
    if a.shape[-2:] != b.shape[-2:]:
        raise ValueError(
            f"`b` must hold masks of the size of `a`'s ({a.shape[-2]} x {a.shape[-1]}), but got shape {_shape(b)}."
        )
    lead = 3 if pairwise else 2
    try:
        torch.broadcast_shapes(a.shape[:-lead], b.shape[:-lead])
    except RuntimeError:
        which = "(...) of (..., M, H, W) and (..., P, H, W)" if pairwise else "(...) of (..., H, W)"
        raise ValueError(
            f"`a` and `b` must have leading dimensions {which} that broadcast, but got shapes {_shape(a)} and "
            f"{_shape(b)}."
        ) from None
    if a.device != b.device:
        raise ValueError(f"`b` must be on the device of `a` ({a.device}), but got {b.device}.")
    return a, b


def _check_empty(empty: object) -> float:
    if isinstance(empty, bool) or not isinstance(empty, (int, float)):
        raise TypeError(f"`empty` must be a real number (e.g. 0.0 or nan), but got {empty!r}.")
    return float(empty)


def mask_intersection_union(a: Tensor, b: Tensor, *, pairwise: bool = False) -> tuple[Tensor, Tensor]:
    """The pixel counts ``|A ∩ B|`` and ``|A ∪ B| = |A| + |B| - |A ∩ B|`` of boolean masks.

    Two forms:

    - broadcast (default): ``a (BoolTensor[..., H, W])`` and
      ``b (BoolTensor[..., H, W])`` whose leading dimensions broadcast; mask
      ``a[i]`` is paired with mask ``b[i]``.
    - ``pairwise=True``: ``a (BoolTensor[..., M, H, W])`` and
      ``b (BoolTensor[..., P, H, W])``; every mask of ``a`` is paired with
      every mask of ``b``. The intersections are a matrix product of the
      flattened masks (in float64: exact, the sums are integers below
      ``2**53``), so the ``(..., M, P, H, W)`` pairs are never held.

    The counts are exact and summable: a data-set IoU adds them over the
    images before dividing (``iou_from_counts``).

    Args:
        a: ``BoolTensor[..., H, W]`` (``[..., M, H, W]`` when ``pairwise``).
        b: ``BoolTensor[..., H, W]`` (``[..., P, H, W]`` when ``pairwise``),
            on the device of ``a``, masks of the same ``H x W``.
        pairwise: every mask of ``a`` against every mask of ``b``.

    Returns:
        ``(intersection, union)``, two ``LongTensor``: of the broadcast
        leading shape ``[...]``, or ``[..., M, P]`` when ``pairwise``.

    Raises:
        TypeError: ``a`` or ``b`` is not a bool tensor.
        ValueError: too few dimensions, masks of different sizes, leading
            dimensions that do not broadcast, or different devices.

    Example:
        >>> a = torch.zeros(4, 4, dtype=torch.bool); a[:2, :2] = True     # a quarter: 4 px
        >>> b = torch.zeros(2, 4, 4, dtype=torch.bool); b[0, :2] = True   # the top half: 8 px; nothing
        >>> mask_intersection_union(a, b)                                # 4 px inside 8; 0 px inside 4
        (tensor([4, 0]), tensor([8, 4]))
        >>> [t.tolist() for t in mask_intersection_union(a[None], b, pairwise=True)]   # (M = 1, P = 2)
        [[[4, 0]], [[8, 4]]]
    """
    a, b = _check_pair(a, b, pairwise)
    fa, fb = a.flatten(-2), b.flatten(-2)  # (..., H * W)
    size_a, size_b = fa.sum(-1), fb.sum(-1)  # |A|, |B|: int64
    if pairwise:
        on = torch.device("cpu") if fa.device.type == "mps" else fa.device  # no float64 on MPS
        x, y = fa.to(on, torch.float64), fb.to(on, torch.float64)
        inter = (x @ y.transpose(-1, -2)).long().to(fa.device)  # (..., M, P)
        union = size_a[..., :, None] + size_b[..., None, :] - inter
    else:
        inter = (fa & fb).sum(-1)  # (...)
        union = size_a + size_b - inter
    return inter, union


def iou_from_counts(intersection: Tensor, union: Tensor, *, empty: float = 0.0) -> Tensor:
    """``intersection / union``, and ``empty`` where the union is 0: the IoU of (summed) pixel counts.

    With the counts of one pair of masks this is their IoU; with counts
    summed over the images of a data set, Network Dissection's
    ``IoU = sum_i |A_i ∩ B_i| / sum_i |A_i ∪ B_i|`` (Bau et al. 2017).

    Args:
        intersection: ``Tensor[...]``, counts (integer or floating dtype),
            e.g. from ``mask_intersection_union``.
        union: ``Tensor[...]``, counts of a shape that broadcasts with
            ``intersection``, each ``>= intersection``.
        empty: the value where ``union == 0`` (both masks empty): 0.0 by
            default, ``float("nan")`` for "undefined".

    Returns:
        ``Tensor[...]`` of the broadcast shape, float64 (float32 on MPS).

    Raises:
        TypeError: a count is not a tensor of a real dtype, or ``empty`` is not a number.
        ValueError: the shapes do not broadcast.

    Example:
        >>> inter, union = torch.tensor([4, 1, 0]), torch.tensor([8, 3, 0])   # over two images: 5 / 11
        >>> iou_from_counts(inter, union).tolist(), iou_from_counts(inter[:2].sum(), union[:2].sum()).item()
        ([0.5, 0.3333333333333333, 0.0], 0.45454545454545453)
        >>> iou_from_counts(inter, union, empty=float("nan"))[2].item()
        nan
    """
    for name, t in (("intersection", intersection), ("union", union)):
        check_tensor(name, t)
        if t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"`{name}` must hold counts (an integer or floating dtype), but got {t.dtype}.")
    empty = _check_empty(empty)
    try:
        torch.broadcast_shapes(intersection.shape, union.shape)
    except RuntimeError:
        raise ValueError(
            f"`intersection` and `union` must have shapes that broadcast, but got {_shape(intersection)} and "
            f"{_shape(union)}."
        ) from None
    dtype = torch.float32 if union.device.type == "mps" else torch.float64
    ratio = intersection.to(dtype) / union.to(dtype).clamp(min=1)
    return torch.where(union > 0, ratio, torch.full_like(ratio, empty))


def mask_iou(a: Tensor, b: Tensor, *, pairwise: bool = False, empty: float = 0.0) -> Tensor:
    """The IoU ``|A ∩ B| / |A ∪ B|`` of each pair of boolean masks, ``empty`` where both are empty.

    ``iou_from_counts(*mask_intersection_union(a, b, pairwise=pairwise), empty=empty)``:
    one IoU per pair (per image). For an IoU over a data set, sum the counts of
    ``mask_intersection_union`` over the images and then call ``iou_from_counts``.

    Args:
        a: ``BoolTensor[..., H, W]`` (``[..., M, H, W]`` when ``pairwise``).
        b: ``BoolTensor[..., H, W]``, leading dimensions broadcasting with
            ``a``'s (``[..., P, H, W]`` when ``pairwise``).
        pairwise: every mask of ``a`` against every mask of ``b``.
        empty: the IoU of two empty masks (union 0): 0.0 by default,
            ``float("nan")`` for "undefined".

    Returns:
        ``Tensor[...]`` (``[..., M, P]`` when ``pairwise``), float64 in
        ``[0, 1]`` (float32 on MPS), 1 for identical non-empty masks.

    Raises:
        TypeError: ``a`` or ``b`` is not a bool tensor, ``empty`` not a number.
        ValueError: see ``mask_intersection_union``.

    Example:
        >>> a = torch.zeros(4, 4, dtype=torch.bool); a[:2, :2] = True   # a quarter: 4 px
        >>> b = torch.zeros(4, 4, dtype=torch.bool); b[:2, :] = True    # the top half around it: 8 px
        >>> mask_iou(a, b)                 # a quarter inside a half: IoU = 4 / 8 = 0.5
        tensor(0.5000, dtype=torch.float64)
        >>> mask_iou(a, ~b).item(), mask_iou(a, a).item()             # disjoint; identical
        (0.0, 1.0)
        >>> none = torch.zeros(4, 4, dtype=torch.bool)
        >>> mask_iou(none, none).item(), mask_iou(none, none, empty=float("nan")).item()
        (0.0, nan)
    """
    empty = _check_empty(empty)
    return iou_from_counts(*mask_intersection_union(a, b, pairwise=pairwise), empty=empty)
