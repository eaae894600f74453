"""Tests of camlib.stats: the paired bootstrap against a slow, obvious reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camlib.stats import paired_bootstrap


def _reference(a, b, resamples, level, seed):
    """One resample at a time: draw N indices, the difference of the two means."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = len(a)
    chunk = max(1, 2_000_000 // n)
    rng = np.random.Generator(np.random.PCG64(seed))
    diffs = []
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        for row in idx:
            diffs.append(a[row].mean() - b[row].mean())
    diffs = np.array(diffs)
    return diffs, np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])


def test_matches_the_slow_reference():
    g = torch.Generator().manual_seed(3)
    a = (torch.rand(300, generator=g) < 0.7).double()
    b = (torch.rand(300, generator=g) < 0.6).double()
    r = paired_bootstrap(a, b, resamples=2000, level=0.9, seed=5)
    diffs, (low, high) = _reference(a.numpy(), b.numpy(), 2000, 0.9, 5)
    assert r.difference == pytest.approx(a.mean().item() - b.mean().item())
    assert r.low == pytest.approx(low) and r.high == pytest.approx(high)
    assert r.std_error == pytest.approx(diffs.std()) and r.share_positive == pytest.approx((diffs > 0).mean())
    assert r.low < r.difference < r.high


def test_hand_worked_cases():
    # one image: every resample is that image, so the interval is a point
    r = paired_bootstrap([1.0], [0.0], resamples=50)
    assert (r.difference, r.low, r.high, r.std_error, r.share_positive) == (1.0, 1.0, 1.0, 0.0, 1.0)
    # a wins on image 0, b on image 1: differences +1 and -1, resampled means in {-1, 0, 1}
    r = paired_bootstrap([1.0, 0.0], [0.0, 1.0], resamples=4000, seed=1)
    assert r.difference == 0.0 and r.low == -1.0 and r.high == 1.0
    assert r.share_positive == pytest.approx(0.25, abs=0.03)  # both draws image 0: 1/4
    # pairing matters: the same scores shifted by one image agree on every image -> no spread
    x = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    assert paired_bootstrap(x, x - 0.5).std_error == pytest.approx(0.0, abs=1e-12)


def test_refuses_bad_input():
    with pytest.raises(ValueError, match=r"`a` and `b` must score the same images, but got 3 and 2 scores"):
        paired_bootstrap([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match=r"must hold at least one score each"):
        paired_bootstrap([], [])
    with pytest.raises(ValueError, match=r"`b` must hold finite scores"):
        paired_bootstrap([1.0], [float("nan")])
    with pytest.raises(ValueError, match=r"`level` must be a number in \(0, 1\), but got 1.5"):
        paired_bootstrap([1.0], [0.0], level=1.5)
    with pytest.raises(ValueError, match=r"`a` must be 1-D \(one score per image\), but got shape \(1, 2\)"):
        paired_bootstrap([[1.0, 0.0]], [1.0, 0.0])
