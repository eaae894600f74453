"""Every figure camlib draws for the book reads at the page's width (camlib.viz.legibility).

A figure wider than the book's text column is shrunk to it, and its text with it: the figures are
made here with the inputs the chapters give them, and each must keep its smallest text at
``MIN_FONT`` points or more and its narrowest panel at ``MIN_PANEL`` points or more once shown,
fill at least ``MIN_SHARE`` of the column when it has several panels (no thin strip of images), and
have no two texts that overlap (a long title running into the next panel's).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from camlib import viz  # noqa: E402

MIN_FONT = 6.0  # points, as shown: below it a label needs a zoom
MIN_PANEL = 72.0  # points (an inch): a map smaller than that shows no shape
MIN_SHARE = 0.5  # of the text column, for a figure of several panels

G = torch.Generator().manual_seed(0)


def _maps(*shape):
    return torch.rand(*shape, generator=G)


def _figures():
    """(name, a function that draws the figure as a chapter calls it)."""
    boxes6, gt6 = torch.tensor([[2, 2, 20, 20]] * 6), [torch.tensor([[0, 0, 15, 15]])] * 6
    labels6 = [f"class {i}" for i in range(6)]
    photos = [Image.new("RGB", (380, 216)) for _ in range(3)]
    yield "00 show_cams, 5 classes per photo", lambda: viz.show_cams(
        photos, [_maps(5, 216, 380) for _ in photos], [[f"{j}. class name" for j in range(5)]] * 3,
        row_labels=["photo a", "photo b", "photo c"], panel=1.7)  # fmt: skip
    for k in (1, 2, 3):
        yield f"show_localizations, {k} method(s), 6 images", lambda k=k: viz.show_localizations(
            _maps(6, 3, 32, 32), {f"method {j}": (_maps(6, 32, 32), boxes6) for j in range(k)}, gt6,
            row_labels=labels6)  # fmt: skip
    images = [torch.zeros(64, 64, 3).numpy()] * 3
    yield "02 show_top_maps, top 5", lambda: viz.show_top_maps(
        images, _maps(3, 5, 64, 64), torch.tensor([[0, 0, 30, 30]]).expand(3, 5, 4), [torch.tensor([[0, 0, 63, 63]])] * 3,
        [[f"{j}. a class name" for j in range(1, 6)]] * 3, ["true: a", "true: b", "true: c"])  # fmt: skip
    yield "02 show_grouped_maps, 4 columns", lambda: viz.show_grouped_maps(
        images + images[:1], _maps(4, 64, 64), torch.tensor([[0, 0, 30, 30]]).expand(4, 4),
        [torch.tensor([[0, 0, 63, 63]])] * 4, ["a title", "b title", "c title", "d title"], ["why 1", "why 2"] * 2,
        columns=4)  # fmt: skip
    questions = ["hit: what colour is the object nearest to the red object? blue / green",
                 "miss: how many objects have the shape of the grey object? 3 / 1"] * 3  # fmt: skip
    yield "06 show_localizations, the questions as labels", lambda: viz.show_localizations(
        images * 2, {"answer CAM": (_maps(6, 64, 64), boxes6)}, gt6, row_labels=questions)  # fmt: skip
    yield "05 show_images, six flagged negatives", lambda: viz.show_images(
        [Image.new("RGB", (640, 427))] * 6, ["COCO_val2014_000000123456"] * 6)  # fmt: skip


@pytest.mark.parametrize("name, draw", list(_figures()), ids=[n for n, _ in _figures()])
def test_a_chapter_figure_reads_at_the_pages_width(name, draw):
    fig = draw()
    seen = viz.legibility(fig)
    several = sum(1 for ax in fig.axes if ax.images or ax.lines or ax.patches or ax.collections) > 1
    plt.close(fig)
    assert seen.font >= MIN_FONT, f"{name}: its smallest text shows at {seen.font:.1f} pt"
    assert seen.panel >= MIN_PANEL, f"{name}: its narrowest panel shows at {seen.panel:.0f} pt"
    assert not several or seen.width_share >= MIN_SHARE, f"{name}: it fills {seen.width_share:.0%} of the column"
    assert seen.overlaps == 0, f"{name}: {seen.overlaps} pair(s) of its texts overlap"


def test_the_check_finds_a_shrunk_text_a_thin_panel_and_a_strip():
    fig, axes = plt.subplots(1, 12, figsize=(24, 2))  # twelve panels shrunk to a third: 10 pt reads as 3
    for ax in axes:
        ax.imshow([[0, 1]])
        ax.set_title("t", fontsize=10)
    seen = viz.legibility(fig)
    plt.close(fig)
    assert seen.font == pytest.approx(10 * viz.CONTENT_WIDTH / 24) and seen.font < MIN_FONT and seen.panel < MIN_PANEL
    fig, axes = plt.subplots(6, 1, figsize=(1.9, 11.4))  # one column of six images: a strip
    for ax in axes:
        ax.imshow([[0, 1]])
    seen = viz.legibility(fig)
    plt.close(fig)
    assert seen.width_share == pytest.approx(1.9 / viz.CONTENT_WIDTH) and seen.width_share < MIN_SHARE


def test_the_check_counts_texts_that_run_into_each_other():
    fig, axes = plt.subplots(1, 3, figsize=(6, 2))
    for ax in axes:
        ax.imshow([[0, 1]])
        ax.set_title("a title far too long for the panel it sits over", fontsize=9)
    assert viz.legibility(fig).overlaps == 2  # each title into the next one's
    for ax in axes:
        ax.set_title(viz.wrap_title("a title far too long for the panel it sits over", 2.0), fontsize=9)
    assert viz.legibility(fig).overlaps == 0
    plt.close(fig)
