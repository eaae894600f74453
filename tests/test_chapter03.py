"""Chapter 03 (CUB, CAM crops) on its smoke profile: with the real data, and without it."""

from __future__ import annotations

import nbformat
import pytest
from test_notebooks import _glued, _has_data, _text

from camlib import runner
from camlib.data import find_data

ABSENT = "n/a (data absent)"
REAL = ["cub_acc_full", "cub_acc_cam_crop", "cub_acc_gt_crop", "cub_cam_box_acc_iou50", "cub_random_box_acc_iou50",
        "cub_centre_box_acc_iou50"]
CONTROLLED = ["fg_acc_full", "fg_acc_cam_crop", "fg_acc_gt_crop", "fg_cam_box_acc_iou50", "fg_random_box_acc_iou50",
              "fg_centre_box_acc_iou50"]
VERDICTS = ("reproduced", "NOT reproduced", "not reproduced")


def _has_cub() -> bool:
    try:
        find_data("cub-200-2011-50cls/CUB_200_2011")
    except FileNotFoundError:
        return False
    return _has_data()


@pytest.mark.notebook
@pytest.mark.realdata
@pytest.mark.skipif(not _has_cub(), reason="real data absent: link data -> ../shared/data or set $CAMLIB_DATA")
def test_chapter03_on_the_cub_subset(tmp_path):
    result = runner.execute(runner.notebook_paths("03")[0], profile="smoke", output_dir=tmp_path)
    glued = _glued(nbformat.read(result.output, as_version=4))
    # smoke: 4 species x 4 test images = 16, so accuracies are multiples of 100 / 16 = 6.25 (rounded to 0.1)
    for key in ("cub_acc_full", "cub_acc_cam_crop", "cub_acc_gt_crop", "cub_cam_box_acc_iou50"):
        assert 0 <= glued[key] <= 100 and min(abs(glued[key] - 6.25 * k) for k in range(17)) <= 0.051, key
    assert 0 <= glued["cub_random_box_acc_iou50"] < 25  # uniform corners: chance is low
    # the SVM's map is exact: mean M_c + b_c = S_c up to float32 rounding
    assert glued["cub_svm_identity_max_abs_err"] < 1e-4
    assert glued["verdict_cub_crop"].startswith(VERDICTS) and "95% interval" in glued["verdict_cub_crop"]
    assert glued["verdict_cub_loc"].startswith(VERDICTS)


@pytest.mark.notebook
def test_chapter03_without_data_says_so_and_runs_the_controlled_part(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    result = runner.execute(runner.notebook_paths("03")[0], profile="smoke", overrides={"data_root": str(empty)},
                            output_dir=tmp_path / "out")
    nb = nbformat.read(result.output, as_version=4)
    assert "Real data absent" in _text(nb) and str(empty / "cub-200-2011-50cls" / "CUB_200_2011") in _text(nb)
    glued = _glued(nb)
    for key in REAL + ["verdict_cub_crop", "verdict_cub_loc", "cub_crop_gain", "cub_svm_identity_max_abs_err"]:
        assert glued[key] == ABSENT, key
    for key in CONTROLLED:
        assert isinstance(glued[key], float) and 0 <= glued[key] <= 100, key
    assert glued["verdict_fg_crop"].startswith(VERDICTS)
