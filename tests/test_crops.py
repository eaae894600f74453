"""Tests of camlib.study.crops: crops of reader images and of tensors (box geometry: test_box_ops, random boxes: test_baselines)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from camlib.data import PreprocessWithBoxes
from camlib.data.common import AnnotatedImages, Record
from camlib.study.crops import BoxCrops, crop_resize


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
    assert (
        BoxCrops(reader, torch.tensor([[0, 0, 5, 5]])).spec() != BoxCrops(reader, torch.tensor([[0, 0, 5, 6]])).spec()
    )


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
