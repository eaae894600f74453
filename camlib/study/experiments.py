"""Controlled experiments: small networks trained on a benchmark, scored on its held-out images.

A chapter's controlled comparison is: draw a benchmark's training and
held-out images (seeds 0 and 1), train the same backbone with each head
under several seeds (``camlib.study.training.fit_small``, cached), score each network
(``camlib.evaluate_localization``), then compare heads seed by seed. This
module is that loop and its reading, so that chapters call it instead of
writing it:

- ``benchmark_pair``: the training and held-out sets of one benchmark;
  ``benchmark_splits``: training, validation and test sets (the validation
  images choose the learning rate and stop training; the test images score);
- ``tune_lr``: the learning rate of one head, chosen on the validation images
  (``search_lr``: the search itself, for any training function);
- ``compare_heads``: one network per (head, seed), scored; ``Run`` records;
- ``seed_effect``: the per-seed difference of a metric between two methods,
  with its t interval over seeds (``camlib.study.stats.seed_interval``);
- ``still_improving``: whether a network's held-out accuracy was still
  rising at its last epoch (such a network has not converged, and a
  comparison resting on it is *inconclusive*; ``camlib.book.verdicts.verdict``);
- ``fit_pooling_head`` / ``score_pooling_head``: GAP vs GMP on *real* frozen
  features: a new head (pooling + linear) trained on a pretrained network's
  feature maps, and its maps' classification and localization.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from camlib.cam.extractor import find_cam_layer
from camlib.data.batch import collate
from camlib.metrics.evaluate import LocalizationResult, evaluate_localization
from camlib.study.stats import Interval, seed_interval
from camlib.study.training import EarlyStopping, best_epoch, fit_small, monitored

__all__ = [
    "QUANTIZE",
    "LrSearch",
    "Run",
    "benchmark_pair",
    "benchmark_splits",
    "compare_heads",
    "kept_epoch",
    "mean_sd",
    "search_lr",
    "seed_effect",
    "still_improving",
    "summary_rows",
    "tune_lr",
    "versus_baseline",
]

# The study's pre-stated choice for the networks it evaluates (compare_heads, chapter 02's real part):
# MaxBoxAcc(V2) on wsolevaluation's 0-255 quantized maps, as Choe et al. (2020) score them.
QUANTIZE = True


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
    return (
        benchmark(train_size, seed=0, **kwargs).in_memory(progress=False),
        benchmark(val_size, seed=1, **kwargs).in_memory(progress=False),
    )


def benchmark_splits(
    benchmark: type, train_size: int, val_size: int, test_size: int, **kwargs: Any
) -> tuple[Dataset, Dataset, Dataset]:
    """A benchmark's training (seed 0), validation (seed 2) and test (seed 1) images, held in memory.

    The validation images choose the learning rate and stop training
    (``tune_lr``, ``patience``); the test images only score, so no choice is
    made on the images a verdict rests on. The test set is the same draw as
    ``benchmark_pair``'s held-out set.

    Example:
        >>> from camlib.data.synthetic import Localization
        >>> train, val, test = benchmark_splits(Localization, 3, 2, 2, image_size=48, num_classes=4)
        >>> [d.spec()["arguments"].split(",")[:2] for d in (train, val, test)]
        [['Localization(3', ' seed=0'], ['Localization(2', ' seed=2'], ['Localization(2', ' seed=1']]
    """
    return (
        benchmark(train_size, seed=0, **kwargs).in_memory(progress=False),
        benchmark(val_size, seed=2, **kwargs).in_memory(progress=False),
        benchmark(test_size, seed=1, **kwargs).in_memory(progress=False),
    )


def kept_epoch(history: Sequence[dict[str, float]], *, patience: int = 0, min_delta: float = 0.0) -> int:
    """The epoch (index into ``history``) whose weights a run keeps: the best with early stopping, else the last.

    "Best" on the score the run was stopped on (``camlib.study.training.monitored``: a box
    regressor's ``val_box_iou``, every other network's ``val_accuracy``).

    Example:
        >>> h = [{"val_accuracy": a} for a in (0.5, 0.8, 0.79, 0.78)]
        >>> kept_epoch(h, patience=2, min_delta=0.01), kept_epoch(h)
        (1, 3)
    """
    if patience:
        return best_epoch(list(history), monitored(list(history)), min_delta=min_delta)
    return len(history) - 1


def _kept(history: Sequence[dict[str, float]], train: dict[str, Any]) -> int:
    return kept_epoch(history, patience=train.get("patience", 0), min_delta=train.get("min_delta", 0.0))


@dataclass
class LrSearch:
    """The learning rates tried for one head and the one chosen (``tune_lr``).

    Attributes:
        lr: the chosen learning rate.
        scores: per learning rate, the held-out (validation) accuracy of the epoch the run keeps.
        histories: per learning rate, ``fit``'s history.
        net: the network trained with the chosen rate (eval mode).
    """

    lr: float
    scores: dict[float, float]
    histories: dict[float, list[dict[str, float]]] = field(repr=False)
    net: nn.Module | None = field(default=None, repr=False)

    @property
    def history(self) -> list[dict[str, float]]:
        """The chosen run's history."""
        return self.histories[self.lr]


def tune_lr(train_data: Dataset, val_data: Dataset, lrs: Sequence[float], **train: Any) -> LrSearch:
    """Train one network per learning rate and keep the one with the best validation accuracy.

    Each run is ``camlib.study.training.fit_small(train_data, val_data, lr=lr, **train)``
    (cached, so the chosen run is not trained twice when the caller trains
    it again with the same seed); its score is the validation accuracy of the
    epoch it keeps (the best epoch with early stopping, else the last). Ties
    go to the first learning rate in ``lrs`` (``search_lr``).

    Raises:
        ValueError: ``lrs`` is empty or holds a non-positive rate.
    """
    return search_lr(lrs, fit_small, train_data, val_data, **train)


def _default(fit: Callable[..., Any], name: str, absent: Any) -> Any:
    """The default of ``fit``'s argument ``name``; ``absent`` when it has no such argument or no default."""
    try:
        parameter = inspect.signature(fit).parameters.get(name)
    except (TypeError, ValueError):  # no signature to read
        return absent
    return absent if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default


def search_lr(lrs: Sequence[float], fit: Callable[..., Any], /, *args: Any, **kwargs: Any) -> LrSearch:
    """One run per learning rate, ``fit(*args, lr=lr, **kwargs) -> (net, history)``; the best rate wins.

    The one learning-rate search of the study (``tune_lr``,
    ``tune_pooling_head``, ``camlib.study.vqa.tune_vqa``). A rate's score is
    the held-out score (``"val_accuracy"``; a box regressor's ``"val_box_iou"``:
    ``camlib.study.training.monitored``) of the epoch its run keeps (``kept_epoch``: the
    best one with early stopping, else the last), read with the run's
    ``patience`` and ``min_delta``: those of ``kwargs``, else the defaults of
    ``fit``'s signature (a ``fit`` without such an argument does not stop
    early: 0 and 0.0). Ties go to the first rate listed.

    Args:
        lrs: the learning rates to try, in order.
        fit: the training function; it takes ``lr`` as a keyword.
        *args, **kwargs: ``fit``'s other arguments, the same for every rate.

    Returns:
        The ``LrSearch``: the chosen rate, every rate's score and history, the chosen run's network.

    Raises:
        ValueError: ``lrs`` is empty or holds a non-positive rate.

    Example:
        >>> def fit(*, lr, patience=1, min_delta=0.0):  # a stand-in: the histories a training would give
        ...     curve = {0.1: [0.5, 0.9, 0.6], 0.01: [0.6, 0.7, 0.8]}[lr]
        ...     return f"net {lr}", [{"val_accuracy": a} for a in curve]
        >>> search = search_lr([0.1, 0.01], fit)  # patience=1: scored at the best epoch
        >>> search.lr, search.scores, search.net
        (0.1, {0.1: 0.9, 0.01: 0.8}, 'net 0.1')
        >>> search_lr([0.1, 0.01], fit, patience=0).lr  # no early stopping: scored at the last epoch
        0.01
    """
    lrs = list(lrs)
    if not lrs or any(isinstance(lr, bool) or not (isinstance(lr, (int, float)) and lr > 0) for lr in lrs):
        raise ValueError(f"`lrs` must be one or more positive learning rates, but got {lrs!r}.")
    patience = kwargs.get("patience", _default(fit, "patience", 0))
    min_delta = kwargs.get("min_delta", _default(fit, "min_delta", 0.0))
    nets, histories, scores = {}, {}, {}
    for lr in lrs:
        nets[lr], histories[lr] = fit(*args, lr=lr, **kwargs)
        h = histories[lr]
        scores[lr] = h[kept_epoch(h, patience=patience, min_delta=min_delta)][monitored(h)]
    best = max(lrs, key=lambda lr: (scores[lr], -lrs.index(lr)))  # ties: the first listed
    return LrSearch(best, scores, histories, nets[best])


@dataclass
class Run:
    """One trained network scored one way.

    Attributes:
        name: the method's name in tables (``"GAP CAM"``, ``"GAP backprop"``).
        head, seed: the network's head and seed.
        net: the trained network (eval mode).
        history: ``fit``'s per-epoch records.
        result: its ``LocalizationResult`` on the test images.
        lr: the learning rate it was trained with.
        kept_epoch: the epoch (index into ``history``) whose weights it has:
            the best with early stopping, else the last (-1: the last).
        patience: the early-stopping patience it was trained with (0: none;
            ``still_improving`` then looks at the last epoch only).
    """

    name: str
    head: str
    seed: int
    net: nn.Module = field(repr=False)
    history: list[dict[str, float]] = field(repr=False)
    result: LocalizationResult = field(repr=False)
    lr: float = math.nan
    kept_epoch: int = -1
    patience: int = 0
    tol: float = 0.01

    def summary(self) -> dict[str, Any]:
        """``result.summary()`` with the method, head, seed, learning rate, epochs and the kept epoch's accuracies (%)."""
        kept = self.history[self.kept_epoch]
        return {
            "method": self.name,
            "head": self.head,
            "seed": self.seed,
            "lr": self.lr,
            "epochs": len(self.history),
            "kept_epoch": kept.get("epoch", len(self.history) - 1) + 1,
            "train_accuracy": 100 * kept["train_accuracy"],
            "val_accuracy": 100 * kept["val_accuracy"] if "val_accuracy" in kept else math.nan,
            "still_improving": still_improving(self.history, tol=self.tol, patience=max(self.patience, 1)),
            **self.result.summary(),
        }


def compare_heads(
    train_data: Dataset,
    val_data: Dataset,
    test_data: Dataset | None = None,
    *,
    heads: Sequence[str] = ("gap", "gmp"),
    seeds: Sequence[int] = (0,),
    backprop: Sequence[str] = (),
    lrs: Sequence[float] | dict[str, Sequence[float]] | None = None,
    threshold: float = 0.2,
    keep_maps: bool = True,
    batch_size: int = 100,
    tol: float = 0.01,
    **train: Any,
) -> tuple[list[Run], dict[str, LrSearch]]:
    """One network per (head, seed), each scored by its CAM (and by backprop saliency where asked).

    Args:
        train_data: the benchmark's training images.
        val_data: the validation images: the held-out accuracy after every
            epoch (the curves, early stopping) and the choice of ``lrs``.
        test_data: the images the runs are scored on; default ``val_data``
            (then the scores are not independent of the choices made on them).
        heads: the heads to train (``"gap"``, ``"gmp"``, ...).
        seeds: one network per head and seed.
        backprop: the heads whose networks are also scored by gradient saliency.
        lrs: learning rates to choose from, per head, on the validation images
            with the first seed (``tune_lr``); every seed then trains with the
            chosen one. A dict gives each head its own candidates (one each:
            rates chosen elsewhere). None: ``train["lr"]`` (or ``fit_small``'s default).
        threshold: the box protocol's threshold (the paper's 20%).
        keep_maps: keep the maps of the first seed's runs (for figures).
        batch_size: test images per evaluation batch.
        tol: the rise of the validation accuracy that counts as still improving (``still_improving``).
        **train: ``camlib.study.training.fit_small``'s arguments (``model``, ``num_classes``,
            ``image_size``, ``resolution``, ``channels``, ``epochs``, ``lr``,
            ``patience``, ``min_delta``, ``schedule``, ``device``, ...).

    Returns:
        ``(runs, searches)``: the runs, by seed, then head, then the CAM before
        backprop, each named ``"<HEAD> CAM"`` or ``"<HEAD> backprop"``; and per
        head its ``LrSearch`` (empty without ``lrs``).
    """
    unknown = sorted(set(backprop) - set(heads))
    if unknown:
        raise ValueError(f"`backprop` must name heads of `heads` {list(heads)}, but got {unknown}.")
    if not seeds:
        raise ValueError("`seeds` must hold at least one seed, but got none.")
    searches = {}
    if lrs is not None:
        rest = {k: v for k, v in train.items() if k != "lr"}
        by_head = lrs if isinstance(lrs, dict) else {head: lrs for head in heads}
        missing = sorted(set(heads) - set(by_head))
        if missing:
            raise ValueError(
                f"`lrs` must give learning rates for every head of {list(heads)}, but got none for {missing}."
            )
        searches = {
            head: tune_lr(train_data, val_data, by_head[head], head=head, seed=seeds[0], **rest) for head in heads
        }
    loader = DataLoader(val_data if test_data is None else test_data, batch_size=batch_size, collate_fn=collate)
    runs = []
    for seed in seeds:
        for head in heads:
            lr = searches[head].lr if head in searches else train.get("lr", 2e-3)
            net, history = fit_small(train_data, val_data, head=head, seed=seed, **{**train, "lr": lr})
            keep = keep_maps and seed == seeds[0]
            top_k = min(5, find_cam_layer(net).weight.shape[0])  # top-5, or every class of a smaller benchmark
            for method in ("cam", "backprop") if head in backprop else ("cam",):
                result = evaluate_localization(
                    net, loader, method=method, threshold=threshold, keep_maps=keep, top_k=top_k, quantize=QUANTIZE
                )
                name = f"{head.upper()} {'CAM' if method == 'cam' else 'backprop'}"
                runs.append(
                    Run(
                        name,
                        head,
                        seed,
                        net,
                        history,
                        result,
                        lr=lr,
                        kept_epoch=_kept(history, train),
                        patience=train.get("patience", 0),
                        tol=tol,
                    )
                )
    return runs, searches


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
            raise ValueError(
                f"`{'minus' if name == minus else 'plus'}` must name a method of the runs "
                f"{sorted(by)}, but got {name!r}."
            )
    if set(by[minus]) != set(by[plus]):
        raise ValueError(
            f"`runs` must hold the same seeds for {minus!r} and {plus!r}, but got "
            f"{sorted(by[minus])} and {sorted(by[plus])}."
        )
    return seed_interval([by[plus][s] - by[minus][s] for s in sorted(by[minus])], level=level)


def mean_sd(runs: Sequence[Run], method: str, metric: str) -> str:
    """A method's metric over its seeds as a table cell: ``"11.6 ± 1.8"`` (the mean alone for one seed).

    Example:
        >>> from types import SimpleNamespace
        >>> runs = [SimpleNamespace(name="GAP CAM", result=SimpleNamespace(summary=lambda v=v: {"err": v}))
        ...         for v in (10.0, 12.0, 14.0)]
        >>> mean_sd(runs, "GAP CAM", "err")
        '12.0 ± 2.0'
    """
    values = torch.tensor([r.result.summary()[metric] for r in runs if r.name == method], dtype=torch.float64)
    if not len(values):
        raise ValueError(f"`method` must name a method of the runs, but got {method!r}.")
    return f"{values.mean():.1f}" + (f" ± {values.std():.1f}" if len(values) > 1 else "")


def versus_baseline(runs: Sequence[Run], method: str, hits: Tensor, level: float = 0.95) -> Interval:
    """Per seed, the method's GT-known localization (percent) minus a baseline's; mean and t interval over seeds.

    ``hits`` holds the baseline's per-image hits on the same test images (a
    fixed baseline: the same for every seed).
    """
    base = 100 * hits.double().mean().item()
    found = [100 * (r.result.true_iou >= 0.5).double().mean().item() - base for r in runs if r.name == method]
    if not found:
        raise ValueError(f"`method` must name a method of the runs, but got {method!r}.")
    return seed_interval(found, level=level)


def still_improving(
    history: Sequence[dict[str, float]], key: str | None = None, tol: float = 0.01, patience: int = 1
) -> bool:
    """Whether ``key`` rose by more than ``tol`` within the last ``patience`` epochs (``camlib.study.training.best_epoch``).

    A network whose held-out score still rises at the end of its training
    has not converged; one that early stopping ended (no rise for
    ``patience`` epochs) has. With one epoch there is nothing to compare: it
    counts as still improving. ``key`` None: the score the run was stopped on
    (``camlib.study.training.monitored``: a box regressor's ``val_box_iou``, else ``val_accuracy``).

    Example:
        >>> still_improving([{"val_accuracy": 0.5}, {"val_accuracy": 0.7}])
        True
        >>> still_improving([{"val_accuracy": 0.7}, {"val_accuracy": 0.705}, {"val_accuracy": 0.70}])
        False
        >>> still_improving([{"val_accuracy": a} for a in (0.5, 0.7, 0.69)], patience=2)
        True
    """
    key = monitored(list(history)) if key is None else key
    if not history or key not in history[-1]:
        raise ValueError(f"`history` must hold per-epoch records with {key!r}, but got {list(history[-1:])}.")
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"`patience` must be an int >= 1, but got {patience!r}.")
    return len(history) - 1 - best_epoch(list(history), key, min_delta=tol) < patience


__all__ += ["COMPETENCE", "convergence"]

# The least margin over chance (in the monitored score's units: a fraction of images, or of box IoU) by
# which a network must beat it to be compared at all: a network at 10 classes that stopped at 18% accuracy
# has stopped, not learned; comparing its maps says nothing about GAP or CAM.
COMPETENCE = 0.10


def convergence(
    histories: dict[str, Sequence[dict[str, float]]],
    *,
    tol: float = 0.01,
    patience: int = 1,
    chance: float | Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The ``converged`` and ``why_not_converged`` arguments of a claim that compares trained networks.

    A comparison counts only when every compared network has converged
    (``still_improving`` is False for each) and, given ``chance``, learned its task: its best
    held-out score (``best_epoch`` at ``tol``: the epoch early stopping keeps) must exceed the
    chance level by ``COMPETENCE`` (a network that stopped early near chance has stopped, not
    converged). The reason names each network that fails, with its held-out score (the
    accuracy, or a box regressor's mean box IoU: ``camlib.study.training.monitored``).

    Args:
        histories: ``{network name: fit's history}``, at least one.
        tol, patience: as ``still_improving`` (``patience``: the networks' early-stopping patience).
        chance: what a network that learned nothing scores on the monitored key: ``1 / classes``
            for accuracy, the centred box's mean IoU for a box regressor
            (``camlib.boxes.baselines.centre_box_iou``); one number for every network or one per
            name (a name left out is not gated). None: no competence gate.

    Returns:
        ``{"converged": bool, "why_not_converged": str}``, to pass to
        ``ClaimTable.add(..., **convergence(...))`` or ``camlib.book.verdicts.verdict``.

    Example:
        >>> convergence({"FC": [{"val_accuracy": 0.8}, {"val_accuracy": 0.8}],
        ...              "GAP": [{"val_accuracy": 0.3}, {"val_accuracy": 0.5}]})["why_not_converged"]
        'still improving at the last epoch: GAP (held-out accuracy 0.50, +0.20)'
        >>> convergence({"GAP": [{"val_accuracy": 0.4}]})["why_not_converged"]
        'still improving at the last epoch: GAP (held-out accuracy 0.40, one epoch only)'
        >>> flat = [{"val_accuracy": 0.15}] * 3  # stopped, but barely above chance (0.10)
        >>> convergence({"GAP": flat}, chance=0.1)["why_not_converged"]
        'not above chance by 0.10: GAP (held-out accuracy 0.15, chance 0.10)'
    """
    if not isinstance(histories, dict) or not histories:
        raise ValueError(f"`histories` must map network names to histories, at least one, but got {histories!r}.")
    if chance is not None and not isinstance(chance, Mapping) and not isinstance(chance, (int, float)):
        raise ValueError(
            f"`chance` must be a number, a mapping of network names to numbers, or None, but got {chance!r}."
        )
    still, weak = [], []
    for name, h in histories.items():
        key = monitored(list(h))
        score = "held-out " + ("box IoU" if key == "val_box_iou" else "accuracy")
        if still_improving(h, tol=tol, patience=patience):
            rise = "one epoch only" if len(h) == 1 else f"{h[-1][key] - max(r[key] for r in h[:-1]):+.2f}"
            still.append(f"{name} ({score} {h[-1][key]:.2f}, {rise})")
        level = chance.get(name) if isinstance(chance, Mapping) else chance
        best = h[best_epoch(list(h), key, min_delta=tol)][key]
        if level is not None and not best > level + COMPETENCE:
            weak.append(f"{name} ({score} {best:.2f}, chance {level:.2f})")
    why = ([f"still improving at the last epoch: {', '.join(still)}"] if still else []) + (
        [f"not above chance by {COMPETENCE:.2f}: {', '.join(weak)}"] if weak else []
    )
    return {"converged": not (still or weak), "why_not_converged": "; ".join(why)}


__all__ += [
    "FineTunedHead",
    "HeadScore",
    "cached_trunk_maps",
    "finetune_split",
    "fit_pooling_head",
    "score_pooling_head",
    "tune_pooling_head",
]


class FineTunedHead(nn.Module):
    """A network's top layers, trained, then a pooling head: ``head(top(x))`` on cached maps ``x``.

    Fine-tuning the top of a pretrained network on cached activations: the
    maps below the top are computed once (``cached_trunk_maps``), and only
    ``top`` (a copy of the network's last layers) and the new ``head``
    (``ClassifierHead``: GAP or GMP, then one linear layer) train. The class
    maps are ``M_c = sum_k w_k^c f_k`` on ``f = top(x)`` (``features``), the
    network's last convolutional features, as the paper draws them.
    """

    def __init__(self, top: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.top, self.head = top, head

    @property
    def fc(self) -> nn.Linear:
        return self.head.fc

    def features(self, x: Tensor) -> Tensor:
        """The last convolutional features ``f`` (``Tensor[N, K, h, w]``) of cached maps ``x``."""
        return self.top(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.top(x))


def finetune_split(net: nn.Module) -> tuple[nn.Module, nn.Module]:
    """``(trunk, top)``: a pretrained network cut below its last convolution, for fine-tuning its top on cached maps.

    EfficientNet (timm's ``EfficientNet``, e.g. ``camlib.load_pretrained("efficientnet_lite0", "DEFAULT")``):
    the trunk is the stem and the blocks (320 channels at stride 32 for Lite0), the top the 1 x 1 head
    convolution with its batch norm and activation (1,280 channels), what feeds the network's pooling.
    The two share the network's modules (copy the top before training it: ``fit_pooling_head`` does).

    Raises:
        TypeError: a network whose top this function does not know.
    """
    names = {n for n, _ in net.named_children()}
    if {"conv_stem", "bn1", "blocks", "conv_head", "bn2"} <= names:
        return nn.Sequential(net.conv_stem, net.bn1, net.blocks), nn.Sequential(net.conv_head, net.bn2)
    raise TypeError(
        f"`net` must be an EfficientNet (timm: conv_stem, bn1, blocks, conv_head, bn2) to split below its last "
        f"convolution, but got {type(net).__name__} with children {sorted(names)}."
    )


def cached_trunk_maps(
    trunk: nn.Module,
    dataset: Any,
    *,
    network: dict[str, Any],
    batch_size: int = 32,
    channels_last: bool = True,
    cache: bool = True,
) -> Any:
    """The trunk's maps of a data set, computed once and kept in the cache (float16), with labels and boxes.

    The input of a fine-tuned top (``finetune_split``): one pass of ``trunk`` in eval mode
    under ``torch.no_grad``, memoized under ``{"what": "trunk maps", "network", "data"}``
    (``camlib.study.cache.memoize``, the data by ``camlib.study.features.fingerprint``).

    Returns:
        ``camlib.study.features.Features(pooled, labels, boxes, maps HalfTensor[N, K, h, w])``
        (``pooled``: the maps' spatial mean, float32).
    """
    from torch.utils.data import DataLoader

    from camlib.data.batch import collate
    from camlib.study.cache import memoize
    from camlib.study.features import Features, fingerprint

    parts = {"what": "trunk maps", "network": network, "data": fingerprint(dataset), "channels_last": channels_last}

    def compute() -> dict[str, Any]:
        device = next(trunk.parameters()).device
        modes = [(m, m.training) for m in trunk.modules()]
        trunk.eval()
        maps, labels, boxes = [], [], []
        try:
            with torch.no_grad():
                for batch in DataLoader(dataset, batch_size, collate_fn=collate):
                    x = batch.images.to(device)
                    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
                    maps.append(trunk(x).float().cpu().contiguous())
                    labels.append(batch.labels)
                    boxes += list(batch.boxes)
        finally:
            for module, training in modes:
                module.training = training
        m = torch.cat(maps)
        return {"pooled": m.mean(dim=(2, 3)), "labels": torch.cat(labels), "boxes": boxes, "maps": m.half()}

    value, _ = memoize(parts, compute, enabled=cache)
    return Features(value["pooled"], value["labels"], value["boxes"], value["maps"])


def fit_pooling_head(
    maps: Tensor,
    labels: Tensor,
    val_maps: Tensor,
    val_labels: Tensor,
    *,
    pool: str,
    epochs: int = 60,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 128,
    patience: int = 0,
    min_delta: float = 0.0,
    seed: int = 0,
    top: nn.Module | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """A new head on frozen features: global average or max pooling, then one linear layer (``ClassifierHead``).

    The GAP-vs-GMP comparison on real features: the same frozen feature maps
    (e.g. SqueezeNet's fire9 on real photographs), the same head trained
    twice, once with each pooling; its class maps are ``M_c = sum_k w_k^c f_k``
    for both (``camlib.class_activation_maps`` with the head's weights).
    AdamW on the cross-entropy, minibatches in a seeded order; the held-out
    accuracy after every epoch makes the convergence visible
    (``still_improving``). Cheap: no backbone runs, so no cache is needed.

    Args:
        maps, labels: training features ``Tensor[N, K, h, w]`` and classes ``LongTensor[N]``.
        val_maps, val_labels: held-out features and classes, scored after every epoch.
        pool: ``"gap"`` or ``"gmp"``.
        epochs, lr, weight_decay, batch_size: the optimization (``epochs``: the most, with ``patience``).
        patience, min_delta: early stopping, as ``camlib.study.training.TrainConfig``:
            stop when the held-out accuracy has not risen by more than
            ``min_delta`` for ``patience`` epochs and keep the best epoch's
            weights (0: train all ``epochs``).
        seed: the head's initialization and the order of the images.
        top: None (the head sits on the maps), or the network's last layers above the cached maps
            (``finetune_split``): a copy of them is trained with the head (fine-tuning the top of the
            network), and the class maps are drawn on its output (``FineTunedHead``).

    Returns:
        ``(head, history)``: the head in eval mode, and per epoch run ``epoch``,
        ``train_loss``, ``train_accuracy``, ``val_accuracy`` (fractions).
    """
    import copy

    from camlib.models.heads import ClassifierHead

    for name, x, y in (("maps", maps, labels), ("val_maps", val_maps, val_labels)):
        if not isinstance(x, Tensor) or x.ndim != 4 or not isinstance(y, Tensor) or y.shape != (x.shape[0],):
            raise ValueError(
                f"`{name}` must be a Tensor[N, K, h, w] with one label per image, but got "
                f"{tuple(getattr(x, 'shape', ()))} and labels {tuple(getattr(y, 'shape', ()))}."
            )
    C = int(max(labels.max(), val_labels.max())) + 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if top is None:
            head = ClassifierHead(maps.shape[1], C, pool=pool)
        else:
            trained = copy.deepcopy(top).train()
            with torch.no_grad():
                K = trained.eval()(maps[:1].float()).shape[1]  # the channels the top gives
            head = FineTunedHead(trained, ClassifierHead(K, C, pool=pool))
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    order = torch.Generator().manual_seed(seed)
    history, stopper = [], EarlyStopping(patience, min_delta)
    for epoch in range(1, epochs + 1):
        head.train()
        total, correct, loss_sum = 0, 0, 0.0
        for idx in torch.randperm(len(labels), generator=order).split(batch_size):
            x, y = maps[idx].float(), labels[idx]
            logits = head(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, correct = total + len(y), correct + (logits.argmax(1) == y).sum().item()
            loss_sum += loss.item() * len(y)
        head.eval()
        with torch.no_grad():
            val_correct = sum(
                (head(val_maps[i].float()).argmax(1) == val_labels[i]).sum().item()
                for i in torch.arange(len(val_labels)).split(512)
            )
        history.append(
            {
                "epoch": epoch,
                "train_loss": loss_sum / total,
                "train_accuracy": correct / total,
                "val_accuracy": val_correct / len(val_labels),
            }
        )
        if stopper.update(history, head):  # keeps a copy of the best epoch's weights
            break
    return stopper.restore(head).eval(), history


def tune_pooling_head(
    maps: Tensor, labels: Tensor, val_maps: Tensor, val_labels: Tensor, *, lrs: Sequence[float], **fit: Any
) -> LrSearch:
    """``fit_pooling_head`` once per learning rate; keeps the head with the best held-out accuracy.

    The score of a rate is the held-out accuracy of the epoch its head keeps
    (the best one with ``patience``, else the last); ties go to the first
    rate in ``lrs`` (``search_lr``). ``fit`` holds ``fit_pooling_head``'s other arguments
    (``pool``, ``epochs``, ``patience``, ``min_delta``, ``seed``, ...).

    Raises:
        ValueError: ``lrs`` is empty or holds a non-positive rate.
    """
    return search_lr(lrs, fit_pooling_head, maps, labels, val_maps, val_labels, **fit)


@dataclass
class HeadScore:
    """How a pooling head on frozen features classifies and localizes (per image; ``summary`` in percent).

    Attributes:
        predicted: the top-1 class ``LongTensor[N]``.
        correct: top-1 right ``BoolTensor[N]``.
        gt_known: the box of the true class's map hits a ground-truth box (IoU >= 0.5), ``BoolTensor[N]``.
        localized: right class and its box hits (the ILSVRC rule at top-1), ``BoolTensor[N]``.
        maxboxaccv2: Choe et al.'s MaxBoxAccV2 of the true class's maps (percent).
        labels: the true classes ``LongTensor[N]`` (None when not kept).
        boxes: ``LongTensor[N, 2, 4]``, the boxes of the predicted and of the true class's maps (None when not kept).
        gt_boxes: the ground-truth boxes they were scored against, ``N`` tensors ``[m_i, 4]`` (None when not kept).
    """

    predicted: Tensor
    correct: Tensor
    gt_known: Tensor
    localized: Tensor
    maxboxaccv2: float
    labels: Tensor | None = field(default=None, repr=False)
    boxes: Tensor | None = field(default=None, repr=False)
    gt_boxes: list[Tensor] | None = field(default=None, repr=False)

    def summary(self) -> dict[str, float]:
        return {
            "cls_top1_err": 100 * (1 - self.correct.double().mean().item()),
            "loc_top1_err": 100 * (1 - self.localized.double().mean().item()),
            "gt_known_loc": 100 * self.gt_known.double().mean().item(),
            "maxboxaccv2": self.maxboxaccv2,
        }


@torch.no_grad()
def score_pooling_head(
    head: nn.Module,
    maps: Tensor,
    labels: Tensor,
    gt_boxes: Sequence[Tensor],
    size: int | tuple[int, int],
    *,
    threshold: float = 0.2,
    box_thresholds: Sequence[float] | None = None,
    max_box_acc: bool = True,
    batch_size: int = 64,
) -> HeadScore:
    """Classification and localization of a ``fit_pooling_head`` head's class maps on held-out images.

    Each image's map of the predicted class and of the true class,
    ``M_c = sum_k w_k^c f_k`` (``camlib.class_activation_maps``), upsampled to
    ``size`` (the frame of ``gt_boxes``), boxed by the paper's protocol
    (``threshold`` of the max, largest component); MaxBoxAccV2 of the true
    class's maps on ``box_thresholds`` (default: the 0.01 grid), unless
    ``max_box_acc`` is False (``maxboxaccv2`` is then NaN).
    """
    from camlib.boxes.from_maps import boxes_from_maps
    from camlib.boxes.geometry import best_iou
    from camlib.cam.kernel import class_activation_maps
    from camlib.metrics.accuracy import BoxAccAccumulator

    weight = head.fc.weight
    accumulator = BoxAccAccumulator((0.3, 0.5, 0.7), all_components=True, thresholds=box_thresholds)
    predicted, pred_iou, true_iou, all_boxes = [], [], [], []
    for idx in torch.arange(len(labels)).split(batch_size):
        x, y = maps[idx].float(), labels[idx]
        with torch.no_grad():
            f = head.features(x) if isinstance(head, FineTunedHead) else x  # the maps the head pools
            p = head.head(f).argmax(1) if isinstance(head, FineTunedHead) else head(x).argmax(1)
        cams = class_activation_maps(f, weight, torch.stack([p, y], dim=1), size=size)  # (n, 2, H, W)
        boxes = boxes_from_maps(cams.flatten(0, 1), threshold).view(len(idx), 2, 4)
        gt = [gt_boxes[i] for i in idx.tolist()]
        predicted.append(p)
        all_boxes.append(boxes.cpu())
        pred_iou.append(best_iou(boxes[:, 0], gt))
        true_iou.append(best_iou(boxes[:, 1], gt))
        if max_box_acc:
            accumulator.update(cams[:, 1], gt)
    predicted = torch.cat(predicted)
    correct = predicted == labels
    return HeadScore(
        predicted,
        correct,
        torch.cat(true_iou) >= 0.5,
        correct & (torch.cat(pred_iou) >= 0.5),
        100 * accumulator.compute().value if max_box_acc else math.nan,
        labels=labels.cpu(),
        boxes=torch.cat(all_boxes),
        gt_boxes=[g.cpu() for g in gt_boxes],
    )


__all__ += ["PoolingComparison", "compare_pooling_heads", "held_out_mask"]


def held_out_mask(n: int, fraction: float, seed: int) -> Tensor:
    """``BoolTensor[n]``: a seeded ``fraction`` of ``n`` training images, held out to tune and stop training.

    The first ``int(n * fraction)`` of a seeded permutation: the same draw
    for the same arguments, so that methods compared on the same images
    (``compare_pooling_heads``, ``camlib.study.supervision.fit_box_heads``)
    tune and stop on the same held-out images.

    Example:
        >>> held_out_mask(10, 0.2, seed=0).sum().item()
        2
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ValueError(f"`fraction` must be in (0, 1), but got {fraction!r}.")
    held = torch.zeros(n, dtype=torch.bool)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held[order[: int(n * fraction)]] = True
    return held


@dataclass
class PoolingComparison:
    """GAP and GMP heads on the same frozen features, scored on the same test images (``compare_pooling_heads``).

    Attributes:
        searches: per pool, the learning-rate search on the first seed (``LrSearch``).
        heads: per ``(pool, seed)``, ``(head, history)``.
        scores: per ``(pool, seed)``, its ``HeadScore`` on the test images.
        baseline_hits: per trivial baseline (``"centred box"``, fitted on the
            training boxes, and ``"random box"``), its per-test-image hits (``DoubleTensor[N]``).
        centre_size: the fitted centred box's ``(h, w)``.
        improving: the ``(POOL, seed)`` heads still improving when training ended.
    """

    searches: dict[str, LrSearch]
    heads: dict[tuple[str, int], tuple[nn.Module, list[dict[str, float]]]] = field(repr=False)
    scores: dict[tuple[str, int], HeadScore] = field(repr=False)
    baseline_hits: dict[str, Tensor] = field(repr=False)
    centre_size: tuple[int, int]
    improving: list[tuple[str, int]]

    def per_image(self, pool: str, key: str, *, control: bool = False) -> Tensor:
        """``DoubleTensor[N]``: a ``HeadScore`` field (``"correct"``, ``"localized"``, ``"gt_known"``) averaged over the seeds.

        ``control=True``: the negative control, each head answering every test image with another image's class
        and boxes (``camlib.study.controls.other_images``).
        """
        from camlib.study.controls import other_images

        found = [other_images(s) if control else s for (p, _), s in self.scores.items() if p == pool]
        return torch.stack([getattr(s, key).double() for s in found]).mean(0)

    def paired(self, first: tuple | Tensor, second: tuple | Tensor, *, seed: int = 0) -> Interval:
        """The effect ``first − second`` with its interval, paired test image by image (``paired_bootstrap``).

        Each side is ``(pool, key)`` (``per_image(pool, key)``), ``(pool, key, "control")`` (the negative
        control: ``per_image(pool, key, control=True)``), or per-image scores (``Tensor[N]``, e.g. a
        baseline's hits). With ``key="correct"``, ``("gap", "correct")`` minus ``("gmp", "correct")`` is the
        GMP − GAP top-1 error difference.
        """
        from camlib.study.stats import paired_bootstrap

        def scores(side: tuple | Tensor) -> Tensor:
            if isinstance(side, Tensor):
                return side
            if not (isinstance(side, tuple) and len(side) in (2, 3) and side[2:] in ((), ("control",))):
                raise ValueError(f"A side must be (pool, key), (pool, key, 'control') or a Tensor, but got {side!r}.")
            return self.per_image(side[0], side[1], control=len(side) == 3)

        return Interval.from_bootstrap(paired_bootstrap(scores(first), scores(second), seed=seed))

    def mean(self, pool: str, metric: str) -> float:
        """A ``HeadScore.summary()`` metric of ``pool``'s heads, averaged over the seeds that measured it (percent)."""
        values = [s.summary()[metric] for (p, _), s in self.scores.items() if p == pool]
        values = [v for v in values if not math.isnan(v)]
        return sum(values) / len(values) if values else math.nan

    def strongest_baseline(self) -> str:
        """The trivial baseline with the most hits on the test images."""
        return max(self.baseline_hits, key=lambda name: self.baseline_hits[name].mean().item())

    def convergence(self, pools: Sequence[str] | None = None) -> dict[str, Any]:
        """``converged`` / ``why_not_converged`` for a claim resting on ``pools`` (default: all) heads."""
        still = [(p, s) for p, s in self.improving if pools is None or p.lower() in pools]
        return {
            "converged": not still,
            "why_not_converged": "still improving when training ended: "
            + ", ".join(f"{p} head seed {s}" for p, s in still),
        }


def compare_pooling_heads(
    train: Any,
    test: Any,
    *,
    size: int,
    seeds: Sequence[int],
    lrs: Sequence[float],
    pools: Sequence[str] = ("gap", "gmp"),
    epochs: int = 150,
    patience: int = 10,
    min_delta: float = 0.01,
    held_fraction: float = 0.2,
    box_thresholds: Sequence[float] | Tensor | None = None,
    threshold: float = 0.2,
    random_draws: int = 20,
    seed: int = 0,
    top: nn.Module | None = None,
) -> PoolingComparison:
    """The GAP-vs-GMP comparison on real frozen features (chapter 01's real part), in one call.

    A seeded ``held_fraction`` of the training images is held out; on it each
    pool's learning rate is chosen among ``lrs`` with the first seed
    (``tune_pooling_head``), then every seed trains that pool's head at that
    rate with early stopping (``fit_pooling_head``). Each head is scored on
    the test images (``score_pooling_head``, MaxBoxAccV2 included), beside a centred box fitted on the training
    boxes (``camlib.boxes.baselines.best_centre_box_size``) and random boxes.

    Args:
        train, test: ``camlib.study.features.cached_feature_maps`` results (``maps``, ``labels``, ``boxes``).
        size: the side of the frame of the boxes (the network's input).
        seeds, lrs: the heads' seeds and candidate learning rates.
        epochs, patience, min_delta: ``fit_pooling_head``'s early stopping.
        box_thresholds, threshold: ``score_pooling_head``'s.
        random_draws: random boxes per test image; ``seed``: their generator and the held-out draw.
        top: the network's last layers above the cached maps, fine-tuned with each head (``fit_pooling_head``).
    """
    from camlib.boxes.baselines import best_centre_box_size, centre_box_hits, random_box_hits

    if not 0 < held_fraction < 1:
        raise ValueError(f"`held_fraction` must be in (0, 1), but got {held_fraction!r}.")
    held = held_out_mask(len(train.labels), held_fraction, seed)
    split = (train.maps[~held], train.labels[~held], train.maps[held], train.labels[held])
    fit = dict(epochs=epochs, patience=patience, min_delta=min_delta, top=top)
    searches = {pool: tune_pooling_head(*split, lrs=lrs, pool=pool, seed=seeds[0], **fit) for pool in pools}
    heads = {
        (pool, s): (searches[pool].net, searches[pool].history)
        if s == seeds[0]
        else fit_pooling_head(*split, pool=pool, lr=searches[pool].lr, seed=s, **fit)
        for pool in pools
        for s in seeds
    }
    scores = {
        (p, s): score_pooling_head(
            head, test.maps, test.labels, test.boxes, size, threshold=threshold, box_thresholds=box_thresholds
        )
        for (p, s), (head, _) in heads.items()
    }
    centre = best_centre_box_size(train.boxes, size)
    baselines = {
        "centred box": centre_box_hits(test.boxes, size, box_size=centre).double(),
        "random box": random_box_hits(
            test.boxes, size, draws=random_draws, generator=torch.Generator().manual_seed(seed)
        ).double(),
    }
    improving = sorted(
        {
            (p.upper(), s)
            for (p, s), (_, h) in heads.items()
            if still_improving(h, tol=min_delta, patience=max(patience, 1))
        }
    )
    return PoolingComparison(searches, heads, scores, baselines, centre, improving)
