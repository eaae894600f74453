"""Figures of class activation maps: heat maps overlaid on their images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, cast

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ["overlay_cam", "show_cams"]


def _as_array(image: Image.Image | np.ndarray) -> np.ndarray:
    return np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else np.asarray(image)


def overlay_cam(
    ax, image: Image.Image | np.ndarray, cam: Tensor, *, alpha: float = 0.5, cmap: str = "jet", title: str = ""
):
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
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel * ncols, panel * 0.8 * nrows), squeeze=False, layout="constrained"
    )
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
    ax.add_patch(
        Rectangle(
            (x1 - 0.5, y1 - 0.5),
            x2 - x1 + 1,
            y2 - y1 + 1,
            fill=False,
            edgecolor=color,
            linestyle=style,
            linewidth=width,
        )
    )


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

    from camlib.boxes.from_maps import boxes_from_maps, foreground
    from camlib.boxes.geometry import box_iou
    from camlib.components.labels import component_stats, connected_components

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
    colours = plt.get_cmap("Set3").colors  # type: ignore[attr-defined]  # Set3 is a ListedColormap; pastel: the red box stands out
    palette = ListedColormap([(1.0, 1.0, 1.0)] + [colours[i % len(colours)] for i in range(max(len(stats.label), 1))])
    axes[2].imshow(
        ranks.numpy(), cmap=palette, vmin=-0.5, vmax=len(cast(Sequence, palette.colors)) - 0.5, interpolation="nearest"
    )
    for component_box in stats.box.tolist():
        draw_box(axes[2], component_box, color="0.3", width=1.0)
    if len(stats.label):
        draw_box(axes[2], box.tolist(), color="red")
    sizes = sorted(stats.area.tolist(), reverse=True)
    count = f"{len(sizes)} component{'' if len(sizes) == 1 else 's'}"  # 0 components, 1 component, 2 components
    axes[2].set_title(f"{count}, largest {sizes[0] if sizes else 0} px", fontsize=9)
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
    max_panels: int = 4,
):
    """Each image with one panel per method: each map over its image, its box (red) and the ground truth (green).

    The paper's Figs. 5-6: the same images under several localization
    methods. Each map is divided by its own maximum for display; the title
    gives the box's best IoU with the ground-truth boxes.

    Args:
        images: N images: ``Tensor[3, H, W]`` in [0, 1], PIL images or
            ``(H, W, 3)`` arrays, each of its maps' size.
        columns: ``{name: (maps Tensor[N, H, W], boxes LongTensor[N, 4])}``, in column order.
        gt_boxes: N tensors ``LongTensor[m_i, 4]`` (inclusive pixel boxes).
        row_labels: a label per image (e.g. the class name), over its first panel.
        alpha, cmap: the overlay's opacity and colour map.
        panel: the side of one panel in inches.
        max_panels: panels per grid row: images sit side by side, each with its panels, up to this many
            (a single method's maps fill a row of four images instead of one column of thin strips).

    Returns:
        The matplotlib figure.

    Raises:
        ValueError: the columns' lengths differ from the number of images.
    """
    import matplotlib.pyplot as plt

    from camlib.boxes.geometry import box_iou

    n = len(images)
    for name, (maps, boxes) in columns.items():
        if len(maps) != n or len(boxes) != n:
            raise ValueError(f"`columns[{name!r}]` must hold {n} maps and {n} boxes (one per image), "
                             f"but got {len(maps)} and {len(boxes)}.")  # fmt: skip
    if len(gt_boxes) != n:
        raise ValueError(f"`gt_boxes` must hold {n} tensors (one per image), but got {len(gt_boxes)}.")
    ncols = len(columns)
    per_row = max(1, max_panels // max(ncols, 1))  # images side by side, each with its ncols panels
    grid_rows = max(-(-n // per_row), 1)
    fig, axes = plt.subplots(grid_rows, per_row * ncols, figsize=(panel * per_row * ncols, panel * 1.1 * grid_rows),
                             squeeze=False, layout="constrained")  # fmt: skip
    for ax in axes.flat:
        ax.set_axis_off()
    for i in range(n):
        array = display_image(images[i])
        gt = gt_boxes[i].long().cpu().reshape(-1, 4)
        for j, (name, (maps, boxes)) in enumerate(columns.items()):
            ax = axes[i // per_row, (i % per_row) * ncols + j]
            m = maps[i].detach().double().cpu()
            peak = float(m.max())
            shown = (m / peak).clamp(0, 1) if peak > 0 else m.new_zeros(m.shape)
            box = boxes[i].long().cpu()
            iou = float(box_iou(box[None], gt).max()) if len(gt) else float("nan")
            label = f"{wrap_title(row_labels[i], panel)}\n" if row_labels is not None and j == 0 else ""
            overlay_cam(ax, array, shown, alpha=alpha, cmap=cmap, title=f"{label}{name}: IoU {iou:.2f}")
            for g in gt.tolist():
                draw_box(ax, g, color="lime", style="--", width=1.5)
            draw_box(ax, box.tolist(), color="red", width=1.5)
    return fig


def show_images(images: Sequence, titles: Sequence[str], *, panel: float = 1.9, max_panels: int = 4):
    """Images in a grid of at most ``max_panels`` per row, each under its title (wrapped to the panel).

    Args:
        images: PIL images, ``Tensor[3, H, W]`` in [0, 1] or ``(H, W, 3)`` arrays.
        titles: one title per image.
        panel: the side of one panel in inches.
        max_panels: panels per row (more images wrap to further rows, so none is shrunk to a strip).

    Returns:
        The matplotlib figure.

    Raises:
        ValueError: no images, or not one title per image.
    """
    import matplotlib.pyplot as plt

    if not len(images) or len(titles) != len(images):
        raise ValueError(f"`titles` must hold one title per image (>= 1), but got {len(titles)} for {len(images)}.")
    cols = min(max_panels, len(images))
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(panel * cols, panel * 1.15 * rows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(display_image(image))
        ax.set_title(wrap_title(str(title), panel, 8), fontsize=8)
    return fig


__all__ += ["CONTENT_WIDTH", "Legibility", "legibility", "show_images", "wrap_title"]

CONTENT_WIDTH = 7.5  # inches: the book's text column (about 720 px at 96 px per inch)


class Legibility(NamedTuple):
    """How a page shows a figure: its smallest text and narrowest panel in points, its share of the column, and
    the pairs of its texts that overlap (a long title running into its neighbour's)."""

    font: float
    panel: float
    width_share: float
    overlaps: int = 0


def wrap_title(text: str, panel: float, fontsize: float = 9.0) -> str:
    """``text`` broken into lines that fit a panel ``panel`` inches wide at ``fontsize`` points.

    A character is taken as 0.65 of the font size wide (DejaVu Sans' digits, its widest common glyphs), so
    a title never runs into the next panel's (``legibility`` counts the overlaps). Words longer than a line are
    broken.

    Example:
        >>> print(wrap_title("hit: what colour is the object nearest to the red object? blue / green", 1.9))
        hit: what colour is the
        object nearest to the
        red object? blue /
        green
    """
    import textwrap

    width = max(8, int(panel * 72 / (0.65 * fontsize)))
    return "\n".join(textwrap.wrap(text, width=width, break_long_words=True)) or text


def legibility(fig, width: float = CONTENT_WIDTH) -> Legibility:
    """The smallest text and the narrowest panel of ``fig``, in points, as a page of ``width`` inches shows it,
    and how many pairs of its texts overlap.

    A figure wider than the column is shrunk to it, and its text and panels with it; a narrower one is
    shown as it is. Panels are the axes that draw something (images, lines, patches, collections),
    colour bars left out; text is every visible, non-empty text of the figure. Two texts overlap when their
    drawn boxes share more than a point each way (a title running into the next panel's).

    Example:
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots(figsize=(15, 3)); _ = ax.plot([0, 1]); _ = ax.set_title("t", fontsize=10)
        >>> seen = legibility(fig)  # shrunk to half: 10 pt reads as 5 pt
        >>> seen.font, seen.width_share
        (5.0, 1.0)
        >>> plt.close(fig)
    """
    import matplotlib.text

    fig.canvas.draw()  # the constrained layout places the axes
    scale = min(1.0, width / fig.get_figwidth())
    hidden = {  # an axes turned off draws none of its axis' texts, though they still call themselves visible
        id(t) for ax in fig.axes if not ax.axison for a in (ax.xaxis, ax.yaxis) for t in a.findobj(matplotlib.text.Text)
    }
    texts = [
        t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip() and id(t) not in hidden
    ]
    fonts = [float(t.get_fontsize()) for t in texts]
    panels = [
        ax.get_position().width * fig.get_figwidth() * 72
        for ax in fig.axes
        if ax.get_label() != "<colorbar>" and (ax.images or ax.lines or ax.patches or ax.collections)
    ]
    renderer = fig.canvas.get_renderer()
    extents = [t.get_window_extent(renderer) for t in texts]
    pad = fig.dpi / 72  # a point, in pixels
    overlaps = sum(
        1
        for i, a in enumerate(extents)
        for b in extents[i + 1 :]
        if min(a.x1, b.x1) - max(a.x0, b.x0) > pad and min(a.y1, b.y1) - max(a.y0, b.y0) > pad
    )
    return Legibility(
        font=float(min(fonts, default=float("inf")) * scale),
        panel=float(min(panels, default=float("inf")) * scale),
        width_share=float(min(1.0, fig.get_figwidth() / width)),
        overlaps=overlaps,
    )


__all__ += ["draw_map", "show_top_maps", "show_grouped_maps", "show_threshold_curves"]


def draw_map(ax, image: Image.Image | np.ndarray, cam: Tensor, box=None, gt_boxes=(), *, title: str = "") -> None:
    """One panel: ``cam`` divided by its maximum over ``image``, its box in red, the ground truth in green (dashed).

    Args:
        ax: the matplotlib axes.
        image: a PIL image or an ``(H, W, 3)`` array.
        cam: ``Tensor[H, W]``, the map at the image's size (raw: it is max-normalized here,
            ``camlib.normalize_maps(..., "max")``; an all-zero map stays 0).
        box: an inclusive box ``(x1, y1, x2, y2)`` (list or ``LongTensor[4]``), or None.
        gt_boxes: the ground-truth boxes (``LongTensor[m, 4]`` or a list of boxes).
        title: the panel's title (font size 8).
    """
    from camlib.cam.kernel import normalize_maps

    if not isinstance(cam, Tensor) or cam.ndim != 2:
        raise ValueError(f"`cam` must be a 2-D tensor (H, W), but got {getattr(cam, 'shape', type(cam).__name__)}.")
    overlay_cam(ax, image, normalize_maps(cam.detach().float()[None], "max")[0].cpu(), title=title)
    for g in gt_boxes.tolist() if isinstance(gt_boxes, Tensor) else gt_boxes:
        draw_box(ax, g, color="lime", style="--", width=1.5)
    if box is not None:
        draw_box(ax, box.tolist() if isinstance(box, Tensor) else box, color="red", width=1.5)
    ax.title.set_fontsize(8)


def show_top_maps(
    images: Sequence,
    maps: Tensor,
    boxes: Tensor,
    gt_boxes: Sequence[Tensor],
    titles: Sequence[Sequence[str]],
    row_labels: Sequence[str],
    *,
    panel: float = 1.5,
):
    """The paper's Figs. 3-4: each image (with its ground truth), then the maps of its top-k classes with their boxes.

    Args:
        images: N PIL images or ``(H, W, 3)`` arrays, each of its maps' size.
        maps: ``Tensor[N, k, H, W]``, raw maps (each panel divides by its own maximum).
        boxes: ``LongTensor[N, k, 4]``, the box of each map (red).
        gt_boxes: N tensors ``LongTensor[m_i, 4]`` (green, dashed).
        titles: N lists of k panel titles (e.g. ``"1. tabby (0.62)"``).
        row_labels: N titles of the image panels (e.g. ``"true: tabby"``).
        panel: the width of one panel in inches.

    Returns:
        The matplotlib figure: N rows of ``k + 1`` axes.

    Raises:
        ValueError: the arguments disagree in N or k.
    """
    import matplotlib.pyplot as plt

    n = len(images)
    if maps.ndim != 4 or boxes.ndim != 3 or maps.shape[:2] != boxes.shape[:2] or maps.shape[0] != n:
        raise ValueError(
            f"`maps` (N, k, H, W) and `boxes` (N, k, 4) must agree with {n} images, "
            f"but got shapes {tuple(maps.shape)} and {tuple(boxes.shape)}."
        )
    k = maps.shape[1]
    if len(gt_boxes) != n or len(titles) != n or len(row_labels) != n or any(len(t) != k for t in titles):
        raise ValueError(
            f"`gt_boxes`, `titles` and `row_labels` must have one entry per image ({n}), and each "
            f"`titles` entry {k} titles, but got {len(gt_boxes)}, {len(titles)} and {len(row_labels)}."
        )
    fig, axes = plt.subplots(
        max(n, 1), k + 1, figsize=(panel * (k + 1), (panel + 0.4) * max(n, 1)), squeeze=False, layout="constrained"
    )
    for i in range(n):
        gt = gt_boxes[i].tolist()
        axes[i, 0].imshow(_as_array(images[i]))
        for g in gt:
            draw_box(axes[i, 0], g, color="lime", style="--", width=1.5)
        axes[i, 0].set_title(row_labels[i], fontsize=8)
        axes[i, 0].axis("off")
        for j in range(k):
            draw_map(axes[i, j + 1], images[i], maps[i, j], boxes[i, j], gt, title=titles[i][j])
    return fig


def show_grouped_maps(
    images: Sequence,
    maps: Tensor,
    boxes: Tensor,
    gt_boxes: Sequence[Tensor],
    titles: Sequence[str],
    groups: Sequence[str],
    *,
    columns: int = 4,
    panel: float = 2.4,
):
    """Examples in rows by group (e.g. the reasons of ``camlib.study.diagnostics.failure_reasons``): map, box, ground truth.

    One row per group, in the order of the groups' first example; each row
    holds its group's examples in the given order, at most ``columns``
    (the rest are not drawn), and the group's name as its y label.

    Args:
        images: N PIL images or ``(H, W, 3)`` arrays.
        maps: ``Tensor[N, H, W]``, each example's map at its image's size (raw).
        boxes: ``LongTensor[N, 4]``, each example's box (red).
        gt_boxes: N tensors ``LongTensor[m_i, 4]`` (green, dashed).
        titles: N panel titles.
        groups: N group names.
        columns: panels per row, >= 1.
        panel: the width of one panel in inches.

    Returns:
        The matplotlib figure: ``rows x columns`` axes, the empty ones hidden.

    Raises:
        ValueError: the arguments disagree in N, or ``columns < 1``.
    """
    import matplotlib.pyplot as plt

    n = len(images)
    if any(len(x) != n for x in (maps, boxes, gt_boxes, titles, groups)):
        raise ValueError(
            f"`maps`, `boxes`, `gt_boxes`, `titles` and `groups` must have one entry per image ({n}), "
            f"but got {[len(x) for x in (maps, boxes, gt_boxes, titles, groups)]}."
        )
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"`columns` must be a positive int, but got {columns!r}.")
    order = list(dict.fromkeys(groups))
    fig, axes = plt.subplots(
        max(len(order), 1),
        columns,
        figsize=(panel * columns, 2.5 * max(len(order), 1)),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat:
        ax.axis("off")
    for row, group in enumerate(order):
        for col, i in enumerate([i for i, g in enumerate(groups) if g == group][:columns]):
            draw_map(axes[row, col], images[i], maps[i], boxes[i], gt_boxes[i], title=titles[i])
        axes[row, 0].set_axis_on()
        axes[row, 0].set_xticks([])
        axes[row, 0].set_yticks([])
        axes[row, 0].set_ylabel(group, fontsize=9)
    return fig


def show_threshold_curves(
    curves: dict,
    threshold: float | None = 0.2,
    *,
    label: str | None = None,
    iou_index: int = 0,
    title: str | None = "GT-known box accuracy against the threshold",
):
    """Box accuracy against the map threshold, one line per method (Choe et al.'s reading of the threshold).

    Each line is ``100 * acc.curves[iou_index]`` over ``acc.thresholds`` (a
    ``camlib.metrics.BoxAccuracy``); a method given several runs (seeds) is
    drawn as the mean over runs with the runs' range as a band. A dot marks
    each line's value at ``threshold`` (the nearest grid point), a star its
    best threshold (the smallest on ties, as ``acc.best_thresholds``), and a
    dashed vertical line the fixed ``threshold``.

    Args:
        curves: ``{name: BoxAccuracy}`` or ``{name: [BoxAccuracy of run 1, ...]}``, in legend
            order; every run of a method on the same thresholds.
        threshold: the fixed threshold to mark (the paper: 0.2 of the map's maximum); None: none.
        label: the vertical line's legend entry (default ``"the paper's 20%"`` for 0.2).
        iou_index: which IoU threshold's curve (0: the first, IoU 0.5 for MaxBoxAcc); the y label says which.
        title: the axes' title (None: none).

    Returns:
        The matplotlib figure (one axes).
    """
    import matplotlib.pyplot as plt

    from camlib.metrics.accuracy import BoxAccuracy

    if not curves:
        raise ValueError("`curves` must hold at least one BoxAccuracy, but is empty.")
    fig, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
    iou = None
    for name, accs in curves.items():
        runs = [accs] if isinstance(accs, BoxAccuracy) else list(accs)
        if not runs or not all(isinstance(a, BoxAccuracy) for a in runs):
            raise TypeError(f"`curves[{name!r}]` must be a BoxAccuracy or a non-empty list of them.")
        iou = float(runs[0].iou_thresholds[iou_index])
        tau = runs[0].thresholds
        ys = 100 * torch.stack([a.curves[iou_index] for a in runs])  # (runs, T)
        mean = ys.mean(0)
        best = int(mean.argmax())  # the first maximum: the smallest threshold on ties
        (line,) = ax.plot(tau, mean, label=f"{name} (best {tau[best]:.2f}: {mean[best]:.1f}%)")
        if len(runs) > 1:
            ax.fill_between(tau, ys.min(0).values, ys.max(0).values, alpha=0.2, color=line.get_color())
        if threshold is not None:
            ax.plot([threshold], [mean[(tau - threshold).abs().argmin()]], "o", color=line.get_color())
        ax.plot([tau[best]], [mean[best]], "*", ms=10, color=line.get_color())
    if threshold is not None:
        ax.axvline(threshold, color="black", lw=0.8, ls="--", label=label or f"the paper's {threshold:.0%}")
    ax.set_xlabel("threshold (fraction of the map's maximum)")
    ax.set_ylabel(f"box accuracy, IoU ≥ {iou:g} (%)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


__all__ += ["show_confused_pairs", "show_crops"]


def show_crops(columns: dict[str, Sequence], indices: Sequence[int], *, size: int, panel: float = 2.2):
    """The same images as several inputs, side by side: one row per image, one column per input.

    What a classifier sees in each setting (e.g. the whole image, a crop around
    the CAM box, a crop around the ground-truth box), each resized to
    ``size x size`` as it enters the network (aspect ratio not kept).

    Args:
        columns: ``{title: data set}``, each indexed like the others, whose
            items have a PIL ``image`` (a ``camlib.data`` reader without a
            transform, ``camlib.study.crops.BoxCrops`` without one).
        indices: the items shown, one row each.
        size: the side each image is resized to.
        panel: the side of one panel in inches.

    Returns:
        The matplotlib figure; the first row's panels carry the titles.

    Raises:
        ValueError: no column or no index.
    """
    import matplotlib.pyplot as plt

    if not columns or not len(indices):
        raise ValueError(f"`columns` and `indices` must not be empty, but got {len(columns)} columns and "
                         f"{len(indices)} indices.")  # fmt: skip
    fig, axes = plt.subplots(len(indices), len(columns), figsize=(panel * len(columns), panel * len(indices)),
                             squeeze=False, layout="constrained")  # fmt: skip
    for row, i in enumerate(indices):
        for col, (title, data) in enumerate(columns.items()):
            axes[row, col].imshow(_as_array(data[i].image.resize((size, size))))
            axes[row, col].set_title(title if row == 0 else "", fontsize=9)
            axes[row, col].set_axis_off()
    return fig


def show_confused_pairs(labels: Tensor, predictions: dict[str, Tensor], class_names: Sequence[str], *, pairs: int = 6):
    """The pairs of classes the first setting confuses most, and how often every setting confuses them.

    A pair ``(a, b)`` counts the test images of ``a`` classified as ``b``
    plus those of ``b`` classified as ``a``. The pairs are those with the
    highest count under the first entry of ``predictions`` (at most
    ``pairs``, only counts > 0), most confused on top; each setting draws one
    horizontal bar per pair.

    Args:
        labels: ``LongTensor[N]``, the true classes.
        predictions: ``{setting: LongTensor[N]}``, the predicted classes, in legend order.
        class_names: the name of every class (``C`` names).
        pairs: how many pairs, >= 1.

    Returns:
        The matplotlib figure, or None when the first setting confuses no pair.

    Raises:
        ValueError: predictions not one per label, or a class outside ``class_names``.

    Example:
        >>> import torch
        >>> fig = show_confused_pairs(torch.tensor([0, 1, 2]), {"a": torch.tensor([1, 1, 2])}, ["x", "y", "z"])
        >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
        ['x / y']
    """
    import matplotlib.pyplot as plt

    C = len(class_names)
    y = labels.detach().cpu().long().numpy()
    if not predictions:
        raise ValueError("`predictions` must hold at least one setting, but got none.")
    confusion = {}
    for name, predicted in predictions.items():
        p = predicted.detach().cpu().long().numpy()
        if p.shape != y.shape:
            raise ValueError(f"`predictions[{name!r}]` must hold one class per label ({len(y)}), but got {len(p)}.")
        if len(y) and (min(y.min(), p.min()) < 0 or max(y.max(), p.max()) >= C):
            raise ValueError(f"`labels` and `predictions[{name!r}]` must be classes 0 .. {C - 1} of `class_names`.")
        confusion[name] = np.bincount(y * C + p, minlength=C * C).reshape(C, C)  # [true, predicted]
    first = next(iter(confusion.values()))
    both = first + first.T
    np.fill_diagonal(both, 0)
    upper = np.triu(both)
    order = np.argsort(upper, axis=None)[::-1][:pairs]
    chosen = [tuple(int(v) for v in np.unravel_index(o, upper.shape)) for o in order if upper.flat[o] > 0]
    if not chosen:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(chosen) + 1.2), layout="constrained")
    height = 0.8 / len(confusion)
    for j, (name, m) in enumerate(confusion.items()):
        ax.barh(np.arange(len(chosen)) + j * height, [m[a, b] + m[b, a] for a, b in chosen], height, label=name)
    ax.set_yticks(np.arange(len(chosen)) + 0.4 - height / 2)
    ax.set_yticklabels([f"{class_names[a]} / {class_names[b]}" for a, b in chosen], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("test images of one species classified as the other")
    ax.legend(fontsize=8)
    return fig


__all__ += ["show_score_identity"]


def show_score_identity(logits: Tensor, map_means: Tensor, errors: dict[str, Tensor], *, floor: float = 1e-18):
    """The identity ``S_c = mean(M_c) (+ b_c)`` (``camlib.cam.extractor.score_identity``) in two panels.

    1. Every (image, class) pair: the mean of its class map (plus the bias)
       against its logit, with the line ``y = x`` (black) that they lie on.
    2. Histograms of ``log10 |S_c - mean M_c|``, one per entry of ``errors``
       (e.g. float32 and float64), 54 bins from ``log10(floor)`` to 0;
       residuals below ``floor`` (exact zeros) are drawn at ``floor``.

    Args:
        logits, map_means: ``Tensor[N, C]``, the two sides (same shape).
        errors: ``{label: Tensor}``, the absolute residuals of each precision, in legend order.
        floor: the smallest residual drawn, in ``(0, 1)``.

    Returns:
        The matplotlib figure (two axes).

    Raises:
        ValueError: shapes that differ, no ``errors``, or ``floor`` outside ``(0, 1)``.
    """
    import matplotlib.pyplot as plt

    if logits.shape != map_means.shape or logits.ndim != 2:
        raise ValueError(
            f"`logits` and `map_means` must be tensors (N, C) of one shape, but got shapes "
            f"{tuple(logits.shape)} and {tuple(map_means.shape)}."
        )
    if not errors:
        raise ValueError("`errors` must hold at least one {label: residuals} entry, but is empty.")
    if not (isinstance(floor, (int, float)) and 0 < floor < 1):
        raise ValueError(f"`floor` must be a number in (0, 1), but got {floor!r}.")
    x = logits.detach().flatten().double().cpu()
    y = map_means.detach().flatten().double().cpu()
    fig, (ax, hx) = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
    ax.scatter(x.numpy(), y.numpy(), s=4, alpha=0.4)
    lims = [min(x.min(), y.min()).item(), max(x.max(), y.max()).item()]
    ax.plot(lims, lims, color="black", lw=0.8, label="y = x")
    ax.set_xlabel("logit $S_c$")
    ax.set_ylabel("mean of the class map $M_c$ (+ $b_c$)")
    ax.set_title(f"{x.numel()} (image, class) pairs")
    ax.legend()
    low = float(np.log10(floor))
    bins = np.linspace(low, 0, 55)
    for label, error in errors.items():
        hx.hist(
            np.log10(error.detach().flatten().double().cpu().clamp_min(floor).numpy()),
            bins=bins,
            alpha=0.6,
            label=label,
        )
    hx.set_xlabel(f"log10 |S_c - mean M_c| (exact zeros at {low:g})")
    hx.set_ylabel("(image, class) pairs")
    hx.set_title("the residual is rounding")
    hx.legend()
    return fig
