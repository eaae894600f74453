"""Getting at a network's last convolutional features and class weights.

``capture_features`` records a layer's output during a forward pass and
leaves nothing behind; ``find_cam_layer`` says where a network's class
activation maps come from; ``compute_cams`` runs a network and returns its
logits, the selected classes and their maps, through
``camlib.class_activation_maps``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from camlib._validate import check_tensor
from camlib.cam import class_activation_maps, normalize_maps, resize_maps

__all__ = ["CAMLayer", "CAMOutput", "capture_features", "find_cam_layer", "compute_cams"]


class capture_features:
    """Context manager that records the output of ``layer`` on each forward.

    On entry it registers one forward hook on ``layer`` and (by default) puts
    ``model`` in eval mode; on exit it removes the hook and restores every
    submodule's ``training`` flag as it was, also when the block raises.

    Args:
        model: the network that will be called inside the block.
        layer: a submodule of ``model`` whose output (``Tensor[N, K, h, w]``)
            is wanted.
        eval_mode: put ``model`` in eval mode inside the block.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
        >>> with capture_features(net, net[1]) as cap:
        ...     _ = net(torch.zeros(2, 3, 8, 8))
        >>> cap.features.shape, len(net[1]._forward_hooks)
        (torch.Size([2, 4, 6, 6]), 0)
    """

    def __init__(self, model: nn.Module, layer: nn.Module, *, eval_mode: bool = True) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"`model` must be a torch.nn.Module, but got {type(model).__name__}.")
        if not isinstance(layer, nn.Module):
            raise TypeError(f"`layer` must be a torch.nn.Module, but got {type(layer).__name__}.")
        if not any(m is layer for m in model.modules()):
            raise ValueError(f"`layer` must be a submodule of `model`, but {type(layer).__name__} is not.")
        self.model = model
        self.layer = layer
        self.eval_mode = eval_mode
        self._features: Tensor | None = None
        self._handle = None
        self._modes: list[tuple[nn.Module, bool]] = []

    def _hook(self, module: nn.Module, inputs: tuple, output: Tensor) -> None:
        self._features = output

    def __enter__(self) -> capture_features:
        if self._handle is not None:
            raise RuntimeError("`capture_features` is already active; it cannot be entered twice.")
        self._modes = [(m, m.training) for m in self.model.modules()]
        self._features = None
        self._handle = self.layer.register_forward_hook(self._hook)
        if self.eval_mode:
            self.model.eval()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._handle.remove()
        finally:
            self._handle = None
            for module, training in self._modes:
                module.training = training

    @property
    def features(self) -> Tensor:
        """The output of ``layer`` on the latest forward pass."""
        if self._features is None:
            raise RuntimeError("No features were captured: call the model inside the `with` block first.")
        return self._features


@dataclass(frozen=True)
class CAMLayer:
    """Where a network's class activation maps come from.

    Attributes:
        features: the submodule whose output ``f`` (``Tensor[N, K, h, w]``) is
            pooled and classified.
        weight: ``Tensor[C, K]``, the linear weights from the pooled ``f`` to
            the classes.
        bias: ``Tensor[C]`` or None.
        relu: NIN-style head (NIN, SqueezeNet): the class map is
            ``ReLU(W f + b)`` and the logit its average; the bias and the ReLU
            are then part of the map. False for an FC layer after GAP, whose
            map is ``W f`` and logit ``mean(W f) + b``.
        negative_slope: with ``relu``, a leaky ReLU's slope on negatives (0: a
            plain ReLU; 0.55 for the Places365 SqueezeNet, ``camlib.places``).
    """

    features: nn.Module
    weight: Tensor
    bias: Tensor | None
    relu: bool = False
    negative_slope: float = 0.0

    def maps(
        self, features: Tensor, classes: Tensor, *, size: int | tuple[int, int] | None = None,
        normalize: str | None = None,
    ) -> Tensor:
        """The class maps of ``classes`` (``LongTensor[N, k]``) from captured ``features`` (``Tensor[N, K, h, w]``).

        ``W f`` for an FC head, ``ReLU(W f + b)`` for a NIN-style head (see the
        class docstring); ``size`` and ``normalize`` as in
        ``camlib.class_activation_maps``. Returns ``Tensor[N, k, H, W]``.
        """
        weight = self.weight.to(features.device)
        if not self.relu:
            return class_activation_maps(features, weight, classes, size=size, normalize=normalize)
        bias = None if self.bias is None else self.bias.to(features.device)
        maps = class_activation_maps(features, weight, classes, bias=bias)  # (N, k, h, w), before the (leaky) ReLU
        maps = F.leaky_relu(maps, self.negative_slope)
        return normalize_maps(resize_maps(maps, size), normalize)


def find_cam_layer(model: nn.Module) -> CAMLayer:
    """Find the CAM features and class weights of a GAP network.

    Knows torchvision's ResNet, GoogLeNet, Inception3, SqueezeNet,
    MobileNetV2 and EfficientNet, and any model with a ``cam_layer()`` method
    returning a ``CAMLayer`` (the study's own networks). For other networks
    build the ``CAMLayer`` by hand.

    Raises:
        TypeError: the network is not one of those.

    Example:
        >>> import torchvision
        >>> layer = find_cam_layer(torchvision.models.resnet18(num_classes=7))
        >>> tuple(layer.weight.shape), layer.relu
        ((7, 512), False)
    """
    import torchvision.models as tvm

    if hasattr(model, "cam_layer") and callable(model.cam_layer):
        return model.cam_layer()
    if isinstance(model, tvm.ResNet):
        return CAMLayer(model.layer4, model.fc.weight.detach(), _bias(model.fc))
    if isinstance(model, tvm.GoogLeNet):
        return CAMLayer(model.inception5b, model.fc.weight.detach(), _bias(model.fc))
    if isinstance(model, tvm.Inception3):
        return CAMLayer(model.Mixed_7c, model.fc.weight.detach(), _bias(model.fc))
    if isinstance(model, tvm.SqueezeNet):
        conv = model.classifier[1]
        weight = conv.weight.detach().flatten(1)  # (C, K, 1, 1) -> (C, K)
        return CAMLayer(model.features, weight, _bias(conv), relu=True)
    if isinstance(model, (tvm.MobileNetV2, tvm.EfficientNet)):
        fc = model.classifier[-1]
        return CAMLayer(model.features, fc.weight.detach(), _bias(fc))
    raise TypeError(
        f"`model` must be a GAP network that camlib knows (torchvision ResNet, GoogLeNet, Inception3, "
        f"SqueezeNet, MobileNetV2, EfficientNet, or a model with a `cam_layer()` method), but got "
        f"{type(model).__name__}; build a `camlib.CAMLayer(features=..., weight=..., bias=...)` for it."
    )


def _bias(layer: nn.Module) -> Tensor | None:
    return None if layer.bias is None else layer.bias.detach()


class CAMOutput(NamedTuple):
    """What ``compute_cams`` returns."""

    logits: Tensor  # (N, C)
    classes: Tensor  # (N, k)
    maps: Tensor  # (N, k, H, W)


def compute_cams(
    model: nn.Module,
    images: Tensor,
    classes: Tensor | None = None,
    *,
    top_k: int = 1,
    layer: CAMLayer | None = None,
    size: int | tuple[int, int] | None = None,
    normalize: str | None = None,
) -> CAMOutput:
    """Run ``model`` on ``images`` in eval mode and return the CAMs of some classes.

    For an FC-after-GAP network the maps are ``W f`` without the bias (the
    paper's Eq. 2); for a NIN-style network (``layer.relu``) they are
    ``ReLU(W f + b)``, the channel that is averaged into the logit. Either way
    the mean of the unresized, unnormalized map (plus the bias in the FC
    case) equals the logit.

    Args:
        model: a GAP network (see ``find_cam_layer``).
        images: ``Tensor[N, 3, H, W]`` on the model's device, preprocessed.
        classes: ``LongTensor[N, k]``, or None for the ``top_k`` predicted
            classes in descending order of logit.
        top_k: how many predicted classes when ``classes`` is None.
        layer: the ``CAMLayer``, or None to find it.
        size, normalize: as in ``class_activation_maps``.

    Returns:
        ``CAMOutput(logits (N, C), classes (N, k), maps (N, k, H, W))``.

    Example:
        >>> import torchvision
        >>> net = torchvision.models.resnet18(num_classes=5)
        >>> out = compute_cams(net, torch.randn(2, 3, 64, 64), top_k=2, size=64)
        >>> out.maps.shape, out.classes.shape
        (torch.Size([2, 2, 64, 64]), torch.Size([2, 2]))
    """
    check_tensor("images", images, ndim=4, dims="(N, 3, H, W)", floating=True)
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise TypeError(f"`top_k` must be a positive int, but got {top_k!r}.")
    if top_k < 1:
        raise ValueError(f"`top_k` must be a positive int, but got {top_k!r}.")
    layer = find_cam_layer(model) if layer is None else layer
    with torch.no_grad(), capture_features(model, layer.features) as cap:
        logits = model(images)
    if classes is None:
        if top_k > logits.shape[1]:
            raise ValueError(f"`top_k` must be at most the number of classes ({logits.shape[1]}), but got {top_k}.")
        classes = logits.topk(top_k, dim=1).indices  # (N, k)
    return CAMOutput(logits, classes, layer.maps(cap.features, classes, size=size, normalize=normalize))


__all__ += ["ScoreIdentity", "score_identity"]


class ScoreIdentity(NamedTuple):
    """What ``score_identity`` returns: both sides of ``S_c = mean(M_c) (+ b_c)`` for every class."""

    logits: Tensor  # (N, C): the network's scores S_c
    map_means: Tensor  # (N, C): the mean of each unresized map M_c, plus b_c for an FC head

    @property
    def error(self) -> Tensor:
        """``|S_c - mean(M_c) (- b_c)|``, ``Tensor[N, C]``: zero up to rounding."""
        return (self.logits - self.map_means).abs()


def score_identity(model: nn.Module, images: Tensor, *, layer: CAMLayer | None = None) -> ScoreIdentity:
    """The logit of every class and the mean of its class map: the identity of Zhou et al. 2016, Sec. 2.

    With ``F_k`` the global average of unit ``k`` and ``M_c(x, y) = sum_k
    w_k^c f_k(x, y)``, the score ``S_c = sum_k w_k^c F_k + b_c`` equals
    ``mean_{x,y} M_c(x, y) + b_c`` exactly: the map is the per-location
    decomposition of the logit. For a NIN-style head (``layer.relu``: the
    map is ``ReLU(W f + b)`` and the logit its average) the bias is inside
    the map and is not added again. The maps are taken at the feature grid
    (``h, w``), unresized and unnormalized, in the dtype of ``model`` and
    ``images``: run a ``.double()`` copy on ``images.double()`` to see the
    residual shrink to float64 rounding.

    Args:
        model: a GAP network (see ``find_cam_layer``).
        images: ``Tensor[N, 3, H, W]`` on the model's device, preprocessed.
        layer: the ``CAMLayer``, or None to find it.

    Returns:
        ``ScoreIdentity(logits (N, C), map_means (N, C))``; ``.error`` is
        their absolute difference. The maps of all ``C`` classes are held at
        once (``N * C * h * w`` values).

    Raises:
        ValueError, TypeError: as ``compute_cams``.

    Example:
        >>> import torchvision
        >>> net = torchvision.models.resnet18(num_classes=5).eval()
        >>> out = score_identity(net, torch.randn(2, 3, 64, 64))
        >>> out.logits.shape, bool(out.error.max() < 1e-5)
        (torch.Size([2, 5]), True)
    """
    check_tensor("images", images, ndim=4, dims="(N, 3, H, W)", floating=True)
    layer = find_cam_layer(model) if layer is None else layer
    C = layer.weight.shape[0]
    every = torch.arange(C, device=images.device).expand(images.shape[0], C)  # (N, C)
    out = compute_cams(model, images, every, layer=layer)  # maps (N, C, h, w)
    means = out.maps.mean(dim=(2, 3))  # (N, C)
    if not layer.relu and layer.bias is not None:
        means = means + layer.bias.to(means)
    return ScoreIdentity(out.logits, means)
