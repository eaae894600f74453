"""Tests of camlib.components.labels: 8-connected labelling on both backends, and per-component statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

import camlib.components.labels as components
from camlib.components.labels import component_stats, connected_components, measure_components


def reference_labels(mask: np.ndarray) -> np.ndarray:
    """The slow, obvious reference: scipy on one map, then each component renamed by a loop."""
    raw, n = ndimage.label(mask, structure=np.ones((3, 3)))
    out = np.zeros(mask.shape, dtype=np.int64)
    W = mask.shape[1]
    for k in range(1, n + 1):
        ys, xs = np.nonzero(raw == k)  # row-major order: the first is the first pixel
        out[raw == k] = ys[0] * W + xs[0] + 1
    return out


def smooth_maps(seed: int, n: int, H: int, W: int, sigma: float = 1.5) -> np.ndarray:
    """``n`` maps of gaussian-blurred white noise, ``(n, H, W)``."""
    noise = np.random.default_rng(seed).standard_normal((n, H, W))
    return ndimage.gaussian_filter(noise, sigma=(0, sigma, sigma), mode="wrap")


def spiral(n: int) -> np.ndarray:
    """A one-pixel-wide square spiral with one-pixel walls: a single component of geodesic length ~n^2/2."""
    mask = np.zeros((n, n), dtype=bool)
    y = x = d = 0
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    mask[0, 0] = True
    turns = 0
    while turns < 2:
        dy, dx = steps[d]
        ny, nx, ay, ax = y + dy, x + dx, y + 2 * dy, x + 2 * dx
        inside = 0 <= ny < n and 0 <= nx < n
        free_ahead = not (0 <= ay < n and 0 <= ax < n) or not mask[ay, ax]
        if inside and not mask[ny, nx] and free_ahead:
            y, x, turns = ny, nx, 0
            mask[y, x] = True
        else:
            d, turns = (d + 1) % 4, turns + 1
    return mask


def snake(H: int, W: int) -> np.ndarray:
    """Full rows joined at alternating ends: one component, geodesic length ~H * W / 2."""
    mask = np.zeros((H, W), dtype=bool)
    mask[::2] = True
    for i, row in enumerate(range(1, H, 2)):
        mask[row, W - 1 if i % 2 == 0 else 0] = True
    return mask


BACKENDS = ["torch", "scipy", "opencv"]


# --- hand-made cases --------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_made_cases(backend, device):
    if backend == "opencv" and device != "cpu":
        pytest.skip("OpenCV labels CPU masks only")

    def label(rows):
        return connected_components(torch.tensor(rows, dtype=torch.bool, device=device), backend=backend).tolist()

    # Diagonal neighbours are connected (8-connectivity): one component, first pixel (0, 0) -> 1.
    assert label([[1, 0, 0], [0, 1, 0], [0, 0, 1]]) == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    # An anti-diagonal: its first pixel is (x=2, y=0) -> 1 + 2 = 3.
    assert label([[0, 0, 1], [0, 1, 0], [1, 0, 0]]) == [[0, 0, 3], [0, 3, 0], [3, 0, 0]]
    # A ring with a pixel in its hole: two components; the inner one starts at (2, 2) -> 1 + 2 * 5 + 2 = 13.
    ring = [[1, 1, 1, 1, 1], [1, 0, 0, 0, 1], [1, 0, 1, 0, 1], [1, 0, 0, 0, 1], [1, 1, 1, 1, 1]]
    got = label(ring)
    assert got[2][2] == 13 and {v for row in got for v in row} == {0, 1, 13}
    # One pixel at (x=3, y=1) of a 2 x 4 map: 1 + 1 * 4 + 3 = 8.
    assert label([[0, 0, 0, 0], [0, 0, 0, 1]]) == [[0, 0, 0, 0], [0, 0, 0, 8]]
    # Full and empty maps, 1 x 1 maps.
    assert label([[1, 1], [1, 1]]) == [[1, 1], [1, 1]]
    assert label([[0, 0], [0, 0]]) == [[0, 0], [0, 0]]
    assert label([[1]]) == [[1]] and label([[0]]) == [[0]]
    # A row and a column: runs split by a gap.
    assert label([[1, 1, 0, 1]]) == [[1, 1, 0, 4]]
    assert label([[1], [0], [1], [1]]) == [[1], [0], [3], [3]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_keeps_maps_apart(backend):
    # Two 1 x 2 maps side by side in memory: (0, 1) of map 0 and (0, 0) of map 1 are not neighbours.
    masks = torch.tensor([[[False, True]], [[True, False]]])
    assert connected_components(masks, backend=backend).tolist() == [[[0, 2]], [[1, 0]]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_leading_dimensions_and_empty_batch(backend):
    masks = torch.from_numpy(smooth_maps(0, 6, 9, 7) > 0).reshape(2, 3, 9, 7)
    got = connected_components(masks, backend=backend)
    assert got.shape == (2, 3, 9, 7) and got.dtype == torch.long
    for i in range(2):
        for j in range(3):
            assert np.array_equal(got[i, j].numpy(), reference_labels(masks[i, j].numpy()))
    assert connected_components(torch.zeros(0, 4, 5, dtype=torch.bool), backend=backend).shape == (0, 4, 5)


# --- agreement with the reference on random smooth maps ---------------------------------

SIZES = [(1, 1), (1, 17), (13, 1), (7, 13), (32, 32), (64, 48)]
LEVELS = [-0.3, 0.0, 0.15, 0.35]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_backends_agree_with_reference_on_smooth_maps(size, device):
    # 12 maps x 4 levels x 6 sizes = 288 masks per device, each compared pixel for pixel.
    H, W = size
    maps = torch.from_numpy(smooth_maps(H * 100 + W, 12, H, W, sigma=1.5 if min(H, W) > 1 else 0.7))
    masks = torch.stack([maps > level for level in LEVELS], dim=1)  # (12, 4, H, W)
    want = np.stack([[reference_labels(m) for m in row] for row in masks.numpy()])
    masks = masks.to(device)
    got_torch = connected_components(masks, backend="torch")
    got_auto = connected_components(masks)  # scipy on the CPU, torch elsewhere
    assert got_torch.device == masks.device
    assert np.array_equal(got_torch.cpu().numpy(), want)
    assert np.array_equal(got_auto.cpu().numpy(), want)
    if device == "cpu":
        assert np.array_equal(connected_components(masks, backend="scipy").numpy(), want)
        assert np.array_equal(connected_components(masks, backend="opencv").numpy(), want)


def test_labels_do_not_depend_on_batch_neighbours():
    masks = torch.from_numpy(smooth_maps(7, 5, 20, 30) > 0.1)
    whole = connected_components(masks, backend="torch")
    for i in range(5):
        assert torch.equal(whole[i], connected_components(masks[i], backend="torch"))


# --- convergence on adversarial shapes --------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [spiral(64), spiral(64)[::-1, ::-1], snake(64, 64), snake(64, 64)[::-1], snake(64, 64).T],
    ids=["spiral", "spiral-reversed", "snake", "snake-flipped", "snake-transposed"],
)
def test_long_components_converge_in_few_iterations(shape, monkeypatch):
    # Each iteration of the torch backend calls _min3x3 once; plain propagation would need
    # one iteration per pixel of the path (the spiral's is ~2,000 long, the snake's ~2,100).
    mask = np.ascontiguousarray(shape)
    calls = []
    original = components._min3x3
    monkeypatch.setattr(components, "_min3x3", lambda x, fill: calls.append(1) or original(x, fill))
    got = connected_components(torch.from_numpy(mask), backend="torch")
    assert np.array_equal(got.numpy(), reference_labels(mask))
    assert (got > 0).sum() == mask.sum() and len(torch.unique(got[got > 0])) == 1
    assert len(calls) <= 12


# --- component statistics ---------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_component_stats_hand_worked(backend):
    masks = torch.tensor(
        [
            [[1, 1, 0, 0], [0, 0, 0, 1], [1, 0, 1, 1]],  # {(0,0),(1,0)}; {(3,1),(2,2),(3,2)}; {(0,2)}
            [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],  # nothing
        ],
        dtype=torch.bool,
    )
    s = component_stats(connected_components(masks, backend=backend))
    assert s.map_index.tolist() == [0, 0, 0]
    assert s.label.tolist() == [1, 8, 9]  # first pixels 0, 1 * 4 + 3 = 7, 2 * 4 + 0 = 8, plus 1
    assert s.area.tolist() == [2, 3, 1]
    assert s.box.tolist() == [[0, 0, 1, 0], [2, 1, 3, 2], [0, 2, 0, 2]]


def test_component_stats_against_loops():
    masks = torch.from_numpy(smooth_maps(3, 10, 24, 31) > 0.05)
    labels = connected_components(masks)
    s = component_stats(labels)
    rows = []
    for b, lab in enumerate(labels.numpy()):
        for k in np.unique(lab[lab > 0]):
            ys, xs = np.nonzero(lab == k)
            rows.append([b, k, len(ys), xs.min(), ys.min(), xs.max(), ys.max()])
    got = torch.cat([s.map_index[:, None], s.label[:, None], s.area[:, None], s.box], dim=1)
    assert got.tolist() == rows


@pytest.mark.parametrize("backend", ["auto", "scipy", "torch", "opencv"])
@pytest.mark.parametrize("density", [0.0, 0.3, 0.6, 1.0])
def test_measure_components_equals_label_then_measure(backend, density):
    rng = np.random.default_rng(int(density * 10))
    masks = torch.from_numpy(rng.random((2, 3, 9, 13)) < density)  # leading dims, empty and full maps
    masks[0, 1] = False
    masks[1, 2, 4, 6] = True  # a lone pixel
    got = measure_components(masks, backend=backend)
    want = component_stats(connected_components(masks, backend="torch"))
    for a, b, name in zip(got, want, want._fields):
        assert a.dtype == torch.long and torch.equal(a, b), name


def test_measure_components_on_smooth_maps_matches_loops():
    masks = torch.from_numpy(smooth_maps(5, 40, 33, 27) > 0.1)
    got = measure_components(masks)
    want = component_stats(connected_components(masks, backend="scipy"))
    assert all(torch.equal(a, b) for a, b in zip(got, want)) and len(got.area) > 40


@pytest.mark.parametrize("density", [0.2, 0.45, 0.5, 0.6])
def test_opencv_agrees_with_scipy_on_noise(density):
    """Pixel noise near the percolation threshold: thousands of components of every shape, first pixels anywhere."""
    masks = torch.from_numpy(np.random.default_rng(int(density * 100)).random((6, 61, 47)) < density)
    want = measure_components(masks, backend="scipy")
    got = measure_components(masks, backend="opencv")
    assert len(want.area) > 30
    for a, b, name in zip(got, want, want._fields):
        assert a.dtype == torch.long and torch.equal(a, b), name
    assert torch.equal(connected_components(masks, backend="opencv"), connected_components(masks, backend="scipy"))


def test_measure_components_when_scipy_numbers_out_of_order(monkeypatch):
    """The sort fallback: labels not numbered in first-pixel order still give first-pixel labels."""
    from scipy import ndimage as nd

    real = nd.label

    def reversed_label(masks, structure):
        raw, n = real(masks, structure=structure)
        return np.where(raw > 0, n + 1 - raw, 0), n

    monkeypatch.setattr(nd, "label", reversed_label)
    masks = torch.tensor([[[1, 0, 1], [0, 0, 0], [1, 0, 1]]], dtype=torch.bool)
    s = measure_components(masks, backend="scipy")
    assert s.label.tolist() == [1, 3, 7, 9] and s.box[:, :2].tolist() == [[0, 0], [2, 0], [0, 2], [2, 2]]
    assert connected_components(masks, backend="scipy")[0].tolist() == [[1, 0, 3], [0, 0, 0], [7, 0, 9]]


# --- bad input --------------------------------------------------------------------------


def test_bad_input():
    with pytest.raises(TypeError, match=r"`masks` must be a bool tensor, but got torch.float32"):
        connected_components(torch.zeros(3, 3))
    with pytest.raises(TypeError, match=r"`masks` must be a bool tensor, but got torch.float32"):
        measure_components(torch.zeros(3, 3))
    with pytest.raises(
        ValueError,
        match=r"`backend` must be one of \('auto', 'torch', 'scipy', 'opencv', 'runs', 'tree'\), but got 'cv2'",
    ):
        measure_components(torch.zeros(3, 3, dtype=torch.bool), backend="cv2")
    with pytest.raises(ValueError, match=r"`backend` 'opencv' runs on CPU data only, but got data on meta"):
        connected_components(torch.zeros(3, 3, dtype=torch.bool, device="meta"), backend="opencv")
    with pytest.raises(TypeError, match=r"`masks` must be a torch.Tensor, but got ndarray"):
        connected_components(np.zeros((3, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"`masks` must have at least 2 dimensions \(..., H, W\), but got shape \(3,"):
        connected_components(torch.zeros(3, dtype=torch.bool))
    with pytest.raises(
        ValueError,
        match=r"`backend` must be one of \('auto', 'torch', 'scipy', 'opencv', 'runs', 'tree'\), but got 'cuda'",
    ):
        connected_components(torch.zeros(3, 3, dtype=torch.bool), backend="cuda")
    with pytest.raises(
        ValueError, match=r"`backend` must be one of \('auto', 'torch', 'scipy', 'opencv'\) here, but got 'runs'"
    ):
        connected_components(torch.zeros(3, 3, dtype=torch.bool), backend="runs")  # boxes only: no labels
    with pytest.raises(TypeError, match=r"`labels` must have an integer dtype, but got torch.bool"):
        component_stats(torch.zeros(3, 3, dtype=torch.bool))
