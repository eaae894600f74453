"""The one-pass component tree against a labelling per threshold (scipy.ndimage, loops) on random and real maps."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
from conftest import requires_data
from scipy import ndimage

import camlib
from camlib.components.tree import sweep_best_iou
from camlib.metrics.accuracy import BoxAccAccumulator, threshold_grid, update_box_accuracies


def _iou(a, b) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1) * max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    area_a, area_b = ((c[2] - c[0] + 1) * (c[3] - c[1] + 1) for c in (a, b))
    return inter / (area_a + area_b - inter)


def _reference(values, levels, W, gt, valid, all_components):
    """The obvious way: label every level's mask with scipy, box its components by loops."""
    N, T = levels.shape
    out = np.empty((N, T))
    for i in range(N):
        v = values[i].reshape(-1, W)
        truth = [g for g, ok in zip(gt[i], valid[i]) if ok]
        for t in range(T):
            labels, n = ndimage.label(v > levels[i, t], structure=np.ones((3, 3)))
            boxes = []  # (area, first pixel, box) per component
            for lab in range(1, n + 1):
                ys, xs = np.nonzero(labels == lab)
                first = min(y * W + x for y, x in zip(ys, xs))
                boxes.append((len(ys), first, (xs.min(), ys.min(), xs.max(), ys.max())))
            if not boxes:
                boxes = [(0, 0, (0, 0, 0, 0))]
            elif not all_components:
                boxes = [max(boxes, key=lambda b: (b[0], -b[1]))]  # most pixels, then the first in row-major order
            out[i, t] = max((_iou(b[2], g) for b in boxes for g in truth), default=-1.0)
    return out


def _random_case(rng, N, H, W, kind):
    if kind == "ties":  # few values: many pixels on each level, many equal-area components
        values = rng.integers(0, 4, size=(N, H * W)).astype(float)
    elif kind == "8-bit":  # wsolevaluation's quantized maps: the table lookup path
        values = np.floor(255 * rng.random((N, H * W)) ** 3)
    else:  # smooth, like upsampled CAMs, with noise
        values = np.stack([ndimage.gaussian_filter(rng.random((H, W)), 2).ravel() for _ in range(N)])
        values += 0.02 * rng.random(values.shape)
    top = values.max(axis=1, keepdims=True)
    levels = np.sort(rng.random((N, 7)), axis=1) * top
    levels[:, 0] = 0.0
    G = 3
    x1, y1 = rng.integers(0, W, (N, G)), rng.integers(0, H, (N, G))
    gt = np.stack(
        [
            x1,
            y1,
            np.minimum(x1 + rng.integers(0, W, (N, G)), W - 1),
            np.minimum(y1 + rng.integers(0, H, (N, G)), H - 1),
        ],
        axis=2,
    )
    valid = rng.random((N, G)) < 0.7
    valid[0] = False  # an image with no box: -1 everywhere
    return values, levels, gt, valid


def _seed(shape: tuple[int, int], kind: str) -> int:
    """A seed per case that every process agrees on (``hash`` of a str changes per process: PYTHONHASHSEED)."""
    return zlib.crc32(f"{shape}/{kind}".encode())


def test_case_seeds_are_the_same_in_every_process():
    assert _seed((9, 13), "ties") == 542902026  # crc32 of "(9, 13)/ties"
    assert len({_seed(s, k) for s in [(1, 1), (1, 9)] for k in ["ties", "8-bit"]}) == 4


@pytest.mark.parametrize("all_components", [False, True])
@pytest.mark.parametrize("kind", ["ties", "8-bit", "smooth"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (7, 1), (9, 13), (16, 16)])
def test_matches_a_labelling_per_level_on_random_maps(shape, kind, all_components):
    rng = np.random.default_rng(_seed(shape, kind))
    values, levels, gt, valid = _random_case(rng, 6, *shape, kind)
    got = sweep_best_iou(values, levels, shape[1], gt, valid)[int(all_components)]
    np.testing.assert_array_equal(got, _reference(values, levels, shape[1], gt, valid, all_components))
    assert (got[0] == -1).all()


def test_hand_made_levels():
    # 4 x 4. Level 0: five pixels joined along the diagonal, and the lone 1 at (1, 3); level 1: two 2-pixel
    # blobs tie on area, the first in row-major order wins; level 2: one pixel; level 3: nothing, box (0, 0, 0, 0).
    v = np.array([[2, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 3], [0, 1, 0, 2]], dtype=float).ravel()[None]
    levels = np.array([[0.0, 1.0, 2.0, 3.0]])
    gt = np.array([[[0, 0, 1, 0]]])  # the top-left blob
    largest = sweep_best_iou(v, levels, 4, gt, np.array([[True]]))[0]
    # level 0: box (0, 0)-(3, 3), 2/16; level 1: the top-left blob (tie, first pixel 0), 1;
    # level 2: the 3 at (3, 2), IoU 0; level 3: (0, 0, 0, 0) against (0, 0, 1, 0), 1/2.
    np.testing.assert_array_equal(largest, [[2 / 16, 1.0, 0.0, 0.5]])
    gt = np.array([[[3, 2, 3, 3]]])  # the right blob: V2 finds it at level 1, MaxBoxAcc does not
    v2 = sweep_best_iou(v, levels, 4, gt, np.array([[True]]))[1]
    np.testing.assert_array_equal(v2, [[2 / 16, 1.0, 0.5, 0.0]])


def test_bad_input():
    with pytest.raises(ValueError, match=r"`values` must hold maps of H \* 4 pixels, but got 6"):
        sweep_best_iou(np.zeros((1, 6)), np.zeros((1, 2)), 4, np.zeros((1, 1, 4)), np.ones((1, 1), bool))
    with pytest.raises(ValueError, match=r"`levels` must be non-decreasing rows"):
        sweep_best_iou(np.zeros((1, 8)), np.array([[0.5, 0.1]]), 4, np.zeros((1, 1, 4)), np.ones((1, 1), bool))


def _accumulate(maps, gt_boxes, backend, quantize, thresholds):
    accs = [
        BoxAccAccumulator((0.5,), thresholds=thresholds, quantize=quantize, backend=backend),
        BoxAccAccumulator(
            (0.3, 0.5, 0.7), all_components=True, thresholds=thresholds, quantize=quantize, backend=backend
        ),
    ]
    update_box_accuracies(accs, maps, gt_boxes)
    return [acc.compute() for acc in accs]


@pytest.mark.parametrize("quantize", [False, True])
def test_accumulators_agree_with_labelling_backends(quantize):
    g = torch.Generator().manual_seed(3)
    maps = torch.nn.functional.interpolate(
        torch.rand(12, 1, 7, 7, generator=g), size=(40, 48), mode="bilinear", align_corners=False
    )[:, 0].double()
    maps[3] = 0.5  # a constant map: nothing is foreground
    gt_boxes = []  # the box around each map's top 30% (a crude object), shifted by 0-3 pixels
    for i, m in enumerate(maps):
        ys, xs = torch.nonzero(m > m.min() + 0.7 * (m.max() - m.min()) if i != 3 else m == m, as_tuple=True)
        box = torch.stack([xs.min(), ys.min(), xs.max(), ys.max()]) + i % 4
        gt_boxes.append(torch.minimum(box, torch.tensor([47, 39, 47, 39]))[None])
    grid = threshold_grid(0.01)
    tree = _accumulate(maps, gt_boxes, "tree", quantize, grid)
    for backend in ("scipy", "opencv"):
        for a, b in zip(tree, _accumulate(maps, gt_boxes, backend, quantize, grid)):
            assert torch.equal(a.curves, b.curves) and a.value == b.value
    assert _accumulate(maps, gt_boxes, "auto", quantize, grid)[1].value == tree[1].value
    assert 0.0 < tree[0].value < 1.0  # the comparison is not between two empty results


def test_unknown_backend_is_named():
    with pytest.raises(
        ValueError,
        match=r"`backend` must be one of \('auto', 'torch', 'scipy', 'opencv', 'runs', 'tree'\), but got 'fast'",
    ):
        BoxAccAccumulator(backend="fast")
    with pytest.raises(
        ValueError, match=r"must be one of \('auto', 'torch', 'scipy', 'opencv', 'tree'\) here, but got 'runs'"
    ):
        BoxAccAccumulator(backend="runs")


WEIGHTS = "weights/squeezenet1_0-deepcompression-caffe.pth"


@requires_data(WEIGHTS, "cam-samples/test.jpg", "cam-samples/img1.jpg", "cam-samples/img2.jpg")
@pytest.mark.realdata
def test_real_cams_every_threshold():
    """SqueezeNet's CAMs of the three sample photos, each photo's top-5 classes: the tree equals scipy at all 100."""
    from camlib.data import find_data, read_image

    net = camlib.load_pretrained("squeezenet1_0", find_data(WEIGHTS))
    images = [read_image(find_data(f"cam-samples/{name}")) for name in ("test.jpg", "img1.jpg", "img2.jpg")]
    batch = camlib.Preprocess(227, "caffe").batch(images)
    top = net(batch).topk(5, dim=1).indices
    maps = camlib.compute_cams(net, batch, top).maps.flatten(0, 1)  # (15, 13, 13)
    maps = torch.nn.functional.interpolate(maps[:, None], size=(224, 224), mode="bilinear")[:, 0].detach()
    gt_boxes = [torch.tensor([[40, 30, 180, 200], [0, 0, 90, 90]])] * len(maps)
    for quantize in (False, True):
        tree = _accumulate(maps, gt_boxes, "tree", quantize, threshold_grid(0.01))
        scipy_ = _accumulate(maps, gt_boxes, "scipy", quantize, threshold_grid(0.01))
        for a, b in zip(tree, scipy_):
            assert torch.equal(a.curves, b.curves)
        assert tree[1].curves.max() > 0
