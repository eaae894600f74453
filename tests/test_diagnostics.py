"""camlib.study.diagnostics: the failure reason of each image, hand-worked; classification errors that restore the mode."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from camlib.data import Batch
from camlib.study.diagnostics import (
    REASONS,
    area_share,
    classification_errors,
    examples_by_reason,
    failure_reasons,
    reason_counts,
)

OBJECT = torch.tensor([[0, 0, 9, 9]])  # 10 x 10 = 100 pixels


def _reasons(boxes, gt, predicted=None, labels=None, **kwargs):
    n = len(boxes)
    labels = torch.zeros(n, dtype=torch.long) if labels is None else torch.tensor(labels)
    predicted = labels.clone() if predicted is None else torch.tensor(predicted)
    return failure_reasons(predicted, labels, torch.tensor(boxes), gt, **kwargs)


def test_each_reason_on_a_hand_made_case():
    boxes = [
        [0, 0, 9, 9],  # the object itself: IoU 1
        [0, 0, 3, 3],  # 16 of its 100 pixels: IoU 0.16, smaller
        [0, 0, 19, 19],  # 400 pixels around it: IoU 100 / 400 = 0.25, larger
        [0, 0, 19, 19],  # the same, in an image with a second, distant object
        [0, 0, 9, 9],
    ]  # a perfect box for a wrong class
    gt = [OBJECT, OBJECT, OBJECT, torch.tensor([[0, 0, 9, 9], [30, 30, 39, 39]]), OBJECT]
    got = _reasons(boxes, gt, predicted=[1, 1, 1, 1, 2], labels=[1, 1, 1, 1, 1])
    assert got == [
        "localized",
        "box too small",
        "box too large, one object",
        "box too large, several objects",
        "wrong class",
    ]
    assert set(got) == set(REASONS)


def test_the_iou_threshold_is_inclusive_and_a_parameter():
    # box 10 x 10 inside an object 10 x 20: IoU 100 / 200 = 0.5 exactly
    gt = [torch.tensor([[0, 0, 9, 19]])]
    assert _reasons([[0, 0, 9, 9]], gt) == ["localized"]
    assert _reasons([[0, 0, 9, 9]], gt, iou_threshold=0.6) == ["box too small"]


def test_size_is_compared_with_the_most_overlapped_object_and_equal_size_counts_as_too_large():
    # a 20 x 20 box: IoU 4 / 400 = 0.01 with a 2 x 2 object, 400 / 1600 = 0.25 with a 40 x 40 one;
    # it is compared with the 40 x 40 object, so it is too small although larger than the other one
    gt = [torch.tensor([[0, 0, 1, 1], [0, 0, 39, 39]])]
    assert _reasons([[0, 0, 19, 19]], gt) == ["box too small"]
    # shifted by half its width: IoU 50 / 150 = 1/3, the same 100 pixels as the object: too large
    assert _reasons([[5, 0, 14, 9]], [OBJECT]) == ["box too large, one object"]
    # a box that overlaps no object is compared with the first one
    assert _reasons([[50, 50, 51, 51]], [torch.tensor([[0, 0, 9, 9], [20, 20, 20, 20]])]) == ["box too small"]


def test_failure_reasons_bad_input():
    one = torch.tensor([0])
    with pytest.raises(ValueError, match=r"`gt_boxes\[0\]` must hold at least one box"):
        failure_reasons(one, one, OBJECT, [torch.zeros(0, 4, dtype=torch.long)])
    with pytest.raises(ValueError, match=r"`labels`, `boxes` and `gt_boxes` must have one entry per image"):
        failure_reasons(one, torch.tensor([0, 1]), OBJECT, [OBJECT])
    with pytest.raises(TypeError, match=r"`boxes` must have an integer dtype"):
        failure_reasons(one, one, OBJECT.float(), [OBJECT])
    with pytest.raises(ValueError, match=r"`iou_threshold` must be in \(0, 1\]"):
        failure_reasons(one, one, OBJECT, [OBJECT], iou_threshold=0.0)
    assert failure_reasons(one[:0], one[:0], OBJECT[:0], []) == []  # no image: no reason


def test_reason_counts_and_examples():
    reasons = ["wrong class", "localized", "wrong class", "box too small", "localized", "wrong class"]
    table = reason_counts(reasons)
    # 3, 2, 1 of 6 images; most frequent first
    assert list(table.index) == ["wrong class", "localized", "box too small"]
    assert table["images"].tolist() == [3, 2, 1]
    assert table["percent of images"].tolist() == pytest.approx([50.0, 100 / 3, 100 / 6])
    assert table.index.name == "top-1 outcome"
    # ties keep the order of REASONS, whatever the order of the images
    assert list(reason_counts(["wrong class", "box too small"]).index) == ["box too small", "wrong class"]
    assert examples_by_reason(reasons, 2) == {"localized": [1, 4], "box too small": [3], "wrong class": [0, 2]}
    with pytest.raises(ValueError, match=r"`reasons` must hold only"):
        reason_counts(["lost"])
    with pytest.raises(ValueError, match=r"`reasons` must hold at least one image"):
        reason_counts([])
    with pytest.raises(ValueError, match=r"`per_reason` must be a positive int"):
        examples_by_reason(reasons, 0)
    with pytest.raises(TypeError, match=r"`reasons` must be a sequence of strings"):
        examples_by_reason("localized", 1)


def test_area_share():
    # 100 and 200 pixels of a 20 x 20 image
    assert area_share(torch.tensor([[0, 0, 9, 9], [0, 0, 19, 9]]), 20).tolist() == [0.25, 0.5]
    # (H, W) = (10, 20): a 10 x 5 box is 50 of 200 pixels
    assert area_share(torch.tensor([[0, 0, 9, 4]]), (10, 20)).tolist() == [0.25]
    # ground truth: the largest box of each image; none: 0
    gt = [torch.tensor([[0, 0, 1, 1], [0, 0, 9, 9]]), torch.zeros(0, 4, dtype=torch.long)]
    assert area_share(gt, 20).tolist() == [0.25, 0.0]
    with pytest.raises(TypeError, match=r"`boxes` must be a LongTensor\[N, 4\] or a list"):
        area_share("box", 20)
    with pytest.raises(ValueError, match=r"`size` must have positive sides"):
        area_share(OBJECT, 0)


class Logits(nn.Module):
    """Returns the logits written in the images' first row; records whether it ran in eval mode."""

    def __init__(self, wrap: bool = False) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.drop = nn.Dropout(0.5)
        self.wrap = wrap
        self.seen_training: list[bool] = []

    def forward(self, x):
        self.seen_training.append(self.training or self.drop.training)
        logits = x[:, 0, 0, :] + self.dummy
        return SimpleNamespace(logits=logits, boxes=None) if self.wrap else logits


def _batches(logits: torch.Tensor, labels: list[int], size: int = 2) -> list[Batch]:
    images = logits[:, None, None, :].expand(-1, 3, 1, -1)  # (N, 3, 1, C): the logits in the first row
    labels = torch.tensor(labels)
    return [Batch(images[i : i + size], labels[i : i + size]) for i in range(0, len(labels), size)]


@pytest.mark.parametrize("wrap", [False, True], ids=["tensor", "box-net-output"])
def test_classification_errors_hand_worked(wrap):
    # 6 classes; the label's rank: 1st, 2nd, 6th, 5th -> top-1 wrong on 3 of 4, top-5 wrong on 1 of 4
    logits = torch.tensor([[9.0, 1, 2, 3, 4, 5], [5.0, 9, 1, 2, 3, 4], [1.0, 2, 3, 4, 5, 9], [5.0, 4, 3, 2, 1, 9]])
    labels = [0, 0, 0, 3]
    net = Logits(wrap).train()
    net.drop.eval()  # a mixed state, restored as it was
    errors = classification_errors(net, _batches(logits, labels))
    assert errors.top1_err == 75.0 and errors.top5_err == 25.0
    assert errors.predicted.tolist() == [0, 1, 5, 5] and errors.labels.tolist() == labels
    assert net.seen_training == [False, False]  # evaluated in eval mode, batch by batch
    assert net.training and not net.drop.training


def test_classification_errors_with_fewer_than_five_classes_and_bad_input():
    # 3 classes: "top-5" is top-3, which always holds the label
    errors = classification_errors(Logits(), _batches(torch.tensor([[1.0, 2, 3], [3.0, 2, 1]]), [0, 0]))
    assert (errors.top1_err, errors.top5_err) == (50.0, 0.0)
    net = Logits().train()
    with pytest.raises(ValueError, match=r"`loader` must yield at least one batch"):
        classification_errors(net, [])
    assert net.training


def test_calibrated_box_hits_chooses_on_one_set_and_scores_the_other():
    from camlib.study.diagnostics import calibrated_box_hits

    # a bright 2 x 2 core inside a dim 8 x 8 halo (0.3 of the max): at 0.2 the box is the halo, at 0.5 the core
    m = torch.zeros(3, 12, 12)
    m[:, 2:10, 2:10] = 0.3
    m[:, 4:6, 4:6] = 1.0
    core, halo = torch.tensor([[4, 4, 5, 5]]), torch.tensor([[2, 2, 9, 9]])
    # calibrate on images 0 and 1 (both core objects): 0.5 wins 2 hits to 0; scored on image 2 (a halo object): a miss
    thr, hits = calibrated_box_hits(m, [core, core, halo], [0.2, 0.5], calibrate=torch.tensor([True, True, False]))
    assert thr == 0.5 and hits.tolist() == [False]
    # calibrated on the halo image instead: 0.2 wins; scored on the core images at 0.2 (halo boxes, IoU 4/64): misses
    thr, hits = calibrated_box_hits(m, [core, core, halo], [0.2, 0.5], calibrate=torch.tensor([False, False, True]))
    assert thr == 0.2 and hits.tolist() == [False, False]
    # equal scores: the first threshold of the list
    thr, _ = calibrated_box_hits(m, [core, halo, core], [0.5, 0.2], calibrate=torch.tensor([True, True, False]))
    assert thr == 0.5


def test_calibrated_box_hits_rejects_bad_splits():
    from camlib.study.diagnostics import calibrated_box_hits

    m, gt = torch.rand(2, 4, 4), [torch.tensor([[0, 0, 1, 1]])] * 2
    with pytest.raises(ValueError, match="`calibrate` must mark some images to calibrate on and some to score"):
        calibrated_box_hits(m, gt, [0.2], calibrate=torch.tensor([True, True]))
    with pytest.raises(ValueError, match=r"`calibrate` must be a BoolTensor\[2\]"):
        calibrated_box_hits(m, gt, [0.2], calibrate=torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="`thresholds` must hold at least one threshold"):
        calibrated_box_hits(m, gt, [], calibrate=torch.tensor([True, False]))


def test_own_threshold_hits_is_calibrated_box_hits_on_one_shared_half():
    from types import SimpleNamespace

    g = torch.Generator().manual_seed(0)
    gt = [torch.tensor([[2, 2, 9, 9]]) for _ in range(9)]
    results = {name: SimpleNamespace(maps=torch.rand(9, 12, 12, generator=g), gt_boxes=gt) for name in ("a", "b")}
    results["a"].maps[:, 2:10, 2:10] += 1.0  # method a lights the object
    from camlib.study import diagnostics

    out = diagnostics.own_threshold_hits(results, [0.2, 0.5, 0.8], seed=3)
    half = torch.zeros(9, dtype=torch.bool)
    half[torch.randperm(9, generator=torch.Generator().manual_seed(3))[:4]] = True
    assert torch.equal(out.calibrate, half)
    for name, r in results.items():
        t, hits = diagnostics.calibrated_box_hits(r.maps, gt, [0.2, 0.5, 0.8], calibrate=half)
        assert out.thresholds[name] == t and torch.equal(out.hits[name], hits) and len(hits) == 5
    assert out.hits["a"].all()  # the lit object is boxed at its own threshold
    results["b"].maps = None
    with pytest.raises(ValueError, match=r"`results` must hold results with maps"):
        diagnostics.own_threshold_hits(results, [0.5])
