"""Tests of camlib.study.finegrained: localization against the baselines, box summaries, groups, the crop study."""

from __future__ import annotations

import pytest
import torch
from conftest import build_seeded

from camlib.boxes.baselines import centre_box_accuracy, random_box_accuracy
from camlib.data import Batch
from camlib.data.synthetic import FineGrained
from camlib.models.registry import build_model
from camlib.study.crops import crop_resize
from camlib.study.finegrained import (
    CENTRE,
    INPUTS,
    RANDOM_SIZED,
    RANDOM_UNIFORM,
    accuracy_by_group,
    as_batch,
    box_summary,
    crop_study,
    hits_with_baselines,
)
from camlib.study.svm import fit_and_score

pytestmark = pytest.mark.usefixtures("one_thread")


def L(*rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 4)


# --- hits_with_baselines ------------------------------------------------------------------


def test_localization_hits_hand_worked():
    gt = [L([16, 16, 47, 47]), L([0, 0, 31, 31]), L([0, 0, 15, 15], [40, 40, 63, 63])]
    boxes = {"CAM": L([16, 16, 47, 47], [0, 0, 15, 31], [40, 40, 63, 63])}
    # image 0: the box itself (IoU 1); image 1: half the box (512 / 1024 = 0.5: a hit at >= 0.5);
    # image 2: the second of its two boxes (IoU 1)
    hits = hits_with_baselines(
        boxes, gt, 64, train_boxes=L([0, 0, 31, 31]), draws=3, generator=torch.Generator().manual_seed(0)
    )
    assert list(hits) == ["CAM", RANDOM_UNIFORM, RANDOM_SIZED, CENTRE]
    assert hits["CAM"].tolist() == [1.0, 1.0, 1.0] and hits["CAM"].dtype == torch.float64
    # mean box size: heights 32, 32, 16, 24 -> 26, widths likewise: the centre box is (19, 19, 44, 44);
    # IoU with image 0's box 676 / 1024 = 0.66: a hit; with the others below 0.5
    assert hits[CENTRE].tolist() == [1.0, 0.0, 0.0]
    assert all(((h * 3).round() == h * 3).all() for h in (hits[RANDOM_UNIFORM], hits[RANDOM_SIZED]))


def test_localization_hits_keep_the_numbers_of_the_baselines(gen):
    xs = torch.randint(64, (40, 2), generator=gen).sort(dim=1).values
    ys = torch.randint(64, (40, 2), generator=gen).sort(dim=1).values
    gt = torch.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], dim=1)  # (40, 4)
    train = gt.flip(0)[:25]
    sizes = torch.stack([train[:, 3] - train[:, 1] + 1, train[:, 2] - train[:, 0] + 1], dim=1)
    hits = hits_with_baselines(
        {"cam": gt.flip(0)},
        list(gt[:, None]),
        64,
        train_boxes=train,
        draws=7,
        generator=torch.Generator().manual_seed(5),
    )
    # the same draws, in the same order, as the chapter's helpers made them
    g = torch.Generator().manual_seed(5)
    assert hits[RANDOM_UNIFORM].mean().item() == pytest.approx(
        random_box_accuracy(gt, 64, draws=7, generator=g), abs=1e-12
    )
    assert hits[RANDOM_SIZED].mean().item() == pytest.approx(
        random_box_accuracy(gt, 64, draws=7, generator=g, sizes=sizes), abs=1e-12
    )
    assert hits[CENTRE].mean().item() == centre_box_accuracy(gt, 64)


def test_localization_hits_refuse_bad_input():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"`boxes\['CAM'\]` must hold one box per image \(2\), but got 1"):
        hits_with_baselines(
            {"CAM": L([0, 0, 1, 1])}, [L([0, 0, 1, 1])] * 2, 8, train_boxes=L([0, 0, 1, 1]), draws=1, generator=g
        )
    with pytest.raises(TypeError, match=r"`boxes` must be a non-empty dict"):
        hits_with_baselines({}, [L([0, 0, 1, 1])], 8, train_boxes=L([0, 0, 1, 1]), draws=1, generator=g)
    with pytest.raises(ValueError, match=r"`draws` must be an int >= 1, but got 0"):
        hits_with_baselines(
            {"CAM": L([0, 0, 1, 1])}, [L([0, 0, 1, 1])], 8, train_boxes=L([0, 0, 1, 1]), draws=0, generator=g
        )


# --- box_summary, accuracy_by_group, as_batch -------------------------------------------------


def test_box_summary_hand_worked():
    boxes = L([0, 0, 9, 9], [0, 0, 4, 4])
    gt = L([0, 0, 4, 9], [0, 0, 9, 9])
    s = box_summary(boxes, gt, 20)
    # image 0: the box (100 px) holds the object (50 px): IoU 0.5, coverage 1;
    # image 1: a quarter of the object (25 / 100): IoU 0.25, coverage 0.25
    assert s["mean IoU"] == pytest.approx(0.375) and s["mean coverage"] == pytest.approx(0.625)
    assert s["keeps object"] == 0.5
    assert s["box area"] == pytest.approx(62.5 / 400) and s["object area"] == pytest.approx(75 / 400)
    assert s["area ratio"] == pytest.approx(62.5 / 75)
    with pytest.raises(ValueError, match=r"`boxes` and `gt_boxes` must hold one box per image each .* got 2 and 1"):
        box_summary(boxes, gt[:1], 20)


def test_accuracy_by_group_hand_worked():
    correct = {"whole image": torch.tensor([1.0, 0.0, 0.0, 1.0]), "CAM crop": torch.tensor([1.0, 1.0, 0.0, 0.0])}
    first = torch.tensor([True, True, False, False])
    rows = accuracy_by_group(correct, {"first": first, "last": ~first, "none": torch.zeros(4, dtype=torch.bool)})
    assert [r["test images"] for r in rows] == ["first", "last"]  # an empty group has no row
    # first half: whole 1/2, crop 2/2 -> +50 points; last half: whole 1/2, crop 0/2 -> -50
    assert rows[0] == {
        "test images": "first",
        "share (%)": 50.0,
        "whole image accuracy (%)": 50.0,
        "CAM crop accuracy (%)": 100.0,
        "CAM crop - whole image (points)": 50.0,
    }
    assert rows[1]["CAM crop - whole image (points)"] == -50.0
    with pytest.raises(ValueError, match=r"`groups\['x'\]` must be a BoolTensor\[4\], but got torch.int64"):
        accuracy_by_group(correct, {"x": torch.ones(4, dtype=torch.long)})
    with pytest.raises(ValueError, match=r"`compared` must name two inputs of `correct`"):
        accuracy_by_group(correct, {"first": first}, compared=("GT crop", "whole image"))


def test_as_batch():
    data = FineGrained(3, seed=1, num_classes=4)
    b = as_batch(data)
    assert (
        isinstance(b, Batch)
        and torch.equal(b.images[2], data[2].image)
        and b.labels.tolist() == [data[i].label for i in range(3)]
    )
    with pytest.raises(ValueError, match="`dataset` must hold at least one item, but holds none"):
        as_batch([])
    with pytest.raises(TypeError, match="`dataset` must be a map-style data set"):
        as_batch(3)


# --- crop_study ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def study_inputs():
    net = build_seeded(build_model, 0, name="alexnet-small", num_classes=3, resolution=8, channels=4).eval()
    train = as_batch(FineGrained(24, seed=1, num_classes=3, scale=(0.3, 0.5)))
    test = as_batch(FineGrained(12, seed=2, num_classes=3, scale=(0.3, 0.5)))
    return net, train, test


def test_crop_study_values(study_inputs):
    net, train, test = study_inputs
    args = dict(Cs=(1.0,), folds=2, seed=0, resamples=200, draws=4)
    r = crop_study(net, train, test, generator=torch.Generator().manual_seed(3), **args)
    assert list(r.accuracy) == list(INPUTS) and list(r.bootstrap) == ["CAM crop", "GT crop"]
    for name in INPUTS:  # 12 test images: multiples of 1/12, the mean of the per-image correctness
        assert r.accuracy[name] == r.correct[name].mean().item()
        assert round(12 * r.accuracy[name], 9) == round(12 * r.accuracy[name])
        if name != "whole image":
            assert r.bootstrap[name].difference == pytest.approx(r.accuracy[name] - r.accuracy["whole image"])
    # the ground-truth crop by hand: crop, resize, pool, SVM
    gt = {s: torch.cat(b.boxes) for s, b in (("train", train), ("test", test))}
    feats = {}
    for s, b in (("train", train), ("test", test)):
        from camlib.study.features import extract_features

        feats[s] = extract_features(net, [Batch(crop_resize(b.images, gt[s], 64), b.labels)])
    by_hand = fit_and_score(feats["train"], feats["test"], Cs=(1.0,), folds=2, seed=0)
    assert torch.equal(r.correct["GT crop"], by_hand.correct)
    # the random boxes were drawn from the generator passed in, after nothing else
    assert r.localization[RANDOM_UNIFORM] == pytest.approx(
        random_box_accuracy(gt["test"], 64, draws=4, generator=torch.Generator().manual_seed(3)), abs=1e-12
    )
    assert r.localization[CENTRE] == centre_box_accuracy(gt["test"], 64)
    assert 0 <= r.boxes["mean IoU"] <= 1 and 0 <= r.boxes["keeps object"] <= 1
    ex = r.examples
    assert ex["images"].shape == (2, 3, 64, 64) and [g.shape for g in ex["gt"]] == [(1, 4), (1, 4)]
    assert list(ex["columns"]) == ["SVM's class", "true class"]
    assert all(m.shape == (2, 64, 64) and b.shape == (2, 4) for m, b in ex["columns"].values())


def test_crop_study_refuses_bad_batches(study_inputs):
    net, train, test = study_inputs
    g = torch.Generator().manual_seed(0)
    two = Batch(test.images, test.labels, boxes=[torch.cat([b, b]) for b in test.boxes])
    with pytest.raises(ValueError, match=r"`test.boxes` must hold one box per image, but image 0 has 2"):
        crop_study(net, train, two, generator=g)
    with pytest.raises(TypeError, match=r"`train` must be a camlib.data.Batch of image tensors, but got tuple"):
        crop_study(net, (train.images, train.labels), test, generator=g)
    with pytest.raises(TypeError, match=r"`train.boxes` must be a list of N tensors \(1, 4\), one box per image"):
        crop_study(net, Batch(train.images, train.labels), test, generator=g)


# --- the fitted centre box and the strongest baseline ----------------------------------------


def test_fitted_centre_hits_fit_on_the_training_boxes_only():
    from camlib.study.finegrained import fitted_centre_hits

    # training boxes: three centred 32 x 32 boxes -> the fitted box is (16, 16, 47, 47)
    train = L([16, 16, 47, 47], [16, 16, 47, 47], [16, 16, 47, 47])
    # test: the box itself (IoU 1), a corner box (IoU 0), a centred 40 x 40 box (IoU 1024 / 1600 = 0.64)
    gt = [L([16, 16, 47, 47]), L([0, 0, 31, 31]), L([12, 12, 51, 51])]
    assert fitted_centre_hits(gt, 64, train_boxes=train).tolist() == [1.0, 0.0, 1.0]
    # the test boxes' mean size would differ: the fitted box does not look at them
    assert fitted_centre_hits(gt, 64, train_boxes=L([0, 0, 63, 63])).tolist() == [0.0, 0.0, 0.0]  # 64 x 64: IoU <= 0.39


def test_versus_strongest_picks_the_best_baseline_and_pairs_the_images():
    from camlib.study.finegrained import versus_strongest

    hits = {
        "CAM": torch.tensor([1.0, 1.0, 0.0, 1.0]),
        "weak": torch.tensor([0.25, 0.0, 0.0, 0.5]),
        "strong": torch.tensor([0.0, 1.0, 1.0, 0.0]),
    }
    name, b = versus_strongest(hits, "CAM", baselines=("weak", "strong"), resamples=500, seed=1)
    # strong hits 2 of 4 (0.5) against weak's 0.1875; CAM 0.75 - 0.5 = 0.25
    assert name == "strong" and b.difference == pytest.approx(0.25)
    assert b.low <= b.difference <= b.high
    # equal means: the first named wins
    assert (
        versus_strongest(
            {"CAM": hits["CAM"], "a": hits["strong"], "b": hits["strong"]}, "CAM", baselines=("a", "b"), resamples=100
        )[0]
        == "a"
    )
    with pytest.raises(ValueError, match="`box` must name an entry"):
        versus_strongest(hits, "nope", baselines=("weak",))
    with pytest.raises(ValueError, match="`baselines` must name at least one entry"):
        versus_strongest(hits, "CAM", baselines=("weak", "absent"))
    with pytest.raises(ValueError, match="`baselines` must name at least one entry"):
        versus_strongest(hits, "CAM", baselines=())


def test_crop_study_keeps_the_per_image_hits(study_inputs):
    from camlib.boxes.baselines import best_centre_box_size, centre_box_hits
    from camlib.study.finegrained import CENTRE_FITTED

    net, train, test = study_inputs
    r = crop_study(
        net, train, test, generator=torch.Generator().manual_seed(3), Cs=(1.0,), folds=2, resamples=100, draws=4
    )
    assert set(r.hits) == set(r.localization) and CENTRE_FITTED in r.hits
    assert all(r.localization[k] == h.mean().item() and len(h) == 12 for k, h in r.hits.items())
    size = best_centre_box_size(torch.cat(train.boxes), 64)  # fitted on the training boxes, scored on the test ones
    assert r.hits[CENTRE_FITTED].tolist() == centre_box_hits(torch.cat(test.boxes), 64, box_size=size).double().tolist()
