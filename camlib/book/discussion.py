"""The discussion page's science: outcomes by kind of evidence, rows that disagree, departures from the paper, obstacles.

Everything here reads what the executed chapters glued: their claim rows
(``camlib.book.report.read_claims``) and their other glued values
(``read_glued``). The page (``notebooks/S0_discussion.ipynb``) calls these
functions and types no number.

- ``evidence_counts``: verdicts of the paper, analogue and beyond rows, by real
  or controlled evidence.
- ``disagreements``: pairs of rows that test one claim of the paper in two
  settings (``DISAGREEMENTS``), side by side, with what differs between them and
  the numbers that show which setting decides.
- ``deviations``: per chapter, the paper's setting (``camlib.book.paper.SETUP``)
  beside this study's, the latter generated from the rows' evidence and the
  chapter's parameters.
- ``obstacles``: the rows that could not decide, grouped by why (a negative
  control, training that had not converged, too few units, a size not resolved,
  a threshold that decides).
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camlib.book.paper import SETUP
from camlib.book.report import CONTEXT, Claim, Table
from camlib.book.verdicts import VERDICTS

__all__ = [
    "DISAGREEMENTS",
    "OBSTACLES",
    "Disagreement",
    "deviations",
    "disagreements",
    "evidence_counts",
    "interval_text",
    "obstacles",
    "read_glued",
    "read_parameters",
]


def read_glued(paths: Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """``{chapter stem: {glued name: value}}`` of executed notebooks: each value as Python reads its text
    (a number, a list, a dict), else the text itself.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    out: dict[str, dict[str, Any]] = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"`paths` must name executed notebooks, but {path} does not exist.")
        values: dict[str, Any] = {}
        for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
            for output in cell.get("outputs", []):
                meta = output.get("metadata", {}).get("scrapbook")
                text = output.get("data", {}).get((meta or {}).get("mime_prefix", "") + "text/plain")
                if not meta or text is None:
                    continue
                text = "".join(text) if isinstance(text, list) else text
                try:
                    values[meta["name"]] = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    values[meta["name"]] = text
        out[path.stem] = values
    return out


def read_parameters(paths: Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """``{chapter stem: the parameters it ran with}``, as papermill recorded them in each executed notebook."""
    return {
        Path(p).stem: dict(
            json.loads(Path(p).read_text(encoding="utf-8")).get("metadata", {}).get("papermill", {}).get("parameters")
            or {}
        )
        for p in paths
    }


def interval_text(c: Claim) -> str:
    """``"+4.0 (+1.5 to +6.5)"``: a row's estimate and 95% interval, true minus signs; ``"no number"`` without one.

    Example:
        >>> interval_text(Claim("02_x", "a", "", "", "", "reproduced", "", "", "e", 4.0, 1.5, 6.5))
        '+4.0 (+1.5 to +6.5)'
    """
    if any(math.isnan(v) for v in (c.estimate, c.low, c.high)):
        return "no number"
    low, estimate, high = (f"{v:+.1f}".replace("-", "−") for v in (c.low, c.estimate, c.high))
    return f"{estimate} ({low} to {high})"


def evidence_counts(claims: Sequence[Claim]) -> Table:
    """How many paper, analogue and beyond rows read each verdict, by real or controlled evidence.

    Example:
        >>> rows = [Claim("02_x", "a", "", "", "", "reproduced", "", evidence="EfficientNet-Lite0", kind="paper"),
        ...         Claim("02_x", "b", "", "", "", "not resolved", "", evidence="EfficientNet-Lite0", kind="paper")]
        >>> [(r["rows"], r["reproduced"], r["not resolved"]) for r in evidence_counts(rows).rows]
        [(2, 1, 1)]
    """
    out = []
    for kind in ("paper", "analogue", "beyond"):
        for setting in ("real", "controlled"):
            rows = [c for c in claims if c.kind == kind and c.setting == setting]
            if rows:
                counts = {v: sum(c.verdict == v for c in rows) for v in VERDICTS}
                out.append({"kind": kind, "evidence": setting, "rows": len(rows), **counts})
    return Table(out, ["kind", "evidence", "rows", *VERDICTS])


# ---------------------------------------------------------------------------------------------------- disagreements


@dataclass(frozen=True)
class Disagreement:
    """Two rows that test one claim of the paper in two settings.

    Attributes:
        topic: the claim, in a few words.
        first, second: the rows, as ``"<chapter>/<key>"``.
        differs: what differs between the two settings (the only thing that can make them disagree).
        numbers: ``(first, second, glued) -> str``: more of the book's numbers that show which setting decides
            (the parts of a row at two thresholds, a chapter's probe); ``""`` when there are none.
    """

    topic: str
    first: str
    second: str
    differs: str
    numbers: Callable[[Claim, Claim, Mapping[str, Mapping[str, Any]]], str] = lambda a, b, g: ""


def _parts(c: Claim) -> str:
    if not c.parts:
        return ""
    said = []
    for name, (estimate, low, high) in c.parts.items():
        said.append(
            f"{name}: {interval_text(Claim(c.chapter, c.key, '', '', '', '', '', '', '', estimate, low, high))}"
        )
    return f"{c.chapter[:2]} {c.key} by part: " + "; ".join(said) + "."


def _backprop_numbers(a: Claim, b: Claim, glued: Mapping[str, Mapping[str, Any]]) -> str:
    return " ".join(t for t in (_parts(a), _parts(b)) if t)


def _threshold_numbers(a: Claim, b: Claim, glued: Mapping[str, Mapping[str, Any]]) -> str:
    g = glued.get(a.chapter, {})
    if "gap_mask_coverage" in g and "gmp_mask_coverage" in g:
        return (
            f"GAP's maps cover {g['gap_mask_coverage']}% of the object mask, GMP's {g['gmp_mask_coverage']}% "
            f"({a.chapter[:2]}): a fixed threshold cuts the two kinds of map at different places."
        )
    return ""


def _probe_numbers(a: Claim, b: Claim, glued: Mapping[str, Mapping[str, Any]]) -> str:
    probes = glued.get(a.chapter, {}).get("probe_differences")
    return (
        f"the chapter's benchmark probes (GMP − GAP, classification / localization error): {probes}." if probes else ""
    )


DISAGREEMENTS = (
    Disagreement(
        "CAM localizes better than backprop",
        "01_gap_vs_gmp/cam_backprop_loc",
        "02_ilsvrc_localization/backprop",
        "chapter 01 trains small networks on the controlled benchmark; chapter 02 runs a pretrained ImageNet "
        "network on real ILSVRC images and grades both methods at the paper's 20% threshold and at each one's own "
        "best threshold",
        _backprop_numbers,
    ),
    Disagreement(
        "GAP localizes better than GMP: the paper's threshold against each one's best",
        "01_gap_vs_gmp/gap_gmp_loc",
        "01_gap_vs_gmp/gap_gmp_maxboxaccv2",
        "the same networks and images: the first boxes every map at 20% of its maximum, the second at each "
        "method's best threshold (MaxBoxAccV2)",
        _threshold_numbers,
    ),
    Disagreement(
        "GAP localizes better than GMP: benchmark objects against real birds",
        "01_gap_vs_gmp/gap_gmp_loc",
        "01_gap_vs_gmp/real_gap_gmp_loc",
        "the first trains both heads from scratch on the controlled benchmark's objects; the second fine-tunes a "
        "pretrained network's last convolution with each head on real CUB birds",
        _probe_numbers,
    ),
    Disagreement(
        "CAM boxes localize birds",
        "03_cub_fine_grained/cub_loc",
        "03_cub_fine_grained/cub_loc_baseline",
        "the paper's baseline is a uniform random box; the second row's is the best centred box fitted on the "
        "training birds, the strongest box that does not look at the image",
    ),
    Disagreement(
        "a weakly supervised text detector points at text",
        "05_text_detection/controlled_text",
        "05_text_detection/text_pointing",
        "the first detects rendered words on the controlled benchmark; the second real ICDAR 2015 words, which "
        "are small and incidental",
    ),
)


def disagreements(
    claims: Sequence[Claim], glued: Mapping[str, Mapping[str, Any]], pairs: Sequence[Disagreement] = DISAGREEMENTS
) -> list[dict[str, str]]:
    """Each pair's rows side by side: their verdicts and intervals, whether they agree, what differs, the numbers.

    Returns:
        One dict per pair: ``topic``, ``first``, ``second`` (``"<chapter> <key>: <verdict>, <effect> <interval>"``,
        or that the build lacks the row), ``agree`` (``"yes"``, ``"no"``, or ``"cannot tell"`` when a row is
        missing or either one is inconclusive), ``differs`` and ``numbers``.
    """
    by_key = {f"{c.chapter}/{c.key}": c for c in claims}

    def said(key: str) -> str:
        c = by_key.get(key)
        if c is None:
            return f"{key}: not in this build"
        return f"{c.chapter[:2]} {c.key}: {c.verdict}; {c.effect} {interval_text(c)}"

    out = []
    for p in pairs:
        a, b = by_key.get(p.first), by_key.get(p.second)
        if a is None or b is None or "inconclusive" in (a.verdict, b.verdict) or CONTEXT in (a.verdict, b.verdict):
            agree = "cannot tell"
        else:
            agree = "yes" if a.verdict == b.verdict else "no"
        numbers = p.numbers(a, b, glued) if a is not None and b is not None else ""
        out.append(
            {
                "topic": p.topic,
                "first": said(p.first),
                "second": said(p.second),
                "agree": agree,
                "differs": p.differs,
                "numbers": numbers,
            }
        )
    return out


# ---------------------------------------------------------------------------------------------------- deviations

_TRAINING_KEYS = ("seeds", "epochs", "max_epochs", "patience", "lr", "batch_size")


def deviations(claims: Sequence[Claim], parameters: Mapping[str, Mapping[str, Any]]) -> Table:
    """Per chapter, the paper's setting beside this study's: networks and data, training, metric.

    The paper's side is ``camlib.book.paper.SETUP``; this study's is generated: the evidence of the
    chapter's rows (network, input size, data and its size, as each row states it), the training
    parameters it ran with (``seeds``, ``epochs``, ...), and the effects its rows measure.

    Example:
        >>> rows = [Claim("03_cub_fine_grained", "a", "", "", "", "reproduced", "", "", "CAM − random (points)",
        ...               evidence="SqueezeNet 1.0, CUB test", kind="paper")]
        >>> t = deviations(rows, {"03_cub_fine_grained": {"seeds": [0, 1, 2]}})
        >>> [r["this study"] for r in t.rows]
        ['SqueezeNet 1.0, CUB test', 'seeds: [0, 1, 2]', 'CAM − random (points)']
    """
    out = []
    for chapter in sorted({c.chapter for c in claims}):
        rows = [c for c in claims if c.chapter == chapter and c.kind in ("paper", "analogue", "beyond")]
        if not rows:
            continue
        paper = SETUP.get(chapter, {})
        given = parameters.get(chapter, {})
        training = (
            "; ".join(f"{k}: {given[k]}" for k in _TRAINING_KEYS if k in given)
            or "none (pretrained, or nothing trained)"
        )
        study = {
            "networks and data": "; ".join(dict.fromkeys(c.evidence for c in rows if c.evidence)),
            "training": training,
            "metric": "; ".join(dict.fromkeys(c.effect for c in rows if c.effect)),
        }
        for aspect, mine in study.items():
            out.append(
                {"chapter": chapter[:2], "aspect": aspect, "paper": paper.get(aspect, "not stated"), "this study": mine}
            )
    return Table(out, ["chapter", "aspect", "paper", "this study"])


# ---------------------------------------------------------------------------------------------------- obstacles

# why a row could not decide -> (phrases its reason holds, what it means)
OBSTACLES = {
    "a negative control reads reproduced too": (("the negative control",), "the test could not fail"),
    "training had not converged": (
        ("still improving", "did not converge", "not converged"),
        "a network was still learning when it stopped",
    ),
    "too few independent units": (("it rests on",), "fewer than 3 seeds or 20 units behind the interval"),
    "the size is not resolved": (
        ("size not resolved",),
        "the direction holds, the size is not surely beyond the margin",
    ),
    "a threshold decides": (("threshold-dependent",), "the parts at two thresholds disagree"),
}


def obstacles(claims: Sequence[Claim]) -> Table:
    """The rows that did not decide (not resolved, inconclusive), counted by why, with the rows named.

    Example:
        >>> rows = [Claim("03_x", "a", "", "", "", "inconclusive", "the negative control (other birds) reads reproduced"),
        ...         Claim("01_x", "b", "", "", "", "inconclusive", "still improving: GMP seed 1")]
        >>> [(r["why"], r["rows"]) for r in obstacles(rows).rows]
        [('a negative control reads reproduced too', 1), ('training had not converged', 1)]
    """
    undecided = [c for c in claims if c.verdict in ("not resolved", "inconclusive") and c.kind != "check"]
    out = []
    placed: set[int] = set()
    for why, (phrases, meaning) in OBSTACLES.items():
        hit = [i for i, c in enumerate(undecided) if any(p in c.reason for p in phrases) and i not in placed]
        placed.update(hit)
        if hit:
            names = ", ".join(f"{undecided[i].chapter[:2]} {undecided[i].key}" for i in hit)
            out.append({"why": why, "meaning": meaning, "rows": len(hit), "which": names})
    rest = [c for i, c in enumerate(undecided) if i not in placed]
    if rest:
        names = ", ".join(f"{c.chapter[:2]} {c.key}" for c in rest)
        out.append(
            {
                "why": "the interval straddles the line",
                "meaning": "more data or seeds could tell",
                "rows": len(rest),
                "which": names,
            }
        )
    return Table(out, ["why", "meaning", "rows", "which"])
