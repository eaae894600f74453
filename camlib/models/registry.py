"""The study's networks by name: ``build_model(name, num_classes=..., head=...)``.

The registry sits above the building blocks so that no two modules import
each other: it imports ``camlib.models.heads`` (heads, small backbones, the box
baseline) and ``camlib.models.surgery`` (the paper's torchvision networks, which
itself imports ``camlib.models.heads``); neither of them imports the registry.

- ``SMALL_MODELS`` (``"alexnet-small"``, ``"vgg-small"``,
  ``"googlenet-small"``): ``camlib.models.heads.small_backbone``, then
  ``extra_convs`` and a head; every head of ``HEADS``.
- ``PAPER_MODELS`` (``"alexnet"``, ``"alexnet*"``, ``"vgg16"``,
  ``"googlenet"``, ``"resnet50"``): ``camlib.models.surgery.build_paper_model``.
"""

from __future__ import annotations

import os
from typing import cast

from torch import nn

from camlib._validate import check_choice
from camlib.models.heads import BoxNet, CAMNet, ClassifierHead, FCHead, extra_convs, small_backbone
from camlib.models.surgery import PAPER_MODELS, build_paper_model

__all__ = ["HEADS", "MODELS", "PAPER_MODELS", "SMALL_MODELS", "build_model"]

HEADS = ("gap", "gmp", "fc", "box")
SMALL_MODELS = ("alexnet-small", "vgg-small", "googlenet-small")
MODELS = SMALL_MODELS + PAPER_MODELS

_SMALL_KWARGS = {"input_size", "resolution", "channels", "batch_norm", "width", "hidden", "dropout", "grid"}


def build_model(
    name: str, *, num_classes: int, head: str = "gap", pretrained: str | os.PathLike | None = None, **kwargs
) -> nn.Module:
    """Build one of the study's networks, in training mode.

    Args:
        name: a small CPU network (``"alexnet-small"``, ``"vgg-small"``,
            ``"googlenet-small"``; see ``camlib.models.heads.small_backbone``) or a
            paper network (``"alexnet"``, ``"alexnet*"``, ``"vgg16"``,
            ``"googlenet"``, ``"resnet50"``; see ``camlib.models.surgery``).
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
        >>> import torch
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
        return build_paper_model(name, num_classes=num_classes, head=head, weights=pretrained, **kwargs).train()
    if pretrained is not None:
        raise ValueError(f"`pretrained` must be None for the small network {name!r}, but got {pretrained!r}.")
    if set(kwargs) - _SMALL_KWARGS:
        unknown = sorted(set(kwargs) - _SMALL_KWARGS)
        raise ValueError(f"Unknown keyword(s) for {name!r}: {unknown}; valid: {sorted(_SMALL_KWARGS)}.")
    resolution = kwargs.get("resolution", 8)
    trunk = small_backbone(
        name.removesuffix("-small"),
        input_size=kwargs.get("input_size", 64),
        resolution=resolution,
        channels=kwargs.get("channels", 16),
        batch_norm=kwargs.get("batch_norm", True),
    )
    # out_channels is an int (small_backbone, extra_convs); nn.Module's __getattr__ types it Tensor | Module
    if head == "fc":
        hidden, dropout = kwargs.get("hidden", 256), kwargs.get("dropout", 0.5)
        return CAMNet(
            trunk, FCHead(cast(int, trunk.out_channels), resolution, num_classes, hidden=hidden, dropout=dropout)
        )
    features = extra_convs(trunk, cast(int, trunk.out_channels), [kwargs.get("width", 128)])
    if head == "box":
        return BoxNet(features, cast(int, features.out_channels), num_classes, grid=kwargs.get("grid", 4))
    return CAMNet(features, ClassifierHead(cast(int, features.out_channels), num_classes, head))
