"""camlib.plots: what each figure holds."""

from __future__ import annotations

import matplotlib
import pytest
import torch

from camlib.metrics import BoxAccuracy
from camlib.plots import metric_bars, threshold_curves, training_curves

matplotlib.use("Agg")


def _acc(values):
    curve = torch.tensor(values, dtype=torch.float64)
    tau = torch.linspace(0, 1, len(values), dtype=torch.float64)
    return BoxAccuracy(thresholds=tau, iou_thresholds=torch.tensor([0.5]), curves=curve[None],
                       best_thresholds=tau[curve.argmax()][None], best_accuracy=curve.max()[None],
                       value=float(curve.max()), count=10)


def test_threshold_curves_draw_the_mean_the_band_and_the_best():
    fig = threshold_curves({"GAP": [_acc([0.2, 0.6, 0.4]), _acc([0.4, 0.8, 0.2])], "GMP": [_acc([0.5, 0.1, 0.0])]})
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # GAP: mean curve 30, 70, 30 percent: best at threshold 0.5; GMP: best 50% at 0
    assert labels == ["GAP (best 0.50: 70.0%)", "GMP (best 0.00: 50.0%)", "the paper's 20%"]
    assert [float(y) for y in ax.get_lines()[0].get_ydata()] == pytest.approx([30.0, 70.0, 30.0])
    assert len(ax.collections) == 1  # one band: GAP has two runs, GMP one
    matplotlib.pyplot.close(fig)


def test_training_curves_one_line_per_seed_one_legend_entry_per_label():
    h = [{"epoch": e, "train_accuracy": 0.1 * e, "val_accuracy": 0.05 * e} for e in (1, 2, 3)]
    fig = training_curves({"GAP": [h, h], "GMP": [h]})
    assert len(fig.axes) == 2 and len(fig.axes[0].get_lines()) == 3
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["GAP", "GMP"]
    matplotlib.pyplot.close(fig)


def test_metric_bars_means_whiskers_and_a_reference():
    rows = [{"method": "A", "x": 1.0, "y": 4.0}, {"method": "A", "x": 3.0, "y": None}, {"method": "B", "x": 5.0, "y": 6.0}]
    fig = metric_bars(rows, {"x": "X", "y": "Y"}, methods=["B", "A"], reference=(2.5, "centred box"))
    ax = fig.axes[0]
    heights = [float(p.get_height()) for p in ax.patches]
    assert heights == [5.0, 6.0, 2.0, 4.0]  # B first (as asked), then A; A's y ignores its missing value
    assert [t.get_text() for t in ax.get_xticklabels()] == ["X", "Y"]
    assert "centred box" in [t.get_text() for t in ax.get_legend().get_texts()]
    matplotlib.pyplot.close(fig)
