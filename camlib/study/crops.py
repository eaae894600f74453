"""Crops around boxes, and random boxes: the fine-grained pipeline of Zhou et al. (2016, Sec. 4.1).

The paper classifies birds on a crop around a box (the CAM's box, or the
ground truth) instead of the whole image, and compares the CAM's boxes with
random ones. Boxes are ``(x1, y1, x2, y2)`` inclusive pixel indices, ``x``
the column (``camlib.boxes.geometry``); an inclusive box covers the continuous region
``[x1, x2 + 1) x [y1, y2 + 1)`` of pixel edges.

- ``BoxCrops``: a data set of crops of a reader's images (PIL), one box per image;
- ``crop_resize``: crops of a batch of image tensors, resized (``roi_align``);
- re-exported: ``expand_boxes`` (a margin around boxes) and ``box_coverage``
  (how much of the object a crop keeps) from ``camlib.boxes.geometry``, and
  ``random_boxes`` (the random-box baselines) from ``camlib.boxes.baselines``.
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from camlib._validate import check_size, check_tensor
from camlib.boxes.baselines import random_boxes
from camlib.boxes.geometry import _check_margin, box_coverage, check_boxes, clip_boxes, expand_boxes, resize_boxes
from camlib.data.common import Item, Transform

# expand_boxes and box_coverage live in camlib.boxes.geometry, random_boxes in
# camlib.boxes.baselines; they are re-exported here, where the chapter found them.
__all__ = ["BoxCrops", "box_coverage", "crop_resize", "expand_boxes", "random_boxes"]


class BoxCrops(Dataset):
    """A reader's images cropped to one box each; items are ``camlib.data.Item``s.

    Item ``i`` reads item ``i`` of ``dataset`` (a ``camlib.data`` reader
    without a transform, so that its image is the PIL image of the file),
    crops the image to ``boxes[i]`` grown by ``margin`` (``expand_boxes``),
    and applies ``transform(crop, boxes)``. The boxes of the returned item are
    the image's ground-truth boxes intersected with the crop, in the crop's
    coordinates (those that miss it are dropped); ``size`` is the crop's
    ``(H, W)`` before the transform.

    Args:
        dataset: a map-style data set of ``Item``s with PIL images (e.g.
            ``camlib.data.CUB(split="test")`` or a ``Subset`` of one).
        boxes: ``LongTensor[N, 4]``, one box per item, or None for each
            item's own first ground-truth box.
        box_size: the frame ``(H, W)`` (or ``S``) that ``boxes`` refer to, e.g. the
            network's input when they come from its maps: they are moved to
            each image's own size by ``camlib.data.resize_boxes``. None: the
            boxes are in the image file's pixels.
        margin: see ``expand_boxes``.
        transform: None, or ``(image, boxes) -> (image, boxes)`` such as
            ``camlib.data.PreprocessWithBoxes(227, "caffe")``.

    Raises:
        TypeError, ValueError: a wrong argument (named in the message); on
            reading, an item whose image is not a PIL image.

    Example:
        >>> import pathlib, tempfile
        >>> from camlib.data.common import AnnotatedImages, Record
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     Image.new("RGB", (40, 20)).save(pathlib.Path(folder) / "a.png")   # 40 wide, 20 high
        ...     reader = AnnotatedImages([Record(pathlib.Path(folder) / "a.png", 3, ((4, 2, 13, 11),), "a")], ["x"] * 4)
        ...     gt_crop = BoxCrops(reader)[0]            # its ground-truth box: 10 x 10 pixels
        ...     frame_crop = BoxCrops(reader, torch.tensor([[0, 0, 9, 9]]), box_size=10)[0]   # x4, x2
        >>> gt_crop.image.size, gt_crop.boxes.tolist(), gt_crop.label, frame_crop.image.size
        ((10, 10), [[0, 0, 9, 9]], 3, (40, 20))
    """

    def __init__(
        self,
        dataset: Dataset,
        boxes: Tensor | None = None,
        *,
        box_size: int | tuple[int, int] | None = None,
        margin: float = 0.0,
        transform: Transform | None = None,
    ) -> None:
        if boxes is not None:
            boxes = check_boxes("boxes", boxes).long().cpu()
            if len(boxes) != len(dataset):
                raise ValueError(f"`boxes` must hold one box per item ({len(dataset)}), but got {len(boxes)}.")
        if transform is not None and not callable(transform):
            raise TypeError(
                f"`transform` must be None or a callable (image, boxes), but got {type(transform).__name__}."
            )
        self.dataset = dataset
        self.boxes = boxes
        self.box_size = check_size("box_size", box_size)
        self.margin = _check_margin(margin)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Item:
        item = self.dataset[index]
        image = item.image
        if not isinstance(image, Image.Image):
            raise TypeError(
                f"`dataset` must give PIL images (a camlib.data reader without a transform), "
                f"but item {index} holds a {type(image).__name__}."
            )
        size = (image.height, image.width)
        if self.boxes is None:
            if len(item.boxes) == 0:
                raise ValueError(f"Item {index} ({item.image_id}) has no ground-truth box to crop to.")
            box = item.boxes[:1].long()
        else:
            box = self.boxes[index : index + 1]
            if self.box_size is not None:
                box = resize_boxes(box, self.box_size, size)
        x1, y1, x2, y2 = expand_boxes(clip_boxes(box, size), self.margin, size)[0].tolist()
        crop = image.crop((x1, y1, x2 + 1, y2 + 1))  # PIL: exclusive right and bottom edges
        gt = item.boxes.long().reshape(-1, 4)
        keep = (gt[:, 0] <= x2) & (gt[:, 2] >= x1) & (gt[:, 1] <= y2) & (gt[:, 3] >= y1)
        gt = clip_boxes(gt[keep] - torch.tensor([x1, y1, x1, y1]), (crop.height, crop.width))
        if self.transform is not None:
            crop_image, gt = self.transform(crop, gt)
        else:
            crop_image = crop
        return Item(crop_image, item.label, gt, item.image_id, (crop.height, crop.width))

    def spec(self) -> dict[str, Any]:
        """The identity of the crops for a cache key (``camlib.study.features.fingerprint``)."""
        from camlib.study.features import fingerprint

        return {
            "crops_of": fingerprint(self.dataset),
            "boxes": "ground truth" if self.boxes is None else fingerprint(self.boxes),
            "box_size": self.box_size,
            "margin": self.margin,
            "transform": repr(self.transform),
        }

    def __repr__(self) -> str:
        which = "ground-truth boxes" if self.boxes is None else "given boxes"
        return f"BoxCrops({len(self)} images, {which}, margin={self.margin})"


def crop_resize(images: Tensor, boxes: Tensor, size: int | tuple[int, int], *, margin: float = 0.0) -> Tensor:
    """Each image cropped to its box (grown by ``margin``) and resized to ``size``.

    Uses ``torchvision.ops.roi_align`` with ``aligned=True`` on the inclusive
    box's pixel-edge region ``[x1, x2 + 1) x [y1, y2 + 1)``: each output pixel
    is the average of bilinear samples in its bin (one per input pixel when
    shrinking, so a crop resized to its own size is the crop itself, and a
    2:1 shrink averages 2 x 2 blocks).

    Args:
        images: ``Tensor[N, C, H, W]``, floating point.
        boxes: ``LongTensor[N, 4]``, one box per image, in its pixels.
        size: the output ``(S_h, S_w)``, or an int ``S``.
        margin: see ``expand_boxes``.

    Returns:
        ``Tensor[N, C, S_h, S_w]``.

    Example:
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> crop_resize(x, torch.tensor([[1, 1, 2, 2]]), 2)[0, 0]       # the 2 x 2 centre itself
        tensor([[ 5.,  6.],
                [ 9., 10.]])
        >>> crop_resize(x, torch.tensor([[0, 0, 3, 3]]), 2)[0, 0]       # 2 x 2 block means
        tensor([[ 2.5000,  4.5000],
                [10.5000, 12.5000]])
    """
    from torchvision.ops import roi_align

    check_tensor("images", images, ndim=4, dims="(N, C, H, W)", floating=True)
    boxes = check_boxes("boxes", boxes).long()
    if len(boxes) != len(images):
        raise ValueError(f"`boxes` must hold one box per image ({len(images)}), but got {len(boxes)}.")
    if size is None:
        raise TypeError("`size` must be an int S or a pair (H, W) of ints, but got None.")
    size = check_size("size", size)
    if len(images) == 0:
        return images.new_zeros((0, images.shape[1], *size))
    boxes = expand_boxes(boxes.cpu(), margin, tuple(images.shape[-2:])).to(images.device)
    rois = torch.cat([torch.arange(len(boxes), device=images.device)[:, None], boxes[:, :2], boxes[:, 2:] + 1], dim=1)
    return roi_align(images, rois.to(images.dtype), size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)
