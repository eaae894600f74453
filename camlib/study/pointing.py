"""Where a map points, and where its region falls: the measures of chapters 04-06 (no box needed).

- ``peaks``: each map's maximum, ``(y, x)`` (the first in row-major order on ties).
- ``pointing_hits``: the pointing game (Zhang et al. 2016): a hit when the
  map's maximum falls on a target (a mask, or one of the image's boxes),
  optionally within ``tolerance`` pixels of it.
- ``centre_point_hits`` / ``random_point_hits``: the baselines every pointing
  accuracy stands beside: the image's centre, and a point drawn uniformly
  (its hit probability computed exactly: the share of pixels that hit).
- ``region_share``: the share of a map's region (its pixels above a fraction
  of its maximum) that lies on a mask, beside the mask's share of the image
  (what a region placed at random would get on average).
- ``permutation_test``: whether regions fall on their own image's objects more
  than on another image's: the mean share against its distribution when the
  regions are shuffled across images.

Targets are ``BoolTensor[N, H, W]`` masks in the maps' frame, or ``N`` tensors
of inclusive boxes ``LongTensor[m_i, 4]`` (``box_masks`` turns them into masks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from camlib._validate import check_tensor

__all__ = [
    "PermutationTest",
    "box_masks",
    "centre_point_hits",
    "centred_regions",
    "peaks",
    "permutation_test",
    "pointing_hits",
    "random_point_hits",
    "region_share",
]


def peaks(maps: Tensor) -> Tensor:
    """``LongTensor[N, 2]``: the ``(y, x)`` of each map's maximum (the first in row-major order on ties).

    Example:
        >>> m = torch.zeros(1, 3, 4); m[0, 2, 1] = 5.0; m[0, 0, 3] = 5.0
        >>> peaks(m).tolist()   # two equal maxima: (0, 3) comes first in row-major order
        [[0, 3]]
    """
    check_tensor("maps", maps, ndim=3, dims="(N, H, W)", floating=True)
    flat = maps.flatten(1).argmax(1)  # torch's argmax returns the first maximal index
    W = maps.shape[2]
    return torch.stack([flat // W, flat % W], dim=1).cpu()


def box_masks(boxes: Sequence[Tensor], size: tuple[int, int]) -> Tensor:
    """``BoolTensor[N, H, W]``: the union of each image's inclusive boxes ``(x1, y1, x2, y2)``.

    Example:
        >>> box_masks([torch.tensor([[1, 0, 2, 1]])], (3, 4)).int().tolist()
        [[[0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]]
    """
    H, W = size
    out = torch.zeros(len(boxes), H, W, dtype=torch.bool)
    for i, b in enumerate(boxes):
        for x1, y1, x2, y2 in torch.as_tensor(b).reshape(-1, 4).tolist():
            out[i, max(y1, 0) : min(y2, H - 1) + 1, max(x1, 0) : min(x2, W - 1) + 1] = True
    return out


def _targets(targets: Tensor | Sequence[Tensor], size: tuple[int, int], tolerance: int) -> Tensor:
    masks = targets if isinstance(targets, Tensor) else box_masks(targets, size)
    check_tensor("targets", masks, ndim=3, dims="(N, H, W)")
    if masks.dtype != torch.bool:
        raise TypeError(f"`targets` must be a BoolTensor[N, H, W] or a list of box tensors, but got {masks.dtype}.")
    if tuple(masks.shape[1:]) != tuple(size):
        raise ValueError(f"`targets` must be in the maps' frame {tuple(size)}, but got {tuple(masks.shape[1:])}.")
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 0:
        raise ValueError(f"`tolerance` must be an int >= 0 (pixels), but got {tolerance!r}.")
    if tolerance:  # within `tolerance` pixels (Euclidean) of the target: dilate it by a disc
        r = torch.arange(-tolerance, tolerance + 1)
        disc = ((r[:, None] ** 2 + r[None, :] ** 2) <= tolerance**2).float()[None, None]
        masks = F.conv2d(masks.float()[:, None].cpu(), disc, padding=tolerance)[:, 0] > 0
    return masks.cpu()


def pointing_hits(maps: Tensor, targets: Tensor | Sequence[Tensor], *, tolerance: int = 0) -> Tensor:
    """``BoolTensor[N]``: the map's maximum falls on the target (within ``tolerance`` pixels).

    Args:
        maps: ``Tensor[N, H, W]``.
        targets: ``BoolTensor[N, H, W]`` masks, or ``N`` tensors of inclusive boxes, in the maps' frame.
        tolerance: pixels (Euclidean) around the target that still count (the pointing game uses 15 at 224 px).

    Example:
        >>> m = torch.zeros(2, 4, 4); m[0, 1, 1] = 1.0; m[1, 3, 3] = 1.0
        >>> pointing_hits(m, [torch.tensor([[0, 0, 1, 1]]), torch.tensor([[0, 0, 1, 1]])]).tolist()
        [True, False]
        >>> pointing_hits(m, [torch.tensor([[0, 0, 1, 1]])] * 2, tolerance=3).tolist()   # (3, 3) is 2.8 px from (1, 1)
        [True, True]
    """
    p = peaks(maps)
    masks = _targets(targets, tuple(maps.shape[1:]), tolerance)
    return masks[torch.arange(len(p)), p[:, 0], p[:, 1]]


def centre_point_hits(targets: Tensor | Sequence[Tensor], size: tuple[int, int], *, tolerance: int = 0) -> Tensor:
    """``BoolTensor[N]``: the image's centre pixel ``(H // 2, W // 2)`` falls on the target: the centre baseline."""
    masks = _targets(targets, size, tolerance)
    return masks[:, size[0] // 2, size[1] // 2]


def random_point_hits(targets: Tensor | Sequence[Tensor], size: tuple[int, int], *, tolerance: int = 0) -> Tensor:
    """``DoubleTensor[N]``: the probability that a uniformly drawn pixel hits the target (its share of the image)."""
    return _targets(targets, size, tolerance).flatten(1).double().mean(1)


def region_share(maps: Tensor, masks: Tensor, threshold: float = 0.2) -> tuple[Tensor, Tensor]:
    """The share of each map's region on its mask, and the mask's share of the image (the chance level).

    The region is ``camlib.foreground(maps, threshold)`` (pixels strictly
    above ``threshold`` times the map's maximum). A region placed at random has,
    on average, the mask's share of the image on the mask.

    Returns:
        ``(share, chance)``, ``DoubleTensor[N]`` each; ``share`` is NaN for an empty region.

    Example:
        >>> m = torch.zeros(1, 4, 4); m[0, :2, :2] = 1.0        # region: the top-left 2 x 2
        >>> mask = torch.zeros(1, 4, 4, dtype=torch.bool); mask[0, 0, :] = True   # the top row
        >>> region_share(m, mask)
        (tensor([0.5000], dtype=torch.float64), tensor([0.2500], dtype=torch.float64))
    """
    from camlib.boxes.from_maps import foreground

    check_tensor("masks", masks, ndim=3, dims="(N, H, W)")
    if masks.shape != maps.shape or masks.dtype != torch.bool:
        raise ValueError(
            f"`masks` must be a BoolTensor of the maps' shape {tuple(maps.shape)}, but got "
            f"{masks.dtype} {tuple(masks.shape)}."
        )
    region = foreground(maps, threshold).cpu()
    masks = masks.cpu()
    size = region.flatten(1).sum(1).double()
    share = (region & masks).flatten(1).sum(1).double() / size  # NaN for an empty region
    return share, masks.flatten(1).double().mean(1)


def centred_regions(regions: Tensor) -> Tensor:
    """``BoolTensor[N, H, W]``: a centred box with as many pixels as each region (the centre prior's region).

    The box is as square as the frame allows: side ``s = round(sqrt(n))``
    (at most the shorter side), the other side ``round(n / s)``, centred by
    ``camlib.boxes.baselines.centre_box``; an empty region gives an empty box.

    Example:
        >>> r = torch.zeros(1, 6, 6, dtype=torch.bool); r[0, 0, :4] = True      # 4 pixels in a corner
        >>> centred_regions(r)[0].nonzero().tolist()                         # a centred 2 x 2
        [[2, 2], [2, 3], [3, 2], [3, 3]]
    """
    from camlib.boxes.baselines import centre_box

    check_tensor("regions", regions, ndim=3, dims="(N, H, W)")
    N, H, W = regions.shape
    out = torch.zeros(N, H, W, dtype=torch.bool)
    for i, n in enumerate(regions.flatten(1).sum(1).tolist()):
        if n == 0:
            continue
        short = min(H, W)
        side = min(max(round(n**0.5), 1), short)
        other = min(max(round(n / side), 1), max(H, W))
        h, w = (side, other) if H <= W else (other, side)
        x1, y1, x2, y2 = centre_box((H, W), (min(h, H), min(w, W))).tolist()
        out[i, y1 : y2 + 1, x1 : x2 + 1] = True
    return out


@dataclass(frozen=True)
class PermutationTest:
    """A permutation test of the mean share of regions on their own image's objects.

    Attributes:
        observed: the mean share with each region on its own image.
        null: the mean share under each permutation (``Tensor[P]``).
        p_value: ``(1 + #{null >= observed}) / (1 + P)``: one-sided, never 0.
    """

    observed: float
    null: Tensor
    p_value: float


def permutation_test(regions: Tensor, masks: Tensor, *, permutations: int = 1000, seed: int = 0) -> PermutationTest:
    """Do the regions fall on their own image's objects more than on other images' objects?

    The statistic is the mean over images of ``|R_i ∩ M_i| / |R_i|`` (images
    with an empty region are left out). Under the null hypothesis that a
    region does not depend on where its image's objects are, pairing region
    ``i`` with mask ``pi(i)`` for a random permutation ``pi`` gives the same
    distribution; the p-value counts the permutations that reach the
    observed mean. Regions and masks must share one frame (e.g. the
    network's input).

    Args:
        regions, masks: ``BoolTensor[N, H, W]`` each, ``N >= 2``.
        permutations: the number of random permutations ``P``.
        seed: their generator's seed.

    Example:
        >>> r = torch.zeros(4, 2, 2, dtype=torch.bool); m = torch.zeros(4, 2, 2, dtype=torch.bool)
        >>> for i in range(4): r[i].view(-1)[i] = m[i].view(-1)[i] = True   # each region on its own object
        >>> t = permutation_test(r, m, permutations=999)   # only the 1 in 24 permutations that fix all reach 1.0
        >>> t.observed, abs(t.null.mean().item() - 0.25) < 0.05, t.p_value < 0.1   # by chance: 1 hit in 4
        (1.0, True, True)
    """
    for name, x in (("regions", regions), ("masks", masks)):
        check_tensor(name, x, ndim=3, dims="(N, H, W)")
        if x.dtype != torch.bool:
            raise TypeError(f"`{name}` must be a BoolTensor[N, H, W], but got {x.dtype}.")
    if regions.shape != masks.shape or regions.shape[0] < 2:
        raise ValueError(
            f"`regions` and `masks` must have one shape with N >= 2, but got {tuple(regions.shape)} "
            f"and {tuple(masks.shape)}."
        )
    if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 1:
        raise ValueError(f"`permutations` must be a positive int, but got {permutations!r}.")
    r = regions.flatten(1).cpu().float()  # (N, P)
    m = masks.flatten(1).cpu().float()
    keep = r.sum(1) > 0
    r, m = r[keep], m[keep]
    size = r.sum(1)
    observed = ((r * m).sum(1) / size).mean().item()
    g = torch.Generator().manual_seed(seed)
    null = torch.empty(permutations, dtype=torch.float64)
    for k in range(permutations):
        perm = torch.randperm(len(r), generator=g)
        null[k] = ((r * m[perm]).sum(1) / size).mean().item()
    p = (1 + int((null >= observed - 1e-12).sum())) / (1 + permutations)
    return PermutationTest(observed, null, p)


__all__ += ["best_class_pointing"]


def best_class_pointing(
    model: torch.nn.Module,
    images: Tensor,
    candidates: Sequence[Sequence[int]],
    boxes: Sequence[Tensor],
    *,
    tolerance: int = 0,
    batch_size: int = 32,
) -> tuple[Tensor, Tensor, Tensor]:
    """Does the CAM of the best-scoring of some classes point at the object? (Generic localization, Fig. 8.)

    For image ``i``, of the classes ``candidates[i]`` (e.g. the ImageNet
    classes that are instances of one COCO category) the one the network
    scores highest is chosen, and its class activation map
    (``camlib.compute_cams``, at the images' size) must have its maximum in one
    of ``boxes[i]`` (``pointing_hits``).

    Returns:
        ``(hits BoolTensor[N], classes LongTensor[N], maps Tensor[N, H, W])``, on the CPU.
    """
    from camlib.cam.extractor import CAM

    check_tensor("images", images, ndim=4, dims="(N, 3, H, W)", floating=True)
    if not (len(candidates) == len(boxes) == len(images)) or any(len(c) == 0 for c in candidates):
        raise ValueError(
            f"`candidates` and `boxes` must have one non-empty entry per image ({len(images)}), but got "
            f"{len(candidates)} and {len(boxes)}."
        )
    device = next(model.parameters()).device
    classes, maps = [], []
    with torch.no_grad(), CAM(model) as cam:  # one forward pass per batch; the model's mode restored on exit
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device)
            model(x)
            logits = cam.logits.cpu()
            best = torch.tensor(
                [
                    max(c, key=lambda k: logits[j, k].item())  # the first of equal scores
                    for j, c in enumerate(candidates[start : start + batch_size])
                ]
            )
            classes.append(best)
            maps.append(cam.maps(best.view(-1, 1).to(device), size=tuple(images.shape[-2:]))[:, 0].cpu())
    maps = torch.cat(maps)
    return pointing_hits(maps, boxes, tolerance=tolerance), torch.cat(classes), maps
