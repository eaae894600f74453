"""Uncertainty of a difference: paired bootstrap over images, t intervals over seeds, trends across levels.

``paired_bootstrap`` resamples the images (Efron and Tibshirani 1993): both
methods' per-image scores are drawn with the same indices, so that the
interval reflects how much the difference, not each method's accuracy,
depends on which images were sampled. ``seed_interval`` is the t interval of
a mean over independent runs (seeds). ``proportion_interval`` is Wilson's
interval of a share, ``trend`` a slope across levels with a paired bootstrap.
The book turns these intervals into verdicts (``camlib.book.verdicts``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch  # noqa: F401 (the examples use it)
from torch import Tensor

__all__ = [
    "Interval",
    "PairedBootstrap",
    "paired_bootstrap",
    "proportion_interval",
    "seed_interval",
    "trend",
    "two_level_bootstrap",
]


class PairedBootstrap(NamedTuple):
    """What ``paired_bootstrap`` returns (fractions, not percent).

    Attributes:
        difference: ``mean(a) - mean(b)`` on the images as given.
        low, high: the percentile interval of the resampled differences at ``level``.
        std_error: the standard deviation of the resampled differences.
        share_positive: the share of resamples whose difference is > 0.
        resamples, level: as asked.
        units: how many independent units were resampled (images, or clusters with ``clusters=``).
        unit: what a unit is ("photos", "images", "scene classes"), as the caller named it; empty when unnamed.
    """

    difference: float
    low: float
    high: float
    std_error: float
    share_positive: float
    resamples: int
    level: float
    units: int = 0
    unit: str = ""


def _as_vector(name: str, value: object) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().double().numpy()
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D (one score per image), but got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` must hold finite scores, but holds NaN or infinity.")
    return array


def _summary(difference: float, means: np.ndarray, level: float, units: int, unit: str) -> PairedBootstrap:
    """A bootstrap's result from its estimate and its resampled means: the percentile interval at ``level``."""
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return PairedBootstrap(
        difference=difference,
        low=float(low),
        high=float(high),
        std_error=float(means.std()),
        share_positive=float((means > 0).mean()),
        resamples=len(means),
        level=float(level),
        units=units,
        unit=unit,
    )


def paired_bootstrap(
    a: Tensor | np.ndarray,
    b: Tensor | np.ndarray,
    *,
    resamples: int = 10000,
    level: float = 0.95,
    seed: int = 0,
    clusters: Tensor | np.ndarray | Sequence | None = None,
    unit: str = "",
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
        clusters: ``N`` labels, one per score, when the scores are not independent (several classes of one
            photo, several questions of one image): the bootstrap then resamples the clusters, not the scores
            (a cluster bootstrap: each resample draws ``G`` of the ``G`` clusters with replacement and takes
            the mean over every score of the drawn clusters), so that the interval counts the independent units.
        unit: what an independent unit is, for the reader and the rule ("photos"); ``camlib.book.verdicts.verdict``
            reads a bootstrap over fewer than 20 named units as *not resolved*.

    Returns:
        ``PairedBootstrap``.

    Raises:
        ValueError: ``a`` and ``b`` differ in length, are empty, not 1-D or
            not finite; ``resamples`` or ``level`` out of range; ``clusters`` not one label per score.

    Example:
        >>> a = torch.tensor([1.0, 1.0, 0.0, 1.0])
        >>> r = paired_bootstrap(a, a)                  # identical methods: no difference at all
        >>> r.difference, r.low, r.high, r.share_positive
        (0.0, 0.0, 0.0, 0.0)
        >>> paired_bootstrap(torch.ones(5), torch.zeros(5)).low   # always better, on every resample
        1.0
        >>> r = paired_bootstrap(torch.tensor([1.0, 1.0, 0.0]), torch.zeros(3), clusters=[0, 0, 1], unit="photos")
        >>> r.units, r.unit, round(r.difference, 3)      # two photos, not three scores
        (2, 'photos', 0.667)
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
    if not isinstance(unit, str):
        raise ValueError(f"`unit` must be a str naming the resampled units, but got {unit!r}.")
    d = x - y  # (N,): the per-image difference; the mean of a resample is its difference of means
    rng = np.random.Generator(np.random.PCG64(seed))
    sums, counts = d, np.ones_like(d)  # per unit: the sum of its differences and how many it holds
    if clusters is not None:
        labels = np.asarray(clusters.detach().cpu() if isinstance(clusters, Tensor) else clusters)
        if labels.shape != d.shape:
            raise ValueError(f"`clusters` must hold one label per score ({len(d)}), but got shape {labels.shape}.")
        _, which = np.unique(labels, return_inverse=True)
        sums = np.bincount(which, weights=d)
        counts = np.bincount(which).astype(np.float64)
    n = len(sums)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // n)  # about 16 MB of indices at a time
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))  # (r, units)
        if clusters is None:  # one score per unit: the plain mean
            means[start:stop] = d[idx].mean(axis=1)
        else:  # the mean over every score of the drawn clusters
            means[start:stop] = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    return _summary(float(d.mean()), means, level, n, unit)


class Interval(NamedTuple):
    """An estimate with its interval, in the units of the measurement (e.g. points of percent).

    Attributes:
        estimate: the point estimate.
        low, high: the interval's ends (``low <= estimate <= high`` for the intervals made here).
        level: the interval's coverage (0.95), or NaN when there is no interval (a single run).
        n: how many independent units (runs, images, photos) it rests on; 0 when not said.
        unit: what those units are ("seeds", "photos", "scene classes"); empty when not said. The verdict rule
            reads an interval over fewer than 3 seeds, or fewer than 20 of any other named unit, as *not
            resolved* (``camlib.book.verdicts``).
    """

    estimate: float
    low: float
    high: float
    level: float = 0.95
    n: int = 0
    unit: str = ""

    def scaled(self, factor: float) -> Interval:
        """The same interval in other units (e.g. ``100`` to turn fractions into percent)."""
        return Interval(self.estimate * factor, self.low * factor, self.high * factor, self.level, self.n, self.unit)

    @classmethod
    def from_bootstrap(cls, b: PairedBootstrap, n: int = 0, factor: float = 100.0) -> Interval:
        """A ``paired_bootstrap`` result as an interval, in percent points by default.

        ``n`` is the bootstrap's own count of units (``units``) unless given; the unit is the bootstrap's
        (``paired_bootstrap(unit=...)``), so that the rule counts it.
        """
        return cls(b.difference, b.low, b.high, b.level, n or (b.units if b.unit else 0), b.unit).scaled(factor)

    def __str__(self) -> str:
        if math.isnan(self.low) or math.isnan(self.high):
            return f"{self.estimate:+.1f} (no interval)"
        return f"{self.estimate:+.1f} ({self.level:.0%} interval {self.low:+.1f} to {self.high:+.1f})"


def two_level_bootstrap(
    a: Tensor | np.ndarray, b: Tensor | np.ndarray, *, resamples: int = 10000, level: float = 0.95, seed: int = 0
) -> PairedBootstrap:
    """The difference of two methods' mean scores over trained networks (seeds) and test images, resampled at both levels.

    ``a[s, i]`` and ``b[s, i]`` are the scores on test image ``i`` of the networks trained with seed ``s``
    (the same images for every seed). Each resample draws ``S`` seeds with replacement, then ``N`` images
    with replacement, and takes ``mean(a - b)`` over the drawn seeds and images: the interval holds both the
    training's variance (another seed, another network) and the test set's (other images). The estimate
    is the mean over every seed and image. The unit counted is the seed (``Interval``: fewer than 3 seeds
    make a verdict *not resolved*).

    Args:
        a, b: ``Tensor[S, N]`` (or arrays), finite.
        resamples, level, seed: as ``paired_bootstrap``.

    Raises:
        ValueError: ``a`` and ``b`` are not two 2-D arrays of one shape with at least one seed and image, or hold
            a non-finite value; ``resamples`` or ``level`` out of range.

    Example:
        >>> a = torch.tensor([[1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]])
        >>> r = two_level_bootstrap(a, torch.zeros(3, 4), resamples=2000)
        >>> r.difference, r.units, r.unit, 0.4 < r.low < r.difference < r.high <= 1.0
        (0.75, 3, 'seeds', True)
    """
    x, y = (np.asarray(v.detach().cpu() if isinstance(v, Tensor) else v, dtype=np.float64) for v in (a, b))
    if x.ndim != 2 or x.shape != y.shape or 0 in x.shape:
        raise ValueError(
            f"`a` and `b` must be (seeds, images) arrays of one shape, at least 1 x 1, but got {x.shape} and {y.shape}."
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("`a` and `b` must hold finite scores, but hold NaN or infinity.")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"`resamples` must be an int >= 1, but got {resamples!r}.")
    if not 0 < level < 1:
        raise ValueError(f"`level` must be in (0, 1), but got {level!r}.")
    d = x - y  # (S, N)
    S, N = d.shape
    rng = np.random.Generator(np.random.PCG64(seed))
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // (S * N))
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        seeds = rng.integers(0, S, size=(stop - start, S))  # (r, S)
        images = rng.integers(0, N, size=(stop - start, N))  # (r, N): one draw of images for the drawn seeds
        means[start:stop] = d[seeds[:, :, None], images[:, None, :]].mean(axis=(1, 2))
    return _summary(float(d.mean()), means, level, S, "seeds")


def seed_interval(values: Tensor | np.ndarray | list[float], level: float = 0.95) -> Interval:
    """The mean of independent runs (e.g. one per seed) with its Student-t interval.

    ``mean ± t_{(1+level)/2, n-1} · s / sqrt(n)`` with ``s`` the sample standard
    deviation (``ddof=1``). With one run there is no interval: ``low`` and
    ``high`` are NaN, and ``verdict`` reads the result as *not resolved*.

    Example:
        >>> r = seed_interval([1.0, 2.0, 3.0])   # mean 2, s = 1, t(0.975, 2) = 4.303
        >>> round(r.estimate, 3), round(r.low, 3), round(r.high, 3)
        (2.0, -0.484, 4.484)
    """
    x = _as_vector("values", values)
    if len(x) == 0:
        raise ValueError("`values` must hold at least one run, but got none.")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"`level` must be a number in (0, 1), but got {level!r}.")
    mean = float(x.mean())
    if len(x) == 1:
        return Interval(mean, math.nan, math.nan, float(level), 1, "seeds")
    from scipy.stats import t  # scipy is a dependency; imported here to keep `import camlib` light

    half = float(t.ppf((1 + level) / 2, len(x) - 1)) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return Interval(mean, mean - half, mean + half, float(level), len(x), "seeds")


def proportion_interval(share: float, n: int, *, level: float = 0.95) -> Interval:
    """A share of ``n`` independent trials (e.g. the images a box finds) with its Wilson score interval.

    With ``p = share`` and ``z`` the ``(1 + level) / 2`` quantile of the
    standard normal (1.96 at 95%), the ends are (Wilson 1927)

        ``(p + z²/2n ∓ z · sqrt(p(1 - p)/n + z²/4n²)) / (1 + z²/n)``.

    Unlike ``p ± z · sqrt(p(1 - p)/n)`` it stays inside ``[0, 1]`` and keeps a
    width at 0 or ``n`` successes (no hit in 20 trials is not a share of 0 for
    sure). The result is in fractions; ``.scaled(100)`` gives percent.

    Args:
        share: the observed share, in ``[0, 1]`` (successes / n; it need not be a whole count).
        n: the number of trials, >= 1.
        level: the interval's coverage, in (0, 1).

    Returns:
        ``Interval(share, low, high, level, n)``.

    Raises:
        ValueError: ``share`` outside ``[0, 1]`` or not finite, ``n < 1``, ``level`` outside (0, 1).

    Example:
        >>> r = proportion_interval(0.0, 20)    # z²/2n = 0.0960 = z · sqrt(z²/4n²): high = 0.1921 / 1.1921
        >>> r.low, round(r.high, 4)
        (0.0, 0.1611)
        >>> r = proportion_interval(0.5, 100)   # symmetric about 0.5
        >>> round(r.low, 4), round(r.high, 4)
        (0.4038, 0.5962)
    """
    from statistics import NormalDist

    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ValueError(f"`share` must be a number in [0, 1], but got {share!r}.")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"`n` must be an int >= 1, but got {n!r}.")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"`level` must be a number in (0, 1), but got {level!r}.")
    p, z = float(share), NormalDist().inv_cdf((1 + level) / 2)
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    low = 0.0 if p == 0 else max(0.0, (centre - half) / scale)  # exact ends at 0 and n successes
    high = 1.0 if p == 1 else min(1.0, (centre + half) / scale)
    return Interval(p, low, high, float(level), n)


def trend(
    levels: Sequence[float],
    scores: Tensor | np.ndarray,
    *,
    log2: bool = True,
    resamples: int = 10000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """A trend across all its levels: the least-squares slope of the mean score against the level.

    ``scores[l, i]`` is image ``i``'s score at level ``l`` (e.g. 1.0 when the
    box of the map made with grid ``levels[l]`` localizes it), the same images
    at every level. The slope of ``mean_i scores[l, i]`` against ``x_l``
    (``log2(levels[l])`` by default: per doubling) is the estimate; its
    interval is the percentile interval of the slopes of the resamples that
    draw images with replacement, the same images at every level (a paired
    bootstrap, as ``paired_bootstrap``). A trend claimed "increasing" is then
    read by ``verdict(..., claim="greater")``: all levels count, not the ends.

    Args:
        levels: ``L >= 2`` distinct levels (positive when ``log2``).
        scores: ``[L, N]`` per-image scores.
        log2: regress on ``log2(level)`` (doublings) rather than on the level.
        resamples, level, seed: as ``paired_bootstrap``.

    Returns:
        ``Interval`` of the slope, in the scores' units per unit of ``x`` (multiply by 100 for points).

    Example:
        >>> s = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])   # 50%, 75%, 100%
        >>> r = trend([8, 16, 32], s, resamples=200)
        >>> r.estimate                                    # +25 points per doubling
        0.25
    """
    x = np.asarray(levels, dtype=np.float64)
    if x.ndim != 1 or len(x) < 2 or len(set(x.tolist())) != len(x):
        raise ValueError(f"`levels` must hold at least 2 distinct levels, but got {list(levels)!r}.")
    if log2:
        if (x <= 0).any():
            raise ValueError(f"`levels` must be positive with log2=True, but got {list(levels)!r}.")
        x = np.log2(x)
    s = scores.detach().cpu().double().numpy() if isinstance(scores, Tensor) else np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != len(x) or s.shape[1] == 0:
        raise ValueError(f"`scores` must have shape ({len(x)}, N) with N >= 1, but got {tuple(s.shape)}.")
    if not np.isfinite(s).all():
        raise ValueError("`scores` must be finite, but holds NaN or infinity.")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"`level` must be a number in (0, 1), but got {level!r}.")
    xc = (x - x.mean()) / ((x - x.mean()) ** 2).sum()  # the slope is xc @ means
    per_image = xc @ s  # (N,): each image's contribution; the slope of the means is their mean
    b = paired_bootstrap(per_image, np.zeros_like(per_image), resamples=resamples, level=level, seed=seed)
    return Interval(b.difference, b.low, b.high, float(level), s.shape[1])
