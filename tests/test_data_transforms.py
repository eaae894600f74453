"""Tests of camlib.data.transforms: boxes follow the resized image (the resize rule itself: test_box_ops)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from camlib import Preprocess
from camlib.data import PreprocessWithBoxes, resize_boxes


def boxes(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 4)


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
def test_box_follows_the_object_under_integer_upscaling(factor):
    # A white rectangle on black, resized with the image by Preprocess: along the row and
    # the column through the middle of the object, the pixels brighter than half are
    # exactly those of the resized box. (Bilinear weights the pixel just inside an edge
    # by more than 1/2 and the one just outside by less; at the corners the two weights
    # multiply, so the 2-D mask can lose a corner pixel.)
    H, W, box = 12, 16, [3, 2, 9, 6]
    pixels = np.zeros((H, W, 3), dtype=np.uint8)
    pixels[box[1] : box[3] + 1, box[0] : box[2] + 1] = 255
    size = (H * factor, W * factor)
    x = Preprocess(size, "caffe")(Image.fromarray(pixels))[2] + 123  # red channel, 0-255
    x1, y1, x2, y2 = resize_boxes(boxes(box), (H, W), size)[0].tolist()
    assert (x1, y1, x2, y2) == (3 * factor, 2 * factor, 10 * factor - 1, 7 * factor - 1)
    bright = x > 127.5
    row, col = bright[(y1 + y2) // 2], bright[:, (x1 + x2) // 2]
    assert row.nonzero().flatten().tolist() == list(range(x1, x2 + 1))
    assert col.nonzero().flatten().tolist() == list(range(y1, y2 + 1))


def test_box_follows_the_object_under_halving():
    # Edges on even pixels: each output pixel is wholly inside or outside the object.
    pixels = np.zeros((12, 16, 3), dtype=np.uint8)
    pixels[2:8, 4:14] = 255  # box (4, 2, 13, 7)
    x = Preprocess((6, 8), "caffe")(Image.fromarray(pixels))[2] + 123
    assert resize_boxes(boxes([4, 2, 13, 7]), (12, 16), (6, 8)).tolist() == [[2, 1, 6, 3]]
    mask = torch.zeros(6, 8, dtype=torch.bool)
    mask[1:4, 2:7] = True
    assert torch.equal(x > 127.5, mask)


def test_preprocess_with_boxes_matches_its_parts():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8))
    b = boxes([0, 0, 39, 29], [5, 7, 20, 8])
    for convention in ("caffe", "torchvision"):
        transform = PreprocessWithBoxes((24, 16), convention)
        x, out = transform(image, b)
        assert torch.equal(x, Preprocess((24, 16), convention)(image))
        assert torch.equal(out, resize_boxes(b, (30, 40), (24, 16)))
    assert PreprocessWithBoxes(224).size == (224, 224) and PreprocessWithBoxes(224).convention == "torchvision"
    assert PreprocessWithBoxes(7, "caffe") == PreprocessWithBoxes((7, 7), "caffe")


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: PreprocessWithBoxes(0), ValueError, r"`size` must have positive sides, but got \(0, 0\)"),
        (
            lambda: PreprocessWithBoxes(224, "bgr"),
            ValueError,
            r"`convention` must be one of 'torchvision', 'caffe', 'tf', but got 'bgr'",
        ),
        (
            lambda: PreprocessWithBoxes(4)(torch.zeros(3, 4, 4), boxes()),
            TypeError,
            r"`image` must be a PIL.Image.Image, but got Tensor",
        ),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
