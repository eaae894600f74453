"""Figures of numbers: training curves, box accuracy against the threshold, metrics over seeds.

``camlib.viz`` draws images with their maps and boxes; this module draws the
numbers the chapters compare. Every function takes plain records (lists of
dicts, ``BoxAccuracy`` objects) and returns the matplotlib ``Figure``, so a
notebook cell is one call and the figure can be tested for what it holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["metric_bars", "training_curves"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def training_curves(
    histories: Mapping[str, Sequence[Sequence[Mapping[str, float]]]],
    keys: Sequence[str] = ("train_accuracy", "val_accuracy"),
    *,
    title: str = "",
):
    """Per-epoch curves of several networks: one panel per key, one colour per label, one line per seed.

    Args:
        histories: ``{label: [history of seed 1, history of seed 2, ...]}``; a
            history is ``fit``'s list of per-epoch dicts.
        keys: the record keys to draw (one panel each).
        title: the figure's title.

    Example:
        >>> fig = training_curves({"GAP": [[{"epoch": 1, "train_accuracy": .5, "val_accuracy": .4},
        ...                                  {"epoch": 2, "train_accuracy": .7, "val_accuracy": .6}]]})
        >>> [ax.get_ylabel() for ax in fig.axes], [float(y) for y in fig.axes[1].get_lines()[0].get_ydata()]
        (['train accuracy', 'val accuracy'], [0.4, 0.6])
    """
    plt = _plt()
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.2), squeeze=False, layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, key in zip(axes[0], keys):
        for i, (label, runs) in enumerate(histories.items()):
            for j, history in enumerate(runs):
                epochs = [h.get("epoch", n + 1) for n, h in enumerate(history)]
                ax.plot(
                    epochs,
                    [h[key] for h in history],
                    "o-",
                    ms=3,
                    color=colours[i % len(colours)],
                    label=label if j == 0 else None,
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel(key.replace("_", " "))
    axes[0, -1].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def metric_bars(
    rows: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, str],
    *,
    methods: Sequence[str] | None = None,
    group: str = "method",
    ylabel: str = "percent",
    reference: tuple[float, str] | None = None,
):
    """Bars of each metric per method: the mean over runs, the runs as dots, the standard deviation as a whisker.

    Args:
        rows: one record per run, with ``group`` (the method) and the metric keys.
        metrics: ``{key: label}``, the metrics in order (one group of bars each).
        methods: the methods in order (default: as they first appear).
        group: the record key that names the method.
        ylabel: the y-axis label.
        reference: ``(value, label)``: a dotted horizontal line (e.g. a centred box's accuracy).

    Example:
        >>> rows = [{"method": "GAP", "err": 10.0}, {"method": "GAP", "err": 20.0}, {"method": "GMP", "err": 5.0}]
        >>> fig = metric_bars(rows, {"err": "error"})
        >>> [float(round(b.get_height(), 1)) for b in fig.axes[0].patches]
        [15.0, 5.0]
    """
    plt = _plt()
    methods = list(dict.fromkeys(methods or [r[group] for r in rows]))
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(metrics) + 2), 3.4), layout="constrained")
    for j, method in enumerate(methods):
        x = np.arange(len(metrics)) + (j - (len(methods) - 1) / 2) * width
        values = [[float(r[k]) for r in rows if r[group] == method and r.get(k) is not None] for k in metrics]
        means = [np.mean(v) if v else np.nan for v in values]
        sds = [np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in values]
        ax.bar(x, means, width, yerr=sds, alpha=0.75, label=method, capsize=3)
        for xi, v in zip(x, values):
            ax.plot([xi] * len(v), v, "k.", ms=4)
    if reference is not None:
        ax.axhline(reference[0], color="0.4", ls=":", label=reference[1])
    ax.set_xticks(np.arange(len(metrics)), list(metrics.values()))
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return fig
