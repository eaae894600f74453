"""camlib.study.pointing: the pointing game, its baselines, region shares and the permutation test, against loops."""

from __future__ import annotations

import math

import pytest
import torch

from camlib.study import pointing as P


def _loop_pointing(maps, boxes, tolerance):
    """The obvious reference: the first maximum in row-major order, then every box pixel within the tolerance."""
    hits = []
    for m, b in zip(maps, boxes):
        H, W = m.shape
        best, where = -math.inf, None
        for y in range(H):
            for x in range(W):
                if m[y, x] > best:
                    best, where = m[y, x].item(), (y, x)
        y0, x0 = where
        hit = False
        for x1, y1, x2, y2 in b.tolist():
            for y in range(y1, y2 + 1):
                for x in range(x1, x2 + 1):
                    hit |= (y - y0) ** 2 + (x - x0) ** 2 <= tolerance**2
        hits.append(hit)
    return hits


@pytest.mark.parametrize("tolerance", [0, 2])
def test_pointing_agrees_with_a_loop_on_random_maps_and_boxes(tolerance):
    g = torch.Generator().manual_seed(0)
    maps = torch.randint(0, 4, (30, 9, 11), generator=g).float()  # many ties: the row-major rule matters
    boxes = []
    for _ in range(30):
        n = int(torch.randint(0, 3, (1,), generator=g))
        xy = torch.randint(0, 9, (n, 2), generator=g)
        wh = torch.randint(0, 3, (n, 2), generator=g)
        boxes.append(torch.cat([xy, (xy + wh).clamp(max=8)], 1)[:, [0, 1, 2, 3]])
    hits = P.pointing_hits(maps, boxes, tolerance=tolerance)
    assert hits.tolist() == _loop_pointing(maps, boxes, tolerance)
    masks = P.box_masks(boxes, (9, 11))
    assert torch.equal(P.pointing_hits(maps, masks, tolerance=tolerance), hits)  # boxes or their masks: the same


def test_baselines_by_hand():
    boxes = [torch.tensor([[3, 2, 5, 4]]), torch.tensor([[0, 0, 1, 1]]), torch.zeros(0, 4, dtype=torch.long)]
    # a 6 x 8 frame: the centre pixel is (3, 4); the first box covers x 3..5, y 2..4 (9 of 48 pixels)
    assert P.centre_point_hits(boxes, (6, 8)).tolist() == [True, False, False]
    assert P.random_point_hits(boxes, (6, 8)).tolist() == pytest.approx([9 / 48, 4 / 48, 0.0])
    assert P.centre_point_hits(boxes, (6, 8), tolerance=3)[1].item() is False  # (1, 1) is 3.6 px from (3, 4)


def test_region_share_and_its_chance_level():
    maps = torch.zeros(2, 4, 4)
    maps[0, 0, :] = 1.0  # region: the top row
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, :, 0] = True  # the left column: 1 of the region's 4 pixels
    share, chance = P.region_share(maps, masks)
    assert share[0].item() == 0.25 and math.isnan(share[1].item())  # map 1 has no region (max 0)
    assert chance.tolist() == [0.25, 0.0]
    with pytest.raises(ValueError, match=r"`masks` must be a BoolTensor of the maps' shape \(2, 4, 4\)"):
        P.region_share(maps, masks.float())


def test_permutation_test_against_an_exhaustive_count():
    # 4 images: every permutation of 4 can be listed; with many random ones the p-value nears the exact share
    import itertools

    g = torch.Generator().manual_seed(1)
    regions = torch.rand(4, 5, 5, generator=g) > 0.5
    masks = torch.rand(4, 5, 5, generator=g) > 0.6
    masks[0] |= regions[0]  # image 0's region lies on its own objects
    r, m = regions.flatten(1).float(), masks.flatten(1).float()
    stat = lambda perm: ((r * m[list(perm)]).sum(1) / r.sum(1)).mean().item()  # noqa: E731
    observed = stat(range(4))
    exact = sum(stat(p) >= observed - 1e-12 for p in itertools.permutations(range(4))) / 24
    t = P.permutation_test(regions, masks, permutations=4000, seed=0)
    assert t.observed == pytest.approx(observed) and t.null.shape == (4000,)
    assert t.p_value == pytest.approx(exact, abs=0.03)
    with pytest.raises(ValueError, match=r"must have one shape with N >= 2"):
        P.permutation_test(regions[:1], masks[:1])
    with pytest.raises(TypeError, match=r"`regions` must be a BoolTensor"):
        P.permutation_test(regions.float(), masks)


def test_bad_targets():
    maps = torch.zeros(1, 4, 4)
    with pytest.raises(ValueError, match=r"`targets` must be in the maps' frame \(4, 4\), but got \(3, 3\)"):
        P.pointing_hits(maps, torch.zeros(1, 3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"`tolerance` must be an int >= 0 \(pixels\), but got -1"):
        P.pointing_hits(maps, torch.zeros(1, 4, 4, dtype=torch.bool), tolerance=-1)


def test_centred_regions_keep_the_size_and_sit_at_the_centre():
    g = torch.Generator().manual_seed(0)
    regions = torch.rand(20, 9, 13, generator=g) > torch.rand(20, 1, 1, generator=g)
    regions[0] = False
    regions[1] = True
    boxes = P.centred_regions(regions)
    sizes, got = regions.flatten(1).sum(1), boxes.flatten(1).sum(1)
    assert got[0] == 0 and got[1] == 9 * 13
    assert ((got - sizes).abs() <= 0.25 * sizes + 9)[2:].all()  # rounding the sides: close to the region's size
    for b in boxes[2:]:
        ys, xs = b.nonzero(as_tuple=True)
        assert abs((ys.min() + ys.max()) / 2 - 4) <= 0.5 and abs((xs.min() + xs.max()) / 2 - 6) <= 0.5  # centred


def test_best_class_pointing_picks_the_top_candidate_and_points_with_its_map():
    import camlib

    net = camlib.build_model("vgg-small", num_classes=5, head="gap", input_size=32, resolution=8, channels=4).eval()
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    candidates = [[0, 1], [2], [4, 3, 1]]
    boxes = [torch.tensor([[0, 0, 15, 15]]), torch.tensor([[16, 16, 31, 31]]), torch.tensor([[0, 0, 31, 31]])]
    hits, classes, maps = P.best_class_pointing(net, x, candidates, boxes, batch_size=2)
    with torch.no_grad():
        logits = net(x)
    expected = [max(c, key=lambda k: logits[j, k].item()) for j, c in enumerate(candidates)]
    assert classes.tolist() == expected
    reference = camlib.compute_cams(net, x, torch.tensor(expected).view(-1, 1), size=(32, 32)).maps[:, 0]
    assert torch.allclose(maps, reference, atol=1e-6)
    assert torch.equal(hits, P.pointing_hits(reference, boxes)) and hits[2].item() is True  # the whole image: a hit
    with pytest.raises(ValueError, match=r"must have one non-empty entry per image \(3\)"):
        P.best_class_pointing(net, x, [[0], [], [1]], boxes)


def test_best_class_pointing_runs_each_batch_once_and_restores_the_mode():
    import camlib

    net = camlib.build_model("vgg-small", num_classes=5, head="gap", input_size=32, resolution=8, channels=4).train()
    calls = []
    net.register_forward_pre_hook(lambda module, inputs: calls.append(len(inputs[0])))
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    boxes = [torch.tensor([[0, 0, 15, 15]])] * 3
    P.best_class_pointing(net, x, [[0, 1], [2], [4]], boxes, batch_size=2)
    assert calls == [2, 1]  # one forward pass per batch, not two
    assert net.training  # left as it was
