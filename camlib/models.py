"""The study's networks: GAP / GMP heads, small CPU backbones, the box baseline.

Every classification network here is a ``CAMNet``: ``features`` (a backbone
ending in the paper's extra 3x3 conv layers and ReLU, Zhou et al. 2016,
Sec. 3.1) followed by a ``head``. With a ``ClassifierHead`` the head pools the
features globally (average: GAP, max: GMP) and applies one linear layer, so
that ``camlib.compute_cams(net, x)`` gives the class activation maps
``M_c = sum_k w_k^c f_k``. With an ``FCHead`` (flatten + fully connected
layers, the original AlexNet / VGG classifiers) the network is the "no GAP"
reference of Table 1 and has no CAM.

``BoxNet`` is the fully supervised baseline (Table 3, "AlexNet, full"): the
same features with a classification head and a box-regression head trained
with ground-truth boxes.

``build_model`` makes any of them by name: the small backbones here
(``"alexnet-small"``, ``"vgg-small"``, ``"googlenet-small"``) and the paper's
surgery on torchvision networks (``camlib.surgery``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from camlib._validate import check_choice, check_tensor
from camlib.hooks import CAMLayer

__all__ = [
    "HEADS",
    "MODELS",
    "PAPER_MODELS",
    "SMALL_MODELS",
    "BoxNet",
    "BoxOutput",
    "CAMNet",
    "ClassifierHead",
    "FCHead",
    "box_regression_loss",
    "boxes_to_unit",
    "build_model",
    "extra_convs",
    "small_backbone",
    "unit_to_boxes",
]

HEADS = ("gap", "gmp", "fc", "box")
SMALL_MODELS = ("alexnet-small", "vgg-small", "googlenet-small")
PAPER_MODELS = ("alexnet", "alexnet*", "vgg16", "googlenet", "resnet50")  # camlib.surgery
MODELS = SMALL_MODELS + PAPER_MODELS


# --- heads ------------------------------------------------------------------------------


class ClassifierHead(nn.Module):
    """Global pooling then one linear layer: ``S_c = sum_k w_k^c F_k + b_c``.

    ``F_k`` is the mean of ``f_k`` over the ``h x w`` locations (``"gap"``)
    or its maximum (``"gmp"``, Oquab et al. 2015). The class activation map
    is ``M_c = sum_k w_k^c f_k`` for both (the paper draws its GMP maps with
    the same formula), but only GAP decomposes the logit exactly:
    ``mean_{x,y} M_c + b_c = S_c``. For GMP what holds is
    ``S_c = W max_{x,y} f + b``, which is not ``max M_c + b_c`` in general.

    Args:
        in_channels: ``K``, the channels of the features.
        num_classes: ``C``.
        pool: ``"gap"`` or ``"gmp"``.

    Example:
        >>> head = ClassifierHead(4, 3, pool="gmp")
        >>> head(torch.zeros(2, 4, 5, 5)).shape
        torch.Size([2, 3])
    """

    def __init__(self, in_channels: int, num_classes: int, pool: str = "gap") -> None:
        super().__init__()
        check_choice("pool", pool, ("gap", "gmp"))
        self.pool = pool
        self.fc = nn.Linear(in_channels, num_classes)

    @classmethod
    def from_linear(cls, weight: Tensor, bias: Tensor | None = None, pool: str = "gap") -> ClassifierHead:
        """A head with given weights ``Tensor[C, K]`` (e.g. a linear SVM's) and bias ``Tensor[C]`` (or zeros)."""
        check_tensor("weight", weight, ndim=2, dims="(C, K)", floating=True)
        C, K = weight.shape
        if bias is not None:
            check_tensor("bias", bias, ndim=1, dims="(C,)", floating=True)
            if bias.shape[0] != C:
                raise ValueError(f"`bias` must have shape ({C},), but got shape ({bias.shape[0]},).")
        head = cls(K, C, pool).to(weight.device)
        with torch.no_grad():
            head.fc.weight.copy_(weight)
            head.fc.bias.copy_(bias if bias is not None else torch.zeros(C))
        return head

    def pooled(self, features: Tensor) -> Tensor:
        """``Tensor[N, K, h, w]`` -> the pooled features ``Tensor[N, K]``."""
        return features.mean(dim=(2, 3)) if self.pool == "gap" else features.amax(dim=(2, 3))

    def forward(self, features: Tensor) -> Tensor:
        return self.fc(self.pooled(features))  # (N, C)


class FCHead(nn.Module):
    """The original AlexNet / VGG classifier: flatten, FC-ReLU-dropout twice, FC.

    Args:
        in_channels: ``K``.
        resolution: ``(h, w)`` (or ``s`` for ``(s, s)``) of the features,
            which fixes the first layer's input size ``K h w``.
        num_classes: ``C``.
        hidden: the units of the two hidden layers (4096 in AlexNet).
        dropout: the dropout probability after each hidden layer.
    """

    def __init__(
        self,
        in_channels: int,
        resolution: int | tuple[int, int],
        num_classes: int,
        *,
        hidden: int = 256,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        h, w = (resolution, resolution) if isinstance(resolution, int) else resolution
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * h * w, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )  # fmt: skip

    def forward(self, features: Tensor) -> Tensor:
        return self.layers(features)  # (N, C)


class CAMNet(nn.Module):
    """``features`` then ``head``: a GAP / GMP network, or its flatten + FC reference.

    Args:
        features: images ``Tensor[N, 3, H, W]`` -> ``Tensor[N, K, h, w]``; the
            module whose output the head pools (see ``extra_convs``).
        head: a ``ClassifierHead`` (GAP / GMP: the network has a CAM) or an
            ``FCHead`` (no CAM).

    Example:
        >>> import camlib
        >>> net = build_model("vgg-small", num_classes=4, head="gap")
        >>> out = camlib.compute_cams(net, torch.zeros(1, 3, 64, 64))
        >>> out.maps.shape
        torch.Size([1, 1, 8, 8])
    """

    def __init__(self, features: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images))  # (N, C)

    def cam_layer(self) -> CAMLayer:
        """The ``CAMLayer`` of the network: ``features`` and the head's linear layer.

        Raises:
            TypeError: the head is not a ``ClassifierHead`` (a flatten + FC
                head mixes locations, so ``W f`` is not defined).
        """
        if not isinstance(self.head, ClassifierHead):
            raise TypeError(
                f"A CAMNet with a {type(self.head).__name__} has no class activation map: its classifier "
                f"mixes the locations of the features; use head='gap' or head='gmp'."
            )
        fc = self.head.fc
        return CAMLayer(self.features, fc.weight.detach(), fc.bias.detach())

    def pooled_features(self, images: Tensor) -> Tensor:
        """The pooled features ``Tensor[N, K]``, e.g. to fit a linear SVM on (Sec. 4)."""
        if not isinstance(self.head, ClassifierHead):
            raise TypeError(f"`pooled_features` needs a GAP or GMP head, but the head is a {type(self.head).__name__}.")
        return self.head.pooled(self.features(images))

    def with_classifier(self, weight: Tensor, bias: Tensor | None = None) -> CAMNet:
        """A network sharing these ``features`` (and pooling) with another linear classifier.

        The CAM of the result uses ``weight`` (``Tensor[C', K]``): the paper's
        maps from any linear model on the pooled features (Secs. 4, 5).
        """
        pool = self.head.pool if isinstance(self.head, ClassifierHead) else "gap"
        return CAMNet(self.features, ClassifierHead.from_linear(weight, bias, pool))


def extra_convs(trunk: nn.Module, in_channels: int, widths: Sequence[int]) -> nn.Sequential:
    """``trunk`` followed by 3x3 convs (stride 1, pad 1) with ``widths`` units, each + ReLU.

    The paper's -GAP networks add one such layer of 1024 units after the cut
    (Sec. 3.1); the mapping resolution is the trunk's. The result has an
    ``out_channels`` attribute.
    """
    layers: list[tuple[str, nn.Module]] = [("trunk", trunk)]
    for i, width in enumerate(widths):
        layers += [(f"conv{i}", nn.Conv2d(in_channels, width, 3, padding=1)), (f"relu{i}", nn.ReLU())]
        in_channels = width
    seq = nn.Sequential(OrderedDict(layers))
    seq.out_channels = in_channels
    return seq


# --- small backbones --------------------------------------------------------------------


def _conv(cin: int, cout: int, k: int, stride: int, batch_norm: bool) -> list[nn.Module]:
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=not batch_norm)
    return [conv, nn.BatchNorm2d(cout), nn.ReLU()] if batch_norm else [conv, nn.ReLU()]


class Inception(nn.Module):
    """A tiny GoogLeNet inception block: 1x1 | 1x1-3x3 | 1x1-5x5 | maxpool-1x1, concatenated."""

    def __init__(self, cin: int, cout: int, batch_norm: bool) -> None:
        super().__init__()
        q, r = cout // 4, max(cout // 8, 1)
        self.b1 = nn.Sequential(*_conv(cin, q, 1, 1, batch_norm))
        self.b3 = nn.Sequential(*_conv(cin, r, 1, 1, batch_norm), *_conv(r, q, 3, 1, batch_norm))
        self.b5 = nn.Sequential(*_conv(cin, r, 1, 1, batch_norm), *_conv(r, q, 5, 1, batch_norm))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), *_conv(cin, cout - 3 * q, 1, 1, batch_norm))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)  # (N, cout, h, w)


def small_backbone(
    family: str, *, input_size: int = 64, resolution: int = 8, channels: int = 16, batch_norm: bool = True
) -> nn.Sequential:
    """A small convolutional trunk of the AlexNet, VGG or GoogLeNet family, for CPUs.

    The trunk has ``n = log2(input_size / resolution)`` stride-2 stages, so
    that an ``input_size``-pixel image gives ``resolution x resolution``
    features; stage ``i`` has ``channels * 2**min(i, 3)`` units.

    - ``"alexnet"``: a 5x5 stride-2 conv, then (3x3 stride-2 max pool, 3x3
      conv) per further stage, then two 3x3 convs (conv4, conv5).
    - ``"vgg"``: (two 3x3 convs, 2x2 max pool) per stage, then two 3x3 convs
      (conv5_x, without pool5).
    - ``"googlenet"``: a 3x3 conv, then (3x3 stride-2 max pool, inception
      block) per stage, then one more inception block (inception4e).

    Args:
        family: ``"alexnet"``, ``"vgg"`` or ``"googlenet"``.
        input_size: the image side the resolution refers to.
        resolution: the side of the features at ``input_size``.
        channels: the width of the first stage.
        batch_norm: a BatchNorm after each conv (before its ReLU).

    Returns:
        ``nn.Sequential`` with an ``out_channels`` attribute; it ends in a ReLU.

    Raises:
        ValueError: unknown family, or ``input_size / resolution`` is not
            ``2**n`` with ``1 <= n <= 5``.

    Example:
        >>> trunk = small_backbone("googlenet", resolution=4)
        >>> trunk(torch.zeros(1, 3, 64, 64)).shape, trunk.out_channels
        (torch.Size([1, 128, 4, 4]), 128)
    """
    check_choice("family", family, ("alexnet", "vgg", "googlenet"))
    ratio = input_size // resolution if resolution > 0 else 0
    n = int(math.log2(ratio)) if ratio > 0 else 0
    if resolution <= 0 or input_size % resolution or 2**n != ratio or not 1 <= n <= 5:
        raise ValueError(
            f"`input_size / resolution` must be 2, 4, 8, 16 or 32, "
            f"but got {input_size} / {resolution}."
        )
    width = [channels * 2 ** min(i, 3) for i in range(n + 1)]
    layers: list[nn.Module] = []
    if family == "alexnet":
        layers += _conv(3, width[0], 5, 2, batch_norm)
        for i in range(1, n):
            layers += [nn.MaxPool2d(3, 2, 1), *_conv(width[i - 1], width[i], 3, 1, batch_norm)]
        layers += _conv(width[n - 1], width[n], 3, 1, batch_norm) + _conv(width[n], width[n], 3, 1, batch_norm)
    elif family == "vgg":
        cin = 3
        for i in range(n):
            layers += _conv(cin, width[i], 3, 1, batch_norm) + _conv(width[i], width[i], 3, 1, batch_norm)
            layers += [nn.MaxPool2d(2)]
            cin = width[i]
        layers += _conv(cin, width[n], 3, 1, batch_norm) + _conv(width[n], width[n], 3, 1, batch_norm)
    else:
        layers += _conv(3, width[0], 3, 1, batch_norm)
        for i in range(1, n + 1):
            layers += [nn.MaxPool2d(3, 2, 1), Inception(width[i - 1], width[i], batch_norm)]
        layers += [Inception(width[n], width[n], batch_norm)]
    trunk = nn.Sequential(*layers)
    trunk.out_channels = width[n]
    return trunk


# --- the fully supervised baseline ------------------------------------------------------


class BoxOutput(NamedTuple):
    """What ``BoxNet`` returns."""

    logits: Tensor  # (N, C)
    boxes: Tensor  # (N, 4) normalized (x1, y1, x2, y2) in [0, 1]


def boxes_to_unit(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Inclusive pixel boxes -> normalized box edges in ``[0, 1]``.

    A box ``(x1, y1, x2, y2)`` of inclusive pixel indices covers the
    continuous interval ``[x1, x2 + 1)``; in units of the image side ``W``
    its edges are ``(x1 / W, y1 / H, (x2 + 1) / W, (y2 + 1) / H)``.

    Example:
        >>> boxes_to_unit(torch.tensor([[0, 0, 63, 31]]), (64, 64))
        tensor([[0.0000, 0.0000, 1.0000, 0.5000]])
    """
    H, W = size
    scale = torch.tensor([W, H, W, H], dtype=torch.float32, device=boxes.device)
    return (boxes.float() + torch.tensor([0, 0, 1, 1], device=boxes.device)) / scale  # (N, 4)


def unit_to_boxes(unit: Tensor, size: tuple[int, int]) -> Tensor:
    """Normalized box edges -> inclusive pixel boxes (the inverse of ``boxes_to_unit``).

    Edges are rounded to the nearest pixel boundary and clipped to the image;
    a box is at least one pixel wide and high.

    Example:
        >>> unit_to_boxes(torch.tensor([[0.0, 0.0, 1.0, 0.5]]), (64, 64))
        tensor([[ 0,  0, 63, 31]])
    """
    H, W = size
    scale = torch.tensor([W, H, W, H], dtype=unit.dtype, device=unit.device)
    edges = torch.round(unit * scale).long()  # (N, 4) pixel boundaries
    x1, y1 = edges[:, 0].clamp(0, W - 1), edges[:, 1].clamp(0, H - 1)
    x2 = torch.maximum(edges[:, 2] - 1, x1).clamp(max=W - 1)
    y2 = torch.maximum(edges[:, 3] - 1, y1).clamp(max=H - 1)
    return torch.stack([x1, y1, x2, y2], dim=1)  # (N, 4)


def box_regression_loss(pred: Tensor, target: Tensor, beta: float = 0.05) -> Tensor:
    """Smooth-L1 loss between normalized boxes ``Tensor[N, 4]``, averaged over the coordinates.

    Fast R-CNN's loss on the four normalized edges; ``beta`` (the switch from
    quadratic to linear) is 0.05 of the image side, since the coordinates
    lie in ``[0, 1]``.
    """
    return F.smooth_l1_loss(pred, target, beta=beta)


class BoxNet(nn.Module):
    """Features + a GAP classification head + a box-regression head.

    The box head sees the features' spatial layout (a GAP vector is nearly
    translation invariant): adaptive average pool to ``grid x grid``,
    flatten, FC-ReLU, FC to 4 numbers ``(cx, cy, w, h)`` squashed into
    ``[0, 1]`` by a sigmoid, returned as edges ``(x1, y1, x2, y2)`` clipped
    to ``[0, 1]``. It predicts one box per image, for the predicted class.

    Args:
        features: as in ``CAMNet``; ``in_channels`` its output channels ``K``.
        num_classes: ``C``.
        grid: the side of the pooled grid the box head reads.
        hidden: the units of its hidden layer.
    """

    def __init__(
        self, features: nn.Module, in_channels: int, num_classes: int, *, grid: int = 4, hidden: int = 256
    ) -> None:
        super().__init__()
        self.features = features
        self.head = ClassifierHead(in_channels, num_classes, "gap")
        self.box = nn.Sequential(
            nn.AdaptiveAvgPool2d(grid), nn.Flatten(),
            nn.Linear(in_channels * grid * grid, hidden), nn.ReLU(), nn.Linear(hidden, 4),
        )  # fmt: skip

    def forward(self, images: Tensor) -> BoxOutput:
        f = self.features(images)  # (N, K, h, w)
        c, s = self.box(f).sigmoid().split(2, dim=1)  # centres, sizes (N, 2)
        boxes = torch.cat([c - s / 2, c + s / 2], dim=1).clamp(0, 1)  # (N, 4)
        return BoxOutput(self.head(f), boxes)

    @torch.no_grad()
    def predict_boxes(self, images: Tensor) -> Tensor:
        """``LongTensor[N, 4]``: one box per image, ``(x1, y1, x2, y2)`` inclusive pixel indices.

        Runs in eval mode (restoring the mode after) at the size of ``images``.
        """
        check_tensor("images", images, ndim=4, dims="(N, 3, H, W)", floating=True)
        training = self.training
        try:
            boxes = self.eval()(images).boxes
        finally:
            self.train(training)
        return unit_to_boxes(boxes, tuple(images.shape[-2:]))


# --- the factory ------------------------------------------------------------------------


def build_model(name: str, *, num_classes: int, head: str = "gap", pretrained: object = None, **kwargs) -> nn.Module:
    """Build one of the study's networks, in training mode.

    Args:
        name: a small CPU network (``"alexnet-small"``, ``"vgg-small"``,
            ``"googlenet-small"``; see ``small_backbone``) or a paper network
            (``"alexnet"``, ``"alexnet*"``, ``"vgg16"``, ``"googlenet"``,
            ``"resnet50"``; see ``camlib.surgery``).
        num_classes: ``C``.
        head: ``"gap"``, ``"gmp"`` (``CAMNet`` with a ``ClassifierHead``),
            ``"fc"`` (the original flatten + FC classifier, no CAM) or
            ``"box"`` (``BoxNet``, the fully supervised baseline).
        pretrained: paper networks only: as ``weights`` in
            ``camlib.load_pretrained`` (a torchvision weights name, a
            state_dict path, or None for random weights). The trunk gets the
            weights; the added layers start random.
        **kwargs: small networks: ``input_size=64``, ``resolution=8``,
            ``channels=16``, ``batch_norm=True`` (``small_backbone``),
            ``width=128`` (the units of the extra 3x3 conv; 1024 in the
            paper), ``hidden=256`` and ``dropout=0.5`` (``FCHead``), ``grid=4``
            (``BoxNet``). Paper networks: ``width=1024``.

    Raises:
        ValueError: unknown name, head or keyword, or a head the network lacks.

    Example:
        >>> net = build_model("alexnet-small", num_classes=5, head="fc", resolution=4)
        >>> net(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 5])
    """
    if name not in MODELS:
        raise ValueError(f"`name` must be one of {', '.join(map(repr, MODELS))}, but got {name!r}.")
    check_choice("head", head, HEADS)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"`num_classes` must be a positive int, but got {num_classes!r}.")
    if name in PAPER_MODELS:
        from camlib.surgery import build_paper_model  # it imports this module

        return build_paper_model(name, num_classes=num_classes, head=head, weights=pretrained, **kwargs).train()
    if pretrained is not None:
        raise ValueError(f"`pretrained` must be None for the small network {name!r}, but got {pretrained!r}.")
    allowed = {"input_size", "resolution", "channels", "batch_norm", "width", "hidden", "dropout", "grid"}
    if set(kwargs) - allowed:
        raise ValueError(f"Unknown keyword(s) for {name!r}: {sorted(set(kwargs) - allowed)}; valid: {sorted(allowed)}.")
    resolution = kwargs.get("resolution", 8)
    trunk = small_backbone(
        name.removesuffix("-small"),
        input_size=kwargs.get("input_size", 64),
        resolution=resolution,
        channels=kwargs.get("channels", 16),
        batch_norm=kwargs.get("batch_norm", True),
    )
    if head == "fc":
        hidden, dropout = kwargs.get("hidden", 256), kwargs.get("dropout", 0.5)
        return CAMNet(trunk, FCHead(trunk.out_channels, resolution, num_classes, hidden=hidden, dropout=dropout))
    features = extra_convs(trunk, trunk.out_channels, [kwargs.get("width", 128)])
    if head == "box":
        return BoxNet(features, features.out_channels, num_classes, grid=kwargs.get("grid", 4))
    return CAMNet(features, ClassifierHead(features.out_channels, num_classes, head))

