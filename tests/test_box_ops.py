"""Tests of camlib.boxes.geometry: the inclusive box convention, areas, IoU, best IoU, coverage, resize, clip, expand, units."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
import torchvision

from camlib.boxes.geometry import (
    best_iou,
    box_area,
    box_coverage,
    box_intersection,
    box_iou,
    boxes_to_unit,
    check_boxes,
    check_iou_threshold,
    clip_boxes,
    expand_boxes,
    resize_boxes,
    unit_to_boxes,
)


def L(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 4)


def iou_py(a, b) -> float:
    """IoU of two inclusive boxes with Python ints."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1) * max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def random_boxes(gen, n, side=30, extent=15):
    xy = torch.randint(0, side, (n, 2), generator=gen)
    wh = torch.randint(0, extent, (n, 2), generator=gen)
    return torch.cat([xy, xy + wh], dim=1)  # (n, 4), some one-pixel boxes


# --- area, intersection, IoU ------------------------------------------------------------


def test_area_and_intersection_hand_worked():
    # 10 x 10; one pixel (x2 == x1: one column, area 1, not 0); 3 wide x 2 high
    assert box_area(L([0, 0, 9, 9], [3, 3, 3, 3], [2, 0, 4, 1])).tolist() == [100, 1, 6]
    # a 5 x 5 corner of a 10 x 10 box; adjacent boxes (x 10 vs x 9) share no pixel; one shared column of 10
    assert box_intersection(L([0, 0, 9, 9]), L([5, 5, 14, 14], [10, 0, 19, 9], [9, 0, 18, 9])).tolist() == [[25, 0, 10]]
    assert box_area(L()).shape == (0,) and box_intersection(L(), L([0, 0, 1, 1])).shape == (0, 1)


def test_box_iou_hand_worked():
    a = L([0, 0, 9, 9])  # (9 - 0 + 1) x (9 - 0 + 1) = 100 pixels
    b = L(
        [0, 0, 9, 9],  # itself: 1
        [0, 0, 4, 4],  # a quarter-size box inside: 5 x 5 = 25 pixels, IoU 25 / (100 + 25 - 25) = 0.25
        [10, 0, 19, 9],  # adjacent, no shared pixel: 0
        [9, 0, 18, 9],  # one shared column of 10 pixels: 10 / (100 + 100 - 10) = 1/19
        [5, 5, 14, 14],  # a 5 x 5 corner: 25 / (200 - 25) = 1/7
        [3, 3, 3, 3],  # one pixel inside: 1 / 100
    )
    want = torch.tensor([[1.0, 0.25, 0.0, 1 / 19, 1 / 7, 0.01]], dtype=torch.float64)
    assert torch.equal(box_iou(a, b), want)
    # One-pixel boxes: the same pixel is IoU 1, neighbours 0.
    assert box_iou(L([2, 3, 2, 3]), L([2, 3, 2, 3], [3, 3, 3, 3])).tolist() == [[1.0, 0.0]]
    assert box_iou(L([0, 0, 1, 1]), L()).shape == (1, 0) and box_iou(L(), L()).shape == (0, 0)


def test_box_iou_matches_torchvision_with_exclusive_corners(gen, device):
    # torchvision's boxes are continuous (x2 exclusive): add 1 to x2 and y2 to convert.
    boxes = random_boxes(gen, 50)
    got = box_iou(boxes[:20].to(device), boxes[20:].to(device)).cpu()
    exclusive = (boxes + torch.tensor([0, 0, 1, 1])).double()
    torch.testing.assert_close(got, torchvision.ops.box_iou(exclusive[:20], exclusive[20:]), rtol=1e-15, atol=0)
    assert got.tolist() == [[iou_py(a, b) for b in boxes[20:].tolist()] for a in boxes[:20].tolist()]
    inter = box_intersection(boxes[:20].to(device), boxes[20:].to(device)).cpu()
    area = box_area(boxes)
    assert torch.equal(got, inter.double() / (area[:20, None] + area[None, 20:] - inter).double())


# --- best IoU per image -----------------------------------------------------------------


def test_best_iou_hand_worked():
    boxes = L([0, 0, 9, 9], [0, 0, 4, 4], [0, 0, 1, 1])
    gt = [L([0, 0, 4, 4], [0, 0, 9, 9]), L([0, 0, 9, 9]), L()]  # best 1 (its own box); 0.25; no ground truth: 0
    assert best_iou(boxes, gt).tolist() == [1.0, 0.25, 0.0]
    # several boxes per image: each its own best
    assert best_iou(boxes[:2, None].expand(2, 2, 4), gt[:2]).tolist() == [[1.0, 1.0], [0.25, 0.25]]
    assert best_iou(L(), []).shape == (0,)


def test_best_iou_matches_a_loop(gen, device):
    boxes = random_boxes(gen, 40)
    counts = torch.randint(0, 4, (40,), generator=gen).tolist()
    gt = [random_boxes(gen, c) for c in counts]
    loop = torch.tensor(
        [box_iou(b[None], g).max().item() if len(g) else 0.0 for b, g in zip(boxes, gt)], dtype=torch.float64
    )
    got = best_iou(boxes.to(device), [g.to(device) for g in gt])
    assert got.device.type == torch.device(device).type and torch.equal(got.cpu(), loop)
    many = torch.stack([boxes, boxes.flip(0)], dim=1)  # (40, 2, 4)
    assert torch.equal(best_iou(many, gt)[:, 0], loop)


# --- coverage ---------------------------------------------------------------------------


def test_box_coverage_hand_worked_and_against_pixels(gen):
    boxes = L([0, 0, 9, 9], [5, 5, 14, 14], [20, 20, 21, 21], [0, 0, 0, 0])
    gt = L([2, 2, 5, 5], [0, 0, 9, 9], [0, 0, 9, 9], [0, 0, 1, 1])
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
    assert (fast == 1).tolist() == [
        bool((r1[i, :2] <= r2[i, :2]).all() and (r1[i, 2:] >= r2[i, 2:]).all()) for i in range(50)
    ]


# --- resize and clip --------------------------------------------------------------------


def reference_resize(box, from_size, to_size):
    """The rule of resize_boxes written out with exact fractions, one coordinate at a time."""
    (H, W), (H2, W2) = from_size, to_size
    x1, y1, x2, y2 = box

    def edge(e, new, old):  # floor(e * new / old + 1/2)
        return math.floor(Fraction(e * new, old) + Fraction(1, 2))

    nx1, ny1 = edge(x1, W2, W), edge(y1, H2, H)
    nx2, ny2 = max(edge(x2 + 1, W2, W) - 1, nx1), max(edge(y2 + 1, H2, H) - 1, ny1)
    return [min(max(v, 0), hi) for v, hi in zip((nx1, ny1, nx2, ny2), (W2 - 1, H2 - 1, W2 - 1, H2 - 1))]


def test_resize_same_size_is_identity():
    b = L([0, 0, 9, 4], [3, 1, 3, 1], [2, 0, 7, 4])
    assert torch.equal(resize_boxes(b, (5, 10), (5, 10)), b)


def test_resize_full_image_box_stays_full():
    # 227 -> 224 (the subset's size to the paper's input): x2 + 1 = 227 -> 224 -> x2' = 223.
    assert resize_boxes(L([0, 0, 226, 226]), 227, 224).tolist() == [[0, 0, 223, 223]]
    # Any sizes, also non-square: the border stays the border.
    assert resize_boxes(L([0, 0, 499, 332]), (333, 500), (224, 224)).tolist() == [[0, 0, 223, 223]]
    assert resize_boxes(L([0, 0, 6, 2]), (3, 7), (40, 11)).tolist() == [[0, 0, 10, 39]]


def test_resize_hand_worked_edges():
    # (H, W) = (10, 20) -> (30, 10): x halved, y tripled.
    # x: edges [3, 9) -> [1.5, 4.5) -> rounded (halves up) 2 and 5 -> x1' = 2, x2' = 4.
    # y: edges [2, 5) -> [6, 15)                                -> y1' = 6, y2' = 14.
    assert resize_boxes(L([3, 2, 8, 4]), (10, 20), (30, 10)).tolist() == [[2, 6, 4, 14]]
    # 227 -> 224, scale 0.98678: edge 100 -> 98.68 -> 99; edge 151 -> 149.00 -> 149 (x2' = 148).
    assert resize_boxes(L([100, 100, 150, 150]), 227, 224).tolist() == [[99, 99, 148, 148]]
    # Upscale by two: pixels 1..2 (edges [1, 3)) become pixels 2..5 (edges [2, 6)).
    assert resize_boxes(L([1, 1, 2, 2]), 4, 8).tolist() == [[2, 2, 5, 5]]


def test_resize_small_box_keeps_one_pixel():
    # A one-pixel box shrunk 10 times: edges [55, 56) -> [5.5, 5.6) -> 6 and 6, an empty
    # interval; the box keeps pixel 6 (x2' = max(6 - 1, 6)).
    assert resize_boxes(L([55, 55, 55, 55]), 100, 10).tolist() == [[6, 6, 6, 6]]
    # Last pixel of a 100-wide image shrunk 10 times: edge 99 -> 9.9 -> 10, clipped to 9.
    assert resize_boxes(L([99, 99, 99, 99]), 100, 10).tolist() == [[9, 9, 9, 9]]
    out = resize_boxes(torch.zeros(0, 4, dtype=torch.long), 10, 20)
    assert out.shape == (0, 4) and out.dtype == torch.long


def test_resize_against_the_exact_reference_on_random_boxes():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        H, W, H2, W2 = (int(v) for v in torch.randint(1, 60, (4,), generator=g))
        x = torch.randint(0, W, (2,), generator=g).sort().values
        y = torch.randint(0, H, (2,), generator=g).sort().values
        box = [int(x[0]), int(y[0]), int(x[1]), int(y[1])]
        assert resize_boxes(L(box), (H, W), (H2, W2)).tolist() == [reference_resize(box, (H, W), (H2, W2))]


def test_clip_boxes():
    # (H, W) = (5, 10): x in 0..9, y in 0..4.
    out = clip_boxes(L([-3, 2, 12, 4], [0, 0, 9, 4], [2, -1, 3, 7]), (5, 10))
    assert out.tolist() == [[0, 2, 9, 4], [0, 0, 9, 4], [2, 0, 3, 4]]


# --- expand -----------------------------------------------------------------------------


def test_expand_boxes_hand_worked():
    boxes = L([10, 10, 19, 29], [0, 0, 3, 3], [30, 30, 39, 39])
    # 10 x 20 box, margin 0.25: 2.5 -> 3 pixels left/right (halves up), 5 pixels up/down
    # 4 x 4 box at the corner: 1 pixel, clipped at 0; 10 x 10 box at the far corner: clipped at 39
    assert expand_boxes(boxes, 0.25, 40).tolist() == [[7, 5, 22, 34], [0, 0, 4, 4], [27, 27, 39, 39]]
    assert torch.equal(expand_boxes(boxes, 0, 40), boxes)
    assert expand_boxes(L([5, 5, 5, 5]), 10.0, (8, 12)).tolist() == [[0, 0, 11, 7]]


# --- the unit encoding ------------------------------------------------------------------


def test_box_units_round_trip():
    g = torch.Generator().manual_seed(0)
    lo = torch.randint(0, 30, (50, 2), generator=g)
    hi = lo + torch.randint(0, 20, (50, 2), generator=g)  # x2 >= x1, inside a 50 x 60 (H x W) image
    boxes = torch.cat([lo, hi], dim=1)
    unit = boxes_to_unit(boxes, (50, 60))
    # A one-pixel box (3, 4, 3, 4) in 50 x 60: edges 3/60, 4/50, 4/60, 5/50.
    expected = torch.tensor([[3 / 60, 4 / 50, 4 / 60, 5 / 50]])
    torch.testing.assert_close(boxes_to_unit(L([3, 4, 3, 4]), (50, 60)), expected)
    assert torch.equal(unit_to_boxes(unit, (50, 60)), boxes)
    # Outside the image and inverted edges are clipped to at least one pixel.
    assert unit_to_boxes(torch.tensor([[-0.5, 0.5, 2.0, 0.1]]), (10, 10)).tolist() == [[0, 5, 9, 5]]


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: box_iou(L([0, 0, 1, 1], [5, 0, 4, 3]), L([0, 0, 1, 1])),
            ValueError,
            r"`boxes1` must hold boxes \(x1, y1, x2, y2\) with x2 >= x1 and y2 >= y1, but box 1 is \[5, 0, 4, 3\]",
        ),
        # zero area in the inclusive convention (x2 = x1 - 1) is refused, not scored 0
        (lambda: box_area(L([4, 0, 3, 3])), ValueError, r"`boxes` must hold boxes .* but box 0 is \[4, 0, 3, 3\]"),
        (
            lambda: box_iou(L([0, 0, 1, 1]), torch.tensor([[0.0, 0.0, 1.0, 1.0]])),
            TypeError,
            r"`boxes2` must have an integer dtype, but got torch.float32",
        ),
        (
            lambda: box_iou(torch.zeros(2, 3, dtype=torch.long), L([0, 0, 1, 1])),
            ValueError,
            r"`boxes1` must be a 2-D tensor \(N, 4\), but got shape \(2, 3\)",
        ),
        (
            lambda: box_iou(L([0, 0, 1, 1]), L([0, 0, 1, 1]).to("meta")),
            ValueError,
            r"`boxes2` must be on the device of `boxes1` \(cpu\), but is on meta",
        ),
        (lambda: box_intersection([[0, 0, 1, 1]], L()), TypeError, r"`boxes1` must be a torch.Tensor, but got list"),
        (
            lambda: best_iou(L([0, 0, 1, 1]), L([0, 0, 1, 1])),
            TypeError,
            r"`gt_boxes` must be a list of N tensors LongTensor\[m_i, 4\], but got Tensor",
        ),
        (
            lambda: best_iou(L([0, 0, 1, 1]), [L(), L()]),
            ValueError,
            r"`gt_boxes` must hold one LongTensor\[m_i, 4\] per image \(1\), but got 2",
        ),
        (
            lambda: best_iou(L([0, 0, 1, 1]), [L([0, 3, 2, 2])]),
            ValueError,
            r"`gt_boxes\[0\]` must hold boxes .* but box 0 is",
        ),
        (
            lambda: best_iou(L([0, 0, 1, 1])[0], [L()]),
            ValueError,
            r"`boxes` must be a tensor \(N, 4\) or \(N, P, 4\), but got shape \(4\)",
        ),
        (
            lambda: best_iou(torch.tensor([[[0, 0, 1, 1], [3, 0, 2, 1]]]), [L()]),
            ValueError,
            r"`boxes` must hold boxes .* but box \(0, 1\) is \[3, 0, 2, 1\]",
        ),
        (
            lambda: box_coverage(L([0, 0, 1, 1]), L([0, 0, 1, 1], [0, 0, 1, 1])),
            ValueError,
            r"`gt_boxes` must hold one box per box of `boxes` \(1\), but got 2",
        ),
        (lambda: resize_boxes([[0, 0, 1, 1]], 4, 8), TypeError, r"`boxes` must be a torch.Tensor, but got list"),
        (
            lambda: resize_boxes(torch.zeros(2, 4), 4, 8),
            TypeError,
            r"`boxes` must have an integer dtype, but got torch.float32",
        ),
        (
            lambda: resize_boxes(torch.zeros(4).long(), 4, 8),
            ValueError,
            r"`boxes` must be a 2-D tensor \(m, 4\), but got shape \(4\)",
        ),
        (
            lambda: resize_boxes(torch.zeros(2, 5).long(), 4, 8),
            ValueError,
            r"must be a 2-D tensor \(m, 4\), but got shape \(2, 5\)",
        ),
        (
            lambda: resize_boxes(L([0, 0, 1, 1]), 0, 8),
            ValueError,
            r"`from_size` must have positive sides, but got \(0, 0\)",
        ),
        (
            lambda: resize_boxes(L(), 4, None),
            TypeError,
            r"`to_size` must be an int S or a pair \(H, W\) of ints, but got None",
        ),
        (
            lambda: clip_boxes(L([0, 0, 1, 1]), (4, 2.5)),
            TypeError,
            r"`size` must be None, an int or a pair \(H, W\) of ints",
        ),
        (lambda: expand_boxes(L([0, 0, 1, 1]), -0.1, 4), ValueError, r"`margin` must be a number >= 0, but got -0.1"),
        (lambda: expand_boxes(L([0, 0, 1, 1]), True, 4), TypeError, r"`margin` must be a number >= 0, but got True"),
        (
            lambda: expand_boxes(L([0, 0, 1, 1], [3, 0, 2, 1]), 0.1, 4),
            ValueError,
            r"`boxes` must hold boxes \(x1, y1, x2, y2\) with x2 >= x1 and y2 >= y1, but box 1 is \[3, 0, 2, 1\]",
        ),
        (
            lambda: expand_boxes(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), 0.1, 4),
            TypeError,
            r"`boxes` must have an integer dtype",
        ),
        (
            lambda: boxes_to_unit(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), 4),
            TypeError,
            r"`boxes` must have an integer dtype",
        ),
        (
            lambda: unit_to_boxes(L([0, 0, 1, 1]), 4),
            TypeError,
            r"`unit` must have a floating-point dtype, but got torch.int64",
        ),
        (
            lambda: unit_to_boxes(torch.zeros(2, 3), 4),
            ValueError,
            r"`unit` must be a 2-D tensor \(N, 4\), but got shape \(2, 3\)",
        ),
        (
            lambda: check_boxes("boxes", torch.zeros(2, 2, 3, dtype=torch.long), dims="(N, k, 4)", ndim=None),
            ValueError,
            r"`boxes` must have shape \(N, k, 4\) with a last dimension of 4, but got shape \(2, 2, 3\)",
        ),
        (
            lambda: check_iou_threshold("iou_threshold", 0),
            ValueError,
            r"`iou_threshold` must be in \(0, 1\], but got 0",
        ),
        (
            lambda: check_iou_threshold("iou_threshold", True),
            TypeError,
            r"`iou_threshold` must be a real number in \(0, 1\]",
        ),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_inverted_corners_pass_where_unordered_boxes_are_allowed():
    # resize_boxes and clip_boxes accept any corners (as before): the result keeps x2' >= x1'.
    assert resize_boxes(L([5, 0, 4, 3]), 10, 10).tolist() == [[5, 0, 5, 3]]
    assert clip_boxes(L([5, 0, 4, 3]), 10).tolist() == [[5, 0, 4, 3]]
