"""Tests of camlib.study.stats: the paired bootstrap against a slow, obvious reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from camlib.study.stats import paired_bootstrap


def test_agrees_with_the_analytic_bootstrap_distribution():
    # The bootstrap distribution of a mean of n paired differences d has the exact variance var(d) / n (var with
    # ddof 0: resampling draws from the empirical distribution), and by the central limit theorem its quantiles are
    # close to mean ± z * sd. An independent check, from the definition, not from the implementation's draws.
    g = torch.Generator().manual_seed(3)
    a = (torch.rand(400, generator=g) < 0.7).double()
    b = (torch.rand(400, generator=g) < 0.6).double()
    d = (a - b).numpy()
    se = d.std() / np.sqrt(len(d))  # ddof 0
    r = paired_bootstrap(a, b, resamples=20000, level=0.9, seed=5)
    assert r.difference == pytest.approx(d.mean())
    assert r.std_error == pytest.approx(se, rel=0.03)
    z90 = 1.6448536269514722  # the standard normal's 95th percentile
    assert r.low == pytest.approx(d.mean() - z90 * se, abs=0.15 * se)
    assert r.high == pytest.approx(d.mean() + z90 * se, abs=0.15 * se)
    assert r.share_positive == pytest.approx(0.5 * (1 + math.erf(d.mean() / se / math.sqrt(2))), abs=0.01)


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


# --- the verdict rule, on hand-made intervals -------------------------------------------------------------

from camlib.book.verdicts import Verdict, combine, verdict  # noqa: E402
from camlib.study.stats import Interval, seed_interval  # noqa: E402


@pytest.mark.parametrize(
    ("effect", "claim", "margin", "word"),
    [
        ((2.0, 0.5, 3.5), "greater", 0.0, "reproduced"),  # interval wholly above 0
        ((2.0, 1.5, 3.5), "greater", 1.0, "reproduced"),  # the low end clears the margin
        ((2.0, 0.5, 3.5), "greater", 1.0, "not resolved"),  # above 0, not surely beyond the margin
        ((5.5, 0.3, 10.0), "greater", 5.0, "not resolved"),  # the case: no longer "reproduced"
        ((-5.5, -10.0, -0.3), "greater", 5.0, "not reproduced"),  # its mirror: the opposite, surely
        ((0.8, 0.5, 0.95), "greater", 1.0, "not reproduced"),  # real but smaller than the margin: too small
        ((0.8, 0.5, 1.5), "greater", 1.0, "not resolved"),  # real, may or may not matter
        ((-2.0, -3.5, -0.5), "greater", 0.0, "not reproduced"),  # the opposite, clearly
        ((0.3, -0.8, 1.4), "greater", 0.0, "not resolved"),  # includes 0, no margin
        ((0.3, -0.8, 1.4), "greater", 2.0, "not reproduced"),  # within ±2: no effect that matters
        ((-2.0, -3.5, -0.5), "less", 0.0, "reproduced"),  # the mirror image
        ((2.0, 0.5, 3.5), "less", 0.0, "not reproduced"),
        ((0.6, -1.0, 2.2), "equal", 3.0, "reproduced"),  # inside ±3
        ((21.0, 10.0, 32.0), "equal", 3.0, "not reproduced"),  # wholly beyond +3
        ((-5.0, -8.0, -4.0), "equal", 3.0, "not reproduced"),  # wholly beyond -3
        ((2.0, -1.0, 5.0), "equal", 3.0, "not resolved"),  # straddles +3
        ((-2.0, -4.0, 0.5), "noninferior", 5.0, "reproduced"),  # loses less than 5 points, surely
        ((3.0, 1.0, 5.0), "noninferior", 5.0, "reproduced"),  # better: not worse either
        ((-8.0, -10.0, -6.0), "noninferior", 5.0, "not reproduced"),  # worse by more than 5, surely
        ((-4.0, -7.0, -1.0), "noninferior", 5.0, "not resolved"),  # straddles -5
        ((-4.0, -7.0, -5.0), "noninferior", 5.0, "not resolved"),  # touches -5: not wholly below
        ((2.0, float("nan"), float("nan")), "greater", 0.0, "not resolved"),  # one seed: no interval
    ],
)
def test_verdict_rule(effect, claim, margin, word):
    assert verdict(effect, claim=claim, margin=margin).word == word


def test_verdict_reason_names_the_effect_and_the_interval():
    v = verdict(Interval(1.38, 0.2, 2.5), what="GMP − GAP top-1 loc error (points)")
    assert str(v) == "reproduced: GMP − GAP top-1 loc error (points) +1.4 (95% interval +0.2 to +2.5), above 0"
    assert verdict((0.3, -0.8, 1.4), margin=2).reason.endswith("within ±2: too small to matter")
    # The interval excludes 0 but the estimate is short of the margin: the reason says so, not "includes 0".
    assert str(verdict((0.8, 0.5, 1.5), margin=1.0)) == (
        "not resolved: the effect +0.8 (95% interval +0.5 to +1.5): direction reproduced (above 0), "
        "size not resolved (not surely beyond 1)"
    )
    assert verdict((-0.8, -1.5, -0.5), claim="less", margin=1.0).reason.endswith(
        "direction reproduced (below 0), size not resolved (not surely beyond 1)"
    )
    assert verdict((0.3, -0.8, 1.4)).reason.endswith("includes 0")


def test_not_converged_or_not_measured_is_inconclusive():
    assert verdict((9.0, 8.0, 10.0), converged=False, why_not_converged="GAP still rising") == Verdict(
        "inconclusive", "GAP still rising"
    )
    assert verdict(None, what="backprop") == Verdict("inconclusive", "backprop was not measured")


def test_verdict_refuses_bad_arguments():
    with pytest.raises(ValueError, match="`claim` must be one of .*but got 'better'"):
        verdict((1.0, 0.0, 2.0), claim="better")
    with pytest.raises(ValueError, match="`margin` must be a number >= 0, but got -1"):
        verdict((1.0, 0.0, 2.0), margin=-1)
    with pytest.raises(ValueError, match="`effect` must have low <= high, but got low 2.0 and high 0.0"):
        verdict((1.0, 2.0, 0.0))


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["reproduced", "reproduced"], "reproduced"),
        (["reproduced", "not resolved"], "partly reproduced"),
        (["reproduced", "not reproduced"], "not reproduced"),  # a failing part is not outvoted
        (["not reproduced", "not resolved"], "not reproduced"),
        (["not resolved", "not resolved"], "not resolved"),
        (["inconclusive", "reproduced"], "partly reproduced"),  # an unfinished part does not hold
        (["inconclusive", "inconclusive"], "inconclusive"),
        (["inconclusive", "not resolved"], "not resolved"),
        (["partly reproduced", "not resolved"], "partly reproduced"),
    ],
)
def test_combine(words, expected):
    v = combine({f"net{i}": Verdict(w, f"r{i}") for i, w in enumerate(words)})
    assert v.word == expected and v.reason.startswith("net0: ")


def test_combine_refuses_empty_and_foreign_values():
    with pytest.raises(ValueError, match="at least one verdict"):
        combine([])
    with pytest.raises(ValueError, match="must hold Verdicts"):
        combine({"a": "reproduced"})


def test_seed_interval_is_the_t_interval():
    # values 1, 2, 3, 6: mean 3, s = sqrt(14/3) = 2.160, t(0.975, 3) = 3.182: half-width 3.182 * 2.160 / 2 = 3.437
    r = seed_interval(torch.tensor([1.0, 2.0, 3.0, 6.0]))
    assert r.estimate == 3.0 and r.n == 4
    assert r.low == pytest.approx(3 - 3.437, abs=1e-3) and r.high == pytest.approx(3 + 3.437, abs=1e-3)
    one = seed_interval([4.0])
    assert one.estimate == 4.0 and math.isnan(one.low) and "no interval" in str(one)
    with pytest.raises(ValueError, match="at least one run"):
        seed_interval([])


def test_bootstrap_as_an_interval_in_points():
    b = paired_bootstrap(torch.ones(5), torch.zeros(5))
    assert Interval.from_bootstrap(b, n=5) == Interval(100.0, 100.0, 100.0, 0.95, 5)


# --- proportion_interval, within_tolerance, qualitative ----------------------------------


def test_proportion_interval_wilson_by_hand():
    from camlib.study.stats import proportion_interval

    # 1 hit in 20, z = 1.959964: centre 0.05 + z²/40 = 0.14604, half z·sqrt(0.002375 + z²/1600) = 0.13545,
    # divided by 1 + z²/20 = 1.19207: 0.00888 to 0.23613 (the textbook Wilson interval for 1/20)
    r = proportion_interval(0.05, 20)
    assert (r.estimate, r.level, r.n) == (0.05, 0.95, 20)
    assert r.low == pytest.approx(0.008882, abs=1e-6) and r.high == pytest.approx(0.236131, abs=1e-6)
    # symmetric: p and 1 - p mirror each other; the ends are exact at 0 and n successes
    a, b = proportion_interval(0.2, 50), proportion_interval(0.8, 50)
    assert a.low == pytest.approx(1 - b.high) and a.high == pytest.approx(1 - b.low)
    assert proportion_interval(0.0, 20).low == 0.0 and proportion_interval(1.0, 20).high == 1.0
    # more trials, a narrower interval around the same share; a higher level, a wider one
    wide, narrow = proportion_interval(0.3, 30), proportion_interval(0.3, 3000)
    assert wide.low < narrow.low < 0.3 < narrow.high < wide.high
    assert proportion_interval(0.3, 30, level=0.99).high > wide.high
    assert str(proportion_interval(0.05, 20).scaled(100)) == "+5.0 (95% interval +0.9 to +23.6)"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(share=1.5, n=10), r"`share` must be a number in \[0, 1\], but got 1.5"),
        (dict(share=float("nan"), n=10), r"`share` must be a number in \[0, 1\], but got nan"),
        (dict(share=0.5, n=0), "`n` must be an int >= 1, but got 0"),
        (dict(share=0.5, n=10, level=1.0), r"`level` must be a number in \(0, 1\), but got 1.0"),
    ],
)
def test_proportion_interval_bad_input(kwargs, match):
    from camlib.study.stats import proportion_interval

    with pytest.raises(ValueError, match=match):
        proportion_interval(**kwargs)


def test_within_tolerance():
    from camlib.book.verdicts import within_tolerance

    tol = {"float32": 1e-5, "float64": 1e-13}
    ok = within_tolerance({"float32": 2.9e-6, "float64": 1.8e-15}, tol, what="max residual")
    assert ok == Verdict("reproduced", "max residual: float32 2.9e-06 <= 1e-05, float64 1.8e-15 <= 1e-13")
    edge = within_tolerance({"float32": 1e-5, "float64": 0.0}, tol, what="r")  # equal to the tolerance: within
    assert edge.word == "reproduced"
    bad = within_tolerance({"float32": 2.9e-6, "float64": 2e-13}, tol, what="r")  # one precision beyond: enough
    assert bad == Verdict("not reproduced", "r: float32 2.9e-06 <= 1e-05, float64 2e-13 > 1e-13")
    nan = within_tolerance({"float32": float("nan"), "float64": 0.0}, tol, what="r")
    assert nan == Verdict("inconclusive", "r: float32 nan vs 1e-05, float64 0 <= 1e-13 (not measured)")
    with pytest.raises(ValueError, match=r"must name the same residuals, at least one, but got \['float32'\] and"):
        within_tolerance({"float32": 0.0}, tol, what="r")
    with pytest.raises(ValueError, match=r"`tolerances` must hold numbers >= 0, but got -1.0 for 'a'"):
        within_tolerance({"a": 0.0}, {"a": -1.0}, what="r")


def test_qualitative_is_not_resolved():
    from camlib.book.verdicts import qualitative

    assert qualitative("see Fig. 2") == Verdict("not resolved", "qualitative, see Fig. 2")
    with pytest.raises(ValueError, match="`shown_in` must say where the figures are, but got ''"):
        qualitative("")


from camlib.study.stats import trend  # noqa: E402


def test_trend_is_the_slope_of_the_means_with_a_paired_bootstrap_over_images():
    g = np.random.default_rng(3)
    levels = [4, 8, 16, 32]
    scores = (g.random((4, 60)) < np.array([[0.3], [0.5], [0.55], [0.7]])).astype(float)  # (L, N)
    r = trend(levels, scores, resamples=300, seed=5)
    x = np.log2(levels)
    assert r.estimate == pytest.approx(np.polyfit(x, scores.mean(1), 1)[0])
    # the slow, obvious reference: resample the images (the same draws as paired_bootstrap), refit each time
    idx = np.random.Generator(np.random.PCG64(5)).integers(0, 60, size=(300, 60))
    slopes = [np.polyfit(x, scores[:, i].mean(1), 1)[0] for i in idx]
    assert (r.low, r.high) == pytest.approx(tuple(np.quantile(slopes, [0.025, 0.975])))
    assert r.n == 60 and r.low <= r.estimate <= r.high


def test_trend_reads_through_the_verdict_rule():
    rising = torch.tensor([[0.0] * 10 + [1.0] * 10, [0.0] * 5 + [1.0] * 15, [1.0] * 20])
    assert verdict(trend([8, 16, 32], rising, resamples=200)).word == "reproduced"
    assert verdict(trend([8, 16, 32], rising.flip(0), resamples=200)).word == "not reproduced"
    flat = torch.tensor([[1.0, 0.0] * 10] * 3)
    assert trend([8, 16, 32], flat, resamples=200).estimate == 0.0


def test_trend_refuses_bad_levels_and_scores():
    with pytest.raises(ValueError, match=r"`levels` must hold at least 2 distinct levels, but got \[8, 8\]"):
        trend([8, 8], torch.zeros(2, 3))
    with pytest.raises(ValueError, match="`levels` must be positive with log2=True"):
        trend([0, 8], torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"`scores` must have shape \(2, N\) with N >= 1, but got \(3, 4\)"):
        trend([4, 8], torch.zeros(3, 4))


def test_two_level_bootstrap_against_a_loop():
    """The resampled means are those of the drawn seeds and images, written out with loops (the same draws)."""
    import numpy as np

    from camlib.study.stats import two_level_bootstrap

    g = torch.Generator().manual_seed(5)
    a, b = (torch.rand(3, 7, generator=g) > 0.4).double(), (torch.rand(3, 7, generator=g) > 0.6).double()
    got = two_level_bootstrap(a, b, resamples=50, seed=9)
    rng = np.random.Generator(np.random.PCG64(9))
    seeds, images = rng.integers(0, 3, size=(50, 3)), rng.integers(0, 7, size=(50, 7))
    d = (a - b).numpy()
    means = [sum(d[s, i] for s in seeds[r] for i in images[r]) / 21 for r in range(50)]
    low, high = np.quantile(means, [0.025, 0.975])
    assert got.difference == pytest.approx(d.mean()) and (got.units, got.unit) == (3, "seeds")
    assert (got.low, got.high) == pytest.approx((low, high))
    assert got.std_error == pytest.approx(np.std(means))


def test_two_level_bootstrap_widens_with_the_seeds_variance():
    """Seeds that disagree widen the interval; identical seeds give the images' interval alone."""
    from camlib.study.stats import two_level_bootstrap

    g = torch.Generator().manual_seed(6)
    one = (torch.rand(1, 200, generator=g) > 0.5).double()
    same = two_level_bootstrap(one.expand(4, 200), torch.zeros(4, 200), seed=1)
    shifted = one.expand(4, 200) + torch.tensor([[-0.3], [-0.1], [0.1], [0.3]])
    spread = two_level_bootstrap(shifted, torch.zeros(4, 200), seed=1)
    assert spread.difference == pytest.approx(same.difference)
    assert spread.high - spread.low > 1.5 * (same.high - same.low)
    with pytest.raises(ValueError, match=r"`a` and `b` must be \(seeds, images\) arrays of one shape"):
        two_level_bootstrap(torch.zeros(5), torch.zeros(5))
    with pytest.raises(ValueError, match="must hold finite scores"):
        two_level_bootstrap(torch.full((2, 2), float("nan")), torch.zeros(2, 2))
