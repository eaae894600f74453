"""Turning images into network inputs, in the three conventions the study meets.

- ``"torchvision"``: RGB, values in ``[0, 1]``, minus the ImageNet mean
  ``(0.485, 0.456, 0.406)``, divided by the std ``(0.229, 0.224, 0.225)``;
  torchvision's pretrained weights expect it.
- ``"caffe"``: BGR channel order, values in ``[0, 255]``, minus the mean
  ``(B, G, R) = (104, 117, 123)``, no division; the Caffe models (NIN,
  SqueezeNet 1.0 of ``data/weights``) expect it.
- ``"tf"``: RGB, values in ``[0, 255]``, minus 127, divided by 128 (so in
  ``[-127/128, 1]``); Google's TensorFlow EfficientNet-Lite weights
  (``camlib.load_pretrained("efficientnet_lite0", "DEFAULT")``) expect it.

All three resize the whole image straight to the input size without cropping, as
the paper's localization pipeline and wsolevaluation do, so that a pixel
``(x, y)`` of the input maps back to the original by scaling each axis. For
classification alone, ``resize=R`` gives the usual ImageNet protocol instead:
the shorter side to ``R`` (aspect ratio kept), then the centre crop of the
input size (``Preprocess(224, resize=256)``, torchvision's ``Resize(256)`` and
``CenterCrop(224)``); boxes do not follow a crop, so the localization passes
never use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from camlib._validate import check_choice, check_size

__all__ = ["Preprocess", "CONVENTIONS"]

CONVENTIONS = ("torchvision", "caffe", "tf")

_TORCHVISION_MEAN = (0.485, 0.456, 0.406)  # RGB
_TORCHVISION_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (104.0, 117.0, 123.0)
_TF_MEAN, _TF_STD = 127.0, 128.0  # EfficientNet-Lite's MEAN_RGB and STDDEV_RGB, on 0-255


@dataclass(frozen=True)
class Preprocess:
    """Resize straight to ``size`` and normalize by ``convention``.

    Args:
        size: the input size, an int ``S`` for ``(S, S)`` or ``(H, W)``.
        convention: ``"torchvision"``, ``"caffe"`` or ``"tf"`` (see the module docstring).
        resize: None (straight to ``size``), or an int ``R >= max(size)``: the shorter side to ``R``,
            then the centre crop of ``size``.

    Example:
        >>> red = Image.new("RGB", (10, 6), (255, 0, 0))
        >>> Preprocess(4, "caffe")(red)[:, 0, 0]        # B, G, R minus (104, 117, 123)
        tensor([-104., -117.,  132.])
        >>> Preprocess(4, "tf")(red)[:, 0, 0]           # (R, G, B - 127) / 128
        tensor([ 1.0000, -0.9922, -0.9922])
        >>> Preprocess((3, 5), "torchvision")(red).shape
        torch.Size([3, 3, 5])
        >>> half = Image.fromarray(np.array([[[255, 0, 0]] * 8 + [[0, 0, 255]] * 8] * 4, dtype=np.uint8))  # 4 x 16
        >>> Preprocess(4, "tf", resize=4)(half)[0, 0].tolist()   # 4 x 16 stays; the centre 4 columns: 2 red, 2 blue
        [1.0, 1.0, -0.9921875, -0.9921875]
    """

    size: int | tuple[int, int]
    convention: str = "torchvision"
    resize: int | None = None

    def __post_init__(self) -> None:
        if self.size is None:  # check_size allows None ("no resize"), which means nothing here
            raise TypeError("`size` must be an int S or a pair (H, W) of ints, but got None.")
        object.__setattr__(self, "size", check_size("size", self.size))
        check_choice("convention", self.convention, CONVENTIONS)
        if self.resize is not None:
            side = max(cast("tuple[int, int]", self.size))
            if isinstance(self.resize, bool) or not isinstance(self.resize, int) or self.resize < side:
                raise ValueError(
                    f"`resize` must be None or an int >= the input size's longer side {side} (the shorter side "
                    f"before the centre crop), but got {self.resize!r}."
                )

    def __call__(self, image: Image.Image) -> Tensor:
        """``Tensor[3, H, W]`` float32 from a PIL image (converted to RGB)."""
        if not isinstance(image, Image.Image):
            raise TypeError(f"`image` must be a PIL.Image.Image, but got {type(image).__name__}.")
        H, W = cast("tuple[int, int]", self.size)  # __post_init__ made it (H, W)
        rgb = image.convert("RGB")
        if self.resize is None:
            rgb = rgb.resize((W, H), Image.Resampling.BILINEAR)
        else:  # torchvision's Resize(R) then CenterCrop((H, W)): the same sizes and offsets
            R, short, long = self.resize, min(rgb.size), max(rgb.size)
            w, h = (R, int(R * long / short)) if rgb.width <= rgb.height else (int(R * long / short), R)
            top, left = int(round((h - H) / 2.0)), int(round((w - W) / 2.0))
            rgb = rgb.resize((w, h), Image.Resampling.BILINEAR).crop((left, top, left + W, top + H))
        x = torch.from_numpy(np.asarray(rgb, dtype=np.float32).copy()).permute(2, 0, 1)  # (3, H, W), 0-255
        if self.convention == "caffe":
            x = x.flip(0) - torch.tensor(_CAFFE_MEAN_BGR)[:, None, None]
        elif self.convention == "tf":
            x = (x - _TF_MEAN) / _TF_STD
        else:
            mean = torch.tensor(_TORCHVISION_MEAN)[:, None, None]
            std = torch.tensor(_TORCHVISION_STD)[:, None, None]
            x = (x / 255.0 - mean) / std
        return x

    def undo(self, x: Tensor) -> Tensor:
        """The network's view for display: RGB in ``[0, 1]`` (``Tensor[..., 3, H, W]``), the inverse of the normalization.

        Example:
            >>> red = Image.new("RGB", (10, 6), (255, 0, 0))
            >>> [[round(v, 6) for v in Preprocess(4, c).undo(Preprocess(4, c)(red))[:, 0, 0].tolist()] for c in CONVENTIONS]
            [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
        """
        if not isinstance(x, Tensor) or x.ndim < 3 or x.shape[-3] != 3:
            raise ValueError(f"`x` must be an input (..., 3, H, W) of this preprocessing, but got "
                             f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}.")  # fmt: skip
        if self.convention == "caffe":
            rgb = (x + torch.tensor(_CAFFE_MEAN_BGR).to(x)[:, None, None]).flip(-3) / 255.0
        elif self.convention == "tf":
            rgb = (x * _TF_STD + _TF_MEAN) / 255.0
        else:
            mean = torch.tensor(_TORCHVISION_MEAN).to(x)[:, None, None]
            std = torch.tensor(_TORCHVISION_STD).to(x)[:, None, None]
            rgb = x * std + mean
        return rgb.clamp(0, 1)

    def batch(self, images: Sequence[Image.Image]) -> Tensor:
        """``Tensor[N, 3, H, W]`` from a sequence of PIL images."""
        if len(images) == 0:
            return torch.empty(0, 3, *cast("tuple[int, int]", self.size))  # (H, W), by __post_init__
        return torch.stack([self(im) for im in images])
