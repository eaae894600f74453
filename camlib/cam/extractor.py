"""The CAM extractor: a network's last convolutional features and class weights, its maps and boxes.

``CAM`` is the one way camlib gets class activation maps from a network:
it holds a hook on the network's last convolutional block (and one on its
output), the user runs the forward pass, and it gives the maps of chosen
classes or of the top-k and their boxes; on exit it removes its hooks and
restores every submodule's mode. ``find_cam_layer`` says where a network's
maps come from (a ``CAMLayer``: the block, the classifier's weights, and
whether the head is FC or NIN-style); ``capture_features`` records one
layer's output; ``compute_cams`` is the one-call form for a batch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import NamedTuple, cast

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from camlib._validate import check_tensor
from camlib.cam.kernel import class_activation_maps, nin_class_activation_maps

__all__ = ["CAM", "CAMLayer", "CAMOutput", "capture_features", "compute_cams", "find_cam_layer"]


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
        self._handle: RemovableHandle | None = None
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
            assert self._handle is not None  # __exit__ follows __enter__, which set it
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
            plain ReLU; 0.55 for the Places365 SqueezeNet, ``camlib.models.places``).
    """

    features: nn.Module
    weight: Tensor
    bias: Tensor | None
    relu: bool = False
    negative_slope: float = 0.0

    def maps(
        self,
        features: Tensor,
        classes: Tensor,
        *,
        size: int | tuple[int, int] | None = None,
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
        return nin_class_activation_maps(
            features, weight, bias, classes, negative_slope=self.negative_slope, size=size, normalize=normalize
        )


def find_cam_layer(model: nn.Module) -> CAMLayer:
    """Find the CAM features and class weights of a GAP network.

    Knows torchvision's ResNet, GoogLeNet, Inception3, SqueezeNet,
    MobileNetV2 and EfficientNet, and any model with a ``cam_layer()`` method
    returning a ``CAMLayer`` (the study's own networks). Of timm's networks
    it knows the EfficientNet class (EfficientNet, EfficientNet-Lite,
    MobileNetV2, MnasNet: the features are ``bn2``, after its activation, the
    weights ``classifier``'s), and any other whose head is its (or its
    ``head``'s) ``global_pool``, average, then the linear ``get_classifier()``: the
    features are then the output of the last module that gives the tensor
    ``global_pool`` pools, found by one forward pass of a random input (of
    timm's ``input_size``, in eval mode, without gradients; the modes are
    restored) which also checks that the logits are the linear layer of the
    features' spatial mean. For other networks build the ``CAMLayer`` by hand.

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
    layer = _timm_cam_layer(model) if type(model).__module__.startswith("timm.") else None
    if layer is not None:
        return layer
    raise TypeError(
        f"`model` must be a GAP network that camlib knows (torchvision ResNet, GoogLeNet, Inception3, "
        f"SqueezeNet, MobileNetV2, EfficientNet; timm's EfficientNet or a timm model whose head is an average "
        f"`global_pool` then a linear `get_classifier()`; or a model with a `cam_layer()` method), but got "
        f"{type(model).__name__}; build a `camlib.cam.CAMLayer(features=..., weight=..., bias=...)` for it."
    )


def _timm_cam_layer(model: nn.Module) -> CAMLayer | None:
    """The ``CAMLayer`` of a timm network with an average ``global_pool`` and a linear classifier, or None."""
    pool = getattr(model, "global_pool", None)
    if pool is None:  # timm's ClassifierHead and NormMlpClassifierHead hold it
        pool = getattr(getattr(model, "head", None), "global_pool", None)
    get_classifier = getattr(model, "get_classifier", None)
    if not isinstance(pool, nn.Module) or getattr(pool, "pool_type", None) != "avg" or not callable(get_classifier):
        return None
    fc = get_classifier()
    if not isinstance(fc, nn.Linear):
        return None
    efficientnet = getattr(sys.modules.get("timm.models.efficientnet"), "EfficientNet", None)
    if efficientnet is not None and isinstance(model, efficientnet):  # forward_features ends with bn2
        return CAMLayer(cast(nn.Module, model.bn2), fc.weight.detach(), _bias(fc))
    return _traced_cam_layer(model, pool, fc)


def _traced_cam_layer(model: nn.Module, pool: nn.Module, fc: nn.Linear) -> CAMLayer | None:
    """Find the module whose output ``pool`` pools by one forward pass; None unless logits = fc(mean of it)."""
    param = next(model.parameters(), None)
    if param is None or param.device.type == "meta":
        return None
    channels, height, width = (getattr(model, "pretrained_cfg", None) or {}).get("input_size", (3, 224, 224))
    x = torch.randn(1, channels, height, width, generator=torch.Generator().manual_seed(0)).to(param)
    calls: list[tuple[nn.Module, object]] = []  # (module, output) in the order the calls end
    pooled: list[Tensor] = []
    handles = [
        m.register_forward_hook(lambda module, inputs, output: calls.append((module, output)))
        for m in model.modules()
        if m is not model
    ]
    handles.append(pool.register_forward_pre_hook(lambda module, inputs: pooled.append(inputs[0])))
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            logits = model(x)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
    if len(pooled) != 1 or pooled[0].ndim != 4 or not isinstance(logits, Tensor):
        return None
    features = pooled[0]  # (1, K, h, w)
    last = next((i for i in range(len(calls) - 1, -1, -1) if calls[i][1] is features), None)
    if last is None or any(m is calls[last][0] for m, _ in calls[last + 1 :]):  # called again: its hook would see that
        return None
    if features.shape[1] != fc.in_features:  # a layer between the pooling and the classifier (MobileNetV3)
        return None
    with torch.no_grad():
        expected = fc(features.mean(dim=(2, 3)))  # (1, C): the linear layer of the global average
    scale = 1e-4 * (1.0 + float(expected.abs().max()))
    if logits.shape != expected.shape or not torch.allclose(logits, expected, rtol=1e-3, atol=scale):
        return None
    return CAMLayer(calls[last][0], fc.weight.detach(), _bias(fc))


def _bias(layer: nn.Module) -> Tensor | None:
    bias = cast("Tensor | None", layer.bias)  # a Parameter or None; nn.Module's __getattr__ says Tensor | Module
    return None if bias is None else bias.detach()


class CAM:
    """Class activation maps of a network: hook it, run the forward pass, then ask for maps and boxes.

    On entry it registers a forward hook on the network's last convolutional
    block (``layer.features``) and one on the network itself (its logits),
    and puts the network in eval mode (``eval_mode``); on exit it removes both
    hooks and restores every submodule's ``training`` flag, also when the
    block raises. Inside the block the user calls the network as usual (with
    or without gradients); ``maps``, ``classes`` and ``boxes`` then read the
    latest forward pass, so no forward pass is ever run twice.

    The maps are exact for both heads that ``CAMLayer`` describes: ``W f``
    for an FC layer after GAP (``camlib.cam.kernel.class_activation_maps``,
    the paper's Eq. 2) and ``ReLU(W f + b)`` for a NIN-style head
    (``nin_class_activation_maps``); either way the mean of the unresized,
    unnormalized map (plus the bias for an FC head) is the logit.

    Args:
        model: a GAP network (``find_cam_layer`` knows it, or ``layer`` says
            where its maps come from).
        layer: the ``CAMLayer``, or None to find it.
        eval_mode: put ``model`` in eval mode inside the block.

    Example:
        >>> import torchvision
        >>> net = torchvision.models.resnet18(num_classes=5)
        >>> with torch.no_grad(), CAM(net) as cam:
        ...     logits = net(torch.randn(2, 3, 64, 64))
        ...     maps = cam.maps(top_k=2, size=64)  # the top-2 classes' maps, (N, k, H, W)
        ...     boxes = cam.boxes(0.2, top_k=2, size=64)  # their boxes, (N, k, 4)
        >>> maps.shape, boxes.shape, len(net.layer4._forward_hooks), net.training
        (torch.Size([2, 2, 64, 64]), torch.Size([2, 2, 4]), 0, True)
    """

    def __init__(self, model: nn.Module, layer: CAMLayer | None = None, *, eval_mode: bool = True) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"`model` must be a torch.nn.Module, but got {type(model).__name__}.")
        if layer is not None and not isinstance(layer, CAMLayer):
            raise TypeError(f"`layer` must be a camlib.cam.CAMLayer or None, but got {type(layer).__name__}.")
        self.model = model
        self.layer = find_cam_layer(model) if layer is None else layer
        self._capture = capture_features(model, self.layer.features, eval_mode=eval_mode)
        self._output: object = None
        self._handle: RemovableHandle | None = None

    def _hook(self, module: nn.Module, inputs: tuple, output: object) -> None:
        self._output = output

    def __enter__(self) -> CAM:
        self._capture.__enter__()
        self._output = None
        self._handle = self.model.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._handle is not None:
                self._handle.remove()
        finally:
            self._handle = None
            self._capture.__exit__(*exc_info)

    @property
    def features(self) -> Tensor:
        """``Tensor[N, K, h, w]``: the last convolutional features of the latest forward pass."""
        return self._capture.features

    @property
    def output(self) -> object:
        """What the network returned on the latest forward pass (logits, or a model's own output type)."""
        if self._handle is None and self._output is None:
            raise RuntimeError("`CAM` is not active: use it as `with CAM(model) as cam:` and call the model inside.")
        if self._output is None:
            raise RuntimeError("No forward pass was seen: call the model inside the `with` block first.")
        return self._output

    @property
    def logits(self) -> Tensor:
        """``Tensor[N, C]``: the class scores of the latest forward pass (a ``.logits`` attribute if it has one)."""
        logits = getattr(self.output, "logits", self.output)
        if not isinstance(logits, Tensor) or logits.ndim != 2:
            raise TypeError(f"the model must return logits (N, C) or an object with `.logits`, but returned "
                            f"{type(self.output).__name__}.")  # fmt: skip
        return logits

    def classes(self, top_k: int = 1) -> Tensor:
        """``LongTensor[N, k]``: the ``top_k`` classes of the latest forward pass, best first."""
        if isinstance(top_k, bool) or not isinstance(top_k, int):
            raise TypeError(f"`top_k` must be a positive int, but got {top_k!r}.")
        if top_k < 1:
            raise ValueError(f"`top_k` must be a positive int, but got {top_k!r}.")
        C = self.logits.shape[1]
        if top_k > C:
            raise ValueError(f"`top_k` must be at most the number of classes ({C}), but got {top_k}.")
        return self.logits.topk(top_k, dim=1).indices  # (N, k)

    def maps(
        self,
        classes: Tensor | None = None,
        *,
        top_k: int = 1,
        size: int | tuple[int, int] | None = None,
        normalize: str | None = None,
    ) -> Tensor:
        """The maps of ``classes`` (``LongTensor[N, k]``), or of the ``top_k`` classes when None: ``Tensor[N, k, H, W]``.

        ``size`` and ``normalize`` as in ``camlib.cam.kernel.class_activation_maps``
        (None: the feature grid, unnormalized).
        """
        classes = self.classes(top_k) if classes is None else classes
        return self.layer.maps(self.features, classes, size=size, normalize=normalize)

    def boxes(
        self,
        threshold: float = 0.2,
        *,
        classes: Tensor | None = None,
        top_k: int = 1,
        size: int | tuple[int, int] | None = None,
        mode: str = "largest",
        backend: str = "auto",
    ) -> Tensor:
        """The boxes of the maps of ``classes`` (or the ``top_k``): ``LongTensor[N, k, 4]``, ``(x1, y1, x2, y2)``.

        The paper's rule (``camlib.boxes.from_maps.boxes_from_maps``): the
        pixels above ``threshold`` times the map's maximum, then the box of
        the largest 8-connected component (``mode="largest"``) or of all of
        them (``"union"``), at ``size`` (the images' size for boxes in image
        coordinates).
        """
        from camlib.boxes.from_maps import boxes_from_maps  # boxes need components; maps alone do not

        return boxes_from_maps(self.maps(classes, top_k=top_k, size=size), threshold, mode=mode, backend=backend)


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
    with torch.no_grad(), CAM(model, layer) as cam:
        model(images)
        classes = cam.classes(top_k) if classes is None else classes
        return CAMOutput(cam.logits, classes, cam.maps(classes, size=size, normalize=normalize))


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
