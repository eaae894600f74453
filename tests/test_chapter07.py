"""Chapter 07 (class-specific units) on its smoke profile: the verdict follows from its row by the book's rule and
from the glued shares, and without the data the chapter says so."""

from __future__ import annotations

import pytest
from test_notebooks import _checked_claims, _glued, _has, _multiple, _text

from camlib.book.verdicts import verdict

ABSENT = "n/a (data absent)"
KEYS = ["units_parts", "units_objects", "units_imagenet", "units_parts_controlled", "units_ablation"]


@pytest.mark.notebook
@pytest.mark.realdata
@pytest.mark.skipif(not _has("cub-200-2011-50cls/CUB_200_2011/parts"), reason="real data absent")
def test_chapter07_on_cub(executed):
    nb = executed("07")
    g, claims = _glued(nb), _checked_claims(nb, KEYS)
    assert g["units_species"] == 4  # smoke: the first 4 species
    share = g["units_share"]
    assert set(share) == {"top", "random"} and all(_multiple(v, 100 / 8) for v in share.values())  # 2 units x 4
    row = claims["units_parts"]
    assert row.estimate == pytest.approx(share["top"] - share["random"], abs=1e-3)
    assert row.verdict == verdict((row.estimate, row.low, row.high)).word
    inet = g["units_imagenet_iou"]  # smoke: the first 20 validation images, mean IoU per image
    assert set(inet) == {"top", "random"} and all(0 <= v <= 1 for v in inet.values())
    row = claims["units_imagenet"]
    assert row.estimate == pytest.approx(100 * (inet["top"] - inet["random"]), abs=0.05)
    assert row.verdict == verdict((row.estimate, row.low, row.high)).word


@pytest.mark.notebook
def test_chapter07_without_data_says_so(executed, no_data_root):
    nb = executed("07", data_root=str(no_data_root))
    assert "Real data absent" in _text(nb)
    g, claims = _glued(nb), _checked_claims(nb, KEYS)
    assert g["units_share"] == ABSENT and claims["units_parts"].verdict == "inconclusive"


@pytest.mark.notebook
def test_chapter07_controlled_part_runs_without_data_and_is_gated_by_convergence(executed, no_data_root):
    nb = executed("07", data_root=str(no_data_root))
    g, claims = _glued(nb), _checked_claims(nb, KEYS)
    share = g["units_ctl_share"]
    assert set(share) == {"top", "random"} and all(0 <= v <= 100 for v in share.values())
    row = claims["units_parts_controlled"]
    assert row.estimate == pytest.approx(share["top"] - share["random"], abs=1e-3)
    # smoke trains one epoch: the network is still improving, so neither controlled verdict counts
    for key in ("units_parts_controlled", "units_ablation"):
        assert claims[key].verdict == "inconclusive" and "still improving" in claims[key].reason
    assert 0 <= g["units_ctl_accuracy"] <= 100
