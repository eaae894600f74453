"""The class activation map kernel (Zhou et al., CVPR 2016, Sec. 2).

For a network whose last convolutional features ``f_k(x, y)`` are globally
average pooled and fed to a linear layer with weights ``w_k^c`` and bias
``b_c``, the class score is ``S_c = sum_k w_k^c F_k + b_c`` with
``F_k = mean_{x,y} f_k(x, y)``, and the class activation map is

    M_c(x, y) = sum_k w_k^c f_k(x, y),

so that ``S_c = mean_{x,y} M_c(x, y) + b_c`` exactly (``class_activation_maps``).

A NIN-style head (NIN, SqueezeNet) has no linear layer after the pooling: a
1x1 convolution maps the features to one channel per class, a (leaky) ReLU
follows, and the logit is that channel's average. Its class map is the
channel itself, ``M_c = ReLU(sum_k w_k^c f_k + b_c)``, and
``S_c = mean_{x,y} M_c(x, y)`` (``nin_class_activation_maps``). The two
formulas differ by the bias and the ReLU; each function computes one of them.
This module holds the pure functions; the extractor wraps them
(``camlib.cam.extractor``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from camlib._validate import check_choice, check_size, check_tensor

__all__ = ["NORMALIZATIONS", "class_activation_maps", "nin_class_activation_maps", "normalize_maps", "resize_maps"]

NORMALIZATIONS = (None, "max", "minmax")


def class_activation_maps(
    features: Tensor,
    weight: Tensor,
    classes: Tensor | None = None,
    *,
    bias: Tensor | None = None,
    size: int | tuple[int, int] | None = None,
    normalize: str | None = None,
) -> Tensor:
    r"""Class activation maps ``M_c = sum_k w_k^c f_k`` of a GAP -> linear head, for a batch of images.

    This is the formula for a fully connected layer after global average
    pooling. A NIN-style head (a 1x1 convolution to the classes, a ReLU, then
    the average: SqueezeNet) needs ``nin_class_activation_maps``, whose map
    includes the bias and the ReLU; ``camlib.cam.CAM`` picks the right one
    for a network.

    Implements Eq. (2) of Zhou et al. (2016): the map of class ``c`` is the
    weighted sum of the last convolutional feature maps with the weights that
    link their global average pool to class ``c``. With global average pooling
    the map decomposes the logit exactly:
    ``mean_{x,y} M_c(x, y) + b_c = S_c``.

    Args:
        features: ``Tensor[N, K, h, w]``, the features ``f_k`` that are
            average pooled before the linear layer.
        weight: ``Tensor[C, K]``, the linear layer's weights ``w_k^c`` (any
            linear model on the pooled features: an FC layer, an SVM, ...).
        classes: ``LongTensor[N, k]`` of class indices in ``[0, C)``, one row
            per image, or None for all ``C`` classes.
        bias: optional ``Tensor[C]``; when given, ``b_c`` is added to every
            location of map ``c`` (then ``mean M_c = S_c``). The paper leaves
            it out, which is the default.
        size: None (maps at the feature resolution ``(h, w)``), an int ``S`` or
            ``(H, W)``: the maps are upsampled bilinearly
            (``align_corners=False``) to that size.
        normalize: applied after resizing, per map. None: raw maps. ``"max"``:
            divided by the map's maximum, so that the paper's "20% of the max
            value" rule is a threshold of 0.2; a map whose maximum is
            ``<= 0`` becomes all zeros. ``"minmax"``: scaled to ``[0, 1]`` by
            ``(M - min) / (max - min)``, the later literature's convention; a
            constant map becomes all zeros.

    Returns:
        ``Tensor[N, k, H, W]`` (``k = C`` when ``classes`` is None; ``(H, W) =
        (h, w)`` when ``size`` is None), on the device and in the dtype of
        ``features``. The inputs are never modified.

    Raises:
        TypeError: an argument is not a tensor, or ``classes`` is not integer.
        ValueError: a shape disagrees, a class index is out of range, or
            ``normalize`` is unknown.

    Example:
        >>> f = torch.ones(1, 2, 3, 3)                  # (N, K, h, w)
        >>> w = torch.tensor([[1.0, 2.0], [0.5, -1.0]])  # (C, K)
        >>> class_activation_maps(f, w)[0, :, 0, 0]      # 1*1 + 2*1, 0.5*1 - 1*1
        tensor([ 3.0000, -0.5000])
        >>> class_activation_maps(f, w, torch.tensor([[1]]), size=6).shape
        torch.Size([1, 1, 6, 6])
    """
    check_tensor("features", features, ndim=4, dims="(N, K, h, w)", floating=True)
    check_tensor("weight", weight, ndim=2, dims="(C, K)", floating=True)
    N, K, h, w = features.shape
    C = weight.shape[0]
    if weight.shape[1] != K:
        raise ValueError(
            f"`weight` must have shape (C, K) with K = {K} (the channels of `features`), "
            f"but got shape ({C}, {weight.shape[1]})."
        )
    if weight.device != features.device:
        raise ValueError(
            f"`weight` must be on the device of `features` ({features.device}), but is on {weight.device}."
        )
    if bias is not None:
        check_tensor("bias", bias, ndim=1, dims="(C,)", floating=True)
        if bias.shape[0] != C:
            raise ValueError(f"`bias` must have shape ({C},), but got shape ({bias.shape[0]},).")
    if classes is not None:
        check_tensor("classes", classes, ndim=2, dims="(N, k)", integer=True)
        if classes.shape[0] != N:
            raise ValueError(
                f"`classes` must have one row per image, shape ({N}, k), "
                f"but got shape ({classes.shape[0]}, {classes.shape[1]})."
            )
        if classes.numel() and (int(classes.min()) < 0 or int(classes.max()) >= C):
            bad = classes[(classes < 0) | (classes >= C)][0].item()
            raise ValueError(f"`classes` must hold indices in [0, {C}), but got {bad}.")
    size = check_size("size", size)
    check_choice("normalize", normalize, NORMALIZATIONS)

    weight = weight.to(features.dtype)
    if classes is None:
        maps = torch.einsum("nkyx,ck->ncyx", features, weight)  # (N, C, h, w)
        if bias is not None:
            maps = maps + bias.to(features)[None, :, None, None]
    else:
        classes = classes.to(device=features.device, dtype=torch.long)  # uint8 would index as a mask
        selected = weight[classes]  # (N, k, K)
        maps = torch.einsum("nkyx,njk->njyx", features, selected)  # (N, k, h, w)
        if bias is not None:
            maps = maps + bias.to(features)[classes][:, :, None, None]
    return normalize_maps(resize_maps(maps, size), normalize)


def resize_maps(maps: Tensor, size: int | tuple[int, int] | None) -> Tensor:
    """Upsample (or downsample) maps bilinearly, ``align_corners=False``.

    Args:
        maps: ``Tensor[N, k, h, w]``, floating point.
        size: None (returned unchanged), an int ``S`` or ``(H, W)``.

    Returns:
        ``Tensor[N, k, H, W]``: ``maps`` itself when ``size`` is None or
        already ``(h, w)``, else a new tensor.

    Example:
        >>> resize_maps(torch.ones(2, 3, 4, 4), (8, 6)).shape
        torch.Size([2, 3, 8, 6])
    """
    check_tensor("maps", maps, ndim=4, dims="(N, k, h, w)", floating=True)
    size = check_size("size", size)
    if size is None or tuple(maps.shape[-2:]) == size:
        return maps
    N, k = maps.shape[:2]
    if maps.numel() == 0:
        return maps.new_zeros((N, k, *size))
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


def normalize_maps(maps: Tensor, mode: str | None) -> Tensor:
    """Normalize every map ``(..., H, W)`` on its own; see ``class_activation_maps``.

    Args:
        maps: ``Tensor[..., H, W]``, floating point.
        mode: None (unchanged), ``"max"`` (``M / max M``, zeros where
            ``max M <= 0``) or ``"minmax"`` (``(M - min) / (max - min)``,
            zeros for a constant map). A map holding a NaN becomes all NaN,
            so that code downstream (boxes, metrics) can refuse it.

    Returns:
        A new tensor of the shape of ``maps`` unless ``mode`` is None.

    Example:
        >>> normalize_maps(torch.tensor([[[-1.0, 0.0, 3.0]]]), "max")
        tensor([[[-0.3333,  0.0000,  1.0000]]])
        >>> normalize_maps(torch.tensor([[[-1.0, 0.0, 3.0]]]), "minmax")
        tensor([[[0.0000, 0.2500, 1.0000]]])
    """
    check_tensor("maps", maps, floating=True)
    check_choice("normalize", mode, NORMALIZATIONS)
    if mode is None:
        return maps
    if maps.ndim < 2:
        raise ValueError(f"`maps` must have at least 2 dimensions (..., H, W), but got shape {tuple(maps.shape)}.")
    if maps.numel() == 0:
        return maps.clone()
    hi = maps.amax(dim=(-2, -1), keepdim=True)
    if mode == "max":
        scale = hi
    else:
        lo = maps.amin(dim=(-2, -1), keepdim=True)
        maps, scale = maps - lo, hi - lo
    # Divide where the scale is positive; zeros where it is <= 0; NaN stays NaN.
    keep = (scale > 0) | scale.isnan()
    return torch.where(keep, maps / torch.where(keep, scale, torch.ones_like(scale)), torch.zeros_like(maps))


def nin_class_activation_maps(
    features: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    classes: Tensor | None = None,
    *,
    negative_slope: float = 0.0,
    size: int | tuple[int, int] | None = None,
    normalize: str | None = None,
) -> Tensor:
    r"""Class activation maps of a NIN-style head: ``M_c = ReLU(sum_k w_k^c f_k + b_c)``.

    In NIN and SqueezeNet a 1x1 convolution (weights ``w_k^c``, bias ``b_c``)
    maps the last features to one channel per class, a ReLU (leaky, with
    ``negative_slope``, in the Places365 SqueezeNet) follows, and the logit
    is the channel's global average, so the channel is the class map and
    ``mean_{x,y} M_c(x, y) = S_c`` exactly, with no bias added afterwards.
    Leaving out the bias or the ReLU (``class_activation_maps``) gives another
    map whose mean is not the logit.

    Args:
        features: ``Tensor[N, K, h, w]``, the input of the 1x1 convolution.
        weight: ``Tensor[C, K]``, its weights (``conv.weight.flatten(1)``).
        bias: ``Tensor[C]`` or None, its bias.
        classes: ``LongTensor[N, k]``, or None for all ``C`` classes.
        negative_slope: the ReLU's slope on negatives (0: a plain ReLU).
        size, normalize: as in ``class_activation_maps``, applied after the ReLU.

    Returns:
        ``Tensor[N, k, H, W]`` (``k = C`` when ``classes`` is None).

    Example:
        >>> f = torch.tensor([[[[1.0, -3.0]]]])  # N=1, K=1, h=1, w=2
        >>> w, b = torch.tensor([[2.0]]), torch.tensor([1.0])
        >>> nin_class_activation_maps(f, w, b)  # ReLU(2 * [1, -3] + 1) = ReLU([3, -5])
        tensor([[[[3., 0.]]]])
    """
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float)) or negative_slope < 0:
        raise ValueError(f"`negative_slope` must be a number >= 0, but got {negative_slope!r}.")
    maps = class_activation_maps(features, weight, classes, bias=bias)  # (N, k, h, w), before the ReLU
    maps = F.relu(maps) if negative_slope == 0 else F.leaky_relu(maps, float(negative_slope))
    return normalize_maps(resize_maps(maps, check_size("size", size)), normalize)
