"""Gradient saliency, the paper's "backprop" baseline (Simonyan et al., ICLR 2014 workshop).

For an image ``I`` with colour channels ``l`` and a class score (logit)
``S_c``, the saliency map is

    B_c(x, y) = max_l | dS_c / dI_l(x, y) |,

at the input resolution. Zhou et al. (2016, Sec. 3) box it with the same
protocol as the CAM (``camlib.boxes_from_maps``), and so do the metrics here.
Simonyan et al. themselves boxed a saliency map through a colour
segmentation seeded by it (``simonyan_boxes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from camlib._validate import check_tensor

__all__ = ["gradient_saliency", "simonyan_boxes"]


def gradient_saliency(model: nn.Module, images: Tensor, classes: Tensor) -> Tensor:
    """Saliency maps ``max_l |dS_c / dI_l|`` of the selected classes, for a batch.

    The model runs once in eval mode (so that BatchNorm and dropout treat
    the images independently; every submodule's ``training`` flag is
    restored afterwards), then one backward pass per column of ``classes``:
    the gradient of ``sum_n S_{c_nj}(I_n)`` with respect to the batch is, image
    by image, the gradient of each image's own score, because in eval mode an
    image's scores do not depend on the other images. Gradients are taken
    with ``torch.autograd.grad``, so nothing is accumulated in the
    parameters' ``.grad``; ``images`` is neither modified nor made to
    require grad.

    Args:
        model: a network mapping ``Tensor[N, 3, H, W]`` to logits ``Tensor[N, C]``.
        images: ``Tensor[N, L, H, W]``, floating point, on the model's device.
        classes: ``LongTensor[N, k]`` of class indices in ``[0, C)``.

    Returns:
        ``Tensor[N, k, H, W]``, non-negative, in the dtype of ``images``.

    Raises:
        TypeError: wrong types. ValueError: wrong shapes or a class index
            out of range.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 2 * 2, 4))
        >>> with torch.no_grad():
        ...     _ = net[1].weight.copy_(torch.arange(-24.0, 24.0).view(4, 12))
        >>> s = gradient_saliency(net, torch.zeros(1, 3, 2, 2), torch.tensor([[0]]))
        >>> s   # row 0 of the weights is -24..-13: max over colours of |w| is the first colour's
        tensor([[[[24., 23.],
                  [22., 21.]]]])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, but got {type(model).__name__}.")
    check_tensor("images", images, ndim=4, dims="(N, L, H, W)", floating=True)
    check_tensor("classes", classes, ndim=2, dims="(N, k)", integer=True)
    if classes.shape[0] != images.shape[0]:
        raise ValueError(
            f"`classes` must have one row per image, shape ({images.shape[0]}, k), but got {tuple(classes.shape)}."
        )
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        x = images.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            logits = model(x)  # (N, C)
            C = logits.shape[1]
            if classes.numel() and (int(classes.min()) < 0 or int(classes.max()) >= C):
                bad = classes[(classes < 0) | (classes >= C)][0].item()
                raise ValueError(f"`classes` must hold indices in [0, {C}), but got {bad}.")
            index = classes.to(device=logits.device, dtype=torch.long)
            maps = []
            for j in range(classes.shape[1]):
                score = logits.gather(1, index[:, j : j + 1]).sum()
                (grad,) = torch.autograd.grad(score, x, retain_graph=j + 1 < classes.shape[1])
                maps.append(grad.abs().amax(dim=1))  # (N, H, W)
    finally:
        for module, training in modes:
            module.training = training
    if not maps:
        return images.new_zeros(images.shape[0], 0, *images.shape[2:])
    return torch.stack(maps, dim=1).detach()  # (N, k, H, W)


def simonyan_boxes(
    images: Sequence[Any],
    saliency: Tensor,
    *,
    fg_quantile: float = 0.95,
    bg_quantile: float = 0.30,
    iterations: int = 1,
) -> Tensor:
    """Boxes from saliency maps by Simonyan et al.'s rule (2014, Sec. 3.1): a colour segmentation seeded by the map.

    Per image: the pixels whose saliency is at least the ``fg_quantile``
    quantile of its map are foreground seeds, those at most the
    ``bg_quantile`` quantile background seeds; a graph cut with Gaussian
    mixture colour models labels the other pixels; the box is that of the
    largest 8-connected component of the foreground (``camlib.boxes_from_maps``
    on the mask). Simonyan et al. used GraphCut with colour GMMs estimated
    from the seeds (95% and 30% quantiles); here OpenCV's GrabCut (Rother et
    al. 2004, the same energy, a well-kept implementation) with the seeds as
    hard labels and the other pixels as "probably background", so that its
    first colour models also see the unlabelled pixels: a small difference,
    stated here rather than hidden. Without background seeds (a flat map)
    the box is that of the foreground seeds.

    Args:
        images: ``N`` RGB images in the maps' frame: PIL images or
            ``uint8`` arrays ``[H, W, 3]``.
        saliency: ``Tensor[N, H, W]``, e.g. ``gradient_saliency(...)[:, 0]``.
        fg_quantile, bg_quantile: the seeds' quantiles, ``0 <= bg < fg <= 1``.
        iterations: GrabCut's iterations (re-estimations of the colour models).

    Returns:
        ``LongTensor[N, 4]``, ``(x1, y1, x2, y2)`` inclusive, on the CPU.

    Raises:
        ValueError: shapes that disagree, or quantiles out of order.
    """
    import cv2
    import numpy as np

    from camlib.boxes.from_maps import boxes_from_maps

    check_tensor("saliency", saliency, ndim=3, dims="(N, H, W)", floating=True)
    if not 0 <= bg_quantile < fg_quantile <= 1:
        raise ValueError(
            f"`bg_quantile` and `fg_quantile` must satisfy 0 <= bg < fg <= 1, but got "
            f"{bg_quantile!r} and {fg_quantile!r}."
        )
    if len(images) != saliency.shape[0]:
        raise ValueError(f"`images` must hold one image per map ({saliency.shape[0]}), but got {len(images)}.")
    N, H, W = saliency.shape
    masks = torch.zeros(N, H, W)
    for i, (image, s) in enumerate(zip(images, saliency.detach().float().cpu())):
        rgb = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
        if rgb.shape != (H, W, 3) or rgb.dtype != np.uint8:
            raise ValueError(
                f"`images[{i}]` must be an RGB uint8 image of {W} x {H} pixels (the map's frame), but "
                f"got an array of shape {rgb.shape} and dtype {rgb.dtype}."
            )
        hi, lo = torch.quantile(s.flatten(), fg_quantile), torch.quantile(s.flatten(), bg_quantile)
        fg, bg = s >= hi, s <= lo
        bg &= ~fg
        if not bg.any():
            masks[i] = fg.float()
            continue
        label = np.full((H, W), cv2.GC_PR_BGD, np.uint8)
        label[bg.numpy()], label[fg.numpy()] = cv2.GC_BGD, cv2.GC_FGD
        models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(np.ascontiguousarray(rgb[..., ::-1]), label, None, *models, iterations, cv2.GC_INIT_WITH_MASK)  # type: ignore[call-overload]  # rect=None is OpenCV's "no rectangle" in mask mode; its stubs want a Sequence[int]
        masks[i] = torch.from_numpy((label == cv2.GC_FGD) | (label == cv2.GC_PR_FGD)).float()
    return boxes_from_maps(masks, 0.5).cpu()
