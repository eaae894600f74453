"""camlib.study.units: unit ranking, segmentation thresholds and part hits against plain loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import camlib
import camlib.study.units as U
from camlib.study.units import part_hits, top_units, unit_masks, unit_thresholds


def test_top_units_by_sorting_each_row():
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(6, 20, generator=g)
    weight[2, 5] = weight[2, 7] = 9.0  # a tie: the lower index first
    got = top_units(weight, [2, 0, 5], 4)
    for row, c in zip(got.tolist(), [2, 0, 5]):
        expected = sorted(range(20), key=lambda k: (-float(weight[c, k]), k))[:4]
        assert row == expected
    assert got[0, :2].tolist() == [5, 7]
    with pytest.raises(ValueError, match=r"`k` must be an int in \[1, 20\]"):
        top_units(weight, [0], 21)
    with pytest.raises(ValueError, match=r"`classes` must be indices in \[0, 6\), but got \[6\]"):
        top_units(weight, [6], 2)


@pytest.mark.parametrize("top", [0.005, 0.05, 0.3])
def test_thresholds_leave_the_top_share_above(top):
    maps = torch.rand(7, 70, 5, 6, generator=torch.Generator().manual_seed(1))
    t = unit_thresholds(maps, top=top, chunk=16)
    M = 7 * 5 * 6
    for k in range(70):
        values = np.sort(maps[:, k].numpy().ravel())[::-1]
        expected = values[max(1, int(np.ceil(top * M - 1e-9))) - 1]  # the ceil(top * M)-th largest
        assert t[k].item() == expected
        assert (maps[:, k] > t[k]).sum().item() <= max(1, np.ceil(top * M))


def test_masks_are_the_upsampled_maps_above_their_level():
    maps = torch.rand(3, 2, 4, 4, generator=torch.Generator().manual_seed(2))
    levels = torch.tensor([0.5, 0.8])
    masks = unit_masks(maps, levels, (8, 8))
    up = torch.nn.functional.interpolate(maps, size=(8, 8), mode="bilinear", align_corners=False)
    assert torch.equal(masks, torch.stack([up[:, 0] > 0.5, up[:, 1] > 0.8], dim=1))
    with pytest.raises(ValueError, match=r"one level per unit \(2\), but got 1"):
        unit_masks(maps, levels[:1], (8, 8))


def test_part_hits_against_loops():
    g = torch.Generator().manual_seed(3)
    masks = torch.rand(30, 9, 11, generator=g) < 0.3
    masks[4] = False  # an empty segmentation: the image does not count
    parts = torch.rand(30, 5, 3, generator=g) * torch.tensor([11.0, 9.0, 1.0])
    parts[..., 2] = (parts[..., 2] > 0.3).float()
    parts[:, 4, 2] = 0.0  # a part never visible
    r = part_hits(masks, parts)
    for p in range(5):
        hits, shares = [], []
        for i in range(30):
            if parts[i, p, 2] > 0 and masks[i].any():
                x, y = min(int(parts[i, p, 0]), 10), min(int(parts[i, p, 1]), 8)
                hits.append(bool(masks[i, y, x]))
                shares.append(masks[i].double().mean().item())
        assert r.images[p].item() == len(hits)
        if hits:
            assert r.hit[p].item() == pytest.approx(np.mean(hits)) and r.chance[p].item() == pytest.approx(
                np.mean(shares)
            )
        else:
            assert torch.isnan(r.hit[p]) and torch.isnan(r.chance[p])
    with pytest.raises(ValueError, match=r"the same N"):
        part_hits(masks, parts[:3])


def test_random_units_avoid_the_chosen_ones_and_are_seeded():
    from camlib.study.units import random_units

    weight = torch.zeros(3, 10)
    exclude = torch.tensor([[0, 1], [2, 3], [4, 5]])
    r = random_units(weight, [0, 1, 2], 4, exclude=exclude, seed=1)
    assert r.shape == (3, 4) and all(not set(row) & set(ex) for row, ex in zip(r.tolist(), exclude.tolist()))
    assert torch.equal(r, random_units(weight, [0, 1, 2], 4, exclude=exclude, seed=1))
    with pytest.raises(ValueError, match=r"need 9 units outside `exclude`, but only 8 remain"):
        random_units(weight, [0], 9, exclude=exclude[:1])


def test_detector_rows_by_hand():
    from camlib.study.units import detector_rows

    # two classes of 6 images each, 8 x 8 frame, two units: unit 0 fires on the top-left quarter, unit 1 nowhere
    maps = torch.zeros(12, 2, 8, 8)
    maps[:, 0, :4, :4] = 1.0
    labels = torch.tensor([0] * 6 + [1] * 6)
    parts = torch.zeros(12, 2, 3)
    parts[:, 0] = torch.tensor([1.0, 1.0, 1.0])  # "beak" inside the quarter on every image
    parts[:, 1] = torch.tensor([6.0, 6.0, 1.0])  # "tail" outside
    parts[6:, 0, 2] = 0.0  # class 1: the beak is never visible
    rows = detector_rows(
        maps,
        torch.tensor([0.5, 0.5]),
        labels,
        parts,
        torch.tensor([[0, 1], [0, 1]]),
        [0, 1],
        size=(8, 8),
        part_names=["beak", "tail"],
        min_images=5,
    )
    by = {(r["class"], r["unit"]): r for r in rows}
    assert by[0, 0]["part"] == "beak" and by[0, 0]["hit"] == 1.0 and by[0, 0]["detector"]
    assert by[0, 0]["chance"] == pytest.approx(0.25) and by[0, 0]["images"] == 6 and by[0, 0]["fires"] == 1.0
    assert by[1, 0]["part"] == "tail" and by[1, 0]["hit"] == 0.0 and not by[1, 0]["detector"]
    assert by[0, 1]["part"] is None and by[0, 1]["fires"] == 0.0 and not by[0, 1]["detector"]


# --- parts as masks, and ablation ---------------------------------------------------------------------------


def test_part_points_are_centroids_of_pixel_centres():
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(3, 4, 9, 7, generator=g) > 0.7
    masks[1, 2] = False  # an absent part
    got = U.part_points(masks)
    for i in range(3):
        for p in range(4):
            ys, xs = masks[i, p].nonzero(as_tuple=True)
            if len(ys) == 0:
                assert got[i, p].tolist() == [0.0, 0.0, 0.0]
                continue
            assert got[i, p, 0].item() == pytest.approx(xs.double().mean().item() + 0.5)
            assert got[i, p, 1].item() == pytest.approx(ys.double().mean().item() + 0.5)
            assert got[i, p, 2].item() == 1.0


def test_part_iou_sums_over_the_images_where_the_part_is_present():
    g = torch.Generator().manual_seed(1)
    masks = torch.rand(5, 6, 6, generator=g) > 0.5
    parts = torch.rand(5, 3, 6, 6, generator=g) > 0.6
    parts[:, 2] = False  # never present: NaN
    parts[2, 0] = False  # absent on image 2: its segmentation does not count for part 0
    got = U.part_iou(masks, parts)
    for p in range(2):
        inter = union = 0
        for i in range(5):
            if parts[i, p].any():
                inter += (masks[i] & parts[i, p]).sum().item()
                union += (masks[i] | parts[i, p]).sum().item()
        assert got[p].item() == pytest.approx(inter / union)
    assert math.isnan(got[2].item())
    with pytest.raises(ValueError, match="`masks` must be a BoolTensor"):
        U.part_iou(masks, parts[:4])


def test_ablated_scores_equal_the_network_with_those_maps_zeroed():
    import torchvision

    net = torchvision.models.resnet18(num_classes=6).eval()
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    units = torch.tensor([[0, 5, 9], [100, 200, 511], [7, 7, 8]])  # a repeated unit counts once
    with torch.no_grad(), camlib.capture_features(net, net.layer4) as cap:
        net(x)
    pooled = cap.features.mean(dim=(2, 3))  # (N, 512)

    def zero(module, inputs, output):  # the same network, each image's units zeroed at layer4
        output = output.clone()
        for i, chosen in enumerate(units.tolist()):
            output[i, chosen] = 0
        return output

    handle = net.layer4.register_forward_hook(zero)
    try:
        with torch.no_grad():
            expected = net(x)
    finally:
        handle.remove()
    got = U.ablated_scores(pooled, net.fc.weight.detach(), net.fc.bias.detach(), units)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_ablation_drops_by_hand():
    # two classes, three units; image 0 is class 0, image 1 class 1
    pooled = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    weight = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.5, 1.0]])
    bias = torch.tensor([0.0, 0.5])
    sets = {"top": torch.tensor([[0], [2]]), "other": torch.tensor([[2], [0]])}
    out = U.ablation_drops(pooled, weight, bias, torch.tensor([0, 1]), sets)
    # intact: image 0 scores (4, 1.5), image 1 (1, 4): both right
    assert out["none"][1].tolist() == [True, True]
    # top: image 0 loses unit 0 -> (2, 1.5), drop 2, still right; image 1 loses unit 2 -> (1, 1), drop 3, a tie:
    # argmax takes class 0, wrong
    assert out["top"][0].tolist() == [2.0, 3.0] and out["top"][1].tolist() == [True, False]
    # other: image 0 loses unit 2 (weight 0 for class 0): drop 0; image 1 loses unit 0 (weight 0): drop 0
    assert out["other"][0].tolist() == [0.0, 0.0] and out["other"][1].tolist() == [True, True]


def test_unit_study_finds_planted_part_detectors_and_their_ablation():
    # 2 classes x 6 images, 8 x 8 images, 4 x 4 maps, 4 units. Class c's part sits in a quadrant; unit c fires
    # exactly on class c's part (a detector), units 2-3 fire on noise. Weights: class c weighs unit c most.
    g = torch.Generator().manual_seed(5)
    N, K = 12, 4
    labels = torch.tensor([0, 1] * 6)
    parts = torch.zeros(N, 1, 8, 8, dtype=torch.bool)
    feats = 0.1 * torch.rand(N, K, 4, 4, generator=g)
    for i, c in enumerate(labels.tolist()):
        y, x = (0, 0) if c == 0 else (2, 2)  # the part's 2 x 2 cells of the map, 4 x 4 pixels of the image
        parts[i, 0, 2 * y : 2 * y + 4, 2 * x : 2 * x + 4] = True
        feats[i, c, y : y + 2, x : x + 2] = 5.0
    weight = torch.tensor([[3.0, 0.0, 0.5, 0.2], [0.0, 3.0, 0.2, 0.5]])
    study = U.unit_study(feats, weight, torch.zeros(2), labels, parts, k=1, top_share=0.2, min_images=3)
    assert study.units["top"].tolist() == [[0], [1]] and study.units["other class's top"].tolist() == [[1], [0]]
    assert [r["detector"] for r in study.rows["top"]] == [True, True]
    assert all(r["iou"] > 0.5 and r["iou_detector"] for r in study.rows["top"])
    # the random unit (3) fires on noise: no part inside it (hit 0), an IoU near chance
    assert not any(r["detector"] for r in study.rows["random"])
    assert all(r["hit"] == 0.0 and r["iou"] < 0.1 for r in study.rows["random"])
    # ablation: zeroing unit c removes 3 x mean(f_c) from class c's score: 3 x (4 cells x 5 + noise) / 16
    drop, correct = study.drops["top"]
    expected = 3.0 * feats[torch.arange(N), labels].mean(dim=(1, 2))
    torch.testing.assert_close(drop, expected)
    other_drop, _ = study.drops["other class's top"]
    assert (other_drop == 0).all()  # the other class's top unit has weight 0 for this class
    assert correct.double().mean() < study.drops["none"][1].double().mean()


def test_concept_iou_equals_part_iou_on_the_stacked_concepts():
    g = torch.Generator().manual_seed(7)
    N, K, C = 6, 3, 4
    maps = torch.rand(N, K, 3, 3, generator=g)
    levels = torch.tensor([0.5, 0.7, 0.9])
    masks, ids, stacked = [], [], torch.zeros(N, C, 6, 6, dtype=torch.bool)
    for i in range(N):
        m = int(torch.randint(0, 4, (1,), generator=g))
        inst = torch.rand(m, 6, 6, generator=g) > 0.6
        cid = torch.randint(0, C - 1, (m,), generator=g)  # concept C - 1 never occurs
        masks.append(inst)
        ids.append(cid)
        for j in range(m):
            stacked[i, cid[j]] |= inst[j]  # instances of one concept merge
    iou, images = U.concept_iou(maps, levels, masks, ids, C)
    assert images.tolist() == [int(stacked[:, c].flatten(1).any(1).sum()) for c in range(C)]
    seg = unit_masks(maps, levels, (6, 6))
    for u in range(K):
        expected = U.part_iou(seg[:, u], stacked)
        torch.testing.assert_close(iou[u], expected, equal_nan=True)
    assert torch.isnan(iou[:, C - 1]).all()
    with pytest.raises(ValueError, match=r"`concept_ids\[0\]` must be in \[0, 4\)"):
        U.concept_iou(
            maps[:1],
            levels,
            masks[:1] if len(ids[0]) else [torch.ones(1, 6, 6, dtype=torch.bool)],
            [torch.full((max(1, len(ids[0])),), 9)],
            C,
        )


def test_object_iou_by_loops():
    g = torch.Generator().manual_seed(9)
    maps = torch.rand(4, 6, 3, 3, generator=g)
    levels = torch.full((6,), 0.6)
    units = torch.randint(0, 6, (4, 2), generator=g)
    obj = torch.rand(4, 6, 6, generator=g) > 0.5
    got = U.object_iou(maps, levels, units, obj)
    seg = unit_masks(maps, levels, (6, 6))
    for i in range(4):
        for j, u in enumerate(units[i].tolist()):
            inter = (seg[i, u] & obj[i]).sum().item()
            union = (seg[i, u] | obj[i]).sum().item()
            assert got[i, j].item() == pytest.approx(inter / union if union else 0.0)


def test_best_concepts_is_concept_iou_of_each_class_units():
    g = torch.Generator().manual_seed(11)
    N, K, C = 8, 10, 3
    maps = torch.rand(N, K, 3, 3, generator=g)
    levels = U.unit_thresholds(maps, top=0.2)
    weight = torch.randn(2, K, generator=g)
    masks = [torch.rand(2, 6, 6, generator=g) > 0.5 for _ in range(N)]
    ids = [torch.tensor([i % C, (i + 1) % C]) if i else torch.tensor([0, 0]) for i in range(N)]
    rows, images = U.best_concepts(maps, levels, weight, [0, 1], 2, masks, ids, C, min_images=3, seed=4)
    assert [(r["class"], r["units"]) for r in rows] == [(0, "top")] * 2 + [(1, "top")] * 2 + [(0, "random")] * 2 + [
        (1, "random")
    ] * 2
    assert [r["unit"] for r in rows[:4]] == top_units(weight, [0, 1], 2).flatten().tolist()
    for r in rows:  # the reference: one unit at a time, its best concept among those seen on >= 3 images
        iou, seen = U.concept_iou(maps[:, [r["unit"]]], levels[[r["unit"]]], masks, ids, C)
        iou = torch.where(seen >= 3, iou[0], torch.full((C,), -1.0, dtype=torch.float64))
        assert r["iou"] == pytest.approx(max(iou.max().item(), 0.0)) and r["concept"] == int(iou.argmax())


def test_best_concepts_matches_the_random_units_on_firing_rate():
    g = torch.Generator().manual_seed(13)
    N, K, C = 8, 12, 3
    maps = torch.rand(N, K, 3, 3, generator=g) * torch.linspace(0.2, 2.0, K)[None, :, None, None]
    levels = U.unit_thresholds(maps, top=0.2)
    weight = torch.randn(2, K, generator=g)
    masks = [torch.rand(2, 6, 6, generator=g) > 0.5 for _ in range(N)]
    ids = [torch.tensor([i % C, (i + 1) % C]) for i in range(N)]
    rows, _ = U.best_concepts(maps, levels, weight, [0, 1], 2, masks, ids, C, seed=4, matched=True)
    top = top_units(weight, [0, 1], 2)
    expected = U.random_units(weight, [0, 1], 2, exclude=top, seed=4, rates=U.firing_rates(maps, levels))
    assert [r["unit"] for r in rows if r["units"] == "random"] == expected.flatten().tolist()


def test_detector_share_is_network_dissections_criterion():
    assert U.DETECTOR_IOU == 0.04  # Bau et al. 2017
    assert U.detector_share(torch.tensor([0.0, 0.041, 0.04, 0.5])) == 0.5  # strictly above 0.04
    assert math.isnan(U.detector_share([]))


def test_class_object_iou_averages_each_image_class_units():
    g = torch.Generator().manual_seed(12)
    maps = torch.rand(5, 8, 3, 3, generator=g)
    levels = U.unit_thresholds(maps, top=0.3)
    weight = torch.randn(4, 8, generator=g)
    labels = torch.tensor([0, 3, 3, 1, 2])
    obj = torch.rand(5, 6, 6, generator=g) > 0.4
    got = U.class_object_iou(maps, levels, weight, labels, obj, 2, seed=1)
    top = top_units(weight, labels.tolist(), 2)
    rand = U.random_units(weight, labels.tolist(), 2, exclude=top, seed=1)
    torch.testing.assert_close(got["top"], U.object_iou(maps, levels, top, obj).mean(1))
    torch.testing.assert_close(got["random"], U.object_iou(maps, levels, rand, obj).mean(1))
    assert not (set(top[1].tolist()) & set(rand[1].tolist()))


def test_firing_rates_count_the_images_whose_peak_passes_the_level_as_a_loop_does():
    from camlib.study.units import firing_rates

    g = torch.Generator().manual_seed(0)
    maps = torch.rand(7, 5, 3, 4, generator=g)
    levels = torch.rand(5, generator=g) * 0.5 + 0.5
    loop = [sum(float(maps[n, u].max()) > float(levels[u]) for n in range(7)) / 7 for u in range(5)]
    assert firing_rates(maps, levels).tolist() == pytest.approx(loop)
    with pytest.raises(ValueError, match="`thresholds`"):
        firing_rates(maps, levels[:4])


def test_matched_random_units_are_drawn_near_each_top_units_rate():
    from camlib.study.units import random_units, top_units

    g = torch.Generator().manual_seed(2)
    weight = torch.randn(4, 60, generator=g)
    rates = torch.rand(60, generator=g, dtype=torch.float64)
    top = top_units(weight, [0, 1, 2, 3], 3)
    r = random_units(weight, [0, 1, 2, 3], 3, exclude=top, seed=5, rates=rates, window=4)
    assert torch.equal(r, random_units(weight, [0, 1, 2, 3], 3, exclude=top, seed=5, rates=rates, window=4))
    for i in range(4):
        assert len(set(r[i].tolist())) == 3 and not set(r[i].tolist()) & set(top[i].tolist())
        chosen: list[int] = []
        for j, u in enumerate(top[i].tolist()):  # a loop: the 4 free units nearest in rate
            free = [v for v in range(60) if v not in top[i].tolist() and v not in chosen]
            nearest = sorted(free, key=lambda v: (abs(float(rates[v]) - float(rates[u])), v))[:4]
            assert int(r[i, j]) in nearest
            chosen.append(int(r[i, j]))
    # matched draws follow the top units' rates far more closely than unmatched ones
    loose = random_units(weight, [0, 1, 2, 3], 3, exclude=top, seed=5)
    assert (rates[r] - rates[top]).abs().mean() < (rates[loose] - rates[top]).abs().mean()
    with pytest.raises(ValueError, match="`rates`"):
        random_units(weight, [0], 3, rates=rates)  # no top units to match
    with pytest.raises(ValueError, match="`window`"):
        random_units(weight, [0], 3, exclude=top[:1], rates=rates, window=0)
