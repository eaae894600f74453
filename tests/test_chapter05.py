"""Chapter 05 (text detection) on its smoke profile: every verdict follows from its row by the book's rule and from
the glued numbers, and without the real data the chapter says so and still runs its controlled part."""

from __future__ import annotations

import pytest
from test_notebooks import _checked_claims, _glued, _has, _multiple, _text

from camlib.book.verdicts import verdict

ABSENT = "n/a (data absent)"
KEYS = ["text_pointing", "text_pxap", "controlled_text"]
MAPS = {"CAM", "centre prior", "random map", "edge density"}


def _check_rows(nb) -> dict:
    return _checked_claims(nb, KEYS)


def _check_controlled(nb, claims) -> None:
    g = _glued(nb)
    levels = g["controlled_pointing"]
    # smoke: three word sizes and three word counts, each scored for the CAM and the three baselines
    assert list(levels) == ["font 0.08-0.12", "font 0.14-0.2", "font 0.22-0.3", "1-1 words", "2-3 words", "4-6 words"]
    other = "CAM of another image"  # the negative control: each test image scored with another image's map
    assert all(set(by) == MAPS | {other} and all(0 <= v <= 100 for v in by.values()) for by in levels.values())
    row = claims["controlled_text"]
    assert list(row.parts) == list(levels) and len(row.controls) == len(levels)
    for (level, (estimate, low, high)), control in zip(row.parts.items(), row.controls.values()):
        by = levels[level]
        strongest = max(v for k, v in by.items() if k in MAPS - {"CAM"})
        assert estimate == pytest.approx(by["CAM"] - strongest, abs=1e-3)
        assert low <= estimate <= high
        assert control["estimate"] == pytest.approx(by[other] - strongest, abs=1e-3)
    # smoke trains one epoch: the network is still improving and the verdict is inconclusive
    assert g["controlled_improving"] is True and row.verdict == "inconclusive" and not row.converged


@pytest.mark.notebook
@pytest.mark.realdata
@pytest.mark.skipif(
    not (_has("icdar2015") and _has("coco-mini") and _has("cub-200-2011-50cls")), reason="real data absent"
)
def test_chapter05_on_icdar(executed):
    nb = executed("05")
    g, claims = _glued(nb), _check_rows(nb)
    assert g["n_positives"] == 16 and g["n_test_positives"] == 8  # smoke: the first 16 text images, half tested
    assert set(g["text_accuracy"]) == {"0.5"} and 0 <= g["text_accuracy"]["0.5"] <= 100
    assert 0 <= g["flagged_negatives"] <= 18  # of the first 12 COCO images the text-free ones, and 6 CUB images
    pointing, pxap = g["text_pointing"], g["text_pxap"]
    assert set(pointing) == MAPS == set(pxap)
    assert all(_multiple(pointing[m], 100 / 8) for m in MAPS)  # hits on 8 test images
    for key, scores in (("text_pointing", pointing), ("text_pxap", pxap)):
        row = claims[key]
        assert row.estimate == pytest.approx(scores["CAM"] - max(v for k, v in scores.items() if k != "CAM"), abs=1e-3)
        assert row.verdict == verdict((row.estimate, row.low, row.high)).word
    _check_controlled(nb, claims)


@pytest.mark.notebook
def test_chapter05_without_data_says_so_and_runs_the_controlled_part(executed, no_data_root):
    nb = executed("05", data_root=str(no_data_root))
    assert "Real data absent" in _text(nb)
    g, claims = _glued(nb), _check_rows(nb)
    assert g["n_positives"] == ABSENT and g["text_pointing"] == ABSENT and g["text_accuracy"] == ABSENT
    for key in ("text_pointing", "text_pxap"):
        assert claims[key].verdict == "inconclusive" and claims[key].study == ABSENT
    _check_controlled(nb, claims)
