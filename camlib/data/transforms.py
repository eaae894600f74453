"""Transforms that move an image's boxes with it.

The paper's localization pipeline and wsolevaluation's resize the whole image
straight to the input size (224 x 224), without cropping, so that the object
and its boxes stay in the input; ``PreprocessWithBoxes`` does that and then
normalizes the image by one of the two conventions of ``camlib.Preprocess``
(torchvision's, or Caffe's for the SqueezeNet weights in ``data/weights``).
``camlib.boxes.geometry.resize_boxes`` (re-exported here) owns the rule that scales
inclusive boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import torch  # noqa: F401 (the examples use it)
from PIL import Image
from torch import Tensor

from camlib.boxes.geometry import clip_boxes, resize_boxes
from camlib.models.preprocess import Preprocess

__all__ = ["PreprocessWithBoxes", "clip_boxes", "resize_boxes"]  # the last two re-exported from camlib.boxes.geometry


@dataclass(frozen=True)
class PreprocessWithBoxes:
    """Resize an image straight to ``size`` with its boxes, and normalize it by ``convention``.

    The image goes through ``camlib.Preprocess(size, convention)`` (the same
    resize and normalization), the boxes through ``resize_boxes``.

    Args:
        size: the input size, an int ``S`` for ``(S, S)`` or ``(H, W)``.
        convention: ``"torchvision"``, ``"caffe"`` or ``"tf"`` (see ``camlib.models.preprocess``).

    Example:
        >>> image = Image.new("RGB", (454, 227))  # PIL sizes are (W, H)
        >>> x, boxes = PreprocessWithBoxes(227, "caffe")(image, torch.tensor([[0, 0, 453, 113]]))
        >>> x.shape, boxes
        (torch.Size([3, 227, 227]), tensor([[  0,   0, 226, 113]]))
    """

    size: int | tuple[int, int]
    convention: str = "torchvision"
    preprocess: Preprocess = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        preprocess = Preprocess(self.size, self.convention)  # validates both
        object.__setattr__(self, "size", preprocess.size)
        object.__setattr__(self, "preprocess", preprocess)

    def __call__(self, image: Image.Image, boxes: Tensor) -> tuple[Tensor, Tensor]:
        """``(Tensor[3, H, W], LongTensor[m, 4])`` from a PIL image and its boxes."""
        x = self.preprocess(image)  # (3, H, W); checks the image's type
        size = cast("tuple[int, int]", self.size)  # (H, W): __post_init__ took Preprocess's
        return x, resize_boxes(boxes, (image.height, image.width), size)
