"""Many claims at once: which "reproduced" verdicts survive Holm's correction over the book's tests.

Each row's verdict comes from its own 95% interval (``camlib.book.verdicts``):
"reproduced" needs the interval's low end above the margin, a one-sided test
at level 0.025. A book of some forty such tests would, by chance alone, see
about one "reproduced" among rows whose claim is false. Holm's step-down
procedure (Holm, 1979) holds the chance of *any* false "reproduced" in the
whole book at ``alpha``.

The rows keep no bootstrap samples, so each test's p-value is read off its
interval under a normal approximation, with the half-width on the side the
test looks at: for ``claim="greater"`` and margin ``m``, the standard error
is ``(estimate - low) / z`` with ``z = 1.95996`` and the p-value
``1 - Phi((estimate - m) / se)``. This keeps each row's own verdict: with one
test, ``p < 0.025`` exactly when ``low > m``. ``"less"`` is the mirror image;
``"noninferior"`` tests ``estimate > -m`` with the low half-width;
``"equal"`` is two one-sided tests (``-m < effect < m``), whose p-value is
the larger of the two. A row over several networks or datasets is
reproduced only when every part is (an intersection-union test): its p-value
is the largest of its parts'; a "partly reproduced" row's, the largest of
its reproduced parts'.

Only rows of the kinds that count (``paper``, ``analogue``, ``beyond``; not
checks or context) with a rule and a measured interval are tests. A row
"reproduced" at its own interval but not after the correction reads
"not resolved" in ``after_holm``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from camlib.book.report import Claim
from camlib.book.verdicts import verdict as decide

__all__ = ["ALPHA", "COUNTED_KINDS", "HolmRow", "holm", "interval_p_value"]

ALPHA = 0.025  # one-sided, as the 95% intervals of the rule: with one test, Holm changes nothing
COUNTED_KINDS = ("paper", "analogue", "beyond")
_Z = NormalDist().inv_cdf(0.975)


def interval_p_value(estimate: float, low: float, high: float, *, claim: str, margin: float = 0.0) -> float:
    """The one-sided p-value of "the claim holds" from a 95% interval, under a normal approximation.

    Args:
        estimate, low, high: the effect and its 95% interval.
        claim: ``"greater"``, ``"less"``, ``"noninferior"`` or ``"equal"`` (see ``camlib.book.verdicts.verdict``).
        margin: the rule's margin (>= 0).

    Returns:
        The p-value in [0, 1]; NaN when the interval is missing. An interval of zero width on the tested side
        gives 0 or 1 (a sure result either way).

    Example:
        >>> round(interval_p_value(5.0, 3.04, 7.0, claim="greater"), 4)   # low end 1.96 se above 0
        0.0
        >>> round(interval_p_value(5.0, 1.0, 9.0, claim="greater", margin=5.0), 2)   # estimate on the margin
        0.5
    """
    if any(math.isnan(v) for v in (estimate, low, high)):
        return math.nan

    def above(level: float, half: float) -> float:  # p of "effect > level", half: the interval's half-width
        if half <= 0:
            return 0.0 if estimate > level else 1.0
        return 1.0 - NormalDist().cdf((estimate - level) * _Z / half)

    def below(level: float, half: float) -> float:  # p of "effect < level"
        if half <= 0:
            return 0.0 if estimate < level else 1.0
        return NormalDist().cdf((estimate - level) * _Z / half)

    lower, upper = estimate - low, high - estimate
    if claim == "greater":
        return above(margin, lower)
    if claim == "less":
        return below(-margin, upper)
    if claim == "noninferior":
        return above(-margin, lower)
    if claim == "equal":
        return max(above(-margin, lower), below(margin, upper))
    raise ValueError(f"`claim` must be one of 'greater', 'less', 'noninferior', 'equal', but got {claim!r}.")


@dataclass(frozen=True)
class HolmRow:
    """One test of the family: its row, p-value, Holm-adjusted p-value, and verdict before and after."""

    chapter: str
    key: str
    claim: str
    kind: str
    p: float
    adjusted: float
    verdict: str
    after_holm: str


def _row_p(c: Claim) -> float:
    """The p-value of "the row's claim holds": its interval's, or the largest of its (reproduced) parts'."""
    if not c.parts:
        return interval_p_value(c.estimate, c.low, c.high, claim=c.rule, margin=c.margin)
    parts = list(c.parts.values())
    if c.verdict == "partly reproduced":
        parts = [p for p in parts if decide(tuple(p), claim=c.rule, margin=c.margin).word == "reproduced"]
    ps = [interval_p_value(*p, claim=c.rule, margin=c.margin) for p in parts]
    return max(ps) if ps and not any(math.isnan(p) for p in ps) else math.nan


def holm(claims: Sequence[Claim], *, alpha: float = ALPHA) -> list[HolmRow]:
    """Holm's step-down correction over the rows that are tests (see the module docstring), smallest p first.

    Returns:
        One ``HolmRow`` per test; ``after_holm`` is the row's verdict, or "not resolved" for a
        (partly) reproduced row whose adjusted p-value exceeds ``alpha``.

    Raises:
        ValueError: ``alpha`` is not in (0, 1).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"`alpha` must be in (0, 1), but got {alpha!r}.")
    tests = [
        (c, _row_p(c))
        for c in claims
        if c.kind in COUNTED_KINDS and c.rule and c.converged and (c.parts or not math.isnan(c.estimate))
    ]
    tests = sorted([(c, p) for c, p in tests if not math.isnan(p)], key=lambda cp: cp[1])
    # Holm's adjusted p-values, max over j <= i of (m - j) p_(j): one line, so no statsmodels dependency for it
    # (tests/test_multiplicity.py checks it against the step-down procedure as Holm wrote it).
    m, running, rows = len(tests), 0.0, []
    for i, (c, p) in enumerate(tests):
        running = max(running, min(1.0, (m - i) * p))  # step-down: adjusted p-values never decrease
        after = c.verdict
        if c.verdict in ("reproduced", "partly reproduced") and running > alpha:
            after = "not resolved"
        rows.append(HolmRow(c.chapter, c.key, c.claim, c.kind, p, running, c.verdict, after))
    return rows
