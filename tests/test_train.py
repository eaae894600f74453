"""Tests of camlib.train: config, loop, determinism, non-finite losses, the box baseline, CLI and DDP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import camlib
from camlib.train import (
    NonFiniteLossError,
    Squares,
    TrainConfig,
    _dataset,
    box_batch,
    evaluate,
    fit,
    label_batch,
    main,
    train_one_epoch,
)

TINY = dict(input_size=16, resolution=4, channels=4, width=8)


pytestmark = pytest.mark.usefixtures("one_thread")


def config(**changes) -> TrainConfig:
    values = dict(model="vgg-small", head="gap", epochs=2, batch_size=8, lr=1e-2, model_kwargs=TINY)
    return TrainConfig(**{**values, **changes})


def equal_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def quadrant_squares(n: int, side: int = 16, seed: int = 0) -> TensorDataset:
    """Noise with a bright square in one quadrant; the label is the quadrant (0 1 / 2 3)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(4, (n,), generator=g)
    images = 0.2 * torch.randn(n, 3, side, side, generator=g)
    s, half = side // 4, side // 2
    for i, label in enumerate(labels.tolist()):
        y, x = (label // 2) * half + s // 2, (label % 2) * half + s // 2
        images[i, :, y : y + s, x : x + s] += 1.0
    return TensorDataset(images, labels)


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
    train, val = quadrant_squares(128), quadrant_squares(64, seed=1)  # TensorDatasets
    model, history = fit(config(epochs=4, batch_size=16, lr=3e-3), train, val_dataset=val, cache=False)
    assert history[-1]["train_accuracy"] >= 0.9 and history[-1]["val_accuracy"] >= 0.9
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert [h["epoch"] for h in history] == [0, 1, 2, 3] and model.training is False


def test_evaluate_by_hand():
    images, labels = quadrant_squares(12).tensors
    model = camlib.models.build_model("vgg-small", num_classes=4, **TINY).train()
    loader = DataLoader(TensorDataset(images, labels), batch_size=5)  # batches of 5, 5, 2
    result = evaluate(model, loader, F.cross_entropy)
    assert model.training  # restored
    with torch.no_grad():
        logits = model.eval()(images)
    assert result["loss"] == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-5)
    assert result["accuracy"] == (logits.argmax(1) == labels).sum().item() / 12


def test_non_finite_loss_in_the_loop():
    model = camlib.models.build_model("vgg-small", num_classes=4, **TINY)
    loader = DataLoader(quadrant_squares(8), batch_size=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    nan_loss = lambda output, labels: output.sum() * float("nan")  # noqa: E731
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
    images = torch.stack([data[i][0] for i in range(4)])
    boxes = model.predict_boxes(images)
    assert boxes.shape == (4, 4) and (boxes >= 0).all() and (boxes <= 15).all()


def test_box_batch_formats():
    images = torch.zeros(2, 3, 10, 20)
    labels = torch.tensor([1, 0])
    # A camlib.data.Batch-like batch: a list of boxes per image; the first is used.
    Batch = namedtuple("Batch", "images labels boxes")
    batch = Batch(images, labels, [torch.tensor([[0, 0, 19, 9], [1, 1, 2, 2]]), torch.tensor([[10, 5, 14, 9]])])
    x, (y, unit) = box_batch(batch)
    assert x is images and y is labels
    # (10, 5, 14, 9) in 10 x 20 (H x W): edges 10/20, 5/10, 15/20, 10/10.
    torch.testing.assert_close(unit, torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.75, 1.0]]))
    # A tuple batch (images, labels, boxes[N, 4]) gives the same.
    _, (_, unit2) = box_batch((images, labels, torch.tensor([[0, 0, 19, 9], [10, 5, 14, 9]])))
    torch.testing.assert_close(unit, unit2)
    assert label_batch(batch) == (images, labels)
    with pytest.raises(ValueError, match="Every image needs a box to train the box head"):
        box_batch(Batch(images, labels, [torch.zeros(0, 4, dtype=torch.long), torch.tensor([[0, 0, 1, 1]])]))


def test_squares():
    data = Squares(20, size=32, seed=3)
    assert len(data) == 20 and data.spec() == {"name": "Squares", "n": 20, "size": 32, "seed": 3}
    for i in range(20):
        image, label, (x1, y1, x2, y2) = data[i]
        assert (x2 - x1 + 1, y2 - y1 + 1) == (8, 8)
        assert label == (y1 >= 16) * 2 + (x1 >= 16) and (x2 < 16) == (x1 < 16) and (y2 < 16) == (y1 < 16)
        assert image[:, y1 : y2 + 1, x1 : x2 + 1].mean() > 0.8 > image.mean()
    assert torch.equal(data[7][0], Squares(20, size=32, seed=3)[7][0])
    with pytest.raises(IndexError, match=r"`i` must be in \[0, 20\), but got 20"):
        data[20]


# --- the command line and DistributedDataParallel ---------------------------------------


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    assert "--model-kwargs" in capsys.readouterr().out


def test_cli_dataset_by_import_path():
    assert _dataset("camlib.train:Squares", {"n": 3}).spec()["n"] == 3
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
    cmd += ["--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "camlib.train", *args]
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


def test_batches_from_the_synthetic_collate():
    # camlib.data.synthetic.collate makes a dict keyed by the item's fields
    from camlib.data.synthetic import Localization, collate

    batch = collate([Localization(3, seed=0)[i] for i in range(3)])
    images, labels = label_batch(batch)
    assert images is batch["image"] and labels is batch["label"]
    _, (labels2, unit) = box_batch(batch)
    assert torch.equal(labels2, batch["label"])
    assert unit.shape == (3, 4) and float(unit.min()) >= 0 and float(unit.max()) <= 1
