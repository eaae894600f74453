"""Tests of camlib.data.transforms: moving inclusive boxes with a resized image."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image

from camlib import Preprocess
from camlib.data import PreprocessWithBoxes, clip_boxes, resize_boxes


def boxes(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 4)


def reference_resize(box, from_size, to_size):
    """The rule of resize_boxes written out with exact fractions, one coordinate at a time."""
    (H, W), (H2, W2) = from_size, to_size
    x1, y1, x2, y2 = box

    def edge(e, new, old):  # floor(e * new / old + 1/2)
        return math.floor(Fraction(e * new, old) + Fraction(1, 2))

    nx1, ny1 = edge(x1, W2, W), edge(y1, H2, H)
    nx2, ny2 = max(edge(x2 + 1, W2, W) - 1, nx1), max(edge(y2 + 1, H2, H) - 1, ny1)
    return [min(max(v, 0), hi) for v, hi in zip((nx1, ny1, nx2, ny2), (W2 - 1, H2 - 1, W2 - 1, H2 - 1))]


def test_same_size_is_identity():
    b = boxes([0, 0, 9, 4], [3, 1, 3, 1], [2, 0, 7, 4])
    assert torch.equal(resize_boxes(b, (5, 10), (5, 10)), b)


def test_full_image_box_stays_full():
    # 227 -> 224 (the subset's size to the paper's input): x2 + 1 = 227 -> 224 -> x2' = 223.
    assert resize_boxes(boxes([0, 0, 226, 226]), 227, 224).tolist() == [[0, 0, 223, 223]]
    # Any sizes, also non-square: the border stays the border.
    assert resize_boxes(boxes([0, 0, 499, 332]), (333, 500), (224, 224)).tolist() == [[0, 0, 223, 223]]
    assert resize_boxes(boxes([0, 0, 6, 2]), (3, 7), (40, 11)).tolist() == [[0, 0, 10, 39]]


def test_hand_worked_edges():
    # (H, W) = (10, 20) -> (30, 10): x halved, y tripled.
    # x: edges [3, 9) -> [1.5, 4.5) -> rounded (halves up) 2 and 5 -> x1' = 2, x2' = 4.
    # y: edges [2, 5) -> [6, 15)                                -> y1' = 6, y2' = 14.
    assert resize_boxes(boxes([3, 2, 8, 4]), (10, 20), (30, 10)).tolist() == [[2, 6, 4, 14]]
    # 227 -> 224, scale 0.98678: edge 100 -> 98.68 -> 99; edge 151 -> 149.00 -> 149 (x2' = 148).
    assert resize_boxes(boxes([100, 100, 150, 150]), 227, 224).tolist() == [[99, 99, 148, 148]]


def test_upscale_by_two_doubles_every_pixel():
    # Pixels 1..2 (edges [1, 3)) become pixels 2..5 (edges [2, 6)).
    assert resize_boxes(boxes([1, 1, 2, 2]), 4, 8).tolist() == [[2, 2, 5, 5]]


def test_small_box_keeps_one_pixel():
    # A one-pixel box shrunk 10 times: edges [55, 56) -> [5.5, 5.6) -> 6 and 6, an empty
    # interval; the box keeps pixel 6 (x2' = max(6 - 1, 6)).
    assert resize_boxes(boxes([55, 55, 55, 55]), 100, 10).tolist() == [[6, 6, 6, 6]]
    # Last pixel of a 100-wide image shrunk 10 times: edge 99 -> 9.9 -> 10, clipped to 9.
    assert resize_boxes(boxes([99, 99, 99, 99]), 100, 10).tolist() == [[9, 9, 9, 9]]


def test_against_the_exact_reference_on_random_boxes():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        H, W, H2, W2 = (int(v) for v in torch.randint(1, 60, (4,), generator=g))
        x = torch.randint(0, W, (2,), generator=g).sort().values
        y = torch.randint(0, H, (2,), generator=g).sort().values
        box = [int(x[0]), int(y[0]), int(x[1]), int(y[1])]
        assert resize_boxes(boxes(box), (H, W), (H2, W2)).tolist() == [reference_resize(box, (H, W), (H2, W2))]


def test_empty_boxes():
    out = resize_boxes(torch.zeros(0, 4, dtype=torch.long), 10, 20)
    assert out.shape == (0, 4) and out.dtype == torch.long


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


def test_clip_boxes():
    # (H, W) = (5, 10): x in 0..9, y in 0..4.
    out = clip_boxes(boxes([-3, 2, 12, 4], [0, 0, 9, 4], [2, -1, 3, 7]), (5, 10))
    assert out.tolist() == [[0, 2, 9, 4], [0, 0, 9, 4], [2, 0, 3, 4]]


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
        (lambda: resize_boxes([[0, 0, 1, 1]], 4, 8), TypeError, r"`boxes` must be a torch.Tensor, but got list"),
        (lambda: resize_boxes(torch.zeros(2, 4), 4, 8), TypeError, r"`boxes` must have an integer dtype, but got torch.float32"),
        (lambda: resize_boxes(torch.zeros(4).long(), 4, 8), ValueError, r"`boxes` must be a 2-D tensor \(m, 4\), but got shape \(4\)"),
        (lambda: resize_boxes(torch.zeros(2, 5).long(), 4, 8), ValueError, r"must be a 2-D tensor \(m, 4\), but got shape \(2, 5\)"),
        (lambda: resize_boxes(boxes([0, 0, 1, 1]), 0, 8), ValueError, r"`from_size` must have positive sides, but got \(0, 0\)"),
        (lambda: resize_boxes(boxes(), 4, None), TypeError, r"`to_size` must be an int S or a pair \(H, W\) of ints, but got None"),
        (lambda: clip_boxes(boxes([0, 0, 1, 1]), (4, 2.5)), TypeError, r"`size` must be None, an int or a pair \(H, W\) of ints"),
        (lambda: PreprocessWithBoxes(0), ValueError, r"`size` must have positive sides, but got \(0, 0\)"),
        (lambda: PreprocessWithBoxes(224, "bgr"), ValueError, r"`convention` must be one of 'torchvision', 'caffe', but got 'bgr'"),
        (lambda: PreprocessWithBoxes(4)(torch.zeros(3, 4, 4), boxes()), TypeError, r"`image` must be a PIL.Image.Image, but got Tensor"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
