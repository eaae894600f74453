"""Full supervision on cached maps (chapter 01's weak-vs-full test): the regressor learns where a box is when the
maps say it, its IoU is the IoU of its boxes, and it refuses images with no box or several."""

from __future__ import annotations

import pytest
import torch

from camlib.boxes.geometry import box_iou, unit_to_boxes
from camlib.study.experiments import held_out_mask
from camlib.study.features import Features
from camlib.study.supervision import BoxRegressor, box_head_iou, fit_box_head, fit_box_heads

S = 64  # the input frame's side


def _maps_with_boxes(n: int, seed: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Maps (n, 3, 8, 8) that are 1 inside a random box (in map cells) and 0 elsewhere; the box in pixels."""
    g = torch.Generator().manual_seed(seed)
    maps, boxes = torch.zeros(n, 3, 8, 8), []
    for i in range(n):
        x1, y1 = torch.randint(0, 5, (2,), generator=g).tolist()
        w, h = torch.randint(2, 8 - max(x1, y1) + 1, (2,), generator=g).tolist()
        maps[i, :, y1 : y1 + h, x1 : x1 + w] = 1.0
        boxes.append(torch.tensor([[x1 * 8, y1 * 8, (x1 + w) * 8 - 1, (y1 + h) * 8 - 1]]))
    return maps, boxes


def test_the_regressor_learns_boxes_that_the_maps_show():
    maps, boxes = _maps_with_boxes(400, 0)
    val_maps, val_boxes = _maps_with_boxes(100, 1)
    head, history = fit_box_head(maps, boxes, val_maps, val_boxes, size=S, epochs=60, lr=3e-3, patience=10,
                                 batch_size=50, seed=0, grid=8)  # fmt: skip
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert max(h["val_accuracy"] for h in history) >= 0.8  # most held-out boxes found at IoU >= 0.5
    iou = box_head_iou(head, val_maps, val_boxes, S)
    assert (iou >= 0.5).double().mean().item() == pytest.approx(max(h["val_accuracy"] for h in history))  # best kept


def test_maps_without_a_box_signal_give_far_less():
    maps, boxes = _maps_with_boxes(400, 0)
    val_maps, val_boxes = _maps_with_boxes(100, 1)
    noise, val_noise = torch.randn_like(maps), torch.randn_like(val_maps)  # the same boxes, maps that do not show them
    head, _ = fit_box_head(noise, boxes, val_noise, val_boxes, size=S, epochs=60, lr=3e-3, patience=10, batch_size=50,
                           seed=0, grid=8)  # fmt: skip
    assert (box_head_iou(head, val_noise, val_boxes, S) >= 0.5).double().mean().item() < 0.5


def test_the_iou_is_that_of_the_regressed_boxes_one_by_one():
    torch.manual_seed(0)
    head = BoxRegressor(None, 3, grid=2, hidden=8).eval()
    maps, boxes = _maps_with_boxes(7, 3)
    with torch.no_grad():
        pixels = unit_to_boxes(head(maps), (S, S))
    expected = torch.tensor([box_iou(pixels[i : i + 1], boxes[i]).max().item() for i in range(7)], dtype=torch.float64)
    assert torch.allclose(box_head_iou(head, maps, boxes, S, batch_size=3), expected)
    assert ((pixels[:, 2] >= pixels[:, 0]) & (pixels[:, 3] >= pixels[:, 1])).all()


def test_one_box_per_image_or_a_clear_error():
    maps, boxes = _maps_with_boxes(4, 0)
    two = list(boxes)
    two[2] = torch.cat([boxes[2], boxes[2]])
    with pytest.raises(ValueError, match=r"`boxes` must hold exactly one box per image .* image 2 has 2"):
        fit_box_head(maps, two, maps, boxes, size=S, epochs=1)
    with pytest.raises(ValueError, match=r"`val_boxes` must hold one entry per image \(4\), but got 3"):
        fit_box_head(maps, boxes, maps, boxes[:3], size=S, epochs=1)
    with pytest.raises(ValueError, match=r"`maps` must be a non-empty Tensor\[N, K, h, w\]"):
        fit_box_head(maps[0], boxes, maps, boxes, size=S, epochs=1)


def test_the_seeds_share_the_held_out_draw_and_the_chosen_rate():
    maps, boxes = _maps_with_boxes(60, 0)
    labels = torch.zeros(60, dtype=torch.long)
    train = Features(maps.mean(dim=(2, 3)), labels, boxes, maps)
    test_maps, test_boxes = _maps_with_boxes(20, 5)
    test = Features(test_maps.mean(dim=(2, 3)), labels[:20], test_boxes, test_maps)
    result = fit_box_heads(train, test, size=S, seeds=[0, 1], lrs=[1e-3, 3e-3], epochs=4, patience=2, grid=8)
    assert set(result.heads) == {0, 1} and result.search.lr in (1e-3, 3e-3)
    assert result.search.net is result.heads[0][0]  # the first seed is the search's run
    assert torch.equal(result.hits(), torch.stack([(v >= 0.5).double() for v in result.iou.values()]).mean(0))
    assert result.accuracy() == pytest.approx(100 * result.hits().mean().item())
    held = held_out_mask(60, 0.2, 0)
    assert held.sum() == 12 and torch.equal(held, held_out_mask(60, 0.2, 0))
    assert result.convergence()["converged"] == (not result.improving)
