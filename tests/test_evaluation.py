"""camlib.metrics.evaluate: one pass, every metric; checked by hand and against a per-image loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

import camlib
from camlib.data import Batch
from camlib.data.synthetic import Localization, collate
from camlib.metrics.evaluate import LocalizationResult, evaluate_localization
from camlib.models.heads import CAMNet, ClassifierHead
from camlib.models.registry import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def identity_net(num_classes: int = 3, bias: tuple[float, ...] | None = None) -> CAMNet:
    """The features are the image's channels and class c's weights pick channel c: map c = channel c."""
    head = ClassifierHead.from_linear(torch.eye(num_classes), None if bias is None else torch.tensor(bias))
    return CAMNet(nn.Identity(), head)


def real_batch(images, labels, boxes) -> Batch:
    n = len(labels)
    return Batch(
        images,
        torch.tensor(labels),
        boxes=[torch.tensor(b) for b in boxes],
        image_ids=[f"im{i}" for i in range(n)],
        sizes=torch.full((n, 2), images.shape[-1]),
    )


def test_hand_worked_errors():
    # 3 classes, 10x10 images; map c is channel c.
    x = torch.zeros(2, 3, 10, 10)
    x[0, 0, 2:6, 2:6] = 1.0  # image 0: class 0 wins (mean 0.16); its box (2,2,5,5) is the ground truth
    x[0, 1, 0:2, 0:2] = 1.0  # class 1 (mean 0.04)
    x[1, 2, 0:10, 0:5] = 1.0  # image 1: class 2 wins (mean 0.5) but the label is 1
    x[1, 1, 5:9, 5:9] = 1.0  # class 1 second (mean 0.16), its box (5,5,8,8) vs gt (5,5,9,9): IoU 16/25 = 0.64
    batch = real_batch(x, [0, 1], [[[2, 2, 5, 5]], [[5, 5, 9, 9]]])
    r = evaluate_localization(identity_net(), [batch], top_k=3, quantize=False)
    assert r.classes.tolist() == [[0, 1, 2], [2, 1, 0]]
    assert r.boxes[:, 0].tolist() == [[2, 2, 5, 5], [0, 0, 4, 9]]
    assert r.hits.tolist() == [[True, False, False], [False, True, False]]
    assert r.true_boxes.tolist() == [[2, 2, 5, 5], [5, 5, 8, 8]]
    assert r.true_iou.tolist() == pytest.approx([1.0, 0.64])
    s = r.summary()
    assert s["count"] == 2
    assert s["cls_top1_err"] == 50.0 and s["loc_top1_err"] == 50.0
    assert s["cls_top5_err"] is None and s["loc_top5_err"] is None  # only 3 classes
    assert s["gt_known_loc"] == 100.0
    # Both true maps are single blocks: at any threshold the box is the block -> MaxBoxAcc 100, V2: IoU 0.64
    # passes 0.3 and 0.5 but not 0.7, so (1 + 1 + 0.5) / 3.
    assert s["maxboxacc"] == 100.0
    assert s["maxboxaccv2"] == pytest.approx(100 * 2.5 / 3)
    assert r.ids == ["im0", "im1"] and r.mask_coverage is None and r.maps is None


def test_hand_worked_mask_statistics():
    x = torch.zeros(1, 3, 8, 8)
    x[0, 0, 0:4, 0:4] = 1.0  # foreground: the top-left 4x4 block (16 px)
    mask = torch.zeros(1, 8, 8, dtype=torch.bool)
    mask[0, 0:4, 0:8] = True  # object: the top half (32 px): coverage 16/32, precision 16/16
    parts = torch.zeros(2, 8, 8, dtype=torch.bool)
    parts[0, 0:2, 0:2] = True  # inside the foreground: found
    parts[1, 0:2, 5:8] = True  # outside: not found -> half of the parts
    batch = Batch(x, torch.tensor([0]), boxes=[torch.tensor([[0, 0, 7, 3]])], masks=[mask], parts=[parts])
    r = evaluate_localization(identity_net(), [batch], top_k=1, keep_maps=True)
    assert r.mask_coverage.tolist() == [0.5]
    assert r.fg_precision.tolist() == [1.0]
    assert r.parts_found.tolist() == [0.5]
    assert torch.equal(r.maps, x[:, 0])
    s = r.summary()
    assert (s["mask_coverage"], s["fg_precision"], s["parts_found"]) == (50.0, 100.0, 50.0)


def test_mask_coverage_of_several_objects_and_of_none():
    x = torch.zeros(2, 3, 8, 8)
    x[:, 0, 0:4, 0:4] = 1.0  # foreground of both images: the top-left 4x4 block (16 px)
    two = torch.zeros(2, 8, 8, dtype=torch.bool)
    two[0, 0:2, 0:8] = True  # object 1: rows 0-1 (16 px, 8 in the foreground)
    two[1, 6:8, 0:8] = True  # object 2: rows 6-7 (16 px, none in the foreground)
    none = torch.zeros(0, 8, 8, dtype=torch.bool)  # an image without objects (Text without words)
    boxes = [torch.tensor([[0, 0, 7, 1], [0, 6, 7, 7]]), torch.zeros(0, 4, dtype=torch.long)]
    batch = Batch(x, torch.tensor([0, 0]), boxes=boxes, masks=[two, none])
    r = evaluate_localization(identity_net(), [batch], top_k=1, box_accuracy=False)
    # The union of the objects: 8 of its 32 pixels in the foreground, 8 of the 16 foreground pixels on it.
    assert r.mask_coverage[0].item() == 0.25 and r.fg_precision.tolist() == [0.5, 0.0]
    assert r.mask_coverage[1].isnan() and r.parts_found is None


@pytest.fixture(scope="module")
def loader():
    data = Localization(7, seed=3, num_classes=6, image_size=32, scale=(0.4, 0.8))
    return DataLoader(data, batch_size=4, collate_fn=collate)


def reference(model, loader, maps_fn, k, threshold=0.2):
    """Image by image, with the library's building blocks: classes, boxes, hits, true-class IoU."""
    rows = []
    for batch in loader:
        for image, label, gt in zip(batch.images, batch.labels, batch.boxes):
            logits = model.eval()(image[None])[0]
            top = logits.topk(k).indices
            classes = torch.cat([top, label[None]])
            maps = maps_fn(image[None], classes[None])[0]  # (k + 1, H, W)
            boxes = torch.stack([camlib.boxes_from_maps(m, threshold) for m in maps])
            hits = [bool(c == label and camlib.box_iou(b[None], gt).max() >= 0.5) for c, b in zip(top, boxes)]
            rows.append((top, boxes[:k], hits, camlib.box_iou(boxes[k][None], gt).max().item(), maps[k]))
    return rows


@pytest.mark.parametrize("method", ["cam", "backprop"])
def test_agrees_with_a_per_image_loop(loader, method):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = build_model("vgg-small", num_classes=6, input_size=32, resolution=8, channels=4).eval()
    if method == "cam":

        def maps_fn(x, c):
            return camlib.compute_cams(net, x, c, size=32).maps
    else:

        def maps_fn(x, c):
            return camlib.gradient_saliency(net, x, c)

    r = evaluate_localization(
        net, loader, method=method, top_k=3, heuristic="thresholds", keep_maps=True, wsolevaluation=True
    )
    ref = reference(net, loader, maps_fn, 3)
    assert len(r) == 7
    assert torch.equal(r.classes, torch.stack([row[0] for row in ref]))
    assert torch.equal(r.boxes, torch.stack([row[1] for row in ref]))
    assert r.hits.tolist() == [row[2] for row in ref]
    assert r.true_iou.tolist() == pytest.approx([row[3] for row in ref])
    true_maps = torch.stack([row[4] for row in ref])
    assert torch.allclose(r.maps, true_maps, atol=1e-5)
    gt = [b for batch in loader for b in batch.boxes]
    # the same maps give the same MaxBoxAcc from every entry point, with the one default (no quantization)
    assert r.box_acc.value == camlib.max_box_acc(r.maps, gt).value
    assert r.box_acc_v2.value == camlib.max_box_acc_v2(r.maps, gt).value
    assert (r.box_acc.value, r.box_acc_v2.value) == tuple(a.value for a in camlib.max_box_accs(r.maps, gt))
    quantized = evaluate_localization(net, loader, method=method, top_k=3, quantize=True)
    assert quantized.box_acc_v2.value == camlib.max_box_acc_v2(r.maps, gt, quantize=True).value
    wsol = dict(convention="wsolevaluation")
    assert r.box_acc_wsol.value == camlib.max_box_acc(r.maps, gt, **wsol).value
    assert r.box_acc_v2_wsol.value == camlib.max_box_acc_v2(r.maps, gt, **wsol).value
    assert r.summary()["maxboxaccv2_wsol"] == 100 * r.box_acc_v2_wsol.value
    hc, hb = camlib.top5_heuristic(r.maps.new_zeros(0, 3, 32, 32), r.classes[:0])  # shapes only
    assert r.heuristic_classes.shape == (7, 5) and hb.shape == (0, 5, 4)
    assert torch.equal(r.heuristic_classes[:, 0], r.classes[:, 0])  # (c1, loose) comes first
    assert r.mask_coverage.shape == (7,) and ((r.mask_coverage >= 0) & (r.mask_coverage <= 1)).all()


def test_box_method_scores_the_models_own_box(loader):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = build_model("alexnet-small", num_classes=6, head="box", input_size=32, resolution=8, channels=4)
    r = evaluate_localization(net, loader, method="box", top_k=2)
    images = torch.cat([b.images for b in loader])
    own = net.predict_boxes(images)
    assert torch.equal(r.true_boxes, own)
    assert torch.equal(r.boxes, own[:, None].expand(-1, 2, 4))
    assert r.box_acc is None and r.summary()["maxboxacc"] is None
    assert net.training  # the mode is restored


def test_modes_restored_and_bad_input():
    loader = DataLoader(Localization(4, seed=3, num_classes=3), batch_size=2, collate_fn=collate)
    net = identity_net(3)
    net.train()
    evaluate_localization(net, loader, top_k=2)
    assert net.training
    with pytest.raises(ValueError, match="`method` must be one of"):
        evaluate_localization(net, loader, method="gradcam")
    with pytest.raises(ValueError, match="`heuristic` needs maps of the top 3 classes"):
        evaluate_localization(net, loader, top_k=2, heuristic="thresholds")
    with pytest.raises(ValueError, match="`top_k` must be a positive int"):
        evaluate_localization(net, loader, top_k=0)
    with pytest.raises(ValueError, match="`threshold`"):
        evaluate_localization(net, loader, threshold=1.5)
    with pytest.raises(ValueError, match="`loader` must yield at least one batch"):
        evaluate_localization(net, [])
    with pytest.raises(TypeError, match="`batch` must be a camlib.data.Batch"):
        evaluate_localization(net, [(torch.zeros(1, 3, 8, 8), torch.tensor([0]))])
    with pytest.raises(TypeError, match="`loader` must yield batches with boxes, but a batch has none"):
        evaluate_localization(net, [Batch(torch.zeros(1, 3, 8, 8), torch.tensor([0]))])
    with pytest.raises(TypeError, match="`method` 'box' needs a model that returns boxes"):
        evaluate_localization(net, loader, method="box")


def test_a_real_batch_has_ids_and_no_masks():
    b = real_batch(torch.zeros(1, 3, 4, 4), [2], [[[0, 0, 1, 1]]])
    r = evaluate_localization(identity_net(), [b], top_k=1)
    assert isinstance(r, LocalizationResult) and r.ids == ["im0"] and r.mask_coverage is None


def test_box_accuracy_can_be_skipped():
    x = torch.zeros(1, 3, 6, 6)
    x[0, 0, 1:3, 1:3] = 1.0
    r = evaluate_localization(identity_net(), [real_batch(x, [0], [[[1, 1, 2, 2]]])], top_k=1, box_accuracy=False)
    assert r.box_acc is None and r.box_acc_v2 is None and r.summary()["maxboxaccv2"] is None
    assert r.summary()["loc_top1_err"] == 0.0


def test_box_thresholds_set_the_grid():
    x = torch.zeros(1, 3, 6, 6)
    x[0, 0, 1:3, 1:3] = 1.0
    r = evaluate_localization(
        identity_net(), [real_batch(x, [0], [[[1, 1, 2, 2]]])], top_k=1, box_thresholds=[0.0, 0.5]
    )
    assert r.box_acc.thresholds.tolist() == [0.0, 0.5] and r.box_acc_v2.thresholds.tolist() == [0.0, 0.5]
    assert r.box_acc.curves.tolist() == [[1.0, 1.0]]  # the block is the only foreground at either threshold
