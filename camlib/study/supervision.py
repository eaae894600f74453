"""Weak against full supervision on real photographs: a box regressor on the same fine-tuned top as the CAM.

The paper's Table 3 sets CAM boxes (a network trained with class labels only)
beside networks trained on the boxes themselves, and says that weak
supervision comes within a small margin of full supervision. Here both sides
share everything but the supervision: the same pretrained trunk, run once
over the photographs (``camlib.study.experiments.cached_trunk_maps``), and the
same trainable part above it, a copy of the network's last layers
(``camlib.study.experiments.finetune_split``). The weak side trains that copy
with a GAP head on the labels (``camlib.study.experiments.fit_pooling_head``)
and boxes its class activation map; the full side (this module) trains it
with a box regressor on the training boxes:

- ``BoxRegressor``: ``top`` (or nothing: frozen maps), then the box head of
  ``camlib.models.heads.BoxNet`` (average pooled to a ``grid`` x ``grid``
  layout, FC-ReLU, FC to a centre and a size squashed into ``[0, 1]``); one
  box per image, for no class in particular (class-agnostic);
- ``fit_box_head``: trained with ``camlib.models.heads.box_regression_loss`` on
  each image's one box, early-stopped on the held-out share of images
  localized (IoU >= 0.5), the best epoch kept;
- ``box_head_iou``: each image's IoU with its ground-truth boxes;
- ``fit_box_heads``: the learning rate chosen on a held-out share of the
  training images (the same draw as ``compare_pooling_heads``, so both sides
  tune and stop on the same images), then one regressor per seed, scored on
  the test images.

Why not a detector from a library (torchvision's Faster R-CNN): the paper's
full-supervision rows regress boxes from a classification network's
features, and the comparison must hold the trunk and the trainable part
fixed; a detector would change both.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from camlib.boxes.geometry import best_iou, boxes_to_unit, unit_to_boxes
from camlib.models.heads import box_regression_loss
from camlib.study.experiments import LrSearch, held_out_mask, search_lr, still_improving
from camlib.study.training import EarlyStopping

__all__ = ["BoxHeads", "BoxRegressor", "box_head_iou", "fit_box_head", "fit_box_heads"]


class BoxRegressor(nn.Module):
    """``top`` (a copy of the network's last layers, or nothing), then a class-agnostic box head.

    The box head is ``camlib.models.heads.BoxNet``'s: adaptive average pooling
    to ``grid x grid`` (a GAP vector is nearly translation invariant; the box
    needs the layout), flatten, FC-ReLU with ``hidden`` units, FC to
    ``(cx, cy, w, h)`` squashed into ``[0, 1]`` by a sigmoid, returned as edges
    ``(x1, y1, x2, y2)`` in units of the image sides, clipped to ``[0, 1]``.

    Args:
        top: the layers above the cached maps, trained with the head; None: the head reads the maps.
        channels: the channels of ``top``'s output (of the maps without ``top``).
        grid, hidden: the box head's pooled grid side and hidden units.
    """

    def __init__(self, top: nn.Module | None, channels: int, *, grid: int = 4, hidden: int = 256) -> None:
        super().__init__()
        self.top = top if top is not None else nn.Identity()
        self.box = nn.Sequential(
            nn.AdaptiveAvgPool2d(grid), nn.Flatten(), nn.Linear(channels * grid * grid, hidden), nn.ReLU(),
            nn.Linear(hidden, 4),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        c, s = self.box(self.top(x)).sigmoid().split(2, dim=1)  # centres, sizes (N, 2)
        return torch.cat([c - s / 2, c + s / 2], dim=1).clamp(0, 1)  # (N, 4) unit edges


def _one_box_each(name: str, boxes: Sequence[Tensor], n: int) -> Tensor:
    """``LongTensor[n, 4]``: the single ground-truth box of each image (the regressor's target)."""
    if len(boxes) != n:
        raise ValueError(f"`{name}` must hold one entry per image ({n}), but got {len(boxes)}.")
    counts = [int(b.reshape(-1, 4).shape[0]) for b in boxes]
    wrong = [i for i, c in enumerate(counts) if c != 1]
    if wrong:
        raise ValueError(
            f"`{name}` must hold exactly one box per image (a regressor predicts one), but image {wrong[0]} has "
            f"{counts[wrong[0]]} ({len(wrong)} image(s) in all)."
        )
    return torch.stack([b.reshape(-1, 4)[0] for b in boxes])


@torch.no_grad()
def box_head_iou(
    head: nn.Module, maps: Tensor, gt_boxes: Sequence[Tensor], size: int, *, batch_size: int = 256
) -> Tensor:
    """``DoubleTensor[N]``: the IoU of each image's regressed box with the best of its ground-truth boxes.

    The regressed edges become inclusive pixel boxes of the ``size`` x ``size``
    frame of ``gt_boxes`` (``camlib.boxes.geometry.unit_to_boxes``) and are scored
    by ``camlib.boxes.geometry.best_iou``, as the CAM's boxes are.
    """
    if len(gt_boxes) != len(maps):
        raise ValueError(f"`gt_boxes` must hold one entry per image ({len(maps)}), but got {len(gt_boxes)}.")
    mode = head.training
    head.eval()
    try:
        unit = torch.cat([head(maps[i].float()) for i in torch.arange(len(maps)).split(batch_size)])
    finally:
        head.train(mode)
    return best_iou(unit_to_boxes(unit, (size, size)), list(gt_boxes)).double()


def fit_box_head(
    maps: Tensor,
    boxes: Sequence[Tensor],
    val_maps: Tensor,
    val_boxes: Sequence[Tensor],
    *,
    size: int,
    top: nn.Module | None = None,
    epochs: int = 60,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 128,
    patience: int = 5,
    min_delta: float = 0.0,
    seed: int = 0,
    grid: int = 4,
    hidden: int = 256,
) -> tuple[BoxRegressor, list[dict[str, float]]]:
    """Full supervision: a copy of ``top`` and a box head trained on each training image's box.

    AdamW on ``box_regression_loss`` (smooth L1 on the four unit edges),
    minibatches in a seeded order. After every epoch the held-out images are
    scored: ``val_accuracy`` is the share whose regressed box has IoU >= 0.5
    with their box (the regressor's localization accuracy; it stops training,
    with ``patience``, and chooses the learning rate in ``fit_box_heads``),
    ``val_iou`` their mean IoU.

    Args:
        maps, boxes: training maps ``Tensor[N, K, h, w]`` and one ``LongTensor[1, 4]`` box per image,
            inclusive pixels of the ``size`` x ``size`` input frame.
        val_maps, val_boxes: the held-out images, alike.
        size: the input frame's side.
        top: the layers above the cached maps (``finetune_split``); a copy trains. None: frozen maps.
        epochs, lr, weight_decay, batch_size, patience, min_delta, seed: as ``fit_pooling_head``.
        grid, hidden: ``BoxRegressor``'s.

    Returns:
        ``(regressor, history)``: eval mode, the best held-out epoch's weights; per epoch ``epoch``,
        ``train_loss``, ``train_iou``, ``val_accuracy``, ``val_iou``.

    Raises:
        ValueError: maps that are not ``Tensor[N, K, h, w]``, or not exactly one box per image.
    """
    for name, x in (("maps", maps), ("val_maps", val_maps)):
        if not isinstance(x, Tensor) or x.ndim != 4 or not len(x):
            raise ValueError(
                f"`{name}` must be a non-empty Tensor[N, K, h, w], but got {tuple(getattr(x, 'shape', ()))}."
            )
    target = boxes_to_unit(_one_box_each("boxes", boxes, len(maps)), (size, size))
    _one_box_each("val_boxes", val_boxes, len(val_maps))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        trained = copy.deepcopy(top).train() if top is not None else None
        with torch.no_grad():
            channels = (trained.eval()(maps[:1].float()) if trained is not None else maps[:1]).shape[1]
        head = BoxRegressor(trained, channels, grid=grid, hidden=hidden)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    order = torch.Generator().manual_seed(seed)
    history, stopper = [], EarlyStopping(patience, min_delta)
    for epoch in range(1, epochs + 1):
        head.train()
        loss_sum, iou_sum = 0.0, 0.0
        for idx in torch.randperm(len(maps), generator=order).split(batch_size):
            pred = head(maps[idx].float())
            loss = box_regression_loss(pred, target[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            with torch.no_grad():
                iou_sum += best_iou(unit_to_boxes(pred.detach(), (size, size)),
                                    [boxes[i] for i in idx.tolist()]).sum().item()  # fmt: skip
        iou = box_head_iou(head, val_maps, val_boxes, size)
        history.append({"epoch": epoch, "train_loss": loss_sum / len(maps), "train_iou": iou_sum / len(maps),
                        "val_accuracy": (iou >= 0.5).double().mean().item(), "val_iou": iou.mean().item()})  # fmt: skip
        if stopper.update(history, head):  # keeps a copy of the best epoch's weights
            break
    return stopper.restore(head).eval(), history


@dataclass
class BoxHeads:
    """Box regressors on the same maps, one per seed, scored on the test images (``fit_box_heads``).

    Attributes:
        search: the learning-rate search on the first seed (``LrSearch``; its scores are held-out shares localized).
        heads: per seed, ``(regressor, history)``.
        iou: per seed, each test image's IoU (``DoubleTensor[N]``).
        improving: the seeds whose regressor was still improving when training ended.
    """

    search: LrSearch
    heads: dict[int, tuple[BoxRegressor, list[dict[str, float]]]] = field(repr=False)
    iou: dict[int, Tensor] = field(repr=False)
    improving: list[int]

    def hits(self) -> Tensor:
        """``DoubleTensor[N]``: per test image, the share of the seeds' boxes with IoU >= 0.5."""
        return torch.stack([(v >= 0.5).double() for v in self.iou.values()]).mean(0)

    def accuracy(self) -> float:
        """The test images localized (IoU >= 0.5), percent, averaged over the seeds."""
        return 100 * self.hits().mean().item()

    def convergence(self) -> dict[str, Any]:
        """``converged`` / ``why_not_converged`` for a claim resting on these regressors."""
        return {
            "converged": not self.improving,
            "why_not_converged": "still improving when training ended: "
            + ", ".join(f"box regressor seed {s}" for s in self.improving),
        }


def fit_box_heads(
    train: Any,
    test: Any,
    *,
    size: int,
    seeds: Sequence[int],
    lrs: Sequence[float],
    top: nn.Module | None = None,
    epochs: int = 60,
    patience: int = 5,
    min_delta: float = 0.01,
    held_fraction: float = 0.2,
    seed: int = 0,
    **fit: Any,
) -> BoxHeads:
    """The full-supervision side on cached maps, in one call (chapter 01's weak-vs-full test).

    The held-out images are ``held_out_mask(len(train.labels), held_fraction, seed)``,
    the draw of ``compare_pooling_heads`` with the same arguments: the GAP heads
    and the regressors tune and stop on the same images and never see the
    test images. The learning rate is chosen among ``lrs`` on the first seed
    (``search_lr``); every other seed trains at it.

    Args:
        train, test: ``cached_trunk_maps`` (or ``cached_feature_maps``) results: ``maps``, ``boxes``, ``labels``.
        size: the side of the boxes' frame (the network's input).
        seeds, lrs: the regressors' seeds and candidate learning rates.
        top, epochs, patience, min_delta, **fit: ``fit_box_head``'s.
        held_fraction, seed: the held-out draw.
    """
    held = held_out_mask(len(train.labels), held_fraction, seed)
    keep, out = (~held).nonzero()[:, 0].tolist(), held.nonzero()[:, 0].tolist()
    split = (train.maps[~held], [train.boxes[i] for i in keep], train.maps[held], [train.boxes[i] for i in out])
    args = dict(size=size, top=top, epochs=epochs, patience=patience, min_delta=min_delta, **fit)
    search = search_lr(lrs, fit_box_head, *split, seed=seeds[0], **args)
    heads = {s: (search.net, search.history) if s == seeds[0] else fit_box_head(*split, lr=search.lr, seed=s, **args)
             for s in seeds}  # fmt: skip
    iou = {s: box_head_iou(head, test.maps, test.boxes, size) for s, (head, _) in heads.items()}
    improving = [s for s, (_, h) in heads.items() if still_improving(h, tol=min_delta, patience=max(patience, 1))]
    return BoxHeads(search, heads, iou, improving)
