"""camlib.study.figures: what each figure holds."""

from __future__ import annotations

import matplotlib
import torch

from camlib.metrics.accuracy import BoxAccuracy
from camlib.study.figures import metric_bars, training_curves

matplotlib.use("Agg")


def _acc(values):
    curve = torch.tensor(values, dtype=torch.float64)
    tau = torch.linspace(0, 1, len(values), dtype=torch.float64)
    return BoxAccuracy(
        thresholds=tau,
        iou_thresholds=torch.tensor([0.5]),
        curves=curve[None],
        best_thresholds=tau[curve.argmax()][None],
        best_accuracy=curve.max()[None],
        value=float(curve.max()),
        count=10,
    )


def test_training_curves_one_line_per_seed_one_legend_entry_per_label():
    h = [{"epoch": e, "train_accuracy": 0.1 * e, "val_accuracy": 0.05 * e} for e in (1, 2, 3)]
    fig = training_curves({"GAP": [h, h], "GMP": [h]})
    assert len(fig.axes) == 2 and len(fig.axes[0].get_lines()) == 3
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["GAP", "GMP"]
    matplotlib.pyplot.close(fig)


def test_metric_bars_means_whiskers_and_a_reference():
    rows = [
        {"method": "A", "x": 1.0, "y": 4.0},
        {"method": "A", "x": 3.0, "y": None},
        {"method": "B", "x": 5.0, "y": 6.0},
    ]
    fig = metric_bars(rows, {"x": "X", "y": "Y"}, methods=["B", "A"], reference=(2.5, "centred box"))
    ax = fig.axes[0]
    heights = [float(p.get_height()) for p in ax.patches]
    assert heights == [5.0, 6.0, 2.0, 4.0]  # B first (as asked), then A; A's y ignores its missing value
    assert [t.get_text() for t in ax.get_xticklabels()] == ["X", "Y"]
    assert "centred box" in [t.get_text() for t in ax.get_legend().get_texts()]
    matplotlib.pyplot.close(fig)
