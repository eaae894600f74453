"""camlib.viz figures: what they draw, read back from the axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from camlib.viz import display_image, draw_box, show_localizations  # noqa: E402


def test_show_localizations_titles_and_boxes():
    images = torch.zeros(2, 3, 10, 10)
    maps = torch.zeros(2, 10, 10)
    boxes = torch.tensor([[0, 0, 4, 4], [0, 0, 9, 9]])
    gt = [torch.tensor([[0, 0, 4, 4]]), torch.tensor([[0, 0, 4, 9]])]  # IoU 1 and 50/100
    gt_first = torch.stack([g[0] for g in gt])
    fig = show_localizations(images, {"GAP": (maps, boxes), "GMP": (maps, gt_first)}, gt, row_labels=["a", "b"])
    titles = [ax.get_title() for ax in fig.axes]
    rects = [[p for p in ax.patches if isinstance(p, Rectangle)] for ax in fig.axes]
    plt.close(fig)
    assert titles == ["GAP: IoU 1.00", "GMP: IoU 1.00", "IoU 0.50", "IoU 1.00"]  # row by row
    assert [len(r) for r in rects] == [2, 2, 2, 2]  # the ground truth and the box in each panel
    red = [r for r in rects[2] if r.get_edgecolor()[:3] == (1.0, 0.0, 0.0)][0]
    assert (red.get_x(), red.get_y(), red.get_width(), red.get_height()) == (-0.5, -0.5, 10, 10)


def test_show_localizations_bad_input():
    with pytest.raises(ValueError, match=r"`columns\['GAP'\]` must hold 2 maps and 2 boxes"):
        show_localizations(torch.zeros(2, 3, 4, 4), {"GAP": (torch.zeros(1, 4, 4), torch.zeros(1, 4))}, [None, None])
    with pytest.raises(ValueError, match=r"`image` must be a Tensor\[3, H, W\]"):
        display_image(torch.zeros(4, 4))


def test_draw_box_covers_the_inclusive_pixels():
    fig, ax = plt.subplots()
    draw_box(ax, torch.tensor([2, 3, 5, 3]), color="red", style="--")
    (rect,) = ax.patches
    plt.close(fig)
    # pixels 2..5 (4 wide) and row 3 (1 high), each pixel spanning [x - 0.5, x + 0.5]
    assert (rect.get_x(), rect.get_y(), rect.get_width(), rect.get_height()) == (1.5, 2.5, 4, 1)
    assert rect.get_linestyle() == "--" and not rect.get_fill()
