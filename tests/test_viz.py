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
    grid = fig.axes[0].get_gridspec()
    plt.close(fig)
    # two images side by side, each with its two methods (max_panels = 4), its label over its first panel
    assert (grid.nrows, grid.ncols) == (1, 4)
    assert titles == ["a\nGAP: IoU 1.00", "GMP: IoU 1.00", "b\nGAP: IoU 0.50", "GMP: IoU 1.00"]
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


def test_show_score_identity_draws_both_sides_and_the_residuals():
    import numpy as np

    from camlib.viz import show_score_identity

    logits = torch.tensor([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])  # 6 (image, class) pairs
    means = logits + torch.tensor([[0.0, 1e-6, 0.0], [0.0, 0.0, 1e-3]])
    errors = {"float32": (logits - means).abs(), "float64": torch.tensor([0.0, 1e-16, 1e-15, 0.0, 0.0, 1e-16])}
    fig = show_score_identity(logits, means, errors)
    scatter, hist = fig.axes[:2]
    assert len(fig.axes) == 2
    assert scatter.get_title() == "6 (image, class) pairs" and hist.get_title() == "the residual is rounding"
    points = scatter.collections[0].get_offsets()
    assert np.allclose(points[:, 0], logits.flatten().numpy()) and np.allclose(points[:, 1], means.flatten().numpy())
    (line,) = scatter.get_lines()  # y = x across the range of both sides: -2 to 4
    assert line.get_xdata() == pytest.approx([-2.0, 4.0]) and line.get_ydata() == pytest.approx([-2.0, 4.0])
    # one histogram per precision, every pair counted once; exact zeros sit in the first bin (log10 1e-18)
    counts = {}
    for patch in hist.patches:
        counts.setdefault(patch.get_facecolor(), []).append(patch.get_height())
    assert sorted(sum(c) for c in counts.values()) == [6, 6]
    assert sorted(c[0] for c in counts.values()) == [3, 4]  # zeros: 4 of float32's pairs, 3 of float64's
    assert [t.get_text() for t in hist.get_legend().get_texts()] == ["float32", "float64"]
    assert "exact zeros at -18" in hist.get_xlabel()
    plt.close(fig)


def test_show_score_identity_bad_input():
    from camlib.viz import show_score_identity

    with pytest.raises(ValueError, match=r"`logits` and `map_means` must be tensors \(N, C\) of one shape"):
        show_score_identity(torch.zeros(2, 3), torch.zeros(3, 2), {"float32": torch.zeros(6)})
    with pytest.raises(ValueError, match="`errors` must hold at least one"):
        show_score_identity(torch.zeros(2, 3), torch.zeros(2, 3), {})
    with pytest.raises(ValueError, match=r"`floor` must be a number in \(0, 1\), but got 0"):
        show_score_identity(torch.zeros(2, 3), torch.zeros(2, 3), {"a": torch.zeros(6)}, floor=0)


def test_show_crops_one_row_per_image_one_column_per_input():
    from PIL import Image

    from camlib.data.common import Item
    from camlib.viz import show_crops

    items = [Item(Image.new("RGB", (8, 4), (255, 0, 0)), 0, torch.zeros(0, 4), str(i), (4, 8)) for i in range(3)]
    fig = show_crops({"whole image": items, "crop": items}, [0, 2], size=5)
    titles = [ax.get_title() for ax in fig.axes]
    shapes = [ax.get_images()[0].get_array().shape for ax in fig.axes]
    plt.close(fig)
    assert titles == ["whole image", "crop", "", ""] and shapes == [(5, 5, 3)] * 4  # resized to 5 x 5
    with pytest.raises(ValueError, match=r"`columns` and `indices` must not be empty, but got 1 columns and 0"):
        show_crops({"a": items}, [], size=5)


def test_show_confused_pairs_picks_the_most_confused_pairs():
    from camlib.viz import show_confused_pairs

    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 3])
    # whole image: 0 <-> 1 confused three times (0->1 twice, 1->0 once), 2 -> 3 once; 3 is right
    whole = torch.tensor([1, 1, 0, 0, 1, 3, 2, 3])
    crop = torch.tensor([0, 1, 0, 1, 1, 2, 2, 3])  # 0 -> 1 once, nothing else
    fig = show_confused_pairs(labels, {"whole": whole, "crop": crop}, ["a", "b", "c", "d"], pairs=5)
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    widths = [[bar.get_width() for bar in c] for c in ax.containers]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    assert ticks == ["a / b", "c / d"] and legend == ["whole", "crop"]
    assert widths == [[3, 1], [1, 0]]
    assert show_confused_pairs(labels, {"right": labels}, ["a", "b", "c", "d"]) is None  # nothing confused
    with pytest.raises(ValueError, match=r"`predictions\['x'\]` must hold one class per label \(8\), but got 2"):
        show_confused_pairs(labels, {"x": labels[:2]}, ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match=r"must be classes 0 .. 2 of `class_names`"):
        show_confused_pairs(labels, {"x": labels}, ["a", "b", "c"])


# --- chapter 02's figures: draw_map, show_top_maps, show_grouped_maps, show_threshold_curves ---------------


def _rects(ax):
    """The rectangles of a panel as (colour, (x, y, w, h))."""
    return [
        (r.get_edgecolor()[:3], (r.get_x(), r.get_y(), r.get_width(), r.get_height()))
        for r in ax.patches
        if isinstance(r, Rectangle)
    ]


def test_draw_map_normalizes_and_draws_box_and_ground_truth():
    from camlib.viz import draw_map

    fig, ax = plt.subplots()
    cam = torch.zeros(10, 10)
    cam[2, 3] = 4.0  # max 4: shown as 1
    draw_map(
        ax, torch.zeros(10, 10, 3).numpy(), cam, [0, 0, 4, 4], torch.tensor([[1, 1, 8, 8], [0, 0, 0, 0]]), title="t"
    )
    overlay = ax.get_images()[1].get_array()
    rects, title, size = _rects(ax), ax.get_title(), ax.title.get_fontsize()
    plt.close(fig)
    assert overlay.max() == 1.0 and overlay[2, 3] == 1.0 and overlay.sum() == 1.0
    # two ground-truth boxes (green) then the box (red); inclusive pixels: x1 - 0.5, width x2 - x1 + 1
    assert [c for c, _ in rects] == [(0.0, 1.0, 0.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)]
    assert rects[2][1] == (-0.5, -0.5, 5, 5) and rects[0][1] == (0.5, 0.5, 8, 8)
    assert title == "t" and size == 8
    fig, ax = plt.subplots()
    draw_map(ax, torch.zeros(4, 4, 3).numpy(), torch.zeros(4, 4))  # a constant map, no box: stays 0, nothing drawn
    overlay, rects = ax.get_images()[1].get_array(), _rects(ax)
    plt.close(fig)
    assert overlay.max() == 0.0 and rects == []
    with pytest.raises(ValueError, match=r"`cam` must be a 2-D tensor \(H, W\)"):
        draw_map(None, torch.zeros(4, 4, 3).numpy(), torch.zeros(1, 4, 4))


def test_show_top_maps_lays_out_images_then_maps():
    from camlib.viz import show_top_maps

    images = [torch.zeros(8, 8, 3).numpy()] * 2
    maps = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    boxes = torch.tensor([[0, 0, 3, 3]]).expand(2, 3, 4)
    gt = [torch.tensor([[0, 0, 7, 7]]), torch.tensor([[1, 1, 2, 2], [4, 4, 6, 6]])]
    titles = [["1. a", "2. b", "3. c"], ["1. d", "2. e", "3. f"]]
    fig = show_top_maps(images, maps, boxes, gt, titles, ["true: a", "true: d"])
    got = [ax.get_title() for ax in fig.axes]
    counts = [len(_rects(ax)) for ax in fig.axes]
    plt.close(fig)
    assert got == ["true: a", "1. a", "2. b", "3. c", "true: d", "1. d", "2. e", "3. f"]  # 2 rows of 1 + k
    assert counts == [1, 2, 2, 2, 2, 3, 3, 3]  # the image: its ground truth; a map: the ground truth and its box
    with pytest.raises(ValueError, match=r"must have one entry per image \(2\), and each `titles` entry 3 titles"):
        show_top_maps(images, maps, boxes, gt, [["1. a"], ["1. d"]], ["true: a", "true: d"])
    with pytest.raises(ValueError, match=r"`maps` \(N, k, H, W\) and `boxes` \(N, k, 4\) must agree with 2 images"):
        show_top_maps(images, maps[:1], boxes[:1], gt, titles, ["a", "d"])


def test_show_grouped_maps_one_row_per_group_at_most_columns():
    from camlib.viz import show_grouped_maps

    n = 4
    images = [torch.zeros(6, 6, 3).numpy()] * n
    boxes = torch.tensor([[0, 0, 2, 2]]).expand(n, 4)
    gt = [torch.tensor([[0, 0, 5, 5]])] * n
    fig = show_grouped_maps(
        images, torch.ones(n, 6, 6), boxes, gt, ["p", "q", "r", "s"], ["b", "a", "b", "b"], columns=2
    )
    axes = fig.axes
    titles = [ax.get_title() for ax in axes]
    ylabels = [axes[0].get_ylabel(), axes[2].get_ylabel()]
    visible = [ax.axison for ax in axes]
    plt.close(fig)
    # rows in the order of the groups' first example: "b" (examples 0 and 2; 3 is left out), then "a" (1)
    assert len(axes) == 4 and titles == ["p", "r", "q", ""] and ylabels == ["b", "a"]
    assert visible == [True, False, True, False]  # the first panel of a row keeps its frame for the label
    with pytest.raises(ValueError, match=r"must have one entry per image \(4\)"):
        show_grouped_maps(images, torch.ones(n, 6, 6), boxes, gt, ["p"], ["b"] * n)
    with pytest.raises(ValueError, match=r"`columns` must be a positive int"):
        show_grouped_maps(images, torch.ones(n, 6, 6), boxes, gt, ["p"] * n, ["b"] * n, columns=0)


def test_show_threshold_curves_draws_each_curve_its_best_and_the_fixed_threshold():
    from camlib.metrics.accuracy import BoxAccuracy
    from camlib.viz import show_threshold_curves

    acc = BoxAccuracy(
        thresholds=torch.tensor([0.0, 0.1, 0.2, 0.3]),
        iou_thresholds=torch.tensor([0.5]),
        curves=torch.tensor([[0.1, 0.5, 0.4, 0.2]]),
        best_thresholds=torch.tensor([0.1]),
        best_accuracy=torch.tensor([0.5]),
        value=0.5,
        count=10,
    )
    fig = show_threshold_curves({"CAM": acc}, 0.2)
    ax = fig.axes[0]
    lines = ax.get_lines()
    data = [
        ([round(float(x), 6) for x in line.get_xdata()], [round(float(y), 6) for y in line.get_ydata()])
        for line in lines
    ]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    # the curve in percent, its value at the fixed threshold (dot), its best (star), the fixed threshold (vertical)
    assert data[0] == ([0.0, 0.1, 0.2, 0.3], [10.0, 50.0, 40.0, 20.0])
    assert data[1] == ([0.2], [40.0]) and data[2] == ([0.1], [50.0]) and data[3][0] == [0.2, 0.2]
    assert legend == ["CAM (best 0.10: 50.0%)", "the paper's 20%"]
    with pytest.raises(ValueError, match=r"`curves` must hold at least one BoxAccuracy"):
        show_threshold_curves({})


@pytest.mark.parametrize(
    "blobs, title",
    [(0, "0 components, largest 0 px"), (1, "1 component, largest 4 px"), (2, "2 components, largest 4 px")],
)
def test_show_box_protocol_counts_components_in_words(blobs, title):
    import numpy as np

    from camlib.viz import show_box_protocol

    cam = torch.zeros(10, 10)
    for b in range(blobs):  # 2 x 2 blobs, 4 px each, apart (not 8-connected)
        cam[1 + 5 * b : 3 + 5 * b, 1:3] = 1.0
    fig = show_box_protocol(np.zeros((10, 10, 3), dtype=np.uint8), cam)
    titles = [ax.get_title() for ax in fig.axes[:4]]
    plt.close(fig)
    assert titles[2] == title


def test_show_threshold_curves_draws_the_mean_of_runs_with_a_band_and_says_which_iou():
    from camlib.metrics.accuracy import BoxAccuracy
    from camlib.viz import show_threshold_curves

    def acc(values, iou=0.5):
        curve = torch.tensor(values, dtype=torch.float64)
        tau = torch.linspace(0, 1, len(values), dtype=torch.float64)
        return BoxAccuracy(
            thresholds=tau,
            iou_thresholds=torch.tensor([iou]),
            curves=curve[None],
            best_thresholds=tau[curve.argmax()][None],
            best_accuracy=curve.max()[None],
            value=float(curve.max()),
            count=10,
        )

    fig = show_threshold_curves(
        {"GAP": [acc([0.2, 0.6, 0.4]), acc([0.4, 0.8, 0.2])], "GMP": [acc([0.5, 0.1, 0.0])]}, title=None
    )
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # GAP: mean curve 30, 70, 30 percent: best at threshold 0.5; GMP: best 50% at 0
    assert labels == ["GAP (best 0.50: 70.0%)", "GMP (best 0.00: 50.0%)", "the paper's 20%"]
    assert [float(y) for y in ax.get_lines()[0].get_ydata()] == pytest.approx([30.0, 70.0, 30.0])
    assert len(ax.collections) == 1  # one band: GAP has two runs, GMP one
    assert ax.get_ylabel() == "box accuracy, IoU ≥ 0.5 (%)" and ax.get_title() == ""
    plt.close(fig)
    # the label follows the curve drawn: MaxBoxAccV2's IoU 0.7 curve says 0.7, not 0.5
    fig = show_threshold_curves({"CAM": acc([0.1, 0.3, 0.2], iou=0.7)}, None)
    assert fig.axes[0].get_ylabel() == "box accuracy, IoU ≥ 0.7 (%)" and len(fig.axes[0].get_lines()) == 2
    plt.close(fig)
