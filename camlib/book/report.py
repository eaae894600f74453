"""Tables that render as Markdown in a notebook and in the book, and the claim table.

``ClaimTable`` is how every chapter reports: one row per claim of the paper
(the claim in words, the paper's number from ``camlib.book.paper``, this study's
number with its interval, the verdict from ``camlib.book.verdicts.verdict``, and the
section of the chapter that shows it). It renders the chapter's *paper vs
this study* table and its *result at a glance* box, and glues every cell
under stable names (``claim_<key>_paper``, ``..._study``, ``..._verdict``)
and all rows as one JSON value (``claims``) that the summary page reads back
from the executed chapters (``read_claims``) into one table of the whole book
and a forest figure of the effects (``claims_figure``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from camlib.book.verdicts import VERDICTS, Verdict, combine
from camlib.book.verdicts import verdict as decide
from camlib.study.stats import Interval

__all__ = ["CONTEXT", "KINDS", "Claim", "ClaimTable", "Table", "claims_figure", "read_claims", "summary_table"]

# What a row is (``ClaimTable.add(kind=...)``): only *paper* rows stand beside the paper's number as a
# reproduction; *analogue* rows test the paper's claim in a setting the paper did not use (a controlled
# benchmark, frozen or fine-tuned features of another network, other data, another metric) and say what differs;
# *beyond* rows ask a question the paper did not (a stronger baseline); *check* rows verify an identity or the
# implementation; *context* rows show a number for comparison and test nothing. The front page counts *paper*
# and *analogue* rows (and *beyond* ones) by verdict; checks and context never enter the count.
KINDS = {
    "paper": "a claim the paper makes, on its metric and its kind of data",
    "analogue": "the paper's claim in a setting the paper did not use",
    "beyond": "a question the paper did not ask",
    "check": "an identity or an implementation check",
    "context": "a number shown for comparison, no test",
}
# The verdict word of a context row: it tests nothing, so it is none of the rule's words.
CONTEXT = "context"


class Table:
    """Rows of cells shown as a Markdown table (no truncation, unlike pandas' HTML), numbered and captioned.

    Args:
        rows: one mapping per row, column name -> value; the first row's
            keys give the columns unless ``columns`` is given.
        columns: the column order.
        caption: the table's caption; with one, the page numbers the table ("Table 03.2") and
            ``{numref}`name``` in the prose refers to it (a MyST ``{table}`` directive).
        name: the label that the prose refers to (``"tbl-03-crops"``); required with a caption.

    Example:
        >>> print(Table([{"claim": "identity", "verdict": "reproduced"}])._repr_markdown_())
        | claim | verdict |
        |---|---|
        | identity | reproduced |
        >>> print(Table([{"a": 1}], caption="One row", name="tbl-x")._repr_markdown_())
        :::{table} One row
        :name: tbl-x
        <BLANKLINE>
        | a |
        |---|
        | 1 |
        :::
    """

    def __init__(
        self,
        rows: Sequence[Mapping[str, object]],
        columns: Sequence[str] | None = None,
        *,
        caption: str = "",
        name: str = "",
    ) -> None:
        if bool(caption) != bool(name):
            raise ValueError(f"`caption` and `name` must be given together, but got {caption!r} and {name!r}.")
        if name and not re.fullmatch(r"tbl-[a-z0-9-]+", name):
            raise ValueError(f"`name` must read tbl-<lowercase words>, e.g. 'tbl-03-crops', but got {name!r}.")
        self.rows = [dict(r) for r in rows]
        self.columns = list(columns) if columns is not None else list(self.rows[0]) if self.rows else []
        self.caption, self.name = caption, name

    @classmethod
    def frame(cls, frame, *, caption: str = "", name: str = "", digits: int = 1, index: bool = True) -> Table:
        """A pandas DataFrame (or Series) as a Table: its index as the first column, floats to ``digits``, NaN as
        "n/a".

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"IoU >= 0.5 (%)": [41.04, float("nan")]}, index=pd.Index(["CAM", "random"], name="box"))
            >>> Table.frame(df).rows
            [{'box': 'CAM', 'IoU >= 0.5 (%)': '41.0'}, {'box': 'random', 'IoU >= 0.5 (%)': 'n/a'}]
            >>> Table.frame(df.set_index(pd.Index([0, 1], name="seed"), append=True)).columns  # a level per column
            ['box', 'seed', 'IoU >= 0.5 (%)']
        """
        import pandas as pd

        if isinstance(frame, pd.Series):
            frame = frame.to_frame()

        def cell(v: object) -> object:
            if isinstance(v, float):
                return "n/a" if math.isnan(v) else f"{v:.{digits}f}"
            return v

        heads = [str(n or "") for n in frame.index.names] if index else []  # one column per index level
        rows = []
        for key, values in zip(frame.index, frame.to_dict("records")):
            keys = key if isinstance(key, tuple) else (key,)
            row = {h: cell(k) for h, k in zip(heads, keys)}
            rows.append(row | {str(k): cell(v) for k, v in values.items()})
        return cls(rows, heads + [str(c) for c in frame.columns], caption=caption, name=name)

    def titled(self, caption: str, name: str) -> Table:
        """This table with a caption and a label: numbered on the page, referred to as {numref}`name`."""
        return Table(self.rows, self.columns, caption=caption, name=name)

    @staticmethod
    def _cell(value: object) -> str:
        return str(value).replace("|", "&#124;").replace("\n", " ")

    def _repr_markdown_(self) -> str:
        columns = self.columns or ["(no rows)"]  # a table of nothing is still one table (the directive needs one)
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(self._cell(r.get(c, "")) for c in columns) + " |" for r in self.rows]
        if self.caption:
            lines = [f":::{{table}} {self.caption}", f":name: {self.name}", "", *lines, ":::"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self._repr_markdown_()


@dataclass(frozen=True)
class Claim:
    """One row of a chapter's claim table (see ``ClaimTable.add``)."""

    chapter: str
    key: str
    claim: str
    paper: str
    study: str
    verdict: str
    reason: str
    section: str = ""
    effect: str = ""
    estimate: float = math.nan
    low: float = math.nan
    high: float = math.nan
    paper_effect: float = math.nan
    rule: str = ""
    margin: float = 0.0
    converged: bool = True
    parts: dict = field(default_factory=dict)
    evidence: str = ""
    kind: str = ""
    n_units: int = 0
    unit: str = ""
    controls: dict = field(default_factory=dict)
    parts_are: str = ""
    metric: str = ""
    paper_metric: str = ""

    @property
    def controls_hold(self) -> bool | None:
        """True when every negative control of the row reads *not reproduced*; None when it has none."""
        if not self.controls:
            return None
        return all(c["verdict"] == "not reproduced" for c in self.controls.values())

    @property
    def setting(self) -> str:
        """``"controlled"`` when a controlled benchmark gave the row (its evidence says so first), else ``"real"``."""
        return "controlled" if self.evidence.lower().startswith("controlled") else "real"

    def recompute(self) -> Verdict:
        """The verdict again, from this row's numbers and rule alone (what the chapter tests check).

        Raises:
            ValueError: the row holds a ready verdict (no rule): there is nothing to recompute.
        """
        if not self.rule:
            raise ValueError(f"Claim {self.key!r} has a ready verdict, not one of the rule: nothing to recompute.")
        args = dict(claim=self.rule, margin=self.margin, converged=self.converged, why_not_converged=self.reason)
        sized = lambda p: Interval(*p[:3], n=self.n_units, unit=self.unit)  # noqa: E731
        if self.parts and self.converged:  # not converged: inconclusive for the whole row, with its reason
            parts = {n: decide(sized(p), what=self.effect, **args) for n, p in self.parts.items()}
            found = combine(parts, parts_are=self.parts_are)
        else:
            effect = None if math.isnan(self.estimate) else sized((self.estimate, self.low, self.high))
            found = decide(effect, what=self.effect, **args)
        controls = {n: (c["estimate"], c["low"], c["high"]) for n, c in self.controls.items()}
        return _checked(found, _decide_controls(controls, self.rule, self.margin, self.effect))

    @property
    def doc(self) -> str:
        """The chapter's page, relative to the book's root."""
        return f"book/chapters/{self.chapter}"


_KEY_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def _registered(
    chapter: str, key: str, rule: str | None, margin: float | None, measured: bool
) -> tuple[str, float, str | None]:
    """A row's rule, margin and paper metric: the pre-registered ones (``camlib.book.prereg``) where its chapter is
    registered (metric ``""`` when the entry names none); a chapter not in the file gets metric None."""
    from camlib.book import prereg

    entry = prereg.entry(chapter, key) if measured else None
    if entry is not None:
        for name, given, kept in (("rule", rule, entry.rule), ("margin", margin, entry.margin)):
            if given is not None and given != kept:
                raise ValueError(
                    f"`{name}` of {chapter} / {key!r} must be the pre-registered {kept!r} (book/preregistration.yml), "
                    f"but the chapter states {given!r}: change the registration, in the open, not the chapter."
                )
        return entry.rule, entry.margin, entry.metric
    return ("greater" if rule is None else rule), (0.0 if margin is None else margin), None


def _paper_metric(key: str, kind: str, paper_effect: float | None, registered: str | None) -> tuple[str, str]:
    """A row's metric and its paper effect's metric. A *paper* row stands beside the paper's effect as a
    reproduction, so its effect must be the paper's own difference (``camlib.book.paper.difference``, which names
    its metric) and, in a registered chapter, on the metric the pre-registration names for the row."""
    from camlib.book.paper import PaperEffect

    theirs = paper_effect.metric if isinstance(paper_effect, PaperEffect) else ""
    if registered and theirs and registered != theirs:  # any kind: the figure would set the row beside another metric
        raise ValueError(
            f"`paper_effect` of {key!r} is on the paper's {theirs!r}, but the row is registered on {registered!r} "
            "(book/preregistration.yml): give the paper's effect on the row's own metric, or none."
        )
    if kind != "paper" or paper_effect is None:
        return registered or "", theirs
    if not theirs:
        raise ValueError(
            f"`paper_effect` of the paper row {key!r} must come from camlib.book.paper.difference (a PaperEffect, which "
            f"names its metric), but got the plain number {paper_effect!r}: a paper row must show what it measures."
        )
    if registered is not None and registered != theirs:
        raise ValueError(
            f"`paper_effect` of the paper row {key!r} is on the paper's {theirs!r}, but the row is registered on "
            f"{registered or 'no metric'!r} (book/preregistration.yml): a row on another metric is an analogue "
            f"(kind='analogue'), or its registration must name the metric."
        )
    return theirs, theirs


def _control_effect(k: Mapping) -> str:
    """A stored control's effect as a cell: ``"−20.0 (−25.0 to −15.0)"``, or ``"n/a"`` when not measured."""
    nums = [k["estimate"], k["low"], k["high"]]
    if any(x is None or math.isnan(x) for x in nums):
        return "n/a"
    return "{:+.1f} ({:+.1f} to {:+.1f})".format(*nums).replace("-", "−")


def _decide_controls(controls: Mapping, rule: str, margin: float, what: str) -> dict[str, Verdict]:
    """Each negative control decided by the row's own rule and margin (a control has no convergence gate and no
    unit count: it must read *not reproduced* on the numbers alone)."""
    out = {}
    for name, e in controls.items():
        est, low, high = (float("nan") if x is None else float(x) for x in tuple(e)[:3])
        out[name] = decide(Interval(est, low, high), claim=rule, margin=margin, what=f"{what}, control")
    return out


def _checked(found: Verdict, controls: Mapping[str, Verdict]) -> Verdict:
    """The row's verdict given its controls: a control that reads (partly) reproduced makes it *inconclusive*."""
    failed = [name for name, v in controls.items() if v.word in ("reproduced", "partly reproduced")]
    if not failed or found.word in (CONTEXT, "inconclusive"):  # an unfit row stays unfit, for its own reason
        return found
    return Verdict(
        "inconclusive",
        f"the negative control {'; '.join(failed)} reads reproduced too, so this test cannot tell "
        f"(without the control: {found})",
    )


class ClaimTable:
    """A chapter's claims: paper vs this study, each with its verdict.

    Args:
        chapter: the executed notebook's stem (``"01_gap_vs_gmp"``): the rows link to it.

    Example:
        >>> t = ClaimTable("08_my_study")  # a chapter of your own: it states its rules
        >>> row = t.add("loc", "GAP localizes better", paper="56.4 vs 57.8", study="50.0 vs 51.0", kind="analogue",
        ...             evidence="controlled benchmark", effect=(1.0, 0.2, 1.8), what="GMP − GAP loc error, points",
        ...             section="localization")
        >>> print(t._repr_markdown_().splitlines()[5])
        | GAP localizes better | 56.4 vs 57.8 | 50.0 vs 51.0 | **reproduced**: GMP − GAP loc error, points +1.0 (95% interval +0.2 to +1.8), above 0 | [localization](#localization) |
    """

    COLUMNS = ("claim", "paper", "this study", "verdict", "shown in")

    def __init__(self, chapter: str) -> None:
        if not isinstance(chapter, str) or not chapter:
            raise ValueError(f"`chapter` must be the notebook's stem, e.g. '01_gap_vs_gmp', but got {chapter!r}.")
        self.chapter = chapter
        self.claims: list[Claim] = []

    def add(
        self,
        key: str,
        claim: str,
        *,
        paper: object,
        study: str,
        effect: Interval | tuple[float, float, float] | None = None,
        parts: Mapping[str, Interval | tuple[float, float, float]] | None = None,
        rule: str | None = None,
        margin: float | None = None,
        what: str = "the effect",
        converged: bool = True,
        why_not_converged: str = "a compared network did not converge",
        verdict: Verdict | None = None,
        section: str = "",
        paper_effect: float | None = None,
        evidence: str = "",
        kind: str,
        controls: Mapping[str, Interval | tuple[float, float, float]] | None = None,
        parts_are: str = "",
    ) -> Claim:
        """Add a claim; its verdict comes from the book's one rule (``camlib.book.verdicts.verdict``).

        Give ``effect`` (one interval) or ``parts`` (one interval per network,
        dataset or size, merged by ``camlib.book.verdicts.combine``), oriented so that the
        paper's claim reads ``rule`` (``"greater"``, ``"less"``, ``"equal"``, ``"noninferior"``), with
        the ``margin`` of equivalence the chapter stated before looking. Only a
        claim the rule cannot decide (a qualitative figure, an exact identity
        checked against a tolerance) takes a ready ``verdict`` instead.

        Args:
            key: a stable name (lower case, digits, ``_``): the glue names derive from it.
            claim: the claim in words.
            paper: the paper's side, a text built from ``camlib.book.paper`` numbers (or a
                ``PaperNumber``); never a number typed in a notebook.
            study: this study's value(s), as a text.
            effect, parts: this study's effect(s) with interval(s) (see above).
            rule, margin: the test, as ``book/preregistration.yml`` registers it for this chapter and key
                (``camlib.book.prereg``): a registered row takes them from the file, and a chapter that states
                others is refused; a chapter not in the file (a reader's own) states them, by default
                ``"greater"`` and 0.
            what, converged, why_not_converged: passed to ``camlib.book.verdicts.verdict``.
            verdict: a ready verdict, only when there is neither ``effect`` nor ``parts``.
            section: the label of the chapter's section that shows the evidence.
            paper_effect: the paper's effect in the same orientation, where it has one. A *paper* row's must be
                ``camlib.book.paper.difference``'s (a ``PaperEffect``, which names its metric) on the metric that
                ``book/preregistration.yml`` registers for the row: a row that measures something else is an
                *analogue*. The row keeps both metrics (``Claim.metric``, ``Claim.paper_metric``).
            evidence: what gave this study's side: the network and the data ("EfficientNet-Lite0, 224 px, ILSVRC
                val subset"), or the controlled benchmark (a text that starts with "controlled"); the front page and
                the summary show it. Every row but a *check* names it.
            kind: what the row is, one of ``KINDS``: ``"paper"``, ``"analogue"``, ``"beyond"``, ``"check"`` or
                ``"context"``. A *context* row has no effect and no rule: its verdict word is ``CONTEXT``
                (a ready ``verdict`` gives only its reason). Only a *paper* row's ``paper_effect`` is drawn as
                the paper's effect (``claims_figure``).
            controls: negative controls, ``{what the control is: its effect}``: the same effect computed where the
                claim is known to be false (the method's maps scored against another image's boxes, a classifier
                with shuffled weights, units chosen at random), each decided by this row's rule and margin. Every
                one must read *not reproduced*; one that reads reproduced makes the row *inconclusive* (the test
                cannot tell a working method from a broken one), and the front page flags it.
            parts_are: ``combine``'s: ``"threshold"`` when the parts are one claim at the paper's threshold and at
                each method's calibrated one (the row then says *threshold-dependent* where they disagree).

        Raises:
            ValueError: a key that is not a stable name or is already used; both or
                neither of an effect and a ready verdict; a ``kind`` not in ``KINDS``, a context row with an
                effect, or a row other than a check without ``evidence``; a *paper* row whose ``paper_effect`` is
                not a ``PaperEffect`` or is on a metric other than its registered one.
        """
        if not isinstance(key, str) or not key or set(key) - _KEY_CHARS:
            raise ValueError(f"`key` must be lower case letters, digits and '_', but got {key!r}.")
        if kind not in KINDS:
            raise ValueError(f"`kind` must be one of {list(KINDS)}, but got {kind!r} for {key!r}.")
        if kind != "check" and not str(evidence).strip():
            raise ValueError(f"`evidence` must name the network and data (or the benchmark) of {key!r}, but got none.")
        if kind == CONTEXT:
            if effect is not None or parts is not None:
                raise ValueError(f"A context row tests nothing: {key!r} must have no `effect` and no `parts`.")
            verdict = Verdict(CONTEXT, verdict.reason if verdict is not None else "shown for comparison, no test")
        if any(c.key == key for c in self.claims):
            raise ValueError(f"`key` must be new in this table, but {key!r} is already used.")
        measured = effect is not None or parts is not None
        if measured == (verdict is not None) and not (not measured and not converged):
            raise ValueError(
                "`verdict` must be given exactly when there is no `effect` and no `parts`, "
                f"but got effect={effect!r}, parts={parts!r}, verdict={verdict!r}."
            )
        if verdict is not None and (not isinstance(verdict, Verdict) or verdict.word not in (*VERDICTS, CONTEXT)):
            raise ValueError(f"`verdict` must be a camlib.book.verdicts.Verdict, but got {verdict!r}.")
        rule, margin, registered_metric = _registered(self.chapter, key, rule, margin, measured)
        metric, paper_metric = _paper_metric(key, kind, paper_effect, registered_metric)
        as_interval = lambda e: e if isinstance(e, Interval) else Interval(*e)  # noqa: E731
        rule_args = dict(claim=rule, margin=margin, converged=converged, why_not_converged=why_not_converged)
        split = {} if parts is None else {name: as_interval(e) for name, e in parts.items()}
        if kind == CONTEXT:
            pass
        elif verdict is None and split and converged:
            verdict = combine(
                {name: decide(e, what=what, **rule_args) for name, e in split.items()}, parts_are=parts_are
            )
        elif verdict is None:
            verdict = decide(None if effect is None else as_interval(effect), what=what, **rule_args)
        checked = _decide_controls(controls or {}, rule, margin, what)
        if controls and not measured:
            raise ValueError(f"`controls` need the row's effect and rule, but {key!r} has no `effect` and no `parts`.")
        verdict = _checked(verdict, checked)
        e = as_interval(effect) if effect is not None else None
        sized = [x for x in ([e] if e is not None else list(split.values())) if x.n and x.unit]
        units = min(sized, key=lambda x: x.n) if sized else None
        nan = math.nan
        row = Claim(
            chapter=self.chapter,
            key=key,
            claim=claim,
            paper=str(paper),
            study=study,
            verdict=verdict.word,
            reason=verdict.reason,
            section=section,
            effect=what if measured else "",
            estimate=nan if e is None else float(e.estimate),
            low=nan if e is None else float(e.low),
            high=nan if e is None else float(e.high),
            paper_effect=nan if paper_effect is None else float(paper_effect),
            metric=metric,
            paper_metric=paper_metric,
            rule=rule if measured else "",
            margin=float(margin),
            converged=bool(converged),
            parts={name: [p.estimate, p.low, p.high] for name, p in split.items()},
            evidence=str(evidence),
            kind=kind,
            parts_are=parts_are,
            n_units=units.n if units else 0,
            unit=units.unit if units else "",
            controls={
                name: {"estimate": c.estimate, "low": c.low, "high": c.high, "verdict": v.word, "reason": v.reason}
                for (name, c), v in zip(((n, as_interval(x)) for n, x in (controls or {}).items()), checked.values())
            },
        )
        self.claims.append(row)
        return row

    def _row(self, c: Claim, *, link_chapter: bool = False) -> dict[str, str]:
        where = f"[{c.section}](#{c.section})" if c.section else ""
        if link_chapter:
            where = "{doc}`" + c.chapter[:2] + " <" + c.chapter + ">`"  # the summary sits beside the chapters
        return {
            "claim": c.claim,
            "paper": c.paper,
            "this study": c.study,
            "verdict": f"**{c.verdict}**" + (f": {c.reason}" if c.reason else ""),
            "shown in": where,
        }

    @property
    def label(self) -> str:
        """The chapter's label in table names: ``"03"`` for ``03_cub_fine_grained``, ``"a1"`` for ``A1_...``."""
        return self.chapter.split("_", 1)[0].lower()

    def _repr_markdown_(self) -> str:
        controlled = any(c.controls for c in self.claims)
        caption = "Paper vs this study: each claim of the chapter, the paper's number, this study's and the verdict"
        if controlled:
            caption += f"; the negative controls are in {{numref}}`tbl-{self.label}-controls`"
        rows = [self._row(c) for c in self.claims]
        table = Table(rows, columns=self.COLUMNS, caption=caption, name=f"tbl-{self.label}-claims")._repr_markdown_()
        return table + ("\n\n" + self.controls_markdown() if controlled else "")

    def controls_markdown(self) -> str:
        """The negative controls of every row, as a folded table: each must read *not reproduced*.

        Example:
            >>> t = ClaimTable("01_x")
            >>> _ = t.add("a", "A beats B", paper="-", study="-", kind="analogue", evidence="controlled", effect=(3, 1, 5),
            ...           controls={"A's maps against another image's boxes": (-20, -25, -15)})
            >>> print(t.controls_markdown().splitlines()[7])
            | A beats B | A's maps against another image's boxes | −20.0 (−25.0 to −15.0) | **not reproduced**, as it must |
        """
        rows = []
        for c in self.claims:
            for name, k in c.controls.items():
                shown = _control_effect(k)
                fine = k["verdict"] == "not reproduced"
                said = "as it must" if fine else "so the row's test cannot tell: the row is inconclusive"
                if not fine and k["verdict"] not in ("reproduced", "partly reproduced"):
                    said = "it does not show that the test can fail"
                rows.append(
                    {
                        "claim": c.claim,
                        "negative control": name,
                        "effect": shown,
                        "control's verdict": f"**{k['verdict']}**, {said}",
                    }
                )
        held = sum(r["control's verdict"].endswith("as it must") for r in rows)
        title = f"Negative controls: {held} of {len(rows)} read not reproduced"
        caption = "The negative controls: each row's effect where its claim is known to be false, by the row's rule"
        table = Table(
            rows,
            ["claim", "negative control", "effect", "control's verdict"],
            caption=caption,
            name=f"tbl-{self.label}-controls",
        )._repr_markdown_()
        return "\n".join(
            [f"````{{dropdown}} {title}", "", table, "````"]
        )  # blank: a line opening with ":" is an option

    def glance(self) -> str:
        """The *result at a glance* box: each claim, the paper's and the study's number, the verdict."""
        lines = [f"- **{c.verdict}** — {c.claim}. Paper: {c.paper}. This study: {c.study}." for c in self.claims]
        lines = lines or ["No claim was tested in this run (see the notes below)."]
        return ":::{admonition} Result at a glance\n:class: tip\n" + "\n".join(lines) + "\n:::"

    def to_json(self) -> str:
        """All rows as JSON (NaN as null), what ``glue`` stores under ``claims``."""

        def clean(v):
            if isinstance(v, float) and math.isnan(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v

        rows = [clean(asdict(c)) for c in self.claims]
        return json.dumps(rows, ensure_ascii=False)

    def glue(self) -> None:
        """Glue every cell under ``claim_<key>_{paper,study,verdict}``, and all rows under ``claims``."""
        from IPython.display import Markdown
        from myst_nb import glue

        for c in self.claims:
            glue(f"claim_{c.key}_paper", c.paper, display=False)
            glue(f"claim_{c.key}_study", c.study, display=False)
            glue(f"claim_{c.key}_verdict", c.verdict, display=False)
        glue("claims", self.to_json(), display=False)
        held = [c.controls_hold for c in self.claims if c.controls]
        glue("claims_controls_held", f"{sum(held)} of {len(held)}", display=False)
        glue("claims_glance", Markdown(self.glance()), display=False)


def _glued_text(output: Mapping) -> tuple[str, str] | None:
    meta = output.get("metadata", {}).get("scrapbook")
    if not meta:
        return None
    text = output["data"][meta.get("mime_prefix", "") + "text/plain"]
    return meta["name"], "".join(text) if isinstance(text, list) else text  # nbformat may split lines


def read_claims(paths: Sequence[str | Path], *, profile: str | None = None, commit: str | None = None) -> list[Claim]:
    """The claim rows glued (``ClaimTable.glue``) in executed chapter notebooks, in the given order.

    A notebook without glued claims contributes nothing. With ``profile``, every notebook must have been
    executed with that parameter profile (papermill records it) and at one commit (the runner records it in
    ``metadata["camlib"]``): a summary never mixes the rows of a ``smoke`` run of one chapter, or of an older
    run, into a ``default`` book. With ``commit``, that commit must be theirs.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: with ``profile``, a notebook executed with another profile, or with none recorded, or
            notebooks executed at different commits (the odd ones named); with ``commit``, another commit.
    """
    import ast
    from collections import Counter

    claims: list[Claim] = []
    commits: dict[str, str | None] = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"`paths` must name executed notebooks, but {path} does not exist.")
        nb = json.loads(path.read_text(encoding="utf-8"))
        ran = (nb.get("metadata", {}).get("papermill", {}).get("parameters") or {}).get("profile")
        if profile is not None and ran != profile:
            raise ValueError(
                f"`paths` must be chapters executed with the profile {profile!r}, but {path.name} was executed with "
                f"{ran!r}: re-run it (make notebook NB={path.name[:2]} PROFILE={profile} OUT={path.parent}) or the "
                "whole book (make book), so that the summary does not mix runs."
            )
        commits[path.name] = (nb.get("metadata", {}).get("camlib") or {}).get("commit")
        for cell in nb.get("cells", []):
            for output in cell.get("outputs", []):
                glued = _glued_text(output)
                if glued and glued[0] == "claims":
                    for row in json.loads(ast.literal_eval(glued[1])):
                        row["parts"] = {
                            n: [math.nan if x is None else x for x in p] for n, p in (row.get("parts") or {}).items()
                        }
                        claims.append(Claim(**{k: (math.nan if v is None else v) for k, v in row.items()}))
    if profile is not None or commit is not None:
        usual = commit if commit is not None else Counter(commits.values()).most_common(1)[0][0] if commits else None
        odd = {name: c for name, c in commits.items() if c != usual}
        if odd:
            shown = ", ".join(f"{name} ({c or 'no commit recorded'})" for name, c in odd.items())
            raise ValueError(
                f"`paths` must be chapters executed at one commit ({usual or 'none recorded'}), but {shown} "
                "differ: re-run them, or the whole book (make book), so that the summary does not mix runs."
            )
    return claims


def summary_table(claims: Sequence[Claim]) -> Table:
    """One table of the claims of every chapter, each row linking to its chapter."""
    rows = []
    for c in claims:
        row = ClaimTable(c.chapter)._row(c, link_chapter=True)
        rows.append({"chapter": row.pop("shown in"), **row, "kind": c.kind, "evidence": c.evidence})
    return Table(rows, columns=["chapter", "claim", "kind", "evidence", "paper", "this study", "verdict"])


def claims_figure(claims: Sequence[Claim]):
    """A forest plot: each claim's effect with its interval (dot and bar) and the paper's effect (cross).

    Only claims with a measured effect appear; the x-axis is each effect's own
    units (its label names them), so rows are compared by sign and interval,
    not by length across rows.

    Returns:
        The matplotlib Figure, or None when no claim has an effect.
    """
    import matplotlib.pyplot as plt

    shown = [c for c in claims if not math.isnan(c.estimate)]
    if not shown:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(shown) + 1.2), layout="constrained")
    colours = {
        "reproduced": "tab:green",
        "partly reproduced": "tab:olive",
        "not reproduced": "tab:red",
        "not resolved": "tab:gray",
        "inconclusive": "tab:orange",
    }
    for y, c in enumerate(shown):  # the paper's effect only beside a *paper* row: an analogue measures something else
        colour = colours[c.verdict]
        if not (math.isnan(c.low) or math.isnan(c.high)):
            ax.plot([c.low, c.high], [y, y], color=colour, lw=2.5)
        ax.plot(c.estimate, y, "o", color=colour)
        if c.kind == "paper" and not math.isnan(c.paper_effect):
            ax.plot(c.paper_effect, y, "x", color="black", ms=8, mew=2)
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_yticks(range(len(shown)), [f"{c.chapter[:2]} {c.key} ({c.kind}): {c.effect or c.claim}" for c in shown],
                  fontsize=8)  # fmt: skip
    ax.invert_yaxis()
    ax.set_xlabel("effect in the direction of the claim (dot: this study, bar: 95% interval; ×: the paper, paper rows)")
    handles = [plt.Line2D([], [], color=v, lw=2.5, label=k) for k, v in colours.items()]
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    return fig


__all__ += ["THEMES", "VERDICT_TAGS", "claims_answer", "contrast_ratio", "front_table_css", "front_table_html"]

# Short tags for the front page, each with its colour in the light and the dark theme (the summary page spells the
# verdicts out). Every colour keeps WCAG's contrast ratio >= 4.5 on its theme's background (THEMES; a test checks).
VERDICT_TAGS = {
    "reproduced": ("✓ reproduced", "#1a7f37", "#56d364"),
    "partly reproduced": ("◐ partly", "#7d6b00", "#e3b341"),
    "not reproduced": ("✗ not reproduced", "#c62828", "#ff8a80"),
    "not resolved": ("? not resolved", "#57606a", "#a8b1bb"),
    "inconclusive": ("– inconclusive", "#a35200", "#ffa657"),
    CONTEXT: ("· context", "#57606a", "#a8b1bb"),
}
WARNING_COLOURS = ("#c62828", "#ff8a80")  # a failing negative control, light and dark
THEMES = {"light": "#ffffff", "dark": "#121212"}  # sphinx-book-theme's page backgrounds (--pst-color-background)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2's contrast ratio of two ``#rrggbb`` colours: (L1 + 0.05) / (L2 + 0.05), L the relative luminance.

    Example:
        >>> round(contrast_ratio("#000000", "#ffffff"), 1), round(contrast_ratio("#777777", "#ffffff"), 2)
        (21.0, 4.48)
    """

    def luminance(colour: str) -> float:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
            raise ValueError(f"`colour` must be '#rrggbb', but got {colour!r}.")
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _css_class(verdict: str) -> str:
    return "verdict-" + re.sub(r"[^a-z]+", "-", verdict.lower()).strip("-")


def front_table_css() -> str:
    """The front table's style: verdict colours per theme, and one card per claim on a narrow screen.

    Wider than 700 px the table has four columns (verdict, claim, this study, paper); narrower, each
    row becomes a card that reads top to bottom in the same order, the paper's number labelled, so
    that nothing lies off-screen at a phone's 420 px.
    """
    rules = [".claims-at-a-glance .verdict { font-weight: 600; white-space: nowrap; }"]
    for verdict, (_, light, dark) in VERDICT_TAGS.items():
        rules.append(f".claims-at-a-glance .{_css_class(verdict)} {{ color: {light}; }}")
        rules.append(f'html[data-theme="dark"] .claims-at-a-glance .{_css_class(verdict)} {{ color: {dark}; }}')
    rules += [
        f".claims-at-a-glance .control-warning {{ color: {WARNING_COLOURS[0]}; }}",
        f'html[data-theme="dark"] .claims-at-a-glance .control-warning {{ color: {WARNING_COLOURS[1]}; }}',
        ".claims-at-a-glance details { font-size: 0.85em; margin: 0; } .claims-at-a-glance summary { cursor: pointer; }",
        ".claims-at-a-glance .label { display: none; }",
        "@media (max-width: 700px) {",
        "  .claims-at-a-glance, .claims-at-a-glance tbody { display: block; width: 100%; }",
        "  .claims-at-a-glance thead { display: none; }",
        "  .claims-at-a-glance tr { display: block; padding: 0.5em 0; border-bottom: 1px solid #8888; }",
        "  .claims-at-a-glance td { display: block; border: none !important; padding: 0.1em 0 !important; }",
        "  .claims-at-a-glance .label { display: inline; font-weight: 600; }",
        "}",
    ]
    return "\n".join(rules)


def front_table_html(claims: Sequence[Claim], *, base: str = "chapters/") -> str:
    """The front page's table of all claims, as HTML: verdict (with its reason, a tap away), claim (chapter, kind,
    evidence: which network and data gave it), this study (with the effect's interval), paper; each claim links to
    the section of its chapter that shows it. The style (``front_table_css``) comes with it.

    HTML, not Markdown, because the intro pastes it from the summary notebook (``{glue}`` with ``:doc:``),
    and MyST-NB pastes across documents only plain text, HTML and images. ``base`` is the chapters'
    folder relative to the page that pastes it. The reason is a ``<details>`` element, which opens on a
    click or a tap, not a hover-only ``title``.

    Example:
        >>> c = Claim("01_gap_vs_gmp", "cls", "GAP classifies as well", "1.0", "1.2", "reproduced", "why", "sec-1",
        ...           "error difference", 0.2, -0.5, 0.9)
        >>> html = front_table_html([c])
        >>> 'href="chapters/01_gap_vs_gmp.html#sec-1"' in html, "✓ reproduced" in html, "+0.2 (−0.5 to +0.9)" in html
        (True, True, True)
    """
    from html import escape

    head = ["verdict", "claim", "this study", "paper"]
    lines = [
        f"<style>{front_table_css()}</style>",
        '<table class="table claims-at-a-glance">',
        "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>",
        "<tbody>",
    ]
    for c in claims:
        href = f"{base}{c.chapter}.html" + (f"#{c.section}" if c.section else "")
        tag = VERDICT_TAGS.get(c.verdict, (c.verdict, "", ""))[0]
        study = escape(c.study)
        if not math.isnan(c.estimate) and not (math.isnan(c.low) or math.isnan(c.high)):
            low, estimate, high = (f"{v:+.1f}".replace("-", "−") for v in (c.low, c.estimate, c.high))
            study += f"<br><small>{escape(c.effect)}: {estimate} ({low} to {high})</small>"
        reason = f"<details><summary>why</summary>{escape(c.reason)}</details>" if c.reason else ""
        cells = [
            f'<span class="verdict {_css_class(c.verdict)}">{tag}</span>' + reason + _control_note(c),
            f'<a href="{escape(href)}">{escape(c.chapter[:2])} · {escape(c.claim)}</a>'
            + f"<br><small>{escape(c.kind or 'unclassified')}"
            + (f" · {c.setting} · evidence: {escape(c.evidence)}" if c.evidence else "")
            + "</small>",
            '<span class="label">this study: </span>' + study,
            '<span class="label">paper: </span>' + escape(c.paper),
        ]
        lines.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _control_note(c: Claim) -> str:
    """The front page's word on a row's negative controls (paper and analogue rows owe one)."""
    if c.controls_hold is None:
        return "<div><small>no negative control</small></div>" if c.kind in ("paper", "analogue") else ""
    if c.controls_hold:
        return "<div><small>control: not reproduced ✓</small></div>"
    return '<div><small class="control-warning">⚠ a negative control does not read not reproduced</small></div>'


def controls_answer(claims: Sequence[Claim]) -> str:
    """How the negative controls came out, in one sentence for the front page.

    Example:
        >>> ok = {"x": {"estimate": -9.0, "low": -12.0, "high": -6.0, "verdict": "not reproduced", "reason": ""}}
        >>> rows = [Claim("02_x", "a", "", "", "", "reproduced", "", kind="paper", controls=ok),
        ...         Claim("02_x", "b", "", "", "", "not resolved", "", kind="analogue")]
        >>> controls_answer(rows)
        'Negative controls: 1 of 2 paper and analogue rows have one, and all 1 read not reproduced, as they must.'
    """
    owed = [c for c in claims if c.kind in ("paper", "analogue")]
    have = [c for c in owed if c.controls_hold is not None]
    if not have:
        return f"Negative controls: none of the {len(owed)} paper and analogue rows has one yet."
    # a row unfit to decide for its own reason (networks that had not converged) says nothing of its test
    unfit = [c for c in have if c.verdict == "inconclusive" and not c.reason.startswith("the negative control")]
    fit = [c for c in have if c not in unfit]
    failed = [f"{c.chapter[:2]} {c.key}" for c in fit if not c.controls_hold]
    said = f"Negative controls: {len(have)} of {len(owed)} paper and analogue rows have one"
    aside = f" ({len(unfit)} of them unfit to decide for their own reason, left aside)" if unfit else ""
    if not failed:
        return (
            said + aside + f", and all {len(fit)} others read not reproduced, as they must."
            if unfit
            else (said + f", and all {len(fit)} read not reproduced, as they must.")
        )
    return said + aside + f"; {len(failed)} do not read not reproduced ({', '.join(failed)}): those tests cannot tell."


def controls_table(claims: Sequence[Claim]) -> Table:
    """Every negative control of the book: chapter, claim, control, its effect and its verdict."""
    rows = []
    for c in claims:
        for name, k in c.controls.items():
            shown = _control_effect(k)
            rows.append(
                {
                    "chapter": "{doc}`" + c.chapter[:2] + " <" + c.chapter + ">`",
                    "claim": c.claim,
                    "negative control": name,
                    "effect": shown,
                    "verdict": f"**{k['verdict']}**",
                }
            )
    return Table(rows, columns=["chapter", "claim", "negative control", "effect", "verdict"])


__all__ += ["controls_answer", "controls_table"]


def claims_answer(claims: Sequence[Claim]) -> str:
    """The front page's answer to "what reproduces?": verdict counts of the *paper*, *analogue* and *beyond* rows,
    each split by real and controlled evidence; checks and context rows are named, never counted.

    Example:
        >>> rows = [Claim("02_x", "a", "", "", "", "reproduced", "", evidence="EfficientNet-Lite0", kind="paper"),
        ...         Claim("02_x", "b", "", "", "", "not resolved", "", evidence="controlled benchmark", kind="analogue"),
        ...         Claim("00_x", "c", "", "", "", "reproduced", "", kind="check")]
        >>> print(claims_answer(rows))
        Paper claims (real data): 1 reproduced. Analogues (controlled benchmarks): 1 not resolved. Not counted: 1 check.
    """
    if not claims:
        return "No executed chapter with claims was found in this build."
    groups, aside = _answer_parts(claims)
    said = [f"{name} ({data}): {counts}." for name, data, _, counts in groups]
    return " ".join(said + ([f"Not counted: {aside}."] if aside else []))


def _answer_parts(claims: Sequence[Claim]) -> tuple[list[tuple[str, str, int, str]], str]:
    """``([(kind's name, evidence, rows, verdict counts), ...], what is not counted)`` for ``claims_answer``."""
    groups = []
    for kind, name in (("paper", "Paper claims"), ("analogue", "Analogues"), ("beyond", "Questions beyond the paper")):
        for setting, data in (("real", "real data"), ("controlled", "controlled benchmarks")):
            rows = [c for c in claims if c.kind == kind and c.setting == setting]
            if rows:
                counts = [f"{n} {v}" for v in VERDICTS if (n := sum(c.verdict == v for c in rows))]
                groups.append((name, data, len(rows), ", ".join(counts)))
    aside = [(sum(c.kind == k for c in claims), k) for k in ("check", CONTEXT)]
    words = [
        f"{n} {k}{'s' if n > 1 else ''}" if k == "check" else f"{n} context row{'s' if n > 1 else ''}"
        for n, k in aside
        if n
    ]
    unclassified = sum(c.kind not in KINDS for c in claims)
    if unclassified:
        words.append(f"{unclassified} unclassified")
    return groups, ", ".join(words)


__all__ += ["abstract_html"]


def _networks(claims: Sequence[Claim]) -> list[str]:
    """The real networks named in the evidence of ``claims``, in the order of ``_NETWORK_NAMES``."""
    said = " ".join(c.evidence for c in claims if c.setting == "real")
    return [name for name in dict.fromkeys(_NETWORK_NAMES.values()) if name in said]


def abstract_html(claims: Sequence[Claim], highlights: Sequence[str] = (), *, base: str = "chapters/") -> str:
    """The front page's abstract, as HTML: what was tested and on what, the outcome by kind of evidence, and the
    rows a reader should remember, every number taken from ``claims``.

    Args:
        claims: every row of the build (``load_claims``).
        highlights: ``"<chapter>/<key>"`` of the rows to recall, in order; one the build lacks (its
            chapter did not run, or its data were absent) is said to be missing, not dropped.
        base: the chapters' folder relative to the page that pastes it.

    Example:
        >>> rows = [Claim("02_x", "a", "CAM beats a centred box", "", "", "reproduced", "", "s", "GT-known difference",
        ...               4.0, 1.5, 6.5, evidence="EfficientNet-Lite0, ILSVRC", kind="paper")]
        >>> html = abstract_html(rows, ["02_x/a", "03_y/b"])
        >>> "1 row over 1 chapter" in html, "Paper claims, real data</strong> (1): 1 reproduced" in html, "+4.0 (+1.5 to +6.5)" in html
        (True, True, True)
        >>> "03_y/b: not in this build" in html
        True
    """
    from html import escape

    if not claims:
        return "<p><strong>Abstract.</strong> No executed chapter with claims was found in this build.</p>"
    chapters = sorted({c.chapter for c in claims})
    networks = _networks(claims)
    on = (
        f" Real evidence comes from {' and '.join(networks)} on the real subsets listed on the Data page; the rest "
        "from controlled benchmarks whose truth is known by construction."
        if networks
        else " No real data were read in this build: every row rests on controlled benchmarks."
    )
    n_rows = len(claims)
    text = (
        f"<p><strong>Abstract.</strong> This build re-tests the claims of Zhou et al. (CVPR 2016) in {n_rows} "
        f"row{'s' if n_rows != 1 else ''} over {len(chapters)} chapter{'s' if len(chapters) != 1 else ''}.{on} "
        "Each verdict comes from one rule applied to a 95% interval, with the margins of one pre-registration file "
        "(the summary shows when each entry last changed; a few changed after results were visible):</p><ul>"
    )
    groups, aside = _answer_parts(claims)
    text += "".join(
        f"<li><strong>{name}, {data}</strong> ({n}): {escape(counts)}.</li>" for name, data, n, counts in groups
    )
    text += (f"<li>Not counted (they test no claim): {aside}.</li>" if aside else "") + "</ul>"
    by_key = {f"{c.chapter}/{c.key}": c for c in claims}
    items = []
    for key in highlights:
        c = by_key.get(key)
        if c is None:
            items.append(
                f"<li>{escape(key)}: not in this build (its chapter did not run, or its data were absent).</li>"
            )
            continue
        href = f"{base}{c.chapter}.html" + (f"#{c.section}" if c.section else "")
        number = ""
        if not any(math.isnan(v) for v in (c.estimate, c.low, c.high)):
            low, estimate, high = (f"{v:+.1f}".replace("-", "−") for v in (c.low, c.estimate, c.high))
            number = f" ({escape(c.effect)}: {estimate} ({low} to {high}))"
        # the reason, unless it only repeats the interval shown (a control's or a training's reason is news)
        why = f" — {escape(c.reason)}" if c.reason and not (number and c.reason.startswith(c.effect)) else ""
        items.append(
            f'<li><a href="{escape(href)}">{escape(c.chapter[:2])} · {escape(c.claim)}</a>: '
            f"<em>{escape(c.verdict)}</em>{number}{why}.</li>"
        )
    if items:
        text += "<p>To remember:</p><ol>" + "".join(items) + "</ol>"
    return text


__all__ += ["network_name"]

_NETWORK_NAMES = {
    "efficientnet_lite0": "EfficientNet-Lite0",
    "squeezenet1_0": "SqueezeNet 1.0",
    "squeezenet1_1": "SqueezeNet 1.1",
    "resnet18": "ResNet-18",
    "resnet50": "ResNet-50",
    "googlenet": "GoogLeNet",
    "vgg16": "VGG16",
    # the controlled benchmarks' small networks: never the paper's names (camlib.models.heads)
    "alexnet-small": "a small AlexNet-like net",
    "vgg-small": "a small VGG-like net",
    "googlenet-small": "a small GoogLeNet-like net",
}


def network_name(arch: str) -> str:
    """How the book names a network given by its ``arch`` (``camlib.load_pretrained``'s): ``"EfficientNet-Lite0"``.

    Example:
        >>> network_name("efficientnet_lite0"), network_name("timm:mobilenetv3_large_100"), network_name("")
        ('EfficientNet-Lite0', 'mobilenetv3_large_100 (timm)', '')
        >>> network_name("alexnet-small")           # a controlled benchmark's network never takes the paper's name
        'a small AlexNet-like net'
    """
    if not isinstance(arch, str):
        raise TypeError(f"`arch` must be a str, but got {type(arch).__name__}.")
    if arch.startswith("timm:"):
        return f"{arch[5:]} (timm)"
    return _NETWORK_NAMES.get(arch, arch)
