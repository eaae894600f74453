"""camlib.study.discovery: object shares, lift, Fig. 9 rankings and precision at k, against loops on random scenes."""

from __future__ import annotations

import math

import pytest
import torch

from camlib.study import discovery as D


def _random_scenes(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    regions = torch.rand(n, 6, 7, generator=g) > 0.6
    regions[3] = False  # one empty region
    cats = [torch.randint(0, 4, (int(torch.randint(1, 4, (1,), generator=g)),), generator=g).tolist() for _ in range(n)]
    masks = [torch.rand(len(c), 6, 7, generator=g) > 0.7 for c in cats]
    return regions, masks, cats


def test_object_shares_agree_with_a_pixel_loop():
    regions, masks, cats = _random_scenes()
    rows = D.object_shares(regions, masks, cats, scenes=[i % 2 for i in range(12)])
    assert [(r["image"], r["category"]) for r in rows] == [(i, c) for i in range(12) for c in sorted(set(cats[i]))]
    for r in rows:
        i, c = r["image"], r["category"]
        inside = on = total = 0
        for y in range(6):
            for x in range(7):
                obj = any(masks[i][j, y, x] for j, k in enumerate(cats[i]) if k == c)
                total += obj
                if regions[i, y, x]:
                    inside += 1
                    on += obj
        assert r["chance"] == total / 42 and r["touches"] == (on > 0) and r["scene"] == i % 2
        assert math.isnan(r["share"]) if inside == 0 else r["share"] == on / inside


def test_lift_and_rankings_by_hand():
    regions, masks, cats = _random_scenes()
    rows = D.object_shares(regions, masks, cats, scenes=[i % 2 for i in range(12)])
    lift = D.category_lift(rows, min_images=2)
    for entry in lift:
        group = [r for r in rows if r["category"] == entry["category"] and not math.isnan(r["share"])]
        assert entry["images"] == len(group) >= 2
        assert entry["share"] == pytest.approx(sum(r["share"] for r in group) / len(group))
        assert entry["lift"] == pytest.approx(entry["share"] / (sum(r["chance"] for r in group) / len(group)))
    assert [e["lift"] for e in lift] == sorted((e["lift"] for e in lift), reverse=True)
    top = D.top_objects(rows, k=2)
    for s, ranked in top.items():
        counts = {}
        for r in rows:
            if r["scene"] == s:
                t, p = counts.get(r["category"], (0, 0))
                counts[r["category"]] = (t + r["touches"], p + 1)
        assert ranked[0][1] == max(t for t, _ in counts.values()) and all(counts[c] == (t, p) for c, t, p in ranked)
    assert D.top_objects(rows, min_images=7) == {}  # 6 images per scene


def test_bad_input():
    regions, masks, cats = _random_scenes()
    with pytest.raises(ValueError, match=r"must have one entry per region \(12\), but got 11, 12"):
        D.object_shares(regions, masks[:11], cats)
    with pytest.raises(ValueError, match=r"`masks\[0\]` must be a BoolTensor\["):
        D.object_shares(regions, [masks[0].float()] + masks[1:], cats)
    with pytest.raises(ValueError, match="`k` must be >= 1, but got 0"):
        D.precision_at_k({0: [1]}, {0: {1}}, 0)


def test_subset_share_agrees_with_a_pixel_loop():
    regions, masks, cats = _random_scenes()
    chosen = [torch.tensor([c % 2 == 0 for c in cs]) for cs in cats]
    out = D.subset_share(regions, masks, chosen)
    for i in range(12):
        on_obj = on_pick = n_obj = n_pick = 0
        for y in range(6):
            for x in range(7):
                obj = bool(masks[i][:, y, x].any())
                pick = bool(masks[i][chosen[i], y, x].any()) if chosen[i].any() else False
                n_obj += obj
                n_pick += pick
                if regions[i, y, x]:
                    on_obj += obj
                    on_pick += pick
        assert out.keep[i].item() == (on_obj > 0)
        if on_obj:
            assert out.share[i].item() == pytest.approx(on_pick / on_obj)
        assert out.chance[i].item() == pytest.approx(n_pick / n_obj if n_obj else 0.0)
