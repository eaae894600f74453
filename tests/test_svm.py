"""Tests of camlib.study.svm: cross-validated linear SVMs on pooled features and their class maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

import camlib
from camlib.study.svm import LinearSVM, fit_linear_svm


def _blobs(gen, n_per_class=12, classes=3, K=5, spread=1.0):
    labels = torch.arange(classes).repeat(n_per_class)  # (N,)
    pooled = 2.0 + spread * torch.randn(len(labels), K, generator=gen) + 3 * torch.eye(classes, K)[labels]
    return pooled, labels


def test_cv_picks_the_best_C_by_hand(gen):
    pooled, labels = _blobs(gen)
    Cs = (0.001, 0.1, 10.0)
    svm = fit_linear_svm(pooled, labels, Cs=Cs, folds=3, seed=4, cache=False)
    # the reference: the same folds and fits, written out
    X = pooled.double().numpy()
    X = X / np.linalg.norm(X, axis=1).mean()
    y = labels.numpy()
    cv = {}
    for c in Cs:
        accs = []
        for tr, te in StratifiedKFold(3, shuffle=True, random_state=4).split(X, y):
            svc = LinearSVC(C=c, dual=True, max_iter=20000, random_state=4).fit(X[tr], y[tr])
            accs.append((svc.predict(X[te]) == y[te]).mean())
        cv[c] = float(np.mean(accs))
    assert svm.cv_accuracy == pytest.approx(cv)
    best = max(Cs, key=lambda c: (cv[c], -c))
    assert svm.C == best and svm.folds == 3


def test_weights_apply_to_the_raw_features(gen):
    pooled, labels = _blobs(gen)
    svm = fit_linear_svm(pooled, labels, Cs=(1.0,), cache=False)
    scale = pooled.double().norm(dim=1).mean().item()
    svc = LinearSVC(C=1.0, dual=True, max_iter=20000, random_state=0).fit(
        pooled.double().numpy() / scale, labels.numpy()
    )
    reference = torch.from_numpy(svc.decision_function(pooled.double().numpy() / scale))
    assert torch.allclose(svm.decision(pooled), reference, atol=1e-5)
    assert torch.equal(svm.predict(pooled), reference.argmax(dim=1))


def test_the_mean_of_the_svm_map_plus_bias_is_the_score(gen):
    # the paper's identity for an SVM on GAP features: mean_{x,y} M_c + b_c = S_c
    maps = torch.rand(6, 5, 3, 4, generator=gen)  # (N, K, h, w)
    pooled = maps.mean(dim=(2, 3))
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    svm = LinearSVM(torch.randn(3, 5, generator=gen), torch.randn(3, generator=gen), 1.0, {1.0: 1.0}, 2)
    every = torch.arange(3).expand(6, 3)
    cams = svm.cams(maps, every)  # (N, C, h, w)
    assert torch.allclose(cams.mean(dim=(2, 3)).double() + svm.bias.double(), svm.decision(pooled), atol=1e-5)
    del labels


def test_two_classes_give_two_opposite_rows(gen):
    pooled, labels = _blobs(gen, classes=2)
    svm = fit_linear_svm(pooled, labels, Cs=(1.0,), cache=False)
    assert svm.weight.shape == (2, 5)
    assert torch.allclose(svm.weight[0], -svm.weight[1]) and torch.allclose(svm.bias[0], -svm.bias[1])
    X = pooled.double().numpy()
    svc = LinearSVC(C=1.0, dual=True, max_iter=20000, random_state=0).fit(
        X / np.linalg.norm(X, axis=1).mean(), labels.numpy()
    )
    assert torch.equal(svm.predict(pooled), torch.from_numpy(svc.predict(X / np.linalg.norm(X, axis=1).mean())))


def test_cam_boxes_match_boxes_from_maps(gen):
    maps = torch.rand(5, 4, 6, 6, generator=gen)
    svm = LinearSVM(torch.randn(3, 4, generator=gen), torch.zeros(3), 1.0, {1.0: 1.0}, 2)
    classes = torch.tensor([0, 2, 1, 1, 0])
    cams = camlib.class_activation_maps(maps, svm.weight, classes[:, None], size=12)[:, 0]
    expected = camlib.boxes_from_maps(cams, 0.3)
    assert torch.equal(svm.cam_boxes(maps, classes, size=12, threshold=0.3, batch_size=2), expected)
    assert svm.cam_boxes(maps[:0], classes[:0], size=12).shape == (0, 4)


def test_cache_returns_the_same_svm(gen, tmp_path):
    pooled, labels = _blobs(gen)
    first = fit_linear_svm(pooled, labels, Cs=(0.1, 1.0), cache_root=tmp_path)
    assert len(list(tmp_path.glob("*.pt"))) == 1
    again = fit_linear_svm(pooled, labels, Cs=(0.1, 1.0), cache_root=tmp_path)
    assert torch.equal(first.weight, again.weight) and first.cv_accuracy == again.cv_accuracy and first.C == again.C
    fit_linear_svm(pooled, labels, Cs=(0.1, 2.0), cache_root=tmp_path)  # another grid: another entry
    assert len(list(tmp_path.glob("*.pt"))) == 2


def test_refuses_bad_input(gen):
    pooled, labels = _blobs(gen, n_per_class=2)
    with pytest.raises(
        ValueError, match=r"every class 0 .. C-1 \(C >= 2\) at least `folds` = 3 times.*\{0: 2, 1: 2, 2: 2\}"
    ):
        fit_linear_svm(pooled, labels, folds=3, cache=False)
    with pytest.raises(ValueError, match=r"`Cs` must hold at least one positive number, but got \[0.0\]"):
        fit_linear_svm(pooled, labels, Cs=(0.0,), folds=2, cache=False)
    with pytest.raises(ValueError, match=r"`labels` must hold one label per row of `pooled` \(6\), but got 5"):
        fit_linear_svm(pooled, labels[:5], folds=2, cache=False)
    with pytest.raises(TypeError, match=r"`labels` must have an integer dtype"):
        fit_linear_svm(pooled, labels.float(), folds=2, cache=False)
    with pytest.raises(ValueError, match=r"`folds` must be an int >= 2, but got 1"):
        fit_linear_svm(pooled, labels, folds=1, cache=False)
    svm = LinearSVM(torch.zeros(3, 5), torch.zeros(3), 1.0, {}, 2)
    with pytest.raises(ValueError, match=r"`pooled` must have K = 5 columns .* but got shape \(2, 4\)"):
        svm.decision(torch.zeros(2, 4))


def test_a_C_that_does_not_converge_is_left_out_with_a_warning(gen):
    pooled, labels = _blobs(gen, spread=5.0)
    with pytest.warns(RuntimeWarning, match=r"liblinear did not converge for C = 1000 in `max_iter` = 20 iterations"):
        svm = fit_linear_svm(pooled, labels, Cs=(0.001, 1000.0), max_iter=20, cache=False)
    assert svm.C == 0.001 and np.isnan(svm.cv_accuracy[1000.0]) and not np.isnan(svm.cv_accuracy[0.001])
    with pytest.raises(RuntimeError, match=r"liblinear did not converge for any C of \[1000.0\] in `max_iter` = 20"):
        fit_linear_svm(pooled, labels, Cs=(1000.0,), max_iter=20, cache=False)


def test_parallel_folds_give_the_same_svm(gen):
    pooled, labels = _blobs(gen)
    one = fit_linear_svm(pooled, labels, Cs=(0.1, 1.0), cache=False)
    two = fit_linear_svm(pooled, labels, Cs=(0.1, 1.0), n_jobs=2, cache=False)
    assert one.cv_accuracy == two.cv_accuracy and torch.equal(one.weight, two.weight)
    with pytest.raises(ValueError, match=r"`n_jobs` must be an int >= 1, but got 0"):
        fit_linear_svm(pooled, labels, n_jobs=0, cache=False)


def test_fit_and_score_scores_the_test_features_only(gen):
    from camlib.study.features import Features
    from camlib.study.svm import fit_and_score

    pooled, labels = _blobs(gen)
    train, test = Features(pooled[:24], labels[:24]), Features(pooled[24:], labels[24:])
    r = fit_and_score(train, test, Cs=(0.1, 1.0), folds=3, seed=2, cache=False)
    alone = fit_linear_svm(pooled[:24], labels[:24], Cs=(0.1, 1.0), folds=3, seed=2, cache=False)
    assert torch.equal(r.svm.weight, alone.weight) and r.svm.C == alone.C  # fitted on the training split alone
    assert torch.equal(r.predicted, alone.predict(pooled[24:]))
    assert r.correct.dtype == torch.float64 and torch.equal(r.correct, (r.predicted == labels[24:]).double())
    # a test label changed: that image, and only it, turns wrong
    flipped = labels[24:].clone()
    flipped[0] = (flipped[0] + 1) % 3
    again = fit_and_score(train, Features(pooled[24:], flipped), Cs=(0.1, 1.0), folds=3, seed=2, cache=False)
    assert again.correct[0] == 0 and torch.equal(again.correct[1:], r.correct[1:]) and r.correct[0] == 1


def test_fit_and_score_refuses_bad_input(gen):
    from camlib.study.features import Features
    from camlib.study.svm import fit_and_score

    pooled, labels = _blobs(gen)
    f = Features(pooled, labels)
    with pytest.raises(TypeError, match=r"`test` must have tensors `pooled` \(N, K\) and `labels` \(N,\) .* got tuple"):
        fit_and_score(f, (pooled, labels), cache=False)
    with pytest.raises(ValueError, match=r"`test.labels` must hold one label per row of `test.pooled` \(36\), .* 5"):
        fit_and_score(f, Features(pooled, labels[:5]), cache=False)
