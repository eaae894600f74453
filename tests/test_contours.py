"""wsolevaluation's convention (``convention="wsolevaluation"``) against an independent implementation of its definition.

The independent implementation uses no OpenCV. On maps made of separated
plateaus (filled rectangles and discs, rings with an island in the hole,
one-pixel lines), everything wsolevaluation's contours give has a closed
form:

- each 8-connected component has one outer contour; its box is the
  component's ``(x1, y1, min(x2 + 1, W - 1), min(y2 + 1, H - 1))``;
- each hole (a 4-connected background region off the frame) has one inner
  contour through the foreground pixels 4-adjacent to it; its box is the
  hole's bounding box grown by one pixel on each side, then the same ``+1``;
- the polygon area of an outer contour through the centres of the border
  pixels is, for a plateau with no one-pixel-wide part, Pick's theorem on the
  component with its holes filled: ``A = N - B / 2 - 1`` (``N`` pixels, ``B``
  of them on the border); a one-pixel line or dot has area 0;
- on ties of the largest area, the component met last in row-major order
  wins (OpenCV lists the outer contours of one level in reverse order of
  discovery, and Python's ``max`` keeps the first).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

import camlib
import camlib.book.perf
from camlib.components.contours import contour_boxes
from camlib.metrics.accuracy import (
    BoxAccAccumulator,
    max_box_acc,
    max_box_acc_v2,
    threshold_grid,
    update_box_accuracies,
)

CROSS = ndimage.generate_binary_structure(2, 1)


def _iou(a, b) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1) * max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    area_a, area_b = ((c[2] - c[0] + 1) * (c[3] - c[1] + 1) for c in (a, b))
    return inter / (area_a + area_b - inter)


def _independent_boxes(mask: np.ndarray) -> tuple[list[tuple], int]:
    """All contour boxes of a plateau mask and the index of the largest outer contour, without OpenCV."""
    H, W = mask.shape
    clip = lambda x1, y1, x2, y2: (x1, y1, min(x2 + 1, W - 1), min(y2 + 1, H - 1))  # noqa: E731
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    outer, areas = [], []
    for lab in range(1, n + 1):
        comp = labels == lab
        ys, xs = np.nonzero(comp)
        outer.append(clip(xs.min(), ys.min(), xs.max(), ys.max()))
        if xs.min() == xs.max() or ys.min() == ys.max():
            areas.append(0.0)  # a dot or a one-pixel line: the contour retraces itself
        else:
            filled = ndimage.binary_fill_holes(comp)
            border = filled & ~ndimage.binary_erosion(filled, CROSS, border_value=0)
            areas.append(filled.sum() - border.sum() / 2 - 1)  # Pick's theorem
    holes = []
    background, m = ndimage.label(~mask, structure=CROSS)
    for lab in range(1, m + 1):
        ys, xs = np.nonzero(background == lab)
        if ys.min() > 0 and xs.min() > 0 and ys.max() < H - 1 and xs.max() < W - 1:
            holes.append(clip(xs.min() - 1, ys.min() - 1, xs.max() + 1, ys.max() + 1))
    if not outer:
        return [(0, 0, 0, 0)], 0
    top = max(areas)
    largest = max(i for i, a in enumerate(areas) if a == top)  # the last in row-major order on ties
    return outer + holes, largest


def _independent_curves(maps: np.ndarray, gt: list[np.ndarray], taus: np.ndarray, all_components: bool) -> np.ndarray:
    """Per map and threshold: does a box hit at IoU 0.3 / 0.5 / 0.7? Summed over maps -> (3, T)."""
    hits = np.zeros((3, len(taus)))
    for m, truth in zip(maps, gt):
        s = (m - m.min()) / (m.max() - m.min()) if m.max() > m.min() else np.zeros_like(m)
        q = np.floor(s * 255)
        for t, tau in enumerate(taus):
            boxes, largest = _independent_boxes(q > np.floor(tau * q.max()))
            if not all_components:
                boxes = [boxes[largest]]
            best = max(_iou(b, g) for b in boxes for g in truth)
            hits[:, t] += [best >= d for d in (0.3, 0.5, 0.7)]
    return hits / len(maps)


def _plateaus(rng: np.random.Generator, H: int = 40, W: int = 48) -> np.ndarray:
    """A map of separated plateaus at random values: rectangles, discs, lines, dots, a ring with an island."""
    m = np.zeros((H, W))
    taken = np.zeros((H, W), bool)
    yy, xx = np.mgrid[:H, :W]
    shapes = ["ring", "rect", "rect", "disc", "line", "line", "dot", "rect", "disc"]
    for kind in shapes:
        for _ in range(50):  # find a free spot (one pixel of background around every shape)
            h, w = {"ring": (12, 14), "disc": (7, 7), "line": (1, 8) if rng.random() < 0.5 else (8, 1),
                    "dot": (1, 1)}.get(kind, tuple(rng.integers(2, 9, size=2)))  # fmt: skip
            y, x = rng.integers(1, H - h), rng.integers(1, W - w)
            if kind == "rect" and rng.random() < 0.3:  # sometimes against the frame: the +1 is clipped there
                y, x = H - h, W - w
            if not taken[max(y - 1, 0) : y + h + 1, max(x - 1, 0) : x + w + 1].any():
                break
        else:
            continue
        taken[max(y - 1, 0) : y + h + 1, max(x - 1, 0) : x + w + 1] = True
        value = rng.uniform(0.2, 1.0)
        if kind == "disc":
            disc = (yy - y - 3) ** 2 + (xx - x - 3) ** 2 <= 9
            m[disc] = value
        else:
            m[y : y + h, x : x + w] = value
        if kind == "ring":  # a 6 x 8 hole, and a 2 x 2 island of another value inside it
            m[y + 3 : y + 9, x + 3 : x + 11] = 0.0
            m[y + 5 : y + 7, x + 5 : x + 7] = rng.uniform(0.2, 1.0)
    return m


def _gt_near(rng: np.random.Generator, m: np.ndarray) -> np.ndarray:
    """Ground truth: jittered boxes of three of the map's components or holes, so that hits happen."""
    boxes, _ = _independent_boxes(m > 0)
    out = []
    for k in rng.choice(len(boxes), size=min(3, len(boxes)), replace=False):
        b = np.clip(np.array(boxes[k]) + rng.integers(-1, 2, size=4), 0, [m.shape[1] - 1, m.shape[0] - 1] * 2)
        out.append([min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])])
    return np.array(out)


def test_independent_reference_agrees_with_the_closed_forms_by_hand():
    # A 9 x 8 block with a 4 x 3 hole, a 2 x 2 block, a 10-pixel line: areas 56, 1, 0 (cv2.contourArea's).
    mask = np.zeros((20, 24), bool)
    mask[2:10, 3:12] = True
    mask[4:7, 5:9] = False
    mask[12:14, 15:17] = True
    mask[15, 2:12] = True
    boxes, largest = _independent_boxes(mask)
    assert boxes == [(3, 2, 12, 10), (15, 12, 17, 14), (2, 15, 12, 16), (4, 3, 10, 8)]
    assert largest == 0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("all_components", [False, True])
def test_wsolevaluation_convention_equals_the_independent_definition(seed, all_components):
    rng = np.random.default_rng(seed)
    maps = np.stack([_plateaus(rng) for _ in range(4)])
    gt = [_gt_near(rng, m) for m in maps]
    taus = threshold_grid(0.05).numpy()
    expected = _independent_curves(maps, gt, taus, all_components)
    ious = (0.3, 0.5, 0.7)
    acc = BoxAccAccumulator(ious, all_components=all_components, thresholds=taus, convention="wsolevaluation")
    acc.update(torch.from_numpy(maps), [torch.from_numpy(g) for g in gt])
    np.testing.assert_array_equal(acc.compute().curves.numpy(), expected)
    assert expected.max() > 0  # the maps were made so that boxes hit


def test_ties_go_to_the_component_met_last():
    q = np.zeros((12, 12), np.uint8)
    q[1:4, 1:4] = q[7:10, 6:9] = 200  # two 3 x 3 blocks: contour areas 4 and 4
    boxes, largest = contour_boxes(q, 0)
    assert boxes[largest].tolist() == [6, 7, 9, 10]
    assert _independent_boxes(q > 0)[0][_independent_boxes(q > 0)[1]] == (6, 7, 9, 10)


def test_hand_worked_differences_from_camlib():
    m = torch.zeros(1, 10, 10)
    m[0, 2:7, 2:7] = 1.0
    m[0, 3:6, 3:6] = 0.0  # a 5 x 5 ring with a 3 x 3 hole: the hole's inner contour is boxed (2, 2)-(7, 7)
    m[0, 9, 0] = 1.0  # a dot in the corner: box (0, 9)-(1, 9)
    gt = [torch.tensor([[2, 2, 6, 6]])]  # the ring's tight box
    grid = [0.5]
    assert max_box_acc(m, gt, thresholds=grid).value == 1.0  # camlib: tight box, IoU 1
    r = max_box_acc(m, gt, thresholds=grid, convention="wsolevaluation")  # (2, 2)-(7, 7): 25 / 36 < 0.7
    assert r.curves.tolist() == [[1.0]]
    v2 = max_box_acc_v2(m, gt, thresholds=grid, convention="wsolevaluation")
    assert v2.best_accuracy.tolist() == [1.0, 1.0, 0.0]  # 25 / 36 = 0.69 misses 0.7
    assert max_box_acc_v2(m, gt, thresholds=grid).best_accuracy.tolist() == [1.0, 1.0, 1.0]


def test_equals_the_contours_loop_peer_on_smooth_maps():
    maps = camlib.book.perf.smooth_maps(12, 64, seed=3).double()
    rng = np.random.default_rng(3)
    gt = []
    for _ in range(12):
        x, y = rng.integers(0, 40, size=2)
        gt.append(torch.tensor([[x, y, x + rng.integers(5, 24), y + rng.integers(5, 24)]]))
    grid = threshold_grid(0.02)
    ours = max_box_acc_v2(maps, gt, thresholds=grid, convention="wsolevaluation").value
    assert ours == camlib.book.perf.contours_max_box_acc_v2(maps, gt, grid.tolist())


def test_shared_update_equals_separate_updates_and_levels_are_traced_once():
    maps = camlib.book.perf.smooth_maps(5, 32, seed=1)
    gt = [torch.tensor([[4, 4, 20, 20]])] * 5
    grid = threshold_grid(0.001)  # 1,000 thresholds, at most 256 distinct levels per map
    one = BoxAccAccumulator((0.5,), thresholds=grid, convention="wsolevaluation")
    two = BoxAccAccumulator((0.3, 0.5, 0.7), all_components=True, thresholds=grid, convention="wsolevaluation")
    update_box_accuracies([one, two], maps, gt)
    assert torch.equal(one.compute().curves, max_box_acc(maps, gt, thresholds=grid, convention="wsolevaluation").curves)
    assert torch.equal(
        two.compute().curves, max_box_acc_v2(maps, gt, thresholds=grid, convention="wsolevaluation").curves
    )


def test_bad_arguments_name_the_convention():
    with pytest.raises(ValueError, match="`quantize` must be True"):
        BoxAccAccumulator(convention="wsolevaluation", quantize=False)
    with pytest.raises(ValueError, match="`backend` must be 'auto'"):
        BoxAccAccumulator(convention="wsolevaluation", backend="opencv")
    with pytest.raises(ValueError, match="convention"):
        BoxAccAccumulator(convention="choe")
    with pytest.raises(ValueError, match="share thresholds, quantize, convention"):
        update_box_accuracies(
            [BoxAccAccumulator(quantize=True), BoxAccAccumulator(convention="wsolevaluation")],
            torch.rand(1, 8, 8),
            [torch.tensor([[0, 0, 3, 3]])],
        )
    assert BoxAccAccumulator(convention="wsolevaluation").quantize is True
    assert BoxAccAccumulator().quantize is False
