"""camlib.study.text: text maps scored against word masks by plain loops, the edge-density baseline against a hand-written
Sobel filter, and the other baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from camlib.boxes.from_maps import boxes_from_maps
from camlib.metrics.accuracy import pxap
from camlib.study.text import (
    centre_prior,
    edge_density,
    random_maps,
    score_text_maps,
    text_split,
)


def _iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(w, 0) * max(h, 0)
    area_a, area_b = ((r[2] - r[0] + 1) * (r[3] - r[1] + 1) for r in (a, b))
    return inter / (area_a + area_b - inter)


def _box(mask):
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max(), ys.max()]


def _random_case(seed, n=6, size=(12, 16)):
    g = torch.Generator().manual_seed(seed)
    maps = torch.rand(n, *size, generator=g) ** 3
    words, legible = [], []
    for _ in range(n):
        m = int(torch.randint(1, 4, (), generator=g))
        w = torch.zeros(m, *size, dtype=torch.bool)
        for j in range(m):
            y, x = (
                int(torch.randint(0, size[0] - 3, (), generator=g)),
                int(torch.randint(0, size[1] - 5, (), generator=g)),
            )
            w[j, y : y + 2, x : x + 4] = True
        words.append(w)
        legible.append(torch.rand(m, generator=g) < 0.6)
    return maps, words, legible


@pytest.mark.parametrize("seed", range(5))
def test_scores_agree_with_pixel_loops(seed):
    maps, words, legible = _random_case(seed)
    s = score_text_maps(maps, words, legible, threshold=0.3)
    boxes = boxes_from_maps(maps, 0.3)
    for i in range(len(maps)):
        m, w, keep = maps[i].numpy(), words[i].numpy(), legible[i].numpy()
        text = w.any(0)
        y, x = np.unravel_index(np.argmax(m), m.shape)
        assert s.pointing[i] == float(text[y, x])
        region = m > 0.3 * m.max()
        touched = [bool((w[j] & region).any()) for j in range(len(w)) if keep[j]]
        if touched:
            assert s.touched[i].item() == pytest.approx(sum(touched) / len(touched))
        else:
            assert torch.isnan(s.touched[i])
        assert s.precision[i].item() == pytest.approx((region & text).sum() / region.sum())
        assert s.region[i].item() == pytest.approx(region.mean())
        targets = [_box(w[j]) for j in range(len(w))] + [_box(text)]
        assert s.box_iou[i].item() == pytest.approx(max(_iou(boxes[i].tolist(), t) for t in targets))
        assert s.pxap[i].item() == pytest.approx(pxap(maps[i : i + 1], words[i].any(0)[None]).value)


def test_a_map_on_the_words_beats_one_off_them():
    _, words, legible = _random_case(7)
    on = torch.stack([w.any(0).float() + 0.01 for w in words])
    off = torch.stack([(~w.any(0)).float() for w in words])
    good, bad = score_text_maps(on, words, legible), score_text_maps(off, words, legible)
    assert good.pointing.eq(1).all() and bad.pointing.eq(0).all()
    assert good.precision.eq(1).all() and bad.precision.eq(0).all()
    assert good.pxap.eq(1).all() and (bad.pxap < good.pxap).all()


def test_score_errors():
    maps, words, legible = _random_case(0, n=2)
    with pytest.raises(ValueError, match=r"one entry per map \(2\), but got 1 and 2"):
        score_text_maps(maps, words[:1], legible)
    with pytest.raises(ValueError, match=r"`words\[1\]` must be a BoolTensor\[m >= 1, 12, 16\]"):
        score_text_maps(maps, [words[0], torch.zeros(0, 12, 16, dtype=torch.bool)], legible)
    with pytest.raises(ValueError, match=r"`legible\[0\]` must hold one flag per word"):
        score_text_maps(maps, words, [torch.ones(9, dtype=torch.bool), legible[1]])


def _sobel_by_hand(image):
    H, W = image.shape
    p = np.pad(image, 1, mode="edge")
    gx, gy = np.zeros_like(image), np.zeros_like(image)
    for y in range(H):
        for x in range(W):
            win = p[y : y + 3, x : x + 3]
            gx[y, x] = (win[:, 2] - win[:, 0]) @ np.array([1, 2, 1])
            gy[y, x] = (win[2, :] - win[0, :]) @ np.array([1, 2, 1])
    return np.hypot(gx, gy)


@pytest.mark.parametrize("window", [1, 3])
def test_edge_density_is_the_mean_sobel_magnitude(window):
    x = torch.rand(2, 3, 7, 9, generator=torch.Generator().manual_seed(window))
    e = edge_density(x, window=window).double()
    r = window // 2
    for i in range(2):
        mag = np.pad(_sobel_by_hand(x[i].double().mean(0).numpy()), r, mode="edge")
        expected = np.array([[mag[y : y + window, c : c + window].mean() for c in range(9)] for y in range(7)])
        np.testing.assert_allclose(e[i].numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"`window` must be an int >= 1"):
        edge_density(x, window=0)


def test_centre_prior_random_maps_and_split():
    c = centre_prior(2, (5, 7))
    assert c.shape == (2, 5, 7) and c[0, 2, 3] == c.max() and c[0, 0, 0] == pytest.approx(0.0, abs=1e-6)
    assert torch.equal(c[0, :, 0], c[0, :, 6])  # symmetric
    assert torch.equal(random_maps(3, (4, 4), seed=1), random_maps(3, (4, 4), seed=1))
    a, b = text_split(9, train=0.5, seed=3)
    assert len(a) == 4 and len(b) == 5 and not set(a.tolist()) & set(b.tolist())  # round(4.5) = 4
    assert torch.equal(a, text_split(9, train=0.5, seed=3)[0]) and not torch.equal(a, text_split(9, seed=4)[0])
    with pytest.raises(ValueError, match=r"`train` must be a fraction in \(0, 1\)"):
        text_split(9, train=1.0)


def test_per_image_pxap_is_pxap_image_by_image():
    from camlib.study.text import per_image_pxap

    g = torch.Generator().manual_seed(3)
    maps = (torch.rand(5, 9, 11, generator=g) * 4).round() / 4  # ties at every level
    masks = torch.rand(5, 9, 11, generator=g) < 0.3
    masks[4] = False
    got = per_image_pxap(maps, masks, thresholds=[0.0, 0.3, 0.6])
    for i in range(4):
        assert got[i].item() == pytest.approx(pxap(maps[i : i + 1], masks[i : i + 1], thresholds=[0.0, 0.3, 0.6]).value)
    assert torch.isnan(got[4])
    with pytest.raises(ValueError, match=r"`masks` must be a BoolTensor of the maps' shape \(5, 9, 11\)"):
        per_image_pxap(maps, masks[:2])


def test_text_free_keeps_images_whose_captions_and_objects_name_no_text():
    from camlib.study.text import TEXT_CATEGORIES, TEXT_WORDS, text_free

    assert text_free(["A horse grazes in a green field.", "Horse on grass"], ["horse"])
    assert not text_free(["A horse grazes next to a SIGN."], ["horse"])  # any caption, any case
    assert not text_free(["A street at night,with signage."], ["car"])  # words split at punctuation
    assert text_free(["A signpost-free road"], ["car"])  # "signpost" and "free" are not the word "sign"
    assert not text_free(["A quiet kitchen."], ["oven", "clock"])  # an object that bears text
    assert not text_free([], ["horse"])  # no captions: not known to be free of text
    assert all(w == w.lower() and w.isalpha() for w in TEXT_WORDS) and "stop sign" in TEXT_CATEGORIES
