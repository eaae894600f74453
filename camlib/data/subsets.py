"""Smaller views of a dataset: the first images, or the first classes with a cap per class.

The chapters' ``smoke`` and ``default`` profiles score part of a dataset;
these views keep the dataset's order (so the same images come first on every
run) and return the dataset itself when nothing is dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence, Sized
from pathlib import Path
from typing import cast

from torch.utils.data import Dataset, Subset

__all__ = ["first_classes", "first_items", "image_path", "source_index"]


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


def source_index(dataset: Dataset, index: int) -> tuple[Dataset, int]:
    """The dataset that item ``index`` of ``dataset`` comes from, through any ``Subset``s, and its index there.

    Example:
        >>> data = list("abcdef")
        >>> view = Subset(Subset(data, [1, 3, 5]), [2, 0])
        >>> base, i = source_index(view, 0)
        >>> base is data, i, data[i]
        (True, 5, 'f')
    """
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"`index` must be an int, but got {type(index).__name__}.")
    while isinstance(dataset, Subset):
        index, dataset = int(dataset.indices[index]), dataset.dataset
    return dataset, index


def image_path(dataset: Dataset, index: int) -> Path:
    """The image file of item ``index`` of a reader of ``camlib.data`` (or of a ``Subset`` of one).

    Raises:
        TypeError: the dataset under the subsets is not a reader with ``records`` (a synthetic benchmark has no files).
    """
    base, i = source_index(dataset, index)
    records = getattr(base, "records", None)
    if records is None:
        raise TypeError(
            f"`dataset` must be a camlib.data reader (or a Subset of one) whose items are image files, but got "
            f"{type(base).__name__}."
        )
    return Path(records[i].path)
