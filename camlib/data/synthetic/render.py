"""Rasterization for the synthetic benchmarks: frames, shapes, textures, painting.

A shape is drawn in its own *frame*: a pose ``(cx, cy, r, c, s)`` maps the
pixel ``(x, y)`` (column, row; pixel centres at integer coordinates) to local
coordinates

    u = ((x - cx) c + (y - cy) s) / r,    v = ((y - cy) c - (x - cx) s) / r,

where ``(c, s) = (cos t, sin t)`` is the rotation and ``r`` the radius of the
shape's bounding circle: every shape lies inside ``u^2 + v^2 <= 1``. A shape
is a predicate on ``(u, v)`` evaluated at pixel centres, so its mask is exact
(no anti-aliasing: a pixel belongs to the shape or it does not) and its
painted pixels are exactly its mask. Only a window around the bounding circle
is evaluated, which keeps drawing fast.

Everything here is IEEE-exact arithmetic (no sin, cos, exp or pow on arrays;
rotations come from ``random_rotation``'s rational parametrization), so the
same draw gives the same bytes on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = [
    "Frame",
    "frame",
    "rotation",
    "random_rotation",
    "SHAPES",
    "TEXTURES",
    "paint",
    "background",
]

Predicate = Callable[[np.ndarray, np.ndarray], np.ndarray]
_INDICES = np.arange(4096, dtype=np.float32)  # pixel coordinates, sliced by ``frame``


class Frame(NamedTuple):
    """Local coordinates ``u, v`` (float32, the window's shape) over ``image[rows, cols]``."""

    rows: slice
    cols: slice
    u: np.ndarray
    v: np.ndarray


def frame(size: tuple[int, int], cx: float, cy: float, r: float, c: float = 1.0, s: float = 0.0) -> Frame:
    """The frame of a shape with centre ``(cx, cy)``, radius ``r`` (pixels) and rotation ``(c, s)``.

    Example:
        >>> f = frame((8, 8), 4.0, 4.0, 2.0)
        >>> float(f.u[f.v.shape[0] // 2, -1])  # the column x = 7: (7 - 4) / 2
        1.5
    """
    H, W = size
    y0, y1 = max(math.floor(cy - r) - 1, 0), min(math.ceil(cy + r) + 2, H)
    x0, x1 = max(math.floor(cx - r) - 1, 0), min(math.ceil(cx + r) + 2, W)
    ys = (_INDICES[y0:y1] - np.float32(cy))[:, None]  # (h, 1)
    xs = _INDICES[x0:x1] - np.float32(cx)  # (w,)
    c, s = np.float32(c / r), np.float32(s / r)
    u = xs * c + ys * s  # (h, w): one full-size operation each, the rest on a row or a column
    v = ys * c - xs * s  # (h, w)
    return Frame(slice(y0, y1), slice(x0, x1), u, v)


def rotation(a: float, b: float = 0.0) -> tuple[float, float]:
    """A rotation ``(cos theta, sin theta)`` from two numbers ``a, b`` in [0, 1).

    ``t = tan(theta / 2) = 2 a - 1`` covers |theta| <= 90 degrees, and
    ``b >= 0.5`` turns it by 180 more, so uniform ``a, b`` reach every angle.
    The rational form ``((1 - t^2) / (1 + t^2), 2 t / (1 + t^2))`` needs no
    trigonometric function, whose last bit may differ between machines.

    Example:
        >>> rotation(0.5), rotation(1.0), rotation(0.5, 0.9)  # 0, 90 and 180 degrees
        ((1.0, 0.0), (0.0, 1.0), (-1.0, -0.0))
    """
    t = 2.0 * a - 1.0
    c, s = (1.0 - t * t) / (1.0 + t * t), 2.0 * t / (1.0 + t * t)
    return (-c, -s) if b >= 0.5 else (c, s)


def random_rotation(rng: np.random.Generator) -> tuple[float, float]:
    """A rotation by any angle: ``rotation`` of two uniform draws."""
    a, b = rng.random(2).tolist()
    return rotation(a, b)


# Shapes inside the unit disc, as predicates on the local coordinates (u, v).
# Constants: sqrt(3) = 1.7320508, 1 / sqrt(3) = 0.57735027.
SHAPES: dict[str, Predicate] = {
    "disc": lambda u, v: u * u + v * v <= 1.0,
    "ellipse": lambda u, v: u * u + (v * v) * 2.7777778 <= 1.0,  # semi-axes 1 and 0.6
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 0.7,
    "box": lambda u, v: (np.abs(u) <= 0.85) & (np.abs(v) <= 0.5),
    "diamond": lambda u, v: np.abs(u) * 1.0526316 + np.abs(v) * 1.5384615 <= 1.0,  # half-diagonals 0.95, 0.65
    "hexagon": lambda u, v: (np.abs(v) <= 0.8227241) & (1.7320508 * np.abs(u) + np.abs(v) <= 1.6454482),  # R = 0.95
    "triangle": lambda u, v: (v <= 0.475) & (np.abs(u) <= 0.57735027 * (v + 0.95)),  # apex up, R = 0.95
    "cross": lambda u, v: ((np.abs(u) <= 0.9) & (np.abs(v) <= 0.32)) | ((np.abs(u) <= 0.32) & (np.abs(v) <= 0.9)),
    "ring": lambda u, v: (u * u + v * v <= 1.0) & (u * u + v * v >= 0.3),
    "bar": lambda u, v: (np.abs(u) <= 0.95) & (np.abs(v) <= 0.3),
}


def _frac(x: np.ndarray) -> np.ndarray:
    return x - np.floor(x)


# Textures: a weight in {0, 1} at (u, v) that mixes a texture's two colours.
TEXTURES: dict[str, Predicate] = {
    "stripes": lambda u, v: _frac(u * 2.5) < 0.5,
    "checks": lambda u, v: (np.floor(u * 2.5) + np.floor(v * 2.5)) % 2 == 0,
    "dots": lambda u, v: (_frac(u * 3.0) - 0.5) ** 2 + (_frac(v * 3.0) - 0.5) ** 2 < 0.09,
    "zigzag": lambda u, v: _frac(v * 2.5 + np.abs(_frac(u * 2.5) - 0.5)) < 0.5,
    "grid": lambda u, v: (_frac(u * 3.0) < 0.3) | (_frac(v * 3.0) < 0.3),
}


def paint(image: np.ndarray, f: Frame, mask: np.ndarray, colour, texture: str | None = None, second=None) -> None:
    """Paint ``mask`` (the window's shape) of ``image`` (H, W, 3) in place.

    With ``texture``, pixels where the texture is 1 get ``second`` instead of ``colour``.
    """
    window = image[f.rows, f.cols]  # a view: painting it paints the image
    if texture is None:
        window[mask] = colour
        return
    pattern = TEXTURES[texture](f.u, f.v)
    window[mask & ~pattern] = colour
    window[mask & pattern] = second


def background(rng: np.random.Generator, size: tuple[int, int], *, noise: float = 0.06) -> np.ndarray:
    """A muted background (H, W, 3) float32: a gradient between two colours plus pixel noise."""
    H, W = size
    near, far = rng.uniform(0.25, 0.75, size=(2, 3, 1, 1)).astype(np.float32)
    c, s = random_rotation(rng)
    ys = _INDICES[:H, None] / np.float32(H)
    xs = _INDICES[None, :W] / np.float32(W)
    ramp = np.clip((xs - 0.5) * np.float32(c) + (ys - 0.5) * np.float32(s) + 0.5, 0.0, 1.0)  # (H, W)
    image = near + (far - near) * ramp  # (3, H, W): channels first, as numpy broadcasts it fastest
    image += (rng.random((H, W), dtype=np.float32) - 0.5) * np.float32(noise)
    return image.transpose(1, 2, 0).copy()  # (H, W, 3)
