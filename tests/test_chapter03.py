"""Chapter 03 (CUB, CAM crops) on its smoke profile: with the real data, and without it.

Both runs come from the session's ``executed`` fixture (the smoke run is the
one ``test_notebooks.test_runs_on_smoke_profile`` makes). Every verdict is
recomputed here from the glued numbers with the chapter's rule and margins,
so that a wrong verdict on the page fails the test.
"""

from __future__ import annotations

import json

import pytest
from test_notebooks import _glued, _has, _multiple, _text

import camlib
from camlib.report import read_claims
from camlib.stats import Verdict, combine, verdict

CHAPTER = "03_cub_fine_grained"
ABSENT = "n/a (data absent)"
CROP_MARGIN, LOC_MARGIN = 1.0, 5.0  # the margins the chapter states before its results (points)
REAL = ["cub_acc_full", "cub_acc_cam_crop", "cub_acc_gt_crop", "cub_cam_box_acc_iou50", "cub_random_box_acc_iou50",
        "cub_centre_box_acc_iou50", "cub_crop_gain", "cub_svm_identity_max_abs_err"]
CONTROLLED = ["fg_acc_full", "fg_acc_cam_crop", "fg_acc_gt_crop", "fg_cam_box_acc_iou50", "fg_random_box_acc_iou50",
              "fg_centre_box_acc_iou50", "fg_large_acc_full", "fg_large_acc_cam_crop"]






def _claims(nb) -> dict:
    rows = {c.key: c for c in read_claims([nb.metadata["camlib_output"]])}
    for row in rows.values():  # each row's verdict follows from its own numbers and rule
        assert row.recompute() == Verdict(row.verdict, row.reason), row.key
        assert row.chapter == CHAPTER and row.rule == "greater" and row.section.startswith("ch03-")
    return rows


def _shown(nb, row, word: str) -> None:
    """The chapter's rendered claim table shows ``word`` as the verdict of ``row``."""
    cells = f"| {row.claim} | {row.paper} | {row.study} | **{word}**"
    assert json.dumps(cells)[1:-1] in _text(nb), f"the claim table does not show {word!r} for {row.key}"


def _check_controlled(nb, glued, rows) -> None:
    # smoke: 48 test images per object size, so accuracies are multiples of 100 / 48
    for key in CONTROLLED:
        assert isinstance(glued[key], float) and 0 <= glued[key] <= 100 and _multiple(glued[key], 100 / 48), key
    row = rows["fg_crop"]
    assert row.margin == CROP_MARGIN
    assert row.paper_effect == pytest.approx(camlib.paper.difference("table4", ("CAM crop", "full image"), "accuracy"))
    (small, s), (large, l) = list(row.parts.items())[0], list(row.parts.items())[-1]
    # each size's effect is its CAM crop accuracy minus its whole image accuracy (rounded numbers: within 0.1)
    assert s[0] == pytest.approx(glued["fg_acc_cam_crop"] - glued["fg_acc_full"], abs=0.11), small
    assert l[0] == pytest.approx(glued["fg_large_acc_cam_crop"] - glued["fg_large_acc_full"], abs=0.11), large
    assert all(p[1] <= p[0] <= p[2] for p in row.parts.values())
    # the verdict again, by the book's rule with the chapter's margin, size by size, then merged
    word = combine({n: verdict(tuple(p), margin=CROP_MARGIN) for n, p in row.parts.items()}).word
    assert row.verdict == word
    _shown(nb, row, word)


@pytest.mark.notebook
@pytest.mark.realdata
@pytest.mark.skipif(not _has("cub-200-2011-50cls/CUB_200_2011"), reason="real data absent: link data -> ../shared/data or set $CAMLIB_DATA")
def test_chapter03_on_the_cub_subset(executed):
    nb = executed(CHAPTER)
    glued = _glued(nb)
    # smoke: 4 species x 4 test images = 16, so accuracies are multiples of 100 / 16 = 6.25 (rounded to 0.1)
    for key in ("cub_acc_full", "cub_acc_cam_crop", "cub_acc_gt_crop", "cub_cam_box_acc_iou50",
                "cub_centre_box_acc_iou50"):
        assert 0 <= glued[key] <= 100 and _multiple(glued[key], 6.25), key
    # uniform corners: chance is low; 5 draws per image: multiples of 100 / 80 = 1.25
    assert 0 <= glued["cub_random_box_acc_iou50"] < 25 and _multiple(glued["cub_random_box_acc_iou50"], 1.25)
    # the SVM's map is exact: mean M_c + b_c = S_c up to float32 rounding
    assert glued["cub_svm_identity_max_abs_err"] < 1e-4
    rows = _claims(nb)
    assert set(rows) == {"cub_loc", "cub_crop", "fg_crop"}

    crop = rows["cub_crop"]
    assert crop.margin == CROP_MARGIN and crop.low <= crop.estimate <= crop.high
    assert crop.estimate == pytest.approx(glued["cub_acc_cam_crop"] - glued["cub_acc_full"], abs=0.11)
    assert crop.paper_effect == pytest.approx(camlib.paper.difference("table4", ("CAM crop", "full image"), "accuracy"))
    assert f"{crop.estimate:+.1f}" in glued["cub_crop_gain"]
    word = verdict((crop.estimate, crop.low, crop.high), claim="greater", margin=CROP_MARGIN).word
    assert crop.verdict == word
    _shown(nb, crop, word)

    loc = rows["cub_loc"]
    assert loc.margin == LOC_MARGIN and loc.low <= loc.estimate <= loc.high
    assert loc.estimate == pytest.approx(glued["cub_cam_box_acc_iou50"] - glued["cub_random_box_acc_iou50"], abs=0.11)
    paper = camlib.paper.difference("sec4.1", ("CAM box", "random box"), "loc_acc_iou50")
    assert loc.paper_effect == pytest.approx(paper)
    word = verdict((loc.estimate, loc.low, loc.high), claim="greater", margin=LOC_MARGIN).word
    assert loc.verdict == word
    _shown(nb, loc, word)

    _check_controlled(nb, glued, rows)


@pytest.mark.notebook
def test_chapter03_without_data_says_so_and_runs_the_controlled_part(executed, no_data_root):
    nb = executed(CHAPTER, data_root=str(no_data_root))
    text = _text(nb)
    assert "Real data absent" in text and str(no_data_root / "cub-200-2011-50cls" / "CUB_200_2011") in text
    glued = _glued(nb)
    for key in REAL:
        assert glued[key] == ABSENT, key
    rows = _claims(nb)
    assert set(rows) == {"fg_crop"}  # the CUB claims are left out, and the page says why
    assert "The CUB claims were not tested" in text
    _check_controlled(nb, glued, rows)
