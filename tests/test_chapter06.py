"""Chapter 06 (VQA) on its smoke profile: every verdict follows from its row by the book's rule and from the glued
numbers, the answer map's identity holds, and without VQA data the chapter says so."""

from __future__ import annotations

import pytest
from test_notebooks import _checked_claims, _glued, _multiple, _text

KEYS = ["vqa_pointing", "vqa_swap", "vqa_pointing_one"]


@pytest.mark.notebook
def test_chapter06_smoke(executed):
    nb = executed("06")
    g, claims = _glued(nb), _checked_claims(nb, KEYS)
    n = g["n_test"]
    assert n == 24  # smoke
    assert g["vqa_identity_gap"] < 1e-5  # mean(M_a) is the image part of the answer's score
    accuracy = g["vqa_accuracy"]
    assert set(accuracy) == {"shape", "left", "top", "count", "nearest"}
    assert sum(row["questions"] for row in accuracy.values()) == n
    pointing = g["vqa_pointing"]
    assert set(pointing) == {"seed 0", "centre point", "random point"}
    assert _multiple(pointing["seed 0"], 100 / n) and _multiple(pointing["centre point"], 100 / n)
    assert 0 < pointing["random point"] < 10  # one shape's box out of a 3 x 3 grid of cells
    after, before, changed = g["vqa_swap"]
    assert all(_multiple(v, 100 / n) for v in (after, before, changed))
    # smoke trains one epoch: the models are still improving, so both verdicts are inconclusive
    assert g["vqa_improving"] and all(c.verdict == "inconclusive" and not c.converged for c in claims.values())
    row = claims["vqa_pointing"]
    strongest = max(pointing["centre point"], pointing["random point"])
    # one interval over the seeds and the questions (smoke: one seed, too few to decide), and a control
    assert not row.parts and (row.n_units, row.unit) == (1, "seeds")
    assert row.estimate == pytest.approx(pointing["seed 0"] - strongest, abs=1e-3)
    assert list(row.controls) == ["each question's map taken from another image"]
    assert claims["vqa_swap"].estimate == pytest.approx(after - before, abs=1e-3)
    one = g["vqa_one"]  # one object per image
    assert set(one) == {"both", "question", "pointing", "centre point", "random point", "edge density"}
    assert all(_multiple(one[k], 100 / n) for k in ("both", "question", "pointing", "centre point", "edge density"))
    row = claims["vqa_pointing_one"]  # against the strongest of three, an image-only saliency map among them
    strongest = max(one["centre point"], one["random point"], one["edge density"])
    assert row.estimate == pytest.approx(one["pointing"] - strongest, abs=1e-3)
    assert "Real data absent" in _text(nb)  # no VQA copy here
