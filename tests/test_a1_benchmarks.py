"""Appendix A1 (the controlled benchmarks) on its smoke profile: its statistics and its one claim.

The run is the session's ``executed`` smoke run (the one
``test_notebooks.test_runs_on_smoke_profile`` makes). The claim's verdict is
recomputed here from the benchmarks themselves with ``camlib.boxes.baselines``,
the appendix's rule and margin, so that a wrong verdict on the page fails.
"""

from __future__ import annotations

import pytest
import yaml
from test_notebooks import _glued, _markdown

from camlib.book import runner
from camlib.book.report import read_claims
from camlib.book.verdicts import Verdict, combine, verdict
from camlib.boxes import baselines
from camlib.data import synthetic
from camlib.study.stats import proportion_interval

APPENDIX = "A1_benchmarks"
CENTRE_MARGIN = 20  # the appendix's margin: points of accuracy
SMOKE = yaml.safe_load(runner.notebook_paths(APPENDIX)[0].with_suffix(".yml").read_text())["smoke"]


@pytest.mark.notebook
def test_a1_statistics(executed):
    glued = _glued(executed(APPENDIX))
    n = SMOKE["stats_items"]
    for key in ("loc_center_box_acc", "loc_center_box_acc_half", "vqa_majority_answer_pct"):
        value = glued[key]  # shares of n items, in percent rounded to 0.1: multiples of 100 / n
        assert 0 <= value <= 100 and abs(value - 100 / n * round(value * n / 100)) <= 0.051, key
    assert 0 < glued["fine_box_side_pct"] < glued["loc_box_side_pct"] < 100  # the fine-grained objects are smaller
    assert glued["scenes_objects_per_image"] >= 3 and glued["text_words_per_image"] >= 0


@pytest.mark.notebook
def test_a1_centre_box_verdict_follows_from_the_benchmarks(executed):
    nb = executed(APPENDIX)
    (row,) = read_claims([nb.metadata["camlib_output"]])
    assert row.key == "centre_box_low" and row.rule == "equal" and row.margin == CENTRE_MARGIN
    assert row.recompute() == Verdict(row.verdict, row.reason)
    # independently: the centred boxes scored with camlib.boxes.baselines on the same items, the Wilson interval, the rule
    n, parts = SMOKE["stats_items"], {}
    for name, kind in (("localization", synthetic.Localization), ("fine-grained", synthetic.FineGrained)):
        data = kind(n, seed=0)
        gt = [data[i].boxes for i in range(n)]
        side = data.image_size
        for box, size in (("mean-size box", None), ("half-side box", (side / 2, side / 2))):
            share = baselines.centre_box_accuracy(gt, side, box_size=size)
            parts[f"{name}, {box}"] = proportion_interval(share, n).scaled(100)
    assert list(row.parts) == list(parts)
    for name, interval in parts.items():
        assert row.parts[name] == pytest.approx(list(interval[:3]), abs=0.051), name  # the table's shares: 0.1 points
    expected = combine(
        {name: verdict(e, claim="equal", margin=CENTRE_MARGIN, what=row.effect) for name, e in parts.items()}
    )
    assert expected.word == row.verdict == _glued(nb)["claim_centre_box_low_verdict"]
    assert f"| {row.claim} | {row.paper} | {row.study} | **{expected.word}**" in _markdown(nb)
