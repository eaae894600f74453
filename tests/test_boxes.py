"""Tests of camlib.boxes.from_maps: the box protocol, its variants, the authors' generator and the top-5 heuristic."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from test_components import smooth_maps

import camlib.boxes.from_maps as boxes_module
from camlib.boxes.from_maps import (
    authors_boxes,
    boxes_from_maps,
    boxes_from_masks,
    component_boxes,
    foreground,
    top5_heuristic,
)


def reference_boxes(maps: np.ndarray, threshold: float, mode: str) -> np.ndarray:
    """The protocol by loops: foreground, scipy components, most pixels, first pixel on ties."""
    out = []
    for m in maps.reshape(-1, *maps.shape[-2:]):
        fg = m > np.float32(threshold) * m.max() if m.dtype == np.float32 else m > threshold * m.max()
        if not fg.any():
            out.append([0, 0, 0, 0])
            continue
        if mode == "union":
            ys, xs = np.nonzero(fg)
            out.append([xs.min(), ys.min(), xs.max(), ys.max()])
            continue
        raw, n = ndimage.label(fg, structure=np.ones((3, 3)))
        best = None
        for k in range(1, n + 1):
            ys, xs = np.nonzero(raw == k)
            key = (-len(ys), ys[0] * m.shape[1] + xs[0])  # more pixels, then earlier first pixel
            if best is None or key < best[0]:
                best = (key, [xs.min(), ys.min(), xs.max(), ys.max()])
        out.append(best[1])
    return np.array(out, dtype=np.int64).reshape(*maps.shape[:-2], 4)


# --- the threshold rule -----------------------------------------------------------------


def test_foreground_is_strictly_above_the_fraction_of_the_max():
    # max 2.0: 0.2 * 2.0 = 0.4 exactly in float32 and float64; 0.4 itself is background.
    for dtype in (torch.float32, torch.float64):
        m = torch.tensor([[0.4, 0.41, 2.0], [-1.0, 0.39, 0.4]], dtype=dtype)
        assert foreground(m).tolist() == [[False, True, True], [False, False, False]]
    # Threshold 0 keeps the positive pixels; threshold 1 keeps nothing.
    m = torch.tensor([[0.0, 0.5, 1.0]])
    assert foreground(m, 0.0).tolist() == [[False, True, True]]
    assert foreground(m, 1.0).tolist() == [[False, False, False]]


def test_maps_without_foreground_give_the_zero_box():
    maps = torch.stack(
        [torch.zeros(5, 6), torch.full((5, 6), -3.0), -torch.rand(5, 6, generator=torch.Generator().manual_seed(0))]
    )
    for mode in ("largest", "union", "authors"):
        assert boxes_from_maps(maps, mode=mode).tolist() == [[0, 0, 0, 0]] * 3
    assert [len(b) for b in component_boxes(maps)] == [0, 0, 0]
    assert [len(b) for b in authors_boxes(maps)] == [0, 0, 0]


def test_one_pixel_full_map_and_a_constant_positive_map():
    m = torch.zeros(4, 7)
    m[2, 5] = 1.0
    assert boxes_from_maps(m).tolist() == [5, 2, 5, 2]
    # A constant positive map is all foreground (1 > 0.2): the whole map, x2 = W - 1, y2 = H - 1.
    assert boxes_from_maps(torch.ones(4, 7)).tolist() == [0, 0, 6, 3]
    assert boxes_from_maps(torch.ones(1, 1)).tolist() == [0, 0, 0, 0]


def test_largest_component_and_tie_rule():
    # Two components of 4 pixels: A at the top right (first pixel (4, 0)), B at the left
    # (first pixel (0, 1)). A comes first in row-major order and wins the tie.
    m = torch.zeros(5, 6)
    m[0, 4:6] = m[1, 4:6] = 1.0  # A: (4, 0)-(5, 1)
    m[1:5, 0] = 1.0  # B: (0, 1)-(0, 4)
    assert boxes_from_maps(m).tolist() == [4, 0, 5, 1]
    m[4, 1] = 1.0  # B grows to 5 pixels (diagonal-free: (1, 4) touches (0, 4)) and wins
    assert boxes_from_maps(m).tolist() == [0, 1, 1, 4]
    # The union covers both.
    assert boxes_from_maps(m, mode="union").tolist() == [0, 0, 5, 4]


def test_diagonal_touching_joins_components():
    # (0, 0)-(1, 1) and (2, 2)-(3, 3) touch at a corner: one 8-connected component of 8 pixels.
    m = torch.zeros(5, 5)
    m[0:2, 0:2] = m[2:4, 2:4] = 1.0
    m[4, 4] = 0.0
    m[0, 4] = 1.0  # a separate single pixel
    assert boxes_from_maps(m).tolist() == [0, 0, 3, 3]
    assert [b.tolist() for b in component_boxes(m)] == [[[0, 0, 3, 3], [4, 0, 4, 0]]]


@pytest.mark.parametrize("mode", ["largest", "union"])
@pytest.mark.parametrize("backend", ["torch", "scipy"])
def test_agrees_with_reference_on_smooth_maps(mode, backend, device):
    if backend == "scipy" and device != "cpu":
        pytest.skip("the scipy backend runs on the CPU")
    for H, W in [(1, 1), (1, 9), (11, 1), (7, 13), (32, 32), (48, 40)]:
        maps = torch.from_numpy(smooth_maps(H + 31 * W, 8, H, W).astype(np.float32)).reshape(2, 4, H, W)
        for threshold in (0.0, 0.2, 0.5, 0.8):
            got = boxes_from_maps(maps.to(device), threshold, mode=mode, backend=backend)
            assert got.device.type == device and got.dtype == torch.long
            assert np.array_equal(got.cpu().numpy(), reference_boxes(maps.numpy(), threshold, mode))


def test_boxes_from_masks_and_component_boxes_match_loops():
    masks = torch.from_numpy(smooth_maps(5, 6, 20, 25) > 0.1)
    maps = masks.float()  # max 1 (or 0): foreground at 0.2 is exactly the mask
    assert torch.equal(boxes_from_masks(masks), boxes_from_maps(maps))
    for mask, got in zip(masks.numpy(), component_boxes(maps)):
        raw, n = ndimage.label(mask, structure=np.ones((3, 3)))
        want = [[s[1].start, s[0].start, s[1].stop - 1, s[0].stop - 1] for s in ndimage.find_objects(raw)]
        assert got.tolist() == want  # scipy numbers components by first pixel too


def test_shapes_and_empty_batch():
    assert boxes_from_maps(torch.rand(2, 3, 8, 8)).shape == (2, 3, 4)
    assert boxes_from_maps(torch.rand(0, 8, 8)).shape == (0, 4)
    assert boxes_from_maps(torch.rand(0, 8, 8), mode="authors").shape == (0, 4)
    assert component_boxes(torch.rand(0, 8, 8)) == []


# --- the authors' released generator ---------------------------------------------------


def reference_distance_filter(mask: np.ndarray) -> np.ndarray:
    """dt_box.cpp's step, through scipy: keep round(255 d / max d) > 10; masks without background unchanged."""
    if mask.all() or not mask.any():
        return mask.copy()
    d = ndimage.distance_transform_edt(mask)
    return np.floor(d * (255.0 / d.max()) + 0.5) > 10


def reference_authors_boxes(m: np.ndarray, thresholds=(20, 100, 110)) -> list[list[int]]:
    """The released generator by loops (with 8-connected components in place of contours)."""
    if m.max() <= 0:
        return []
    q = np.floor(255 * np.clip((m / m.max()).astype(np.float64), 0, 1) + 0.5)
    found = []  # (area, threshold rank, component rank, box)
    for t_rank, t in enumerate(thresholds):
        raw, _ = ndimage.label(reference_distance_filter(q > t), structure=np.ones((3, 3)))
        for c_rank, s in enumerate(ndimage.find_objects(raw)):
            box = [s[1].start, s[0].start, s[1].stop - 1, s[0].stop - 1]
            found.append(((box[2] - box[0] + 1) * (box[3] - box[1] + 1), t_rank, c_rank, box))
    found.sort(key=lambda f: (-f[0], f[1], f[2]))
    boxes = [f[3] for f in found]
    i = 0
    while i < len(boxes):
        j = i + 1
        while j < len(boxes):
            a, b = boxes[i], boxes[j]
            inter = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1) * max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
            if inter > 0.5 * (a[2] - a[0] + 1) * (a[3] - a[1] + 1):
                del boxes[j]
            j += 1
        i += 1
    return boxes


@pytest.mark.parametrize("size", [(1, 1), (1, 12), (9, 1), (15, 21), (40, 40)], ids=str)
def test_distance_filter_matches_scipy(size):
    H, W = size
    masks = torch.from_numpy(np.concatenate([smooth_maps(H * W, 20, H, W) > lv for lv in (-0.5, 0.0, 0.3)]))
    masks = torch.cat([masks, torch.ones(1, H, W, dtype=torch.bool), torch.zeros(1, H, W, dtype=torch.bool)])
    got = boxes_module._distance_filter(masks)
    want = np.stack([reference_distance_filter(m) for m in masks.numpy()])
    assert np.array_equal(got.numpy(), want)
    # the device path (two 1-D passes in torch) gives the same distances as scipy, map by map
    has_bg = (~masks).flatten(1).any(1)
    fg = masks.flatten(1).any(1)
    keep = has_bg & fg
    torch_d = boxes_module._edt_torch(masks)[keep]
    scipy_d = boxes_module._edt_scipy(masks, has_bg)[keep]
    assert torch.allclose(torch_d, scipy_d, rtol=0, atol=1e-12)


def test_distance_step_drops_thin_parts_relative_to_the_thickest():
    # A 60 x 60 square (depth 30) and a one-pixel line: 255 * 1 / 30 = 8.5 rounds to 9 <= 10:
    # the line goes. A 20 x 20 square (depth 10): 255 * 1 / 10 = 25.5 > 10: the line stays.
    for side, line_kept in ((60, False), (20, True)):
        m = torch.zeros(side + 10, side + 20)
        m[2 : side + 2, 2 : side + 2] = 1.0
        m[3, side + 8 : side + 18] = 1.0
        boxes = authors_boxes(m)[0].tolist()
        assert ([side + 8, 3, side + 17, 3] in boxes) == line_kept
        assert boxes[0][:2] == [2, 2] or boxes[0][:2] == [3, 3]  # the square, possibly eroded by a pixel


def test_merge_rule_and_the_released_loop_quirk():
    # Intersection must exceed half the larger box: 50 of 100 is not enough, 60 of 100 is.
    assert boxes_module._merge([[0, 0, 9, 9], [0, 0, 9, 4]]) == [[0, 0, 9, 9], [0, 0, 9, 4]]
    assert boxes_module._merge([[0, 0, 9, 9], [0, 0, 9, 5]]) == [[0, 0, 9, 9]]
    # Three identical boxes: the first drops the second, and the released loop then skips
    # the third, which only meets the survivor's own row later (i = 1: nothing after it).
    assert boxes_module._merge([[0, 0, 4, 4]] * 3) == [[0, 0, 4, 4], [0, 0, 4, 4]]
    assert boxes_module._merge([[0, 0, 4, 4]] * 4) == [[0, 0, 4, 4], [0, 0, 4, 4]]


def test_authors_boxes_plateau_and_peak():
    # Plateau 0.3 -> q = round(76.5) = 77: above 20 only; peak 1.0 -> 255: above all three.
    # Boxes: plateau (900 pixels) at 20, peak (100) at 100 and at 110; the second peak box
    # covers all of the first (100 > 50): dropped. The peak covers 100 of 900 of the plateau: kept.
    m = torch.zeros(40, 40)
    m[5:35, 5:35] = 0.3
    m[15:25, 15:25] = 1.0
    assert authors_boxes(m)[0].tolist() == [[5, 5, 34, 34], [15, 15, 24, 24]]
    assert boxes_from_maps(m, mode="authors").tolist() == [5, 5, 34, 34]


@pytest.mark.parametrize("backend", ["torch", "scipy"])
def test_authors_boxes_match_reference(backend, device):
    if backend == "scipy" and device != "cpu":
        pytest.skip("the scipy backend runs on the CPU")
    for group in (smooth_maps(11, 12, 36, 44, sigma=3.0), smooth_maps(12, 12, 25, 17, sigma=1.0)):
        t = torch.from_numpy(group.astype(np.float32))
        got = authors_boxes(t.to(device), backend=backend)
        assert [g.tolist() for g in got] == [reference_authors_boxes(m) for m in t.numpy()]


# --- the top-5 heuristic ---------------------------------------------------------------


def test_top5_heuristic_thresholds():
    # Each map: a plateau at 0.3 of the max (above 20/255 = 0.078, below 100/255 = 0.392) and a peak.
    maps = torch.zeros(2, 4, 12, 12)
    maps[:, :, 1:9, 1:9] = 0.3
    maps[:, :, 3:5, 3:5] = 1.0
    maps[1, 2, 3:5, 3:5] = 0.35  # image 1, class rank 3: 0.3 > 0.392 * 0.35, both boxes are the plateau's
    classes = torch.tensor([[5, 2, 9, 1], [0, 4, 3, 8]])
    c, b = top5_heuristic(maps, classes)
    assert c.tolist() == [[5, 5, 2, 2, 9], [0, 0, 4, 4, 3]]  # the top-4 class is never used
    assert b[0].tolist() == [[1, 1, 8, 8], [3, 3, 4, 4], [1, 1, 8, 8], [3, 3, 4, 4], [1, 1, 8, 8]]
    assert b[1, 4].tolist() == [1, 1, 8, 8]
    # Other thresholds: loose 0.5, tight 0.9 of the max give the peak both times.
    _, b = top5_heuristic(maps, classes, loose=0.5, tight=0.9)
    assert b[0, :2].tolist() == [[3, 3, 4, 4], [3, 3, 4, 4]]


def test_top5_heuristic_authors():
    maps = torch.zeros(1, 3, 40, 40)
    maps[:, :, 5:35, 5:35] = 0.3
    maps[:, :, 15:25, 15:25] = 1.0
    maps[0, 2] = 0.0  # no box at all for the third class
    maps[0, 1, 15:25, 15:25] = 0.3  # a flat plateau: three identical boxes, two survive
    c, b = top5_heuristic(maps, torch.tensor([[1, 2, 3]]), generator="authors")
    assert c.tolist() == [[1, 1, 2, 2, 3]]
    assert b[0].tolist() == [[5, 5, 34, 34], [15, 15, 24, 24], [5, 5, 34, 34], [5, 5, 34, 34], [0, 0, 0, 0]]


# --- bad input --------------------------------------------------------------------------


def test_bad_input():
    with pytest.raises(ValueError, match=r"`maps` must hold finite values, but map \(1, 2\) holds NaN"):
        m = torch.rand(2, 3, 4, 4)
        m[1, 2, 0, 3] = float("nan")
        boxes_from_maps(m)
    with pytest.raises(ValueError, match=r"`maps` must hold finite values, but map 1 holds NaN"):
        m = torch.rand(3, 4, 4)
        m[1, 0, 0] = float("nan")
        authors_boxes(m)
    with pytest.raises(ValueError, match=r"`maps` must hold finite values, but the map holds an infinite value"):
        boxes_from_maps(torch.tensor([[0.0, float("inf")]]))
    with pytest.raises(ValueError, match=r"`maps` must have at least 2 dimensions \(..., H, W\), but got shape \(5\)"):
        boxes_from_maps(torch.rand(5))
    with pytest.raises(ValueError, match=r"`maps` must have maps of at least 1 x 1 pixels, but got shape \(2, 0, 3\)"):
        boxes_from_maps(torch.rand(2, 0, 3))
    with pytest.raises(TypeError, match=r"`maps` must have a floating-point dtype, but got torch.int64"):
        boxes_from_maps(torch.ones(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"`threshold` must be in \[0, 1\], but got 1.5"):
        boxes_from_maps(torch.rand(3, 3), 1.5)
    with pytest.raises(TypeError, match=r"`threshold` must be a real number, but got '0.2'"):
        boxes_from_maps(torch.rand(3, 3), "0.2")
    with pytest.raises(ValueError, match=r"`mode` must be one of 'largest', 'union', 'authors', but got 'all'"):
        boxes_from_maps(torch.rand(3, 3), mode="all")
    with pytest.raises(ValueError, match=r"`threshold` is not used by mode 'authors'"):
        boxes_from_maps(torch.rand(3, 3), 0.5, mode="authors")
    with pytest.raises(ValueError, match=r"`thresholds` must be a non-empty sequence of ints in \[0, 255\], but got"):
        authors_boxes(torch.rand(3, 3), ())
    with pytest.raises(TypeError, match=r"`thresholds` must be a sequence of ints \(0-255\), but got \(0.1, 0.5\)"):
        authors_boxes(torch.rand(3, 3), (0.1, 0.5))
    with pytest.raises(
        ValueError, match=r"`maps` must be a 4-D tensor \(N, k, H, W\) with k >= 3, but got shape \(2, 2"
    ):
        top5_heuristic(torch.rand(2, 2, 5, 5), torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"`classes` must have shape \(2, 3\) \(N, k\) like `maps`, but got \(2, 5\)"):
        top5_heuristic(torch.rand(2, 3, 5, 5), torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"`generator` must be one of 'thresholds', 'authors', but got 'paper'"):
        top5_heuristic(torch.rand(2, 3, 5, 5), torch.zeros(2, 3, dtype=torch.long), generator="paper")
    with pytest.raises(TypeError, match=r"`masks` must be a bool tensor, but got torch.float32"):
        boxes_from_masks(torch.rand(3, 3))


# --- the figure ---------------------------------------------------------------------------


def test_show_box_protocol_draws_the_four_steps():
    import matplotlib.pyplot as plt

    from camlib.viz import show_box_protocol

    cam = torch.zeros(20, 30)
    cam[2:8, 2:10] = 1.0  # 48 pixels: the largest component
    cam[12:15, 20:23] = 0.8  # 9 pixels
    fig = show_box_protocol(np.zeros((20, 30, 3), dtype=np.uint8), cam, torch.tensor([[2, 2, 9, 7]]))
    titles = [ax.get_title() for ax in fig.axes[:4]]
    plt.close(fig)
    assert titles[1] == "map > 0.2 max: 57 px"
    assert titles[2] == "2 components, largest 48 px"
    assert titles[3] == "box (2, 2, 9, 7), IoU 1.00"
