"""Linear SVMs on GAP features, and the class activation maps of their weights (Zhou et al. 2016, Sec. 4).

The paper trains a linear SVM on the global average pool ``F_k`` of a GAP
network's last convolutional features and draws the class activation map
with the SVM's weights: ``M_c(x, y) = sum_k w_k^c f_k(x, y)``. Because the
SVM's score ``S_c = sum_k w_k^c F_k + b_c`` is linear in the pooled features,
``mean_{x,y} M_c + b_c = S_c`` holds exactly, as for the network's own
classifier. ``fit_linear_svm`` fits one with scikit-learn's ``LinearSVC``
(liblinear; one-vs-rest, squared hinge loss, L2 penalty), its ``C`` chosen by
stratified cross-validation on the training data only; the result holds
plain tensors, so the maps come from ``camlib.class_activation_maps``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from camlib._validate import check_fraction, check_tensor
from camlib.boxes.from_maps import boxes_from_maps
from camlib.cam.kernel import class_activation_maps

__all__ = ["LinearSVM", "fit_linear_svm"]


@dataclass(frozen=True)
class LinearSVM:
    """A linear classifier on pooled features: ``S = F W^T + b``.

    Attributes:
        weight (Tensor[C, K]): ``w_k^c`` in the units of the raw pooled
            features (any scaling used in fitting is folded in).
        bias (Tensor[C]): ``b_c``.
        C: the regularization constant chosen by cross-validation.
        cv_accuracy: ``{C: mean accuracy over the folds}`` for every ``C`` tried.
        folds: the number of cross-validation folds.
    """

    weight: Tensor
    bias: Tensor
    C: float
    cv_accuracy: dict[float, float]
    folds: int

    def decision(self, pooled: Tensor) -> Tensor:
        """The scores ``S = F W^T + b`` (``Tensor[N, C]``, float64) of pooled features ``F`` (``Tensor[N, K]``)."""
        check_tensor("pooled", pooled, ndim=2, dims="(N, K)", floating=True)
        if pooled.shape[1] != self.weight.shape[1]:
            raise ValueError(
                f"`pooled` must have K = {self.weight.shape[1]} columns (the SVM's features), "
                f"but got shape {tuple(pooled.shape)}."
            )
        return pooled.double() @ self.weight.double().T + self.bias.double()  # (N, C), float64

    def predict(self, pooled: Tensor) -> Tensor:
        """The class of highest score for each row of ``pooled`` (``LongTensor[N]``)."""
        return self.decision(pooled).argmax(dim=1)

    def cams(
        self,
        maps: Tensor,
        classes: Tensor,
        *,
        size: int | tuple[int, int] | None = None,
        normalize: str | None = None,
    ) -> Tensor:
        """The class activation maps ``M_c = sum_k w_k^c f_k`` of ``classes`` (``LongTensor[N, k]``).

        ``maps`` are the unpooled features ``f`` (``Tensor[N, K, h, w]``,
        ``camlib.study.features.extract_features(..., keep_maps=True)``); ``size`` and
        ``normalize`` as in ``camlib.class_activation_maps``. Without the
        bias, as in the paper; ``mean M_c + b_c`` is the SVM's score.
        """
        return class_activation_maps(maps, self.weight.to(maps), classes, size=size, normalize=normalize)

    def cam_boxes(
        self,
        maps: Tensor,
        classes: Tensor,
        *,
        size: int | tuple[int, int],
        threshold: float = 0.2,
        batch_size: int = 128,
    ) -> Tensor:
        """One box per image from the map of its class: the paper's protocol (``camlib.boxes_from_maps``).

        Each image's map of ``classes[i]`` is upsampled to ``size`` and boxed
        at ``threshold`` of its maximum (largest 8-connected component), in
        chunks of ``batch_size`` images to bound the memory.

        Args:
            maps: ``Tensor[N, K, h, w]``, the unpooled features.
            classes: ``LongTensor[N]``, one class per image (e.g. ``predict``).
            size: the frame of the boxes, usually the network's input size.
            threshold: the fraction of the maximum (the paper's 0.2).
            batch_size: images per chunk.

        Returns:
            ``LongTensor[N, 4]``: ``(x1, y1, x2, y2)`` inclusive pixel boxes
            in the ``size`` frame; ``(0, 0, 0, 0)`` where the map has no
            positive value.

        Example:
            >>> svm = LinearSVM(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.zeros(2), 1.0, {1.0: 1.0}, 3)
            >>> f = torch.zeros(1, 2, 4, 4); f[0, 0, 1:3, 0:2] = 1.0; f[0, 1, 3, 3] = 1.0
            >>> svm.cam_boxes(f, torch.tensor([0]), size=4), svm.cam_boxes(f, torch.tensor([1]), size=4)
            (tensor([[0, 1, 1, 2]]), tensor([[3, 3, 3, 3]]))
        """
        check_tensor("classes", classes, ndim=1, dims="(N,)", integer=True)
        check_fraction("threshold", threshold)
        if len(classes) != len(maps):
            raise ValueError(f"`classes` must hold one class per image ({len(maps)}), but got {len(classes)}.")
        if len(maps) == 0:
            return torch.zeros(0, 4, dtype=torch.long)
        boxes = []
        for start in range(0, len(maps), batch_size):
            chunk = slice(start, start + batch_size)
            cams = self.cams(maps[chunk], classes[chunk, None], size=size)[:, 0]  # (n, H, W)
            boxes.append(boxes_from_maps(cams, threshold).cpu())
        return torch.cat(boxes)


def fit_linear_svm(
    pooled: Tensor,
    labels: Tensor,
    *,
    Cs: Sequence[float] = (0.1, 1.0, 10.0),
    folds: int = 3,
    seed: int = 0,
    max_iter: int = 20000,
    n_jobs: int = 1,
    cache: bool = True,
    cache_root: str | os.PathLike | None = None,
) -> LinearSVM:
    """A one-vs-rest linear SVM on pooled features, ``C`` chosen by cross-validation on them alone.

    The features are divided by one constant, the mean L2 norm of the rows
    of ``pooled``, so that the grid of ``C`` means the same for any network;
    the returned weights are divided by it too, so they apply to the raw
    features (the SVM stays linear in ``F``, and its maps exact). For every
    ``C`` in ``Cs``, ``LinearSVC(C=C)`` is trained on ``folds - 1`` folds of a
    ``StratifiedKFold(folds, shuffle=True, random_state=seed)`` split and scored
    by accuracy on the held-out fold; the ``C`` of best mean accuracy (the
    smallest on a tie) is refit on all of ``pooled``. Nothing but the training
    data is looked at. A ``C`` for which liblinear does not converge within
    ``max_iter`` on some fold is left out of the choice (its ``cv_accuracy``
    is NaN) with a ``RuntimeWarning``. With two classes liblinear fits one vector ``w``; it is
    returned as the rows ``(-w/2, w/2)`` (and the bias likewise), which give
    the same decisions and the maps of both classes.

    Args:
        pooled: ``Tensor[N, K]``, the training features.
        labels: ``LongTensor[N]`` with every class ``0 .. C-1`` present at
            least ``folds`` times.
        Cs: the regularization constants to try (positive).
        folds: the number of cross-validation folds, >= 2.
        seed: the fold split and liblinear's random order.
        max_iter: liblinear's iteration limit.
        n_jobs: fits run in parallel (joblib processes); the result does not depend on it.
        cache: keep the fitted SVM in ``camlib.study.cache`` under a key of the
            data's fingerprints and every argument, and read it back.
        cache_root: the cache folder (``camlib.study.cache.cache_dir``).

    Returns:
        ``LinearSVM``.

    Raises:
        TypeError: ``pooled`` is not a floating 2-D tensor or ``labels`` not integer.
        ValueError: shapes disagree, a class is missing or has fewer than
            ``folds`` examples, ``Cs`` is empty or not positive, ``folds < 2``.
        RuntimeError: liblinear converged for no ``C`` of ``Cs``, or not on all the data.

    Warns:
        RuntimeWarning: some ``C`` did not converge and was left out.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.arange(3).repeat(10)                     # 3 classes, 10 images each
        >>> pooled = torch.randn(30, 4, generator=g) + 3 * torch.eye(3, 4)[labels]
        >>> svm = fit_linear_svm(pooled, labels, Cs=(0.1, 1.0), cache=False)
        >>> svm.weight.shape, bool((svm.predict(pooled) == labels).float().mean() > 0.9)
        (torch.Size([3, 4]), True)
    """
    from joblib import Parallel, delayed
    from sklearn.model_selection import StratifiedKFold

    from camlib.study.cache import memoize
    from camlib.study.features import fingerprint

    check_tensor("pooled", pooled, ndim=2, dims="(N, K)", floating=True)
    check_tensor("labels", labels, ndim=1, dims="(N,)", integer=True)
    if len(labels) != len(pooled):
        raise ValueError(f"`labels` must hold one label per row of `pooled` ({len(pooled)}), but got {len(labels)}.")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"`folds` must be an int >= 2, but got {folds!r}.")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"`n_jobs` must be an int >= 1, but got {n_jobs!r}.")
    Cs = [float(c) for c in Cs]
    if not Cs or min(Cs) <= 0:
        raise ValueError(f"`Cs` must hold at least one positive number, but got {Cs!r}.")
    counts = torch.bincount(labels.cpu(), minlength=int(labels.max()) + 1 if len(labels) else 0)
    if len(labels) == 0 or int(labels.min()) < 0 or int(counts.min()) < folds or len(counts) < 2:
        shown = {i: int(n) for i, n in enumerate(counts.tolist()) if n < folds}
        raise ValueError(
            f"`labels` must hold every class 0 .. C-1 (C >= 2) at least `folds` = {folds} times, "
            f"but got counts below that for classes {shown or 'none (or fewer than 2 classes)'}."
        )

    X = pooled.detach().cpu().double().numpy()
    y = labels.detach().cpu().numpy()

    def fit() -> dict:
        scale = float(np.linalg.norm(X, axis=1).mean()) or 1.0
        Xs = X / scale
        split = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(Xs, y))
        jobs = [(c, train, held) for train, held in split for c in Cs]
        accuracies = Parallel(n_jobs=n_jobs)(
            delayed(_held_out_accuracy)(Xs, y, train, held, c, seed, max_iter) for c, train, held in jobs
        )
        cv = {c: float(np.mean([a for (c2, _, _), a in zip(jobs, accuracies) if c2 == c])) for c in Cs}
        failed = [c for c in Cs if np.isnan(cv[c])]
        if len(failed) == len(Cs):
            raise RuntimeError(
                f"liblinear did not converge for any C of {Cs} in `max_iter` = {max_iter} iterations; "
                f"raise max_iter or use smaller values in Cs."
            )
        if failed:
            warnings.warn(
                f"liblinear did not converge for C = {', '.join(f'{c:g}' for c in failed)} in `max_iter` = "
                f"{max_iter} iterations; left out of the choice of C.",
                RuntimeWarning,
                stacklevel=3,
            )
        best = max((c for c in Cs if c not in failed), key=lambda c: (cv[c], -c))
        svc = _fit(Xs, y, best, seed, max_iter)
        if svc is None:
            raise RuntimeError(f"liblinear did not converge for C = {best:g} on all the training data; raise max_iter.")
        coef = torch.from_numpy(svc.coef_).double() / scale  # (C, K) or (1, K)
        intercept = torch.from_numpy(np.asarray(svc.intercept_)).double()
        if coef.shape[0] == 1:  # two classes: one vector w, decision w.F + b for class 1
            coef, intercept = torch.cat([-coef, coef]) / 2, torch.cat([-intercept, intercept]) / 2
        return {"state_dict": {"weight": coef.float(), "bias": intercept.float()}, "C": best, "cv": cv}

    import sklearn

    parts = {
        "what": "linear-svm", "pooled": fingerprint(pooled.detach().cpu()), "labels": fingerprint(labels.cpu()),
        "Cs": Cs, "folds": folds, "seed": seed, "max_iter": max_iter, "sklearn": sklearn.__version__,
    }  # fmt: skip
    entry, _ = memoize(parts, fit, enabled=cache, cache_root=cache_root)
    cv = {float(c): float(a) for c, a in entry["cv"].items()}
    return LinearSVM(entry["state_dict"]["weight"], entry["state_dict"]["bias"], float(entry["C"]), cv, folds)


def _fit(X: np.ndarray, y: np.ndarray, C: float, seed: int, max_iter: int):
    """``LinearSVC(C).fit(X, y)`` (liblinear's dual solver), or None when it does not converge."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            return LinearSVC(C=C, dual=True, max_iter=max_iter, random_state=seed).fit(X, y)
        except ConvergenceWarning:
            return None


def _held_out_accuracy(X, y, train, held, C, seed, max_iter) -> float:
    """Accuracy on ``held`` of an SVM fitted on ``train``; NaN when it does not converge."""
    svc = _fit(X[train], y[train], C, seed, max_iter)
    return float("nan") if svc is None else float((svc.predict(X[held]) == y[held]).mean())


__all__ += ["SVMScore", "fit_and_score"]


class SVMScore(NamedTuple):
    """What ``fit_and_score`` returns.

    Attributes:
        svm: the ``LinearSVM`` fitted on the training features.
        predicted (LongTensor[N]): its class for each test image.
        correct (Tensor[N]): 1.0 where ``predicted`` is the test label, else 0.0 (float64).
    """

    svm: LinearSVM
    predicted: Tensor
    correct: Tensor


def fit_and_score(
    train: Any,
    test: Any,
    *,
    Cs: Sequence[float] = (0.1, 1.0, 10.0),
    folds: int = 3,
    seed: int = 0,
    n_jobs: int = 1,
    cache: bool = True,
) -> SVMScore:
    """An SVM cross-validated on the training features alone, and its per-image correctness on the test features.

    ``fit_linear_svm(train.pooled, train.labels, ...)`` (the test split is
    used only to score), then ``predict(test.pooled)``. The per-image
    correctness pairs two settings on the same test images
    (``camlib.study.stats.paired_bootstrap``); its mean is the test accuracy.

    Args:
        train, test: ``camlib.study.features.Features`` (anything with ``pooled``
            ``Tensor[N, K]`` and ``labels`` ``LongTensor[N]``), of the same ``K``.
        Cs, folds, seed, n_jobs, cache: passed to ``fit_linear_svm``.

    Returns:
        ``SVMScore(svm, predicted, correct)``.

    Raises:
        TypeError: ``train`` or ``test`` has no ``pooled`` or ``labels``.
        ValueError: as ``fit_linear_svm``; the test labels are not one per test row.

    Example:
        >>> from camlib.study.features import Features
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.arange(2).repeat(6)                              # 2 classes, 6 images each
        >>> f = Features(torch.randn(12, 3, generator=g) + 4 * torch.eye(2, 3)[labels], labels)
        >>> r = fit_and_score(f, f, Cs=(1.0,), cache=False)
        >>> r.correct.dtype, r.correct.mean().item()                        # well separated: all right
        (torch.float64, 1.0)
    """
    for name, value in (("train", train), ("test", test)):
        if not all(isinstance(getattr(value, field, None), Tensor) for field in ("pooled", "labels")):
            raise TypeError(
                f"`{name}` must have tensors `pooled` (N, K) and `labels` (N,) (camlib.study.features.Features), "
                f"but got {type(value).__name__}."
            )
    check_tensor("test.labels", test.labels, ndim=1, dims="(N,)", integer=True)
    if len(test.labels) != len(test.pooled):
        raise ValueError(
            f"`test.labels` must hold one label per row of `test.pooled` ({len(test.pooled)}), "
            f"but got {len(test.labels)}."
        )
    svm = fit_linear_svm(train.pooled, train.labels, Cs=Cs, folds=folds, seed=seed, n_jobs=n_jobs, cache=cache)
    predicted = svm.predict(test.pooled)  # (N,)
    return SVMScore(svm, predicted, (predicted == test.labels.to(predicted.device)).double())
