"""Tests of camlib.study.cache and of fit's use of it: keys, atomic writes, loads instead of training."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import pytest
import torch

import camlib.study.cache
import camlib.study.training
from camlib.study.cache import CODE_MODULES, cache_dir, cache_key, code_fingerprint, load_entry, memoize, save_entry
from camlib.study.training import Squares, TrainConfig, fit

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
    assert cache_dir() == Path(camlib.__file__).resolve().parent.parent / ".cache" / "models"  # the checkout's
    monkeypatch.setenv("CAMLIB_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    assert cache_dir(tmp_path / "x") == tmp_path / "x"


def test_an_installed_camlib_caches_in_the_users_folder_never_in_site_packages(monkeypatch, tmp_path):
    import platformdirs

    from camlib import _checkout

    monkeypatch.delenv("CAMLIB_CACHE", raising=False)
    monkeypatch.setattr(_checkout, "checkout_root", lambda: None)  # as a wheel in site-packages has no checkout
    import camlib.study.cache as cache_module

    monkeypatch.setattr(cache_module, "checkout_root", lambda: None)
    assert cache_dir() == platformdirs.user_cache_path("camlib") / "models"
    assert not cache_dir().is_relative_to(Path(camlib.__file__).resolve().parent)


def test_checkout_root_is_found_only_in_a_checkout(monkeypatch, tmp_path):
    from camlib import _checkout

    assert _checkout.checkout_root() == Path(camlib.__file__).resolve().parent.parent
    # a copy of the package alone (as pip installs it) has no checkout around it
    fake = tmp_path / "site-packages" / "camlib"
    fake.mkdir(parents=True)
    monkeypatch.setattr(_checkout, "__file__", str(fake / "_checkout.py"))
    _checkout.checkout_root.cache_clear()
    try:
        assert _checkout.checkout_root() is None
    finally:
        _checkout.checkout_root.cache_clear()


def test_the_test_session_has_its_own_cache():
    # tests/conftest.py points $CAMLIB_CACHE at a temporary folder: tests never read or fill the repository's
    repository_cache = Path(camlib.__file__).resolve().parent.parent / ".cache"
    assert cache_dir().is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert not cache_dir().resolve().is_relative_to(repository_cache)


# --- the code fingerprint ---------------------------------------------------------------


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """An importable package ``fp_probe`` (``__init__.py``, ``a.py``) in ``tmp_path``; fingerprints recomputed."""
    package = tmp_path / "fp_probe"
    package.mkdir()
    (package / "__init__.py").write_text('"""A probe."""\n')
    (package / "a.py").write_text("def f():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code_fingerprint.cache_clear()
    yield package
    code_fingerprint.cache_clear()  # forget the probe's fingerprints (and a patched CODE_MODULES)
    for name in [m for m in sys.modules if m.split(".")[0] == "fp_probe"]:  # find_spec imported the package
        del sys.modules[name]


def test_code_fingerprint_is_stable_and_short():
    first = code_fingerprint()
    assert re.fullmatch("[0-9a-f]{16}", first)
    assert code_fingerprint() == first == code_fingerprint(*CODE_MODULES)
    code_fingerprint.cache_clear()
    assert code_fingerprint() == first  # read again from the same files: the same
    assert (
        code_fingerprint("camlib.study.training")
        != first
        != code_fingerprint("camlib.study.training", "camlib.models.heads")
    )


def test_code_fingerprint_changes_with_the_source(probe):
    before = code_fingerprint("fp_probe.a")
    package_before = code_fingerprint("fp_probe")
    assert code_fingerprint("fp_probe.a") == before  # cached
    (probe / "a.py").write_text("def f():\n    return 2\n")  # one character
    assert code_fingerprint("fp_probe.a") == before  # read once per process ...
    code_fingerprint.cache_clear()
    assert code_fingerprint("fp_probe.a") != before  # ... and then the new source
    assert code_fingerprint("fp_probe") != package_before  # a package covers its modules
    # the name enters too: the same source moved to another module is other code
    (probe / "b.py").write_text("def f():\n    return 2\n")
    assert code_fingerprint("fp_probe.b") != code_fingerprint("fp_probe.a")


def test_code_fingerprint_bad_input():
    with pytest.raises(TypeError, match="`modules` must be module names \\(str\\), but got module"):
        code_fingerprint(camlib)
    with pytest.raises(ValueError, match="`modules` must name Python modules with a source file, but 'camlib.nope'"):
        code_fingerprint("camlib.nope")


def test_keys_follow_the_code(probe, monkeypatch):
    monkeypatch.setattr(camlib.study.cache, "CODE_MODULES", ("fp_probe",))
    code_fingerprint.cache_clear()
    before = cache_key({"x": 1})
    assert cache_key({"x": 1}) == before
    (probe / "a.py").write_text("def f():\n    return 1  # a comment is an edit too\n")
    code_fingerprint.cache_clear()
    assert cache_key({"x": 1}) != before


def test_an_entry_of_other_code_is_not_found(tmp_path, monkeypatch):
    calls = []

    def compute():
        calls.append(1)
        return torch.tensor([len(calls)])

    memoize({"what": "features"}, compute, cache_root=tmp_path)
    assert memoize({"what": "features"}, compute, cache_root=tmp_path) == (torch.tensor([1]), True)
    monkeypatch.setattr(camlib.study.cache, "code_fingerprint", lambda *modules: "0123456789abcdef")  # the code changed
    assert memoize({"what": "features"}, compute, cache_root=tmp_path) == (torch.tensor([2]), False)
    assert len(calls) == 2 and len(list(tmp_path.glob("*.pt"))) == 2


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

        monkeypatch.setattr(camlib.study.cache.torch, "save", save)
    else:  # the temporary file is complete, the rename fails

        def replace(src, dst):
            assert Path(src).stat().st_size > 0
            raise OSError("disk gone")

        monkeypatch.setattr(camlib.study.cache.os, "replace", replace)
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
    train_one_epoch = camlib.study.training.train_one_epoch

    def counting(*args, **kwargs):
        calls.append(kwargs["epoch"])
        return train_one_epoch(*args, **kwargs)

    monkeypatch.setattr(camlib.study.training, "train_one_epoch", counting)
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
    # and so does camlib's code: the same config and data under another code fingerprint train again
    monkeypatch.setattr(camlib.study.cache, "code_fingerprint", lambda *modules: "0123456789abcdef")
    fit(CONFIG, data)
    assert calls == [0, 0, 0, 0] and len(os.listdir(tmp_path)) == 4


def test_fit_cache_needs_a_spec(tmp_path):
    data = [Squares(8, size=16)[i] for i in range(8)]  # a list of items: a dataset without a spec
    with pytest.raises(ValueError, match="list has no spec\\(\\) or cache_key\\(\\); pass dataset_spec="):
        fit(CONFIG, data, cache_root=tmp_path)
    fit(CONFIG, data, cache_root=tmp_path, dataset_spec={"name": "zeros", "n": 8})
    assert len(os.listdir(tmp_path)) == 1


def test_memoize_computes_once_and_reads_back(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"pooled": torch.arange(4.0), "boxes": [torch.tensor([[0, 0, 1, 1]])], "n": 4}

    value, hit = memoize({"what": "features", "split": "train"}, compute, cache_root=tmp_path)
    assert not hit and len(calls) == 1
    again, hit = memoize({"split": "train", "what": "features"}, compute, cache_root=tmp_path)  # same key
    assert hit and len(calls) == 1
    assert (
        torch.equal(again["pooled"], value["pooled"])
        and again["n"] == 4
        and torch.equal(again["boxes"][0], value["boxes"][0])
    )
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


def test_keys_keep_floats_strings_and_key_types_apart(tmp_path):
    from camlib.study.cache import cache_key, memoize

    assert cache_key({"lr": 0.1}) != cache_key({"lr": "0.1"})
    assert cache_key({"x": {1: "a"}}) != cache_key({"x": {"1": "a"}})
    assert cache_key({"lr": 0.1}) == cache_key({"lr": 0.1})
    assert memoize({"lr": 0.1}, lambda: 1, cache_root=tmp_path) == (1, False)
    assert memoize({"lr": "0.1"}, lambda: 2, cache_root=tmp_path) == (2, False)  # its own entry
    assert memoize({"lr": 0.1}, lambda: 3, cache_root=tmp_path) == (1, True)


def test_an_entry_of_another_request_is_refused(tmp_path):
    import torch

    from camlib.study.cache import cache_key, memoize, save_entry

    path = tmp_path / f"{cache_key({'what': 'a'})}.pt"
    save_entry(path, {"value": torch.zeros(1), "parts": {"what": "b"}})  # as if two requests shared a key
    with pytest.raises(RuntimeError, match="holds another request's value"):
        memoize({"what": "a"}, lambda: None, cache_root=tmp_path)


def test_a_value_the_loader_would_refuse_is_returned_and_not_cached(tmp_path):
    from collections import namedtuple

    import numpy as np

    from camlib.study.cache import memoize

    for value in (np.arange(3), namedtuple("P", "a")(1), {"x": [np.float64(1.0)]}):
        with pytest.warns(UserWarning, match="was not cached: .* but it holds a (numpy|test_cache)"):
            got, hit = memoize({"what": "odd", "v": repr(value)}, lambda v=value: v, cache_root=tmp_path)
        assert got is value and not hit
    assert not list(tmp_path.glob("*.pt"))  # nothing written that every later run would refuse


def test_entries_are_readable_by_others_sharing_the_cache(tmp_path):
    import torch

    from camlib.study.cache import memoize

    old = os.umask(0o022)
    try:
        memoize({"what": "shared"}, lambda: torch.ones(1), cache_root=tmp_path)
    finally:
        os.umask(old)
    (entry,) = tmp_path.glob("*.pt")
    assert entry.stat().st_mode & 0o777 == 0o644
