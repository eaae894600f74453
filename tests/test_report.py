"""camlib.book.report: the claim table, its glue, the summary's reader and figure."""

from __future__ import annotations

import dataclasses
import json
import math

import matplotlib
import nbformat
import pytest

from camlib.book.paper import difference
from camlib.book.report import (
    Claim,
    ClaimTable,
    Table,
    claims_answer,
    claims_figure,
    front_table_html,
    read_claims,
    summary_table,
)
from camlib.book.verdicts import Verdict

matplotlib.use("Agg")


def _table() -> ClaimTable:
    t = ClaimTable("01_gap_vs_gmp")
    t.add(
        "gap_gmp_loc",
        "GAP localizes better than GMP",
        paper="56.4 vs 57.78",
        study="50.0 vs 52.0",
        effect=(2.0, 0.5, 3.5),
        what="GMP − GAP loc error (points)",
        section="sec-loc",
        paper_effect=difference("table2", ("GoogLeNet-GMP", "GoogLeNet-GAP"), "loc_top1_err"),
        evidence="controlled benchmark",
        kind="paper",
    )
    t.add(
        "mechanism",
        "GAP covers the object",
        paper="argued",
        study="60 vs 40",
        verdict=Verdict("not resolved", "one seed"),
        kind="analogue",
        evidence="controlled benchmark",
    )
    return t


def test_rows_render_with_the_verdict_word_and_the_link():
    md = _table()._repr_markdown_().splitlines()
    # a numbered, captioned table that the chapter's prose refers to as {numref}`tbl-01-claims`
    assert md[0].startswith(":::{table} Paper vs this study") and md[1] == ":name: tbl-01-claims"
    md = md[3:]
    assert md[0] == "| claim | paper | this study | verdict | shown in |"
    assert md[2].startswith(
        "| GAP localizes better than GMP | 56.4 vs 57.78 | 50.0 vs 52.0 | **reproduced**: "
        "GMP − GAP loc error (points) +2.0 (95% interval +0.5 to +3.5), above 0"
    )
    assert md[2].endswith("| [sec-loc](#sec-loc) |")
    assert md[3] == "| GAP covers the object | argued | 60 vs 40 | **not resolved**: one seed |  |"


def test_glance_lists_every_claim_in_an_admonition():
    g = _table().glance()
    assert g.startswith(":::{admonition} Result at a glance") and g.endswith(":::")
    assert "- **reproduced** — GAP localizes better than GMP. Paper: 56.4 vs 57.78. This study: 50.0 vs 52.0." in g


def test_bad_rows_are_refused():
    t = _table()
    with pytest.raises(ValueError, match="`key` must be new in this table, but 'mechanism' is already used"):
        t.add(
            "mechanism",
            "x",
            paper="",
            study="",
            verdict=Verdict("reproduced"),
            kind="analogue",
            evidence="controlled benchmark",
        )
    with pytest.raises(ValueError, match=r"`key` must be lower case letters, digits and '_', but got 'Bad key'"):
        t.add(
            "Bad key",
            "x",
            paper="",
            study="",
            verdict=Verdict("reproduced"),
            kind="analogue",
            evidence="controlled benchmark",
        )
    with pytest.raises(ValueError, match="`verdict` must be a camlib.book.verdicts.Verdict, but got 'reproduced'"):
        t.add("k", "x", paper="", study="", verdict="reproduced", kind="analogue", evidence="controlled benchmark")
    with pytest.raises(ValueError, match="`verdict` must be given exactly when there is no `effect`"):
        t.add(
            "k",
            "x",
            paper="",
            study="",
            effect=(1.0, 0.0, 2.0),
            verdict=Verdict("reproduced"),
            kind="analogue",
            evidence="controlled benchmark",
        )
    with pytest.raises(ValueError, match="`verdict` must be given exactly when there is no `effect`"):
        t.add("k", "x", paper="", study="", kind="analogue", evidence="controlled benchmark")


def test_the_verdict_comes_from_the_rule_and_recomputes_from_the_row():
    t = ClaimTable("02_my_study")
    one = t.add(
        "cls",
        "about equal",
        paper="",
        study="",
        effect=(0.6, -1.0, 2.2),
        rule="equal",
        margin=3.0,
        what="GMP − GAP cls error",
        kind="analogue",
        evidence="controlled benchmark",
    )
    several = t.add(
        "cost",
        "GAP costs accuracy",
        paper="",
        study="",
        rule="greater",
        parts={"AlexNet": (5.0, 2.0, 8.0), "VGG": (1.0, -2.0, 4.0)},
        what="GAP − FC error",
        kind="analogue",
        evidence="controlled benchmark",
    )
    late = t.add(
        "late",
        "GAP localizes better",
        paper="",
        study="",
        effect=(9.0, 8.0, 10.0),
        converged=False,
        why_not_converged="GAP still improving at the last epoch",
        kind="analogue",
        evidence="controlled benchmark",
    )
    assert (one.verdict, several.verdict, late.verdict) == ("reproduced", "partly reproduced", "inconclusive")
    assert several.reason.startswith("AlexNet: reproduced: GAP − FC error +5.0")
    assert late.reason == "GAP still improving at the last epoch"
    for row in t.claims:
        assert row.recompute() == Verdict(row.verdict, row.reason)
    with pytest.raises(ValueError, match="`chapter` must be the notebook's stem"):
        ClaimTable("")


def _executed(tmp_path, table: ClaimTable, name: str, profile: str | None = None, commit: str | None = None):
    """A notebook with the outputs that myst_nb.glue writes for ``table.glue()`` (as an executed chapter has),
    the parameters papermill records, with ``profile``, and the run the runner records, with ``commit``."""
    out = nbformat.v4.new_output(
        "display_data",
        data={"text/plain": repr(table.to_json())},
        metadata={"scrapbook": {"name": "claims", "mime_prefix": ""}},
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[out])])
    if profile is not None:
        nb.metadata["papermill"] = {"parameters": {"profile": profile}}
    if commit is not None:
        nb.metadata["camlib"] = {"profile": profile, "commit": commit, "require_data": True}
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_read_claims_gets_back_every_row_with_nan_for_missing_effects(tmp_path):
    t = _table()
    other = ClaimTable("03_my_study")
    other.add(
        "crop",
        "crops help",
        paper="63.0 -> 67.8",
        study="70 -> 72",
        parts={"small": (1.0, float("nan"), 2.0)},
        kind="analogue",
        evidence="controlled benchmark",
    )
    empty = tmp_path / "empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), empty)
    claims = read_claims([_executed(tmp_path, t, "a.ipynb"), empty, _executed(tmp_path, other, "b.ipynb")])
    assert [c.key for c in claims] == ["gap_gmp_loc", "mechanism", "crop"]
    assert claims[0] == t.claims[0] and claims[2].parts["small"][1] != claims[2].parts["small"][1]  # NaN back
    assert math.isnan(claims[1].estimate) and math.isnan(claims[1].paper_effect)
    assert json.loads(t.to_json())[1]["estimate"] is None
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_claims([tmp_path / "missing.ipynb"])


def test_the_summary_never_mixes_runs_of_different_profiles(tmp_path):
    default = _executed(tmp_path, _table(), "01_a.ipynb", profile="default")
    smoke = _executed(tmp_path, _table(), "03_b.ipynb", profile="smoke")
    assert [c.key for c in read_claims([default], profile="default")] == ["gap_gmp_loc", "mechanism"]
    with pytest.raises(
        ValueError, match=r"executed with the profile 'default', but 03_b.ipynb was executed with 'smoke'"
    ):
        read_claims([default, smoke], profile="default")
    with pytest.raises(ValueError, match=r"but 01_c.ipynb was executed with None"):
        read_claims([_executed(tmp_path, _table(), "01_c.ipynb")], profile="default")
    assert len(read_claims([default, smoke])) == 4  # no profile asked: any run (a reader's own folder)


def test_the_summary_never_mixes_runs_of_different_commits(tmp_path):
    """A chapter re-run at another commit (or outside the runner) is named; the summary reads one run only."""
    a, b, c = (_executed(tmp_path, _table(), f"0{i}_x.ipynb", profile="default", commit="abc123") for i in range(3))
    assert len(read_claims([a, b, c], profile="default")) == 6
    assert len(read_claims([a, b], profile="default", commit="abc123")) == 4
    old = _executed(tmp_path, _table(), "04_old.ipynb", profile="default", commit="0ld0ne")
    with pytest.raises(ValueError, match=r"executed at one commit \(abc123\), but 04_old.ipynb \(0ld0ne\) differ"):
        read_claims([a, b, old, c], profile="default")
    bare = _executed(tmp_path, _table(), "05_bare.ipynb", profile="default")
    with pytest.raises(ValueError, match=r"but 05_bare.ipynb \(no commit recorded\) differ"):
        read_claims([a, bare, c], profile="default")
    with pytest.raises(ValueError, match=r"at one commit \(def456\), but 00_x.ipynb \(abc123\)"):
        read_claims([a], profile="default", commit="def456")


def test_summary_table_links_each_row_to_its_chapter():
    md = summary_table(_table().claims)._repr_markdown_().splitlines()
    assert md[0] == "| chapter | claim | kind | evidence | paper | this study | verdict |"
    assert md[2].startswith(
        "| {doc}`01 <01_gap_vs_gmp>` | GAP localizes better than GMP | paper | controlled benchmark |"
    )


def test_claims_figure_shows_only_measured_effects():
    claims = _table().claims
    fig = claims_figure(claims)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["01 gap_gmp_loc (paper): GMP − GAP loc error (points)"]
    # the interval bar, the estimate, the paper's cross
    xs = sorted(x for line in ax.get_lines() for x in line.get_xdata())
    assert 0.5 in xs and 3.5 in xs and 2.0 in xs and pytest.approx(1.38) in xs
    assert claims_figure(claims[1:]) is None
    matplotlib.pyplot.close(fig)


def test_plain_table_escapes_pipes():
    assert Table([{"a": "x|y"}])._repr_markdown_().splitlines()[2] == "| x&#124;y |"


def test_a_comparison_of_several_parts_that_did_not_converge_is_inconclusive_and_recomputes():
    t = ClaimTable("02_x")
    row = t.add(
        "cost",
        "GAP costs accuracy",
        paper="",
        study="",
        parts={"AlexNet": (5.0, 2.0, 8.0), "VGG": (1.0, -2.0, 4.0)},
        converged=False,
        why_not_converged="still improving: VGG-GAP",
        kind="analogue",
        evidence="controlled benchmark",
    )
    assert (row.verdict, row.reason) == ("inconclusive", "still improving: VGG-GAP")  # once, not once per part
    assert row.parts["AlexNet"] == [5.0, 2.0, 8.0]  # the parts are kept for the table
    assert row.recompute() == Verdict(row.verdict, row.reason)


def test_front_table_links_each_claim_to_its_section_and_tags_its_verdict():
    from camlib.book.report import Claim, claims_answer, front_table_html

    rows = [
        Claim(
            "02_ilsvrc_localization",
            "loc",
            "CAM beats backprop <b>",
            "p",
            "s",
            "not reproduced",
            "why",
            "ilsvrc-errors",
            "GT-known difference",
            -3.25,
            -6.0,
            -0.5,
        ),
        Claim(
            "07_class_specific_units",
            "units",
            "units detect parts",
            "fig",
            "48%",
            "reproduced",
            "",
            "",
            "share",
            float("nan"),
        ),
    ]
    rows[0] = dataclasses.replace(rows[0], evidence="EfficientNet-Lite0, 224 px, ILSVRC val subset", kind="paper")
    html = front_table_html(rows, base="chapters/")
    assert html.count("<tr>") == 3  # the header and two claims
    assert (
        html.count("evidence: ") == 1 and "<small>paper · real · evidence: EfficientNet-Lite0, 224 px, ILSVRC" in html
    )
    assert "<small>unclassified</small>" in html  # a row without a kind says so
    assert 'href="chapters/02_ilsvrc_localization.html#ilsvrc-errors"' in html
    assert 'href="chapters/07_class_specific_units.html"' in html  # no section: the chapter
    assert "CAM beats backprop &lt;b&gt;" in html  # escaped
    assert "GT-known difference: −3.2 (−6.0 to −0.5)" in html  # the interval, with true minus signs
    assert "✗ not reproduced" in html and "✓ reproduced" in html
    # the reason opens on a tap (no hover-only title); a row without one has no empty fold
    assert "<details><summary>why</summary>why</details>" in html and html.count("<details>") == 1
    assert 'title="' not in html
    # verdict first, then the claim (with its chapter), this study, the paper: the order a narrow screen stacks
    assert "<th>verdict</th><th>claim</th><th>this study</th><th>paper</th>" in html
    assert '<td><span class="verdict verdict-not-reproduced">✗ not reproduced</span>' in html
    assert ">02 · CAM beats backprop &lt;b&gt;</a>" in html
    assert claims_answer(rows) == "Paper claims (real data): 1 not reproduced. Not counted: 1 unclassified."
    assert claims_answer([]).startswith("No executed chapter")


def test_front_table_colours_are_legible_in_both_themes_and_rows_stack_on_a_phone():
    from camlib.book.report import THEMES, VERDICT_TAGS, WARNING_COLOURS, contrast_ratio, front_table_css

    # WCAG's formula on known pairs: black on white 21:1; #777 on white 4.48, just below AA's 4.5
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.005)
    assert contrast_ratio("#ffffff", "#777777") == contrast_ratio("#777777", "#ffffff")
    with pytest.raises(ValueError, match=r"`colour` must be '#rrggbb', but got 'red'"):
        contrast_ratio("red", "#ffffff")
    for verdict, (_, light, dark) in [*VERDICT_TAGS.items(), ("warning", ("", *WARNING_COLOURS))]:
        assert contrast_ratio(light, THEMES["light"]) >= 4.5, verdict
        assert contrast_ratio(dark, THEMES["dark"]) >= 4.5, verdict
    css = front_table_css()
    for verdict, (_, light, dark) in VERDICT_TAGS.items():
        name = "verdict-" + verdict.replace(" ", "-")
        assert f".claims-at-a-glance .{name} {{ color: {light}; }}" in css
        assert f'html[data-theme="dark"] .claims-at-a-glance .{name} {{ color: {dark}; }}' in css
    assert "@media (max-width: 700px)" in css and ".claims-at-a-glance thead { display: none; }" in css


def test_every_row_declares_its_kind_and_evidence():
    t = ClaimTable("02_x")
    with pytest.raises(
        ValueError, match=r"`kind` must be one of \['paper', 'analogue', 'beyond', 'check', 'context'\]"
    ):
        t.add("a", "x", paper="", study="", effect=(1.0, 0.5, 1.5), kind="replication", evidence="e")
    with pytest.raises(ValueError, match="`evidence` must name the network and data .* of 'a', but got none"):
        t.add("a", "x", paper="", study="", effect=(1.0, 0.5, 1.5), kind="paper")
    with pytest.raises(TypeError, match="kind"):
        t.add("a", "x", paper="", study="", effect=(1.0, 0.5, 1.5), evidence="e")  # no default: every row says
    check = t.add("identity", "x", paper="", study="", verdict=Verdict("reproduced", "1e-7 <= 1e-5"), kind="check")
    assert check.kind == "check" and check.evidence == ""  # a check needs no evidence


def test_a_context_row_tests_nothing_and_has_its_own_word():
    t = ClaimTable("02_x")
    row = t.add("errors", "the errors", paper="p", study="s", kind="context", evidence="EfficientNet-Lite0")
    assert (row.verdict, row.reason) == ("context", "shown for comparison, no test")
    row = t.add(
        "acc", "acc", paper="p", study="s", kind="context", evidence="e", verdict=Verdict("inconclusive", "why")
    )
    assert (row.verdict, row.reason) == ("context", "why")  # the reason kept, the word replaced
    with pytest.raises(ValueError, match="A context row tests nothing: 'x' must have no `effect`"):
        t.add("x", "x", paper="", study="", kind="context", evidence="e", effect=(1.0, 0.5, 1.5))
    assert "· context" in front_table_html(t.claims)


def test_the_answer_counts_paper_analogue_and_beyond_rows_by_evidence_and_never_checks_or_context():
    def row(key, verdict, kind, evidence="EfficientNet-Lite0, CUB"):
        return Claim("01_x", key, "", "", "", verdict, "", evidence=evidence, kind=kind)

    rows = [
        row("a", "reproduced", "paper"),
        row("b", "not reproduced", "paper"),
        row("c", "reproduced", "paper", evidence="controlled localization benchmark"),
        row("d", "not resolved", "analogue"),
        row("e", "reproduced", "beyond"),
        row("f", "reproduced", "check"),
        row("g", "context", "context"),
        row("h", "context", "context"),
    ]
    assert claims_answer(rows) == (
        "Paper claims (real data): 1 reproduced, 1 not reproduced. Paper claims (controlled benchmarks): 1 reproduced. "
        "Analogues (real data): 1 not resolved. Questions beyond the paper (real data): 1 reproduced. "
        "Not counted: 1 check, 2 context rows."
    )
    assert [r.setting for r in rows[1:3]] == ["real", "controlled"]


def test_only_a_paper_row_draws_the_papers_effect():
    t = ClaimTable("01_x")
    for kind in ("paper", "analogue"):
        t.add(
            kind,
            kind,
            paper="",
            study="",
            effect=(1.0, 0.5, 1.5),
            kind=kind,
            evidence="e",
            paper_effect=difference("table4", ("GT box crop", "full image"), "accuracy"),
        )
    fig = claims_figure(t.claims)
    crosses = [line for line in fig.axes[0].get_lines() if line.get_marker() == "x"]
    assert [list(line.get_xdata()) for line in crosses] == [[pytest.approx(7.5)]] and list(crosses[0].get_ydata()) == [
        0
    ]
    matplotlib.pyplot.close(fig)


def test_a_paper_row_stands_beside_the_papers_effect_only_on_its_registered_metric():
    """A *paper* row's paper effect names its metric (``camlib.book.paper.difference``), and in a registered
    chapter it must be the metric ``book/preregistration.yml`` gives the row; an analogue may show a plain number."""
    crop = difference("table4", ("CAM crop", "full image"), "accuracy")
    box = difference("sec4.1", ("CAM box", "random box"), "loc_acc_iou50")
    row = dict(claim="c", paper="p", study="s", effect=(6.0, 2.0, 9.0), evidence="e")
    t = ClaimTable("03_cub_fine_grained")
    kept = t.add("cub_crop", kind="paper", paper_effect=crop, **row)
    assert (kept.metric, kept.paper_metric, kept.paper_effect) == ("accuracy", "accuracy", pytest.approx(4.8))
    with pytest.raises(ValueError, match=r"is on the paper's 'loc_acc_iou50', but the row is registered on 'accuracy'"):
        t.add("cub_crop_gt", kind="paper", paper_effect=box, **row)
    with pytest.raises(ValueError, match=r"must come from camlib.book.paper.difference .* plain number 4.8"):
        t.add("cub_crop_reference", kind="paper", paper_effect=4.8, **row)
    with pytest.raises(ValueError, match=r"registered on 'accuracy'"):  # an analogue too: the figure would mislead
        t.add("fg_crop", kind="analogue", paper_effect=box, **row)
    # a registered paper row on no metric cannot stand beside an effect of the paper
    with pytest.raises(ValueError, match=r"registered on 'no metric'"):
        ClaimTable("00_class_activation_maps").add("maps_differ", kind="paper", paper_effect=crop, **row)
    free = ClaimTable("09_mine")  # a reader's chapter, not registered: the paper effect's own metric is kept
    assert free.add("a", kind="paper", paper_effect=crop, **row).metric == "accuracy"
    assert free.add("b", kind="analogue", paper_effect=4.8, **row).paper_metric == ""
