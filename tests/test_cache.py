"""Tests of camlib.cache and of fit's use of it: keys, atomic writes, loads instead of training."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch

import camlib.cache
import camlib.train
from camlib.cache import cache_dir, cache_key, load_entry, save_entry
from camlib.train import Squares, TrainConfig, fit

CONFIG = TrainConfig(
    model="vgg-small", head="gap", epochs=1, batch_size=8,
    model_kwargs=dict(input_size=16, resolution=4, channels=2, width=4),
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


def test_key_is_canonical():
    a = cache_key({"config": {"lr": 0.1, "sizes": (1, 2)}, "data": "x"})
    assert a == cache_key({"data": "x", "config": {"sizes": [1, 2], "lr": 0.1}})
    assert len(a) == 64 and int(a, 16) >= 0  # sha256, hex
    assert a != cache_key({"config": {"lr": 0.1000000001, "sizes": (1, 2)}, "data": "x"})
    assert a != cache_key({"config": {"lr": 0.1, "sizes": (2, 1)}, "data": "x"})
    assert cache_key({"x": 1}) != cache_key({"x": 1.0}) != cache_key({"x": "1"})


def test_key_refuses_objects():
    with pytest.raises(TypeError, match="A cache key must be built from dicts, lists and plain values, but got object"):
        cache_key({"x": object()})


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("CAMLIB_CACHE", raising=False)
    assert cache_dir() == Path(camlib.__file__).resolve().parent.parent / ".cache" / "models"
    monkeypatch.setenv("CAMLIB_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    assert cache_dir(tmp_path / "x") == tmp_path / "x"


def test_save_and_load(tmp_path):
    entry = {"state_dict": {"w": torch.arange(3.0)}, "history": [{"loss": 0.5}]}
    path = save_entry(tmp_path / "sub" / "k.pt", entry)
    loaded = load_entry(path)
    assert torch.equal(loaded["state_dict"]["w"], torch.arange(3.0)) and loaded["history"] == [{"loss": 0.5}]
    assert os.listdir(tmp_path / "sub") == ["k.pt"]
    assert load_entry(tmp_path / "missing.pt") is None


@pytest.mark.parametrize("where", ["save", "replace"])
def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch, where):
    path = tmp_path / "k.pt"
    if where == "save":  # the temporary file is half written, then the process is interrupted

        def save(obj, file):
            file.write(b"partial")
            raise KeyboardInterrupt

        monkeypatch.setattr(camlib.cache.torch, "save", save)
    else:  # the temporary file is complete, the rename fails

        def replace(src, dst):
            assert Path(src).stat().st_size > 0
            raise OSError("disk gone")

        monkeypatch.setattr(camlib.cache.os, "replace", replace)
    with pytest.raises((KeyboardInterrupt, OSError)):
        save_entry(path, {"state_dict": {}})
    assert os.listdir(tmp_path) == []


def test_unreadable_entry_names_the_file(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    message = f"The cache entry {re.escape(str(bad))} is unreadable \\(UnpicklingError: .*\\); delete it to retrain"
    with pytest.raises(RuntimeError, match=message):
        load_entry(bad)
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(RuntimeError, match="is not a model entry \\(no 'state_dict'\\)"):
        load_entry(tmp_path / "other.pt")


def test_second_fit_loads_instead_of_training(tmp_path, monkeypatch):
    monkeypatch.setenv("CAMLIB_CACHE", str(tmp_path))
    calls = []
    train_one_epoch = camlib.train.train_one_epoch

    def counting(*args, **kwargs):
        calls.append(kwargs["epoch"])
        return train_one_epoch(*args, **kwargs)

    monkeypatch.setattr(camlib.train, "train_one_epoch", counting)
    data = Squares(16, size=16)
    model, history = fit(CONFIG, data)
    assert calls == [0] and len(os.listdir(tmp_path)) == 1
    again, history_again = fit(CONFIG, data)
    assert calls == [0]  # loaded, not trained
    assert history_again == history and again.training is False
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    # Anything that determines the model changes the key: another seed, other data.
    fit(TrainConfig(**{**CONFIG.__dict__, "seed": 1}), data)
    fit(CONFIG, Squares(16, size=16, seed=5))
    assert calls == [0, 0, 0] and len(os.listdir(tmp_path)) == 3


def test_fit_cache_needs_a_spec(tmp_path):
    data = torch.utils.data.TensorDataset(torch.zeros(8, 3, 16, 16), torch.zeros(8, dtype=torch.long))
    with pytest.raises(ValueError, match="TensorDataset has no spec\\(\\) or cache_key\\(\\); pass dataset_spec="):
        fit(CONFIG, data, cache_root=tmp_path)
    fit(CONFIG, data, cache_root=tmp_path, dataset_spec={"name": "zeros", "n": 8})
    assert len(os.listdir(tmp_path)) == 1


def test_memoize_computes_once_and_reads_back(tmp_path):
    from camlib.cache import memoize

    calls = []

    def compute():
        calls.append(1)
        return {"pooled": torch.arange(4.0), "boxes": [torch.tensor([[0, 0, 1, 1]])], "n": 4}

    value, hit = memoize({"what": "features", "split": "train"}, compute, cache_root=tmp_path)
    assert not hit and len(calls) == 1
    again, hit = memoize({"split": "train", "what": "features"}, compute, cache_root=tmp_path)  # same key
    assert hit and len(calls) == 1
    assert torch.equal(again["pooled"], value["pooled"]) and again["n"] == 4 and torch.equal(again["boxes"][0], value["boxes"][0])
    memoize({"what": "features", "split": "test"}, compute, cache_root=tmp_path)  # another key
    assert len(calls) == 2 and len(list(tmp_path.glob("*.pt"))) == 2
    _, hit = memoize({"what": "features", "split": "train"}, compute, enabled=False, cache_root=tmp_path)
    assert not hit and len(calls) == 3
    # a model entry is not a memoized value, and the other way round
    model_path = save_entry(tmp_path / "model.pt", {"state_dict": {}})
    with pytest.raises(RuntimeError, match=r"is not an entry of this kind \(no 'value'\); delete it"):
        load_entry(model_path, required="value")
    value_path = next(p for p in tmp_path.glob("*.pt") if p.name != "model.pt")
    with pytest.raises(RuntimeError, match=r"is not a model entry \(no 'state_dict'\); delete it"):
        load_entry(value_path)
