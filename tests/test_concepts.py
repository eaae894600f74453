"""camlib.study.concepts: weak labels from captions, by hand, and the synonym table against COCO's categories."""

from __future__ import annotations

import pytest
import torch
from conftest import requires_data

from camlib.study.concepts import (
    COCO_SYNONYMS,
    caption_labels,
    concept_pointing,
    cross_validated_detector,
    mine_hard_negatives,
    noisy_tags,
)
from camlib.study.svm import fit_linear_svm


def test_whole_words_plurals_and_phrases():
    captions = [
        ["A category of things."],  # 'cat' inside a word: no
        ["Three buses and two benches."],  # plurals with -es
        ["The knives are on the table"],  # a listed irregular plural
        ["A TRAFFIC   Light at night."],  # a phrase, any case and spacing
        ["", "People watch a kitten."],
    ]  # any of the captions
    labels = caption_labels(captions, ["cat", "bus", "bench", "knife", "traffic light", "person", "dining table"])
    assert labels.int().tolist() == [
        [0, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 0, 1],
        [0, 0, 0, 0, 1, 0, 0],
        [1, 0, 0, 0, 0, 1, 0],
    ]
    with pytest.raises(ValueError, match=r"`concepts` must be keys of `synonyms`, but got \['unicorn'\]"):
        caption_labels(captions, ["unicorn"])
    assert caption_labels([["a unicorn"]], ["horse"], {"horse": ("horse", "unicorn")}).tolist() == [[True]]


def test_the_table_names_the_80_coco_categories_and_each_name_finds_itself():
    names = list(COCO_SYNONYMS)
    assert len(names) == 80
    labels = caption_labels([[f"There is a {name} here."] for name in names], names)
    assert labels.diagonal().all()  # each category's own name is one of its words (or contains one)


@pytest.mark.realdata
@requires_data("coco-mini")
def test_on_coco_mini_the_captions_name_most_annotated_people():
    from camlib.data import COCO

    coco = COCO(split="val2017")
    assert sorted(COCO_SYNONYMS) == sorted(coco.classes)  # the table's keys are COCO's category names
    labels = caption_labels([coco.captions(i) for i in range(len(coco))], coco.classes)
    truth = [0 in coco.categories_of(i) for i in range(len(coco))]  # a person is annotated
    named = labels[:, 0].tolist()
    both = sum(a and b for a, b in zip(named, truth))
    # captions name a person in most images with an annotated person, and rarely where none is annotated
    assert both / sum(truth) > 0.5 and sum(a and not b for a, b in zip(named, truth)) <= 3


def test_the_imagenet_table_names_real_imagenet_classes():
    from camlib import imagenet_categories
    from camlib.study.concepts import IMAGENET_FOR_COCO

    names = imagenet_categories()
    assert set(IMAGENET_FOR_COCO) <= set(COCO_SYNONYMS) and all(
        0 <= k < 1000 for ks in IMAGENET_FOR_COCO.values() for k in ks
    )
    # spot checks of the indices against torchvision's ImageNet names
    assert (names[151], names[268], names[281], names[285]) == (
        "Chihuahua",
        "Mexican hairless",
        "tabby",
        "Egyptian cat",
    )
    assert [names[k] for k in IMAGENET_FOR_COCO["airplane"]] == ["airliner", "warplane"]
    assert [names[k] for k in IMAGENET_FOR_COCO["banana"] + IMAGENET_FOR_COCO["pizza"]] == ["banana", "pizza"]
    assert (
        names[IMAGENET_FOR_COCO["dining table"][0]] == "dining table"
        and names[IMAGENET_FOR_COCO["tv"][0]] == "television"
    )


# --- concept detectors from weak labels ---------------------------------------------------


def blobs(n=80, positives=16, k=5, shift=1.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.zeros(n, dtype=torch.bool)
    y[torch.randperm(n, generator=g)[:positives]] = True
    return torch.randn(n, k, generator=g) + shift * y[:, None], y


def margin(svm, x):
    d = svm.decision(x)
    return d[:, 1] - d[:, 0]


def test_mining_adds_exactly_the_negatives_inside_the_margin_each_round():
    x, y = blobs(shift=1.0)
    svm, negatives, added = mine_hard_negatives(x, y, start=1.0, rounds=3, seed=0)
    # the reference: the same rounds, written out
    pos, neg = y.nonzero()[:, 0], (~y).nonzero()[:, 0]
    chosen = neg[torch.randperm(len(neg), generator=torch.Generator().manual_seed(0))][:16].sort().values
    expected = [16]
    for _ in range(3):
        index = torch.cat([pos, chosen])
        ref = fit_linear_svm(x[index], y[index].long(), cache=False)
        rest = [int(i) for i in neg if int(i) not in chosen.tolist()]
        hard = [i for i in rest if margin(ref, x[i : i + 1])[0] > -1]
        if not hard:
            break
        chosen = torch.tensor(sorted(chosen.tolist() + hard))
        expected.append(len(hard))
    index = torch.cat([pos, chosen])
    ref = fit_linear_svm(x[index], y[index].long(), cache=False)
    assert added == expected and negatives.tolist() == chosen.tolist()
    assert len(added) >= 2  # the overlapping blobs have hard negatives to mine
    torch.testing.assert_close(svm.weight, ref.weight)
    torch.testing.assert_close(svm.bias, ref.bias)


def test_no_mining_is_one_svm_on_all_negatives():
    x, y = blobs()
    svm, negatives, added = mine_hard_negatives(x, y, start=None)
    index = torch.cat([y.nonzero()[:, 0], (~y).nonzero()[:, 0]])  # positives first, as the function orders them
    ref = fit_linear_svm(x[index], y[index].long(), cache=False)
    assert negatives.tolist() == (~y).nonzero()[:, 0].tolist() and added == [64]
    torch.testing.assert_close(svm.weight, ref.weight)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": 0}, r"`start` must be a positive number"),
        ({"rounds": -1}, r"`rounds` must be an int >= 0"),
        ({"positive": torch.arange(80) < 2}, r"at least `folds` = 3 positives and negatives, but got 2 and 78"),
        ({"positive": torch.ones(80, dtype=torch.long)}, r"`positive` must be a BoolTensor\[N\]"),
        ({"positive": torch.ones(7, dtype=torch.bool)}, r"one label per row of `pooled` \(80\), but got 7"),
    ],
)
def test_mining_errors(kwargs, message):
    x, y = blobs()
    positive = kwargs.pop("positive", y)
    with pytest.raises((ValueError, TypeError), match=message):
        mine_hard_negatives(x, positive, **kwargs)


def test_cross_validation_scores_each_image_by_a_detector_that_did_not_see_it():
    x, y = blobs(n=90, positives=20)
    det = cross_validated_detector(x, y, "thing", folds=4, seed=1)
    assert det.fold.bincount().tolist() == [23, 23, 22, 22] and len(det.C) == 4
    for f in range(4):
        held = det.fold == f
        assert int(y[held].sum()) == 5  # stratified: the positives spread evenly
        svm, negatives, _ = mine_hard_negatives(x[~held], y[~held], start=1.0, rounds=3, seed=1)
        torch.testing.assert_close(det.weight[f], (svm.weight[1] - svm.weight[0]).float())
        torch.testing.assert_close(det.scores[held], margin(svm, x[held]), rtol=1e-5, atol=1e-5)
        assert det.negatives[f] == len(negatives) and det.available[f] == int((~y[~held]).sum())
    assert det.average_precision() > 0.7


def test_average_precision_by_hand():
    det = cross_validated_detector(*blobs(), folds=3)
    scores, truth = torch.tensor([0.9, 0.8, 0.7, 0.1], dtype=torch.float64), torch.tensor([True, False, True, False])
    hand = det._replace(scores=scores, positive=truth)
    assert hand.average_precision() == pytest.approx((1 / 1 + 2 / 3) / 2)  # precision at each positive, averaged
    assert hand.average_precision(torch.tensor([False, False, False, True])) == pytest.approx(1 / 4)


def test_concept_maps_are_each_folds_weighted_sum():
    x, y = blobs(n=30, positives=9, k=3)
    det = cross_validated_detector(x, y, folds=3)
    f = torch.rand(30, 3, 4, 5, generator=torch.Generator().manual_seed(2))
    index = torch.tensor([4, 0, 17])
    maps = det.maps(f[index], index)
    for row, i in enumerate(index.tolist()):
        w = det.weight[det.fold[i]]
        expected = sum(w[k] * f[i, k] for k in range(3))
        torch.testing.assert_close(maps[row], expected)
    assert det.maps(f[index], index, size=(8, 10)).shape == (3, 8, 10)
    with pytest.raises(ValueError, match=r"`index` must name one image per feature map \(3\), but got 2"):
        det.maps(f[index], index[:2])


def test_noisy_tags_rates_and_seed():
    present = torch.rand(400, 50, generator=torch.Generator().manual_seed(0)) < 0.5
    tags = noisy_tags(present, miss=0.3, false=0.05, seed=3)
    assert (~tags[present]).double().mean().item() == pytest.approx(0.3, abs=0.01)
    assert tags[~present].double().mean().item() == pytest.approx(0.05, abs=0.01)
    assert torch.equal(tags, noisy_tags(present, miss=0.3, false=0.05, seed=3))
    assert not torch.equal(tags, noisy_tags(present, miss=0.3, false=0.05, seed=4))
    with pytest.raises(ValueError, match=r"`miss` must be a probability in \[0, 1\], but got 1.5"):
        noisy_tags(present, miss=1.5)
    with pytest.raises(TypeError, match=r"`present` must be a BoolTensor\[N, C\]"):
        noisy_tags(present.long())


def test_concept_pointing_by_hand():
    x, y = blobs(n=12, positives=6, k=2)
    det = cross_validated_detector(x, y, folds=3)
    # feature maps whose weighted sum peaks where we put it: channel k holds sign(w_k) at one pixel
    f = torch.zeros(12, 2, 8, 8)
    peak = {}
    for i in range(12):
        w = det.weight[det.fold[i]]
        r, c = (1, 1) if i % 2 else (6, 5)
        f[i, :, r, c] = w.sign()
        peak[i] = (r, c)
    positives = y.nonzero()[:, 0].tolist()
    box = torch.tensor([[0, 0, 2, 2]])  # x1, y1, x2, y2 around (1, 1)
    targets = [{i: box for i in positives} | {int((~y).nonzero()[0]): box}]  # a negative's target is not scored
    pairs = concept_pointing([det], f, targets, size=(8, 8), threshold=0.5)
    assert pairs.image.tolist() == positives and pairs.concept.tolist() == [0] * 6
    expected = [float(peak[i] == (1, 1)) for i in positives]
    assert pairs.hits["CAM point"].tolist() == expected
    assert pairs.hits["CAM box"].tolist() == [0.0] * 6  # a one-pixel box has IoU 1/9 with the 3 x 3 box
    assert pairs.hits["centre box"].tolist() == [0.0] * 6 and pairs.hits["random box"].tolist() == [0.0] * 6
    assert pairs.hits["centre point"].tolist() == [0.0] * 6  # (4, 4) is outside the box
    assert pairs.hits["random point"].tolist() == [9 / 64] * 6
    masks = [
        {
            i: torch.zeros(8, 8, dtype=torch.bool).index_put_(
                (torch.tensor([4]), torch.tensor([4])), torch.tensor(True)
            )
            for i in positives
        }
    ]
    on_masks = concept_pointing([det], f, masks, size=(8, 8))
    assert sorted(on_masks.hits) == ["CAM point", "centre point", "random point"]
    assert on_masks.hits["centre point"].tolist() == [1.0] * 6
    with pytest.raises(ValueError, match="No pair to score"):
        concept_pointing([det], f, [{}], size=(8, 8))


def test_the_box_baselines_take_the_cam_box_size():
    from camlib.study.concepts import ConceptDetector

    det = ConceptDetector(
        "c",
        torch.tensor([True, True]),
        torch.zeros(2, dtype=torch.float64),
        torch.tensor([0, 0]),
        torch.ones(1, 1),
        torch.zeros(1),
        [1.0],
        [1],
        [1],
    )
    f = torch.zeros(2, 1, 8, 8)
    f[0, 0] = 1.0  # image 0: the CAM box is the whole image
    f[1, 0, :4, :4] = 1.0  # image 1: a 4 x 4 CAM box in the corner
    targets = [{0: torch.tensor([[0, 0, 7, 7]]), 1: torch.tensor([[0, 0, 3, 3]])}]
    pairs = concept_pointing([det], f, targets, size=(8, 8), random_draws=2000)
    assert pairs.hits["CAM box"].tolist() == [1.0, 1.0]
    assert pairs.hits["centre box"].tolist() == [1.0, 0.0]  # the centred 4 x 4 box (2..5) meets the corner in 2 x 2
    # a 4 x 4 box at one of 25 places reaches IoU 0.5 with the corner box at 3 of them (overlap 12 or 16 of 16)
    assert pairs.hits["random box"][0].item() == 1.0
    assert pairs.hits["random box"][1].item() == pytest.approx(3 / 25, abs=0.03)


def test_summary_rows_and_the_tagged_controlled_run():
    from camlib.study.concepts import concept_summary, tagged_concept_pointing

    g = torch.Generator().manual_seed(5)
    N, C = 40, 2
    present = torch.rand(N, C, generator=g) < 0.5
    present[:6] = True  # enough positives for every concept
    masks, categories = [], []
    for i in range(N):
        cats = present[i].nonzero()[:, 0]
        m = torch.zeros(len(cats), 8, 8, dtype=torch.bool)
        for j, c in enumerate(cats.tolist()):
            m[j, 4 * c : 4 * c + 4, :] = True  # concept 0 on top, concept 1 below
        masks.append(m)
        categories.append(cats)
    pooled = present.float() + 0.3 * torch.randn(N, C, generator=g)
    fmaps = torch.zeros(N, C, 2, 2)
    fmaps[:, 0, 0, :] = 1.0  # feature 0 lives on the top half, feature 1 on the bottom half
    fmaps[:, 1, 1, :] = 1.0
    dets, pairs = tagged_concept_pointing(
        pooled, fmaps, present, masks, categories, miss=0.2, false=0.0, seed=3, folds=3
    )
    tags = noisy_tags(present, miss=0.2, false=0.0, seed=3)
    ref = [cross_validated_detector(pooled, tags[:, c], str(c), folds=3, seed=3) for c in range(C)]
    for d, r in zip(dets, ref):
        torch.testing.assert_close(d.scores, r.scores)
    expected_pairs = sum(int((tags[:, c] & present[:, c]).sum()) for c in range(C))
    assert len(pairs.image) == expected_pairs
    assert pairs.hits["random point"].tolist() == [0.5] * expected_pairs  # each concept fills half the image
    rows = concept_summary(dets, pairs, present)
    for c, row in enumerate(rows):
        mine = pairs.concept == c
        assert row["concept"] == str(c) and row["positives"] == int(tags[:, c].sum())
        assert row["annotated"] == int(present[:, c].sum()) and row["pairs"] == int(mine.sum())
        assert row["CAM point"] == pytest.approx(100 * pairs.hits["CAM point"][mine].mean().item())
        assert row["AP (truth)"] == pytest.approx(dets[c].average_precision(present[:, c]))
        assert row["negatives available"] == pytest.approx(sum(dets[c].available) / 3)
    with pytest.raises(ValueError, match=r"one column per detector \(2\), but got 1"):
        concept_summary(dets, pairs, present[:, :1])
    with pytest.raises(ValueError, match=r"one entry per row of `present` \(40\), but got 39 and 40"):
        tagged_concept_pointing(pooled, fmaps, present, masks[:-1], categories)


def test_pairs_keep_their_maps_and_targets():
    x, y = blobs(n=12, positives=6, k=2)
    det = cross_validated_detector(x, y, folds=3)
    f = torch.rand(12, 2, 4, 4, generator=torch.Generator().manual_seed(1))
    positives = y.nonzero()[:, 0]
    box = torch.tensor([[0, 0, 1, 1]])
    pairs = concept_pointing([det], f, [{int(i): box for i in positives}], size=(4, 4))
    torch.testing.assert_close(pairs.maps, det.maps(f[positives], positives, size=(4, 4)))
    assert all(torch.equal(t, box) for t in pairs.targets) and len(pairs.targets) == 6
