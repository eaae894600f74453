"""camlib.data.ICDAR2015: the challenge's two layouts read from small files the tests write, and the study's copy."""

from __future__ import annotations

import pytest
import torch
from conftest import requires_data
from PIL import Image

from camlib.data import ICDAR2015, collate
from camlib.data.icdar import read_words, word_box


def _write(root, *, images="ch4_test_images", gts="Challenge4_Test_Task1_GT", bom=True, lines=None):
    """Images img_2 (12 x 10) and img_10 (6 x 4); img_2 holds a legible word with a comma and an illegible one."""
    (root / images).mkdir(parents=True)
    (root / gts).mkdir(parents=True)
    Image.new("RGB", (12, 10)).save(root / images / "img_2.jpg")
    Image.new("RGB", (6, 4)).save(root / images / "img_10.jpg")
    mark = "\ufeff" if bom else ""
    text = lines if lines is not None else "1,2,4,2,4,5,1,5,STOP, now\r\n\r\n6.5,0,11,0,11,3,6.5,3,###\r\n"
    (root / gts / "gt_img_2.txt").write_text(mark + text, encoding="utf-8")
    (root / gts / "gt_img_10.txt").write_text(mark + "0,0,2,0,2,2,0,2,A\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("bom", [True, False])
def test_the_official_layout_with_or_without_a_byte_order_mark(tmp_path, bom):
    data = ICDAR2015(_write(tmp_path, bom=bom))
    assert len(data) == 2 and data.layout == ("ch4_test_images", "Challenge4_Test_Task1_GT")
    assert [r.image_id for r in data.records] == ["img_2", "img_10"]  # numeric order, not text order
    words = data.words(0)
    assert [(w.text, w.legible) for w in words] == [("STOP, now", True), ("###", False)]
    assert words[0].quad == ((1.0, 2.0), (4.0, 2.0), (4.0, 5.0), (1.0, 5.0))
    item = data[0]
    assert item.label == 1 and item.size == (10, 12) and data.classes == ["no text", "text"]
    # the pixels the boxes touch: x 1..3, y 2..4 and x 6..10, y 0..2
    assert item.boxes.tolist() == [[1, 2, 3, 4], [6, 0, 10, 2]]
    assert collate([data[0], data[1]]).labels.tolist() == [1, 1]


def test_the_end2end_layout_and_the_train_split(tmp_path):
    _write(tmp_path, images="End2End/TestSet/Imgs", gts="End2End/TestSet/Gts")
    assert ICDAR2015(tmp_path).layout == ("End2End/TestSet/Imgs", "End2End/TestSet/Gts")
    _write(tmp_path / "full", images="ch4_training_images", gts="ch4_training_localization_transcription_gt")
    assert len(ICDAR2015(tmp_path / "full", split="train")) == 2
    with pytest.raises(FileNotFoundError, match=r"No ICDAR 2015 train split under .*ch4_training_images"):
        ICDAR2015(tmp_path, split="train")
    with pytest.raises(ValueError, match=r"`split` must be one of \['test', 'train'\], but got 'val'"):
        ICDAR2015(tmp_path, split="val")


def test_word_masks_fill_the_quadrilaterals_in_any_frame(tmp_path):
    data = ICDAR2015(_write(tmp_path))
    masks = data.word_masks(0)
    assert masks.shape == (2, 10, 12)
    expected = torch.zeros(10, 12, dtype=torch.bool)
    expected[2:5, 1:4] = True  # the pixels whose centres lie in the square (1, 2)-(4, 5)
    assert torch.equal(masks[0], expected)
    assert data.word_masks(0, legible_only=True).shape == (1, 10, 12)
    doubled = data.word_masks(0, (20, 24), legible_only=True)[0]
    expected = torch.zeros(20, 24, dtype=torch.bool)
    expected[4:10, 2:8] = True
    assert torch.equal(doubled, expected)
    # a slanted quadrilateral: a triangle-like word fills fewer pixels than its box
    tilted = ICDAR2015(_write(tmp_path / "t", lines="0,0,12,0,12,10,12,10,x\n"))  # the upper-right triangle
    m = tilted.word_masks(0)[0]
    rows, cols = torch.meshgrid(torch.arange(10), torch.arange(12), indexing="ij")
    # a pixel centre (c + 0.5, r + 0.5) is above the diagonal y = 10 x / 12 when (r + 0.5) * 12 < (c + 0.5) * 10
    assert torch.equal(m, (rows + 0.5) * 12 < (cols + 0.5) * 10)


def test_malformed_lines_and_missing_images_are_named(tmp_path):
    _write(tmp_path / "a", lines="1,2,4,2,4,5,1,5,ok\n1,2,4,2,4,5,1\n")
    with pytest.raises(ValueError, match=r"Malformed line 2 of '.*gt_img_2.txt': expected `x1,y1,.*\(7 fields\)"):
        ICDAR2015(tmp_path / "a")
    _write(tmp_path / "b", lines="1,2,4,2,four,5,1,5,ok\n")
    with pytest.raises(ValueError, match=r"Malformed line 1 of .*'four' is not a finite number"):
        ICDAR2015(tmp_path / "b")
    root = _write(tmp_path / "c")
    (root / "ch4_test_images" / "img_10.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks 1 of the 2 images .*img_10.jpg"):
        ICDAR2015(root)


def test_read_words_and_word_box():
    assert word_box(((0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0))) == (0, 0, 1, 1)
    assert word_box(((3.2, 1.0), (3.9, 1.0), (3.9, 1.5), (3.2, 1.5))) == (3, 1, 3, 1)  # inside one pixel


@pytest.mark.realdata
@requires_data("icdar2015")
def test_the_studys_copy_of_the_test_set():
    data = ICDAR2015()
    words = [w for i in range(len(data)) for w in data.words(i)]
    assert len(data) == 500 and len(words) == 5230 and sum(w.legible for w in words) == 2077
    assert data[0].size == (270, 480) and data.records[0].image_id == "img_1"
    masks = data.word_masks(0, legible_only=True)
    assert masks.shape[1:] == (270, 480) and bool(masks.flatten(1).any(1).all())  # every legible word has pixels
    assert isinstance(read_words(data.root / data.layout[1] / "gt_img_1.txt")[0].quad[0][0], float)
