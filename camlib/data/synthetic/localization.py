"""Weakly supervised localization: one object per image, with box, mask and part masks.

Each image holds one object of one of ``num_classes`` categories
(``camlib.data.synthetic.objects``: a silhouette, a texture and two or three
discriminative parts spread over the object), at a random scale, position and
rotation, with colour jitter, over a background cluttered with fragments of
*other* categories' textures and parts, so that no single local patch names
the class. The difficulty knobs:

- ``num_classes`` (3-24, default 10): more classes, more shared cues;
- ``scale`` (default ``(0.25, 0.7)``): the diameter of the object's bounding
  circle as a fraction of the image side; the object lies wholly inside;
- ``clutter`` (default 6): fragments in the background;
- ``rotate`` (default True): any rotation, else upright.

A box at the image centre rarely localizes the object:
``camlib.boxes.baselines.centre_box_accuracy`` (re-exported here under its first
name, ``center_box_accuracy``) measures how rarely.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from camlib.boxes.baselines import center_box_accuracy  # re-exported: the centred-box baseline lives there
from camlib.data.synthetic.common import Benchmark, check_index, check_int, check_range, item_rng, mask_box, to_image
from camlib.data.synthetic.objects import (
    MAX_CLASSES,
    Category,
    draw_clutter,
    draw_object,
    localization_vocabulary,
)
from camlib.data.synthetic.render import background, random_rotation

__all__ = ["ObjectItem", "Localization", "center_box_accuracy", "MIN_DIAMETER"]

MIN_DIAMETER = 12  # pixels: the smallest object whose parts still cover pixels of their own


class ObjectItem(NamedTuple):
    """One image with one object.

    Attributes:
        image (Tensor[3, H, W]): float32 in [0, 1], multiples of 1/255.
        label: the object's category, from 0.
        boxes (LongTensor[1, 4]): the bounding box of ``mask``, ``(x1, y1, x2, y2)`` inclusive.
        mask (BoolTensor[H, W]): the object's pixels.
        parts (BoolTensor[P, H, W]): its parts' pixels, in the order of
            ``dataset.categories[label].parts`` (P is 2 or 3); each inside ``mask``.
    """

    image: Tensor
    label: int
    boxes: Tensor
    mask: Tensor
    parts: Tensor


class Localization(Benchmark):
    """One object per image over a cluttered background; item ``i`` is a pure function of ``(seed, i)``.

    Args:
        size: the number of items.
        seed: any int >= 0; two datasets with different seeds share the
            categories and differ in their images (use one seed for training,
            another for testing).
        image_size: the side ``H = W`` in pixels, 32-224.
        num_classes: the number of categories ``C``, 3-24.
        scale: ``(low, high)``: the object's diameter as a fraction of the
            side, drawn uniformly, within [0.1, 1]; the smallest object must
            span ``MIN_DIAMETER`` (12) pixels.
        clutter: fragments of other categories in the background, 0-64.
        rotate: rotate objects by any angle (else upright).

    Attributes:
        categories: the ``C`` ``Category`` definitions.

    Raises:
        TypeError, ValueError: an argument of the wrong type or out of range.

    Example:
        >>> data = Localization(100, seed=0)
        >>> item = data[7]
        >>> item.image.shape, item.boxes.shape, item.mask.shape, item.parts.dtype
        (torch.Size([3, 64, 64]), torch.Size([1, 4]), torch.Size([64, 64]), torch.bool)
        >>> bool(torch.equal(item.image, data[7].image))
        True
    """

    def __init__(
        self,
        size: int,
        *,
        seed: int,
        image_size: int = 64,
        num_classes: int = 10,
        scale: tuple[float, float] = (0.25, 0.7),
        clutter: int = 6,
        rotate: bool = True,
    ) -> None:
        self.size = check_int("size", size, min=0)
        self.seed = check_int("seed", seed, min=0)
        self.image_size = check_int("image_size", image_size, min=32, max=224)
        self.num_classes = check_int("num_classes", num_classes, min=3, max=MAX_CLASSES)
        self.scale = check_range("scale", scale, low=0.1, high=1.0)
        self.clutter = check_int("clutter", clutter, min=0, max=64)
        if not isinstance(rotate, bool):
            raise TypeError(f"`rotate` must be True or False, but got {rotate!r}.")
        self.rotate = rotate
        if self.scale[0] * self.image_size < MIN_DIAMETER:
            raise ValueError(
                f"`scale` must let the smallest object span {MIN_DIAMETER} pixels or more, but got "
                f"{self.scale[0]} x {self.image_size} = {self.scale[0] * self.image_size:g} pixels; "
                f"raise scale[0] or image_size."
            )
        self.categories: tuple[Category, ...] = self.vocabulary(self.num_classes)

    vocabulary = staticmethod(localization_vocabulary)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> ObjectItem:
        index = check_index(index, self.size)
        rng = item_rng(self.seed, index)
        side = self.image_size
        label = int(rng.integers(self.num_classes))
        image = background(rng, (side, side))
        draw_clutter(image, rng, self.categories, self.clutter, exclude=(label,))
        r = 0.5 * side * rng.uniform(*self.scale)
        cx, cy = rng.uniform(r - 0.5, side - 0.5 - r, size=2)
        rotation = random_rotation(rng) if self.rotate else (1.0, 0.0)
        mask, parts = draw_object(image, self.categories[label], cx, cy, r, rotation, rng)
        return ObjectItem(
            image=to_image(image),
            label=label,
            boxes=torch.tensor([mask_box(mask)], dtype=torch.long),  # (1, 4)
            mask=torch.from_numpy(mask),
            parts=torch.from_numpy(parts),
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.size}, seed={self.seed}, image_size={self.image_size}, "
            f"num_classes={self.num_classes}, scale={self.scale}, clutter={self.clutter}, rotate={self.rotate})"
        )
