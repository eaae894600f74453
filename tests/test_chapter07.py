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
    assert set(share) == {"top", "random", "random again"}  # the top units, random ones, and the control's draw
    assert all(_multiple(v, 100 / 8) for v in share.values())  # 2 units x 4 species
    row = claims["units_parts"]
    assert row.estimate == pytest.approx(share["top"] - share["random"], abs=1e-3)
    (control,) = row.controls.values()  # a second draw of random units in place of the top units
    assert control["estimate"] == pytest.approx(share["random again"] - share["random"], abs=1e-3)
    assert (
        row.margin == 5.0
        and control["verdict"] == verdict((control["estimate"], control["low"], control["high"]), margin=5.0).word
    )
    inet = g["units_imagenet_iou"]  # smoke: the first 20 validation images, mean IoU per image
    assert set(inet) == {"top", "random", "random again"} and all(0 <= v <= 1 for v in inet.values())
    row = claims["units_imagenet"]
    assert row.estimate == pytest.approx(100 * (inet["top"] - inet["random"]), abs=0.05)
    (control,) = row.controls.values()
    assert control["estimate"] == pytest.approx(100 * (inet["random again"] - inet["random"]), abs=0.05)


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
    assert set(share) == {"top", "random", "random again"} and all(0 <= v <= 100 for v in share.values())
    row = claims["units_parts_controlled"]  # two criteria of a detector, each a part of the row, each with its control
    assert list(row.parts) == ["part points", "Network Dissection's IoU above 0.04"] and len(row.controls) == 2
    assert row.parts["part points"][0] == pytest.approx(share["top"] - share["random"], abs=1e-3)
    points = next(c for name, c in row.controls.items() if name.endswith("part points"))
    assert points["estimate"] == pytest.approx(share["random again"] - share["random"], abs=1e-3)
    # smoke trains one epoch: the network is still improving, so neither controlled verdict counts
    for key in ("units_parts_controlled", "units_ablation"):
        assert claims[key].verdict == "inconclusive" and "still improving" in claims[key].reason
    assert 0 <= g["units_ctl_accuracy"] <= 100
