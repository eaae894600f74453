"""Controlled experiments: small networks trained on a benchmark, scored on its held-out images.

A chapter's controlled comparison is: draw a benchmark's training and
held-out images (seeds 0 and 1), train the same backbone with each head
under several seeds (``camlib.train.fit_small``, cached), score each network
(``camlib.evaluate_localization``), then compare heads seed by seed. This
module is that loop and its reading, so that chapters call it instead of
writing it:

- ``benchmark_pair``: the training and held-out sets of one benchmark;
- ``compare_heads``: one network per (head, seed), scored; ``Run`` records;
- ``seed_effect``: the per-seed difference of a metric between two methods,
  with its t interval over seeds (``camlib.stats.seed_interval``);
- ``still_improving``: whether a network's held-out accuracy was still
  rising at its last epoch (such a network has not converged, and a
  comparison resting on it is *inconclusive*; ``camlib.stats.verdict``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn
from torch.utils.data import DataLoader, Dataset

from camlib.data.batch import collate
from camlib.evaluation import LocalizationResult, evaluate_localization
from camlib.stats import Interval, seed_interval
from camlib.train import fit_small

__all__ = ["Run", "benchmark_pair", "compare_heads", "seed_effect", "still_improving", "summary_rows"]


def benchmark_pair(benchmark: type, train_size: int, val_size: int, **kwargs: Any) -> tuple[Dataset, Dataset]:
    """A benchmark's training images (seed 0) and held-out images (seed 1), drawn once and held in memory.

    Args:
        benchmark: a benchmark class of ``camlib.data.synthetic`` (``Localization``, ``FineGrained``, ...).
        train_size, val_size: the numbers of images.
        **kwargs: the benchmark's arguments (``image_size``, ``num_classes``, ``clutter``, ``scale``, ...).

    Example:
        >>> from camlib.data.synthetic import Localization
        >>> train, val = benchmark_pair(Localization, 3, 2, image_size=48, num_classes=4)
        >>> len(train), len(val), train.spec()["arguments"].startswith("Localization(3, seed=0")
        (3, 2, True)
    """
    return (benchmark(train_size, seed=0, **kwargs).in_memory(progress=False),
            benchmark(val_size, seed=1, **kwargs).in_memory(progress=False))


@dataclass
class Run:
    """One trained network scored one way.

    Attributes:
        name: the method's name in tables (``"GAP CAM"``, ``"GAP backprop"``).
        head, seed: the network's head and seed.
        net: the trained network (eval mode).
        history: ``fit``'s per-epoch records.
        result: its ``LocalizationResult`` on the held-out images.
    """

    name: str
    head: str
    seed: int
    net: nn.Module = field(repr=False)
    history: list[dict[str, float]] = field(repr=False)
    result: LocalizationResult = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """``result.summary()`` with the method, head, seed and the last epoch's accuracies (percent)."""
        last = self.history[-1]
        return {"method": self.name, "head": self.head, "seed": self.seed,
                "train_accuracy": 100 * last["train_accuracy"],
                "val_accuracy": 100 * last["val_accuracy"] if "val_accuracy" in last else math.nan,
                "still_improving": still_improving(self.history), **self.result.summary()}


def compare_heads(
    train_data: Dataset,
    val_data: Dataset,
    *,
    heads: Sequence[str] = ("gap", "gmp"),
    seeds: Sequence[int] = (0,),
    backprop: Sequence[str] = (),
    threshold: float = 0.2,
    keep_maps: bool = True,
    batch_size: int = 100,
    **train: Any,
) -> list[Run]:
    """One network per (head, seed), each scored by its CAM (and by backprop saliency where asked).

    Args:
        train_data, val_data: the benchmark's training and held-out images.
        heads: the heads to train (``"gap"``, ``"gmp"``, ...).
        seeds: one network per head and seed.
        backprop: the heads whose networks are also scored by gradient saliency.
        threshold: the box protocol's threshold (the paper's 20%).
        keep_maps: keep the maps of the first seed's runs (for figures).
        batch_size: held-out images per evaluation batch.
        **train: ``camlib.train.fit_small``'s arguments (``model``, ``num_classes``,
            ``image_size``, ``resolution``, ``channels``, ``epochs``, ``lr``, ``device``, ...).

    Returns:
        The runs, by seed, then head, then the CAM before backprop; each run's
        name is ``"<HEAD> CAM"`` or ``"<HEAD> backprop"``.
    """
    unknown = sorted(set(backprop) - set(heads))
    if unknown:
        raise ValueError(f"`backprop` must name heads of `heads` {list(heads)}, but got {unknown}.")
    loader = DataLoader(val_data, batch_size=batch_size, collate_fn=collate)
    runs = []
    for seed in seeds:
        for head in heads:
            net, history = fit_small(train_data, val_data, head=head, seed=seed, **train)
            keep = keep_maps and seed == seeds[0]
            for method in ("cam", "backprop") if head in backprop else ("cam",):
                result = evaluate_localization(net, loader, method=method, threshold=threshold, keep_maps=keep)
                name = f"{head.upper()} {'CAM' if method == 'cam' else 'backprop'}"
                runs.append(Run(name, head, seed, net, history, result))
    return runs


def summary_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One flat row per run (``Run.summary``): what a table or a plot of the runs takes."""
    return [run.summary() for run in runs]


def seed_effect(runs: Sequence[Run], metric: str, minus: str, plus: str, level: float = 0.95) -> Interval:
    """``metric(plus) - metric(minus)`` seed by seed, its mean and t interval over the seeds.

    Args:
        runs: ``compare_heads``' runs.
        metric: a key of ``LocalizationResult.summary()`` (``"loc_top1_err"``, ...).
        minus, plus: the two methods' names (``"GAP CAM"``, ``"GMP CAM"``).

    Raises:
        ValueError: a method with no run, or seeds that differ between the two methods.

    Example:
        With per-seed values ``plus`` 10, 12 and ``minus`` 8, 8 the differences
        are 2 and 4: mean 3, and with one degree of freedom the 95% interval is
        ``3 ± 12.706 * 1.414 / 1.414``, from -9.7 to 15.7.
    """
    by = {}
    for run in runs:
        by.setdefault(run.name, {})[run.seed] = run.result.summary()[metric]
    for name in (minus, plus):
        if name not in by:
            raise ValueError(f"`{'minus' if name == minus else 'plus'}` must name a method of the runs "
                             f"{sorted(by)}, but got {name!r}.")
    if set(by[minus]) != set(by[plus]):
        raise ValueError(f"`runs` must hold the same seeds for {minus!r} and {plus!r}, but got "
                         f"{sorted(by[minus])} and {sorted(by[plus])}.")
    return seed_interval([by[plus][s] - by[minus][s] for s in sorted(by[minus])], level=level)


def still_improving(history: Sequence[dict[str, float]], key: str = "val_accuracy", tol: float = 0.01) -> bool:
    """Whether the last epoch improved ``key`` by more than ``tol`` over the best earlier epoch.

    A network whose held-out accuracy still rises at its last epoch has not
    converged. With one epoch there is nothing to compare: it counts as
    still improving.

    Example:
        >>> still_improving([{"val_accuracy": 0.5}, {"val_accuracy": 0.7}])
        True
        >>> still_improving([{"val_accuracy": 0.7}, {"val_accuracy": 0.705}, {"val_accuracy": 0.70}])
        False
    """
    if not history or key not in history[-1]:
        raise ValueError(f"`history` must hold per-epoch records with {key!r}, but got {list(history[-1:])}.")
    if len(history) == 1:
        return True
    return history[-1][key] - max(h[key] for h in history[:-1]) > tol
