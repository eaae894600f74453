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


def test_image_path_and_source_index_see_through_subsets(tmp_path):
    from torch.utils.data import Subset

    from camlib.data import image_path, source_index
    from camlib.data.common import AnnotatedImages

    class Reader(AnnotatedImages):  # the smallest reader: records only
        def __init__(self, paths):
            from camlib.data.common import Record

            self.records = [Record(path=p, label=0, boxes=[], image_id=p.stem) for p in paths]

    paths = [tmp_path / f"im{i}.jpg" for i in range(5)]
    reader = Reader(paths)
    view = Subset(Subset(reader, [4, 2, 0]), [1, 2])
    assert source_index(view, 0) == (reader, 2) and source_index(reader, 3) == (reader, 3)
    assert image_path(view, 1) == paths[0] and image_path(reader, 4) == paths[4]
    with pytest.raises(TypeError, match="`dataset` must be a camlib.data reader .* but got list"):
        image_path(Subset(list(range(3)), [0]), 0)
    with pytest.raises(TypeError, match="`index` must be an int, but got str"):
        source_index(reader, "0")
