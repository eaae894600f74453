"""Object categories of the synthetic benchmarks, and how an object is drawn.

A ``Category`` is a silhouette, a two-colour texture and two or three
*parts*: small solid glyphs of one colour at fixed places of the object
(anchors in its frame, see ``camlib.data.synthetic.render``), so that the
parts lie spread over the object and turn with it.

``localization_vocabulary(C)`` builds ``C`` categories in which no single
cue names the class: class ``c`` has part types ``c`` and ``c + 1 (mod C)``
(each part type is shared by two neighbouring classes), the silhouette
``c mod 6`` (shared with the classes ``c +- 6``), the texture ``c // 2 mod 5``
(shared with a neighbour), and even classes a third part ``c + C // 2``.
The set of parts alone does identify the class, so a network that sees the
whole object can classify it; one that sees a single part cannot.

``finegrained_vocabulary(C)`` builds ``C`` categories with one silhouette,
one texture and one shared grey ring part; they differ only in one small part
(glyph and colour) at the object's right end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camlib.data.synthetic.render import SHAPES, TEXTURES, frame, paint, rotation

__all__ = [
    "Part",
    "Category",
    "PART_GLYPHS",
    "PART_COLOURS",
    "MAX_CLASSES",
    "part_type",
    "localization_vocabulary",
    "finegrained_vocabulary",
    "jitter",
    "draw_object",
    "draw_clutter",
]

PART_GLYPHS = ("disc", "square", "triangle", "diamond", "ring", "bar")
PART_COLOURS = (  # saturated, unlike textures and backgrounds
    (0.92, 0.12, 0.12),  # red
    (0.12, 0.35, 0.95),  # blue
    (0.98, 0.85, 0.10),  # yellow
    (0.97, 0.97, 0.97),  # white
)
MAX_CLASSES = len(PART_GLYPHS) * len(PART_COLOURS)  # 24 distinct part types
SILHOUETTES = ("ellipse", "box", "diamond", "hexagon", "triangle", "cross")
# Where the parts sit, in the silhouette's frame: the first two far apart.
ANCHORS = {
    "ellipse": ((-0.62, 0.0), (0.62, 0.0), (0.0, -0.3)),
    "box": ((-0.58, -0.2), (0.58, 0.2), (0.0, 0.0)),
    "diamond": ((-0.55, 0.0), (0.55, 0.0), (0.0, -0.3)),
    "hexagon": ((-0.55, 0.0), (0.55, 0.0), (0.0, -0.5)),
    "triangle": ((-0.45, 0.22), (0.45, 0.22), (0.0, -0.42)),
    "cross": ((-0.62, 0.0), (0.62, 0.0), (0.0, -0.62)),
}
TEXTURE_NAMES = tuple(TEXTURES)
TEXTURE_COLOURS = (  # muted pairs, one per texture
    ((0.55, 0.42, 0.30), (0.30, 0.22, 0.16)),
    ((0.35, 0.50, 0.38), (0.18, 0.30, 0.22)),
    ((0.45, 0.45, 0.60), (0.25, 0.25, 0.38)),
    ((0.62, 0.55, 0.40), (0.40, 0.30, 0.25)),
    ((0.40, 0.55, 0.58), (0.22, 0.32, 0.40)),
)
PART_RADIUS = 0.24  # of the object's radius


@dataclass(frozen=True)
class Part:
    """A solid glyph (a name of ``SHAPES``) of one colour at ``(u, v)`` in the object's frame."""

    glyph: str
    colour: tuple[float, float, float]
    u: float
    v: float
    radius: float = PART_RADIUS


@dataclass(frozen=True)
class Category:
    """A silhouette (a name of ``SHAPES``), a texture with two colours, and its parts."""

    silhouette: str
    texture: str
    colours: tuple[tuple[float, float, float], tuple[float, float, float]]
    parts: tuple[Part, ...]


def part_type(p: int) -> tuple[str, tuple[float, float, float]]:
    """Glyph and colour of part type ``p`` in ``[0, 24)``; no two types share both."""
    return PART_GLYPHS[p % 6], PART_COLOURS[(p // 6 + p) % 4]


def localization_vocabulary(num_classes: int) -> tuple[Category, ...]:
    """The ``num_classes`` categories of ``Localization``; see the module docstring."""
    C = num_classes
    categories = []
    for c in range(C):
        silhouette = SILHOUETTES[c % len(SILHOUETTES)]
        texture = (c // 2) % len(TEXTURE_NAMES)
        types = [c, (c + 1) % C]
        if c % 2 == 0 and (c + C // 2) % C not in types:
            types.append((c + C // 2) % C)
        parts = tuple(Part(*part_type(p), *ANCHORS[silhouette][j]) for j, p in enumerate(types))
        categories.append(Category(silhouette, TEXTURE_NAMES[texture], TEXTURE_COLOURS[texture], parts))
    return tuple(categories)


def finegrained_vocabulary(num_classes: int) -> tuple[Category, ...]:
    """The ``num_classes`` categories of ``FineGrained``; see the module docstring."""
    shared = Part("ring", (0.35, 0.35, 0.35), -0.62, 0.0)
    return tuple(
        Category("ellipse", "stripes", TEXTURE_COLOURS[0], (Part(*part_type(c), 0.62, 0.0, 0.3), shared))
        for c in range(num_classes)
    )


def jitter(colour, x, amount: float = 1.0) -> tuple[float, float, float]:
    """``colour`` times a gain in [0.8, 1.2] plus a per-channel shift in [-0.05, 0.05], clipped to [0, 1].

    ``x``: four numbers in [0, 1) that draw the gain and the three shifts;
    ``amount`` scales both (0: no jitter).

    Example:
        >>> jitter((0.5, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5))  # the middle of each range: no change
        (0.5, 0.5, 0.5)
    """
    gain = 1.0 + amount * (0.4 * x[0] - 0.2)
    return tuple(min(max(k * gain + amount * (0.1 * d - 0.05), 0.0), 1.0) for k, d in zip(colour, x[1:4]))


def draw_object(
    image: np.ndarray,
    category: Category,
    cx: float,
    cy: float,
    r: float,
    rotation: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Paint an object of ``category`` on ``image`` (H, W, 3) in place.

    Args:
        image: the canvas (H, W, 3), float32.
        category: what to draw.
        cx, cy, r: centre and radius (pixels) of the object's bounding circle.
        rotation: ``(cos, sin)`` of its rotation.
        rng: draws the colour jitter.

    Returns:
        The object's mask (H, W) and its part masks (P, H, W), bool. Each part
        mask lies inside the object mask; a part too small to cover a pixel
        centre is drawn as the one pixel under its centre (objects of 12
        pixels or more, ``localization.MIN_DIAMETER``, keep every part so).
    """
    H, W = image.shape[:2]
    c, s = rotation
    f = frame((H, W), cx, cy, r, c, s)
    inside = SHAPES[category.silhouette](f.u, f.v)
    x = rng.random(8 + 4 * len(category.parts)).tolist()
    paint(image, f, inside, jitter(category.colours[0], x[0:4]), category.texture, jitter(category.colours[1], x[4:8]))
    mask = np.zeros((H, W), dtype=bool)
    mask[f.rows, f.cols] = inside
    parts = np.zeros((len(category.parts), H, W), dtype=bool)
    for j, part in enumerate(category.parts):
        px, py = cx + r * (part.u * c - part.v * s), cy + r * (part.u * s + part.v * c)
        g = frame((H, W), px, py, r * part.radius, c, s)
        parts[j, g.rows, g.cols] = SHAPES[part.glyph](g.u, g.v) & mask[g.rows, g.cols]
        if not parts[j].any():
            parts[j, min(max(round(py), 0), H - 1), min(max(round(px), 0), W - 1)] = True
        parts[j] &= mask
        image[parts[j]] = jitter(part.colour, x[8 + 4 * j : 12 + 4 * j], 0.5)
    return mask, parts


def draw_clutter(
    image: np.ndarray,
    rng: np.random.Generator,
    categories: tuple[Category, ...],
    count: int,
    *,
    exclude: tuple[int, ...] = (),
    part_size: tuple[float, float] = (0.025, 0.08),
) -> None:
    """Paint ``count`` fragments of categories not in ``exclude`` on ``image`` in place.

    A fragment is, with equal odds, a patch (disc or square, radius 6-14% of
    the image side) of a category's texture and colours, or one of its parts
    alone (radius ``part_size`` of the side, the size of parts on objects).
    """
    H, W = image.shape[:2]
    side = min(H, W)
    others = [k for k in range(len(categories)) if k not in exclude] or list(range(len(categories)))
    for x in rng.random((count, 16)).tolist():
        category = categories[others[int(x[0] * len(others))]]
        c, s = rotation(x[1], x[2])
        cx, cy = x[3] * (W - 1), x[4] * (H - 1)
        if x[5] < 0.5:
            f = frame((H, W), cx, cy, side * (0.06 + 0.08 * x[6]), c, s)
            shape = "disc" if x[7] < 0.5 else "square"
            first, second = jitter(category.colours[0], x[8:12]), jitter(category.colours[1], x[12:16])
            paint(image, f, SHAPES[shape](f.u, f.v), first, category.texture, second)
        else:
            part = category.parts[int(x[7] * len(category.parts))]
            lo, hi = part_size
            f = frame((H, W), cx, cy, side * (lo + (hi - lo) * x[6]), c, s)
            paint(image, f, SHAPES[part.glyph](f.u, f.v), jitter(part.colour, x[8:12], 0.5))
