"""What every synthetic benchmark shares: seeding, argument checks, tensors out.

Every benchmark is a map-style ``torch.utils.data.Dataset`` whose item ``i``
is a pure function of ``(seed, i)``: it draws only from
``item_rng(seed, i)``, a ``numpy.random.Generator`` (PCG64) seeded by
``np.random.SeedSequence([seed, i])``, never from a global RNG. The drawing
uses only IEEE-exact arithmetic (``+ - * /``, ``sqrt``, ``floor``, comparisons)
on the pixel grid, so that an item is the same byte for byte on every machine.

Conventions shared by all items:

- ``image`` is ``Tensor[3, H, W]``, float32 in [0, 1], quantized to multiples
  of 1/255 (``(image * 255).round().byte()`` stores it losslessly).
- Boxes are ``LongTensor[m, 4]``, ``(x1, y1, x2, y2)`` inclusive pixel indices,
  ``x`` the column and ``y`` the row; a box is exactly the bounding box of its
  mask: ``mask_box``.
- Masks are bool tensors ``[H, W]`` (or ``[m, H, W]``), True on the pixels the
  object (part, word) was painted on.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = [
    "GENERATOR_VERSION",
    "Benchmark",
    "InMemory",
    "dataset_spec",
    "item_rng",
    "check_int",
    "check_number",
    "check_range",
    "check_index",
    "mask_box",
    "to_image",
]

# Bump whenever any generator's pixels or ground truth change for the same
# arguments: it is part of every dataset's spec(), hence of the cache keys of
# the models trained on it (camlib.study.training), which are then trained anew.
GENERATOR_VERSION = 1


def dataset_spec(dataset: Any) -> dict[str, Any]:
    """What identifies a synthetic dataset for caching: its class, arguments and generator version.

    Example:
        >>> from camlib.data.synthetic import Localization
        >>> Localization(8, seed=1).spec()["benchmark"]
        'Localization'
    """
    return {"benchmark": type(dataset).__name__, "arguments": repr(dataset), "generator_version": GENERATOR_VERSION}


class Benchmark(Dataset):
    """Base of the synthetic datasets: a map-style dataset with a ``spec()`` for caching."""

    def spec(self) -> dict[str, Any]:
        """The dataset's identity for caching trained models (``dataset_spec``)."""
        return dataset_spec(self)

    def in_memory(self, *, progress: bool | None = None) -> InMemory:
        """All items drawn once and kept (``InMemory``): epochs and runs then skip the drawing."""
        return InMemory(self, progress=progress)


class InMemory(Dataset):
    """A benchmark's items, drawn once and held in memory; the same items, ``spec()`` and ``len``.

    Training for several epochs, or several networks on one dataset, draws
    each image once instead of once per pass. Items are the very objects
    the benchmark returns (``InMemory(d)[i]`` equals ``d[i]``), so cached
    models trained on either are interchangeable: ``spec()`` is the source's.
    A 64-pixel ``ObjectItem`` takes about 70 kB.

    Args:
        dataset: a ``Benchmark``.
        progress: a tqdm bar while drawing; default when stderr is a terminal.

    Example:
        >>> from camlib.data.synthetic import Localization
        >>> d = Localization(4, seed=0)
        >>> m = d.in_memory()
        >>> len(m), bool(torch.equal(m[2].image, d[2].image)), m.spec() == d.spec()
        (4, True, True)
    """

    def __init__(self, dataset: Benchmark, *, progress: bool | None = None) -> None:
        import sys

        from tqdm import tqdm

        if not isinstance(dataset, Benchmark):
            raise TypeError(f"`dataset` must be a camlib synthetic benchmark, but got {type(dataset).__name__}.")
        self.source = dataset
        show = sys.stderr.isatty() if progress is None else progress
        self.items = [dataset[i] for i in tqdm(range(len(cast(Sized, dataset))), desc=f"drawing {type(dataset).__name__}",
                                                leave=False, disable=not show)]  # fmt: skip

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        return self.items[check_index(index, len(self.items))]

    def __getattr__(self, name: str) -> Any:
        if name in ("source", "items"):  # not yet set: no recursion during unpickling
            raise AttributeError(name)
        return getattr(self.source, name)  # categories, num_classes, image_size, ...

    def spec(self) -> dict[str, Any]:
        """The source's ``spec()``: the same items."""
        return self.source.spec()

    def __repr__(self) -> str:
        return f"InMemory({self.source!r})"


def item_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of item ``index`` of a dataset with ``seed``.

    Example:
        >>> int(item_rng(0, 3).integers(1000)) == int(item_rng(0, 3).integers(1000))
        True
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index])))


def check_int(name: str, value: object, *, min: int | None = None, max: int | None = None) -> int:
    """Check that ``value`` is an int (not a bool) in ``[min, max]``.

    Raises:
        TypeError: ``value`` is not an int.
        ValueError: ``value`` is out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int, but got {type(value).__name__} {value!r}.")
    if (min is not None and value < min) or (max is not None and value > max):
        lo = "" if min is None else f">= {min}"
        hi = "" if max is None else f"<= {max}"
        raise ValueError(f"`{name}` must be an int {' and '.join(s for s in (lo, hi) if s)}, but got {value}.")
    return int(value)


def check_number(name: str, value: object, *, low: float, high: float) -> float:
    """Check that ``value`` is a number (not a bool) in ``[low, high]``.

    Raises:
        TypeError: ``value`` is not a number.
        ValueError: ``value`` is out of range (or NaN).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a number, but got {type(value).__name__} {value!r}.")
    if not low <= value <= high:
        raise ValueError(f"`{name}` must be a number in [{low}, {high}], but got {value}.")
    return float(value)


def check_range(name: str, value: object, *, low: float, high: float) -> tuple[float, float]:
    """Check that ``value`` is a pair ``(a, b)`` of numbers with ``low <= a <= b <= high``.

    Raises:
        TypeError: ``value`` is not a pair of numbers.
        ValueError: the pair is out of order or out of ``[low, high]``.
    """
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise TypeError(f"`{name}` must be a pair (low, high) of numbers, but got {value!r}.")
    a, b = float(value[0]), float(value[1])
    if not (low <= a <= b <= high):
        raise ValueError(f"`{name}` must be a pair (a, b) with {low} <= a <= b <= {high}, but got {tuple(value)}.")
    return a, b


def check_index(index: object, size: int) -> int:
    """Check a dataset index; negative indices count from the end, as for a list.

    Raises:
        TypeError: ``index`` is not an int.
        IndexError: ``index`` is out of range.
    """
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"`index` must be an int, but got {type(index).__name__}.")
    if not -size <= index < size:
        raise IndexError(f"`index` must be in [{-size}, {size - 1}] for a dataset of {size} items, but got {index}.")
    return int(index) % size


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The bounding box ``(x1, y1, x2, y2)``, inclusive, of the True pixels of ``mask`` (H, W).

    Raises:
        ValueError: ``mask`` is empty: an empty mask has no box.

    Example:
        >>> m = np.zeros((4, 5), bool); m[1:3, 2:5] = True
        >>> mask_box(m)
        (2, 1, 4, 2)
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("`mask` must have at least one True pixel to have a box, but it is empty.")
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def to_image(array: np.ndarray) -> Tensor:
    """An (H, W, 3) float array in [0, 1] as ``Tensor[3, H, W]``, float32, quantized to 1/255."""
    levels = np.rint(np.clip(array, 0.0, 1.0) * np.float32(255.0)).astype(np.float32)  # (H, W, 3), 0..255
    return torch.from_numpy(np.ascontiguousarray(levels.transpose(2, 0, 1)) / np.float32(255.0))  # (3, H, W)
