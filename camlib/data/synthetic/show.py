"""Samples of the synthetic benchmarks with their ground truth drawn on them, and their statistics."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sized
from typing import cast

import numpy as np
import torch
from torch.utils.data import Dataset

from camlib.boxes.geometry import box_area
from camlib.data.synthetic.common import check_int
from camlib.data.synthetic.localization import ObjectItem, center_box_accuracy
from camlib.data.synthetic.scenes import SceneItem
from camlib.data.synthetic.text import TextItem
from camlib.data.synthetic.vqa import ANSWERS, VQAItem

__all__ = ["draw_item", "show_samples", "summarize"]

_COLOURS = ("#00e5ff", "#ff00d4", "#76ff03", "#ffea00", "#ff6d00", "#2979ff")  # ground-truth overlays


def _box(ax, box, colour: str, text: str = "") -> None:
    """An inclusive box: pixel ``x1`` spans ``[x1 - 0.5, x1 + 0.5]`` on the axes."""
    from matplotlib.patches import Rectangle

    x1, y1, x2, y2 = box
    ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1 + 1, y2 - y1 + 1, fill=False, edgecolor=colour, lw=1.2))
    if text:
        ax.text(x1, y1, text, color="black", fontsize=6, va="bottom", bbox={"fc": colour, "pad": 0.5, "lw": 0})


def _contour(ax, mask: torch.Tensor, colour: str) -> None:
    if mask.any() and not mask.all():
        ax.contour(mask.numpy().astype(float), levels=[0.5], colors=[colour], linewidths=0.9)


def _tint(ax, masks: torch.Tensor) -> None:
    """Each mask of ``masks`` (P, H, W) in its own colour, half transparent."""
    from matplotlib.colors import to_rgba

    layer = np.zeros((*masks.shape[-2:], 4))
    for j, mask in enumerate(masks):
        layer[mask.numpy()] = to_rgba(_COLOURS[(j + 1) % len(_COLOURS)], 0.7)
    ax.imshow(layer, interpolation="nearest")


def draw_item(ax, item) -> None:
    """Draw an item of any synthetic benchmark with its ground truth on the axes ``ax``.

    Objects: box, mask contour and part masks tinted; scenes: every object's
    box labelled with its category; text: word boxes; VQA: the question and
    answer as the title and the contour of the object the answer is read from.
    """
    if not isinstance(item, (ObjectItem, SceneItem, TextItem, VQAItem)):
        raise TypeError(f"`item` must be an item of camlib.data.synthetic, but got {type(item).__name__}.")
    ax.imshow(item.image.permute(1, 2, 0).numpy(), interpolation="nearest")
    if isinstance(item, ObjectItem):
        _tint(ax, item.parts)
        _contour(ax, item.mask, "white")
        _box(ax, item.boxes[0].tolist(), _COLOURS[0])
        title = f"class {item.label}"
    elif isinstance(item, SceneItem):
        for box, category in zip(item.boxes.tolist(), item.labels.tolist()):
            _box(ax, box, _COLOURS[category % len(_COLOURS)], str(category))
        title = f"scene {item.label}"
    elif isinstance(item, TextItem):
        for box in item.boxes.tolist():
            _box(ax, box, _COLOURS[0])
        title = ", ".join(item.words) or "(no text)"
    else:
        _contour(ax, item.mask, "black")
        title = textwrap.fill(f"{item.question} {ANSWERS[item.answer]}", 28)
    ax.set_title(title, fontsize=7)
    ax.set_axis_off()


def show_samples(dataset: Dataset, count: int = 8, *, ncols: int = 8, panel: float = 1.6):
    """A grid of the first ``count`` items of ``dataset`` with their ground truth; returns the figure."""
    import matplotlib.pyplot as plt

    count = check_int("count", count, min=1, max=len(cast(Sized, dataset)))
    ncols = check_int("ncols", ncols, min=1)
    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel * ncols, panel * 1.2 * nrows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for i, ax in zip(range(count), axes.flat):
        draw_item(ax, dataset[i])
    return fig


def summarize(dataset: Dataset, count: int) -> dict[str, object]:
    """Statistics of the first ``count`` items of a synthetic benchmark, as one table row.

    Keys: ``benchmark``, ``items``, ``image side``, ``boxes per image``, ``box
    side / image side (%)`` (the square root of the box area over the image
    side), ``mask / box (%)``; localization benchmarks add ``centre box
    IoU >= 0.5 (%)`` and ``half-side centre box IoU >= 0.5 (%)``
    (``center_box_accuracy`` with a centred box of the mean box size, and of
    half the image side), text ``images with text (%)``, VQA ``most frequent
    answer (%)``.
    """
    count = check_int("count", count, min=1, max=len(cast(Sized, dataset)))
    items = [dataset[i] for i in range(count)]
    H, W = items[0].image.shape[-2:]
    boxes = torch.cat([item.boxes for item in items]).long()  # (n, 4)
    masks = [item.masks if hasattr(item, "masks") else item.mask[None] for item in items]
    areas = box_area(boxes).double()  # (n,)
    row: dict[str, object] = {
        "benchmark": type(dataset).__name__,
        "items": count,
        "image side": int(W),
        "boxes per image": round(boxes.shape[0] / count, 2),
        "box side / image side (%)": round(100 * (areas.sqrt() / W).mean().item(), 1) if len(areas) else "-",
        "mask / box (%)": round(100 * (torch.cat(masks).flatten(1).sum(1) / areas).mean().item(), 1)
        if len(areas)
        else "-",
    }
    if isinstance(items[0], ObjectItem):
        size = (int(H), int(W))
        row["centre box IoU >= 0.5 (%)"] = round(100 * center_box_accuracy(boxes, size), 1)
        half = center_box_accuracy(boxes, size, fraction=0.5)
        row["half-side centre box IoU >= 0.5 (%)"] = round(100 * half, 1)
    if isinstance(items[0], TextItem):
        row["images with text (%)"] = round(100 * sum(item.label for item in items) / count, 1)
    if isinstance(items[0], VQAItem):
        row["most frequent answer (%)"] = round(100 * Counter(i.answer for i in items).most_common(1)[0][1] / count, 1)
    return row
