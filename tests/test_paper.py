"""camlib.book.paper: the paper's numbers, as its tables print them, with their references."""

from __future__ import annotations

import pytest

from camlib.book import paper


def test_every_table_of_the_paper_is_there_with_its_rows():
    assert set(paper.TABLES) == {"table1", "table2", "table3", "table4", "sec4.1", "choe2020", "networks"}
    assert len(paper.rows("table1")) == 9 and len(paper.rows("table2")) == 10 and len(paper.rows("table3")) == 6
    assert paper.rows("table4") == ["full image", "CAM crop", "GT box crop"]


@pytest.mark.parametrize(
    ("table", "row", "metric", "expected"),
    [
        ("table1", "GoogLeNet-GAP", "cls_top1_err", 35.0),
        ("table1", "GoogLeNet-GMP", "cls_top1_err", 35.6),
        ("table1", "AlexNet", "cls_top1_err", 42.6),
        ("table1", "NIN", "cls_top5_err", 19.6),
        ("table2", "GoogLeNet-GMP", "loc_top1_err", 57.78),
        ("table2", "Backprop on GoogLeNet", "loc_top5_err", 50.55),
        ("table3", "AlexNet", "loc_top5_err", 34.2),
        ("table4", "CAM crop", "accuracy", 67.8),
        ("sec4.1", "random box", "loc_acc_iou50", 5.5),
        ("choe2020", "CUB InceptionV3", "maxboxaccv2", 56.7),
    ],
)
def test_values_as_printed(table, row, metric, expected):
    assert paper.value(table, row, metric) == expected
    n = paper.get(table, row, metric)
    assert float(n) == expected and (n.table, n.row, n.metric) == (table, row, metric)


def test_sources_name_the_table_and_supervision():
    assert paper.get("table3", "AlexNet", "loc_top5_err").source.endswith("full supervision)")
    assert paper.get("table3", "Backprop", "loc_top5_err").source.endswith("weak supervision)")
    assert "Table 1" in paper.get("table1", "NIN", "cls_top1_err").source


def test_differences_the_chapters_compare():
    # Table 1: GAP's cost on AlexNet, 51.1 - 42.6 = 8.5 points; Table 3: weak 37.1 vs full 34.2, 2.9 points
    assert paper.difference("table1", ("AlexNet-GAP", "AlexNet"), "cls_top1_err") == pytest.approx(8.5)
    assert paper.difference("table3", ("GoogLeNet-GAP (heuristics)", "AlexNet"), "loc_top5_err") == pytest.approx(2.9)


def test_unknown_keys_say_what_exists():
    with pytest.raises(KeyError, match=r"`table` must be one of .*'table1'.*but got 'table9'"):
        paper.get("table9", "NIN", "cls_top1_err")
    with pytest.raises(KeyError, match=r"`row` must be one of .*for table1, but got 'ResNet'"):
        paper.value("table1", "ResNet", "cls_top1_err")
    with pytest.raises(KeyError, match=r"`metric` must be one of \['cls_top1_err', 'cls_top5_err'\]"):
        paper.value("table1", "NIN", "loc_top1_err")
    with pytest.raises(KeyError, match="`table` must be one of"):
        paper.rows("table0")


def test_numbers_are_frozen():
    n = paper.get("table1", "NIN", "cls_top1_err")
    with pytest.raises(AttributeError, match="cannot assign"):
        n.value = 0.0


def test_numbers_print_as_the_paper_prints_them():
    assert str(paper.get("table2", "GoogLeNet-GAP", "loc_top5_err")) == "43.00"
    assert str(paper.get("table4", "full image", "accuracy")) == "63.0"
    assert f"{paper.get('table1', 'NIN', 'cls_top1_err')}" == "41.9"
