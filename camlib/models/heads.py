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

These are the building blocks; ``camlib.build_model`` (``camlib.models.registry``)
makes any network by name: the small backbones here (``"alexnet-small"``,
``"vgg-small"``, ``"googlenet-small"``) and the paper's surgery on
torchvision networks (``camlib.models.surgery``). This module imports neither.
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
from camlib.boxes.geometry import boxes_to_unit, unit_to_boxes  # re-exported: the box head's encoding
from camlib.cam.extractor import CAMLayer

__all__ = [
    "BoxNet",
    "BoxOutput",
    "CAMNet",
    "ClassifierHead",
    "FCHead",
    "box_regression_loss",
    "boxes_to_unit",
    "extra_convs",
    "small_backbone",
    "unit_to_boxes",
]


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
        >>> net = camlib.build_model("vgg-small", num_classes=4, head="gap")
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
    seq.out_channels = in_channels  # type: ignore[assignment]  # a plain int attribute; nn.Module's __setattr__ is typed Tensor | Module
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
        raise ValueError(f"`input_size / resolution` must be 2, 4, 8, 16 or 32, but got {input_size} / {resolution}.")
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
        return unit_to_boxes(boxes, (images.shape[-2], images.shape[-1]))
