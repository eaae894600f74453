"""camlib.experiments: the controlled comparison loop and its reading."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from camlib import experiments as X
from camlib.data.synthetic import Localization


def _run(name: str, seed: int, **summary) -> X.Run:
    result = SimpleNamespace(summary=lambda: dict(summary))
    history = [{"epoch": 1, "train_accuracy": 0.5, "val_accuracy": 0.4}]
    return X.Run(name, name.split()[0].lower(), seed, torch.nn.Identity(), history, result)


def test_seed_effect_pairs_the_seeds():
    runs = [_run("GAP CAM", 0, err=8.0), _run("GMP CAM", 0, err=10.0), _run("GAP CAM", 1, err=8.0),
            _run("GMP CAM", 1, err=12.0)]
    # differences 2 and 4: mean 3; s = sqrt(2) = 1.414; t(0.975, 1) = 12.706; half-width 12.706 * 1.414 / 1.414
    e = X.seed_effect(runs, "err", minus="GAP CAM", plus="GMP CAM")
    assert e.estimate == 3.0 and e.n == 2
    assert e.low == pytest.approx(3 - 12.706, abs=1e-3) and e.high == pytest.approx(3 + 12.706, abs=1e-3)
    one = X.seed_effect(runs[:2], "err", minus="GAP CAM", plus="GMP CAM")
    assert one.estimate == 2.0 and math.isnan(one.low)


def test_seed_effect_refuses_unknown_methods_and_unpaired_seeds():
    runs = [_run("GAP CAM", 0, err=1.0), _run("GMP CAM", 1, err=2.0)]
    with pytest.raises(ValueError, match=r"`plus` must name a method of the runs \['GAP CAM', 'GMP CAM'\], but got 'X'"):
        X.seed_effect(runs, "err", minus="GAP CAM", plus="X")
    with pytest.raises(ValueError, match=r"the same seeds for 'GAP CAM' and 'GMP CAM', but got \[0\] and \[1\]"):
        X.seed_effect(runs, "err", minus="GAP CAM", plus="GMP CAM")


@pytest.mark.parametrize(("accuracies", "expected"), [
    ([0.5], True),                   # one epoch: nothing to compare, not converged
    ([0.5, 0.6, 0.62], True),        # +2 points over the best earlier epoch
    ([0.5, 0.6, 0.605], False),      # +0.5 points: within the tolerance
    ([0.5, 0.7, 0.65], False),       # fell back: the best was earlier
])
def test_still_improving(accuracies, expected):
    assert X.still_improving([{"val_accuracy": a} for a in accuracies]) is expected


def test_still_improving_needs_the_key():
    with pytest.raises(ValueError, match="`history` must hold per-epoch records with 'val_accuracy'"):
        X.still_improving([{"train_accuracy": 0.5}])


def test_compare_heads_trains_one_network_per_head_and_seed(tmp_path, one_thread):
    train, val = X.benchmark_pair(Localization, 8, 4, image_size=32, num_classes=3, clutter=0, scale=(0.5, 0.9))
    assert train.spec() != val.spec()
    runs = X.compare_heads(train, val, heads=["gap", "gmp"], seeds=[0], backprop=["gap"], model="alexnet-small",
                           num_classes=3, image_size=32, resolution=4, channels=4, epochs=1, batch_size=4,
                           cache_root=tmp_path)
    assert [(r.name, r.head, r.seed) for r in runs] == [("GAP CAM", "gap", 0), ("GAP backprop", "gap", 0),
                                                        ("GMP CAM", "gmp", 0)]
    assert runs[0].net is runs[1].net and len(runs[0].result) == 4 and runs[0].result.maps is not None
    rows = X.summary_rows(runs)
    assert rows[2]["method"] == "GMP CAM" and rows[2]["still_improving"] is True  # one epoch
    assert rows[0]["val_accuracy"] == 100 * runs[0].history[-1]["val_accuracy"]
    with pytest.raises(ValueError, match=r"`backprop` must name heads of `heads` \['gap'\], but got \['gmp'\]"):
        X.compare_heads(train, val, heads=["gap"], backprop=["gmp"])
