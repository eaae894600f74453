"""camlib.study.experiments: the controlled comparison loop and its reading."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from camlib.data.synthetic import Localization
from camlib.study import experiments as X


def _run(name: str, seed: int, **summary) -> X.Run:
    result = SimpleNamespace(summary=lambda: dict(summary))
    history = [{"epoch": 1, "train_accuracy": 0.5, "val_accuracy": 0.4}]
    return X.Run(name, name.split()[0].lower(), seed, torch.nn.Identity(), history, result)


def test_seed_effect_pairs_the_seeds():
    runs = [
        _run("GAP CAM", 0, err=8.0),
        _run("GMP CAM", 0, err=10.0),
        _run("GAP CAM", 1, err=8.0),
        _run("GMP CAM", 1, err=12.0),
    ]
    # differences 2 and 4: mean 3; s = sqrt(2) = 1.414; t(0.975, 1) = 12.706; half-width 12.706 * 1.414 / 1.414
    e = X.seed_effect(runs, "err", minus="GAP CAM", plus="GMP CAM")
    assert e.estimate == 3.0 and e.n == 2
    assert e.low == pytest.approx(3 - 12.706, abs=1e-3) and e.high == pytest.approx(3 + 12.706, abs=1e-3)
    one = X.seed_effect(runs[:2], "err", minus="GAP CAM", plus="GMP CAM")
    assert one.estimate == 2.0 and math.isnan(one.low)


def test_seed_effect_refuses_unknown_methods_and_unpaired_seeds():
    runs = [_run("GAP CAM", 0, err=1.0), _run("GMP CAM", 1, err=2.0)]
    with pytest.raises(
        ValueError, match=r"`plus` must name a method of the runs \['GAP CAM', 'GMP CAM'\], but got 'X'"
    ):
        X.seed_effect(runs, "err", minus="GAP CAM", plus="X")
    with pytest.raises(ValueError, match=r"the same seeds for 'GAP CAM' and 'GMP CAM', but got \[0\] and \[1\]"):
        X.seed_effect(runs, "err", minus="GAP CAM", plus="GMP CAM")


@pytest.mark.parametrize(
    ("accuracies", "expected"),
    [
        ([0.5], True),  # one epoch: nothing to compare, not converged
        ([0.5, 0.6, 0.62], True),  # +2 points over the best earlier epoch
        ([0.5, 0.6, 0.605], False),  # +0.5 points: within the tolerance
        ([0.5, 0.7, 0.65], False),  # fell back: the best was earlier
    ],
)
def test_still_improving(accuracies, expected):
    assert X.still_improving([{"val_accuracy": a} for a in accuracies]) is expected


def test_still_improving_needs_the_key():
    with pytest.raises(ValueError, match="`history` must hold per-epoch records with 'val_accuracy'"):
        X.still_improving([{"train_accuracy": 0.5}])


def test_compare_heads_trains_one_network_per_head_and_seed(tmp_path, one_thread):
    train, val = X.benchmark_pair(Localization, 8, 4, image_size=32, num_classes=3, clutter=0, scale=(0.5, 0.9))
    assert train.spec() != val.spec()
    runs, searches = X.compare_heads(
        train,
        val,
        heads=["gap", "gmp"],
        seeds=[0],
        backprop=["gap"],
        model="alexnet-small",
        num_classes=3,
        image_size=32,
        resolution=4,
        channels=4,
        epochs=1,
        batch_size=4,
        cache_root=tmp_path,
    )
    assert searches == {} and all(r.lr == 2e-3 for r in runs)
    assert [(r.name, r.head, r.seed) for r in runs] == [
        ("GAP CAM", "gap", 0),
        ("GAP backprop", "gap", 0),
        ("GMP CAM", "gmp", 0),
    ]
    assert runs[0].net is runs[1].net and len(runs[0].result) == 4 and runs[0].result.maps is not None
    rows = X.summary_rows(runs)
    assert rows[2]["method"] == "GMP CAM" and rows[2]["still_improving"] is True  # one epoch
    assert rows[0]["val_accuracy"] == 100 * runs[0].history[-1]["val_accuracy"]
    with pytest.raises(ValueError, match=r"`backprop` must name heads of `heads` \['gap'\], but got \['gmp'\]"):
        X.compare_heads(train, val, heads=["gap"], backprop=["gmp"])


TINY_FIT = dict(model="alexnet-small", num_classes=3, image_size=32, resolution=4, channels=4, batch_size=4)


def test_benchmark_splits_are_three_draws_and_the_test_set_is_benchmark_pairs_held_out_set():
    kw = dict(image_size=32, num_classes=3, clutter=0, scale=(0.5, 0.9))
    train, val, test = X.benchmark_splits(Localization, 6, 3, 4, **kw)
    assert (len(train), len(val), len(test)) == (6, 3, 4)
    assert len({d.spec()["arguments"] for d in (train, val, test)}) == 3
    _, held = X.benchmark_pair(Localization, 6, 4, **kw)
    assert test.spec() == held.spec() and torch.equal(test[0].image, held[0].image)


def test_tune_lr_keeps_the_rate_with_the_best_validation_accuracy(monkeypatch):
    script = {1e-3: [0.4, 0.6, 0.55], 1e-2: [0.5, 0.58, 0.7], 1e-1: [0.7, 0.7, 0.7]}
    calls = []

    def fake_fit(train, val, *, lr, **kwargs):
        calls.append((lr, kwargs))
        return f"net {lr:g}", [{"epoch": e, "val_accuracy": a} for e, a in enumerate(script[lr])]

    monkeypatch.setattr(X, "fit_small", fake_fit)
    search = X.tune_lr([], [], [1e-3, 1e-2], head="gap", seed=0)
    assert search.lr == 1e-2 and search.scores == {1e-3: 0.55, 1e-2: 0.7}  # no early stopping: the last epoch
    assert search.net == "net 0.01" and search.history[-1]["val_accuracy"] == 0.7
    stopped = X.tune_lr([], [], [1e-3, 1e-2], head="gap", seed=0, patience=1, min_delta=0.01)
    assert stopped.scores == {1e-3: 0.6, 1e-2: 0.7}  # with early stopping: the kept (best) epoch
    tie = X.tune_lr([], [], [1e-1, 1e-2], head="gap")
    assert tie.lr == 1e-1  # 0.7 each: the first listed
    assert calls[0] == (1e-3, {"head": "gap", "seed": 0})
    with pytest.raises(ValueError, match=r"`lrs` must be one or more positive learning rates, but got \[0.0\]"):
        X.tune_lr([], [], [0.0])


def test_compare_heads_tunes_on_validation_and_scores_on_test(tmp_path, one_thread):
    train, val, test = X.benchmark_splits(
        Localization, 8, 4, 6, image_size=32, num_classes=3, clutter=0, scale=(0.5, 0.9)
    )
    runs, searches = X.compare_heads(
        train,
        val,
        test,
        heads=["gap"],
        seeds=[0, 1],
        lrs=[1e-3, 1e-2],
        epochs=2,
        patience=1,
        cache_root=tmp_path,
        **TINY_FIT,
    )
    assert set(searches) == {"gap"} and set(searches["gap"].scores) == {1e-3, 1e-2}
    assert all(r.lr == searches["gap"].lr for r in runs) and len(runs[0].result) == 6  # scored on the test images
    seed0 = searches["gap"].histories[searches["gap"].lr]
    assert runs[0].history == seed0  # the tuning run of seed 0 is the same (cached) network
    assert len(list(tmp_path.glob("*.pt"))) == 3  # two rates for seed 0, the chosen one for seed 1
    again, chosen = X.compare_heads(
        train,
        val,
        test,
        heads=["gap"],
        seeds=[0],
        lrs={"gap": [searches["gap"].lr]},
        epochs=2,
        patience=1,
        cache_root=tmp_path,
        **TINY_FIT,
    )
    assert (
        again[0].history == seed0
        and chosen["gap"].scores == {searches["gap"].lr: searches["gap"].scores[searches["gap"].lr]}
        and len(list(tmp_path.glob("*.pt"))) == 3
    )  # a rate chosen elsewhere: nothing new trained
    with pytest.raises(ValueError, match=r"`lrs` must give learning rates for every head of \['gap'\], but got none "):
        X.compare_heads(train, val, test, heads=["gap"], lrs={"gmp": [1e-3]}, **TINY_FIT)
    row = runs[0].summary()
    assert row["lr"] == runs[0].lr and row["kept_epoch"] == runs[0].kept_epoch + 1
    assert row["val_accuracy"] == 100 * runs[0].history[runs[0].kept_epoch]["val_accuracy"]


def test_still_improving_with_patience():
    h = [{"val_accuracy": a} for a in (0.5, 0.7, 0.69, 0.70)]
    assert X.still_improving(h, patience=1) is False and X.still_improving(h, patience=2) is False
    assert X.still_improving(h, patience=3) is True  # the best (epoch 1) is only 2 epochs back
    with pytest.raises(ValueError, match="`patience` must be an int >= 1, but got 0"):
        X.still_improving(h, patience=0)


def test_convergence_names_the_networks_still_improving():
    flat, rising = [{"val_accuracy": 0.8}, {"val_accuracy": 0.805}], [{"val_accuracy": 0.3}, {"val_accuracy": 0.45}]
    assert X.convergence({"FC": flat, "GAP": flat}) == {"converged": True, "why_not_converged": ""}
    out = X.convergence({"FC": flat, "GAP": rising, "BOX": [{"val_accuracy": 0.6}]})
    assert out["converged"] is False  # GAP rose 0.15 > 0.01; one epoch counts as still improving
    assert out["why_not_converged"] == (
        "still improving at the last epoch: GAP (held-out accuracy 0.45, +0.15), "
        "BOX (held-out accuracy 0.60, one epoch only)"
    )
    assert X.convergence({"GAP": rising}, tol=0.2)["converged"] is True
    with pytest.raises(ValueError, match="`histories` must map network names to histories"):
        X.convergence({})


def test_convergence_gates_networks_that_did_not_beat_chance():
    """A stopped network near chance is not compared; the gate reads the best epoch, per name or for all."""
    stopped = [{"val_accuracy": a} for a in (0.12, 0.19, 0.18, 0.185)]  # best 0.19: chance 0.10 + 0.09 < 0.10 margin
    good = [{"val_accuracy": a} for a in (0.5, 0.9, 0.89, 0.9)]
    assert X.convergence({"GAP": stopped}, patience=2)["converged"] is True  # no gate: stopped counts as converged
    out = X.convergence({"GAP": stopped, "FC": good}, patience=2, chance=0.1)
    assert out == {
        "converged": False,
        "why_not_converged": "not above chance by 0.10: GAP (held-out accuracy 0.19, chance 0.10)",
    }
    assert X.convergence({"GAP": stopped}, patience=2, chance={"FC": 0.1})["converged"] is True  # GAP not gated
    assert X.convergence({"GAP": stopped}, patience=2, chance=0.08)["converged"] is True  # 0.19 > 0.08 + 0.10
    both = X.convergence({"GAP": stopped, "new": [{"val_accuracy": 0.1}]}, patience=2, chance=0.1)
    assert both["why_not_converged"] == (
        "still improving at the last epoch: new (held-out accuracy 0.10, one epoch only); "
        "not above chance by 0.10: GAP (held-out accuracy 0.19, chance 0.10), new (held-out accuracy 0.10, chance 0.10)"
    )
    with pytest.raises(ValueError, match="`chance` must be a number, a mapping"):
        X.convergence({"GAP": good}, chance="0.1")


def test_box_regressors_are_judged_on_their_boxes():
    """A history with val_box_iou is kept, tuned, gated and called converged on its boxes, not its accuracy."""
    box = [{"val_accuracy": a, "val_box_iou": b} for a, b in ((0.9, 0.2), (0.9, 0.5), (0.95, 0.51), (0.96, 0.505))]
    assert X.kept_epoch(box, patience=2, min_delta=0.01) == 1  # the boxes' best, not the accuracy's (epoch 3)
    assert (
        X.still_improving(box, patience=2) is False and X.still_improving(box, key="val_accuracy", patience=2) is True
    )
    assert X.convergence({"box": box}, patience=2, chance=0.45)["why_not_converged"] == (
        "not above chance by 0.10: box (held-out box IoU 0.50, chance 0.45)"
    )
    rising = box[:2]
    assert X.convergence({"box": rising})["why_not_converged"] == (
        "still improving at the last epoch: box (held-out box IoU 0.50, +0.30)"
    )
    fits = {0.1: box, 0.01: [{**r, "val_box_iou": r["val_box_iou"] + 0.1} for r in box[:1]] + box[1:2]}
    search = X.search_lr([0.1, 0.01], lambda *, lr, patience=0: (lr, fits[lr]))
    assert search.scores == {0.1: 0.505, 0.01: 0.5} and search.lr == 0.1  # the last epoch's box IoU, not accuracy


def _spots(n: int, seed: int):
    """Features where class c lights channel c in a 2 x 2 block at a random place of an 8 x 8 grid; boxes at 32 px."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    maps = 0.1 * torch.rand(n, 4, 8, 8, generator=g)
    corners = torch.randint(0, 7, (n, 2), generator=g)
    boxes = []
    for i, (c, (y, x)) in enumerate(zip(labels.tolist(), corners.tolist())):
        maps[i, c, y : y + 2, x : x + 2] += 1.0
        boxes.append(torch.tensor([[4 * x, 4 * y, 4 * x + 7, 4 * y + 7]]))  # the block, upsampled x4 to 32 px
    return maps, labels, boxes


@pytest.mark.parametrize("pool", ["gap", "gmp"])
def test_a_pooling_head_on_frozen_features_learns_and_its_maps_find_the_spot(pool):
    maps, labels, _ = _spots(60, 0)
    val_maps, val_labels, val_boxes = _spots(30, 1)
    head, history = X.fit_pooling_head(maps, labels, val_maps, val_labels, pool=pool, epochs=40, lr=0.05, seed=0)
    assert head.pool == pool and len(history) == 40 and history[-1]["val_accuracy"] == 1.0
    again, same = X.fit_pooling_head(maps, labels, val_maps, val_labels, pool=pool, epochs=40, lr=0.05, seed=0)
    assert same == history  # seeded: the same head twice
    stopped, short = X.fit_pooling_head(
        maps, labels, val_maps, val_labels, pool=pool, epochs=40, lr=0.05, seed=0, patience=3, min_delta=0.0
    )
    best = max(range(len(short)), key=lambda e: (short[e]["val_accuracy"], -e))  # the first epoch at the best
    assert len(short) == best + 4 < 40 and short == history[: len(short)]  # stopped 3 epochs after its best
    score = X.score_pooling_head(head, val_maps, val_labels, val_boxes, 32)
    s = score.summary()
    assert s["cls_top1_err"] == 0.0 and score.correct.all()
    assert s["gt_known_loc"] >= 90.0 and s["loc_top1_err"] <= 10.0 and 0 <= s["maxboxaccv2"] <= 100


def test_tune_pooling_head_keeps_the_rate_with_the_best_held_out_accuracy():
    maps, labels, _ = _spots(60, 0)
    val_maps, val_labels, _ = _spots(30, 1)
    search = X.tune_pooling_head(maps, labels, val_maps, val_labels, lrs=[1e-5, 0.05], pool="gap", epochs=20, seed=0)
    assert search.lr == 0.05 and search.scores[0.05] == 1.0 > search.scores[1e-5]  # 1e-5 barely moves in 20 epochs
    same, history = X.fit_pooling_head(maps, labels, val_maps, val_labels, pool="gap", epochs=20, lr=0.05, seed=0)
    assert search.history == history and torch.equal(search.net.fc.weight, same.fc.weight)
    with pytest.raises(ValueError, match="`lrs` must be one or more positive learning rates"):
        X.tune_pooling_head(maps, labels, val_maps, val_labels, lrs=[], pool="gap")


def test_score_pooling_head_hand_worked():
    # one channel per class, identity weights: class 0's map is channel 0, a 2 x 2 block at (2, 2) of a 4 x 4 grid
    from camlib.models.heads import ClassifierHead

    head = ClassifierHead.from_linear(torch.eye(2), pool="gap")
    maps = torch.zeros(1, 2, 4, 4)
    maps[0, 0, 2:4, 2:4] = 1.0
    score = X.score_pooling_head(head, maps, torch.tensor([0]), [torch.tensor([[2, 2, 3, 3]])], 4)
    assert score.predicted.tolist() == [0] and score.gt_known.tolist() == [True] and score.localized.tolist() == [True]
    wrong = X.score_pooling_head(head, maps, torch.tensor([0]), [torch.tensor([[0, 0, 1, 1]])], 4)
    assert wrong.gt_known.tolist() == [False] and wrong.summary()["loc_top1_err"] == 100.0
    assert score.maxboxaccv2 == 100.0  # the block is its own box at every IoU threshold
    fast = X.score_pooling_head(head, maps, torch.tensor([0]), [torch.tensor([[2, 2, 3, 3]])], 4, max_box_acc=False)
    assert math.isnan(fast.maxboxaccv2) and fast.gt_known.tolist() == [True]


def test_fit_pooling_head_refuses_features_without_one_label_each():
    with pytest.raises(ValueError, match=r"`val_maps` must be a Tensor\[N, K, h, w\] with one label per image"):
        X.fit_pooling_head(
            torch.zeros(2, 3, 4, 4),
            torch.zeros(2, dtype=torch.long),
            torch.zeros(2, 3, 4, 4),
            torch.zeros(3, dtype=torch.long),
            pool="gap",
        )


def test_compare_pooling_heads_is_the_tuned_heads_scored_beside_the_baselines():
    from types import SimpleNamespace

    from camlib.boxes.baselines import best_centre_box_size, centre_box_hits

    maps, labels, boxes = _spots(60, 0)
    t_maps, t_labels, t_boxes = _spots(30, 1)
    train, test = (
        SimpleNamespace(maps=maps, labels=labels, boxes=boxes),
        SimpleNamespace(maps=t_maps, labels=t_labels, boxes=t_boxes),
    )
    cmp = X.compare_pooling_heads(
        train,
        test,
        size=32,
        seeds=[0, 1],
        lrs=[1e-5, 0.05],
        epochs=15,
        patience=3,
        min_delta=0.0,
        box_thresholds=[0.2, 0.5],
    )
    held = torch.zeros(60, dtype=torch.bool)
    held[torch.randperm(60, generator=torch.Generator().manual_seed(0))[:12]] = True  # the same fifth held out
    split = (maps[~held], labels[~held], maps[held], labels[held])
    for pool in ("gap", "gmp"):
        search = cmp.searches[pool]
        assert search.lr == 0.05  # 1e-5 barely moves
        head, history = X.fit_pooling_head(*split, pool=pool, lr=0.05, seed=1, epochs=15, patience=3)
        assert cmp.heads[pool, 1][1] == history and torch.equal(cmp.heads[pool, 1][0].fc.weight, head.fc.weight)
        direct = X.score_pooling_head(head, t_maps, t_labels, t_boxes, 32, max_box_acc=False)
        assert torch.equal(cmp.scores[pool, 1].gt_known, direct.gt_known)
        seeds = torch.stack([cmp.scores[pool, s].correct.double() for s in (0, 1)]).mean(0)
        assert torch.equal(cmp.per_image(pool, "correct"), seeds)
        scores = [cmp.scores[pool, s].maxboxaccv2 for s in (0, 1)]  # measured on every seed
        assert scores[1] == X.score_pooling_head(head, t_maps, t_labels, t_boxes, 32).maxboxaccv2
        assert cmp.mean(pool, "maxboxaccv2") == pytest.approx(sum(scores) / 2)
    size = best_centre_box_size(boxes, 32)
    assert cmp.centre_size == size and torch.equal(
        cmp.baseline_hits["centred box"], centre_box_hits(t_boxes, 32, box_size=size).double()
    )
    assert cmp.strongest_baseline() in cmp.baseline_hits
    # paired effects, as the chapter writes them: the same numbers as the bootstrap written out by hand
    from camlib.study.stats import Interval, paired_bootstrap

    by_hand = Interval.from_bootstrap(
        paired_bootstrap(cmp.per_image("gap", "correct"), cmp.per_image("gmp", "correct"), seed=0)
    )
    assert cmp.paired(("gap", "correct"), ("gmp", "correct")) == by_hand
    base = cmp.baseline_hits["centred box"]
    control = cmp.per_image("gap", "gt_known", control=True)
    assert cmp.paired(("gap", "gt_known", "control"), base) == Interval.from_bootstrap(
        paired_bootstrap(control, base, seed=0)
    )
    with pytest.raises(ValueError, match=r"A side must be \(pool, key\), \(pool, key, 'control'\) or a Tensor"):
        cmp.paired(("gap", "gt_known", "broken"), base)
    assert cmp.convergence() == {
        "converged": not cmp.improving,
        "why_not_converged": "still improving when training ended: "
        + ", ".join(f"{p} head seed {s}" for p, s in cmp.improving),
    }
    with pytest.raises(ValueError, match=r"`held_fraction` must be in \(0, 1\), but got 1.0"):
        X.compare_pooling_heads(train, test, size=32, seeds=[0], lrs=[0.05], held_fraction=1.0)


def test_versus_baseline_and_mean_sd_by_hand():
    def run(seed, iou):
        result = SimpleNamespace(true_iou=torch.tensor(iou), summary=lambda: {"err": 10.0 + 2 * seed})
        return X.Run("GAP CAM", "gap", seed, torch.nn.Identity(), [], result)

    runs = [run(0, [0.6, 0.1, 0.9, 0.2]), run(1, [0.6, 0.6, 0.9, 0.2])]  # 50% and 75% GT-known
    baseline = torch.tensor([1.0, 0.0, 0.0, 0.0])  # 25%
    e = X.versus_baseline(runs, "GAP CAM", baseline)
    assert e.estimate == pytest.approx(37.5) and e.n == 2  # (25 + 50) / 2
    assert X.mean_sd(runs, "GAP CAM", "err") == "11.0 ± 1.4"
    with pytest.raises(ValueError, match="`method` must name a method of the runs, but got 'GMP CAM'"):
        X.versus_baseline(runs, "GMP CAM", baseline)


def test_the_method_page_states_the_competence_margin_camlib_applies():
    from pathlib import Path

    page = (Path(__file__).parents[1] / "book" / "method.md").read_text()
    assert f"must beat chance by\n  {round(100 * X.COMPETENCE)} points" in page
