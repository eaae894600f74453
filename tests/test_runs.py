"""camlib.components.runs: the largest component's box by a union-find over runs, against scipy labelling with loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_components import smooth_maps, snake, spiral
from test_pipeline import _loop_largest_box

import camlib
from camlib.components.runs import largest_component_boxes


@pytest.mark.parametrize("density", [0.05, 0.3, 0.45, 0.59, 0.75, 1.0])
@pytest.mark.parametrize("shape", [(30, 23, 31), (12, 1, 17), (12, 17, 1), (6, 2, 2), (3, 64, 3)])
def test_equals_a_loop_on_noise(density, shape):
    rng = np.random.default_rng(int(density * 100) + shape[1])
    masks = rng.random(shape) < density
    expected = np.array([_loop_largest_box(m) for m in masks])
    np.testing.assert_array_equal(largest_component_boxes(masks), expected)


def test_smooth_maps_long_components_ties_and_empty_masks():
    masks = smooth_maps(7, 20, 64, 48) > 0.2
    np.testing.assert_array_equal(largest_component_boxes(masks), [_loop_largest_box(m) for m in masks])
    for shape in (spiral(48), snake(40, 48), spiral(48).T, snake(40, 48)[::-1]):
        np.testing.assert_array_equal(largest_component_boxes(shape[None]), [_loop_largest_box(shape)])
    ties = np.zeros((4, 8, 8), bool)
    ties[0, 5:7, 0:2] = ties[0, 0:2, 5:7] = True  # two 2 x 2 blocks: the first pixel (row 0) wins
    ties[1, 3, 7] = ties[1, 4, 0] = True  # two single pixels on neighbouring rows, not touching
    ties[2, 0, 1] = ties[2, 1, 0] = True  # touching at a corner: one component
    assert largest_component_boxes(ties).tolist() == [[5, 0, 6, 1], [7, 3, 7, 3], [0, 0, 1, 1], [0, 0, 0, 0]]


def test_threads_do_not_change_the_result():
    masks = np.random.default_rng(0).random((40, 31, 29)) < 0.55
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = largest_component_boxes(masks)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(largest_component_boxes(masks), one)
    np.testing.assert_array_equal(largest_component_boxes(masks[:, ::-1][:, ::-1]), one)  # strided input


def test_boxes_from_masks_takes_it_on_the_cpu_and_agrees_with_the_labelling_backends():
    masks = torch.from_numpy(smooth_maps(3, 6, 40, 36).reshape(2, 3, 40, 36) > 0.1)  # leading dimensions kept
    runs = camlib.boxes_from_masks(masks, backend="runs")
    assert torch.equal(camlib.boxes_from_masks(masks), runs)
    for backend in ("scipy", "opencv", "torch"):
        assert torch.equal(camlib.boxes_from_masks(masks, backend=backend), runs)
    assert runs.shape == (2, 3, 4)


def test_bad_input():
    with pytest.raises(ValueError, match="`masks` must be \\(B, H, W\\)"):
        largest_component_boxes(np.zeros((4, 4), bool))
    assert largest_component_boxes(np.zeros((0, 4, 4), bool)).shape == (0, 4)
