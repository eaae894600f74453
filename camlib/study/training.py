"""Training the study's networks: one config, one loop, a cache, and torchrun.

``fit(config, dataset)`` builds ``camlib.build_model(config.model, ...)``,
trains it with ``train_one_epoch`` and returns ``(model, history)``. It is
deterministic given ``config.seed`` on a CPU: the model is initialized (and
dropout drawn) from ``torch.manual_seed(seed)`` inside
``torch.random.fork_rng``, so the caller's global RNG is left as it was; the
order of the images comes from a ``DistributedSampler`` seeded with ``seed``
(also with one process), and ``torch.use_deterministic_algorithms`` is on
during training (on CUDA it is left as the caller set it, since some
kernels have no deterministic version). The trained model is cached (``camlib.study.cache``): a second
call with the same config and dataset loads it instead of training.

Under ``torchrun --nproc_per_node=N -m camlib.study.training ...`` every process
trains a DistributedDataParallel replica on its share of each global batch
of ``config.batch_size`` images (``batch_size / N`` per process; the
sampler pads the data to a multiple of ``N`` by repeating images); the
gradients are averaged, so the result equals one process on the same global
batches up to float rounding, except for BatchNorm, whose statistics are
per process (use ``batch_norm=False`` or ``nn.SyncBatchNorm`` for parity).
Only rank 0 writes files.

Example (a shell):
    python -m camlib.study.training --model vgg-small --head gap --epochs 5 --out model.pt
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from camlib.boxes.geometry import best_iou
from camlib.data.batch import Batch, check_batch, collate
from camlib.data.common import Item
from camlib.models.heads import BoxOutput, box_regression_loss, boxes_to_unit, unit_to_boxes
from camlib.models.registry import HEADS, MODELS, build_model
from camlib.study.cache import cache_dir, cache_key, load_entry, save_entry

__all__ = [
    "EarlyStopping",
    "best_epoch",
    "cpu_state_dict",
    "fit_small",
    "NonFiniteLossError",
    "Squares",
    "TrainConfig",
    "evaluate",
    "fit",
    "make_loss",
    "monitor",
    "monitored",
    "train_one_epoch",
]

logger = logging.getLogger(__name__)


SCHEDULES = ("constant", "cosine", "plateau")

# The held-out score a head's training is stopped, scheduled and judged on (higher is better). A box
# regressor's task is its box: its classification accuracy can stall while its boxes still improve (or
# rise while they get worse), so it is stopped on the mean IoU of its boxes with the held-out images' own.
_MONITOR = {"box": "val_box_iou"}


def monitor(head: str) -> str:
    """The history key a network with ``head`` is early-stopped, scheduled and judged on.

    Example:
        >>> monitor("gap"), monitor("box")
        ('val_accuracy', 'val_box_iou')
    """
    return _MONITOR.get(head, "val_accuracy")


def monitored(history: list[dict[str, float]] | tuple) -> str:
    """The key the run behind ``history`` was stopped on: ``"val_box_iou"`` when it records one, else ``"val_accuracy"``.

    Example:
        >>> monitored([{"val_accuracy": 0.5, "val_box_iou": 0.4}]), monitored([{"val_accuracy": 0.5}])
        ('val_box_iou', 'val_accuracy')
    """
    return "val_box_iou" if history and "val_box_iou" in history[-1] else "val_accuracy"


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message has the epoch, step and config."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model, besides the data.

    Attributes:
        model, num_classes, head, model_kwargs: passed to ``camlib.build_model``
            (``model_kwargs`` may hold ``pretrained`` for the paper networks).
        epochs: passes over the data (the most, with ``patience``).
        patience: early stopping: 0 trains all ``epochs``; ``k > 0`` stops
            once the held-out score (``monitor(head)``: the accuracy, or for
            ``head="box"`` the boxes' mean IoU) has not improved by more than
            ``min_delta`` for ``k`` epochs, and keeps the weights of the best
            epoch (``best_epoch``). Needs a ``val_dataset``.
        schedule: the learning rate over training: ``"constant"``;
            ``"cosine"`` (annealed to 0 over ``epochs``, per step); or
            ``"plateau"`` (divided by 5 when the held-out score has not
            risen by ``min_delta`` for 2 epochs; needs a ``val_dataset``).
        min_delta: the least rise of the held-out score that counts as an
            improvement (a fraction, e.g. 0.01).
        batch_size: the global batch (split over the processes under torchrun).
        lr, optimizer (``"adamw"`` or ``"sgd"``, with ``momentum``), weight_decay.
        box_weight: the weight of the box loss against the classification
            loss (``head="box"``).
        shuffle: reshuffle the images every epoch (seeded).
        seed: initialization, dropout and order of the images.
        device: ``"cpu"``, ``"cuda"``, ...
        channels_last: train in the channels-last memory layout (model and
            images): about 20% faster for the small backbones on a CPU, the
            same network up to float rounding. The returned model is
            contiguous again.
    """

    model: str = "vgg-small"
    num_classes: int = 4
    head: str = "gap"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int = 5
    patience: int = 0
    min_delta: float = 0.0
    schedule: str = "constant"
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adamw"
    momentum: float = 0.9
    weight_decay: float = 1e-4
    box_weight: float = 1.0
    shuffle: bool = True
    seed: int = 0
    device: str = "cpu"
    channels_last: bool = False

    def __post_init__(self) -> None:
        for name, choices in (
            ("model", MODELS),
            ("head", HEADS),
            ("optimizer", ("adamw", "sgd")),
            ("schedule", SCHEDULES),
        ):
            if getattr(self, name) not in choices:
                shown = ", ".join(map(repr, choices))
                raise ValueError(f"`{name}` must be one of {shown}, but got {getattr(self, name)!r}.")
        for name in ("num_classes", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int, but got {value!r}.")
        if not self.lr > 0:
            raise ValueError(f"`lr` must be positive, but got {self.lr!r}.")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 0:
            raise ValueError(f"`patience` must be an int >= 0 (0: no early stopping), but got {self.patience!r}.")
        if not (isinstance(self.min_delta, (int, float)) and 0 <= self.min_delta < 1):
            raise ValueError(f"`min_delta` must be a fraction in [0, 1), but got {self.min_delta!r}.")


def best_epoch(history: list[dict[str, float]], key: str = "val_accuracy", min_delta: float = 0.0) -> int:
    """The epoch early stopping keeps: the last one whose ``key`` rose more than ``min_delta`` above the best before it.

    The best so far moves only on a rise of more than ``min_delta``, so a
    slow creep of small rises does not keep a run going forever, and a run
    has converged when ``len(history) - 1 - best_epoch(...) >= patience``.

    Example:
        >>> best_epoch([{"val_accuracy": a} for a in (0.5, 0.7, 0.705, 0.69)], min_delta=0.01)
        1
        >>> best_epoch([{"val_accuracy": a} for a in (0.5, 0.509, 0.518)], min_delta=0.01)
        2
    """
    if not history or any(key not in row for row in history):
        raise ValueError(f"`history` must be per-epoch records that all hold {key!r}, but got {history[:1]!r}.")
    best, best_value = 0, history[0][key]
    for epoch, row in enumerate(history[1:], start=1):
        if row[key] > best_value + min_delta:
            best, best_value = epoch, row[key]
    return best


class EarlyStopping:
    """Early stopping on a held-out score: the best epoch's weights kept, training stopped ``patience`` epochs after it.

    The rule of ``TrainConfig.patience``, shared by every training loop of
    the study (``fit``, ``camlib.study.experiments.fit_pooling_head``,
    ``camlib.study.vqa.fit_vqa``). After each epoch the loop appends its
    record to ``history`` and calls ``update(history, model)``: when the
    epoch is the best so far (``best_epoch``: a rise of more than
    ``min_delta`` of ``history[-1][key]`` over the best before it) a CPU copy
    of ``model.state_dict()`` is kept; the call returns True once
    ``patience`` epochs have passed since the best one. At the end,
    ``kept_state(model)`` is the state to load: the best epoch's copy, or
    with ``patience=0`` (no early stopping: every epoch runs, ``key`` is
    never read) a CPU copy of the model's state as it is, the last epoch's;
    ``restore(model)`` loads it.

    Args:
        patience: epochs without a rise after which ``update`` says stop (0: never).
        min_delta: the least rise of ``key`` that counts as an improvement.
        key: the score of a history row (higher is better).

    Attributes:
        best: the best epoch so far (an index into ``history``); None before
            the first ``update`` and with ``patience=0``.
        improved: whether the last ``update``'s epoch is the best so far.
        stopped: whether ``update`` has said stop.
        best_state: the CPU copy of the best epoch's state dict (None until there is one).

    Raises:
        ValueError: ``patience`` is not an int >= 0, or ``min_delta`` not a number >= 0.

    Example:
        >>> model = nn.Linear(1, 1, bias=False)
        >>> stopper, history = EarlyStopping(patience=2, min_delta=0.01), []
        >>> for epoch, accuracy in enumerate([0.5, 0.7, 0.705, 0.69, 0.8]):
        ...     _ = model.weight.data.fill_(epoch)  # the epoch's training
        ...     history.append({"epoch": epoch, "val_accuracy": accuracy})
        ...     if stopper.update(history, model):
        ...         break
        >>> len(history), stopper.best, stopper.kept_state(model)["weight"].item()
        (4, 1, 1.0)
        >>> EarlyStopping(patience=0).kept_state(model)["weight"].item()  # no early stopping: the last
        3.0
    """

    def __init__(self, patience: int = 0, min_delta: float = 0.0, key: str = "val_accuracy") -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"`patience` must be an int >= 0 (0: no early stopping), but got {patience!r}.")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not min_delta >= 0:
            raise ValueError(f"`min_delta` must be a number >= 0, but got {min_delta!r}.")
        self.patience, self.min_delta, self.key = patience, min_delta, key
        self.best: int | None = None
        self.improved = self.stopped = False
        self.best_state: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, key={self.key!r}, best={self.best})"
        )

    def update(self, history: list[dict[str, float]], model: nn.Module) -> bool:
        """Take the epoch just appended to ``history`` (``history[-1]``); True when training should stop.

        With ``patience``, ``best`` becomes ``best_epoch(history, key,
        min_delta)``; when that is this epoch a CPU copy of
        ``model.state_dict()`` replaces ``best_state``, else the answer is
        whether ``patience`` epochs have passed since ``best``. Without
        ``patience`` it returns False and touches nothing.

        Raises:
            ValueError: ``history`` is empty or a row lacks ``key`` (``best_epoch``), with ``patience``.
        """
        if not self.patience:
            return False
        epoch = len(history) - 1
        self.best = best_epoch(history, self.key, self.min_delta)
        self.improved = self.best == epoch
        if self.improved:
            self.best_state = cpu_state_dict(model)
        else:
            self.stopped = epoch - self.best >= self.patience
        return self.stopped

    def kept_state(self, model: nn.Module) -> dict[str, Any]:
        """The state dict to load at the end: the best epoch's copy, or (``patience=0``) a CPU copy of ``model``'s.

        Raises:
            RuntimeError: ``patience`` is set but ``update`` was never called (no epoch to keep).
        """
        if not self.patience:
            return cpu_state_dict(model)
        if self.best_state is None:
            raise RuntimeError("`update` must be called after each epoch before `kept_state`, but it never was.")
        return self.best_state

    def restore(self, model: nn.Module) -> nn.Module:
        """``model`` with the kept weights loaded (``kept_state``); with ``patience=0`` it has them already (the last)."""
        if self.patience:
            model.load_state_dict(self.kept_state(model))
        return model


def cpu_state_dict(model: nn.Module) -> dict[str, Any]:
    """A copy of ``model.state_dict()`` on the CPU, detached: later steps of training do not change it.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> state = cpu_state_dict(model)
        >>> _ = model.weight.data.zero_()
        >>> bool(state["weight"].eq(0).all()), state["weight"].data_ptr() != model.weight.data_ptr()
        (False, True)
    """
    return {
        k: v.detach().to("cpu", copy=True) if isinstance(v, Tensor) else copy.deepcopy(v)
        for k, v in model.state_dict().items()
    }


# --- batches and losses -----------------------------------------------------------------


def _unit_boxes(batch: Batch) -> Tensor:
    """The first box of each image of ``batch`` in ``[0, 1]`` units (``boxes_to_unit``): the box head's target."""
    if batch.boxes is None or any(b.numel() == 0 for b in batch.boxes):
        raise ValueError("Every image needs a box to train the box head, but an image of the batch has none.")
    boxes = torch.stack([b.reshape(-1, 4)[0] for b in batch.boxes])  # (N, 4)
    return boxes_to_unit(boxes, tuple(batch.images.shape[-2:]))


def make_loss(config: TrainConfig) -> Callable[[Any, Batch], Tensor]:
    """``loss(output, batch)``: cross-entropy with ``batch.labels``; for ``head="box"`` plus
    ``box_weight`` times ``box_regression_loss`` with the first box of each image of ``batch.boxes``.

    Raises (when the loss is called):
        ValueError: ``head="box"`` and an image of the batch has no box.
    """
    if config.head != "box":
        return lambda output, batch: F.cross_entropy(output, batch.labels)

    def loss(output: BoxOutput, batch: Batch) -> Tensor:
        boxes = _unit_boxes(batch)  # (N, 4)
        box_loss = box_regression_loss(output.boxes, boxes)
        return F.cross_entropy(output.logits, batch.labels) + config.box_weight * box_loss

    return loss


def _correct(output: Any, batch: Batch) -> int:
    logits = output.logits if isinstance(output, BoxOutput) else output
    return int((logits.argmax(dim=1) == batch.labels).sum())


def _reduce(totals: list[float], device: str) -> list[float]:
    if dist.is_available() and dist.is_initialized():
        t = torch.tensor(totals, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()
    return totals


# --- the loop ---------------------------------------------------------------------------


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Batch], Tensor],
    *,
    device: str = "cpu",
    epoch: int = 0,
    config: Any = None,
    progress: bool = False,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    channels_last: bool = False,
) -> dict[str, float]:
    """One pass over ``loader`` (``camlib.data.Batch``es); returns ``{"loss", "accuracy"}`` averaged over the images.

    ``scheduler``, when given, steps after every optimizer step;
    ``channels_last`` passes the images in that memory layout.

    Raises:
        NonFiniteLossError: a loss is NaN or infinite (before its step is taken).
        TypeError: a batch is not a ``camlib.data.Batch``.
    """
    model.train()
    loss_sum, correct, count = 0.0, 0, 0
    for step, batch in enumerate(tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not progress)):
        batch = check_batch(batch).to(device, non_blocking=True)
        output = model(_layout(batch.images, channels_last))
        loss = loss_fn(output, batch)
        value = loss.item()
        if not math.isfinite(value):
            raise NonFiniteLossError(f"The loss is {value} at epoch {epoch}, step {step}; config: {config!r}.")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        n = len(batch)
        loss_sum, correct, count = loss_sum + value * n, correct + _correct(output, batch), count + n
    loss_sum, correct, count = _reduce([loss_sum, correct, count], device)
    return {"loss": loss_sum / max(count, 1), "accuracy": correct / max(count, 1)}


def _layout(images: Tensor, channels_last: bool) -> Tensor:
    """``images`` in the channels-last memory layout when asked and 4-D, else as they are."""
    return images.contiguous(memory_format=torch.channels_last) if channels_last and images.dim() == 4 else images


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: Callable[[Any, Batch], Tensor],
    *,
    device: str = "cpu",
    channels_last: bool = False,
) -> dict[str, float]:
    """``{"loss", "accuracy"}`` of ``model`` on ``loader`` in eval mode (restored after); images in ``channels_last`` when asked.

    A box head's output (``BoxOutput``) adds ``"box_iou"``: the mean over the images of its box's IoU
    with the best of the image's ground-truth boxes (``camlib.boxes.geometry.best_iou``, the box in
    inclusive pixels of the image: ``unit_to_boxes``), the score such a network is stopped on (``monitor``).
    """
    training = model.training
    model.eval()
    loss_sum, correct, count, iou_sum = 0.0, 0, 0, 0.0
    boxes = False
    try:
        for batch in loader:
            batch = check_batch(batch).to(device, non_blocking=True)
            output = model(_layout(batch.images, channels_last))
            n = len(batch)
            loss_sum += loss_fn(output, batch).item() * n
            correct, count = correct + _correct(output, batch), count + n
            if isinstance(output, BoxOutput):
                boxes = True
                pixels = unit_to_boxes(output.boxes.detach().float(), tuple(batch.images.shape[-2:]))
                iou_sum += best_iou(pixels, [b.reshape(-1, 4) for b in batch.boxes]).sum().item()
    finally:
        model.train(training)
    loss_sum, correct, count, iou_sum = _reduce([loss_sum, correct, count, iou_sum], device)
    scores = {"loss": loss_sum / max(count, 1), "accuracy": correct / max(count, 1)}
    if boxes:
        scores["box_iou"] = iou_sum / max(count, 1)
    return scores


def _spec(dataset: Dataset, given: dict | None) -> dict | None:
    if given is not None:
        return given
    for name in ("spec", "cache_key"):
        if callable(getattr(dataset, name, None)):
            return getattr(dataset, name)()
    return None


def _name(fn: Callable | None) -> str | None:
    return None if fn is None else f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _build(config: TrainConfig) -> nn.Module:
    return build_model(config.model, num_classes=config.num_classes, head=config.head, **config.model_kwargs)


def fit(
    config: TrainConfig,
    dataset: Dataset,
    *,
    val_dataset: Dataset | None = None,
    dataset_spec: dict | None = None,
    collate_fn: Callable[[list], Batch] = collate,
    cache: bool = True,
    cache_root: str | os.PathLike | None = None,
    num_workers: int = 0,
    progress: bool | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train a model as ``config`` says on ``dataset`` (or load it from the cache).

    Args:
        config: the ``TrainConfig``.
        dataset: any map-style dataset whose items ``collate_fn`` takes.
        collate_fn: makes a ``camlib.data.Batch`` of items (default
            ``camlib.data.collate``); the loss reads its ``labels``, and the
            first box of each image of its ``boxes`` for ``head="box"``.
        val_dataset: evaluated after every epoch, when given.
        dataset_spec: a dict that identifies the data for the cache key;
            default ``dataset.spec()`` or ``dataset.cache_key()``.
        cache: look up and store the model in the cache. The key hashes the
            config, the specs of both datasets, the name of
            ``collate_fn``, the number of processes, camlib's code
            (``camlib.study.cache.code_fingerprint``) and torch's version.
        cache_root: the cache folder (``camlib.study.cache.cache_dir``).
        num_workers: DataLoader workers (they do not change the result).
        progress: tqdm bars; default: when stderr is a terminal (rank 0 only).

    Returns:
        ``(model, history)``: the model in eval mode on ``config.device`` (with
        ``patience``, the weights of ``best_epoch(history, min_delta=...)``),
        and one dict per epoch run (``epoch``, ``train_loss``,
        ``train_accuracy``, ``val_loss``, ``val_accuracy`` when validating, and
        ``val_box_iou`` for a box head, ``seconds``).

    Raises:
        NonFiniteLossError: the loss became NaN or infinite.
        ValueError: ``cache`` is on but the dataset (or ``val_dataset``) has no spec,
            ``batch_size`` is not divisible by the number of processes, or
            ``patience`` or ``schedule="plateau"`` is set without a ``val_dataset``.
        RuntimeError: a cache entry exists but is unreadable.
    """
    distributed = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    if config.batch_size % world:
        raise ValueError(f"`batch_size` ({config.batch_size}) must be divisible by the number of processes ({world}).")
    if (config.patience or config.schedule == "plateau") and val_dataset is None:
        raise ValueError(
            f"`val_dataset` must be given for early stopping or the plateau schedule (patience="
            f"{config.patience}, schedule={config.schedule!r}), but got None."
        )
    device = config.device
    if distributed and device.startswith("cuda"):
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
    progress = (sys.stderr.isatty() if progress is None else progress) and rank == 0

    path = None
    if cache:
        spec = _spec(dataset, dataset_spec)
        if spec is None:
            raise ValueError(
                f"Caching needs an identity for the data: {type(dataset).__name__} has no spec() or cache_key(); "
                f"pass dataset_spec={{...}} or cache=False."
            )
        parts = dict(config=asdict(config), data=spec, world_size=world)
        parts.update(collate_fn=_name(collate_fn))
        val_spec = None if val_dataset is None else _spec(val_dataset, None)
        if val_dataset is not None and val_spec is None:  # early stopping on it decides the model: it is in the key
            raise ValueError(
                f"Caching needs an identity for the validation data too: {type(val_dataset).__name__} has no spec() "
                f"or cache_key() (two validation sets of one type would share a model); give it one or pass cache=False."
            )
        parts["val_data"] = val_spec
        path = cache_dir(cache_root) / f"{cache_key(parts)}.pt"
        entry = load_entry(path)
        if entry is not None:
            logger.info("Loaded the trained model from the cache: %s", path)
            with torch.random.fork_rng(devices=[]):
                model = _build(config)
            model.load_state_dict(entry["state_dict"])
            return model.to(device).eval(), entry["history"]

    cuda = [torch.device(device).index or 0] if device.startswith("cuda") else []
    deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(config.seed)
        torch.use_deterministic_algorithms(not cuda or deterministic)
        try:
            model, history = _train(
                config, dataset, val_dataset, collate_fn, device, rank, world, num_workers, progress
            )
        finally:
            torch.use_deterministic_algorithms(deterministic)
    if path is not None and rank == 0:
        save_entry(path, {"state_dict": model.state_dict(), "config": asdict(config), "history": history})
        logger.info("Saved the trained model to the cache: %s", path)
    return model.eval(), history


def fit_small(
    train_data: Dataset,
    val_data: Dataset | None = None,
    *,
    model: str,
    head: str,
    num_classes: int,
    image_size: int,
    resolution: int,
    channels: int,
    epochs: int,
    batch_size: int = 64,
    lr: float = 2e-3,
    patience: int = 0,
    min_delta: float = 0.0,
    schedule: str = "constant",
    seed: int = 0,
    device: str = "cpu",
    channels_last: bool = True,
    **fit_kwargs: Any,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """A small backbone (``"alexnet-small"``, ...) with ``head`` trained on a benchmark: the chapters' networks.

    The same as ``fit(TrainConfig(...), train_data, val_dataset=val_data)``
    with the small backbones' ``input_size``, ``resolution`` (the CAM grid's
    side) and ``channels`` (the first stage's width), AdamW: one call for
    what chapters 01-03 train, so that a network one chapter trained is the
    same cache entry when another asks for it. ``patience`` and ``min_delta``
    stop early on ``val_data``, ``schedule`` sets the learning rate over
    training, ``channels_last`` (the default here: faster on a CPU) the
    memory layout of training (``TrainConfig``).

    Returns:
        ``(model, history)`` as ``fit``.
    """
    config = TrainConfig(
        model=model,
        num_classes=num_classes,
        head=head,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        patience=patience,
        min_delta=min_delta,
        schedule=schedule,
        device=device,
        channels_last=channels_last,
        model_kwargs={"input_size": image_size, "resolution": resolution, "channels": channels},
    )
    return fit(config, train_data, val_dataset=val_data, **fit_kwargs)


def _train(config, dataset, val_dataset, collate_fn, device, rank, world, num_workers, progress):
    model = _build(config).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    params = net.parameters()
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    else:
        optimizer = torch.optim.AdamW(params, config.lr, weight_decay=config.weight_decay)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=config.shuffle, seed=config.seed)
    per_rank = config.batch_size // world
    loader = DataLoader(dataset, per_rank, sampler=sampler, collate_fn=collate_fn, num_workers=num_workers)
    val_loader = None
    if val_dataset is not None:
        val_sampler = DistributedSampler(val_dataset, num_replicas=world, rank=rank, shuffle=False)
        val_loader = DataLoader(
            val_dataset, per_rank, sampler=val_sampler, collate_fn=collate_fn, num_workers=num_workers
        )
    loss_fn = make_loss(config)
    per_step = None
    if config.schedule == "cosine":
        per_step = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * max(len(loader), 1))
    plateau = None
    if config.schedule == "plateau":
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=0.2, patience=2, threshold=config.min_delta, threshold_mode="abs"
        )
    history, stopper = [], EarlyStopping(config.patience, config.min_delta, key=monitor(config.head))
    for epoch in range(config.epochs):
        start = time.perf_counter()
        sampler.set_epoch(epoch)
        train = train_one_epoch(
            net, loader, optimizer, loss_fn,
            device=device, epoch=epoch, config=config, progress=progress, scheduler=per_step,
            channels_last=config.channels_last,
        )  # fmt: skip
        row = {
            "epoch": epoch,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": train["loss"],
            "train_accuracy": train["accuracy"],
        }
        if val_loader is not None:
            val = evaluate(net, val_loader, loss_fn, device=device, channels_last=config.channels_last)
            row.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
            if "box_iou" in val:
                row["val_box_iou"] = val["box_iou"]
            if plateau is not None:
                plateau.step(row[monitor(config.head)])
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch")
        logger.info("epoch %d/%d: %s", epoch + 1, config.epochs, shown)
        if stopper.update(history, model):  # keeps a copy of the best epoch's weights
            logger.info(
                "early stop at epoch %d: no rise over %d epochs; keeping epoch %d",
                epoch + 1,
                config.patience,
                stopper.best + 1,
            )
            break
    stopper.restore(model)
    return model.to(memory_format=torch.contiguous_format), history


# --- a built-in toy dataset and the command line ----------------------------------------


class Squares(Dataset):
    """Noise images with one bright square; the label is the quadrant that holds it.

    Item ``i`` is a ``camlib.data.Item(image Tensor[3, S, S], label, boxes
    LongTensor[1, 4], image_id str(i), size (S, S))``, the box ``(x1, y1, x2, y2)``
    in inclusive pixels, drawn from a generator seeded with ``(seed, i)``: the
    same on every call and in every process.

    Example:
        >>> item = Squares(4, size=32)[1]
        >>> item.image.shape, item.label in range(4), int(item.boxes[0, 2] - item.boxes[0, 0] + 1)
        (torch.Size([3, 32, 32]), True, 8)
    """

    def __init__(self, n: int = 256, *, size: int = 64, seed: int = 0) -> None:
        self.n, self.size, self.seed = n, size, seed

    def spec(self) -> dict[str, Any]:
        return {"name": "Squares", "n": self.n, "size": self.size, "seed": self.seed}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Item:
        if not 0 <= i < self.n:
            raise IndexError(f"`i` must be in [0, {self.n}), but got {i}.")
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        S, s = self.size, self.size // 4
        label = int(torch.randint(4, (), generator=g))
        y0, x0 = (label // 2) * S // 2, (label % 2) * S // 2
        dy, dx = torch.randint(S // 2 - s + 1, (2,), generator=g).tolist()
        y, x = y0 + dy, x0 + dx
        image = 0.2 * torch.randn(3, S, S, generator=g)
        image[:, y : y + s, x : x + s] += 1.0
        return Item(image, label, torch.tensor([[x, y, x + s - 1, y + s - 1]]), str(i), (S, S))


def _dataset(name: str, kwargs: dict) -> Dataset:
    if name == "squares":
        return Squares(**kwargs)
    module, _, attr = name.partition(":")
    if not attr:
        raise ValueError(f"`--dataset` must be 'squares' or 'module:Class', but got {name!r}.")
    return getattr(importlib.import_module(module), attr)(**kwargs)


def main(argv: list[str] | None = None) -> None:
    """The command line: ``python -m camlib.study.training --help``; also under ``torchrun``."""
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog="python -m camlib.study.training", description="Train a camlib network (or load it from the cache)."
    )
    p.add_argument("--model", default=d.model, choices=MODELS)
    p.add_argument("--head", default=d.head, choices=HEADS)
    p.add_argument("--num-classes", type=int, default=d.num_classes)
    p.add_argument("--model-kwargs", type=json.loads, default={}, help="JSON, e.g. '{\"resolution\": 4}'")
    p.add_argument("--dataset", default="squares", help="'squares' (built in) or 'module:Class'")
    p.add_argument("--dataset-kwargs", type=json.loads, default={}, help="JSON keyword arguments of the dataset")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="global batch, split over the processes")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--optimizer", default=d.optimizer, choices=("adamw", "sgd"))
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--no-shuffle", action="store_true")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device)
    p.add_argument("--out", help="write the trained model here (state_dict, config, history)")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--cache-dir", help="default: $CAMLIB_CACHE or <repository>/.cache/models")
    a = p.parse_args(argv)

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if a.device.startswith("cuda") else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    level = logging.INFO if rank == 0 else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s")
    try:
        config = TrainConfig(
            model=a.model, num_classes=a.num_classes, head=a.head, model_kwargs=a.model_kwargs, epochs=a.epochs,
            batch_size=a.batch_size, lr=a.lr, optimizer=a.optimizer, weight_decay=a.weight_decay,
            shuffle=not a.no_shuffle, seed=a.seed, device=a.device,
        )  # fmt: skip
        dataset = _dataset(a.dataset, a.dataset_kwargs)
        spec = _spec(dataset, None) or {"dataset": a.dataset, "kwargs": a.dataset_kwargs}
        model, history = fit(config, dataset, dataset_spec=spec, cache=not a.no_cache, cache_root=a.cache_dir)
        if a.out and rank == 0:
            save_entry(a.out, {"state_dict": model.state_dict(), "config": asdict(config), "history": history})
            logger.info("Wrote %s", a.out)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
