"""Tests of camlib.crops: margins, crops of reader images and of tensors, random boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from camlib.crops import BoxCrops, box_coverage, crop_resize, expand_boxes, random_boxes
from camlib.data import PreprocessWithBoxes
from camlib.data.common import AnnotatedImages, Record


def test_expand_boxes_hand_worked():
    boxes = torch.tensor([[10, 10, 19, 29], [0, 0, 3, 3], [30, 30, 39, 39]])
    # 10 x 20 box, margin 0.25: 2.5 -> 3 pixels left/right (halves up), 5 pixels up/down
    # 4 x 4 box at the corner: 1 pixel, clipped at 0; 10 x 10 box at the far corner: clipped at 39
    assert expand_boxes(boxes, 0.25, 40).tolist() == [[7, 5, 22, 34], [0, 0, 4, 4], [27, 27, 39, 39]]
    assert torch.equal(expand_boxes(boxes, 0, 40), boxes)
    assert expand_boxes(torch.tensor([[5, 5, 5, 5]]), 10.0, (8, 12)).tolist() == [[0, 0, 11, 7]]


def test_expand_boxes_refuses_bad_input():
    with pytest.raises(ValueError, match=r"`margin` must be a number >= 0, but got -0.1"):
        expand_boxes(torch.tensor([[0, 0, 1, 1]]), -0.1, 4)
    with pytest.raises(TypeError, match=r"`margin` must be a number >= 0, but got True"):
        expand_boxes(torch.tensor([[0, 0, 1, 1]]), True, 4)
    with pytest.raises(ValueError, match=r"`boxes` must hold boxes with x2 >= x1 and y2 >= y1, but box 1 is \[3, 0, 2, 1\]"):
        expand_boxes(torch.tensor([[0, 0, 1, 1], [3, 0, 2, 1]]), 0.1, 4)
    with pytest.raises(TypeError, match=r"`boxes` must have an integer dtype"):
        expand_boxes(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), 0.1, 4)


@pytest.fixture
def reader(tmp_path):
    """One 40 x 20 image whose pixel (x, y) has red = x and green = y, with two boxes."""
    image = Image.new("RGB", (40, 20))
    image.putdata([(x, y, 0) for y in range(20) for x in range(40)])
    image.save(tmp_path / "a.png")
    return AnnotatedImages([Record(tmp_path / "a.png", 2, ((4, 2, 13, 11), (30, 15, 39, 19)), "a")], ["x", "y", "z"])


def test_box_crops_cut_the_right_pixels(reader):
    item = BoxCrops(reader)[0]  # the first ground-truth box, columns 4..13, rows 2..11
    pixels = torch.from_numpy(np.array(item.image))  # (H, W, 3)
    assert pixels[0, 0].tolist() == [4, 2, 0] and pixels[-1, -1].tolist() == [13, 11, 0]
    # the second box (30..39, 15..19) misses the crop: dropped; the first fills it
    assert item.boxes.tolist() == [[0, 0, 9, 9]] and item.size == (10, 10) and item.label == 2


def test_box_crops_given_boxes_in_another_frame_with_margin(reader):
    # a box in a 10 x 10 frame of the 20 x 40 image: x scaled by 4, y by 2
    crops = BoxCrops(reader, torch.tensor([[1, 1, 2, 2]]), box_size=10, margin=0.25)
    item = crops[0]
    # frame box (1, 1, 2, 2) -> columns 4..11, rows 2..5; margin 0.25 of 8 x 4 -> 2 and 1 pixels
    pixels = torch.from_numpy(np.array(item.image))  # (H, W, 3)
    assert item.size == (6, 12)
    assert pixels[0, 0].tolist() == [2, 1, 0] and pixels[-1, -1].tolist() == [13, 6, 0]
    # the first ground-truth box (4, 2, 13, 11) moved by (-2, -1) and clipped to the crop
    assert item.boxes.tolist() == [[2, 1, 11, 5]]


def test_box_crops_with_a_transform(reader):
    item = BoxCrops(reader, transform=PreprocessWithBoxes(20, "torchvision"))[0]
    assert item.image.shape == (3, 20, 20) and item.boxes.tolist() == [[0, 0, 19, 19]]


def test_box_crops_refuse_bad_input(reader):
    with pytest.raises(ValueError, match=r"`boxes` must hold one box per item \(1\), but got 2"):
        BoxCrops(reader, torch.zeros(2, 4, dtype=torch.long))
    reader.transform = PreprocessWithBoxes(8)
    with pytest.raises(TypeError, match=r"`dataset` must give PIL images .* item 0 holds a Tensor"):
        BoxCrops(reader)[0]


def test_box_crops_spec_changes_with_boxes_and_margin(reader):
    a = BoxCrops(reader).spec()
    assert a == BoxCrops(reader).spec()
    assert a != BoxCrops(reader, margin=0.1).spec()
    assert a != BoxCrops(reader, torch.tensor([[0, 0, 5, 5]])).spec()
    assert BoxCrops(reader, torch.tensor([[0, 0, 5, 5]])).spec() != BoxCrops(reader, torch.tensor([[0, 0, 5, 6]])).spec()


def test_crop_resize_identities(gen):
    images = torch.rand(3, 2, 12, 10, generator=gen)
    full = torch.tensor([[0, 0, 9, 11]] * 3)
    assert torch.allclose(crop_resize(images, full, (12, 10)), images, atol=1e-6)  # its own size: itself
    box = torch.tensor([[2, 4, 7, 9], [0, 0, 5, 5], [4, 6, 9, 11]])
    crops = crop_resize(images, box, 6)
    for i, (x1, y1, x2, y2) in enumerate(box.tolist()):
        assert torch.allclose(crops[i], images[i, :, y1 : y2 + 1, x1 : x2 + 1], atol=1e-6)
    # 2:1 shrink = the mean of 2 x 2 blocks
    half = crop_resize(images, full, (6, 5))
    assert torch.allclose(half, F.avg_pool2d(images, 2), atol=1e-6)


def test_crop_resize_with_margin_and_upsampling():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    # box (1, 1, 2, 2) with margin 0.5: one pixel each side = the whole image
    assert torch.allclose(crop_resize(x, torch.tensor([[1, 1, 2, 2]]), 4, margin=0.5), x)
    # a one-pixel box upsampled to 3 x 3: bilinear samples around pixel (1, 1) = 5
    up = crop_resize(x, torch.tensor([[1, 1, 1, 1]]), 3)[0, 0]
    assert up[1, 1].item() == pytest.approx(5.0) and up.shape == (3, 3)
    with pytest.raises(ValueError, match=r"`boxes` must hold one box per image \(1\), but got 2"):
        crop_resize(x, torch.zeros(2, 4, dtype=torch.long), 2)


def test_random_boxes_uniform_corners():
    g = torch.Generator().manual_seed(1)
    boxes = random_boxes(20000, (30, 50), generator=g)
    assert boxes.shape == (20000, 4) and boxes.dtype == torch.long
    assert (boxes[:, 0] <= boxes[:, 2]).all() and (boxes[:, 1] <= boxes[:, 3]).all()
    assert boxes[:, [0, 2]].min() >= 0 and boxes[:, [0, 2]].max() <= 49 and boxes[:, [1, 3]].max() <= 29
    # the min of two uniform draws on 0..49 has mean (49 - 0) / 3 ~ 16.3 (exactly sum_k P(min >= k) = 16.17)
    assert boxes[:, 0].double().mean().item() == pytest.approx(16.17, abs=0.3)
    again = random_boxes(20000, (30, 50), generator=torch.Generator().manual_seed(1))
    assert torch.equal(boxes, again)


def test_random_boxes_of_given_sizes():
    g = torch.Generator().manual_seed(2)
    sizes = torch.tensor([[3, 4], [10, 1]])
    boxes = random_boxes(5000, (10, 8), generator=g, sizes=sizes)
    h, w = boxes[:, 3] - boxes[:, 1] + 1, boxes[:, 2] - boxes[:, 0] + 1
    assert set(zip(h.tolist(), w.tolist())) == {(3, 4), (10, 1)}
    assert boxes[:, 2].max() == 7 and boxes[:, 3].max() == 9 and boxes[:, :2].min() == 0
    # a 3 x 4 box has 8 - 4 + 1 = 5 columns to start from, each about equally likely
    x1 = boxes[(h == 3), 0]
    counts = torch.bincount(x1, minlength=5).double() / len(x1)
    assert len(counts) == 5 and (counts - 0.2).abs().max() < 0.03


def test_random_boxes_refuse_bad_input():
    g = torch.Generator()
    with pytest.raises(ValueError, match=r"`sizes` must hold \(h, w\) with 1 <= h <= 4 and 1 <= w <= 4"):
        random_boxes(1, 4, generator=g, sizes=torch.tensor([[5, 1]]))
    with pytest.raises(TypeError, match="`generator` must be a torch.Generator, but got int"):
        random_boxes(1, 4, generator=0)
    with pytest.raises(ValueError, match=r"`n` must be an int >= 0, but got -1"):
        random_boxes(-1, 4, generator=g)
    assert random_boxes(0, 4, generator=g).shape == (0, 4)


def test_box_coverage_hand_worked_and_against_pixels(gen):
    boxes = torch.tensor([[0, 0, 9, 9], [5, 5, 14, 14], [20, 20, 21, 21], [0, 0, 0, 0]])
    gt = torch.tensor([[2, 2, 5, 5], [0, 0, 9, 9], [0, 0, 9, 9], [0, 0, 1, 1]])
    # inside: 1; a quarter of the 10 x 10 box (5 x 5 = 25 of 100); disjoint: 0; 1 of 4 pixels
    assert box_coverage(boxes, gt).tolist() == [1.0, 0.25, 0.0, 0.25]
    # the slow, obvious reference: count the pixels on masks
    a = torch.randint(0, 12, (50, 2), generator=gen).sort(dim=1).values
    b = torch.randint(0, 12, (50, 2), generator=gen).sort(dim=1).values
    r1 = torch.stack([a[:, 0], b[:, 0], a[:, 1], b[:, 1]], dim=1)
    r2 = torch.stack([b[:, 0], a[:, 0], b[:, 1], a[:, 1]], dim=1)
    fast = box_coverage(r1, r2)
    for i in range(50):
        m1, m2 = torch.zeros(12, 12, dtype=torch.bool), torch.zeros(12, 12, dtype=torch.bool)
        m1[r1[i, 1] : r1[i, 3] + 1, r1[i, 0] : r1[i, 2] + 1] = True
        m2[r2[i, 1] : r2[i, 3] + 1, r2[i, 0] : r2[i, 2] + 1] = True
        assert fast[i].item() == pytest.approx((m1 & m2).sum().item() / m2.sum().item())
    # coverage is 1 exactly when IoU's intersection is the whole ground-truth box
    assert (fast == 1).tolist() == [bool(((r1[i, :2] <= r2[i, :2]).all() and (r1[i, 2:] >= r2[i, 2:]).all())) for i in range(50)]


def test_box_coverage_refuses_mismatched_input():
    with pytest.raises(ValueError, match=r"`gt_boxes` must hold one box per box of `boxes` \(1\), but got 2"):
        box_coverage(torch.tensor([[0, 0, 1, 1]]), torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1]]))
