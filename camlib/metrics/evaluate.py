"""Localization evaluation: one pass of a network over a loader, every metric the paper and Choe et al. report.

``evaluate_localization(model, loader)`` runs the model on each batch, makes
the maps of its top-k classes and of the true class (CAM, backprop saliency,
or a box head's own boxes), boxes them with the paper's protocol
(``camlib.boxes_from_maps``) and keeps, per image, what the metrics need.
The returned ``LocalizationResult`` turns them into the numbers of the
paper's Tables 1-3 and Choe et al.'s MaxBoxAcc / MaxBoxAccV2
(``result.summary()``), and keeps the per-image records for figures,
failure analysis and bootstraps. The same function serves the real networks
on ILSVRC and the small networks on the controlled benchmarks, on any device.

Conventions (each owned by the function named):

- top-k classification / localization error: ``camlib.metrics.accuracy.localization_hits``
  (the ILSVRC rule, IoU >= 0.5 with any ground-truth box of the image);
- the box of a map: ``camlib.boxes_from_maps`` (``threshold`` of the map's
  max, largest 8-connected component, inclusive pixel boxes);
- GT-known localization: the box of the *true* class's map, class prediction
  ignored (``camlib.metrics.accuracy.gt_known_accuracy``);
- MaxBoxAcc and MaxBoxAccV2: ``camlib.metrics.accuracy.BoxAccAccumulator`` on the true
  class's maps, with wsolevaluation's 0-255 quantization by default.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import Tensor, nn
from tqdm import tqdm

from camlib._validate import check_choice, check_fraction
from camlib.boxes.from_maps import boxes_from_maps, foreground, top5_heuristic
from camlib.boxes.geometry import best_iou
from camlib.cam.extractor import CAM, find_cam_layer
from camlib.cam.saliency import gradient_saliency
from camlib.data.batch import check_batch
from camlib.metrics.accuracy import (
    BoxAccAccumulator,
    BoxAccuracy,
    localization_hits,
    top_k_error,
    update_box_accuracies,
)
from camlib.models.heads import unit_to_boxes

__all__ = ["LocalizationResult", "evaluate_localization", "METHODS"]

METHODS = ("cam", "backprop", "box")


@dataclass
class LocalizationResult:
    """Per-image records of one evaluation, and the metrics computed from them.

    Attributes:
        method: ``"cam"``, ``"backprop"`` or ``"box"``.
        threshold, mode: the box protocol used (``camlib.boxes_from_maps``).
        labels (LongTensor[N]): the true classes.
        classes (LongTensor[N, k]): the top-k predicted classes, best first.
        scores (Tensor[N, k]): their logits.
        boxes (LongTensor[N, k, 4]): the box of each predicted class's map.
        hits (BoolTensor[N, k]): ILSVRC-correct guesses (right class, IoU >= 0.5).
        gt_boxes: ``N`` tensors ``LongTensor[m_i, 4]``.
        true_boxes (LongTensor[N, 4]): the box of the true class's map.
        true_iou (Tensor[N]): its best IoU with a ground-truth box (GT-known).
        heuristic_classes, heuristic_boxes, heuristic_hits: the five guesses
            of ``camlib.top5_heuristic`` (``[N, 5]``, ``[N, 5, 4]``, ``[N, 5]``), or None.
        box_acc, box_acc_v2: MaxBoxAcc and MaxBoxAccV2 (``BoxAccuracy``) on the
            true class's maps, or None (``method="box"`` has no maps).
        box_acc_wsol, box_acc_v2_wsol: the same in wsolevaluation's own
            convention (``BoxAccAccumulator(convention="wsolevaluation")``:
            Choe et al.'s numbers exactly), when asked for; else None.
        mask_coverage (Tensor[N]): the share of the object masks (the union
            of ``batch.masks[i]``) inside the map's foreground
            (``camlib.foreground(map, threshold)``), when the data has masks;
            NaN for an image without any; None without masks.
        fg_precision (Tensor[N]): the share of the foreground on the object.
        parts_found (Tensor[N]): the share of the object's parts at least half
            inside the foreground, when the data has part masks.
        ids: the image ids, or None.
        maps (Tensor[N, H, W]): the true class's maps, when ``keep_maps``.
    """

    method: str
    threshold: float
    mode: str
    labels: Tensor
    classes: Tensor
    scores: Tensor
    boxes: Tensor
    hits: Tensor
    gt_boxes: list[Tensor]
    true_boxes: Tensor
    true_iou: Tensor
    heuristic_classes: Tensor | None = None
    heuristic_boxes: Tensor | None = None
    heuristic_hits: Tensor | None = None
    box_acc: BoxAccuracy | None = None
    box_acc_v2: BoxAccuracy | None = None
    box_acc_wsol: BoxAccuracy | None = None
    box_acc_v2_wsol: BoxAccuracy | None = None
    mask_coverage: Tensor | None = None
    fg_precision: Tensor | None = None
    parts_found: Tensor | None = None
    ids: list | None = None
    maps: Tensor | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.labels.shape[0]

    def summary(self) -> dict[str, float | int | None]:
        """The metrics, in percent (errors and accuracies), as a flat dict.

        Keys: ``count``; ``cls_top1_err``, ``cls_top5_err``; ``loc_top1_err``,
        ``loc_top5_err`` (the paper protocol); ``loc_top5_err_heuristic``;
        ``gt_known_loc`` (accuracy at IoU 0.5); ``maxboxacc`` with its best
        threshold ``maxboxacc_threshold`` (a fraction of the max), and
        ``maxboxaccv2``; ``maxboxacc_wsol`` and ``maxboxaccv2_wsol`` (in
        wsolevaluation's convention); ``mask_coverage``, ``fg_precision``, ``parts_found``
        (means, percent). A key whose data is missing (``k < 5``, no
        heuristic, no maps, no masks) holds None.
        """
        k = self.classes.shape[1]
        correct = self.classes == self.labels[:, None]  # (N, k)

        def pct(x: float) -> float:
            return 100.0 * x

        def mean(t: Tensor | None) -> float | None:
            return None if t is None else pct(t.double().mean().item())

        top5 = k >= 5
        return {
            "count": len(self),
            "cls_top1_err": pct(top_k_error(correct, 1)),
            "cls_top5_err": pct(top_k_error(correct, 5)) if top5 else None,
            "loc_top1_err": pct(top_k_error(self.hits, 1)),
            "loc_top5_err": pct(top_k_error(self.hits, 5)) if top5 else None,
            "loc_top5_err_heuristic": None if self.heuristic_hits is None else pct(top_k_error(self.heuristic_hits)),
            "gt_known_loc": mean(self.true_iou >= 0.5),
            "maxboxacc": None if self.box_acc is None else pct(self.box_acc.value),
            "maxboxacc_threshold": None if self.box_acc is None else self.box_acc.best_thresholds[0].item(),
            "maxboxaccv2": None if self.box_acc_v2 is None else pct(self.box_acc_v2.value),
            "maxboxacc_wsol": None if self.box_acc_wsol is None else pct(self.box_acc_wsol.value),
            "maxboxaccv2_wsol": None if self.box_acc_v2_wsol is None else pct(self.box_acc_v2_wsol.value),
            "mask_coverage": mean(self.mask_coverage),
            "fg_precision": mean(self.fg_precision),
            "parts_found": mean(self.parts_found),
        }


def _mask_stats(fg: Tensor, masks: Tensor, parts: Sequence[Tensor] | None) -> tuple[Tensor, Tensor, Tensor | None]:
    """Coverage of the object, precision of the foreground, share of parts half-covered; per image."""
    inter = (fg & masks).flatten(1).sum(1).double()  # (N,)
    area = masks.flatten(1).sum(1).double()  # (N,)
    coverage = torch.where(area > 0, inter / area.clamp(min=1), torch.nan)  # NaN: no object
    precision = inter / fg.flatten(1).sum(1).clamp(min=1)
    found = None
    if parts is not None:
        found = torch.stack([
            ((p & f).flatten(1).sum(1) * 2 >= p.flatten(1).sum(1).clamp(min=1)).double().mean()
            if len(p) else torch.tensor(float("nan"), dtype=torch.float64)
            for p, f in zip(parts, fg)
        ])  # fmt: skip
    return coverage.cpu(), precision.cpu(), None if found is None else found.cpu()


def _maps_and_logits(model: nn.Module, images: Tensor, method: str, top_k: int, labels: Tensor, layer) -> tuple:
    """Logits, top-k classes, and the maps of (top-k classes, true class) at the images' size or the own boxes."""
    size = (images.shape[-2], images.shape[-1])
    if method == "cam":
        with torch.no_grad(), CAM(model, layer) as cam:
            model(images)
            top = cam.classes(top_k)  # (N, k)
            classes = torch.cat([top, labels[:, None]], dim=1)  # (N, k + 1)
            return cam.logits, top, cam.maps(classes, size=size), None
    with torch.no_grad():
        out = model(images)
    if method == "box" and not hasattr(out, "boxes"):
        raise TypeError(f"`method` 'box' needs a model that returns boxes (camlib.models.BoxNet), but got "
                        f"{type(model).__name__} returning {type(out).__name__}.")  # fmt: skip
    logits = getattr(out, "logits", out)  # (N, C)
    if top_k > logits.shape[1]:  # as CAM.classes
        raise ValueError(f"`top_k` must be at most the number of classes ({logits.shape[1]}), but got {top_k}.")
    top = logits.topk(top_k, dim=1).indices  # (N, k)
    classes = torch.cat([top, labels[:, None]], dim=1)  # (N, k + 1)
    if method == "box":
        return logits, top, None, unit_to_boxes(out.boxes, size)
    return logits, top, gradient_saliency(model, images, classes), None


def evaluate_localization(
    model: nn.Module,
    loader: Any,
    *,
    method: str = "cam",
    top_k: int = 5,
    threshold: float = 0.2,
    mode: str = "largest",
    heuristic: str | None = None,
    quantize: bool | None = None,
    box_accuracy: bool = True,
    box_thresholds: Sequence[float] | Tensor | None = None,
    wsolevaluation: bool = False,
    keep_maps: bool = False,
    device: str | torch.device | None = None,
    backend: str = "auto",
    progress: bool | None = None,
) -> LocalizationResult:
    """Run ``model`` over ``loader`` and record its classification and localization, image by image.

    For each batch: the logits; the ``top_k`` classes; the maps of those
    classes and of the true class at the input size (``method``); their boxes
    by ``camlib.boxes_from_maps(maps, threshold, mode=mode)``; the ILSVRC hits;
    the true class's box and IoU (GT-known); MaxBoxAcc / MaxBoxAccV2
    accumulators on the true class's maps; with ``heuristic``, the paper's
    top-5 heuristic (``camlib.top5_heuristic``); and, when the data has
    object and part masks, how much of them the foreground covers.

    Methods:

    - ``"cam"``: class activation maps (``model`` must be a GAP network that
      ``camlib.find_cam_layer`` knows);
    - ``"backprop"``: gradient saliency (``camlib.gradient_saliency``), the
      paper's baseline, through the same boxes and metrics;
    - ``"box"``: the model's own box (``camlib.models.BoxNet``, the fully supervised
      baseline): one class-agnostic box per image for every guess; no maps.

    Args:
        model: the network; it is run in eval mode (its mode is restored).
        loader: an iterable of ``camlib.data.Batch`` (a ``DataLoader`` with
            ``collate_fn=camlib.data.collate``), with boxes.
        method: see above.
        top_k: predicted classes kept per image (clipped to the number of classes).
        threshold: fraction of each map's max (the paper: 0.2).
        mode: ``"largest"`` (the paper), ``"union"`` or ``"authors"`` (see ``boxes_from_maps``).
        heuristic: None, ``"thresholds"`` or ``"authors"``: also score the
            top-5 heuristic with that generator (needs ``top_k >= 3``).
        quantize: MaxBoxAcc(V2) on wsolevaluation's 0-255 quantized maps; the default (None) is
            ``BoxAccAccumulator``'s and ``max_box_acc``'s, so the same maps give the same values from
            every entry point (False: camlib's convention scores the float maps).
        box_accuracy: compute MaxBoxAcc and MaxBoxAccV2 (they label every map
            at 100 thresholds, the slowest part on a CPU); else they are None.
        box_thresholds: their threshold grid (``BoxAccAccumulator``); default
            ``threshold_grid(0.01)``, wsolevaluation's 100 thresholds.
        wsolevaluation: also MaxBoxAcc and MaxBoxAccV2 in wsolevaluation's
            own convention (OpenCV contours of the 8-bit maps: Choe et al.'s
            numbers exactly; about 10 ms per map on a CPU core).
        keep_maps: keep the true class's maps (``Tensor[N, H, W]``, CPU).
        device: where to run; default the model's device.
        backend: connected components (``camlib.components.connected_components``).
        progress: a tqdm bar over the batches; default when stderr is a terminal.

    Returns:
        ``LocalizationResult``; ``.summary()`` gives the metrics in percent.

    Raises:
        ValueError: an unknown ``method``, ``mode`` or ``heuristic``, a
            ``threshold`` outside [0, 1], ``top_k < 1``, or an empty loader.
        TypeError: ``method="cam"`` on a network without a CAM layer; a
            batch that is not a ``camlib.data.Batch`` or has no boxes.

    Example:
        >>> from torch.utils.data import DataLoader
        >>> from camlib.data.synthetic import Localization, collate
        >>> from camlib.models.registry import build_model
        >>> net = build_model("vgg-small", num_classes=10, input_size=32, resolution=8, channels=4)
        >>> loader = DataLoader(Localization(8, seed=1, image_size=32, scale=(0.4, 0.8)), batch_size=4,
        ...                     collate_fn=collate)
        >>> r = evaluate_localization(net, loader, top_k=5)
        >>> r.classes.shape, r.boxes.shape, r.box_acc_v2.count, sorted(r.summary())[:3]
        (torch.Size([8, 5]), torch.Size([8, 5, 4]), 8, ['cls_top1_err', 'cls_top5_err', 'count'])
    """
    check_choice("method", method, METHODS)
    check_choice("heuristic", heuristic, (None, "thresholds", "authors"))
    threshold = check_fraction("threshold", threshold)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"`top_k` must be a positive int, but got {top_k!r}.")
    if heuristic is not None and (top_k < 3 or method == "box"):
        raise ValueError(f"`heuristic` needs maps of the top 3 classes (top_k >= 3, method 'cam' or 'backprop'), "
                         f"but got top_k={top_k}, method={method!r}.")  # fmt: skip
    if device is None:
        device = next(model.parameters()).device
    layer = find_cam_layer(model) if method == "cam" else None
    acc1 = BoxAccAccumulator((0.5,), thresholds=box_thresholds, quantize=quantize, backend=backend)
    acc2 = BoxAccAccumulator(
        (0.3, 0.5, 0.7), all_components=True, thresholds=box_thresholds, quantize=quantize, backend=backend
    )
    wsol = [BoxAccAccumulator(ious, all_components=v2, thresholds=box_thresholds, convention="wsolevaluation")
            for ious, v2 in (((0.5,), False), ((0.3, 0.5, 0.7), True))] if wsolevaluation else []  # fmt: skip
    rec: dict[str, list] = {key: [] for key in ("labels", "classes", "scores", "boxes", "hits", "gt", "true_boxes",
                                                "true_iou", "h_classes", "h_boxes", "h_hits", "coverage",
                                                "precision", "parts", "ids", "maps")}  # fmt: skip
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        show = sys.stderr.isatty() if progress is None else progress
        for batch in tqdm(loader, desc=f"evaluating ({method})", leave=False, disable=not show):
            batch = check_batch(batch)
            if batch.boxes is None:
                raise TypeError("`loader` must yield batches with boxes, but a batch has none (`boxes` is None).")
            images = cast(Tensor, batch.images).to(device)  # a list of PIL images (no transform) has no .to
            labels = batch.labels.to(device)
            gt = [b.to(device) for b in batch.boxes]
            logits, top, maps, own_boxes = _maps_and_logits(model, images, method, top_k, labels, layer)
            k = top.shape[1]
            if maps is not None:
                boxes_all = boxes_from_maps(maps, threshold, mode=mode, backend=backend)  # (N, k + 1, 4)
                boxes, true_boxes = boxes_all[:, :k], boxes_all[:, k]
                true_maps = maps[:, k]  # (N, H, W)
                if box_accuracy:
                    update_box_accuracies([acc1, acc2], true_maps, gt)  # one labelling for both
                    update_box_accuracies(wsol, true_maps, gt)  # one tracing of the contours for both
            else:
                boxes, true_boxes = own_boxes[:, None].expand(-1, k, 4), own_boxes
            frame = (int(images.shape[-2]), int(images.shape[-1]))  # the boxes' frame: the input
            hits = localization_hits(top, boxes, labels, gt, size=frame)  # (N, k); refuses boxes outside it
            rec["labels"].append(labels.cpu())
            rec["classes"].append(top.cpu())
            rec["scores"].append(logits.gather(1, top).float().cpu())
            rec["boxes"].append(boxes.cpu())
            rec["hits"].append(hits.cpu())
            rec["gt"] += [b.cpu() for b in gt]
            rec["true_boxes"].append(true_boxes.cpu())
            rec["true_iou"].append(best_iou(true_boxes, gt).double().cpu())  # (N,); 0 without ground truth
            if heuristic is not None:
                hc, hb = top5_heuristic(maps[:, :k], top, generator=heuristic, backend=backend)
                rec["h_classes"].append(hc.cpu())
                rec["h_boxes"].append(hb.cpu())
                rec["h_hits"].append(localization_hits(hc, hb, labels, gt, size=frame).cpu())
            if maps is not None and batch.masks is not None:
                fg = foreground(true_maps, threshold)  # (N, H, W)
                masks = torch.stack([m.to(device).any(dim=0) for m in batch.masks])  # (N, H, W): all objects
                parts = None if batch.parts is None else [p.to(device) for p in batch.parts]
                cov, prec, found = _mask_stats(fg, masks, parts)
                rec["coverage"].append(cov)
                rec["precision"].append(prec)
                if found is not None:
                    rec["parts"].append(found)
            if batch.image_ids is not None:
                rec["ids"] += batch.image_ids
            if keep_maps and maps is not None:
                rec["maps"].append(true_maps.detach().cpu())
    finally:
        for module, training in modes:
            module.training = training
    if not rec["labels"]:
        raise ValueError("`loader` must yield at least one batch, but it yielded none.")

    def cat(key: str) -> Tensor | None:
        return torch.cat(rec[key]) if rec[key] else None

    def cat_all(key: str) -> Tensor:
        out = cat(key)
        assert out is not None  # every batch adds to it, and there was one at least
        return out

    has_maps = method != "box" and box_accuracy
    return LocalizationResult(
        method=method, threshold=threshold, mode=mode,
        labels=cat_all("labels"), classes=cat_all("classes"), scores=cat_all("scores"), boxes=cat_all("boxes"),
        hits=cat_all("hits"), gt_boxes=rec["gt"], true_boxes=cat_all("true_boxes"), true_iou=cat_all("true_iou"),
        heuristic_classes=cat("h_classes"), heuristic_boxes=cat("h_boxes"), heuristic_hits=cat("h_hits"),
        box_acc=acc1.compute() if has_maps else None, box_acc_v2=acc2.compute() if has_maps else None,
        box_acc_wsol=wsol[0].compute() if has_maps and wsol else None,
        box_acc_v2_wsol=wsol[1].compute() if has_maps and wsol else None,
        mask_coverage=cat("coverage"), fg_precision=cat("precision"), parts_found=cat("parts"),
        ids=rec["ids"] or None, maps=cat("maps"),
    )  # fmt: skip
