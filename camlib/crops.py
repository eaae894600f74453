"""Crops around boxes, and random boxes: the fine-grained pipeline of Zhou et al. (2016, Sec. 4.1).

The paper classifies birds on a crop around a box (the CAM's box, or the
ground truth) instead of the whole image, and compares the CAM's boxes with
random ones. Boxes are ``(x1, y1, x2, y2)`` inclusive pixel indices, ``x``
the column (``camlib.boxes``); an inclusive box covers the continuous region
``[x1, x2 + 1) x [y1, y2 + 1)`` of pixel edges.

- ``expand_boxes``: a margin around boxes, clipped to the image;
- ``BoxCrops``: a data set of crops of a reader's images (PIL), one box per image;
- ``crop_resize``: crops of a batch of image tensors, resized (``roi_align``);
- ``random_boxes``: the random-box baselines;
- ``box_coverage``: how much of the object a crop keeps.
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from camlib._validate import check_size, check_tensor
from camlib.data.common import Item, Transform
from camlib.data.transforms import clip_boxes, resize_boxes

__all__ = ["BoxCrops", "box_coverage", "crop_resize", "expand_boxes", "random_boxes"]


def _check_boxes(name: str, boxes: object) -> Tensor:
    check_tensor(name, boxes, ndim=2, dims="(N, 4)", integer=True)
    if boxes.shape[1] != 4:
        raise ValueError(f"`{name}` must be a 2-D tensor (N, 4), but got shape {tuple(boxes.shape)}.")
    if ((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).any():
        i = int(((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).nonzero()[0])
        raise ValueError(f"`{name}` must hold boxes with x2 >= x1 and y2 >= y1, but box {i} is {boxes[i].tolist()}.")
    return boxes


def _check_margin(margin: object) -> float:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)):
        raise TypeError(f"`margin` must be a number >= 0, but got {margin!r}.")
    if not margin >= 0:
        raise ValueError(f"`margin` must be a number >= 0, but got {margin!r}.")
    return float(margin)


def expand_boxes(boxes: Tensor, margin: float, size: int | tuple[int, int]) -> Tensor:
    """Boxes grown by ``margin`` times their own width (height) on each side, clipped to the image.

    A box ``w = x2 - x1 + 1`` pixels wide gains ``p = floor(margin * w + 1/2)``
    pixels left and right, ``x1' = max(x1 - p, 0)``, ``x2' = min(x2 + p, W - 1)``,
    and likewise along y with its height. ``margin = 0`` returns the boxes
    clipped to the image.

    Args:
        boxes: ``LongTensor[N, 4]``, inclusive pixel boxes.
        margin: a number >= 0 (0.1: a tenth of the box on every side).
        size: ``(H, W)`` of the image, or an int ``S`` for ``(S, S)``.

    Returns:
        ``LongTensor[N, 4]``.

    Example:
        >>> expand_boxes(torch.tensor([[10, 10, 19, 29], [0, 0, 3, 3]]), 0.1, 40)   # 10 x 20 box: 1 and 2 pixels
        tensor([[ 9,  8, 20, 31],
                [ 0,  0,  3,  3]])
    """
    boxes = _check_boxes("boxes", boxes).long()
    margin = _check_margin(margin)
    if size is None:
        raise TypeError("`size` must be an int S or a pair (H, W) of ints, but got None.")
    H, W = check_size("size", size)
    w = (boxes[:, 2] - boxes[:, 0] + 1).double()
    h = (boxes[:, 3] - boxes[:, 1] + 1).double()
    px, py = (margin * w + 0.5).floor().long(), (margin * h + 0.5).floor().long()
    grown = torch.stack([boxes[:, 0] - px, boxes[:, 1] - py, boxes[:, 2] + px, boxes[:, 3] + py], dim=1)
    return clip_boxes(grown, (H, W))


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
            boxes = _check_boxes("boxes", boxes).long().cpu()
            if len(boxes) != len(dataset):
                raise ValueError(f"`boxes` must hold one box per item ({len(dataset)}), but got {len(boxes)}.")
        if transform is not None and not callable(transform):
            raise TypeError(f"`transform` must be None or a callable (image, boxes), but got {type(transform).__name__}.")
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
        """The identity of the crops for a cache key (``camlib.features.fingerprint``)."""
        from camlib.features import fingerprint

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


def crop_resize(
    images: Tensor, boxes: Tensor, size: int | tuple[int, int], *, margin: float = 0.0
) -> Tensor:
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
    boxes = _check_boxes("boxes", boxes).long()
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


def random_boxes(
    n: int, size: int | tuple[int, int], *, generator: torch.Generator, sizes: Tensor | None = None
) -> Tensor:
    """``n`` random boxes in an image of ``size``: the chance baselines of localization.

    - ``sizes`` None (*uniform corners*): along each axis, two independent
      uniform draws from the pixel indices ``0 .. W - 1``, sorted, give
      ``x1 <= x2`` (likewise ``y1 <= y2``). Any box can come out; small ones
      are as likely as large ones along each axis.
    - ``sizes`` given (*random placement of a known size*): each box takes a
      row ``(h, w)`` of ``sizes`` uniformly at random (e.g. the ground-truth
      boxes of the training images) and a position drawn uniformly among
      those that keep it inside the image. It knows the typical object size
      but not where the object is.

    Args:
        n: the number of boxes, >= 0.
        size: ``(H, W)`` of the image, or an int ``S``.
        generator: a ``torch.Generator`` (the draws are a pure function of its state).
        sizes: ``LongTensor[m, 2]`` of ``(h, w)`` with ``1 <= h <= H``,
            ``1 <= w <= W``, or None.

    Returns:
        ``LongTensor[n, 4]``, inclusive pixel boxes inside the image.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> random_boxes(2, (1, 1), generator=g)                          # a one-pixel image
        tensor([[0, 0, 0, 0],
                [0, 0, 0, 0]])
        >>> random_boxes(1, (5, 8), generator=g, sizes=torch.tensor([[5, 8]]))   # the whole image
        tensor([[0, 0, 7, 4]])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"`n` must be an int >= 0, but got {n!r}.")
    if size is None:
        raise TypeError("`size` must be an int S or a pair (H, W) of ints, but got None.")
    H, W = check_size("size", size)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator, but got {type(generator).__name__}.")
    if sizes is None:
        xs = torch.randint(W, (n, 2), generator=generator).sort(dim=1).values  # (n, 2)
        ys = torch.randint(H, (n, 2), generator=generator).sort(dim=1).values
        return torch.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], dim=1)
    check_tensor("sizes", sizes, ndim=2, dims="(m, 2)", integer=True)
    if sizes.shape[1] != 2 or len(sizes) == 0:
        raise ValueError(f"`sizes` must be a non-empty tensor (m, 2) of (h, w), but got shape {tuple(sizes.shape)}.")
    h, w = sizes[:, 0].long().cpu(), sizes[:, 1].long().cpu()
    if (h < 1).any() or (w < 1).any() or (h > H).any() or (w > W).any():
        raise ValueError(f"`sizes` must hold (h, w) with 1 <= h <= {H} and 1 <= w <= {W}, but got values outside.")
    pick = torch.randint(len(sizes), (n,), generator=generator)
    h, w = h[pick], w[pick]
    # a uniform position among the W - w + 1 (H - h + 1) that fit: floor(u * count) with u in [0, 1)
    u = torch.rand(n, 2, generator=generator, dtype=torch.float64)
    x1 = (u[:, 0] * (W - w + 1)).floor().long().clamp(max=W - w)
    y1 = (u[:, 1] * (H - h + 1)).floor().long().clamp(max=H - h)
    return torch.stack([x1, y1, x1 + w - 1, y1 + h - 1], dim=1)


def box_coverage(boxes: Tensor, gt_boxes: Tensor) -> Tensor:
    """The share of each ground-truth box's pixels that lie inside its box: what a crop keeps of the object.

    ``|box ∩ gt| / |gt|`` with inclusive pixel areas (``camlib.box_iou``'s
    convention). Unlike IoU it does not penalize a box larger than the
    object: a crop that holds the whole object scores 1 however loose it is.

    Args:
        boxes: ``LongTensor[N, 4]``, one box per image.
        gt_boxes: ``LongTensor[N, 4]``, the object's box in each image.

    Returns:
        ``Tensor[N]``, float64, in [0, 1].

    Example:
        >>> box_coverage(torch.tensor([[0, 0, 9, 9], [0, 0, 4, 9]]), torch.tensor([[2, 2, 5, 5], [0, 0, 9, 9]]))
        tensor([1.0000, 0.5000], dtype=torch.float64)
    """
    boxes, gt_boxes = _check_boxes("boxes", boxes).long(), _check_boxes("gt_boxes", gt_boxes).long()
    if boxes.shape != gt_boxes.shape:
        raise ValueError(
            f"`gt_boxes` must hold one box per box of `boxes` ({len(boxes)}), but got {len(gt_boxes)}."
        )
    iw = (torch.minimum(boxes[:, 2], gt_boxes[:, 2]) - torch.maximum(boxes[:, 0], gt_boxes[:, 0]) + 1).clamp(min=0)
    ih = (torch.minimum(boxes[:, 3], gt_boxes[:, 3]) - torch.maximum(boxes[:, 1], gt_boxes[:, 1]) + 1).clamp(min=0)
    area = (gt_boxes[:, 2] - gt_boxes[:, 0] + 1) * (gt_boxes[:, 3] - gt_boxes[:, 1] + 1)
    return (iw * ih).double() / area.double()
