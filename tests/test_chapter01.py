"""Chapter 01 (GAP vs GMP) on its smoke profile: the glued numbers obey the metrics' invariants, and every
verdict of its claim table is what the book's rule makes of the glued numbers."""

from __future__ import annotations

import pytest
from test_notebooks import _claims, _glued, _has, _multiple, _text

from camlib.book.verdicts import Verdict, verdict
from camlib.study.stats import seed_interval

CUB = "cub-200-2011-50cls/CUB_200_2011"


@pytest.mark.notebook
def test_chapter01_glues_consistent_numbers(executed):
    g = _glued(executed("01"))
    assert g["n_seeds"] == 2
    # smoke: 16 held-out images, so each seed's rate is a multiple of 100 / 16 = 6.25; the mean of 2 seeds of 3.125
    for head in ("gap", "gmp"):
        for key in ("cls_top1_err", "cls_top5_err", "loc_top1_err", "loc_top5_err"):
            seeds = g[f"{head}_{key}_seeds"]
            assert len(seeds) == 2 and all(0 <= v <= 100 and _multiple(v, 6.25) for v in seeds), key
            assert g[f"{head}_{key}"] == pytest.approx(sum(seeds) / 2, abs=0.051)
        # a localization error is never below the classification error, top-5 never above top-1
        assert g[f"{head}_cls_top5_err"] <= g[f"{head}_cls_top1_err"] <= g[f"{head}_loc_top1_err"]
        assert g[f"{head}_cls_top5_err"] <= g[f"{head}_loc_top5_err"] <= g[f"{head}_loc_top1_err"]
        assert 0 <= g[f"{head}_mask_coverage"] <= 100 and 0 <= g[f"{head}_maxboxaccv2"] <= 100
    # the probes of the smoke profile: one benchmark probe, beside the main comparison
    assert "(main):" in g["probe_differences"] and "clutter 0, scale 0.25-0.7:" in g["probe_differences"]
    assert "trained" not in g["probe_differences"]  # no training-length probe: early stopping settles the length


@pytest.mark.notebook
def test_chapter01_verdicts_follow_the_rule_from_the_glued_numbers(executed):
    nb = executed("01")
    g, text = _glued(nb), _text(nb)
    claims = _claims(nb)
    controlled = {
        "gap_gmp_cls",
        "gap_gmp_loc",
        "gap_gmp_maxboxaccv2",
        "gap_gmp_coverage",
        "cam_backprop_loc",
        "gap_vs_baseline",
    }
    real = {"real_gap_gmp_cls", "real_gap_gmp_loc", "real_gap_vs_centre", "real_weak_full"}
    assert set(claims) == controlled | (real if _has(CUB) else set())
    for c in claims.values():
        assert c.recompute() == Verdict(c.verdict, c.reason), c.key
        assert f"**{c.verdict}**" in text, c.key  # the rendered table shows it
    assert {c.key: c.kind for c in claims.values() if c.key in controlled} == {
        **{k: "analogue" for k in controlled}, "gap_vs_baseline": "beyond"}  # fmt: skip
    # independently of the claim table: the GMP - GAP localization effect from the glued per-seed errors
    effect = seed_interval([b - a for a, b in zip(g["gap_loc_top1_err_seeds"], g["gmp_loc_top1_err_seeds"])])
    expected = verdict(effect, claim="greater", converged=not g["still_improving"])
    assert claims["gap_gmp_loc"].verdict == expected.word
    assert claims["gap_gmp_loc"].estimate == pytest.approx(effect.estimate, abs=1e-3)
    # one epoch of training: every network is still improving, so the comparisons are inconclusive
    assert len(g["still_improving"]) == 4
    assert claims["gap_gmp_cls"].verdict == "inconclusive" and claims["gap_gmp_cls"].rule == "equal"
    assert claims["gap_gmp_cls"].margin == 3.0
    # the paper's side comes from camlib.book.paper: GMP - GAP on Table 2 is 57.78 - 56.40
    assert claims["gap_gmp_loc"].paper_effect == pytest.approx(1.38)
    assert "GoogLeNet-GAP 56.40 vs GoogLeNet-GMP 57.78" in claims["gap_gmp_loc"].paper


@pytest.mark.notebook
def test_chapter01_states_localization_against_the_strongest_trivial_baseline(executed):
    nb = executed("01")
    g, row = _glued(nb), _claims(nb)["gap_vs_baseline"]
    baselines = g["baseline_gt_known"]  # percent of the held-out images, per baseline
    assert set(baselines) == {"centred box", "random box"} and all(0 <= v <= 100 for v in baselines.values())
    assert _multiple(baselines["centred box"], 6.25)  # 16 held-out images
    strongest = max(baselines, key=baselines.get)
    assert row.effect == f"GAP CAM − {strongest} GT-known loc (points)"
    effect = seed_interval([v - baselines[strongest] for v in g["gap_gt_known_loc_seeds_exact"]])
    assert row.estimate == pytest.approx(effect.estimate, abs=0.01)
    assert row.verdict == verdict(effect, converged=not g["still_improving"]).word


@pytest.mark.notebook
@pytest.mark.realdata
@pytest.mark.skipif(not _has(CUB), reason="real data absent: link data/ to the study's data or set $CAMLIB_DATA")
def test_chapter01_real_features_compare_gap_and_gmp_heads_on_cub(executed):
    nb = executed("01")
    g, claims = _glued(nb), _claims(nb)
    # smoke: 4 species x 8 test birds = 32, so each seed's rate is a multiple of 100 / 32; the mean of 2 seeds
    for pool in ("gap", "gmp"):
        assert 0 <= g[f"real_{pool}_cls_top1_err"] <= g[f"real_{pool}_loc_top1_err"] <= 100
        assert _multiple(g[f"real_{pool}_cls_top1_err"], 100 / 64) and 0 <= g[f"real_{pool}_maxboxaccv2"] <= 100
    for key in ("real_gap_gmp_cls", "real_gap_gmp_loc", "real_gap_vs_centre"):
        row = claims[key]
        assert row.section == "sec-01-real" and row.recompute() == Verdict(row.verdict, row.reason), key
    # GMP - GAP top-1 loc error: the paired bootstrap's estimate is the difference of the means over the seeds
    loc = claims["real_gap_gmp_loc"]
    assert loc.estimate == pytest.approx(g["real_gmp_loc_top1_err"] - g["real_gap_loc_top1_err"], abs=0.11)
    assert claims["real_gap_gmp_cls"].rule == "equal" and claims["real_gap_gmp_cls"].margin == 3.0
    assert "Real data absent" not in _text(nb)
    # the default: EfficientNet-Lite0's last convolution fine-tuned with each head, and the rows say so
    assert all("a fine-tuned top" in claims[key].claim for key in ("real_gap_gmp_cls", "real_gap_gmp_loc"))
    assert claims["real_gap_gmp_loc"].evidence.startswith("EfficientNet-Lite0, its last convolution fine-tuned")
    # weak vs full supervision on the same fine-tuned network: CAM's GT-known minus the regressor's, one-sided
    weak_full, shares = claims["real_weak_full"], g["real_weak_full"]
    assert (weak_full.rule, weak_full.margin, weak_full.kind) == ("noninferior", 5.0, "analogue")
    assert weak_full.recompute() == Verdict(weak_full.verdict, weak_full.reason)
    assert weak_full.estimate == pytest.approx(
        shares["weak: GAP CAM (GT-known)"] - shares["full: box regressor"], abs=0.011
    )  # the glued shares are percent with 2 decimals; the effect is their difference
    assert all(0 <= v <= 100 for v in shares.values())
    assert all(_multiple(shares[k], 100 / 64) for k in ("weak: GAP CAM (GT-known)", "full: box regressor"))  # 2 seeds


@pytest.mark.notebook
def test_chapter01_without_data_says_so_and_runs_the_controlled_part(executed, no_data_root):
    nb = executed("01", data_root=str(no_data_root))
    assert "Real data absent" in _text(nb) and str(no_data_root / CUB) in _text(nb)
    g = _glued(nb)
    assert g["real_gap_loc_top1_err"] == "n/a (data absent)"
    assert not any(key.startswith("real_") for key in _claims(nb)) and "gap_gmp_loc" in _claims(nb)
