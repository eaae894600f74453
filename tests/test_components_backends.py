"""camlib.components.backends: one vocabulary of backends, each function's subset, CPU-only ones on the CPU."""

from __future__ import annotations

import pytest
import torch

import camlib
from camlib.components.backends import BACKENDS, CPU_ONLY, check_backend
from camlib.components.labels import LABELLERS


def test_every_function_speaks_the_one_vocabulary():
    assert set(LABELLERS) <= set(BACKENDS) and CPU_ONLY <= set(BACKENDS)
    masks = torch.rand(2, 9, 11, generator=torch.Generator().manual_seed(0)) < 0.4
    # the same boxes from every backend each function accepts
    expected = camlib.boxes_from_masks(masks, backend="scipy")
    for backend in ("auto", "torch", "opencv", "runs"):
        assert torch.equal(camlib.boxes_from_masks(masks, backend=backend), expected), backend
    labels = camlib.components.connected_components(masks, backend="scipy")
    for backend in ("auto", "torch", "opencv"):
        assert torch.equal(camlib.components.connected_components(masks, backend=backend), labels), backend


def test_check_backend_names_the_subset_and_the_device():
    assert check_backend("auto", ("auto", "torch")) == "auto"
    with pytest.raises(
        ValueError,
        match=r"`backend` must be one of \('auto', 'torch', 'scipy', 'opencv', 'runs', 'tree'\), but got 'dense'",
    ):
        check_backend("dense", BACKENDS)
    with pytest.raises(ValueError, match=r"must be one of \('auto', 'runs'\) here, but got 'tree'"):
        check_backend("tree", ("auto", "runs"))
    with pytest.raises(ValueError, match=r"`backend` 'runs' runs on CPU data only, but got data on meta"):
        camlib.boxes_from_masks(torch.zeros(2, 3, 3, dtype=torch.bool, device="meta"), backend="runs")
    with pytest.raises(ValueError, match=r"`backend` must be one of .*, but got 3"):
        check_backend(3, BACKENDS)
