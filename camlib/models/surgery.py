"""The paper's surgery on torchvision networks (Zhou et al. 2016, Sec. 3.1).

"We remove the fully-connected layers before the final output and replace
them with GAP followed by a fully-connected softmax layer", cutting each
network after its last high-resolution convolution and adding a 3x3 conv
(stride 1, pad 1, 1024 units) + ReLU before the pooling:

===============  ==========================================  ===========  ==========
network          kept (torchvision modules)                  features K   at 224 px
===============  ==========================================  ===========  ==========
AlexNet-GAP      ``features[:12]``: conv1 ... conv5 + ReLU   256 -> 1024  13 x 13
AlexNet*-GAP     the same, then two 3x3 convs of 512 units   256 -> 512   13 x 13
VGG16-GAP        ``features[:30]``: ... conv5_3 + ReLU        512 -> 1024  14 x 14
GoogLeNet-GAP    conv1 ... inception4e (no maxpool4, 5a, 5b)  832 -> 1024  14 x 14
ResNet-50        as it is (GAP + FC already)                  2048         7 x 7
===============  ==========================================  ===========  ==========

AlexNet*-GAP. The paper (Sec. 3.2): "AlexNet is the most affected by the
removal of the fully-connected layers. To compensate, we add two
convolutional layers just before GAP". Our reading, which follows the
authors' released ``alexnetplusCAM`` model (its last layers are 3x3 convs
384 -> 512 and 512 -> 512 followed by average pooling), is that the two
512-unit layers take the place of the single 1024-unit layer: conv1-conv5,
conv 512, conv 512, GAP, FC. Torchvision's AlexNet is the one-GPU variant
(64-192-384-256-256 units), not Caffe's grouped 96-256-384-384-256.

The GMP counterparts pool by max instead; ``head="fc"`` gives torchvision's
original network (AlexNet, VGG16 with their FC classifiers; GoogLeNet),
the "no GAP" rows of Table 1; ``head="box"`` the fully supervised baseline on
the same features. Use the models through ``camlib.build_model`` (``camlib.models.registry``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import cast

import torch
from torch import Tensor, nn

from camlib.models.heads import BoxNet, CAMNet, ClassifierHead, extra_convs
from camlib.models.pretrained import load_pretrained

__all__ = ["PAPER_MODELS", "build_paper_model", "paper_trunk"]

PAPER_MODELS = ("alexnet", "alexnet*", "vgg16", "googlenet", "resnet50")

_ARCH = {"alexnet*": "alexnet"}  # the torchvision network of each name, where it differs
_WIDTHS = {"alexnet": (1024,), "alexnet*": (512, 512), "vgg16": (1024,), "googlenet": (1024,)}


class GoogLeNetInput(nn.Module):
    """Torchvision GoogLeNet's ``transform_input``: ImageNet-normalized input -> ``(x - 0.5) / 0.5``.

    Torchvision's GoogLeNet weights expect it (they come from a port whose
    inputs were scaled that way); a network built without weights has it off.
    """

    scale: Tensor  # buffers, registered in __init__
    shift: Tensor

    def __init__(self, enabled: bool) -> None:
        super().__init__()
        self.enabled = enabled
        std, mean = torch.tensor([0.229, 0.224, 0.225]), torch.tensor([0.485, 0.456, 0.406])
        self.register_buffer("scale", (std / 0.5).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", ((mean - 0.5) / 0.5).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if not self.enabled:
            return x
        return x * self.scale + self.shift  # (N, 3, H, W)


def paper_trunk(name: str, weights: str | os.PathLike | None = None) -> tuple[nn.Module, int]:
    """The kept part of a torchvision network and its output channels ``K``.

    Args:
        name: ``"alexnet"``, ``"alexnet*"``, ``"vgg16"`` or ``"googlenet"``.
        weights: as in ``camlib.load_pretrained``.

    Returns:
        ``(trunk, K)``; the trunk ends in a ReLU (GoogLeNet: the inception
        block's concatenated ReLU outputs) and is in training mode.
    """
    net = load_pretrained(_ARCH.get(name, name), weights).train()
    if name.startswith("alexnet"):
        return cast(nn.Sequential, net.features)[:12], 256  # conv1 ... conv5 + ReLU; drop pool5
    if name == "vgg16":
        return cast(nn.Sequential, net.features)[:30], 512  # ... conv5_3 + ReLU; drop pool5
    kept = ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3"]
    kept += ["inception4a", "inception4b", "inception4c", "inception4d", "inception4e"]
    layers = [("input", GoogLeNetInput(cast(bool, net.transform_input)))] + [(k, getattr(net, k)) for k in kept]
    return nn.Sequential(OrderedDict(layers)), 832


def _replace_classifier(net: nn.Module, num_classes: int) -> nn.Module:
    parent, attr = (net.classifier, "6") if hasattr(net, "classifier") else (net, "fc")
    old = getattr(parent, attr)
    if old.out_features != num_classes:
        setattr(parent, attr, nn.Linear(old.in_features, num_classes))
    return net


def build_paper_model(
    name: str,
    *,
    num_classes: int,
    head: str = "gap",
    weights: str | os.PathLike | None = None,
    width: int | None = None,
    grid: int = 4,
) -> nn.Module:
    """A network of the paper, by ``name`` and ``head``; see the module docstring.

    Args:
        name: one of ``PAPER_MODELS``.
        num_classes: ``C``.
        head: ``"gap"``, ``"gmp"``, ``"fc"`` or ``"box"``; ResNet-50 only ``"gap"``.
        weights: as in ``camlib.load_pretrained``; loaded into the trunk.
        width: the units of the added conv (default 1024; AlexNet*: 512 for
            both added convs).
        grid: the box head's grid (``BoxNet``).

    Raises:
        ValueError: the network has no such head.

    Example:
        >>> net = build_paper_model("alexnet", num_classes=10)
        >>> net.features(torch.zeros(1, 3, 224, 224)).shape
        torch.Size([1, 1024, 13, 13])
    """
    if name not in PAPER_MODELS:
        raise ValueError(f"`name` must be one of {', '.join(map(repr, PAPER_MODELS))}, but got {name!r}.")
    if name == "resnet50":
        if head != "gap" or width is not None:
            raise ValueError(f"'resnet50' is used as it is (GAP + FC): `head` must be 'gap', but got {head!r}.")
        return _replace_classifier(load_pretrained("resnet50", weights), num_classes)
    if head == "fc":
        if name == "alexnet*":
            raise ValueError("'alexnet*' exists only with a GAP or GMP head; for the FC reference use 'alexnet'.")
        return _replace_classifier(load_pretrained(name, weights), num_classes)
    trunk, K = paper_trunk(name, weights)
    widths = _WIDTHS[name] if width is None else (width,) * len(_WIDTHS[name])
    features = extra_convs(trunk, K, widths)
    # out_channels is an int (extra_convs); nn.Module's __getattr__ types it Tensor | Module
    if head == "box":
        return BoxNet(features, cast(int, features.out_channels), num_classes, grid=grid)
    return CAMNet(features, ClassifierHead(cast(int, features.out_channels), num_classes, head))
