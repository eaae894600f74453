"""Tests of camlib.boxes.baselines: the centred box, its best size, random boxes and their accuracy."""

from __future__ import annotations

import pytest
import torch

from camlib import gt_known_accuracy
from camlib.boxes.baselines import (
    CENTRE_FRACTIONS,
    best_centre_box_size,
    center_box_accuracy,
    centre_box,
    centre_box_accuracy,
    random_box_accuracy,
    random_boxes,
)
from camlib.boxes.geometry import box_iou


def L(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 4)


def some_boxes(gen, n, side=64):
    """``n`` random boxes inside a ``side`` x ``side`` image."""
    xs = torch.randint(side, (n, 2), generator=gen).sort(dim=1).values
    ys = torch.randint(side, (n, 2), generator=gen).sort(dim=1).values
    return torch.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], dim=1)


def old_center_box_accuracy(boxes, image_size, fraction=None):
    """center_box_accuracy as it was in camlib.data.synthetic.localization, the reference for its numbers."""
    H, W = image_size
    b = boxes.double()
    if fraction is None:
        w, h = (b[:, 2] - b[:, 0] + 1).mean().item(), (b[:, 3] - b[:, 1] + 1).mean().item()
    else:
        w, h = fraction * W, fraction * H
    x1, y1 = round((W - w) / 2), round((H - h) / 2)
    center = (x1, y1, x1 + round(w) - 1, y1 + round(h) - 1)
    return (box_iou(torch.tensor([center]), boxes) >= 0.5).double().mean().item()


# --- the centred box --------------------------------------------------------------------


def test_centre_box_hand_worked():
    assert centre_box(64, (32, 32)).tolist() == [16, 16, 47, 47]  # (64 - 32) / 2 = 16
    # (20 - 5) / 2 = 7.5 rounds to 8 (halves to even), (10 - 4) / 2 = 3; x2 = 8 + 5 - 1, y2 = 3 + 4 - 1
    assert centre_box((10, 20), (4, 5)).tolist() == [8, 3, 12, 6]
    assert centre_box((5, 8), (5, 8)).tolist() == [0, 0, 7, 4]  # the whole image
    assert centre_box((1, 1), (1, 1)).tolist() == [0, 0, 0, 0]  # a one-pixel image
    # a mean size 31.5 x 32.4: x1 = round((64 - 32.4) / 2) = round(15.8) = 16, width round(32.4) = 32;
    # y1 = round(16.25) = 16, height round(31.5) = 32 (halves to even)
    assert centre_box(64, (31.5, 32.4)).tolist() == [16, 16, 47, 47]


def test_centre_box_lies_inside_the_image_for_any_size():
    for W in range(1, 40):
        for w in torch.linspace(1, W, 37).tolist():
            x1, _, x2, _ = centre_box((1, W), (1, w)).tolist()
            assert 0 <= x1 <= x2 <= W - 1 and x2 - x1 + 1 == round(w)


def test_centre_box_accuracy_hand_worked():
    # a 32 x 32 box at the centre of a 64 x 64 image: the centred box of the mean size is itself, IoU 1
    assert centre_box_accuracy(L([16, 16, 47, 47]), (64, 64)) == 1.0
    # a 16 x 16 box in the corner: the centred half-side box [16, 47] misses it
    assert centre_box_accuracy(L([0, 0, 15, 15]), 64, box_size=(32, 32)) == 0.0
    # the whole image against a centred 32 x 32 box: IoU 1024 / 4096 = 0.25, a hit at 0.25 only
    assert centre_box_accuracy(L([0, 0, 63, 63]), 64, box_size=(32, 32)) == 0.0
    assert centre_box_accuracy(L([0, 0, 63, 63]), 64, box_size=(32, 32), iou_threshold=0.25) == 1.0
    # several boxes per image: one hit is enough; an image without a box never hits
    gt = [L([0, 0, 15, 15], [16, 16, 47, 47]), L([0, 0, 15, 15]), L()]
    assert centre_box_accuracy(gt, 64, box_size=(32, 32)) == pytest.approx(1 / 3)
    # the default size is the mean of all the boxes: (16 + 32 + 16) / 3 = 21.3, a 21 x 21 box at
    # x1 = round(21.3) = 21, inside the 32 x 32 box: IoU 21^2 / 32^2 = 0.43, a miss
    assert centre_box_accuracy(gt, 64) == 0.0


def test_centre_box_accuracy_keeps_the_numbers_of_center_box_accuracy(gen):
    boxes = some_boxes(gen, 300)
    for fraction in (None, 0.25, 0.5, 0.7, 1.0):
        want = old_center_box_accuracy(boxes, (64, 64), fraction)
        assert center_box_accuracy(boxes, (64, 64), fraction=fraction) == want
    want = old_center_box_accuracy(boxes, (64, 64))
    assert centre_box_accuracy(boxes, (64, 64)) == want == centre_box_accuracy([b[None] for b in boxes], 64)
    assert want > 0  # the reference is not trivially 0


def test_centre_box_accuracy_against_a_loop(gen):
    gt = [some_boxes(gen, int(c)) for c in torch.randint(0, 4, (60,), generator=gen)]
    box = centre_box((64, 64), (30, 40))
    hits = [len(g) > 0 and box_iou(box[None], g).max().item() >= 0.4 for g in gt]
    assert centre_box_accuracy(gt, 64, box_size=(30, 40), iou_threshold=0.4) == sum(hits) / len(gt)


# --- the best centred box size ----------------------------------------------------------


def test_best_centre_box_size_hand_worked():
    # three centred 50 x 50 boxes and one in a corner: 50 x 50 hits three of four with IoU 1
    # (40 x 40, IoU 0.64, also hits three; the mean IoU breaks the tie)
    gt = L(*[[25, 25, 74, 74]] * 3, [0, 0, 9, 9])
    assert best_centre_box_size(gt, 100) == (50, 50)
    # three wide 20 x 80 centred boxes, one tall 80 x 20: no centred box hits both kinds, the wide one wins
    wide, tall = centre_box(100, (20, 80)), centre_box(100, (80, 20))
    assert wide.tolist() == [10, 40, 89, 59]
    assert best_centre_box_size([wide[None]] * 3 + [tall[None]], 100) == (20, 80)
    assert best_centre_box_size([wide[None]] + [tall[None]] * 3, (100, 100)) == (80, 20)
    # one fraction: the only candidate
    assert best_centre_box_size(gt, (40, 60), fractions=[0.5]) == (20, 30)


def test_best_centre_box_size_is_the_best_of_the_grid(gen):
    gt = [some_boxes(gen, int(c)) for c in torch.randint(0, 3, (80,), generator=gen)]
    h, w = best_centre_box_size(gt, (64, 48))
    sides = sorted({round(f * 64) for f in CENTRE_FRACTIONS}), sorted({round(f * 48) for f in CENTRE_FRACTIONS})
    assert len(CENTRE_FRACTIONS) == 20 and CENTRE_FRACTIONS[0] == 0.05 and CENTRE_FRACTIONS[-1] == 1.0
    assert h in sides[0] and w in sides[1]
    every = [centre_box_accuracy(gt, (64, 48), box_size=(a, b)) for a in sides[0] for b in sides[1]]
    assert centre_box_accuracy(gt, (64, 48), box_size=(h, w)) == max(every)


# --- random boxes -----------------------------------------------------------------------


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


def test_random_box_accuracy_hand_worked():
    g = torch.Generator().manual_seed(0)
    # only the whole image fits: every draw is the ground-truth box itself
    assert random_box_accuracy(L([0, 0, 7, 4]), (5, 8), draws=4, generator=g, sizes=torch.tensor([[5, 8]])) == 1.0
    # a one-pixel image: every box is the pixel; the second image has no ground truth
    assert random_box_accuracy([L([0, 0, 0, 0]), L()], 1, draws=3, generator=g) == 0.5


@pytest.mark.parametrize("with_sizes", [False, True], ids=["corners", "sizes"])
def test_random_box_accuracy_keeps_the_numbers_of_the_notebook_helper(gen, with_sizes):
    gt = [some_boxes(gen, int(c)) for c in torch.randint(1, 3, (50,), generator=gen)]
    sizes = torch.tensor([[30, 20], [50, 50], [12, 40]]) if with_sizes else None
    R = 7
    helper = random_boxes(len(gt) * R, 64, generator=torch.Generator().manual_seed(3), sizes=sizes)
    want = gt_known_accuracy(helper, [g for g in gt for _ in range(R)])
    got = random_box_accuracy(gt, 64, draws=R, generator=torch.Generator().manual_seed(3), sizes=sizes)
    assert got == want and 0 < got < 1
    one = [g[:1] for g in gt]
    assert random_box_accuracy(
        torch.cat(one), 64, draws=R, generator=torch.Generator().manual_seed(3), sizes=sizes
    ) == random_box_accuracy(one, 64, draws=R, generator=torch.Generator().manual_seed(3), sizes=sizes)


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: centre_box(64, (0, 10)),
            ValueError,
            r"`box_size` must have 1 <= h <= 64 and 1 <= w <= 64, but got \(0, 10\)",
        ),
        (lambda: centre_box((10, 20), (4, 21)), ValueError, r"`box_size` must have 1 <= h <= 10 and 1 <= w <= 20"),
        (lambda: centre_box(64, 32), TypeError, r"`box_size` must be a pair \(h, w\) of numbers, but got 32"),
        (
            lambda: centre_box(None, (1, 1)),
            TypeError,
            r"`size` must be an int S or a pair \(H, W\) of ints, but got None",
        ),
        (lambda: centre_box_accuracy(L(), 64), ValueError, r"`gt_boxes` must hold at least one image, but got none"),
        (lambda: centre_box_accuracy([], 64), ValueError, r"`gt_boxes` must hold at least one image, but got none"),
        (
            lambda: centre_box_accuracy([L()], 64),
            ValueError,
            r"`gt_boxes` must hold at least one box to take the mean box size, but holds none; pass `box_size`",
        ),
        (
            lambda: centre_box_accuracy(3, 64),
            TypeError,
            r"`gt_boxes` must be a LongTensor\[N, 4\] or a list of N tensors LongTensor\[G_i, 4\], but got int",
        ),
        (lambda: centre_box_accuracy(L([4, 0, 3, 3]), 64), ValueError, r"`gt_boxes` must hold boxes .* but box 0 is"),
        (
            lambda: centre_box_accuracy([L([0, 0, 1, 1])], 64, iou_threshold=0),
            ValueError,
            r"`iou_threshold` must be in \(0, 1\], but got 0",
        ),
        (lambda: center_box_accuracy(L(), (64, 64)), ValueError, r"`gt_boxes` must hold at least one image"),
        (
            lambda: best_centre_box_size(L([0, 0, 1, 1]), 64, fractions=[]),
            ValueError,
            r"`fractions` must hold at least one fraction, but got none",
        ),
        (
            lambda: best_centre_box_size(L([0, 0, 1, 1]), 64, fractions=0.5),
            TypeError,
            r"`fractions` must be a sequence of numbers in \(0, 1\], but got 0.5",
        ),
        (
            lambda: best_centre_box_size(L([0, 0, 1, 1]), 64, fractions=[0.0]),
            ValueError,
            r"`fractions` must hold numbers in \(0, 1\], but got 0.0",
        ),
        (lambda: best_centre_box_size(L([0, 0, 1, 1]), 64, fractions=[1.5]), ValueError, r"`fractions` must be"),
        (
            lambda: random_boxes(1, 4, generator=torch.Generator(), sizes=torch.tensor([[5, 1]])),
            ValueError,
            r"`sizes` must hold \(h, w\) with 1 <= h <= 4 and 1 <= w <= 4",
        ),
        (lambda: random_boxes(1, 4, generator=0), TypeError, r"`generator` must be a torch.Generator, but got int"),
        (lambda: random_boxes(-1, 4, generator=torch.Generator()), ValueError, r"`n` must be an int >= 0, but got -1"),
        (
            lambda: random_box_accuracy(L([0, 0, 1, 1]), 4, draws=0, generator=torch.Generator()),
            ValueError,
            r"`draws` must be an int >= 1, but got 0",
        ),
        (
            lambda: random_box_accuracy(L([0, 0, 1, 1]), 4, draws=2, generator=None),
            TypeError,
            r"`generator` must be a torch.Generator, but got NoneType",
        ),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_no_random_box_is_no_error():
    assert random_boxes(0, 4, generator=torch.Generator()).shape == (0, 4)


def test_random_box_hits_are_random_box_accuracy_per_image(gen):
    from camlib.boxes.baselines import random_box_hits

    # a one-pixel image: every random box is the pixel (a hit); the second image has no ground truth
    assert random_box_hits([L([0, 0, 0, 0]), L()], 1, draws=3, generator=torch.Generator().manual_seed(0)).tolist() == [
        1.0,
        0.0,
    ]
    gt = [some_boxes(gen, int(c)) for c in torch.randint(1, 3, (30,), generator=gen)]
    for sizes in (None, torch.tensor([[30, 20], [50, 50]])):
        hits = random_box_hits(gt, 64, draws=5, generator=torch.Generator().manual_seed(1), sizes=sizes)
        assert hits.shape == (30,) and ((hits * 5).round() == hits * 5).all()  # shares of 5 draws
        want = random_box_accuracy(gt, 64, draws=5, generator=torch.Generator().manual_seed(1), sizes=sizes)
        assert hits.mean().item() == pytest.approx(want, abs=1e-12)
    with pytest.raises(ValueError, match=r"`draws` must be an int >= 1, but got 0"):
        random_box_hits(gt, 64, draws=0, generator=torch.Generator())


def test_centre_box_hits_are_the_accuracy_image_by_image():
    from camlib.boxes.baselines import centre_box_hits

    # a 32 x 32 centred box in 64 x 64 is (16, 16, 47, 47): it is image 0's box, misses image 1's corner box,
    # and is one of image 2's two boxes
    gt = [
        torch.tensor([[16, 16, 47, 47]]),
        torch.tensor([[0, 0, 31, 31]]),
        torch.tensor([[0, 0, 1, 1], [16, 16, 47, 47]]),
    ]
    hits = centre_box_hits(gt, 64, box_size=(32, 32))
    assert hits.dtype == torch.bool and hits.tolist() == [True, False, True]
    assert hits.double().mean().item() == centre_box_accuracy(gt, 64, box_size=(32, 32))
    assert centre_box_hits(gt, 64).double().mean().item() == centre_box_accuracy(gt, 64)  # the mean size


def test_centre_box_iou_against_a_loop(gen):
    """The per-image IoU of the centred box with each image's best box: a loop over box_iou; 0 without a box."""
    from camlib.boxes.baselines import centre_box_hits, centre_box_iou

    gt = [some_boxes(gen, int(c)) for c in torch.randint(0, 4, (60,), generator=gen)]
    box = centre_box((64, 64), (30, 40))
    by_hand = [box_iou(box[None], g).max().item() if len(g) else 0.0 for g in gt]
    iou = centre_box_iou(gt, 64, box_size=(30, 40))
    assert iou.dtype == torch.float64 and iou.tolist() == pytest.approx(by_hand, abs=1e-12)
    assert torch.equal(iou >= 0.5, centre_box_hits(gt, 64, box_size=(30, 40)))
