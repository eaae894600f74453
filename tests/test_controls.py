"""Negative controls (camlib.study.controls, ClaimTable.add(controls=...)), clustered intervals and the
rule's unit count (camlib.study.stats, camlib.book.verdicts)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from camlib.book.report import Claim, ClaimTable, controls_answer, controls_table, front_table_html
from camlib.book.verdicts import MIN_SEEDS, MIN_UNITS, too_few, verdict
from camlib.metrics.evaluate import LocalizationResult
from camlib.study.controls import control_runs, derangement, other_box_hits, other_class_correct, other_images
from camlib.study.experiments import Run, seed_effect
from camlib.study.stats import Interval, paired_bootstrap, seed_interval


def _iou(a: list[int], b: list[int]) -> float:
    """IoU of two inclusive pixel boxes, the obvious way."""
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(iw, 0) * max(ih, 0)
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def _random_boxes(g: torch.Generator, n: int, side: int = 32) -> torch.Tensor:
    xy = torch.randint(0, side, (n, 2, 2), generator=g).sort(dim=1).values  # (n, 2 corners, 2 coords)
    return torch.stack([xy[:, 0, 0], xy[:, 0, 1], xy[:, 1, 0], xy[:, 1, 1]], dim=1)


def _result(seed: int, n: int = 12, k: int = 3, classes: int = 4) -> LocalizationResult:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (n,), generator=g)
    top = torch.stack([torch.randperm(classes, generator=g)[:k] for _ in range(n)])
    boxes = _random_boxes(g, n * k).view(n, k, 4)
    gt = [_random_boxes(g, int(torch.randint(1, 3, (1,), generator=g))) for _ in range(n)]
    true_boxes = _random_boxes(g, n)
    hits = torch.zeros(n, k, dtype=torch.bool)
    h_classes = torch.stack([torch.randperm(classes, generator=g)[:k] for _ in range(n)])
    h_boxes = _random_boxes(g, n * k).view(n, k, 4)
    return LocalizationResult(
        "cam",
        0.2,
        "largest",
        labels,
        top,
        torch.randn(n, k, generator=g),
        boxes,
        hits,
        gt,
        true_boxes,
        torch.zeros(n),
        heuristic_classes=h_classes,
        heuristic_boxes=h_boxes,
        heuristic_hits=torch.zeros(n, k, dtype=torch.bool),
        mask_coverage=torch.ones(n),
    )


@pytest.mark.parametrize("n", [2, 3, 7, 50])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_derangement_is_a_permutation_without_fixed_points(n, seed):
    p = derangement(n, seed)
    assert sorted(p.tolist()) == list(range(n))
    assert all(p[i] != i for i in range(n))
    assert torch.equal(p, derangement(n, seed))  # seeded


def test_derangement_refuses_one_image():
    with pytest.raises(ValueError, match="`n` must be an int >= 2"):
        derangement(1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_other_images_agrees_with_loops(seed):
    r = _result(seed)
    c = other_images(r, seed=seed)
    p = derangement(len(r.labels), seed).tolist()
    for i in range(len(r.labels)):
        gt = r.gt_boxes[i].tolist()
        assert c.classes[i].tolist() == r.classes[p[i]].tolist()
        for j in range(r.classes.shape[1]):
            hit = r.classes[p[i], j] == r.labels[i] and max(_iou(r.boxes[p[i], j].tolist(), b) for b in gt) >= 0.5
            assert bool(c.hits[i, j]) == bool(hit)
            h_hit = (
                r.heuristic_classes[p[i], j] == r.labels[i]
                and max(_iou(r.heuristic_boxes[p[i], j].tolist(), b) for b in gt) >= 0.5
            )
            assert bool(c.heuristic_hits[i, j]) == bool(h_hit)
        assert c.true_iou[i].item() == pytest.approx(max(_iou(r.true_boxes[p[i]].tolist(), b) for b in gt))
    assert torch.equal(c.labels, r.labels) and c.gt_boxes is r.gt_boxes  # the ground truth stays
    assert c.mask_coverage is None and c.box_acc_v2 is None  # measures that need the maps are dropped


def test_other_images_breaks_a_perfect_localizer():
    n = 10
    gt = [torch.tensor([[3 * i, 3 * i, 3 * i + 2, 3 * i + 2]]) for i in range(n)]  # disjoint boxes
    boxes = torch.stack([g for g in gt])  # (n, 1, 4): every box right
    labels = torch.arange(n) % 3
    r = LocalizationResult(
        "cam",
        0.2,
        "largest",
        labels,
        labels[:, None],
        torch.zeros(n, 1),
        boxes,
        torch.ones(n, 1, dtype=torch.bool),
        gt,
        boxes[:, 0],
        torch.ones(n),
    )
    assert r.summary()["loc_top1_err"] == 0.0
    c = other_images(r)
    assert c.summary()["loc_top1_err"] == 100.0 and c.summary()["gt_known_loc"] == 0.0


def test_control_runs_replace_one_method_and_flip_the_effect():
    def run(name, seed, result):
        return Run(name, name.split()[0].lower(), seed, torch.nn.Identity(), [{}], result)

    n = 30
    gt = [torch.tensor([[2 * i, 0, 2 * i + 1, 5]]) for i in range(n)]
    good = torch.stack(gt)  # every box right
    bad = torch.stack([torch.tensor([[0, 40, 5, 45]])] * n)  # every box wrong
    labels = torch.zeros(n, dtype=torch.long)

    def result(boxes, right):
        hits = torch.full((n, 1), right)
        return LocalizationResult(
            "cam",
            0.2,
            "largest",
            labels,
            labels[:, None],
            torch.zeros(n, 1),
            boxes,
            hits,
            gt,
            boxes[:, 0],
            torch.full((n,), float(right)),
        )

    runs = []
    for seed in range(3):
        runs += [run("GAP CAM", seed, result(good, True)), run("GMP CAM", seed, result(bad, False))]
    effect = seed_effect(runs, "loc_top1_err", minus="GAP CAM", plus="GMP CAM")  # GMP − GAP error: +100
    control = seed_effect(control_runs(runs, "GAP CAM"), "loc_top1_err", minus="GAP CAM", plus="GMP CAM")
    assert effect.estimate == 100.0 and control.estimate == 0.0  # GAP from other images misses as GMP does
    assert [r.result is q.result for r, q in zip(control_runs(runs, "GAP CAM"), runs)] == [False, True] * 3
    with pytest.raises(ValueError, match="`method` must name a method of the runs"):
        control_runs(runs, "GAP backprop")


# --- the cluster bootstrap ---------------------------------------------------------------------------------------


def _cluster_bootstrap_by_loops(d, clusters, resamples, seed):
    """The cluster bootstrap the obvious way: per resample, draw clusters and average their scores."""
    labels = sorted(set(clusters))
    members = {c: [x for x, k in zip(d, clusters) if k == c] for c in labels}
    rng = np.random.Generator(np.random.PCG64(seed))
    idx = rng.integers(0, len(labels), size=(resamples, len(labels)))
    means = []
    for row in idx:
        drawn = [x for j in row for x in members[labels[j]]]
        means.append(sum(drawn) / len(drawn))
    return np.quantile(means, [0.025, 0.975])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cluster_bootstrap_agrees_with_loops(seed):
    g = np.random.default_rng(seed)
    n = 40
    a, b = g.random(n), g.random(n)
    clusters = g.integers(0, 9, n).tolist()
    r = paired_bootstrap(a, b, clusters=clusters, resamples=500, seed=seed, unit="photos")
    low, high = _cluster_bootstrap_by_loops((a - b).tolist(), clusters, 500, seed)
    assert r.low == pytest.approx(low, abs=1e-12) and r.high == pytest.approx(high, abs=1e-12)
    assert r.units == len(set(clusters)) and r.unit == "photos"
    assert r.difference == pytest.approx((a - b).mean())


def test_cluster_bootstrap_of_singletons_is_the_plain_bootstrap():
    g = np.random.default_rng(0)
    a, b = g.random(25), g.random(25)
    plain = paired_bootstrap(a, b, resamples=300)
    single = paired_bootstrap(a, b, resamples=300, clusters=list(range(25)))
    assert single.low == pytest.approx(plain.low) and single.high == pytest.approx(plain.high)


def test_cluster_bootstrap_is_wider_when_the_scores_of_a_cluster_agree():
    # 4 photos, 10 identical scores each: 4 independent units, not 40
    a = np.repeat([1.0, 0.0, 1.0, 1.0], 10)
    plain = paired_bootstrap(a, np.zeros(40), resamples=2000)
    clustered = paired_bootstrap(a, np.zeros(40), resamples=2000, clusters=np.repeat(np.arange(4), 10))
    assert clustered.high - clustered.low > 1.5 * (plain.high - plain.low)


def test_cluster_labels_must_match_the_scores():
    with pytest.raises(ValueError, match="`clusters` must hold one label per score"):
        paired_bootstrap(np.ones(5), np.zeros(5), clusters=[0, 1])


# --- the rule's unit count -----------------------------------------------------------------------------------------


def test_too_few_units_are_not_resolved():
    assert too_few(MIN_SEEDS - 1, "seeds") == MIN_SEEDS and too_few(MIN_SEEDS, "seeds") == 0
    assert too_few(MIN_UNITS - 1, "photos") == MIN_UNITS and too_few(MIN_UNITS, "photos") == 0
    clear = dict(estimate=10.0, low=8.0, high=12.0)
    assert verdict(Interval(**clear, n=2, unit="seeds")).word == "not resolved"
    assert verdict(Interval(**clear, n=3, unit="seeds")).word == "reproduced"
    assert verdict(Interval(**clear, n=19, unit="scene classes")).word == "not resolved"
    assert "19 scene classes" in verdict(Interval(**clear, n=19, unit="scene classes")).reason
    assert verdict(Interval(**clear, n=5)).word == "reproduced"  # an unnamed unit is not counted
    assert seed_interval([1.0, 2.0, 3.0]).unit == "seeds"
    b = paired_bootstrap(np.ones(5), np.zeros(5), clusters=[0, 0, 1, 1, 2], unit="photos")
    assert Interval.from_bootstrap(b).n == 3 and Interval.from_bootstrap(b).unit == "photos"
    assert verdict(Interval.from_bootstrap(b)).word == "not resolved"


# --- controls in the claim table ------------------------------------------------------------------------------------


def _table(control):
    t = ClaimTable("01_x")
    row = t.add(
        "a",
        "A localizes better than B",
        paper="-",
        study="-",
        kind="analogue",
        evidence="controlled",
        effect=(6.0, 2.0, 10.0),
        what="B − A error",
        controls={"A from other images": control},
    )
    return t, row


def test_a_control_that_fails_makes_the_row_inconclusive():
    _, row = _table((5.0, 1.0, 9.0))  # the broken method "wins" too: the test cannot tell
    assert row.verdict == "inconclusive" and "negative control A from other images reads reproduced" in row.reason
    assert row.controls_hold is False
    assert row.recompute().word == "inconclusive"


def test_a_control_that_holds_leaves_the_row():
    t, row = _table((-40.0, -45.0, -35.0))
    assert row.verdict == "reproduced" and row.controls_hold is True
    assert row.controls["A from other images"]["verdict"] == "not reproduced"
    assert row.recompute().word == "reproduced"
    again = [Claim(**{k: (math.nan if v is None else v) for k, v in r.items()}) for r in json.loads(t.to_json())]
    assert again[0].controls == row.controls and again[0].recompute().word == "reproduced"
    assert "control: not reproduced ✓" in front_table_html(again)
    assert (
        "as it must" in t._repr_markdown_() and "Negative controls: 1 of 1 read not reproduced" in t._repr_markdown_()
    )
    assert "all 1 read not reproduced" in controls_answer(again)
    assert controls_table(again).rows[0]["negative control"] == "A from other images"


def test_a_control_that_cannot_decide_is_flagged_but_does_not_overturn():
    _, row = _table((0.5, -3.0, 4.0))
    assert row.verdict == "reproduced" and row.controls_hold is False
    assert "does not read not reproduced" in front_table_html([row])
    assert "1 do not read not reproduced (01 a)" in controls_answer([row])


def test_an_unfit_row_keeps_its_own_reason():
    t = ClaimTable("01_x")
    row = t.add(
        "a",
        "A beats B",
        paper="-",
        study="-",
        kind="analogue",
        evidence="controlled",
        effect=(1.0, 0.5, 2.0),
        converged=False,
        why_not_converged="A still improving",
        controls={"broken A": (1.0, 0.5, 2.0)},
    )
    assert row.verdict == "inconclusive" and row.reason == "A still improving"


def test_controls_need_an_effect():
    with pytest.raises(ValueError, match="`controls` need the row's effect and rule"):
        ClaimTable("01_x").add(
            "a",
            "shown",
            paper="-",
            study="-",
            kind="paper",
            evidence="x",
            verdict=verdict(None),
            controls={"broken": (0.0, -1.0, 1.0)},
        )


def test_rows_without_controls_are_named_on_the_front_page():
    t = ClaimTable("01_x")
    row = t.add("a", "A beats B", paper="-", study="-", kind="paper", evidence="x", effect=(1.0, 0.5, 2.0))
    check = t.add("b", "an identity", paper="-", study="-", kind="check", verdict=verdict((1.0, 0.5, 2.0)))
    assert "no negative control" in front_table_html([row]) and "no negative control" not in front_table_html([check])
    assert controls_answer([row, check]) == "Negative controls: none of the 1 paper and analogue rows has one yet."


@pytest.mark.parametrize("seed", [0, 1])
def test_other_box_hits_and_classes_agree_with_loops(seed):
    g = torch.Generator().manual_seed(seed)
    n = 15
    boxes = _random_boxes(g, n, side=12)
    gt = [_random_boxes(g, 2, side=12) for _ in range(n)]
    predicted, labels = torch.randint(0, 3, (n,), generator=g), torch.randint(0, 3, (n,), generator=g)
    p = derangement(n, seed).tolist()
    hits = other_box_hits(boxes, gt, seed=seed)
    correct = other_class_correct(predicted, labels, seed=seed)
    for i in range(n):
        assert hits[i].item() == float(max(_iou(boxes[p[i]].tolist(), b) for b in gt[i].tolist()) >= 0.5)
        assert correct[i].item() == float(predicted[p[i]] == labels[i])
    with pytest.raises(ValueError, match="`boxes` and `gt_boxes` must be one per image"):
        other_box_hits(boxes, gt[:-1])
    with pytest.raises(ValueError, match="`predicted` and `labels` must be 1-D and of one length"):
        other_class_correct(predicted, labels[:-1])


def test_a_pooling_heads_score_answers_from_other_images():
    from camlib.study.experiments import HeadScore

    n = 8
    gt = [torch.tensor([[4 * i, 0, 4 * i + 3, 3]]) for i in range(n)]
    boxes = torch.stack([torch.cat([g, g]) for g in gt])  # (n, 2, 4): both boxes right
    labels = torch.arange(n) % 4
    right = torch.ones(n, dtype=torch.bool)
    score = HeadScore(labels, right, right, right, 80.0, labels=labels, boxes=boxes, gt_boxes=gt)
    c = other_images(score)
    assert not c.gt_known.any() and not c.localized.any()  # another bird's boxes never hit this one's
    p = derangement(n)
    assert torch.equal(c.correct, labels[p] == labels) and math.isnan(c.maxboxaccv2)
    with pytest.raises(ValueError, match="must keep its labels, boxes and ground truth"):
        other_images(HeadScore(labels, right, right, right, 80.0))


def test_an_interval_keeps_its_bootstraps_unit():
    b = paired_bootstrap(np.ones(30), np.zeros(30), unit="scene classes")
    assert Interval.from_bootstrap(b).n == 30 and Interval.from_bootstrap(b, n=12).n == 12
    assert Interval.from_bootstrap(b, n=12).unit == "scene classes"
    assert verdict(Interval.from_bootstrap(b, n=12)).word == "not resolved"
    assert Interval.from_bootstrap(paired_bootstrap(np.ones(5), np.zeros(5))).n == 0  # no unit named: not counted


def test_parts_at_two_thresholds_say_when_the_verdict_turns_on_the_threshold():
    t = ClaimTable("02_x")
    row = t.add(
        "a",
        "CAM localizes better than backprop",
        paper="-",
        study="-",
        kind="paper",
        evidence="x",
        parts={"20%": (30.0, 20.0, 40.0), "own thresholds": (2.0, -3.0, 7.0)},
        parts_are="threshold",
    )
    assert row.verdict == "partly reproduced" and row.reason.startswith("threshold-dependent: 20%: reproduced")
    assert tuple(row.recompute()) == (row.verdict, row.reason)
    same = t.add(
        "b",
        "both hold",
        paper="-",
        study="-",
        kind="paper",
        evidence="x",
        parts={"20%": (30.0, 20.0, 40.0), "own thresholds": (9.0, 3.0, 15.0)},
        parts_are="threshold",
    )
    assert same.verdict == "reproduced" and not same.reason.startswith("threshold-dependent")


def test_mirror_region_ious_agree_with_the_steps_done_one_by_one():
    import torchvision

    from camlib import compute_cams, normalize_maps, resize_maps
    from camlib.metrics.accuracy import region_overlap
    from camlib.study.controls import mirror_region_ious

    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=6).eval()
    images = torch.randn(2, 3, 64, 64)
    classes = torch.tensor([[1, 4], [0, 5]])
    sizes = [(40, 56), (64, 30)]
    found = mirror_region_ious(net, images, classes, sizes, 0.2)
    expected = []
    for i, size in enumerate(sizes):
        for j in range(2):
            c = classes[i : i + 1, j : j + 1]
            a = compute_cams(net, images[i : i + 1], c).maps
            b = compute_cams(net, images[i : i + 1].flip(-1), c).maps.flip(-1)
            a, b = (normalize_maps(resize_maps(m, size), "max")[0, 0] for m in (a, b))
            expected.append(region_overlap(torch.stack([a, b]), 0.2).iou[0])
    assert found.shape == (4,) and torch.allclose(found, torch.stack(expected))
    with pytest.raises(ValueError, match="`classes` and `sizes` must be one per image"):
        mirror_region_ious(net, images, classes, sizes[:1])


def test_rows_unfit_for_their_own_reason_are_left_aside_in_the_controls_count():
    t = ClaimTable("01_x")
    t.add("a", "A beats B", paper="-", study="-", kind="analogue", evidence="controlled", effect=(1.0, 0.5, 2.0),
          converged=False, why_not_converged="A still improving", controls={"broken A": (0.0, -1.0, 1.0)})  # fmt: skip
    t.add("b", "C beats D", paper="-", study="-", kind="analogue", evidence="controlled", effect=(9.0, 5.0, 13.0),
          controls={"broken C": (-9.0, -13.0, -5.0)})  # fmt: skip
    said = controls_answer(t.claims)
    assert "(1 of them unfit to decide for their own reason, left aside)" in said and "all 1 others" in said


def test_other_map_hits_scores_each_item_with_another_items_map_as_a_loop_does():
    """Against the obvious loop: item i's target, item p[i]'s map (its peak; its box at the threshold)."""
    from camlib.boxes.from_maps import boxes_from_maps
    from camlib.boxes.geometry import box_iou
    from camlib.study.controls import derangement, other_map_hits

    g = torch.Generator().manual_seed(3)
    maps = torch.rand(9, 12, 12, generator=g)
    boxes = [torch.randint(0, 6, (int(k), 2), generator=g).repeat(1, 2) + torch.tensor([0, 0, 5, 5])
             for k in torch.randint(1, 3, (9,), generator=g)]  # fmt: skip
    found = other_map_hits(maps, boxes, tolerance=1, threshold=0.6, seed=4)
    p = derangement(9, 4)
    for i in range(9):
        m = maps[p[i]]
        y, x = divmod(int(m.flatten().argmax()), 12)
        near = any(
            (max(b[0] - x, 0, x - b[2]) ** 2 + max(b[1] - y, 0, y - b[3]) ** 2) ** 0.5 <= 1 for b in boxes[i].tolist()
        )
        assert found["point"][i].item() == float(near)
        box = boxes_from_maps(m[None], 0.6)[0]
        assert found["box"][i].item() == float(box_iou(box[None], boxes[i]).max().item() >= 0.5)
    masks = [torch.zeros(12, 12, dtype=torch.bool) for _ in range(9)]  # masks as ConceptPairs keeps them: a list
    for k, m in enumerate(masks):
        m[k, :] = True  # item k's target is row k: another item's peak rarely lies on it
    assert set(other_map_hits(maps, masks, seed=4)) == {"point"}  # masks: no box hits
    with pytest.raises(ValueError, match="one target per map"):
        other_map_hits(maps, boxes[:3])
