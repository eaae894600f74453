"""The paper's visual question answering baseline and the class activation map of its answer (Sec. 4.2, Fig. 12).

Zhou et al. (2016) encode the question as a bag of words, pool the image's
last convolutional features by GAP, concatenate the two and classify the
answer with one linear layer. The answer's score then splits into an image
part and a question part,

    S_a = sum_k w_a^img,k F_k + sum_j w_a^q,j q_j + b_a,

and the image part has an exact class activation map,
``M_a(x, y) = sum_k w_a^img,k f_k(x, y)``, whose mean is that part
(``VQABaseline.cams``). The map depends on the question only through the
answer it predicts: a bag of words cannot steer where the image features
look, only which answer's weights read them.

``VQABaseline`` builds the model on a small backbone of ``camlib.models.heads``;
``inputs="image"`` or ``"question"`` gives the two one-sided baselines.
``fit_vqa`` trains it on a ``camlib.data.synthetic.SortOfClevr`` benchmark
(AdamW, the plateau schedule, early stopping on held-out accuracy, the
best epoch kept: the rules of ``camlib.study.training``), cached like every trained
network of the study.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from camlib._validate import check_tensor

__all__ = [
    "INPUTS",
    "SwappedQuestion",
    "VQABaseline",
    "VQATensors",
    "fit_vqa",
    "queried_boxes",
    "swap_question",
    "vqa_tensors",
]

INPUTS = ("both", "image", "question")


class VQABaseline(nn.Module):
    """Bag-of-words question + GAP image features -> one linear layer over the answers.

    Args:
        num_answers: the answers' count.
        vocabulary: the bag of words' length.
        inputs: ``"both"`` (the paper's model), ``"image"`` (no question) or ``"question"`` (no image).
        backbone, image_size, resolution, channels: the image trunk, as ``camlib.build_model``'s small
            backbones (its ``features``: the convolutional part up to the GAP layer).

    Example:
        >>> net = VQABaseline(num_answers=5, vocabulary=7, image_size=32, resolution=4, channels=4)
        >>> x, q = torch.rand(2, 3, 32, 32), torch.rand(2, 7)
        >>> image, question, maps = net.parts(x, q)
        >>> bool(torch.allclose(net(x, q), image + question + net.bias)), maps.shape[2:]
        (True, torch.Size([4, 4]))
    """

    def __init__(
        self,
        *,
        num_answers: int,
        vocabulary: int,
        inputs: str = "both",
        backbone: str = "alexnet-small",
        image_size: int = 64,
        resolution: int = 16,
        channels: int = 16,
    ) -> None:
        from camlib.models.registry import build_model

        super().__init__()
        if inputs not in INPUTS:
            raise ValueError(f"`inputs` must be one of {INPUTS}, but got {inputs!r}.")
        for name, value in (("num_answers", num_answers), ("vocabulary", vocabulary)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int, but got {value!r}.")
        self.inputs = inputs
        trunk = build_model(
            backbone,
            num_classes=num_answers,
            head="gap",
            input_size=image_size,
            resolution=resolution,
            channels=channels,
        )
        self.features = trunk.features
        width = trunk.head.fc.in_features
        self.image_fc = nn.Linear(width, num_answers, bias=False)
        self.question_fc = nn.Linear(vocabulary, num_answers, bias=False)
        self.bias = nn.Parameter(torch.zeros(num_answers))

    def parts(self, images: Tensor, questions: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """``(image part Tensor[N, A], question part Tensor[N, A], feature maps Tensor[N, K, h, w] or None)``.

        A part the model does not use (``inputs``) is zeros; the maps are None without the image.
        """
        n = len(questions)
        maps = self.features(images) if self.inputs != "question" else None
        zeros = self.bias.new_zeros(n, len(self.bias))
        image = self.image_fc(maps.mean(dim=(2, 3))) if maps is not None else zeros
        question = self.question_fc(questions) if self.inputs != "image" else zeros
        return image, question, maps

    def forward(self, images: Tensor, questions: Tensor) -> Tensor:
        image, question, _ = self.parts(images, questions)
        return image + question + self.bias

    def cams(self, images: Tensor, questions: Tensor, answers: Tensor) -> Tensor:
        """``Tensor[N, h, w]``: the image part's map of answer ``answers[i]`` on image ``i``; its mean is that part.

        Raises:
            ValueError: the model does not look at the image (``inputs="question"``).
        """
        if self.inputs == "question":
            raise ValueError("A question-only model has no class activation map: it does not look at the image.")
        check_tensor("answers", answers, ndim=1, dims="(N,)", integer=True)
        maps = self.features(images)  # (N, K, h, w)
        w = self.image_fc.weight[answers]  # (N, K)
        return torch.einsum("nk,nkhw->nhw", w, maps)


class VQATensors(NamedTuple):
    """A VQA benchmark as tensors: ``images (N, 3, H, W)``, ``questions (N, V)`` bags of words, ``answers (N,)``, ``types (N,)``."""

    images: Tensor
    questions: Tensor
    answers: Tensor
    types: Tensor


def vqa_tensors(items: Sequence[Any]) -> VQATensors:
    """``SortOfClevr`` items (``VQAItem``) as tensors (``bag_of_words`` for the questions)."""
    from camlib.data.synthetic.vqa import bag_of_words

    if not len(items):
        raise ValueError("`items` must hold at least one VQA item, but got none.")
    return VQATensors(
        torch.stack([it.image for it in items]),
        bag_of_words([it.question for it in items]),
        torch.tensor([it.answer for it in items]),
        torch.tensor([it.question_type for it in items]),
    )


def queried_boxes(items: Sequence[Any]) -> Tensor:
    """``LongTensor[N, 4]``: the box of the object each question names by its colour (the *queried* object).

    The item's own ``boxes`` hold the object the answer is read from, which
    for a *nearest* question is another object.
    """
    from camlib.data.synthetic.vqa import COLOURS

    out = []
    for i, it in enumerate(items):
        named = [c for c in COLOURS if re.search(rf"\b{c}\b", it.question)]
        found = [o.box for o in it.objects if o.colour in named]
        if len(found) != 1:
            raise ValueError(
                f"`items[{i}]` must name exactly one object of its scene by colour, "
                f"but {it.question!r} names {len(found)}."
            )
        out.append(found[0])
    return torch.tensor(out, dtype=torch.long).reshape(-1, 4)


class SwappedQuestion(NamedTuple):
    """The same image asked the same kind of question about another object (``swap_question``)."""

    question: str
    answer: int
    queried: tuple[int, int, int, int]
    answer_box: tuple[int, int, int, int]


def swap_question(item: Any, benchmark: Any, index: int = 0) -> SwappedQuestion:
    """``item``'s question about another object of its scene: the colour word replaced, the answer recomputed.

    The other object is the ``index``-th (modulo) of the scene's objects
    other than the queried one, in the scene's order; the answer comes from
    ``benchmark.answer`` (``SortOfClevr.answer``), and ``answer_box`` is the
    object it is read from (for *nearest*, the other object's nearest).

    Example:
        >>> from camlib.data.synthetic import SortOfClevr
        >>> data = SortOfClevr(4, seed=0)
        >>> item = data[0]
        >>> swapped = swap_question(item, data)
        >>> swapped.question != item.question and swapped.queried != tuple(queried_boxes([item])[0].tolist())
        True
    """
    from camlib.data.synthetic.vqa import ANSWERS, QUESTION_TYPES

    old = tuple(queried_boxes([item])[0].tolist())
    target = next(o for o in item.objects if o.box == old)
    others = [o for o in item.objects if o is not target]
    new = others[index % len(others)]
    question = re.sub(rf"\b{target.colour}\b", new.colour, item.question)
    answer, shown = benchmark.answer(QUESTION_TYPES[item.question_type], new, item.objects)
    return SwappedQuestion(question, ANSWERS.index(answer), new.box, shown.box)


def _accuracy(net: VQABaseline, data: VQATensors, batch_size: int, device: str) -> float:
    net.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(data.answers), batch_size):
            logits = net(data.images[s : s + batch_size].to(device), data.questions[s : s + batch_size].to(device))
            correct += int((logits.argmax(1).cpu() == data.answers[s : s + batch_size]).sum())
    return correct / len(data.answers)


def fit_vqa(
    train: Any,
    val: Any,
    *,
    inputs: str = "both",
    epochs: int = 30,
    patience: int = 5,
    min_delta: float = 0.01,
    lr: float = 3e-3,
    batch_size: int = 64,
    seed: int = 0,
    device: str = "cpu",
    model: dict[str, Any] | None = None,
    cache: bool = True,
    cache_root: str | os.PathLike | None = None,
) -> tuple[VQABaseline, list[dict[str, float]]]:
    """``VQABaseline`` trained on ``train``, stopped early on ``val``; cached under everything that determines it.

    AdamW (weight decay 1e-4), cross-entropy over the answers, the learning
    rate divided by 5 after 2 epochs without a rise of ``min_delta`` in
    validation accuracy, training stopped after ``patience`` such epochs and
    the best epoch's weights kept (``camlib.study.training.EarlyStopping``; with
    ``patience=0`` all ``epochs`` run and the last is kept). Seeded:
    initialization and the order of the images.

    Args:
        train, val: ``SortOfClevr`` benchmarks (or their ``in_memory()``): anything with ``spec()`` and items.
        inputs: as ``VQABaseline``.
        epochs, patience, min_delta, lr, batch_size, seed, device: the training's.
        model: ``VQABaseline``'s backbone arguments (``backbone``, ``image_size``, ``resolution``, ``channels``).
        cache, cache_root: as ``camlib.study.cache.memoize``.

    Returns:
        ``(model in eval mode, history)``: one row per epoch with ``epoch``,
        ``lr``, ``train_loss``, ``train_accuracy``, ``val_accuracy``.
    """
    from camlib.data.synthetic.vqa import ANSWERS, QUESTION_WORDS
    from camlib.study.cache import code_fingerprint, memoize
    from camlib.study.features import fingerprint
    from camlib.study.training import EarlyStopping

    model = dict(model or {})
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive int, but got {value!r}.")
    if not lr > 0:
        raise ValueError(f"`lr` must be positive, but got {lr!r}.")
    build = dict(num_answers=len(ANSWERS), vocabulary=len(QUESTION_WORDS), inputs=inputs, **model)
    VQABaseline(**build)  # checks the arguments before any work

    def compute() -> dict:
        tr, va = vqa_tensors([train[i] for i in range(len(train))]), vqa_tensors([val[i] for i in range(len(val))])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = VQABaseline(**build).to(device)
        order = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(net.parameters(), lr, weight_decay=1e-4)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="max", factor=0.2, patience=2, threshold=min_delta, threshold_mode="abs"
        )
        history, stopper = [], EarlyStopping(patience, min_delta)
        for epoch in range(epochs):
            net.train()
            perm = torch.randperm(len(tr.answers), generator=order)
            loss_sum, correct = 0.0, 0
            for s in range(0, len(perm), batch_size):
                idx = perm[s : s + batch_size]
                logits = net(tr.images[idx].to(device), tr.questions[idx].to(device))
                loss = F.cross_entropy(logits, tr.answers[idx].to(device))
                if not math.isfinite(loss.item()):
                    raise FloatingPointError(f"The VQA loss is {loss.item()} at epoch {epoch}.")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_sum += loss.item() * len(idx)
                correct += int((logits.argmax(1).cpu() == tr.answers[idx]).sum())
            row = {
                "epoch": epoch,
                "lr": opt.param_groups[0]["lr"],
                "train_loss": loss_sum / len(perm),
                "train_accuracy": correct / len(perm),
                "val_accuracy": _accuracy(net, va, batch_size, device),
            }
            plateau.step(row["val_accuracy"])
            history.append(row)
            if stopper.update(history, net):  # keeps a CPU copy of the best epoch's weights
                break
        return {"state_dict": stopper.kept_state(net), "history": history}  # patience=0: the last epoch's

    parts = {
        "what": "vqa baseline",
        "train": fingerprint(train),
        "val": fingerprint(val),
        "build": build,
        "epochs": epochs,
        "patience": patience,
        "min_delta": min_delta,
        "lr": lr,
        "batch_size": batch_size,
        "seed": seed,
        "code": code_fingerprint("camlib.study.vqa", "camlib.study.training"),
    }
    entry, _ = memoize(parts, compute, enabled=cache, cache_root=cache_root)
    net = VQABaseline(**build)
    net.load_state_dict(entry["state_dict"])
    return net.to(device).eval(), entry["history"]


__all__ += ["VQAScores", "score_vqa", "tune_vqa"]


def tune_vqa(train: Any, val: Any, lrs: Sequence[float], **kwargs: Any) -> tuple[float, VQABaseline, list[dict]]:
    """``fit_vqa`` at each learning rate of ``lrs``; the one of best validation accuracy at its kept epoch (the first on ties).

    ``camlib.study.experiments.search_lr`` with ``fit_vqa``: the kept epoch is
    read with ``kwargs``' ``patience`` and ``min_delta``, else ``fit_vqa``'s defaults.

    Returns:
        ``(lr, model, history)`` of the chosen rate.

    Raises:
        ValueError: ``lrs`` is empty or holds a non-positive rate.
    """
    from camlib.study.experiments import search_lr

    search = search_lr(lrs, fit_vqa, train, val, **kwargs)
    return search.lr, search.net, search.history


class VQAScores(NamedTuple):
    """``score_vqa``'s result, one entry per test item.

    Attributes:
        predicted (LongTensor[N]): the answer the model gives.
        correct (Tensor[N]): 1.0 when it is the true answer (float64).
        types (LongTensor[N]): the question type (``QUESTION_TYPES``).
        maps (Tensor[N, H, W]): the image part's map of the predicted answer, upsampled to the image.
        on_queried (Tensor[N]): 1.0 when the map's maximum falls in the queried object's box.
        on_answer (Tensor[N]): 1.0 when it falls in the box of the object the answer is read from.
        relevant (list[Tensor]): per item, the relevant object's box (the answer's object).
    """

    predicted: Tensor
    correct: Tensor
    types: Tensor
    maps: Tensor | None
    on_queried: Tensor
    on_answer: Tensor
    relevant: list


def score_vqa(net: VQABaseline, items: Sequence[Any], *, batch_size: int = 128, device: str = "cpu") -> VQAScores:
    """Answers and answer maps of ``net`` on VQA items, and where each map points (``camlib.study.pointing``).

    A question-only model has no map: ``maps`` is None and the pointing scores are NaN.
    """
    from camlib.cam.kernel import resize_maps
    from camlib.study.pointing import pointing_hits

    data = vqa_tensors(items)
    net = net.to(device).eval()
    predicted, maps = [], []
    with torch.no_grad():
        for s in range(0, len(items), batch_size):
            x, q = data.images[s : s + batch_size].to(device), data.questions[s : s + batch_size].to(device)
            p = net(x, q).argmax(1)
            predicted.append(p.cpu())
            if net.inputs != "question":
                maps.append(net.cams(x, q, p).cpu())
    predicted = torch.cat(predicted)
    size = tuple(data.images.shape[2:])
    answer_boxes = [it.boxes.reshape(-1, 4) for it in items]
    nan = torch.full((len(items),), float("nan"), dtype=torch.float64)
    if maps:
        up = resize_maps(torch.cat(maps)[:, None], size)[:, 0]
        on_queried = pointing_hits(up, list(queried_boxes(items)[:, None])).double()
        on_answer = pointing_hits(up, answer_boxes).double()
    else:
        up, on_queried, on_answer = None, nan, nan.clone()
    return VQAScores(
        predicted, (predicted == data.answers).double(), data.types, up, on_queried, on_answer, answer_boxes
    )


__all__ += ["prior_hits"]


def prior_hits(train: Sequence[Any], items: Sequence[Any]) -> Tensor:
    """``Tensor[N]``: 1.0 where an item's answer is the most frequent training answer of its question type.

    What a model that ignores both the image and the named colour scores:
    the baseline of answering from the question's type alone (ties go to the
    lower answer index).

    Example:
        >>> from types import SimpleNamespace as S
        >>> train = [S(question_type=0, answer=a) for a in (2, 2, 1)] + [S(question_type=1, answer=4)]
        >>> prior_hits(train, [S(question_type=0, answer=2), S(question_type=0, answer=1), S(question_type=1, answer=4)])
        tensor([1., 0., 1.], dtype=torch.float64)
    """
    from collections import Counter

    counts: dict[int, Counter] = {}
    for it in train:
        counts.setdefault(int(it.question_type), Counter())[int(it.answer)] += 1
    best = {q: min(c, key=lambda a: (-c[a], a)) for q, c in counts.items()}
    return torch.tensor([float(best.get(int(it.question_type)) == int(it.answer)) for it in items], dtype=torch.float64)
