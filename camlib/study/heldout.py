"""A pretrained network's localization beside the boxes that do not look, with a held-out design.

A localization number means little on its own: ImageNet's objects are large
and photographers centre them, so one centred box of a well-chosen size finds
many of them. The study's real parts therefore score every network's boxes
beside two baselines that need no network, on the same images:

- a **centred box** whose size is fitted on *held-out* images
  (``camlib.boxes.baselines.best_centre_box_size``): fitting it on the test
  images themselves would flatter it;
- **random boxes** (``camlib.boxes.baselines.random_box_hits``): the share of
  ``draws`` uniform random boxes that localize each image.

``heldout_split`` draws the held-out images once (seeded), so that every
network, input size and method of a chapter is scored on the same test images
and their per-image outcomes pair up; ``against_baselines`` compares a result's
GT-known hits on the test images with the stronger baseline there, with the
paired bootstrap over the images (``camlib.study.stats.paired_bootstrap``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from camlib.boxes.baselines import best_centre_box_size, centre_box_hits, random_box_hits
from camlib.boxes.geometry import best_iou
from camlib.study.stats import Interval, paired_bootstrap

__all__ = ["BaselineComparison", "against_baselines", "heldout_split"]

CENTRE, RANDOM = "centred box", "random box"


def heldout_split(n: int, heldout: int, *, seed: int = 0) -> Tensor:
    """``BoolTensor[n]``: True for the ``heldout`` images (drawn by ``torch.randperm`` seeded with ``seed``).

    The held-out images fit what must not be fitted on the test images (the
    centred box's size); the others (False) are the test images.

    Raises:
        ValueError: ``heldout`` not in ``[1, n - 1]`` (both parts need an image).

    Example:
        >>> heldout_split(6, 2, seed=0).sum().item(), heldout_split(6, 2, seed=0).equal(heldout_split(6, 2, seed=0))
        (2, True)
    """
    for name, value in (("n", n), ("heldout", heldout)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an int >= 1, but got {value!r}.")
    if heldout >= n:
        raise ValueError(f"`heldout` must leave test images: at most {n - 1} of the {n} images, but got {heldout}.")
    held = torch.zeros(n, dtype=torch.bool)
    held[torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:heldout]] = True
    return held


@dataclass(frozen=True)
class BaselineComparison:
    """A localizer's GT-known hits on the test images beside the two baselines'.

    Attributes:
        centre_size: ``(h, w)`` of the centred box, fitted on the held-out images.
        hits: ``{"localizer", "centred box", "random box"}`` to ``Tensor[n_test]`` (float64):
            1.0 or 0.0 per image for a box, the share of hits for the random boxes.
        accuracy: the same names to their mean, in percent.
        strongest: the baseline with the higher accuracy on the test images (the centred box on ties).
        effect: the localizer's GT-known accuracy minus the strongest baseline's, in points, with
            its 95% paired-bootstrap interval over the test images.
    """

    centre_size: tuple[int, int]
    hits: dict[str, Tensor]
    accuracy: dict[str, float]
    strongest: str
    effect: Interval


def against_baselines(
    true_boxes: Tensor,
    gt_boxes: Sequence[Tensor],
    size: int | tuple[int, int],
    heldout: Tensor,
    *,
    draws: int = 100,
    resamples: int = 10000,
    seed: int = 0,
) -> BaselineComparison:
    """GT-known hits of ``true_boxes`` on the test images beside a fitted centred box and random boxes.

    Args:
        true_boxes: ``LongTensor[N, 4]``, the localizer's box for each image's true class
            (``LocalizationResult.true_boxes``), in the images' frame.
        gt_boxes: ``N`` tensors ``LongTensor[G_i, 4]``, in the same frame.
        size: ``(H, W)`` of the images, or an int ``S``.
        heldout: ``BoolTensor[N]`` (``heldout_split``): True for the images that fit the centred box's
            size; the others are scored.
        draws: random boxes per test image.
        resamples, seed: the paired bootstrap's; ``seed`` also seeds the random boxes.

    Returns:
        ``BaselineComparison``.

    Raises:
        ValueError: lengths that differ, or a split without held-out or test images.

    Example:
        >>> gt = [torch.tensor([[8, 8, 23, 23]])] * 3 + [torch.tensor([[0, 0, 7, 7]])]
        >>> c = against_baselines(torch.tensor([[0, 0, 7, 7]] * 4), gt, 32, torch.tensor([True, False, False, False]),
        ...                       draws=10, resamples=100)
        >>> c.centre_size, c.accuracy["centred box"], c.accuracy["localizer"], c.strongest
        ((16, 16), 66.66666666666666, 33.33333333333333, 'centred box')
    """
    if not isinstance(heldout, Tensor) or heldout.dtype != torch.bool or heldout.ndim != 1:
        raise TypeError(f"`heldout` must be a BoolTensor[N] (heldout_split), but got {_what(heldout)}.")
    n = heldout.numel()
    if not isinstance(true_boxes, Tensor) or true_boxes.shape != (n, 4) or len(gt_boxes) != n:
        raise ValueError(
            f"`true_boxes` (N, 4) and `gt_boxes` (N) must match `heldout`'s N = {n}, but got {_what(true_boxes)} "
            f"and {len(gt_boxes)} ground-truth entries."
        )
    if heldout.all() or not heldout.any():
        raise ValueError(f"`heldout` must mark some but not all of the {n} images, but it marks {int(heldout.sum())}.")
    fit = [gt_boxes[i] for i in heldout.nonzero()[:, 0].tolist()]
    test_idx = (~heldout).nonzero()[:, 0].tolist()
    test = [gt_boxes[i] for i in test_idx]
    centre_size = best_centre_box_size(fit, size)
    hits = {
        "localizer": (best_iou(true_boxes[test_idx], test) >= 0.5).double(),
        CENTRE: centre_box_hits(test, size, box_size=centre_size).double(),
        RANDOM: random_box_hits(test, size, draws=draws, generator=torch.Generator().manual_seed(seed)),
    }
    accuracy = {name: 100 * h.mean().item() for name, h in hits.items()}
    strongest = CENTRE if accuracy[CENTRE] >= accuracy[RANDOM] else RANDOM
    effect = Interval.from_bootstrap(
        paired_bootstrap(hits["localizer"], hits[strongest], resamples=resamples, seed=seed), n=len(test_idx)
    )
    return BaselineComparison(centre_size, hits, accuracy, strongest, effect)


def _what(x: object) -> str:
    return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}" if isinstance(x, Tensor) else type(x).__name__


def map_side(model: torch.nn.Module, size: int) -> int:
    """The side of ``model``'s class activation map at a square input of ``size`` pixels (one forward pass).

    The grid a chapter names beside each pass ("7 x 7 at 224 pixels"), measured rather than derived from
    the network's strides (TF "same" padding rounds up). Runs on the model's device, in its current mode.
    """
    from camlib.cam.extractor import compute_cams

    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"`size` must be an int >= 1, but got {size!r}.")
    device = next(model.parameters()).device
    with torch.no_grad():
        return int(compute_cams(model, torch.zeros(1, 3, size, size, device=device), top_k=1).maps.shape[-1])


__all__ += ["map_side"]
