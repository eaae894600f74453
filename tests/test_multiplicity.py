"""camlib.book.multiplicity: p-values read off the rule's intervals, and Holm's correction over the book's rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from camlib.book.multiplicity import ALPHA, holm, interval_p_value
from camlib.book.report import Claim
from camlib.book.verdicts import verdict


@pytest.mark.parametrize("claim", ["greater", "less", "noninferior", "equal"])
def test_one_test_keeps_the_rule_p_below_alpha_exactly_when_reproduced(claim):
    rng = np.random.default_rng(0)
    for _ in range(2000):
        est = float(rng.normal(0, 5))
        low, high = est - float(rng.uniform(0.1, 6)), est + float(rng.uniform(0.1, 6))
        margin = float(rng.choice([0.0, 1.0, 3.0])) if claim != "equal" else float(rng.uniform(1, 8))
        p = interval_p_value(est, low, high, claim=claim, margin=margin)
        reproduced = verdict((est, low, high), claim=claim, margin=margin).word == "reproduced"
        if abs(p - ALPHA) > 1e-9:  # away from the boundary itself
            assert (p < ALPHA) == reproduced, (est, low, high, margin, p)


def test_p_values_at_known_points():
    assert interval_p_value(5.0, 1.0, 9.0, claim="greater", margin=5.0) == pytest.approx(0.5)
    assert interval_p_value(1.96, 0.0, 3.92, claim="greater") == pytest.approx(0.025, abs=1e-4)
    assert interval_p_value(-1.96, -3.92, 0.0, claim="less") == pytest.approx(0.025, abs=1e-4)
    assert math.isnan(interval_p_value(1.0, math.nan, math.nan, claim="greater"))
    assert interval_p_value(2.0, 2.0, 2.0, claim="greater") == 0.0  # zero width: sure
    with pytest.raises(ValueError, match="`claim` must be one of"):
        interval_p_value(1.0, 0.0, 2.0, claim="bigger")


def _row(key, est, low, high, *, kind="paper", rule="greater", margin=0.0, parts=None):
    word = verdict((est, low, high), claim=rule, margin=margin).word if not parts else "reproduced"
    return Claim("00_x", key, f"claim {key}", "", "", word, "", estimate=est, low=low, high=high, rule=rule,
                 margin=margin, parts=parts or {}, kind=kind, evidence="real data")  # fmt: skip


def _holm_reference(ps: list[float], alpha: float) -> list[bool]:
    """Holm (1979) as written: reject the smallest p-values in order while p_(i) <= alpha / (m - i + 1)."""
    order, m, rejected = sorted(range(len(ps)), key=lambda i: ps[i]), len(ps), [False] * len(ps)
    for rank, i in enumerate(order):
        if ps[i] > alpha / (m - rank):
            break
        rejected[i] = True
    return rejected


def test_holm_agrees_with_the_step_down_procedure_on_random_families():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        rows = []
        for k in range(n):
            est, half = float(rng.normal(1.5, 1.5)), float(rng.uniform(0.2, 2.0))
            rows.append(_row(f"r{k}", est, est - half, est + half))
        result = {r.key: r for r in holm(rows)}
        ps = [result[r.key].p for r in rows]
        for r, keep in zip(rows, _holm_reference(ps, ALPHA)):
            after = result[r.key].after_holm
            if r.verdict == "reproduced":
                assert (after == "reproduced") == keep, (r.key, ps)
            else:
                assert after == r.verdict


def test_many_borderline_rows_lose_reproduced_and_the_others_keep_their_verdict():
    borderline = [_row(f"b{k}", 2.2, 0.2, 4.2) for k in range(10)]  # each reproduced alone (p about 0.014)
    strong = _row("strong", 10.0, 8.0, 12.0)
    against = _row("against", -3.0, -5.0, -1.0)
    check = _row("identity", 0.0, -0.1, 0.1, kind="check", rule="equal", margin=1.0)
    rows = {r.key: r for r in holm([*borderline, strong, against, check])}
    assert "identity" not in rows  # checks are not tests of the paper's claims
    assert all(rows[f"b{k}"].verdict == "reproduced" and rows[f"b{k}"].after_holm == "not resolved" for k in range(10))
    assert rows["strong"].after_holm == "reproduced" and rows["against"].after_holm == "not reproduced"
    assert list(rows)[0] == "strong"  # smallest p first


def test_a_row_over_parts_takes_its_worst_part():
    parts = {"a": [10.0, 8.0, 12.0], "b": [2.2, 0.2, 4.2]}
    (row,) = holm([_row("p", math.nan, math.nan, math.nan, parts=parts)])
    assert row.p == pytest.approx(interval_p_value(2.2, 0.2, 4.2, claim="greater"))
