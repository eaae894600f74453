"""Chapter 03 (CUB, CAM crops) on its smoke profile: with the real data, and without it.

Both runs come from the session's ``executed`` fixture (the smoke run is the
one ``test_notebooks.test_runs_on_smoke_profile`` makes). Every verdict is
recomputed here from the glued numbers with the chapter's rule and margins,
so that a wrong verdict on the page fails the test.
"""

from __future__ import annotations

import json
import math

import pytest
from test_notebooks import _glued, _has, _markdown, _multiple, _text

import camlib
from camlib.book.prereg import margin
from camlib.book.report import read_claims
from camlib.book.verdicts import Verdict, combine, verdict

CHAPTER = "03_cub_fine_grained"
ABSENT = "n/a (data absent)"
CROP_MARGIN, LOC_MARGIN, GT_MARGIN = (margin("03_cub_fine_grained", k) for k in ("cub_crop", "cub_loc", "cub_crop_gt"))
REAL = [
    "cub_acc_full",
    "cub_acc_cam_crop",
    "cub_acc_gt_crop",
    "cub_cam_box_acc_iou50",
    "cub_random_box_acc_iou50",
    "cub_centre_box_acc_iou50",
    "cub_crop_gain",
    "cub_svm_identity_max_abs_err",
    "cub_strongest_baseline",
    "cub_networks",
]
CONTROLLED = [
    "fg_acc_full",
    "fg_acc_cam_crop",
    "fg_acc_gt_crop",
    "fg_cam_box_acc_iou50",
    "fg_random_box_acc_iou50",
    "fg_centre_box_acc_iou50",
    "fg_large_acc_full",
    "fg_large_acc_cam_crop",
    "fg_large_cam_box_acc_iou50",
    "fg_large_centre_box_acc_iou50",
]
CENTRE_FITTED = "centre box of the best training size"  # the centred box fitted on the training boxes


def _controlled(row, word: str) -> str:
    """The rule's word once the row's negative controls have spoken: one that reads (partly) reproduced makes the
    row inconclusive (the test cannot tell a broken method from a working one); each control is the row's rule
    on the control's own interval."""
    assert row.controls, row.key  # every paper row of the real part has its control
    for name, c in row.controls.items():
        again = verdict((c["estimate"], c["low"], c["high"]), claim=row.rule, margin=row.margin).word
        assert c["verdict"] == again, (row.key, name)
    failed = any(c["verdict"] in ("reproduced", "partly reproduced") for c in row.controls.values())
    return "inconclusive" if failed and word != "inconclusive" else word


def _claims(nb) -> dict:
    rows = {c.key: c for c in read_claims([nb.metadata["camlib_output"]])}
    for row in rows.values():  # each row's verdict follows from its own numbers and rule
        assert row.recompute() == Verdict(row.verdict, row.reason), row.key
        assert row.chapter == CHAPTER and row.section.startswith("ch03-")
        assert row.rule == ("noninferior" if row.key == "cub_crop_gt" else "greater"), row.key
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
    assert row.paper_effect == pytest.approx(
        camlib.book.paper.difference("table4", ("CAM crop", "full image"), "accuracy")
    )
    (small, s), (large, big) = list(row.parts.items())[0], list(row.parts.items())[-1]
    # each size's effect is its CAM crop accuracy minus its whole image accuracy (rounded numbers: within 0.1)
    assert s[0] == pytest.approx(glued["fg_acc_cam_crop"] - glued["fg_acc_full"], abs=0.11), small
    assert big[0] == pytest.approx(glued["fg_large_acc_cam_crop"] - glued["fg_large_acc_full"], abs=0.11), large
    assert all(p[1] <= p[0] <= p[2] for p in row.parts.values())
    # one negative control per size: the CAM-crop SVM answering with another image's class, graded like the row
    assert [name.split(":")[0] for name in row.controls] == list(row.parts)
    assert all(c["verdict"] == verdict((c["estimate"], c["low"], c["high"]), margin=CROP_MARGIN).word
               for c in row.controls.values())  # fmt: skip
    # smoke trains the controlled network for one epoch: it cannot have shown that it converged
    assert glued["fg_still_improving"] is True
    converged = not glued["fg_still_improving"]
    # the verdict again, by the book's rule with the chapter's margin, size by size, then merged
    word = combine({n: verdict(tuple(p), margin=CROP_MARGIN, converged=converged) for n, p in row.parts.items()}).word
    assert row.verdict == word == "inconclusive" and "still improving" in row.reason
    _shown(nb, row, word)
    # per size, the page says where a centred box localizes the object better than the CAM box
    large_centre_wins = glued["fg_large_centre_box_acc_iou50"] > glued["fg_large_cam_box_acc_iou50"]
    sizes = [line for line in _markdown(nb).splitlines() if "Objects localized (IoU >= 0.5) by size" in line]
    assert (
        len(sizes) == 1 and sizes[0].rstrip(".").endswith("(**the centred box localizes better**)") == large_centre_wins
    )

    # the CAM box against the strongest baseline, per size
    loc = rows["fg_loc_baseline"]
    assert loc.margin == LOC_MARGIN and list(loc.parts) == list(row.parts)
    strongest = glued["fg_strongest_baseline"]
    assert len(strongest) == len(loc.parts)
    large = list(loc.parts.values())[-1]
    if strongest[-1] == CENTRE_FITTED:  # the large objects' effect is their CAM box minus the fitted centre box
        assert large[0] == pytest.approx(
            glued["fg_large_cam_box_acc_iou50"] - glued["fg_large_centre_box_acc_iou50"], abs=0.11
        )
    assert glued["fg_large_centre_box_acc_iou50"] <= glued["fg_large_cam_box_acc_iou50"] - large[0] + 0.11
    word = combine({n: verdict(tuple(p), margin=LOC_MARGIN, converged=converged) for n, p in loc.parts.items()}).word
    assert loc.verdict == word
    _shown(nb, loc, word)


@pytest.mark.notebook
@pytest.mark.realdata
@pytest.mark.skipif(
    not _has("cub-200-2011-50cls/CUB_200_2011"),
    reason="real data absent: link data/ to the study's data or set $CAMLIB_DATA",
)
def test_chapter03_on_the_cub_subset(executed):
    nb = executed(CHAPTER)
    glued = _glued(nb)
    # smoke: 4 species x 4 test images = 16, so accuracies are multiples of 100 / 16 = 6.25 (rounded to 0.1)
    for key in (
        "cub_acc_full",
        "cub_acc_cam_crop",
        "cub_acc_gt_crop",
        "cub_cam_box_acc_iou50",
        "cub_centre_box_acc_iou50",
    ):
        assert 0 <= glued[key] <= 100 and _multiple(glued[key], 6.25), key
    # uniform corners: chance is low; 5 draws per image: multiples of 100 / 80 = 1.25
    assert 0 <= glued["cub_random_box_acc_iou50"] < 25 and _multiple(glued["cub_random_box_acc_iou50"], 1.25)
    # the SVM's map is exact: mean M_c + b_c = S_c up to float32 rounding
    assert glued["cub_svm_identity_max_abs_err"] < 1e-4
    rows = _claims(nb)
    assert set(rows) == {
        "cub_loc",
        "cub_loc_baseline",
        "cub_crop",
        "cub_crop_gt",
        "cub_crop_reference",
        "fg_crop",
        "fg_loc_baseline",
    }
    # the CAM crop against the ground-truth crop: one-sided, within the stated five points
    near = rows["cub_crop_gt"]
    assert near.margin == GT_MARGIN and near.low <= near.estimate <= near.high
    assert near.estimate == pytest.approx(glued["cub_acc_cam_crop"] - glued["cub_acc_gt_crop"], abs=0.11)
    assert near.verdict == _controlled(
        near, verdict((near.estimate, near.low, near.high), claim="noninferior", margin=GT_MARGIN).word
    )
    # both networks ran the same pipeline on the same images; SqueezeNet's crop row is its own glued numbers
    networks = glued["cub_networks"]
    assert list(networks) == ["EfficientNet-Lite0", "SqueezeNet 1.0"]
    assert networks["EfficientNet-Lite0"]["acc"]["CAM crop"] == pytest.approx(glued["cub_acc_cam_crop"], abs=0.051)
    ref = networks["SqueezeNet 1.0"]["acc"]
    assert all(_multiple(v, 6.25) for v in ref.values())
    assert rows["cub_crop_reference"].estimate == pytest.approx(ref["CAM crop"] - ref["whole image"], abs=0.011)
    assert "SqueezeNet 1.0, CUB subset" in rows["cub_crop_reference"].study

    crop = rows["cub_crop"]
    assert crop.margin == CROP_MARGIN and crop.low <= crop.estimate <= crop.high
    assert crop.estimate == pytest.approx(glued["cub_acc_cam_crop"] - glued["cub_acc_full"], abs=0.11)
    assert crop.paper_effect == pytest.approx(
        camlib.book.paper.difference("table4", ("CAM crop", "full image"), "accuracy")
    )
    assert f"{crop.estimate:+.1f}" in glued["cub_crop_gain"]
    word = _controlled(crop, verdict((crop.estimate, crop.low, crop.high), claim="greater", margin=CROP_MARGIN).word)
    assert crop.verdict == word
    _shown(nb, crop, word)

    loc = rows["cub_loc"]
    assert loc.margin == LOC_MARGIN and loc.low <= loc.estimate <= loc.high
    assert loc.estimate == pytest.approx(glued["cub_cam_box_acc_iou50"] - glued["cub_random_box_acc_iou50"], abs=0.11)
    paper = camlib.book.paper.difference("sec4.1", ("CAM box", "random box"), "loc_acc_iou50")
    assert loc.paper_effect == pytest.approx(paper)
    word = _controlled(loc, verdict((loc.estimate, loc.low, loc.high), claim="greater", margin=LOC_MARGIN).word)
    assert loc.verdict == word and loc.recompute().word == word
    _shown(nb, loc, word)

    # the CAM box against the strongest baseline (a centred box of the best size on the training boxes, or random)
    base = rows["cub_loc_baseline"]
    assert base.margin == LOC_MARGIN and base.low <= base.estimate <= base.high and math.isnan(base.paper_effect)
    strongest = glued["cub_strongest_baseline"]
    assert strongest in base.study and strongest in base.reason
    if strongest == CENTRE_FITTED:
        assert glued["cub_centre_box_acc_iou50"] >= glued["cub_random_box_acc_iou50"]
        assert base.estimate == pytest.approx(
            glued["cub_cam_box_acc_iou50"] - glued["cub_centre_box_acc_iou50"], abs=0.11
        )
    # the strongest baseline is at least as strong as each glued one: the effect is at most CAM - each
    for key in ("cub_centre_box_acc_iou50", "cub_random_box_acc_iou50"):
        assert base.estimate <= glued["cub_cam_box_acc_iou50"] - glued[key] + 0.11, key
    word = verdict((base.estimate, base.low, base.high), claim="greater", margin=LOC_MARGIN).word
    assert base.verdict == word
    _shown(nb, base, word)
    # the page says plainly when a centred box beats the CAM box
    beats = "**A centred box beats the CAM box here**" in _markdown(nb)
    assert beats == (glued["cub_centre_box_acc_iou50"] > glued["cub_cam_box_acc_iou50"])

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
    assert set(rows) == {"fg_crop", "fg_loc_baseline"}  # the CUB claims are left out, and the page says why
    assert "The CUB claims were not tested" in text
    _check_controlled(nb, glued, rows)
