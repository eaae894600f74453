"""Chapters 01 (GAP vs GMP) and 02 (ILSVRC localization) on their smoke profiles: the glued numbers obey
the metrics' invariants, and chapter 02 says so visibly when the real data is absent."""

from __future__ import annotations

import nbformat
import pytest
from test_notebooks import _glued, _has_data, _text

from camlib import runner
from camlib.data import find_data

ABSENT = "n/a (data absent)"
VERDICTS = ("reproduced", "NOT reproduced", "not resolved", "not tested", "partly reproduced")
CONTROLLED = ["weak_loc_top1_err", "weak_loc_top5_err", "weak_loc_top5_err_heuristic", "weak_gtknown_loc",
              "full_loc_top1_err", "full_loc_top5_err", "full_gtknown_loc", "weak_full_gap"]
REAL = ["real_cls_top1_err", "real_cls_top5_err", "real_loc_top1_err", "real_loc_top5_err",
        "real_loc_top5_err_heuristic", "real_backprop_loc_top1_err", "real_gtknown_loc", "real_maxboxaccv2",
        "real_maxboxacc", "real_authors_loc_top1_err", "real_authors_loc_top5_err_heuristic"]


def _has_imagenet() -> bool:
    try:
        find_data("imagenet-val-1300")
    except FileNotFoundError:
        return False
    return _has_data()


def _multiple(value: float, step: float) -> bool:
    """``value`` (rounded to 0.1) is a multiple of ``step``: a percentage of a known number of images."""
    return min(abs(value - step * k) for k in range(int(100 / step) + 1)) <= 0.051


def _ilsvrc_invariants(g: dict, prefix: str, step: float) -> None:
    """A localization error is never below the classification error, top-5 never above top-1."""
    for key in ("cls_top1_err", "cls_top5_err", "loc_top1_err", "loc_top5_err"):
        assert 0 <= g[prefix + key] <= 100 and _multiple(g[prefix + key], step), key
    assert g[prefix + "cls_top5_err"] <= g[prefix + "cls_top1_err"] <= g[prefix + "loc_top1_err"]
    assert g[prefix + "cls_top5_err"] <= g[prefix + "loc_top5_err"] <= g[prefix + "loc_top1_err"]


@pytest.mark.notebook
def test_chapter01_glues_consistent_numbers(tmp_path):
    result = runner.execute(runner.notebook_paths("01")[0], profile="smoke", output_dir=tmp_path)
    g = _glued(nbformat.read(result.output, as_version=4))
    # smoke: 16 held-out images, so every rate is a multiple of 100 / 16 = 6.25 per seed; 2 seeds
    for head in ("gap", "gmp"):
        _ilsvrc_invariants(g, f"{head}_", 6.25 / 2)
        assert 0 <= g[f"{head}_mask_coverage"] <= 100 and 0 <= g[f"{head}_maxboxaccv2"] <= 100
        assert g[f"{head}_cls_top1_err_pm"].startswith(f"{g[f'{head}_cls_top1_err']:.1f} ± ")
    assert g["gap_gmp_cls_diff"] == pytest.approx(g["gmp_cls_top1_err"] - g["gap_cls_top1_err"], abs=0.11)
    assert g["n_seeds"] == 2
    assert g["verdict_gap_gmp_loc"].startswith(VERDICTS) and g["verdict_gap_gmp_cls"].startswith(VERDICTS)
    assert "clutter 0, scale 0.25-0.7:" in g["probe_verdict"] and "(main)" in g["probe_verdict"]


@pytest.mark.notebook
@pytest.mark.realdata
@pytest.mark.skipif(not _has_imagenet(), reason="real data absent: link data -> ../shared/data or set $CAMLIB_DATA")
def test_chapter02_on_the_ilsvrc_subset(tmp_path):
    result = runner.execute(runner.notebook_paths("02")[0], profile="smoke", output_dir=tmp_path)
    nb = nbformat.read(result.output, as_version=4)
    g = _glued(nb)
    # smoke: the first 50 images (rates in steps of 2%); the authors' and backprop passes the first 20 (5%)
    _ilsvrc_invariants(g, "real_", 2.0)
    assert g["real_n_images"] == 50
    assert g["real_loc_top5_err_heuristic"] <= 100 and _multiple(g["real_loc_top5_err_heuristic"], 2.0)
    for key in ("real_authors_loc_top1_err", "real_backprop_loc_top1_err"):
        assert _multiple(g[key], 5.0), key
    # the SqueezeNet of data/README.md: 71.5% top-1 on all 1,300 images; the first 50 are not far off
    assert 10 <= g["real_cls_top1_err"] <= 50
    assert 0 < g["real_maxboxacc"] <= 100 and 0 < g["real_maxboxaccv2"] <= 100
    assert g["verdict_real_backprop"].startswith(VERDICTS)
    assert g["verdict_weak_full"].startswith(VERDICTS) and g["verdict_surgery"].startswith(VERDICTS)
    assert "Real data absent" not in _text(nb)


@pytest.mark.notebook
def test_chapter02_without_data_says_so_and_runs_the_controlled_part(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    result = runner.execute(runner.notebook_paths("02")[0], profile="smoke", overrides={"data_root": str(empty)},
                            output_dir=tmp_path / "out")
    nb = nbformat.read(result.output, as_version=4)
    assert "Real data absent" in _text(nb) and str(empty / "imagenet-val-1300") in _text(nb)
    g = _glued(nb)
    for key in REAL + ["verdict_real_backprop", "real_n_images", "real_best_threshold"]:
        assert g[key] == ABSENT, key
    for key in CONTROLLED:
        assert isinstance(g[key], float) and -100 <= g[key] <= 100, key
    # 16 held-out images: the box network's error is a multiple of 6.25; its top-5 never above its top-1
    assert _multiple(g["full_loc_top1_err"], 6.25) and g["full_loc_top5_err"] <= g["full_loc_top1_err"]
    assert g["weak_full_gap"] == pytest.approx(g["weak_loc_top1_err"] - g["full_loc_top1_err"], abs=0.11)
    assert g["verdict_weak_full"].startswith(VERDICTS) and g["verdict_resolution"].startswith(VERDICTS)
