"""Localization in one forward pass, batched on the images' device: features → top-k CAMs → masks → boxes.

``localize`` is the whole chain for a batch of images with no Python loop
over images or maps: one forward pass (the CAM layer's features captured by a
hook), the top-k classes, their maps at the input size, each map's pixels
above ``threshold`` times its maximum, and the box of each mask's largest
8-connected component. It gives exactly what the two-step reference gives,
``camlib.compute_cams`` then ``camlib.boxes_from_maps`` (tested).

Two pieces make it fast on a GPU:

- ``cam_masks(..., fused=True)`` compiles the weighting, the upsampling, the
  per-map maximum and the threshold into one graph with ``torch.compile``
  (Inductor: Triton kernels on a GPU, C++ on a CPU), so that the
  full-resolution float maps need not be written to memory and read back:
  only the boolean masks are. The eager path is the reference; both give the
  same masks (tested; the compiled arithmetic may round differently in the
  last bit, which the tests would see as a differing pixel). It is meant for
  GPUs: on a 2-core CPU the compiled graph measured slower than the eager
  one (``benchmarks/bench_pipeline.py``, appendix A2), so it is off by default.
- ``camlib.boxes_from_masks`` off the CPU labels all masks at once with
  camlib's one torch labeller (``camlib.components.labels.pointer_labels``:
  min-label propagation with hooking and pointer jumping on dense tensors,
  no boolean indexing, whose size the host must know); areas and boxes are
  scattered into one slot per pixel, so the largest component of every mask
  is an ``argmax``.
  The host is asked only whether the labels still change, once every
  ``check_every`` iterations. On a CPU, ``backend="auto"`` boxes with
  ``camlib.components.runs`` instead (a union-find over each row's runs, through
  ``camlib.boxes_from_masks``), which is far faster there.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from camlib._validate import check_fraction, check_maps, check_size, check_tensor
from camlib.boxes.from_maps import boxes_from_masks, foreground
from camlib.cam.extractor import CAM, CAMLayer

__all__ = ["CAMBoxes", "cam_masks", "localize"]


class CAMBoxes(NamedTuple):
    """What ``localize`` returns."""

    logits: Tensor  # (N, C)
    classes: Tensor  # (N, k): the top-k classes, best first
    boxes: Tensor  # (N, k, 4): the box of each class's map, (x1, y1, x2, y2) inclusive, at the input size
    maps: Tensor | None = None  # (N, k, H, W): the maps at the input size, unnormalized, when asked for (`maps=True`)


def _masks(features: Tensor, weight: Tensor, bias: Tensor | None, relu: bool, slope: float,
           size: tuple[int, int], threshold: float) -> Tensor:  # fmt: skip
    """What ``torch.compile`` fuses: ``CAMLayer.maps`` then ``foreground``, as one function of tensors.

    ``weight (N, k, K)`` selected per image, ``bias (N, k)`` or None -> ``BoolTensor[N, k, H, W]``.
    The eager path of ``cam_masks`` calls those two themselves; the tests hold this one equal to them.
    """
    maps = torch.einsum("nkyx,njk->njyx", features, weight)  # (N, k, h, w)
    if relu:  # NIN-style head: ReLU(W f + b)
        if bias is not None:
            maps = maps + bias[:, :, None, None]
        maps = F.leaky_relu(maps, slope)
    if tuple(maps.shape[-2:]) != size:
        maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
    return maps > threshold * maps.amax(dim=(-2, -1), keepdim=True)


@functools.cache
def _compiled_masks():
    return torch.compile(_masks, dynamic=False)


def cam_masks(
    features: Tensor,
    layer: CAMLayer,
    classes: Tensor,
    *,
    size: int | tuple[int, int],
    threshold: float = 0.2,
    fused: bool = False,
) -> Tensor:
    """The foreground masks of the CAMs of ``classes``: ``camlib.foreground(layer.maps(...), threshold)``.

    Args:
        features: ``Tensor[N, K, h, w]``, the CAM layer's output.
        layer: the ``CAMLayer`` (weights, bias, NIN-style ReLU).
        classes: ``LongTensor[N, k]``.
        size: the maps' size (an int or ``(H, W)``), bilinear as ``class_activation_maps``.
        threshold: a fraction of each map's maximum, in ``[0, 1]``; pixels strictly above it.
        fused: compile the whole step with ``torch.compile`` (see the module docstring).

    Returns:
        ``BoolTensor[N, k, H, W]`` on the device of ``features``.

    Raises:
        ValueError: ``features`` holds a NaN or an infinite value (on both paths; the message names the
            feature map), ``classes`` is out of range, or the shapes disagree.

    Example:
        >>> layer = CAMLayer(nn.Identity(), torch.eye(2), None)
        >>> f = torch.zeros(1, 2, 2, 2); f[0, 0, 0, 0] = 1.0; f[0, 1, 1, 1] = 1.0
        >>> cam_masks(f, layer, torch.tensor([[1]]), size=2)[0, 0]   # class 1's map is unit 1
        tensor([[False, False],
                [False,  True]])
    """
    check_tensor("features", features, ndim=4, dims="(N, K, h, w)", floating=True)
    check_maps("features", features)  # a NaN must raise here: the compiled graph would make it an empty mask
    check_tensor("classes", classes, ndim=2, dims="(N, k)", integer=True)
    hw = check_size("size", size)
    threshold = check_fraction("threshold", threshold)
    if hw is None:
        raise ValueError("`size` must be an int or (H, W), but got None.")
    weight = layer.weight.to(device=features.device, dtype=features.dtype)
    C, K = weight.shape
    if K != features.shape[1] or classes.shape[0] != features.shape[0]:
        raise ValueError(f"`features` must be (N, {K}, h, w) and `classes` (N, k), but got "
                         f"{tuple(features.shape)} and {tuple(classes.shape)}.")  # fmt: skip
    if classes.numel() and (int(classes.min()) < 0 or int(classes.max()) >= C):
        raise ValueError(f"`classes` must hold indices in [0, {C}), but got {classes.min()}..{classes.max()}.")
    classes = classes.to(device=features.device, dtype=torch.long)
    bias = None if layer.bias is None or not layer.relu else layer.bias.to(features)[classes]  # (N, k)
    if not fused:
        return foreground(layer.maps(features, classes, size=hw), threshold)
    return _compiled_masks()(
        features, weight[classes], bias, bool(layer.relu), float(layer.negative_slope), hw, threshold
    )


def localize(
    model: nn.Module,
    images: Tensor,
    *,
    top_k: int = 5,
    threshold: float = 0.2,
    layer: CAMLayer | None = None,
    fused: bool = False,
    backend: str = "auto",
    maps: bool = False,
) -> CAMBoxes:
    """One forward pass, the top-k classes and the box of each one's CAM, batched on the images' device.

    Equal to ``camlib.compute_cams(model, images, top_k=top_k, size=(H, W))``
    followed by ``camlib.boxes_from_maps(maps, threshold)`` (the paper's
    protocol: pixels above ``threshold`` of the map's max, the largest
    8-connected component), without holding the float maps.

    Args:
        model: a GAP network (see ``camlib.find_cam_layer``); run in eval mode, no gradients.
        images: ``Tensor[N, 3, H, W]`` on the model's device, preprocessed.
        top_k: classes per image, best first.
        threshold: a fraction of each map's maximum, in ``[0, 1]``.
        layer: the ``CAMLayer``, or None to find it.
        fused: ``cam_masks``'s compiled path.
        backend: ``camlib.boxes_from_masks``'s (``camlib.components.backends``).
        maps: also return the float maps (``Tensor[N, k, H, W]``, unnormalized,
            from the same forward pass); the boxes are then the maps' boxes,
            equal to the masks' path.

    Returns:
        ``CAMBoxes(logits (N, C), classes (N, k), boxes (N, k, 4), maps (N, k, H, W) or None)``.

    Example:
        >>> import torchvision
        >>> net = torchvision.models.resnet18(num_classes=7)
        >>> out = localize(net, torch.randn(2, 3, 64, 64), top_k=3)
        >>> out.classes.shape, out.boxes.shape
        (torch.Size([2, 3]), torch.Size([2, 3, 4]))
    """
    check_tensor("images", images, ndim=4, dims="(N, 3, H, W)", floating=True)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"`top_k` must be a positive int, but got {top_k!r}.")
    if not isinstance(maps, bool):
        raise TypeError(f"`maps` must be a bool, but got {maps!r}.")
    size = (images.shape[-2], images.shape[-1])
    with torch.no_grad(), CAM(model, layer) as cam:
        model(images)
        classes = cam.classes(top_k)  # (N, k)
        if maps:
            cams = cam.maps(classes, size=size)  # (N, k, H, W)
            masks = foreground(cams, threshold)
        else:
            cams = None
            masks = cam_masks(cam.features, cam.layer, classes, size=size, threshold=threshold, fused=fused)
        logits = cam.logits
    return CAMBoxes(logits, classes, boxes_from_masks(masks, backend=backend), cams)
