"""Chapter 04 (pattern discovery) on its smoke profile: every verdict follows from its row by the book's rule and
from the glued numbers, the rendered table shows it, and without the real data the chapter says so and still runs
its controlled part."""

from __future__ import annotations

import pytest
from test_notebooks import _checked_claims, _glued, _has, _multiple, _text

from camlib.book.verdicts import verdict
from camlib.study.stats import Interval

ABSENT = "n/a (data absent)"
KEYS = ["objects", "generic", "concepts", "concepts_box", "controlled_typical", "controlled_concepts"]
METHODS = {"CAM point", "centre point", "random point", "CAM box", "centre box", "random box"}


def _check_rows(nb) -> dict:
    return _checked_claims(nb, KEYS)


def _check_controlled(nb, claims) -> None:
    g = _glued(nb)
    share, chance = g["controlled_share"]
    row = claims["controlled_typical"]
    assert 0 <= share <= 100 and 0 < chance < 100
    assert row.estimate == pytest.approx(share - chance, abs=1e-3)  # the paired difference of the glued means
    assert row.low <= row.estimate <= row.high and row.rule == "greater"
    # smoke trains one epoch: the network is still improving and the verdict is inconclusive
    assert g["controlled_improving"] is True and row.verdict == "inconclusive" and not row.converged
    assert verdict((row.estimate, row.low, row.high)).word in ("reproduced", "not reproduced", "not resolved")
    # precision at 3 of the Fig. 9 ranking per scene: a multiple of 1/3
    assert all(0 <= p <= 1 and _multiple(100 * p, 100 / 3) for p in g["controlled_precision"])
    # concepts from noisy tags against exact masks: pointing only (masks have no box), one draw of the tags in smoke
    tagged = g["controlled_concepts"]
    assert list(tagged) == [0] and set(tagged[0]) == {"CAM point", "centre point", "random point"}
    assert all(0 <= v <= 100 for v in tagged[0].values()) and 0 < tagged[0]["random point"] < 50
    concepts = claims["controlled_concepts"]
    assert list(concepts.parts) == ["tags seed 0"] and concepts.verdict == "inconclusive" and not concepts.converged


@pytest.mark.notebook
@pytest.mark.realdata
@pytest.mark.skipif(not (_has("coco-mini") and _has("places365-squeezenet")), reason="real data absent")
def test_chapter04_on_coco(executed):
    nb = executed("04")
    g, claims = _glued(nb), _check_rows(nb)
    assert g["n_images"] == 12  # smoke: the first 6 of each split
    shares = g["objects_share"]
    assert set(shares) == {"cam", "chance (the objects' share of the image)", "a centred region of the same size"}
    assert all(0 <= v <= 100 for v in shares.values())
    objects = claims["objects"]
    strongest = max(v for k, v in shares.items() if k != "cam")
    assert objects.estimate == pytest.approx(shares["cam"] - strongest, abs=1e-3)
    assert objects.verdict == verdict((objects.estimate, objects.low, objects.high)).word
    assert 0 < g["permutation_p"] <= 1 and _multiple(100 * g["permutation_p"] * 101, 100)  # (1 + k) / 101
    pointing, pairs = g["generic_pointing"], g["generic_pairs"]
    assert set(pointing) == {"CAM", "centre point", "random point"} and pairs >= 1
    assert _multiple(pointing["CAM"], 100 / pairs) and _multiple(pointing["centre point"], 100 / pairs)
    generic = claims["generic"]
    strongest = max(pointing["centre point"], pointing["random point"])
    assert generic.estimate == pytest.approx(pointing["CAM"] - strongest, abs=1e-3)
    assert generic.unit == "images" and 1 <= generic.n_units <= pairs  # the images resampled, not the pairs
    hits, n = g["concept_pointing"], g["concept_pairs"]
    assert set(hits) == METHODS and n >= 1
    assert all(_multiple(hits[k], 100 / n) for k in ("CAM point", "centre point", "CAM box", "centre box"))
    for key, method, bases in (
        ("concepts", "CAM point", ("centre point", "random point")),
        ("concepts_box", "CAM box", ("centre box", "random box")),
    ):
        row = claims[key]
        assert row.estimate == pytest.approx(hits[method] - max(hits[b] for b in bases), abs=1e-3)
        # the images are resampled, each with all of its pairs: the rule counts images, not pairs
        assert row.unit == "images" and 1 <= row.n_units <= n
        sized = Interval(row.estimate, row.low, row.high, n=row.n_units, unit=row.unit)
        assert row.verdict == verdict(sized).word
    _check_controlled(nb, claims)


@pytest.mark.notebook
def test_chapter04_without_data_says_so_and_runs_the_controlled_part(executed, no_data_root):
    nb = executed("04", data_root=str(no_data_root))
    assert "Real data absent" in _text(nb)
    g, claims = _glued(nb), _check_rows(nb)
    assert g["n_images"] == ABSENT and g["objects_share"] == ABSENT and g["generic_pointing"] == ABSENT
    assert g["concept_pointing"] == ABSENT and g["concept_pairs"] == ABSENT
    for key in ("objects", "generic", "concepts", "concepts_box"):
        assert claims[key].verdict == "inconclusive" and claims[key].study == ABSENT
    _check_controlled(nb, claims)
