"""Text detection: words rendered onto backgrounds, with a box and a mask per word.

Words from a fixed list are rasterized by FreeType through matplotlib's
``ft2font`` (the rasterizer of matplotlib's Agg backend; matplotlib's wheels
bundle their own FreeType, so one matplotlib wheel draws the same pixels on
every machine; a build against another FreeType may differ in a few pixels),
unhinted, with fonts that matplotlib ships (DejaVu Sans, Sans
Bold, Serif, Serif Italic, Sans Mono, STIX). Font, size, colour and rotation
vary; a word is alpha-blended onto the background with its FreeType coverage,
and its mask is every pixel of non-zero coverage, so the word's box (the
bounding box of its mask) holds all of its ink and nothing outside the boxes
differs from the background. Words never overlap.

Backgrounds are procedural (``render.background`` with clutter of the
localization categories) or, when ``backgrounds`` is given, crops of real
images. An item has no words with probability ``negatives`` (label 0), else
``num_words`` of them (label 1): the positives and negatives of the paper's
weakly supervised text detector (Sec. 4.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib
import numpy as np
import torch
from matplotlib import ft2font
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
from camlib.data.synthetic.objects import draw_clutter, localization_vocabulary
from camlib.data.synthetic.render import background

__all__ = ["TextItem", "Text", "WORDS", "FONTS"]

WORDS = (
    "cam",
    "map",
    "open",
    "cafe",
    "hotel",
    "stop",
    "exit",
    "bank",
    "park",
    "shop",
    "bar",
    "inn",
    "taxi",
    "bus",
    "sale",
    "road",
    "city",
    "gate",
    "mall",
    "food",
    "pizza",
    "books",
    "bakery",
    "market",
    "museum",
    "garden",
    "station",
    "pharmacy",
    "cinema",
    "theatre",
    "library",
    "bridge",
    "north",
    "south",
    "east",
    "west",
    "avenue",
    "street",
    "square",
    "office",
    "police",
    "school",
    "hall",
    "tower",
    "river",
    "lake",
    "farm",
    "zoo",
)
FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "STIXGeneral.ttf",
)
_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_NO_HINTING = ft2font.LoadFlags.NO_HINTING if hasattr(ft2font, "LoadFlags") else ft2font.LOAD_NO_HINTING  # type: ignore[attr-defined]  # matplotlib < 3.10's name, absent from the newer stubs
_LOADED: dict[str, ft2font.FT2Font] = {}


def _font(name: str) -> ft2font.FT2Font:
    """The FreeType face of a font file that matplotlib ships, loaded once per process."""
    if name not in _LOADED:
        path = _FONT_DIR / name
        if not path.is_file():
            raise FileNotFoundError(f"The font {path} is missing; matplotlib ships it in mpl-data/fonts/ttf.")
        # hinting_factor 1 (no horizontal oversampling): the default from matplotlib 3.11 on, where it is deprecated
        legacy = tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) < (3, 11)
        options: dict[str, Any] = {"hinting_factor": 1} if legacy else {}
        _LOADED[name] = ft2font.FT2Font(str(path), **options)
    return _LOADED[name]


def rasterize(word: str, font: str, size: float, angle: float) -> np.ndarray:
    """The ink coverage (h, w) in [0, 1], float32, of ``word`` at ``size`` pixels turned by ``angle`` degrees.

    The array is cropped to the ink: its first and last rows and columns hold some.
    """
    face = _font(font)
    face.set_size(size, 72)  # 72 dpi: one point is one pixel
    face.set_text(word, angle, flags=_NO_HINTING)
    face.draw_glyphs_to_bitmap(antialiased=True)
    coverage = np.asarray(face.get_image())
    rows, cols = np.flatnonzero(coverage.any(axis=1)), np.flatnonzero(coverage.any(axis=0))
    return coverage[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32) / 255.0


class TextItem(NamedTuple):
    """One image with its words.

    Attributes:
        image (Tensor[3, H, W]): float32 in [0, 1], multiples of 1/255.
        label: 1 if the image holds a word, else 0.
        boxes (LongTensor[m, 4]): one box per word, the bounding box of its mask; ``m`` may be 0.
        masks (BoolTensor[m, H, W]): each word's pixels of non-zero ink.
        words: the ``m`` words, in the order of ``boxes``.
    """

    image: Tensor
    label: int
    boxes: Tensor
    masks: Tensor
    words: tuple[str, ...]


class Text(Benchmark):
    """Words on backgrounds; item ``i`` is a pure function of ``(seed, i)`` (and of ``backgrounds``).

    Args:
        size: the number of items.
        seed: any int >= 0.
        image_size: the side in pixels, 32-224 (default 64).
        num_words: ``(low, high)`` words on a positive image, 1-8 (a word that
            finds no free place in 20 tries is left out).
        font_size: ``(low, high)`` the font size as a fraction of the side.
        max_angle: words are turned by up to this many degrees either way, 0-90.
        negatives: the probability that an image has no word, in [0, 1].
        clutter: fragments of localization categories on procedural backgrounds.
        backgrounds: optional real images (``Tensor[3, h, w]`` floats in [0, 1]);
            each item takes a random square crop of one, resampled to the side
            (nearest neighbour).

    Example:
        >>> item = Text(4, seed=0, negatives=0.0)[0]
        >>> item.label, len(item.words) == item.boxes.shape[0] == item.masks.shape[0]
        (1, True)
    """

    def __init__(
        self,
        size: int,
        *,
        seed: int,
        image_size: int = 64,
        num_words: tuple[int, int] = (1, 3),
        font_size: tuple[float, float] = (0.14, 0.28),
        max_angle: float = 30.0,
        negatives: float = 0.5,
        clutter: int = 4,
        backgrounds: Sequence[Tensor] | None = None,
    ) -> None:
        self.size = check_int("size", size, min=0)
        self.seed = check_int("seed", seed, min=0)
        self.image_size = check_int("image_size", image_size, min=32, max=224)
        check_range("num_words", num_words, low=1, high=8)
        self.num_words = (check_int("num_words[0]", num_words[0]), check_int("num_words[1]", num_words[1]))
        self.font_size = check_range("font_size", font_size, low=0.05, high=0.5)
        self.max_angle = check_number("max_angle", max_angle, low=0.0, high=90.0)
        self.negatives = check_number("negatives", negatives, low=0.0, high=1.0)
        self.clutter = check_int("clutter", clutter, min=0, max=64)
        for i, b in enumerate(backgrounds or ()):
            if not (isinstance(b, Tensor) and b.ndim == 3 and b.shape[0] == 3 and b.is_floating_point()):
                raise ValueError(f"`backgrounds[{i}]` must be a float Tensor[3, h, w], but got {b!r:.60}.")
        self.backgrounds = list(backgrounds) if backgrounds else None
        self.categories = localization_vocabulary(10)
        for font in FONTS:
            _font(font)

    def __len__(self) -> int:
        return self.size

    def background(self, rng: np.random.Generator) -> np.ndarray:
        """The item's background (H, W, 3), float32: a real crop or procedural."""
        side = self.image_size
        if self.backgrounds is None:
            image = background(rng, (side, side))
            draw_clutter(image, rng, self.categories, self.clutter)
            return image
        source = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
        h, w = source.shape[-2:]
        crop = min(h, w) * rng.uniform(0.5, 1.0)
        y0, x0 = rng.uniform(0, h - crop), rng.uniform(0, w - crop)
        steps = (np.arange(side) + 0.5) * (crop / side)
        rows = np.minimum((y0 + steps).astype(np.int64), h - 1)
        cols = np.minimum((x0 + steps).astype(np.int64), w - 1)
        return source.detach().float().cpu().numpy().transpose(1, 2, 0)[rows][:, cols].clip(0, 1).astype(np.float32)

    def __getitem__(self, index: int) -> TextItem:
        index = check_index(index, self.size)
        rng = item_rng(self.seed, index)
        side = self.image_size
        image = self.background(rng)
        count = 0 if rng.random() < self.negatives else int(rng.integers(self.num_words[0], self.num_words[1] + 1))
        boxes: list[tuple[int, int, int, int]] = []
        masks: list[np.ndarray] = []
        words: list[str] = []
        for _ in range(count):
            word = WORDS[int(rng.integers(len(WORDS)))]
            font = FONTS[int(rng.integers(len(FONTS)))]
            size = side * rng.uniform(*self.font_size)
            angle = self.max_angle * rng.uniform(-1.0, 1.0)
            hue = rng.random(3)
            coverage = rasterize(word, font, size, angle)  # (h, w)
            h, w = coverage.shape
            if h > side or w > side:
                continue
            for _ in range(20):
                y, x = int(rng.integers(side - h + 1)), int(rng.integers(side - w + 1))
                box = (x, y, x + w - 1, y + h - 1)
                if all(box[0] > b[2] + 1 or b[0] > box[2] + 1 or box[1] > b[3] + 1 or b[1] > box[3] + 1 for b in boxes):
                    break
            else:
                continue
            window = image[y : y + h, x : x + w]
            # contrast: a dark word on a bright ground, a light one on a dark ground
            colour = hue * 0.35 if window.mean() > 0.5 else 0.65 + 0.35 * hue
            alpha = coverage[..., None]  # (h, w, 1)
            window[:] = window * (1.0 - alpha) + colour.astype(np.float32) * alpha
            mask = np.zeros((side, side), dtype=bool)
            mask[y : y + h, x : x + w] = coverage > 0
            boxes.append(mask_box(mask))
            masks.append(mask)
            words.append(word)
        return TextItem(
            image=to_image(image),
            label=int(bool(words)),
            boxes=torch.tensor(boxes, dtype=torch.long).reshape(-1, 4),  # (m, 4)
            masks=torch.from_numpy(np.array(masks, dtype=bool).reshape(-1, side, side)),  # (m, H, W)
            words=tuple(words),
        )

    def __repr__(self) -> str:
        return (
            f"Text({self.size}, seed={self.seed}, image_size={self.image_size}, num_words={self.num_words}, "
            f"font_size={self.font_size}, max_angle={self.max_angle}, negatives={self.negatives}, "
            f"clutter={self.clutter}, backgrounds={'None' if self.backgrounds is None else len(self.backgrounds)})"
        )
