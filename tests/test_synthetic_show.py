"""camlib.data.synthetic.show: sample grids and statistics of every benchmark."""

from __future__ import annotations

import matplotlib
import pytest

from camlib.data.synthetic import (
    FineGrained,
    Localization,
    Scenes,
    SortOfClevr,
    Text,
    draw_item,
    show_samples,
    summarize,
)

matplotlib.use("Agg")

BENCHMARKS = [Localization, FineGrained, Scenes, Text, SortOfClevr]


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda b: b.__name__)
def test_show_samples_draws_every_item(benchmark):
    import matplotlib.pyplot as plt

    fig = show_samples(benchmark(3, seed=0), 3, ncols=2)
    assert len([ax for ax in fig.axes if ax.get_title()]) == 3
    plt.close(fig)


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda b: b.__name__)
def test_summarize(benchmark):
    row = summarize(benchmark(6, seed=0), 6)
    assert row["benchmark"] == benchmark.__name__ and row["items"] == 6
    assert 0 < row["box side / image side (%)"] <= 100 if row["boxes per image"] else True


def test_draw_item_refuses_other_things():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    with pytest.raises(TypeError, match=r"`item` must be an item of camlib.data.synthetic, but got tuple"):
        draw_item(ax, (1, 2))
    plt.close(fig)
