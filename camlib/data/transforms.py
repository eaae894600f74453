"""Transforms that move an image's boxes with it.

The paper's localization pipeline and wsolevaluation's resize the whole image
straight to the input size (224 x 224), without cropping, so that the object
and its boxes stay in the input; ``PreprocessWithBoxes`` does that and then
normalizes the image by one of the two conventions of ``camlib.Preprocess``
(torchvision's, or Caffe's for the SqueezeNet weights in ``data/weights``).
``resize_boxes`` owns the rule that scales inclusive boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from PIL import Image
from torch import Tensor

from camlib._validate import check_size, check_tensor
from camlib.preprocess import Preprocess

__all__ = ["PreprocessWithBoxes", "clip_boxes", "resize_boxes"]


def _check_boxes(boxes: object) -> Tensor:
    boxes = check_tensor("boxes", boxes, ndim=2, dims="(m, 4)", integer=True)
    if boxes.shape[1] != 4:
        raise ValueError(f"`boxes` must be a 2-D tensor (m, 4), but got shape ({boxes.shape[0]}, {boxes.shape[1]}).")
    return boxes


def _pair(name: str, value: object) -> tuple[int, int]:
    if value is None:
        raise TypeError(f"`{name}` must be an int S or a pair (H, W) of ints, but got None.")
    return check_size(name, value)


def resize_boxes(boxes: Tensor, from_size: tuple[int, int], to_size: tuple[int, int]) -> Tensor:
    """Inclusive boxes of an image of ``from_size``, moved to the same image resized to ``to_size``.

    An inclusive box ``(x1, y1, x2, y2)`` covers the continuous region
    ``[x1, x2 + 1) x [y1, y2 + 1)`` of pixel edges. A straight resize from
    ``(H, W)`` to ``(H', W')`` scales that region exactly, by ``W'/W`` along
    x and ``H'/H`` along y; each edge then goes to the nearest pixel boundary
    (halves up), and the box keeps at least one pixel:

        x1' = floor(x1 W'/W + 1/2),   x2' = max(floor((x2 + 1) W'/W + 1/2) - 1, x1'),

    and likewise for y, computed in exact integer arithmetic, then clipped to
    the output image. Rounding the edges keeps the box's area unbiased (an
    outer cover would add half a pixel per edge on average); a box touching
    the right or bottom border still touches it (``x2 = W - 1`` gives
    ``x2' = W' - 1``), and the same size gives the same boxes. wsolevaluation
    scales the corners instead, ``int(x W'/W)``: at most one pixel away when
    the image shrinks, more when it grows.

    Args:
        boxes (LongTensor[m, 4]): ``(x1, y1, x2, y2)`` inclusive, ``x`` the column.
        from_size: ``(H, W)`` of the image the boxes refer to (an int ``S`` for ``(S, S)``).
        to_size: ``(H', W')`` of the resized image.

    Returns:
        LongTensor[m, 4]: the boxes in the resized image.

    Example:
        >>> resize_boxes(torch.tensor([[0, 0, 226, 226], [2, 10, 5, 10]]), 227, 224)
        tensor([[  0,   0, 223, 223],
                [  2,  10,   5,  10]])
        >>> resize_boxes(torch.tensor([[1, 0, 4, 1]]), (2, 8), (4, 4))  # x halved, y doubled
        tensor([[1, 0, 2, 3]])
    """
    boxes = _check_boxes(boxes).long()
    (H, W), (H2, W2) = _pair("from_size", from_size), _pair("to_size", to_size)
    scale_from = torch.tensor([W, H, W, H])
    scale_to = torch.tensor([W2, H2, W2, H2])
    edges = boxes + torch.tensor([0, 0, 1, 1])  # (m, 4) pixel edges x1, y1, x2 + 1, y2 + 1
    edges = (2 * edges * scale_to + scale_from) // (2 * scale_from)  # floor(e * to / from + 1/2)
    out = edges - torch.tensor([0, 0, 1, 1])
    out[:, 2:] = torch.maximum(out[:, 2:], out[:, :2])
    return clip_boxes(out, (H2, W2))


def clip_boxes(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Inclusive boxes clipped to an image of ``size = (H, W)``: ``0 <= x <= W - 1``, ``0 <= y <= H - 1``.

    Example:
        >>> clip_boxes(torch.tensor([[-3, 2, 12, 4]]), (5, 10))
        tensor([[0, 2, 9, 4]])
    """
    boxes = _check_boxes(boxes)
    H, W = _pair("size", size)
    upper = torch.tensor([W - 1, H - 1, W - 1, H - 1], dtype=boxes.dtype)
    return torch.minimum(boxes.clamp(min=0), upper)


@dataclass(frozen=True)
class PreprocessWithBoxes:
    """Resize an image straight to ``size`` with its boxes, and normalize it by ``convention``.

    The image goes through ``camlib.Preprocess(size, convention)`` (the same
    resize and normalization), the boxes through ``resize_boxes``.

    Args:
        size: the input size, an int ``S`` for ``(S, S)`` or ``(H, W)``.
        convention: ``"torchvision"`` or ``"caffe"`` (see ``camlib.preprocess``).

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
        return x, resize_boxes(boxes, (image.height, image.width), self.size)
