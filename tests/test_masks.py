"""camlib.metrics.masks: the IoU of boolean masks, by hand, against per-pixel loops, and its callers."""

from __future__ import annotations

import math

import pytest
import torch

from camlib.metrics.masks import iou_from_counts, mask_intersection_union, mask_iou


def _mask(H, W, rows=slice(None), cols=slice(None)):
    m = torch.zeros(H, W, dtype=torch.bool)
    m[rows, cols] = True
    return m


def _counts_by_pixels(a, b):
    """``|A ∩ B|`` and ``|A ∪ B|`` of two ``(H, W)`` masks, pixel by pixel in Python."""
    inter = union = 0
    for x, y in zip(a.flatten().tolist(), b.flatten().tolist()):
        inter += x and y
        union += x or y
    return inter, union


# --- by hand ------------------------------------------------------------------------------


def test_hand_worked_cases():
    quarter = _mask(4, 4, slice(0, 2), slice(0, 2))  # 4 px
    half = _mask(4, 4, slice(0, 2))  # the top half: 8 px, around the quarter
    bottom = _mask(4, 4, slice(2, 4))
    empty = torch.zeros(4, 4, dtype=torch.bool)
    assert mask_iou(quarter, half).item() == 0.5  # a quarter inside a half: 4 / 8
    assert mask_iou(half, quarter).item() == 0.5  # symmetric
    assert mask_iou(half, bottom).item() == 0.0  # disjoint
    assert mask_iou(half, half).item() == 1.0  # identical
    assert mask_iou(quarter, empty).item() == 0.0  # one empty: 0 / 4
    assert mask_iou(empty, empty).item() == 0.0  # both empty: the default convention
    assert math.isnan(mask_iou(empty, empty, empty=float("nan")).item())
    assert mask_iou(empty, empty, empty=1).item() == 1.0
    assert mask_iou(half, half, empty=float("nan")).item() == 1.0  # `empty` only where the union is 0
    inter, union = mask_intersection_union(quarter, half)
    assert (inter.item(), union.item()) == (4, 8)
    assert inter.dtype == union.dtype == torch.int64
    assert mask_iou(quarter, half).dtype == torch.float64


def test_iou_from_counts_sums_before_dividing():
    # image 0: 4 of 8; image 1: 1 of 3; image 2: both empty. The data-set IoU is 5 / 11, not the mean 5 / 12.
    inter, union = torch.tensor([4, 1, 0]), torch.tensor([8, 3, 0])
    assert iou_from_counts(inter, union).tolist() == [0.5, 1 / 3, 0.0]
    assert iou_from_counts(inter.sum(), union.sum()).item() == 5 / 11
    got = iou_from_counts(inter.double(), union.double(), empty=float("nan"))
    assert got[:2].tolist() == [0.5, 1 / 3] and math.isnan(got[2].item())
    assert iou_from_counts(torch.tensor(3), torch.tensor([4, 6])).tolist() == [0.75, 0.5]  # broadcasting


# --- against per-pixel loops ----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 3, 4), (4, 9, 7)])
def test_counts_and_iou_match_a_pixel_loop(shape):
    g = torch.Generator().manual_seed(sum(shape))
    N, H, W = shape
    a = torch.rand(N, H, W, generator=g) < torch.rand(N, 1, 1, generator=g)
    b = torch.rand(N, H, W, generator=g) < torch.rand(N, 1, 1, generator=g)
    a[0] = False  # an empty mask
    if N > 1:
        b[1] = False
        a[1] = False  # both empty
    inter, union = mask_intersection_union(a, b)
    iou = mask_iou(a, b)
    nan_iou = mask_iou(a, b, empty=float("nan"))
    for i in range(N):
        i_ref, u_ref = _counts_by_pixels(a[i], b[i])
        assert (inter[i].item(), union[i].item()) == (i_ref, u_ref)
        assert iou[i].item() == (i_ref / u_ref if u_ref else 0.0)
        assert math.isnan(nan_iou[i].item()) if u_ref == 0 else nan_iou[i].item() == i_ref / u_ref


def test_pairwise_matches_a_loop_over_the_pairs():
    g = torch.Generator().manual_seed(3)
    a = torch.rand(2, 5, 6, 7, generator=g) < 0.4  # (B, M, H, W)
    b = torch.rand(2, 3, 6, 7, generator=g) < 0.5  # (B, P, H, W)
    a[0, 1] = False
    b[1, 2] = False
    a[1, 4] = False  # with b[1, 2]: both empty
    inter, union = mask_intersection_union(a, b, pairwise=True)
    iou = mask_iou(a, b, pairwise=True, empty=float("nan"))
    assert inter.shape == union.shape == iou.shape == (2, 5, 3) and inter.dtype == torch.int64
    for n in range(2):
        for m in range(5):
            for p in range(3):
                i_ref = (a[n, m] & b[n, p]).sum().item()
                u_ref = (a[n, m] | b[n, p]).sum().item()
                assert (inter[n, m, p].item(), union[n, m, p].item()) == (i_ref, u_ref)
                if u_ref:
                    assert iou[n, m, p].item() == i_ref / u_ref
                else:
                    assert math.isnan(iou[n, m, p].item())
    # the pairwise form equals the broadcast form on (M, 1) x (1, P)
    torch.testing.assert_close(
        iou, mask_iou(a[:, :, None], b[:, None], empty=float("nan")), equal_nan=True, rtol=0, atol=0
    )


def test_broadcasting():
    g = torch.Generator().manual_seed(4)
    a = torch.rand(3, 5, 5, generator=g) < 0.5
    one = torch.rand(5, 5, generator=g) < 0.5
    # one mask against many, either side
    expected = torch.stack([mask_iou(a[i], one) for i in range(3)])
    assert torch.equal(mask_iou(a, one), expected)
    assert torch.equal(mask_iou(one, a), expected)
    assert torch.equal(mask_iou(a[:1], a), torch.stack([mask_iou(a[0], a[i]) for i in range(3)]))
    # (3, 1) x (1, 3): all pairs
    grid = mask_iou(a[:, None], a[None])
    assert grid.shape == (3, 3) and torch.equal(grid.diagonal(), torch.ones(3, dtype=torch.float64))
    assert torch.equal(grid, grid.T)
    # no mask on one side: an empty result
    assert mask_iou(a[:1], a[1:1]).shape == (0,)
    # pairwise, with broadcasting leading dimensions
    b = torch.rand(4, 5, 5, generator=g) < 0.5
    assert torch.equal(mask_iou(a, b, pairwise=True), mask_iou(a[None], b[None], pairwise=True)[0])
    assert mask_iou(a[None].expand(2, 3, 5, 5), b, pairwise=True).shape == (2, 3, 4)


def test_the_callers_are_the_primitive():
    from camlib.metrics.accuracy import region_overlap
    from camlib.study.units import part_iou

    g = torch.Generator().manual_seed(5)
    maps = torch.rand(4, 6, 6, generator=g)
    regions = maps > 0.2 * maps.amax(dim=(-2, -1), keepdim=True)
    assert torch.equal(region_overlap(maps).iou, mask_iou(regions[:1], regions[1:]))
    masks = torch.rand(5, 6, 6, generator=g) < 0.5
    parts = torch.rand(5, 2, 6, 6, generator=g) < 0.3
    parts[:, 1] = False
    inter, union = mask_intersection_union(masks[:, None], parts)
    got = part_iou(masks, parts)
    assert got[0].item() == inter[:, 0].sum().item() / union[:, 0].sum().item() and math.isnan(got[1].item())


# --- bad input ------------------------------------------------------------------------------


def test_bad_input():
    m = torch.zeros(2, 4, 4, dtype=torch.bool)
    with pytest.raises(TypeError, match=r"`a` must be a bool tensor, but got torch.float32"):
        mask_iou(m.float(), m)
    with pytest.raises(TypeError, match=r"`b` must be a torch.Tensor, but got list"):
        mask_iou(m, [[True]])
    with pytest.raises(ValueError, match=r"`a` must have at least 2 dimensions \(\.\.\., H, W\), but got shape \(4,\)"):
        mask_iou(m[0, 0], m)
    with pytest.raises(
        ValueError, match=r"`b` must hold masks of the size of `a`'s \(4 x 4\), but got shape \(2, 4, 3\)"
    ):
        mask_iou(m, m[..., :3])
    with pytest.raises(ValueError, match=r"`a` and `b` must have leading dimensions .* that broadcast, but got shapes \(2, 4, 4\) and \(3, 4, 4\)"):  # fmt: skip
        mask_intersection_union(m, torch.zeros(3, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"`a` must have at least 3 dimensions \(\.\.\., M, H, W\) with `pairwise=True`, but got shape \(4, 4\)"):  # fmt: skip
        mask_iou(m[0], m, pairwise=True)
    with pytest.raises(ValueError, match=r"`a` and `b` must have leading dimensions \(\.\.\.\) of \(\.\.\., M, H, W\)"):
        mask_iou(m[None].expand(2, 2, 4, 4), m[None].expand(3, 2, 4, 4), pairwise=True)
    with pytest.raises(TypeError, match=r"`pairwise` must be a bool, but got 1"):
        mask_iou(m, m, pairwise=1)
    with pytest.raises(TypeError, match=r"`empty` must be a real number \(e.g. 0.0 or nan\), but got None"):
        mask_iou(m, m, empty=None)
    with pytest.raises(TypeError, match=r"`empty` must be a real number"):
        iou_from_counts(torch.tensor([1]), torch.tensor([2]), empty=True)
    with pytest.raises(
        TypeError, match=r"`union` must hold counts \(an integer or floating dtype\), but got torch.bool"
    ):
        iou_from_counts(torch.tensor([1]), torch.tensor([True]))
    with pytest.raises(TypeError, match=r"`intersection` must be a torch.Tensor, but got int"):
        iou_from_counts(1, torch.tensor([2]))
    with pytest.raises(ValueError, match=r"`intersection` and `union` must have shapes that broadcast, but got \(2,\) and \(3,\)"):  # fmt: skip
        iou_from_counts(torch.tensor([1, 2]), torch.tensor([2, 3, 4]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_equals_cpu():
    g = torch.Generator().manual_seed(6)
    a = torch.rand(3, 4, 9, 9, generator=g) < 0.4
    b = torch.rand(3, 2, 9, 9, generator=g) < 0.4
    for pairwise in (False, True):
        x, y = (a, b) if pairwise else (a, b[:, :1])
        cpu = mask_intersection_union(x, y, pairwise=pairwise)
        gpu = mask_intersection_union(x.cuda(), y.cuda(), pairwise=pairwise)
        assert all(torch.equal(c, d.cpu()) for c, d in zip(cpu, gpu))
        assert torch.equal(mask_iou(x, y, pairwise=pairwise), mask_iou(x.cuda(), y.cuda(), pairwise=pairwise).cpu())
    with pytest.raises(ValueError, match=r"`b` must be on the device of `a` \(cpu\), but got cuda:0"):
        mask_iou(a, a.cuda())
