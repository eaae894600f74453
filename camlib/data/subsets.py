"""Smaller views of a dataset: the first images, or the first classes with a cap per class.

The chapters' ``smoke`` and ``default`` profiles score part of a dataset;
these views keep the dataset's order (so the same images come first on every
run) and return the dataset itself when nothing is dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence, Sized
from typing import cast

from torch.utils.data import Dataset, Subset

__all__ = ["first_items", "first_classes"]


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"`{name}` must be an int >= 0 (0: no limit), but got {value!r}.")
    return value


def first_items(dataset: Dataset, n: int) -> Dataset:
    """The first ``n`` items of ``dataset`` (``n = 0``, or ``n >= len``: the dataset itself).

    Example:
        >>> len(first_items(list(range(10)), 3)), first_items(list(range(4)), 0) == list(range(4))
        (3, True)
    """
    n = _check_count("n", n)
    return dataset if n == 0 or n >= len(cast(Sized, dataset)) else Subset(dataset, range(n))


def first_classes(dataset: Dataset, labels: Sequence[int], max_classes: int = 0, max_per_class: int = 0) -> Dataset:
    """The items of the classes ``< max_classes``, at most ``max_per_class`` of each, in order (0: no limit).

    Args:
        dataset: a map-style dataset.
        labels: the class of each item of ``dataset`` (e.g. a reader's ``labels``), without reading the images.
        max_classes, max_per_class: the limits, ints >= 0.

    Example:
        >>> data, labels = list("abcdef"), [0, 0, 0, 1, 1, 2]
        >>> [data[i] for i in first_classes(data, labels, max_classes=2, max_per_class=2).indices]
        ['a', 'b', 'd', 'e']
    """
    max_classes, max_per_class = _check_count("max_classes", max_classes), _check_count("max_per_class", max_per_class)
    if len(labels) != len(cast(Sized, dataset)):
        raise ValueError(
            f"`labels` must hold one label per item ({len(cast(Sized, dataset))}), but holds {len(labels)}."
        )
    keep: list[int] = []
    seen: Counter[int] = Counter()
    for i, label in enumerate(labels):
        if (max_classes == 0 or label < max_classes) and (max_per_class == 0 or seen[label] < max_per_class):
            keep.append(i)
            seen[label] += 1
    return dataset if len(keep) == len(cast(Sized, dataset)) else Subset(dataset, keep)
