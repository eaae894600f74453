"""camlib.units: unit ranking, segmentation thresholds and part hits against plain loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camlib.units import part_hits, top_units, unit_masks, unit_thresholds


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
            assert r.hit[p].item() == pytest.approx(np.mean(hits)) and r.chance[p].item() == pytest.approx(np.mean(shares))
        else:
            assert torch.isnan(r.hit[p]) and torch.isnan(r.chance[p])
    with pytest.raises(ValueError, match=r"the same N"):
        part_hits(masks, parts[:3])


def test_random_units_avoid_the_chosen_ones_and_are_seeded():
    from camlib.units import random_units

    weight = torch.zeros(3, 10)
    exclude = torch.tensor([[0, 1], [2, 3], [4, 5]])
    r = random_units(weight, [0, 1, 2], 4, exclude=exclude, seed=1)
    assert r.shape == (3, 4) and all(not set(row) & set(ex) for row, ex in zip(r.tolist(), exclude.tolist()))
    assert torch.equal(r, random_units(weight, [0, 1, 2], 4, exclude=exclude, seed=1))
    with pytest.raises(ValueError, match=r"need 9 units outside `exclude`, but only 8 remain"):
        random_units(weight, [0], 9, exclude=exclude[:1])


def test_detector_rows_by_hand():
    from camlib.units import detector_rows

    # two classes of 6 images each, 8 x 8 frame, two units: unit 0 fires on the top-left quarter, unit 1 nowhere
    maps = torch.zeros(12, 2, 8, 8)
    maps[:, 0, :4, :4] = 1.0
    labels = torch.tensor([0] * 6 + [1] * 6)
    parts = torch.zeros(12, 2, 3)
    parts[:, 0] = torch.tensor([1.0, 1.0, 1.0])  # "beak" inside the quarter on every image
    parts[:, 1] = torch.tensor([6.0, 6.0, 1.0])  # "tail" outside
    parts[6:, 0, 2] = 0.0  # class 1: the beak is never visible
    rows = detector_rows(maps, torch.tensor([0.5, 0.5]), labels, parts, torch.tensor([[0, 1], [0, 1]]), [0, 1],
                         size=(8, 8), part_names=["beak", "tail"], min_images=5)
    by = {(r["class"], r["unit"]): r for r in rows}
    assert by[0, 0]["part"] == "beak" and by[0, 0]["hit"] == 1.0 and by[0, 0]["detector"]
    assert by[0, 0]["chance"] == pytest.approx(0.25) and by[0, 0]["images"] == 6 and by[0, 0]["fires"] == 1.0
    assert by[1, 0]["part"] == "tail" and by[1, 0]["hit"] == 0.0 and not by[1, 0]["detector"]
    assert by[0, 1]["part"] is None and by[0, 1]["fires"] == 0.0 and not by[0, 1]["detector"]
