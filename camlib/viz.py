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
