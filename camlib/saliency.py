"""Gradient saliency, the paper's "backprop" baseline (Simonyan et al., ICLR 2014 workshop).

For an image ``I`` with colour channels ``l`` and a class score (logit)
``S_c``, the saliency map is

    B_c(x, y) = max_l | dS_c / dI_l(x, y) |,

at the input resolution. Zhou et al. (2016, Sec. 3) box it with the same
protocol as the CAM (``camlib.boxes_from_maps``), and so do the metrics here.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from camlib._validate import check_tensor

__all__ = ["gradient_saliency"]


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
