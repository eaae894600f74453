"""Tests of camlib.study.training: config, loop, determinism, non-finite losses, the box baseline, CLI and DDP."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader

import camlib
from camlib.data import Batch, collate
from camlib.models.heads import BoxOutput, box_regression_loss
from camlib.study.training import (
    NonFiniteLossError,
    Squares,
    TrainConfig,
    _dataset,
    evaluate,
    fit,
    main,
    make_loss,
    train_one_epoch,
)

TINY = dict(input_size=16, resolution=4, channels=4, width=8)


pytestmark = pytest.mark.usefixtures("one_thread")


def config(**changes) -> TrainConfig:
    values = dict(model="vgg-small", head="gap", epochs=2, batch_size=8, lr=1e-2, model_kwargs=TINY)
    return TrainConfig(**{**values, **changes})


def equal_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


class Pair(NamedTuple):
    """A minimal item: ``camlib.data.collate`` takes any NamedTuple with an ``image`` and a ``label``."""

    image: Tensor
    label: int


def quadrant_squares(n: int, side: int = 16, seed: int = 0) -> list[Pair]:
    """Noise with a bright square in one quadrant; the label is the quadrant (0 1 / 2 3)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(4, (n,), generator=g)
    images = 0.2 * torch.randn(n, 3, side, side, generator=g)
    s, half = side // 4, side // 2
    for i, label in enumerate(labels.tolist()):
        y, x = (label // 2) * half + s // 2, (label % 2) * half + s // 2
        images[i, :, y : y + s, x : x + s] += 1.0
    return [Pair(image, label) for image, label in zip(images, labels.tolist())]


# --- config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(model="lenet"), "`model` must be one of 'alexnet-small', .* but got 'lenet'"),
        (dict(head="svm"), "`head` must be one of 'gap', 'gmp', 'fc', 'box', but got 'svm'"),
        (dict(optimizer="adam"), "`optimizer` must be one of 'adamw', 'sgd', but got 'adam'"),
        (dict(epochs=0), "`epochs` must be a positive int, but got 0"),
        (dict(batch_size=2.0), "`batch_size` must be a positive int, but got 2.0"),
        (dict(lr=0.0), "`lr` must be positive, but got 0.0"),
        (dict(patience=-1), r"`patience` must be an int >= 0 \(0: no early stopping\), but got -1"),
        (dict(min_delta=1.5), r"`min_delta` must be a fraction in \[0, 1\), but got 1.5"),
        (dict(schedule="step"), "`schedule` must be one of 'constant', 'cosine', 'plateau', but got 'step'"),
    ],
)
def test_config_checks(changes, message):
    with pytest.raises(ValueError, match=message):
        config(**changes)


# --- training ---------------------------------------------------------------------------


def test_deterministic_and_leaves_global_rng_alone():
    data = Squares(32, size=16)
    state = torch.get_rng_state()
    a, history_a = fit(config(), data, cache=False)
    b, history_b = fit(config(), data, cache=False)
    assert torch.equal(torch.get_rng_state(), state)
    assert equal_weights(a, b)
    assert [h["train_loss"] for h in history_a] == [h["train_loss"] for h in history_b]
    c, _ = fit(config(seed=1), data, cache=False)
    assert not equal_weights(a, c)


def test_dropout_is_seeded_too():
    data = Squares(16, size=16)
    a, _ = fit(config(head="fc", model_kwargs={**TINY, "hidden": 8}), data, cache=False)
    b, _ = fit(config(head="fc", model_kwargs={**TINY, "hidden": 8}), data, cache=False)
    assert equal_weights(a, b)


def test_gap_net_learns_any_map_style_dataset():
    train, val = quadrant_squares(128), quadrant_squares(64, seed=1)  # lists of Pairs
    model, history = fit(config(epochs=4, batch_size=16, lr=3e-3), train, val_dataset=val, cache=False)
    assert history[-1]["train_accuracy"] >= 0.9 and history[-1]["val_accuracy"] >= 0.9
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert [h["epoch"] for h in history] == [0, 1, 2, 3] and model.training is False


def test_evaluate_by_hand():
    data = quadrant_squares(12)
    images, labels = torch.stack([p.image for p in data]), torch.tensor([p.label for p in data])
    model = camlib.build_model("vgg-small", num_classes=4, **TINY).train()
    loader = DataLoader(data, batch_size=5, collate_fn=collate)  # batches of 5, 5, 2
    result = evaluate(model, loader, make_loss(config()))
    assert model.training  # restored
    with torch.no_grad():
        logits = model.eval()(images)
    assert result["loss"] == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-5)
    assert result["accuracy"] == (logits.argmax(1) == labels).sum().item() / 12


def test_non_finite_loss_in_the_loop():
    model = camlib.build_model("vgg-small", num_classes=4, **TINY)
    loader = DataLoader(quadrant_squares(8), batch_size=4, collate_fn=collate)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    nan_loss = lambda output, batch: output.sum() * float("nan")  # noqa: E731
    with pytest.raises(NonFiniteLossError, match="The loss is nan at epoch 3, step 0; config: 'my config'"):
        train_one_epoch(model, loader, optimizer, nan_loss, epoch=3, config="my config")


def test_non_finite_loss_in_fit():
    huge = config(lr=1e30, optimizer="sgd", epochs=3, model_kwargs={**TINY, "batch_norm": False})
    message = r"The loss is (nan|inf) at epoch \d+, step \d+; config: TrainConfig\(model='vgg-small'"
    with pytest.raises(FloatingPointError, match=message):
        fit(huge, Squares(32, size=16), cache=False)


# --- the box baseline -------------------------------------------------------------------


def test_box_baseline_trains():
    data = Squares(64, size=16)
    model, history = fit(config(head="box", epochs=3, lr=3e-3), data, cache=False)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    images = torch.stack([data[i].image for i in range(4)])
    boxes = model.predict_boxes(images)
    assert boxes.shape == (4, 4) and (boxes >= 0).all() and (boxes <= 15).all()


def test_box_head_is_stopped_on_its_boxes_and_scored_by_their_iou():
    """evaluate() adds the boxes' mean best IoU (checked against best_iou by hand); fit stops and keeps on it."""
    from camlib.boxes.geometry import best_iou, unit_to_boxes
    from camlib.study.training import evaluate, monitor

    data, val = Squares(64, size=16), Squares(32, size=16, seed=1)
    model, history = fit(
        config(head="box", epochs=4, lr=3e-3, patience=1, min_delta=0.0), data, val_dataset=val, cache=False
    )
    assert monitor("box") == "val_box_iou" and monitor("gap") == "val_accuracy"
    assert all(0 <= row["val_box_iou"] <= 1 for row in history)
    kept = camlib.study.training.best_epoch(history, "val_box_iou")
    loader = DataLoader(val, 8, collate_fn=collate)
    scores = evaluate(model, loader, make_loss(config(head="box")))
    batch = collate([val[i] for i in range(len(val))])
    with torch.no_grad():
        by_hand = best_iou(unit_to_boxes(model(batch.images).boxes, (16, 16)), list(batch.boxes)).mean().item()
    assert scores["box_iou"] == pytest.approx(by_hand, abs=1e-9)
    assert scores["box_iou"] == pytest.approx(history[kept]["val_box_iou"], abs=1e-9)  # the kept epoch's weights
    gap, gap_history = fit(config(epochs=1), data, val_dataset=val, cache=False)
    assert "val_box_iou" not in gap_history[0] and "box_iou" not in evaluate(gap, loader, make_loss(config()))


def test_box_loss_reads_the_first_box_of_each_image():
    images = torch.zeros(2, 3, 10, 20)
    labels = torch.tensor([1, 0])
    batch = Batch(images, labels, boxes=[torch.tensor([[0, 0, 19, 9], [1, 1, 2, 2]]), torch.tensor([[10, 5, 14, 9]])])
    logits = torch.tensor([[0.0, 2.0], [1.0, 0.0]])
    predicted = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.5, 0.5]])
    # Targets: (0, 0, 19, 9) covers all of 10 x 20 (H x W) -> (0, 0, 1, 1); (10, 5, 14, 9) has
    # edges 10/20, 5/10, 15/20, 10/10 -> (0.5, 0.5, 0.75, 1.0).
    target = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.75, 1.0]])
    loss = make_loss(config(head="box", box_weight=2.0))(BoxOutput(logits, predicted), batch)
    expected = F.cross_entropy(logits, labels) + 2.0 * box_regression_loss(predicted, target)
    torch.testing.assert_close(loss, expected)
    assert make_loss(config())(logits, batch) == F.cross_entropy(logits, labels)
    no_box = Batch(images, labels, boxes=[torch.zeros(0, 4, dtype=torch.long), torch.tensor([[0, 0, 1, 1]])])
    with pytest.raises(ValueError, match="Every image needs a box to train the box head"):
        make_loss(config(head="box"))(BoxOutput(logits, predicted), no_box)
    with pytest.raises(ValueError, match="Every image needs a box to train the box head"):
        make_loss(config(head="box"))(BoxOutput(logits, predicted), Batch(images, labels))


def test_the_loop_takes_only_batches():
    model = camlib.build_model("vgg-small", num_classes=4, **TINY)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    tuples = [(torch.zeros(2, 3, 16, 16), torch.tensor([0, 1]))]
    with pytest.raises(TypeError, match=r"`batch` must be a camlib.data.Batch .* but got tuple"):
        train_one_epoch(model, tuples, optimizer, make_loss(config()))
    with pytest.raises(TypeError, match=r"`batch` must be a camlib.data.Batch .* but got tuple"):
        evaluate(model, tuples, make_loss(config()))


def test_squares():
    data = Squares(20, size=32, seed=3)
    assert len(data) == 20 and data.spec() == {"name": "Squares", "n": 20, "size": 32, "seed": 3}
    for i in range(20):
        image, label, boxes, image_id, size = data[i]
        ((x1, y1, x2, y2),) = boxes.tolist()
        assert (x2 - x1 + 1, y2 - y1 + 1) == (8, 8) and (image_id, size) == (str(i), (32, 32))
        assert label == (y1 >= 16) * 2 + (x1 >= 16) and (x2 < 16) == (x1 < 16) and (y2 < 16) == (y1 < 16)
        assert image[:, y1 : y2 + 1, x1 : x2 + 1].mean() > 0.8 > image.mean()
    assert torch.equal(data[7].image, Squares(20, size=32, seed=3)[7].image)
    with pytest.raises(IndexError, match=r"`i` must be in \[0, 20\), but got 20"):
        data[20]


# --- the command line and DistributedDataParallel ---------------------------------------


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    assert "--model-kwargs" in capsys.readouterr().out


def test_cli_dataset_by_import_path():
    assert _dataset("camlib.study.training:Squares", {"n": 3}).spec()["n"] == 3
    with pytest.raises(ValueError, match="`--dataset` must be 'squares' or 'module:Class', but got 'cifar'"):
        _dataset("cifar", {})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_matches_one_process(tmp_path):
    # No BatchNorm: its statistics are per process, which breaks exact parity.
    args = [
        "--model", "vgg-small", "--model-kwargs", json.dumps({**TINY, "batch_norm": False}),
        "--dataset-kwargs", json.dumps({"n": 32, "size": 16}),
        "--epochs", "2", "--batch-size", "8", "--lr", "0.01", "--no-cache",
    ]  # fmt: skip
    main([*args, "--out", str(tmp_path / "one.pt")])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(camlib.__file__).parent.parent)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1"]
    cmd += ["--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "camlib.study.training", *args]
    cmd += ["--out", str(tmp_path / "two.pt")]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    two = torch.load(tmp_path / "two.pt", weights_only=True)
    assert one["state_dict"].keys() == two["state_dict"].keys()
    for key, value in one["state_dict"].items():
        torch.testing.assert_close(two["state_dict"][key], value, atol=1e-6, rtol=1e-5)
    for h1, h2 in zip(one["history"], two["history"]):
        assert h1["train_loss"] == pytest.approx(h2["train_loss"], rel=1e-5)
        assert h1["train_accuracy"] == h2["train_accuracy"]
    assert sorted(os.listdir(tmp_path)) == ["one.pt", "two.pt"]  # rank 1 wrote nothing else


def test_trains_on_the_batches_of_a_synthetic_benchmark():
    # One collate for every dataset: camlib.data.synthetic.collate is camlib.data.collate.
    from camlib.data.synthetic import Localization
    from camlib.data.synthetic import collate as synthetic_collate

    assert synthetic_collate is collate
    data = Localization(4, seed=0, image_size=32, num_classes=3, scale=(0.4, 0.8))
    box = config(head="box", num_classes=3, epochs=1, batch_size=2, model_kwargs={**TINY, "input_size": 32})
    model, history = fit(box, data, val_dataset=data, cache=False)
    assert len(history) == 1 and 0 <= history[0]["val_accuracy"] <= 1


def test_fit_small_is_fit_with_the_small_backbones_arguments(tmp_path):
    from camlib.data.synthetic import Localization

    data = Localization(8, seed=0, image_size=32, num_classes=3, clutter=0, scale=(0.5, 0.9)).in_memory(progress=False)
    kwargs = dict(
        model="alexnet-small",
        head="gap",
        num_classes=3,
        image_size=32,
        resolution=4,
        channels=4,
        epochs=1,
        batch_size=4,
        seed=0,
        cache_root=tmp_path,
    )
    net, history = camlib.study.training.fit_small(data, data, **kwargs)
    config = camlib.study.training.TrainConfig(
        model="alexnet-small",
        num_classes=3,
        head="gap",
        epochs=1,
        batch_size=4,
        lr=2e-3,
        seed=0,
        channels_last=True,
        model_kwargs={"input_size": 32, "resolution": 4, "channels": 4},
    )
    same, same_history = camlib.study.training.fit(config, data, val_dataset=data, cache_root=tmp_path)
    assert history == same_history and len(list(tmp_path.glob("*.pt"))) == 1  # one cache entry: the same network
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), same.state_dict().values()))
    assert 0 <= history[0]["val_accuracy"] <= 1


def test_channels_last_trains_the_same_network_and_returns_it_contiguous():
    data = Squares(32, size=16)
    plain, history = fit(config(epochs=2), data, val_dataset=data, cache=False)
    fast, fast_history = fit(config(epochs=2, channels_last=True), data, val_dataset=data, cache=False)
    for (name, a), b in zip(plain.state_dict().items(), fast.state_dict().values()):
        assert b.is_contiguous(), name
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-3)
    for h, f in zip(history, fast_history):
        assert math.isclose(h["train_loss"], f["train_loss"], rel_tol=1e-4)
        assert h["val_accuracy"] == f["val_accuracy"]


# --- early stopping and schedules -------------------------------------------------------


@pytest.mark.parametrize(
    ("accuracies", "min_delta", "expected"),
    [
        ([0.5], 0.0, 0),
        ([0.5, 0.7, 0.705, 0.69], 0.01, 1),  # +0.5 points is not a rise
        ([0.5, 0.7, 0.705, 0.69], 0.0, 2),
        ([0.5, 0.509, 0.518], 0.01, 2),  # a creep: 0.518 is more than 0.01 above the best (0.5)
        ([0.9, 0.5, 0.6], 0.0, 0),
    ],
)
def test_best_epoch(accuracies, min_delta, expected):
    assert camlib.study.training.best_epoch([{"val_accuracy": a} for a in accuracies], min_delta=min_delta) == expected


def test_best_epoch_needs_the_key():
    with pytest.raises(ValueError, match="`history` must be per-epoch records that all hold 'val_accuracy'"):
        camlib.study.training.best_epoch([{"val_accuracy": 0.5}, {"train_accuracy": 0.5}])


def test_early_stopping_stops_and_keeps_the_best_epoch(monkeypatch):
    # the held-out accuracy per epoch is scripted; the kept weights must be those after the best epoch
    script = iter([0.3, 0.6, 0.62, 0.55, 0.58, 0.9, 0.9])
    monkeypatch.setattr(camlib.study.training, "evaluate", lambda *a, **k: {"loss": 0.0, "accuracy": next(script)})
    data = Squares(16, size=16)
    snapshots = []
    real_epoch = camlib.study.training.train_one_epoch

    def one_epoch(net, *args, **kwargs):
        out = real_epoch(net, *args, **kwargs)
        snapshots.append({k: v.clone() for k, v in net.state_dict().items()})
        return out

    monkeypatch.setattr(camlib.study.training, "train_one_epoch", one_epoch)
    model, history = fit(config(epochs=7, patience=2, min_delta=0.05), data, val_dataset=data, cache=False)
    # best epochs: 0 (0.3), 1 (0.6, +0.3); 0.62 is within 0.05; no rise at epochs 2 and 3: stop after epoch 3
    assert [round(h["val_accuracy"], 2) for h in history] == [0.3, 0.6, 0.62, 0.55]
    kept = model.state_dict()
    assert all(torch.equal(kept[k], snapshots[1][k]) for k in kept)
    assert not all(torch.equal(kept[k], snapshots[3][k]) for k in kept)


def test_early_stopping_needs_held_out_data():
    with pytest.raises(ValueError, match=r"`val_dataset` must be given for early stopping or the plateau schedule"):
        fit(config(patience=2), Squares(8, size=16), cache=False)
    with pytest.raises(ValueError, match=r"schedule='plateau'"):
        fit(config(schedule="plateau"), Squares(8, size=16), cache=False)


@pytest.mark.parametrize(
    ("accuracies", "patience", "min_delta", "epochs_run", "kept", "improved"),
    [
        # best 0, 1 (+0.3), then 0.62 is within 0.05 of 0.6 and 0.55 below: 2 epochs without a rise, stop after 3
        ([0.3, 0.6, 0.62, 0.55, 0.58, 0.9], 2, 0.05, 4, 1, [True, True, False, False]),
        # every rise counts with min_delta 0: the last epoch is a new best, no stop
        ([0.5, 0.7, 0.705, 0.69, 0.8], 2, 0.0, 5, 4, [True, True, True, False, True]),
        # patience 1: the first epoch without a rise stops
        ([0.5, 0.4, 0.9], 1, 0.0, 2, 0, [True, False]),
        # a creep of 0.009 per epoch: 0.518 is more than 0.01 above the best (0.5), 0.52 is not above 0.518
        ([0.5, 0.509, 0.518, 0.52], 3, 0.01, 4, 2, [True, False, True, False]),
        # ties are not rises: the first epoch at the best is kept
        ([0.6, 0.6, 0.6, 0.9], 2, 0.0, 3, 0, [True, False, False]),
        # patience 0: no early stopping, every epoch runs and the last is kept
        ([0.9, 0.5, 0.6], 0, 0.0, 3, 2, [False, False, False]),
    ],
)
def test_early_stopping_rule_by_hand(accuracies, patience, min_delta, epochs_run, kept, improved):
    from camlib.study.training import EarlyStopping

    model = torch.nn.Linear(1, 1, bias=False)
    stopper, history, seen = EarlyStopping(patience, min_delta), [], []
    for epoch, accuracy in enumerate(accuracies):
        model.weight.data.fill_(epoch)  # "training": the weights name the epoch
        history.append({"epoch": epoch, "val_accuracy": accuracy})
        stop = stopper.update(history, model)
        seen.append(stopper.improved)
        if stop:
            break
    assert len(history) == epochs_run and seen == improved and stopper.stopped == (epochs_run < len(accuracies))
    assert stopper.best == (kept if patience else None)
    assert stopper.kept_state(model)["weight"].item() == kept
    stopper.restore(model)
    assert model.weight.item() == kept


def test_early_stopping_keeps_a_cpu_copy_not_a_view_of_the_live_weights():
    from camlib.study.training import EarlyStopping

    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    stopper = EarlyStopping(patience=1)
    assert stopper.update([{"val_accuracy": 0.5}], model) is False and stopper.improved
    before = {k: v.clone() for k, v in model.state_dict().items()}
    kept = stopper.kept_state(model)
    assert all(v.device.type == "cpu" and v.data_ptr() != model.state_dict()[k].data_ptr() for k, v in kept.items())
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()  # the live weights move after the copy ...
    with torch.no_grad():
        model.bias.add_(5.0)
    assert not torch.equal(model.weight, before["weight"])
    assert stopper.update([{"val_accuracy": 0.5}, {"val_accuracy": 0.4}], model) is True
    assert all(torch.equal(kept[k], before[k]) for k in before)  # ... the copy does not
    assert stopper.restore(model) is model and all(torch.equal(model.state_dict()[k], before[k]) for k in before)
    last = EarlyStopping(patience=0).kept_state(model)  # no early stopping: a copy of the weights as they are
    with torch.no_grad():
        model.weight.zero_()
    assert torch.equal(last["weight"], before["weight"])


def test_early_stopping_checks_its_arguments():
    from camlib.study.training import EarlyStopping

    with pytest.raises(ValueError, match=r"`patience` must be an int >= 0 \(0: no early stopping\), but got -1\."):
        EarlyStopping(patience=-1)
    for bad in (True, 1.5):
        with pytest.raises(ValueError, match=rf"`patience` must be an int >= 0 .*but got {bad!r}\."):
            EarlyStopping(patience=bad)
    with pytest.raises(ValueError, match=r"`min_delta` must be a number >= 0, but got -0.1\."):
        EarlyStopping(patience=2, min_delta=-0.1)
    stopper, model = EarlyStopping(patience=2), torch.nn.Linear(1, 1)
    with pytest.raises(RuntimeError, match=r"`update` must be called after each epoch before `kept_state`"):
        stopper.kept_state(model)
    with pytest.raises(ValueError, match=r"`history` must be per-epoch records that all hold 'val_accuracy'"):
        stopper.update([{"train_accuracy": 0.5}], model)
    # without patience the score is never read: a run without held-out data
    assert EarlyStopping().update([{"train_accuracy": 0.5}], model) is False


def test_schedules_set_the_learning_rate(monkeypatch):
    data = Squares(16, size=16)  # 2 steps per epoch at batch 8
    _, cosine = fit(config(epochs=4, schedule="cosine", lr=0.1), data, cache=False)
    # annealed per step over 4 epochs x 2 steps: after epoch e, lr = 0.05 * (1 + cos(pi * 2(e+1) / 8))
    expected = [0.05 * (1 + math.cos(math.pi * 2 * (e + 1) / 8)) for e in range(4)]
    assert [h["lr"] for h in cosine] == pytest.approx(expected, abs=1e-12)
    script = iter([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    monkeypatch.setattr(camlib.study.training, "evaluate", lambda *a, **k: {"loss": 0.0, "accuracy": next(script)})
    _, plateau = fit(config(epochs=6, schedule="plateau", lr=0.1), data, val_dataset=data, cache=False)
    # no rise: after 2 epochs without one (at the end of epoch 3) the rate drops to 0.02, then again after epoch 6
    assert [h["lr"] for h in plateau][:4] == pytest.approx([0.1, 0.1, 0.1, 0.1])
    assert plateau[4]["lr"] == pytest.approx(0.02)


def test_a_validation_set_without_identity_is_refused_when_caching(tmp_path):
    # Two validation sets of one type used to share a cache entry (the key fell back to the type's name), so a
    # network early-stopped on one was read back for the other. Now the key needs the validation set's identity.
    from torch.utils.data import Subset

    data = Squares(8, size=16)
    with pytest.raises(ValueError, match=r"Caching needs an identity for the validation data too: Subset has no spec"):
        fit(config(epochs=1), data, val_dataset=Subset(Squares(8, size=16), [0, 1, 2]), cache_root=tmp_path)
    assert list(tmp_path.glob("*.pt")) == []
