"""Figures of class activation maps: heat maps overlaid on their images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image
from torch import Tensor

__all__ = ["overlay_cam", "show_cams"]


def _as_array(image: Image.Image | np.ndarray) -> np.ndarray:
    return np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else np.asarray(image)


def overlay_cam(ax, image: Image.Image | np.ndarray, cam: Tensor, *, alpha: float = 0.5, cmap: str = "jet", title: str = ""):
    """Draw ``image`` with the map ``cam`` (``Tensor[H, W]``, values in [0, 1]) over it.

    The map must have the image's size (``compute_cams(..., size=(H, W))``);
    colours span 0 to 1, so normalize the map first (``normalize="max"``).
    """
    array = _as_array(image)
    cam = cam.detach().float().cpu()
    if tuple(cam.shape) != array.shape[:2]:
        raise ValueError(f"`cam` must have the image's size {array.shape[:2]}, but got shape {tuple(cam.shape)}.")
    ax.imshow(array)
    artist = ax.imshow(cam.numpy(), cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
    return artist


def show_cams(
    images: Sequence[Image.Image],
    maps: Sequence[Tensor],
    titles: Sequence[Sequence[str]],
    *,
    row_labels: Sequence[str] | None = None,
    ncols: int | None = None,
    alpha: float = 0.5,
    cmap: str = "jet",
    panel: float = 2.4,
):
    """A grid of panels: for each image, the image itself then one panel per map.

    Args:
        images: N PIL images (sizes may differ).
        maps: N tensors ``(k, H_i, W_i)`` normalized to [0, 1], each of its
            image's size.
        titles: N lists of k panel titles.
        row_labels: titles of each image's first panel (default: none).
        ncols: panels per grid row; an image's ``k + 1`` panels wrap onto
            several rows when more (default: all on one row).
        alpha, cmap: the overlay's opacity and colour map.
        panel: the side of one panel in inches.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    if not (len(images) == len(maps) == len(titles)):
        raise ValueError(
            f"`images`, `maps` and `titles` must have one entry per image, but got "
            f"{len(images)}, {len(maps)} and {len(titles)}."
        )
    k = max((m.shape[0] for m in maps), default=0)
    ncols = k + 1 if ncols is None else ncols
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"`ncols` must be a positive int, but got {ncols!r}.")
    rows_per_image = -(-(k + 1) // ncols)
    nrows = max(len(images), 1) * rows_per_image
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols, panel * 0.8 * nrows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat:
        ax.set_axis_off()
    artist = None
    for i, (image, cams, names) in enumerate(zip(images, maps, titles)):
        slots = [axes[i * rows_per_image + j // ncols, j % ncols] for j in range(k + 1)]
        slots[0].imshow(_as_array(image))
        slots[0].set_title(row_labels[i] if row_labels else "", fontsize=9, fontweight="bold")
        for j in range(cams.shape[0]):
            artist = overlay_cam(slots[j + 1], image, cams[j], alpha=alpha, cmap=cmap, title=names[j])
    if artist is not None:
        fig.colorbar(artist, ax=axes, shrink=0.5, label="CAM / max")
    return fig


__all__ += ["draw_box", "show_box_protocol"]


def draw_box(ax, box, *, color: str, style: str = "-", width: float = 2.0) -> None:
    """Outline an inclusive pixel box ``(x1, y1, x2, y2)`` on ``ax``: pixel ``x`` spans ``[x - 0.5, x + 0.5]``."""
    from matplotlib.patches import Rectangle

    x1, y1, x2, y2 = (int(v) for v in box)
    ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1 + 1, y2 - y1 + 1, fill=False, edgecolor=color,
                           linestyle=style, linewidth=width))


def show_box_protocol(
    image: Image.Image | np.ndarray,
    cam: Tensor,
    gt_boxes: Tensor | None = None,
    *,
    threshold: float = 0.2,
    alpha: float = 0.5,
    cmap: str = "jet",
    panel: float = 2.6,
):
    """The box protocol in four panels: map, foreground, components, chosen box.

    1. The map (divided by its maximum) over the image.
    2. The foreground: pixels strictly above ``threshold`` times the maximum.
    3. Its 8-connected components, one colour each, with their boxes; the
       largest (most pixels; ties: first pixel in row-major order) in red.
    4. The chosen box (red, ``camlib.boxes_from_maps``) and the ground-truth
       boxes (green, dashed) over the image, with the best IoU.

    Args:
        image: a PIL image or an ``(H, W, 3)`` array.
        cam: ``Tensor[H, W]``, the map at the image's size (raw or normalized).
        gt_boxes: ``LongTensor[m, 4]`` inclusive boxes, or None.
        threshold: the fraction of the maximum.
        alpha, cmap: the overlay's opacity and colour map.
        panel: the side of one panel in inches.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt
    import torch
    from matplotlib.colors import ListedColormap

    from camlib.boxes import boxes_from_maps, foreground
    from camlib.components import component_stats, connected_components
    from camlib.metrics import box_iou

    array = _as_array(image)
    cam = cam.detach().double().cpu()
    if cam.ndim != 2 or tuple(cam.shape) != array.shape[:2]:
        raise ValueError(
            f"`cam` must be a 2-D tensor of the image's size {array.shape[:2]}, but got shape {tuple(cam.shape)}."
        )
    mask = foreground(cam, threshold)
    labels = connected_components(mask)
    stats = component_stats(labels)
    box = boxes_from_maps(cam, threshold)
    peak = float(cam.max())
    shown = (cam / peak).clamp(0, 1) if peak > 0 else torch.zeros_like(cam)

    fig, axes = plt.subplots(1, 4, figsize=(4 * panel, panel), layout="constrained")
    overlay_cam(axes[0], image, shown, alpha=alpha, cmap=cmap, title="map / max")
    axes[1].imshow(mask.numpy(), cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(f"map > {threshold:g} max: {int(mask.sum())} px", fontsize=9)
    # Components: rank r (row-major order of first pixels) gets colour r of a qualitative map.
    ranks = torch.zeros_like(labels)
    for r, label in enumerate(stats.label.tolist(), start=1):
        ranks[labels == label] = r
    colours = plt.get_cmap("Set3").colors  # pastel: the red box stands out
    palette = ListedColormap([(1.0, 1.0, 1.0)] + [colours[i % len(colours)] for i in range(max(len(stats.label), 1))])
    axes[2].imshow(ranks.numpy(), cmap=palette, vmin=-0.5, vmax=len(palette.colors) - 0.5, interpolation="nearest")
    for component_box in stats.box.tolist():
        draw_box(axes[2], component_box, color="0.3", width=1.0)
    if len(stats.label):
        draw_box(axes[2], box.tolist(), color="red")
    sizes = sorted(stats.area.tolist(), reverse=True)
    axes[2].set_title(f"{len(sizes)} components, largest {sizes[0] if sizes else 0} px", fontsize=9)
    axes[3].imshow(array)
    draw_box(axes[3], box.tolist(), color="red")
    title = "box " + str(tuple(box.tolist()))
    if gt_boxes is not None and len(gt_boxes):
        for gt in gt_boxes.tolist():
            draw_box(axes[3], gt, color="lime", style="--")
        title += f", IoU {float(box_iou(box[None], gt_boxes.long().cpu()).max()):.2f}"
    axes[3].set_title(title, fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    return fig


__all__ += ["show_localizations", "display_image"]


def display_image(image: Tensor | Image.Image | np.ndarray) -> np.ndarray:
    """An ``(H, W, 3)`` array to draw: PIL and arrays as they are, ``Tensor[3, H, W]`` in [0, 1] transposed."""
    if isinstance(image, Tensor):
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"`image` must be a Tensor[3, H, W] in [0, 1], but got shape {tuple(image.shape)}.")
        return image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return _as_array(image)


def show_localizations(
    images: Sequence,
    columns: dict[str, tuple[Tensor, Tensor]],
    gt_boxes: Sequence[Tensor],
    *,
    row_labels: Sequence[str] | None = None,
    alpha: float = 0.5,
    cmap: str = "jet",
    panel: float = 1.9,
):
    """Images in rows, methods in columns: each map over its image, its box (red) and the ground truth (green).

    The paper's Figs. 5-6: the same images under several localization
    methods. Each map is divided by its own maximum for display; the title
    gives the box's best IoU with the ground-truth boxes.

    Args:
        images: N images: ``Tensor[3, H, W]`` in [0, 1], PIL images or
            ``(H, W, 3)`` arrays, each of its maps' size.
        columns: ``{name: (maps Tensor[N, H, W], boxes LongTensor[N, 4])}``, in column order.
        gt_boxes: N tensors ``LongTensor[m_i, 4]`` (inclusive pixel boxes).
        row_labels: a label drawn left of each row (e.g. the class name).
        alpha, cmap: the overlay's opacity and colour map.
        panel: the side of one panel in inches.

    Returns:
        The matplotlib figure.

    Raises:
        ValueError: the columns' lengths differ from the number of images.
    """
    import matplotlib.pyplot as plt

    from camlib.metrics import box_iou

    n = len(images)
    for name, (maps, boxes) in columns.items():
        if len(maps) != n or len(boxes) != n:
            raise ValueError(f"`columns[{name!r}]` must hold {n} maps and {n} boxes (one per image), "
                             f"but got {len(maps)} and {len(boxes)}.")  # fmt: skip
    if len(gt_boxes) != n:
        raise ValueError(f"`gt_boxes` must hold {n} tensors (one per image), but got {len(gt_boxes)}.")
    ncols = len(columns)
    fig, axes = plt.subplots(max(n, 1), ncols, figsize=(panel * ncols, panel * max(n, 1)), squeeze=False,
                             layout="constrained")  # fmt: skip
    for i in range(n):
        array = display_image(images[i])
        gt = gt_boxes[i].long().cpu().reshape(-1, 4)
        for j, (name, (maps, boxes)) in enumerate(columns.items()):
            ax = axes[i, j]
            m = maps[i].detach().double().cpu()
            peak = float(m.max())
            shown = (m / peak).clamp(0, 1) if peak > 0 else m.new_zeros(m.shape)
            box = boxes[i].long().cpu()
            iou = float(box_iou(box[None], gt).max()) if len(gt) else float("nan")
            overlay_cam(ax, array, shown, alpha=alpha, cmap=cmap, title=f"{name}: IoU {iou:.2f}" if i == 0
                        else f"IoU {iou:.2f}")  # fmt: skip
            for g in gt.tolist():
                draw_box(ax, g, color="lime", style="--", width=1.5)
            draw_box(ax, box.tolist(), color="red", width=1.5)
            if j == 0 and row_labels is not None:
                ax.set_axis_on()
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_ylabel(row_labels[i], fontsize=8)
    return fig
