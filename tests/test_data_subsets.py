"""camlib.data.subsets: the first items, the first classes with a cap per class."""

from __future__ import annotations

import pytest
from torch.utils.data import Subset

from camlib.data import first_classes, first_items


def test_first_items_keeps_order_and_returns_the_dataset_when_nothing_is_dropped():
    data = list("abcde")
    assert list(first_items(data, 2)) == ["a", "b"] and isinstance(first_items(data, 2), Subset)
    assert first_items(data, 0) is data and first_items(data, 5) is data and first_items(data, 9) is data


def test_first_classes_caps_each_class_in_order():
    data, labels = list("abcdefg"), [2, 0, 0, 1, 0, 1, 2]
    # classes < 2: b, c, d, e, f; at most 2 per class: b, c (class 0), d, f (class 1)
    assert list(first_classes(data, labels, max_classes=2, max_per_class=2)) == ["b", "c", "d", "f"]
    assert list(first_classes(data, labels, max_per_class=1)) == ["a", "b", "d"]
    assert first_classes(data, labels) is data


def test_bad_limits_are_named():
    with pytest.raises(ValueError, match=r"`n` must be an int >= 0 \(0: no limit\), but got -1"):
        first_items([1], -1)
    with pytest.raises(ValueError, match="`max_per_class` must be an int >= 0"):
        first_classes([1], [0], max_per_class=1.5)
    with pytest.raises(ValueError, match=r"`labels` must hold one label per item \(2\), but holds 1"):
        first_classes([1, 2], [0])
