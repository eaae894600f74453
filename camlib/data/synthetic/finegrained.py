"""Fine-grained recognition: categories that differ in one small part of a small object.

Every category has the same silhouette (an ellipse), the same striped texture
and the same grey ring part at its left end; they differ only in the glyph and
colour of one part at the right end (``objects.finegrained_vocabulary``).
Objects are small in the frame (default 20-35% of the side), over a
background cluttered with the other categories' discriminative parts, so
that cropping the image around the object helps (the paper's Sec. 4.1).
"""

from __future__ import annotations

from camlib.data.synthetic.localization import Localization
from camlib.data.synthetic.objects import finegrained_vocabulary

__all__ = ["FineGrained"]


class FineGrained(Localization):
    """Small objects that differ in one part; items are ``ObjectItem``s.

    ``parts[0]`` of an item is the discriminative part, ``parts[1]`` the
    shared ring. Arguments as for ``Localization``, with other defaults:
    ``num_classes=8``, ``scale=(0.2, 0.35)``, ``clutter=8``.

    Example:
        >>> data = FineGrained(10, seed=1)
        >>> item = data[0]
        >>> item.parts.shape, bool((item.parts[0] & ~item.mask).any())
        (torch.Size([2, 64, 64]), False)
    """

    def __init__(
        self,
        size: int,
        *,
        seed: int,
        image_size: int = 64,
        num_classes: int = 8,
        scale: tuple[float, float] = (0.2, 0.35),
        clutter: int = 8,
        rotate: bool = True,
    ) -> None:
        super().__init__(
            size, seed=seed, image_size=image_size, num_classes=num_classes, scale=scale, clutter=clutter, rotate=rotate
        )

    vocabulary = staticmethod(finegrained_vocabulary)
