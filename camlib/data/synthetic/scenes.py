"""Scenes: several annotated objects per image; the scene class is which categories co-occur.

The objects are the categories of ``Localization``
(``objects.localization_vocabulary``). Scene ``s`` has ``typical`` categories
of its own, ``typical[s]``; the ``common`` categories belong to no scene. An
image of scene ``s`` holds:

- two or more distinct categories of ``typical[s]`` (chosen at random),
- with probability ``distractor``, one category typical of another scene,
- one or two common categories,

each object in its own cell of a 3 x 3 grid (objects never overlap, so each
mask is the object's whole silhouette). The scene is therefore defined by
co-occurrence: no single object names it (a typical object of ``s`` can
appear in another scene as a distractor), but the rule ``scene_of`` reads
the label from the objects' categories exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from camlib.data.synthetic.common import (
    Benchmark,
    check_index,
    check_int,
    check_number,
    check_range,
    item_rng,
    mask_box,
    to_image,
)
from camlib.data.synthetic.localization import MIN_DIAMETER
from camlib.data.synthetic.objects import MAX_CLASSES, draw_clutter, draw_object, localization_vocabulary
from camlib.data.synthetic.render import background, random_rotation

__all__ = ["SceneItem", "Scenes"]


class SceneItem(NamedTuple):
    """One scene with all its objects.

    Attributes:
        image (Tensor[3, H, W]): float32 in [0, 1], multiples of 1/255.
        label: the scene class.
        boxes (LongTensor[m, 4]): one box per object, the bounding box of its mask.
        labels (LongTensor[m]): each object's category (an index of ``dataset.categories``).
        masks (BoolTensor[m, H, W]): each object's pixels.
    """

    image: Tensor
    label: int
    boxes: Tensor
    labels: Tensor
    masks: Tensor


class Scenes(Benchmark):
    """Scenes of annotated objects; item ``i`` is a pure function of ``(seed, i)``.

    Args:
        size: the number of items.
        seed: any int >= 0.
        image_size: the side in pixels, 48-224 (default 96: a 3 x 3 grid of 32-pixel cells).
        num_scenes: the number of scene classes, 2-6.
        typical: categories typical of each scene, 2-4.
        common: categories common to all scenes, 1-6; ``num_scenes * typical + common <= 24``.
        distractor: the probability of one object typical of another scene, in [0, 1].
        scale: ``(low, high)``: an object's diameter as a fraction of its cell's side;
            the smallest object must span 12 pixels.
        clutter: fragments of categories in the background, 0-64.

    Attributes:
        categories: the object categories (``num_scenes * typical + common`` of them).
        typical_of: ``typical_of[s]``, the categories typical of scene ``s``.
        common_categories: the categories common to all scenes.

    Example:
        >>> data = Scenes(10, seed=0)
        >>> item = data[0]
        >>> data.scene_of(item.labels.tolist()) == item.label
        True
    """

    def __init__(
        self,
        size: int,
        *,
        seed: int,
        image_size: int = 96,
        num_scenes: int = 4,
        typical: int = 3,
        common: int = 4,
        distractor: float = 0.3,
        scale: tuple[float, float] = (0.7, 1.0),
        clutter: int = 0,
    ) -> None:
        self.size = check_int("size", size, min=0)
        self.seed = check_int("seed", seed, min=0)
        self.image_size = check_int("image_size", image_size, min=48, max=224)
        self.num_scenes = check_int("num_scenes", num_scenes, min=2, max=6)
        self.typical = check_int("typical", typical, min=2, max=4)
        self.common = check_int("common", common, min=1, max=6)
        total = self.num_scenes * self.typical + self.common
        if total > MAX_CLASSES:
            raise ValueError(
                f"`num_scenes * typical + common` must be at most {MAX_CLASSES} categories, but got {total}."
            )
        self.distractor = check_number("distractor", distractor, low=0.0, high=1.0)
        self.scale = check_range("scale", scale, low=0.3, high=1.0)
        self.clutter = check_int("clutter", clutter, min=0, max=64)
        if self.scale[0] * self.image_size / 3 < MIN_DIAMETER:
            raise ValueError(
                f"`scale` must let the smallest object span {MIN_DIAMETER} pixels or more, but got "
                f"{self.scale[0]} x {self.image_size} / 3 = {self.scale[0] * self.image_size / 3:g} pixels; "
                f"raise scale[0] or image_size."
            )
        self.categories = localization_vocabulary(total)
        T = self.typical
        self.typical_of = tuple(tuple(range(s * T, (s + 1) * T)) for s in range(self.num_scenes))
        self.common_categories = tuple(range(self.num_scenes * T, total))

    def __len__(self) -> int:
        return self.size

    def scene_of(self, labels: Sequence[int]) -> int:
        """The scene whose typical categories occur at least twice among ``labels`` (distinct), or -1."""
        present = set(labels)
        found = [s for s, cats in enumerate(self.typical_of) if len(present & set(cats)) >= 2]
        return found[0] if len(found) == 1 else -1

    def __getitem__(self, index: int) -> SceneItem:
        index = check_index(index, self.size)
        rng = item_rng(self.seed, index)
        side = self.image_size
        label = int(rng.integers(self.num_scenes))
        typical = self.typical_of[label]
        chosen = list(rng.permutation(typical)[: int(rng.integers(2, len(typical) + 1))])
        if rng.random() < self.distractor:
            other = int(rng.choice([s for s in range(self.num_scenes) if s != label]))
            chosen.append(int(rng.choice(self.typical_of[other])))
        chosen += list(rng.permutation(self.common_categories)[: int(rng.integers(1, 3))])
        image = background(rng, (side, side))
        draw_clutter(image, rng, self.categories, self.clutter)
        cell = side / 3
        boxes, masks = [], []
        for category, k in zip(chosen, rng.permutation(9)):
            r = 0.5 * cell * rng.uniform(*self.scale)
            cx = (k % 3) * cell + r + rng.uniform(0, cell - 2 * r) - 0.5
            cy = (k // 3) * cell + r + rng.uniform(0, cell - 2 * r) - 0.5
            mask, _ = draw_object(image, self.categories[category], cx, cy, r, random_rotation(rng), rng)
            boxes.append(mask_box(mask))
            masks.append(mask)
        return SceneItem(
            image=to_image(image),
            label=label,
            boxes=torch.tensor(boxes, dtype=torch.long),  # (m, 4)
            labels=torch.tensor([int(c) for c in chosen], dtype=torch.long),  # (m,)
            masks=torch.from_numpy(np.stack(masks)),  # (m, H, W)
        )

    def __repr__(self) -> str:
        return (
            f"Scenes({self.size}, seed={self.seed}, image_size={self.image_size}, num_scenes={self.num_scenes}, "
            f"typical={self.typical}, common={self.common}, distractor={self.distractor}, scale={self.scale}, "
            f"clutter={self.clutter})"
        )
