"""The book's one rule for turning an effect and its interval into a verdict.

``verdict`` turns an effect and its interval (``camlib.study.stats``) into one
word of ``VERDICTS``, by the rule written in its docstring; ``combine`` merges
the verdicts of several networks, datasets or benchmarks;
``within_tolerance`` and ``qualitative`` decide an identity within a
tolerance and a figure-only claim. Every verdict of the book goes through
these functions.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from camlib.study.stats import Interval

__all__ = [
    "MIN_SEEDS",
    "MIN_UNITS",
    "VERDICTS",
    "Verdict",
    "combine",
    "qualitative",
    "too_few",
    "verdict",
    "within_tolerance",
]


VERDICTS = ("reproduced", "partly reproduced", "not reproduced", "not resolved", "inconclusive")
_CLAIMS = ("greater", "less", "equal", "noninferior")
# The fewest independent units an interval may rest on and still decide: an interval over 2 seeds, or a bootstrap
# over 12 photos, is too rough to read (its coverage is far from what it says), so the row is *not resolved*.
MIN_SEEDS = 3
MIN_UNITS = 20


def too_few(n: int, unit: str) -> int:
    """The number of ``unit`` an interval needs when ``n`` is too few, else 0 (``MIN_SEEDS`` for seeds,
    ``MIN_UNITS`` for any other named unit; an unnamed unit or ``n == 0`` is not checked).

    Example:
        >>> too_few(2, "seeds"), too_few(3, "seeds"), too_few(12, "photos"), too_few(12, "")
        (3, 0, 20, 0)
    """
    if not n or not unit:
        return 0
    need = MIN_SEEDS if unit == "seeds" else MIN_UNITS
    return need if n < need else 0


class Verdict(NamedTuple):
    """A verdict word of ``VERDICTS`` and the reason, in words, from the numbers.

    ``str(v)`` is ``"word: reason"``; the word alone is ``v.word``.
    """

    word: str
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.word}: {self.reason}" if self.reason else self.word


def verdict(
    effect: Interval | tuple[float, float, float] | None,
    *,
    claim: str = "greater",
    margin: float = 0.0,
    what: str = "the effect",
    converged: bool = True,
    why_not_converged: str = "a network did not converge",
) -> Verdict:
    """The book's one decision rule: an effect and its interval -> a verdict.

    The effect is oriented so that the paper's claim reads ``claim`` (e.g.
    GMP's error minus GAP's, so that "GAP is better" is ``"greater"``), in the
    units of ``margin``. ``margin >= 0`` is the smallest effect that matters
    (the margin of equivalence), stated by the chapter before it looks.

    - ``converged=False``: **inconclusive** (the networks compared did not
      converge, so their difference measures training, not the claim);
      ``effect=None``: **inconclusive** as well (nothing was measured).
    - No interval (NaN ends, e.g. one seed): **not resolved**. An interval over fewer than ``MIN_SEEDS``
      seeds, or fewer than ``MIN_UNITS`` of any other named unit (``Interval.n`` and ``Interval.unit``: the
      photos of a cluster bootstrap, the scene classes resampled): **not resolved**, and the reason says how
      many there were.
    - ``claim="greater"`` (the paper says the effect is positive):
      **reproduced** when the whole interval is above ``margin`` (above 0
      when no margin is stated); **not reproduced** when the whole interval is
      below 0 (the opposite holds), or when ``margin > 0`` and the whole
      interval lies inside ``(-margin, margin)`` (the effect is too small to
      matter); otherwise **not resolved**, and when the interval is above 0
      but its low end short of the margin the reason says so: *direction
      reproduced, size not resolved*. The rule is symmetric: reproducing a
      size needs the same certainty as refuting it. ``claim="less"`` is the
      mirror image.
    - ``claim="equal"`` (the paper says "about the same"): **reproduced**
      when the whole interval lies inside ``[-margin, margin]``; **not
      reproduced** when it lies wholly outside (``low > margin`` or
      ``high < -margin``); otherwise **not resolved**.
    - ``claim="noninferior"`` (the paper says "almost as good", "approaches"):
      one-sided, the effect is the method minus its better reference;
      **reproduced** when the whole interval lies above ``-margin`` (it loses
      less than the margin); **not reproduced** when it lies wholly below
      ``-margin``; otherwise **not resolved**.

    Several networks, datasets or benchmarks: one verdict each, then ``combine``.

    Args:
        effect: an ``Interval`` (or ``(estimate, low, high)``), or None.
        claim: ``"greater"``, ``"less"``, ``"equal"`` or ``"noninferior"``.
        margin: the margin of equivalence, >= 0, in the effect's units.
        what: how the reason names the effect ("GMP − GAP top-1 error, points").
        converged: False when a compared network did not converge.
        why_not_converged: the reason given then.

    Returns:
        ``Verdict(word, reason)``.

    Raises:
        ValueError: ``claim`` unknown, ``margin`` negative, or ``low > high``.

    Example:
        >>> verdict((2.0, 0.5, 3.5)).word                       # interval above 0
        'reproduced'
        >>> verdict((-2.0, -3.5, -0.5)).word                    # the opposite, clearly
        'not reproduced'
        >>> verdict((0.3, -0.8, 1.4), margin=2.0).word          # within the margin: no effect that matters
        'not reproduced'
        >>> verdict((0.3, -0.8, 1.4)).word                      # no margin stated: cannot tell
        'not resolved'
        >>> str(verdict((5.5, 0.3, 10.0), margin=5.0))           # above 0, not surely beyond 5
        'not resolved: the effect +5.5 (95% interval +0.3 to +10.0): direction reproduced (above 0), size not resolved (not surely beyond 5)'
        >>> verdict((7.0, 5.5, 8.5), margin=5.0).word
        'reproduced'
        >>> verdict((0.6, -1.0, 2.2), claim="equal", margin=3.0).word
        'reproduced'
        >>> verdict((-2.0, -4.0, 0.5), claim="noninferior", margin=5.0).word    # loses less than 5 points
        'reproduced'
        >>> str(verdict(Interval(40.0, 30.0, 50.0, n=3, unit="photos")))   # a bootstrap over 3 photos
        'not resolved: the effect +40.0 (95% interval +30.0 to +50.0): it rests on 3 photos, fewer than the 20 a verdict needs'
        >>> str(verdict((5.0, 4.0, 6.0), converged=False, why_not_converged="GAP still improving"))
        'inconclusive: GAP still improving'
    """
    if claim not in _CLAIMS:
        raise ValueError(f"`claim` must be one of {_CLAIMS}, but got {claim!r}.")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise ValueError(f"`margin` must be a number >= 0, but got {margin!r}.")
    if not converged:
        return Verdict("inconclusive", why_not_converged)
    if effect is None:
        return Verdict("inconclusive", f"{what} was not measured")
    e = effect if isinstance(effect, Interval) else Interval(*effect)
    if not math.isnan(e.low) and not math.isnan(e.high) and e.low > e.high:
        raise ValueError(f"`effect` must have low <= high, but got low {e.low} and high {e.high}.")
    reason = f"{what} {e}"
    if math.isnan(e.low) or math.isnan(e.high):
        return Verdict("not resolved", f"{reason}: a single run gives no interval")
    if need := too_few(e.n, e.unit):
        return Verdict("not resolved", f"{reason}: it rests on {e.n} {e.unit}, fewer than the {need} a verdict needs")
    if claim == "equal":
        if -margin <= e.low and e.high <= margin:
            return Verdict("reproduced", f"{reason}, within ±{margin:g}")
        if e.low > margin or e.high < -margin:
            return Verdict("not reproduced", f"{reason}, beyond ±{margin:g}")
        return Verdict("not resolved", f"{reason}, neither within nor beyond ±{margin:g}")
    if claim == "noninferior":
        if e.low > -margin:
            return Verdict("reproduced", f"{reason}, above −{margin:g}: not worse by the margin")
        if e.high < -margin:
            return Verdict("not reproduced", f"{reason}, below −{margin:g}: worse by more than the margin")
        return Verdict("not resolved", f"{reason}, includes −{margin:g}")
    sign = 1.0 if claim == "greater" else -1.0
    low, high = sorted((sign * e.low, sign * e.high))
    side = "above" if claim == "greater" else "below"
    if low > margin or (low > 0 and not margin):
        return Verdict("reproduced", f"{reason}, {side} 0" + (f" and beyond {margin:g}" if margin else ""))
    if high < 0:
        return Verdict("not reproduced", f"{reason}: the opposite of the claim")
    if margin > 0 and -margin < low and high < margin:
        return Verdict("not reproduced", f"{reason}, within ±{margin:g}: too small to matter")
    if low > 0:  # the interval excludes 0, but its low end does not clear the margin
        return Verdict(
            "not resolved",
            f"{reason}: direction reproduced ({side} 0), size not resolved (not surely beyond {margin:g})",
        )
    return Verdict("not resolved", f"{reason}, includes 0")


def combine(verdicts: dict[str, Verdict] | list[Verdict], *, parts_are: str = "") -> Verdict:
    """One verdict from several parts (networks, datasets, benchmarks, sizes, thresholds), by a fixed rule.

    The parts are robustness checks of one claim, so the claim holds only
    where every part holds, and fails where any part fails: any part *not
    reproduced* -> **not reproduced** (a part that is significantly opposite,
    or surely too small, is not outvoted by the others); every part
    *reproduced* -> **reproduced**; some *reproduced* (or *partly
    reproduced*) and the rest *not resolved* or *inconclusive* ->
    **partly reproduced**; every part *inconclusive* -> **inconclusive**;
    otherwise **not resolved**. Every part, inconclusive ones included, is
    listed in the reason.

    Args:
        verdicts: ``{name: Verdict}`` (names appear in the reason) or a list.
        parts_are: what tells the parts apart, when that is a choice of the analysis rather than another
            setting (``"threshold"``: the paper's fixed threshold and each method's calibrated one): where the
            parts' words differ, the reason then opens with *threshold-dependent* and shows every part, so a
            reader sees that the verdict turns on that choice.

    Example:
        >>> a, b = Verdict("reproduced", "x"), Verdict("not resolved", "y")
        >>> combine({"AlexNet": a, "VGG": b}).word
        'partly reproduced'
        >>> combine([a, a]).word, combine([Verdict("not reproduced"), a]).word
        ('reproduced', 'not reproduced')
        >>> combine([a, Verdict("inconclusive", "still improving")]).word   # an unfinished part is not a holding one
        'partly reproduced'
        >>> str(combine({"20%": a, "own threshold": b}, parts_are="threshold"))
        'partly reproduced: threshold-dependent: 20%: reproduced: x; own threshold: not resolved: y'
    """
    items = list(verdicts.items()) if isinstance(verdicts, dict) else [(str(i), v) for i, v in enumerate(verdicts)]
    if not items:
        raise ValueError("`verdicts` must hold at least one verdict, but got none.")
    for name, v in items:
        if not isinstance(v, Verdict) or v.word not in VERDICTS:
            raise ValueError(f"`verdicts` must hold Verdicts with a word of {VERDICTS}, but got {v!r} for {name!r}.")
    named = isinstance(verdicts, dict)
    words = [v.word for _, v in items]
    reason = "; ".join(f"{n}: {v}" if named else str(v) for n, v in items)
    if parts_are and len(set(words)) > 1:
        reason = f"{parts_are}-dependent: {reason}"
    if "not reproduced" in words:
        word = "not reproduced"
    elif all(w == "reproduced" for w in words):
        word = "reproduced"
    elif any(w in ("reproduced", "partly reproduced") for w in words):
        word = "partly reproduced"
    elif all(w == "inconclusive" for w in words):
        word = "inconclusive"
    else:
        word = "not resolved"
    return Verdict(word, reason)


def within_tolerance(errors: dict[str, float], tolerances: dict[str, float], *, what: str) -> Verdict:
    """The verdict of an exact identity, checked against tolerances stated before looking.

    An identity that holds by derivation (the logit is the mean of the class
    map) has no sampling error and no interval: what is measured is the
    largest residual, which must be rounding. **reproduced** when every
    error is ``<=`` its tolerance; **not reproduced** when one exceeds it;
    **inconclusive** when one is NaN (not measured).

    Args:
        errors: ``{name: largest absolute residual}``, e.g. one per precision.
        tolerances: ``{name: tolerance}`` with the same names, each >= 0.
        what: how the reason names the residual.

    Returns:
        ``Verdict(word, reason)``; the reason lists each error against its tolerance.

    Raises:
        ValueError: no errors, names that differ, or a negative or NaN tolerance.

    Example:
        >>> str(within_tolerance({"float32": 2.9e-6, "float64": 1.8e-15}, {"float32": 1e-5, "float64": 1e-13},
        ...                      what="max |S - mean M|"))
        'reproduced: max |S - mean M|: float32 2.9e-06 <= 1e-05, float64 1.8e-15 <= 1e-13'
        >>> within_tolerance({"float32": 3e-4}, {"float32": 1e-5}, what="max |S - mean M|").word
        'not reproduced'
    """
    if not errors or set(errors) != set(tolerances):
        raise ValueError(
            f"`errors` and `tolerances` must name the same residuals, at least one, but got "
            f"{sorted(errors)} and {sorted(tolerances)}."
        )
    for name, tol in tolerances.items():
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0:
            raise ValueError(f"`tolerances` must hold numbers >= 0, but got {tol!r} for {name!r}.")
    parts = []
    for name, err in errors.items():
        sign = "<=" if err <= tolerances[name] else ">" if err > tolerances[name] else "vs"
        parts.append(f"{name} {err:.2g} {sign} {tolerances[name]:.2g}")
    reason = f"{what}: " + ", ".join(parts)
    values = [float(e) for e in errors.values()]
    if any(math.isnan(e) for e in values):
        return Verdict("inconclusive", f"{reason} (not measured)")
    if all(e <= tolerances[n] for n, e in errors.items()):
        return Verdict("reproduced", reason)
    return Verdict("not reproduced", reason)


def qualitative(shown_in: str) -> Verdict:
    """The verdict of a claim that the paper makes with example figures only, and this study shows the same way.

    **not resolved**, whatever the figures look like: a figure chosen to
    show a claim is not a measurement of it (the rule needs an effect with an
    interval, or an identity with a tolerance).

    Example:
        >>> str(qualitative("see the maps of the top classes"))
        'not resolved: qualitative, see the maps of the top classes'
    """
    if not isinstance(shown_in, str) or not shown_in:
        raise ValueError(f"`shown_in` must say where the figures are, but got {shown_in!r}.")
    return Verdict("not resolved", f"qualitative, {shown_in}")
