"""Uncertainty of a difference between two methods scored on the same images.

``paired_bootstrap`` resamples the images (Efron and Tibshirani 1993): both
methods' per-image scores are drawn with the same indices, so that the
interval reflects how much the difference, not each method's accuracy,
depends on which images were sampled.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["PairedBootstrap", "paired_bootstrap"]


class PairedBootstrap(NamedTuple):
    """What ``paired_bootstrap`` returns (fractions, not percent).

    Attributes:
        difference: ``mean(a) - mean(b)`` on the images as given.
        low, high: the percentile interval of the resampled differences at ``level``.
        std_error: the standard deviation of the resampled differences.
        share_positive: the share of resamples whose difference is > 0.
        resamples, level: as asked.
    """

    difference: float
    low: float
    high: float
    std_error: float
    share_positive: float
    resamples: int
    level: float


def _as_vector(name: str, value: object) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().double().numpy()
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D (one score per image), but got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` must hold finite scores, but holds NaN or infinity.")
    return array


def paired_bootstrap(
    a: Tensor | np.ndarray,
    b: Tensor | np.ndarray,
    *,
    resamples: int = 10000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedBootstrap:
    """The difference of two methods' mean per-image scores, with a paired bootstrap interval.

    Each resample draws ``N`` image indices uniformly with replacement
    (``numpy.random.Generator(PCG64(seed))``) and computes
    ``mean(a[idx]) - mean(b[idx])`` with the same ``idx`` for both; the
    interval is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of
    those differences (numpy's default linear interpolation).

    Args:
        a, b: ``N`` per-image scores each (e.g. 1.0 for a correct
            classification, 0.0 for a wrong one), for the same images in the same order.
        resamples: the number of bootstrap resamples, >= 1.
        level: the interval's coverage, in (0, 1).
        seed: the resampling's seed.

    Returns:
        ``PairedBootstrap``.

    Raises:
        ValueError: ``a`` and ``b`` differ in length, are empty, not 1-D or
            not finite; ``resamples`` or ``level`` out of range.

    Example:
        >>> a = torch.tensor([1.0, 1.0, 0.0, 1.0])
        >>> r = paired_bootstrap(a, a)                  # identical methods: no difference at all
        >>> r.difference, r.low, r.high, r.share_positive
        (0.0, 0.0, 0.0, 0.0)
        >>> paired_bootstrap(torch.ones(5), torch.zeros(5)).low   # always better, on every resample
        1.0
    """
    x, y = _as_vector("a", a), _as_vector("b", b)
    if len(x) != len(y):
        raise ValueError(f"`a` and `b` must score the same images, but got {len(x)} and {len(y)} scores.")
    if len(x) == 0:
        raise ValueError("`a` and `b` must hold at least one score each, but got none.")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"`resamples` must be an int >= 1, but got {resamples!r}.")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"`level` must be a number in (0, 1), but got {level!r}.")
    d = x - y  # (N,): the per-image difference; the mean of a resample is its difference of means
    rng = np.random.Generator(np.random.PCG64(seed))
    n = len(d)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // n)  # about 16 MB of indices at a time
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))  # (r, N)
        means[start:stop] = d[idx].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return PairedBootstrap(
        difference=float(d.mean()),
        low=float(low),
        high=float(high),
        std_error=float(means.std()),
        share_positive=float((means > 0).mean()),
        resamples=resamples,
        level=float(level),
    )

