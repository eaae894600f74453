"""Tests of camlib.metrics.accuracy: ILSVRC errors, GT-known accuracy, MaxBoxAcc(V2) and PxAP."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from test_components import smooth_maps

import camlib
from camlib.boxes.from_maps import boxes_from_maps, top5_heuristic
from camlib.metrics.accuracy import (
    BoxAccAccumulator,
    PxAPAccumulator,
    classification_error,
    gt_known_accuracy,
    localization_error,
    localization_hits,
    max_box_acc,
    max_box_acc_v2,
    pxap,
    threshold_grid,
    top_k_error,
)


def iou_py(a, b) -> float:
    """IoU of two inclusive boxes with Python ints."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1) * max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def L(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long)


# --- ILSVRC errors ----------------------------------------------------------------------


def test_localization_hits_and_errors_hand_worked():
    gt_boxes = [L([[0, 0, 9, 9], [20, 20, 29, 29]]), L([[0, 0, 3, 3]]), L([[5, 5, 9, 9]])]
    gt_classes = L([1, 2, 3])
    classes = L([[0, 1, 1], [2, 2, 0], [3, 4, 3]])
    boxes = L(
        [
            # image 0: right box wrong class; the second GT box exactly; IoU 25/100 with the first
            [[0, 0, 9, 9], [20, 20, 29, 29], [0, 0, 4, 4]],
            # image 1: IoU 4/16 = 0.25; then IoU 8/16 = 0.5 (>= 0.5 counts); right box wrong class
            [[0, 0, 1, 1], [0, 0, 3, 1], [0, 0, 3, 3]],
            # image 2: IoU 9/25 = 0.36; a right box of a wrong class; far away
            [[5, 5, 7, 7], [5, 5, 9, 9], [40, 40, 45, 45]],
        ]
    )
    hits = localization_hits(classes, boxes, gt_classes, gt_boxes)
    assert hits.tolist() == [[False, True, False], [False, True, False], [False, False, False]]
    assert localization_error(classes, boxes, gt_classes, gt_boxes, k=1) == 1.0
    assert localization_error(classes, boxes, gt_classes, gt_boxes) == pytest.approx(1 / 3)
    # At IoU 0.3, image 2's first guess hits (0.36 >= 0.3); image 1's still misses (0.25).
    assert localization_error(classes, boxes, gt_classes, gt_boxes, k=1, iou_threshold=0.3) == pytest.approx(2 / 3)
    # Top-1 classes 0, 2, 3 against labels 1, 2, 3: only image 0 is wrong.
    assert classification_error(classes, gt_classes, k=1) == pytest.approx(1 / 3)


def test_classification_error_hand_worked():
    classes = L([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 1, 2]])
    labels = L([0, 5, 1, 2])  # top-1 right for image 0; top-3 right for 0, 1, 3
    assert classification_error(classes, labels, k=1) == 0.75
    assert classification_error(classes, labels, k=2) == 0.75
    assert classification_error(classes, labels) == 0.25


def test_images_without_boxes_are_never_correct():
    gt = [L([[0, 0, 3, 3]]), L([]).reshape(0, 4)]
    hits = localization_hits(L([[1], [1]]), L([[[0, 0, 3, 3]], [[0, 0, 3, 3]]]), L([1, 1]), gt)
    assert hits.tolist() == [[True], [False]]


def test_gt_known_accuracy(device):
    boxes = L([[0, 0, 9, 9], [0, 0, 4, 4], [2, 2, 11, 11]]).to(device)
    gt = [L([[0, 0, 9, 9]]), L([[0, 0, 9, 9]]), L([[0, 0, 9, 9]])]
    # IoU 1, 25/100, and 64 / (100 + 100 - 64) = 0.47: one hit of three.
    assert gt_known_accuracy(boxes, gt) == pytest.approx(1 / 3)
    assert gt_known_accuracy(boxes, gt, iou_threshold=0.45) == pytest.approx(2 / 3)


def test_top5_heuristic_goes_through_the_localization_error():
    # The map of class 4 (rank 2) has a plateau over the object; its tight box (the peak) misses.
    maps = torch.zeros(1, 3, 20, 20)
    maps[0, :, 2:18, 2:18] = 0.3
    maps[0, :, 8:10, 8:10] = 1.0
    classes, boxes = top5_heuristic(maps, L([[7, 4, 2]]))
    gt = [L([[2, 2, 17, 17]])]
    hits = localization_hits(classes, boxes, L([4]), gt)
    assert hits.tolist() == [[False, False, True, False, False]]  # (4, loose) only
    assert localization_error(classes, boxes, L([4]), gt) == 0.0
    assert localization_error(classes, boxes, L([4]), gt, k=2) == 1.0
    assert top_k_error(hits, 3) == 0.0


# --- MaxBoxAcc and MaxBoxAccV2 ------------------------------------------------------------


def reference_box_accuracy(maps, gt_boxes, thresholds, deltas, all_components, quantize):
    """Counts (D, T) by loops over images and thresholds, as Choe et al. define them."""
    counts = np.zeros((len(deltas), len(thresholds)), dtype=np.int64)
    for m, gt in zip(maps, gt_boxes):
        lo, hi = m.min(), m.max()
        s = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
        for t, tau in enumerate(thresholds):
            if quantize:
                q = (s * 255).astype(np.uint8)
                fg = q > int(tau * q.max())
            else:
                fg = s > tau * s.max()
            raw, n = ndimage.label(fg, structure=np.ones((3, 3)))
            found = [
                ((raw[sl] == k).sum(), [sl[1].start, sl[0].start, sl[1].stop - 1, sl[0].stop - 1])
                for k, sl in enumerate(ndimage.find_objects(raw), start=1)
            ]
            if not found:
                candidates = [[0, 0, 0, 0]]
            elif all_components:
                candidates = [box for _, box in found]
            else:
                candidates = [max(found, key=lambda f: f[0])[1]]  # max keeps the first on ties
            best = max((iou_py(b, g) for b in candidates for g in gt.tolist()), default=-1.0)
            for d, delta in enumerate(deltas):
                counts[d, t] += best >= delta
    return counts


def random_case(seed: int, n: int, H: int, W: int):
    """Smooth float64 maps and 0-3 ground-truth boxes per image, near the maps' own blobs."""
    rng = np.random.default_rng(seed)
    maps = smooth_maps(seed, n, H, W, sigma=2.5)
    gt = []
    for i, m in enumerate(maps):
        near = boxes_from_maps(torch.from_numpy(m), float(rng.uniform(0.1, 0.7))).tolist()
        boxes = []
        for _ in range(0 if i == n - 1 else int(rng.integers(1, 4))):
            jitter = rng.integers(-3, 4, size=4)
            x1, y1 = max(0, near[0] + jitter[0]), max(0, near[1] + jitter[1])
            x1, y1 = min(x1, W - 1), min(y1, H - 1)  # inside the maps' frame, as the metrics require
            boxes.append([x1, y1, min(W - 1, max(x1, near[2] + jitter[2])), min(H - 1, max(y1, near[3] + jitter[3]))])
        gt.append(torch.tensor(boxes, dtype=torch.long).reshape(-1, 4))
    return torch.from_numpy(maps), gt


@pytest.mark.parametrize("all_components", [False, True], ids=["largest", "all"])
@pytest.mark.parametrize("quantize", [False, True], ids=["float", "quantized"])
@pytest.mark.parametrize("backend", ["torch", "scipy"])
def test_box_accuracy_matches_loop_reference(all_components, quantize, backend, device):
    if backend == "scipy" and device != "cpu":
        pytest.skip("the scipy backend runs on the CPU")
    maps, gt = random_case(1, 16, 30, 26)
    thresholds = threshold_grid(0.05)
    deltas = (0.3, 0.5, 0.7)
    acc = BoxAccAccumulator(
        deltas,
        all_components=all_components,
        thresholds=thresholds,
        quantize=quantize,
        backend=backend,
        chunk_pixels=30 * 26 * 50,  # several chunks per batch
    )
    acc.update(maps[:10].to(device), gt[:10])
    acc.update(maps[10:].to(device), gt[10:])
    want = reference_box_accuracy(maps.numpy(), gt, thresholds.tolist(), deltas, all_components, quantize)
    assert np.array_equal(acc.counts.numpy(), want)
    assert 0 < want.sum() < want.size * 16  # the case is not trivial
    r = acc.compute()
    assert torch.equal(r.curves, torch.from_numpy(want / 16))
    assert r.count == 16 and r.value == pytest.approx(float((want.max(1) / 16).mean()))
    assert torch.equal(r.best_thresholds, thresholds[torch.from_numpy(want.argmax(1))])


def test_quantization_differs_from_the_float_rule():
    # s = 0.501: the float rule keeps it at tau = 0.5 (0.501 > 0.5); quantized, q = floor(127.755)
    # = 127 does not pass floor(0.5 * 255) = 127. Boxes (1, 0)-(2, 0) and (2, 0)-(2, 0) against
    # the ground truth (1, 0)-(3, 0): IoU 2/3 and 1/3.
    m = torch.tensor([[[0.0, 0.501, 1.0, 0.0, 0.0]]], dtype=torch.float64)
    gt = [L([[1, 0, 3, 0]])]
    assert max_box_acc(m, gt, thresholds=[0.5]).value == 1.0
    assert max_box_acc(m, gt, thresholds=[0.5], quantize=True).value == 0.0


def test_max_box_acc_hand_worked():
    # One 6 x 6 map: a 2 x 2 peak (1.0) inside a 4 x 4 plateau (0.4), ground truth the plateau.
    m = torch.zeros(1, 6, 6)
    m[0, 1:5, 1:5] = 0.4
    m[0, 2:4, 2:4] = 1.0
    gt = [L([[1, 1, 4, 4]])]
    r = max_box_acc(m, gt, thresholds=[0.0, 0.3, 0.5, 0.9])
    # tau 0, 0.3: the plateau, IoU 1; tau 0.5, 0.9: the peak, IoU 4/16 = 0.25.
    assert r.curves.tolist() == [[1.0, 1.0, 0.0, 0.0]]
    assert r.best_thresholds.tolist() == [0.0]  # ties go to the smallest threshold
    assert r.value == 1.0 and r.count == 1 and r.iou_thresholds.tolist() == [0.5]


def test_max_box_acc_v2_uses_any_component_and_the_zero_box():
    m = torch.zeros(2, 8, 8)
    m[0, 0:3, 0:3] = 1.0  # the larger blob: MaxBoxAcc's box
    m[0, 6:8, 6:8] = 1.0  # the smaller blob: the ground truth
    m[1] = 0.5  # constant: no foreground, the zero box (0, 0, 0, 0) meets the one-pixel GT
    gt = [L([[6, 6, 7, 7]]), L([[0, 0, 0, 0]])]
    v1 = max_box_acc(m, gt, thresholds=[0.5])
    v2 = max_box_acc_v2(m, gt, thresholds=[0.5])
    assert v1.value == 0.5  # image 0 misses with the larger blob, image 1 hits with the zero box
    assert v2.value == 1.0 and v2.best_accuracy.tolist() == [1.0, 1.0, 1.0]
    assert v2.curves.shape == (3, 1)


def test_threshold_grid_is_choe_arange():
    assert torch.equal(threshold_grid(), torch.from_numpy(np.arange(0, 1, 0.01)))
    assert len(threshold_grid(0.001)) == 1000
    assert torch.equal(BoxAccAccumulator().thresholds, threshold_grid(0.01))


def test_streaming_equals_one_shot():
    maps, gt = random_case(2, 12, 20, 20)
    grid = threshold_grid(0.02)
    one = max_box_acc_v2(maps, gt, thresholds=grid)
    acc = BoxAccAccumulator((0.3, 0.5, 0.7), all_components=True, thresholds=grid)
    for i in range(0, 12, 5):
        acc.update(maps[i : i + 5], gt[i : i + 5])
    assert torch.equal(acc.compute().curves, one.curves)


# --- PxAP -------------------------------------------------------------------------------


def reference_pxap(maps, masks, ignore, thresholds):
    """PxAP by loops over thresholds, pixels pooled over images."""
    s = np.stack([(m - m.min()) / (m.max() - m.min()) if m.max() > m.min() else np.zeros_like(m) for m in maps])
    keep = ~ignore
    pos, neg = s[masks & keep], s[~masks & keep]
    edges = list(thresholds) + [1.0, 2.0]
    tp = [int((pos >= e).sum()) for e in edges]
    fp = [int((neg >= e).sum()) for e in edges]
    value = 0.0
    for j in range(len(edges) - 1):
        if tp[j] + fp[j] > 0:
            value += tp[j] / (tp[j] + fp[j]) * (tp[j] - tp[j + 1]) / tp[0]
    return value


def test_pxap_matches_loop_reference(gen, device):
    maps = torch.from_numpy(smooth_maps(4, 10, 24, 20))
    masks = torch.from_numpy(smooth_maps(5, 10, 24, 20, sigma=3.0) > 0.1) | (maps > 0.3)
    ignore = torch.rand(10, 24, 20, generator=gen) < 0.1
    thresholds = threshold_grid(0.05)
    acc = PxAPAccumulator(thresholds=thresholds)
    acc.update(maps[:4].to(device), masks[:4].to(device), ignore[:4].to(device))
    acc.update(maps[4:].to(device), masks[4:].to(device), ignore[4:].to(device))
    r = acc.compute()
    want = reference_pxap(maps.numpy(), masks.numpy(), ignore.numpy(), thresholds.tolist())
    assert r.value == pytest.approx(want, rel=1e-12)
    assert 0.3 < r.value < 0.95
    assert r.thresholds.tolist() == thresholds.tolist() + [1.0, 2.0]
    assert r.recall[0] == 1.0 and r.recall[-1] == 0.0 and r.precision[-1].isnan()


def test_pxap_hand_worked():
    # s = 0, 0.2, 0.6, 1; mask at 0.2 and 1. Thresholds 0, 0.5, then 1, 2:
    # TP 2, 1, 1, 0; FP 2, 1, 0, 0; precision 1/2, 1/2, 1; recall 1, 1/2, 1/2, 0.
    # PxAP = 1/2 * (1 - 1/2) + 1/2 * (1/2 - 1/2) + 1 * (1/2 - 0) = 0.75.
    s, mask = torch.tensor([[[0.0, 0.2, 0.6, 1.0]]]), torch.tensor([[[False, True, False, True]]])
    r = pxap(s, mask, thresholds=[0.0, 0.5])
    assert r.value == 0.75
    assert r.recall.tolist() == [1.0, 0.5, 0.5, 0.0]
    # Ignoring the 0.6 pixel, the negatives are the 0 pixel alone:
    r = pxap(s, mask, torch.tensor([[[False, False, True, False]]]), thresholds=[0.0, 0.5])
    # TP 2, 1, 1, 0; FP 1, 0, 0, 0; PxAP = 2/3 * (1 - 1/2) + 1 * (1/2 - 1/2) + 1 * (1/2 - 0) = 5/6.
    assert r.value == pytest.approx(5 / 6)
    # A perfect ranking gives 1: every gain in recall comes at precision 1.
    assert pxap(torch.tensor([[[0.0, 0.3, 1.0]]]), torch.tensor([[[False, True, True]]])).value == 1.0


# --- bad input --------------------------------------------------------------------------


def test_bad_input():
    with pytest.raises(ValueError, match=r"`gt_boxes\[1\]` must hold boxes .* but box 0 is \[0, 3, 2, 2\]"):
        gt_known_accuracy(L([[0, 0, 1, 1], [0, 0, 1, 1]]), [L([[0, 0, 1, 1]]), L([[0, 3, 2, 2]])])
    with pytest.raises(ValueError, match=r"`gt_boxes` must hold one LongTensor\[m_i, 4\] per image \(2\), but got 1"):
        gt_known_accuracy(L([[0, 0, 1, 1], [0, 0, 1, 1]]), [L([[0, 0, 1, 1]])])
    with pytest.raises(ValueError, match=r"`gt_boxes` must hold one LongTensor\[m_i, 4\] per image \(3\), but got 2"):
        max_box_acc(torch.rand(3, 5, 5), [L([[0, 0, 1, 1]])] * 2)
    with pytest.raises(TypeError, match=r"`gt_boxes` must be a list of N tensors LongTensor\[m_i, 4\], but got Tensor"):
        gt_known_accuracy(L([[0, 0, 1, 1]]), L([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match=r"`iou_threshold` must be in \(0, 1\], but got 0"):
        gt_known_accuracy(L([[0, 0, 1, 1]]), [L([[0, 0, 1, 1]])], iou_threshold=0)
    with pytest.raises(ValueError, match=r"`iou_thresholds` must be in \(0, 1\], but got 1.5"):
        BoxAccAccumulator((0.5, 1.5))
    with pytest.raises(ValueError, match=r"`iou_thresholds` must not be empty, but got no threshold"):
        BoxAccAccumulator(())
    with pytest.raises(ValueError, match=r"`thresholds` must not be empty, but got no threshold"):
        max_box_acc(torch.rand(1, 5, 5), [L([[0, 0, 1, 1]])], thresholds=[])
    with pytest.raises(ValueError, match=r"`thresholds` must increase strictly within \[0, 1\), but got \[0.5, 0.2\]"):
        PxAPAccumulator(thresholds=[0.5, 0.2])
    with pytest.raises(ValueError, match=r"`thresholds` must increase strictly within \[0, 1\), but got \[0.0, 1.0\]"):
        BoxAccAccumulator(thresholds=[0.0, 1.0])
    with pytest.raises(RuntimeError, match=r"No image was added: call `update\(maps, gt_boxes\)` before `compute\(\)`"):
        BoxAccAccumulator().compute()
    with pytest.raises(ValueError, match=r"PxAP needs at least one ground-truth foreground pixel"):
        pxap(torch.rand(1, 3, 3), torch.zeros(1, 3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"`maps` must be a 3-D tensor \(N, H, W\), but got shape \(1, 1, 3, 3\)"):
        max_box_acc(torch.rand(1, 1, 3, 3), [L([[0, 0, 1, 1]])])
    with pytest.raises(ValueError, match=r"`maps` must hold finite values, but map 1 holds NaN"):
        max_box_acc(torch.tensor([[[0.0]], [[float("nan")]]]), [L([[0, 0, 0, 0]])] * 2)
    with pytest.raises(ValueError, match=r"`masks` must have the shape of `maps` \(1, 3, 3\), but got \(1, 3, 4\)"):
        pxap(torch.rand(1, 3, 3), torch.ones(1, 3, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"`masks` must be a bool tensor, but got torch.int64"):
        pxap(torch.rand(1, 3, 3), torch.ones(1, 3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"`boxes` must have shape \(2, 1, 4\) to match `classes`, but got \(2, 2"):
        localization_hits(L([[1], [1]]), torch.zeros(2, 2, 4, dtype=torch.long), L([1, 1]), [L([[0, 0, 1, 1]])] * 2)
    with pytest.raises(ValueError, match=r"`gt_classes` must have one label per image \(2\), but got 3"):
        classification_error(L([[1], [1]]), L([1, 1, 1]))
    with pytest.raises(ValueError, match=r"`k` must be None or an int in \[1, 2\], but got 3"):
        classification_error(L([[1, 2]]), L([1]), k=3)
    with pytest.raises(ValueError, match=r"`correct` must hold at least one image, but got shape \(0, 1\)"):
        top_k_error(torch.zeros(0, 1, dtype=torch.bool))


def test_shared_labelling_equals_separate_updates():
    """update_box_accuracies: MaxBoxAcc and MaxBoxAccV2 fed by one labelling end as if updated alone."""
    from camlib.metrics.accuracy import update_box_accuracies

    rng = np.random.default_rng(7)
    maps = torch.from_numpy(ndimage.gaussian_filter(rng.standard_normal((12, 20, 24)), (0, 2, 2)))
    gt = [torch.tensor([[2 + i, 3, 12 + i, 15]]) for i in range(12)]
    shared = [
        BoxAccAccumulator((0.5,), quantize=True, chunk_pixels=5000),
        BoxAccAccumulator((0.3, 0.5, 0.7), all_components=True, quantize=True, chunk_pixels=5000),
    ]
    for i in (0, 5):  # two batches
        update_box_accuracies(shared, maps[i : i + 7 if i == 0 else 12], gt[i : i + 7 if i == 0 else 12])
    alone = [
        BoxAccAccumulator((0.5,), quantize=True),
        BoxAccAccumulator((0.3, 0.5, 0.7), all_components=True, quantize=True),
    ]
    for acc in alone:
        acc.update(maps[:7], gt[:7])
        acc.update(maps[5:], gt[5:])
    for a, b in zip(shared, alone):
        assert a.count == b.count == 14 and torch.equal(a.counts, b.counts) and a.counts.sum() > 0
    with pytest.raises(ValueError, match="must share thresholds, quantize"):
        update_box_accuracies([BoxAccAccumulator(), BoxAccAccumulator(quantize=True)], maps, gt)


# --- region_overlap ----------------------------------------------------------------------


def test_region_overlap_by_hand():
    from camlib.metrics.accuracy import region_overlap

    maps = torch.zeros(3, 4, 4)
    maps[0, :2, :2] = 1.0  # region: top-left 2 x 2 (4 px), peak (0, 0)
    maps[1, :2, 1:3] = 2.0  # 2 px shared with map 0, union 6: IoU 1/3; peak (0, 1)
    maps[2] = maps[0] * 5.0  # the same region, scaled: IoU 1, same peak
    maps[2, 3, 3] = 0.5  # 0.5 <= 0.2 * 5 = 1.0: below the threshold, not in the region
    r = region_overlap(maps)
    assert r.iou.dtype == torch.float64 and r.iou.shape == (2,)
    assert r.iou.tolist() == [pytest.approx(1 / 3), 1.0]
    assert r.peak_distance.tolist() == [pytest.approx(1 / 32**0.5), 0.0]  # diagonal sqrt(4² + 4²)
    # a higher threshold keeps only the plateaus: unchanged here
    assert region_overlap(maps, threshold=0.9).iou.tolist() == [pytest.approx(1 / 3), 1.0]


def test_region_overlap_disjoint_empty_and_corner_peaks():
    from camlib.metrics.accuracy import region_overlap

    maps = torch.zeros(3, 3, 5)
    maps[0, 0, 0] = 1.0  # peak at the top-left corner
    maps[1, 2, 4] = 1.0  # disjoint region, peak at the bottom-right: distance sqrt(2² + 4²) / sqrt(3² + 5²)
    # map 2 is all zeros: no region (max <= 0); its peak is its first pixel, (0, 0)
    r = region_overlap(maps)
    assert r.iou.tolist() == [0.0, 0.0]
    assert r.peak_distance.tolist() == [pytest.approx(20**0.5 / 34**0.5), 0.0]
    both_empty = region_overlap(torch.zeros(2, 2, 2))
    assert both_empty.iou.tolist() == [0.0]  # 0 / 0 is defined as 0
    one = region_overlap(torch.rand(1, 4, 4))
    assert one.iou.shape == (0,) and one.peak_distance.shape == (0,)


def test_region_overlap_matches_a_slow_reference(gen):
    from camlib.metrics.accuracy import region_overlap

    maps = torch.rand(5, 7, 9, generator=gen, dtype=torch.float64) ** 3
    r = region_overlap(maps, threshold=0.3)
    for j in range(1, 5):
        a = [(y, x) for y in range(7) for x in range(9) if maps[0, y, x] > 0.3 * maps[0].max()]
        b = [(y, x) for y in range(7) for x in range(9) if maps[j, y, x] > 0.3 * maps[j].max()]
        assert r.iou[j - 1].item() == pytest.approx(len(set(a) & set(b)) / len(set(a) | set(b)))
        pa, pb = divmod(int(maps[0].argmax()), 9), divmod(int(maps[j].argmax()), 9)
        dist = ((pa[0] - pb[0]) ** 2 + (pa[1] - pb[1]) ** 2) ** 0.5 / (7**2 + 9**2) ** 0.5
        assert r.peak_distance[j - 1].item() == pytest.approx(dist)


def test_region_overlap_bad_input():
    from camlib.metrics.accuracy import region_overlap

    with pytest.raises(ValueError, match=r"`maps` must be a 3-D tensor \(k, H, W\), but got shape \(2, 1, 4, 4\)"):
        region_overlap(torch.zeros(2, 1, 4, 4))
    with pytest.raises(TypeError, match="`maps` must have a floating-point dtype, but got torch.int64"):
        region_overlap(torch.zeros(2, 4, 4, dtype=torch.long))
    bad = torch.zeros(2, 4, 4)
    bad[1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="`maps` must hold finite values, but map 1 holds NaN"):
        region_overlap(bad)
    with pytest.raises(ValueError, match="`threshold`"):
        region_overlap(torch.zeros(2, 4, 4), threshold=1.5)


def test_max_box_accs_is_both_metrics_from_one_pass():
    g = torch.Generator().manual_seed(5)
    maps = torch.rand(6, 20, 24, generator=g)
    gt = [torch.tensor([[2, 3, 12, 15]]), torch.tensor([[0, 0, 23, 19], [5, 5, 9, 9]])] * 3
    for quantize in (False, True):
        acc, acc_v2 = camlib.max_box_accs(maps, gt, quantize=quantize)
        one, two = camlib.max_box_acc(maps, gt, quantize=quantize), camlib.max_box_acc_v2(maps, gt, quantize=quantize)
        assert torch.equal(acc.curves, one.curves) and acc.value == one.value
        assert torch.equal(acc_v2.curves, two.curves) and acc_v2.value == two.value
    acc, acc_v2 = camlib.max_box_accs(maps, gt, convention="wsolevaluation")
    assert acc.value == camlib.max_box_acc(maps, gt, convention="wsolevaluation").value
    assert acc_v2.value == camlib.max_box_acc_v2(maps, gt, convention="wsolevaluation").value


def test_max_box_acc_refuses_ground_truth_outside_the_maps_frame():
    from camlib.metrics.accuracy import max_box_acc

    maps = torch.rand(2, 8, 8)
    inside = [torch.tensor([[0, 0, 7, 7]]), torch.tensor([[2, 2, 5, 5]])]
    assert 0.0 <= max_box_acc(maps, inside).value <= 1.0
    photo_frame = [torch.tensor([[0, 0, 7, 7]]), torch.tensor([[20, 10, 99, 60]])]  # the photograph's own pixels
    with pytest.raises(
        ValueError,
        match=r"`gt_boxes` must lie inside the maps' frame \(8 x 8\), but image 1 has the box \[20, 10, 99, 60\]",
    ):
        max_box_acc(maps, photo_frame)
