"""Tests of camlib.book.params: checking a notebook's parameters."""

from __future__ import annotations

import math
import os
import re
import time

import pytest
import torch

from camlib.book.params import (
    Bool,
    DataPath,
    DataRoot,
    Device,
    Float,
    Int,
    List,
    Params,
    Str,
    check_params,
    resolve_device,
)

SPEC = {
    "profile": Str(choices=["smoke", "full"]),
    "device": Device(),
    "top_k": Int(min=1, max=1000),
    "threshold": Float(min=0.0, max=1.0),
    "save": Bool(),
    "arches": List(Str(), min_len=1),
}
GOOD = {"profile": "smoke", "device": "cpu", "top_k": 5, "threshold": 0.2, "save": False, "arches": ["resnet50"]}


def namespace(**changes):
    values = dict(GOOD)
    values.update(changes)
    return {name: value for name, value in values.items() if value is not ...}


def test_good_values_are_returned():
    p = check_params(namespace(), SPEC)
    assert isinstance(p, Params)
    assert dict(p) == GOOD
    assert p.top_k == 5 and p["threshold"] == 0.2 and p.arches == ["resnet50"]
    assert list(p) == list(SPEC) and len(p) == 6


@pytest.mark.skipif(torch.cuda.is_available(), reason="'auto' resolves to 'cuda' where CUDA exists")
def test_auto_device_resolves_to_cpu():
    p = check_params(namespace(device="auto"), SPEC)
    assert p.device == "cpu"
    assert p.given["device"] == "auto"  # as it came
    assert resolve_device("auto") == "cpu"


def test_auto_device_resolves():
    assert check_params(namespace(device="auto"), SPEC).device == ("cuda" if torch.cuda.is_available() else "cpu")


def test_int_accepted_for_float_and_converted():
    p = check_params(namespace(threshold=1), SPEC)
    assert p.threshold == 1.0 and type(p.threshold) is float
    assert p.given["threshold"] == 1 and type(p.given["threshold"]) is int


def test_tuple_accepted_for_list():
    assert check_params(namespace(arches=("a", "b")), SPEC).arches == ["a", "b"]


def test_bounds_are_inclusive():
    assert check_params(namespace(top_k=1, threshold=0.0), SPEC).top_k == 1
    assert check_params(namespace(top_k=1000, threshold=1.0), SPEC).threshold == 1.0


def test_ignored_names():
    # Modules, functions, classes and private names in the namespace (as in a
    # notebook's globals()) are not parameters.
    ns = namespace(os=os, math=math, helper=lambda x: x, Spec=Int, _private=3, __name__="__main__")
    assert dict(check_params(ns, SPEC)) == GOOD


@pytest.mark.parametrize("value", [3, 0.5, "x", None, True, [1], (1,), {"a": 1}], ids=repr)
def test_unknown_plain_value_is_rejected(value):
    with pytest.raises(
        ValueError, match=r"Unknown parameter\(s\) 'top_kk'; this notebook's parameters are: profile, device, top_k"
    ):
        check_params(namespace(top_kk=value), SPEC)


def test_unknown_names_are_all_listed_sorted():
    with pytest.raises(ValueError, match=r"Unknown parameter\(s\) 'a', 'b';"):
        check_params(namespace(b=1, a=2), SPEC)


def test_missing_names():
    with pytest.raises(ValueError, match=r"Parameter\(s\) 'top_k', 'save' must be set in the parameters cell"):
        check_params(namespace(top_k=..., save=...), SPEC)


@pytest.mark.parametrize(
    "name, value, error, match",
    [
        ("top_k", True, TypeError, r"Parameter `top_k` must be an int in \[1, 1000\], but got True"),
        ("top_k", "5", TypeError, r"Parameter `top_k` must be an int in \[1, 1000\], but got '5'"),
        ("top_k", 5.0, TypeError, r"Parameter `top_k` must be an int in \[1, 1000\], but got 5.0"),
        ("top_k", None, TypeError, r"Parameter `top_k` must be an int .*but got None"),
        ("top_k", 0, ValueError, r"Parameter `top_k` must be an int in \[1, 1000\], but got 0"),
        ("top_k", 1001, ValueError, r"Parameter `top_k` must be an int in \[1, 1000\], but got 1001"),
        ("threshold", "0.2", TypeError, r"Parameter `threshold` must be a number in \[0.0, 1.0\], but got '0.2'"),
        ("threshold", False, TypeError, r"Parameter `threshold` must be a number .*but got False"),
        ("threshold", -0.1, ValueError, r"Parameter `threshold` must be a number in \[0.0, 1.0\], but got -0.1"),
        ("threshold", 1.5, ValueError, r"Parameter `threshold` must be a number in \[0.0, 1.0\], but got 1.5"),
        ("threshold", float("nan"), ValueError, r"Parameter `threshold` must be a number in \[0.0, 1.0\], but got nan"),
        ("save", 0, TypeError, r"Parameter `save` must be True or False, but got 0"),
        ("save", "False", TypeError, r"Parameter `save` must be True or False, but got 'False'"),
        ("profile", "medium", ValueError, r"Parameter `profile` must be one of 'smoke', 'full', but got 'medium'"),
        ("profile", 1, TypeError, r"Parameter `profile` must be one of 'smoke', 'full', but got 1"),
        (
            "arches",
            "resnet50",
            TypeError,
            r"Parameter `arches` must be a list of at least 1 items, each a string, but got 'resnet50'",
        ),
        (
            "arches",
            [],
            ValueError,
            r"Parameter `arches` must be a list of at least 1 items, each a string, but got \[\]",
        ),
        ("arches", ["resnet50", 3], TypeError, r"Parameter `arches\[1\]` must be a string, but got 3"),
        (
            "device",
            "gpu",
            ValueError,
            r"Parameter `device` must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', but got 'gpu'",
        ),
        (
            "device",
            "cuda:x",
            ValueError,
            r"Parameter `device` must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', but got 'cuda:x'",
        ),
        ("device", 0, TypeError, r"Parameter `device` must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', but got 0"),
    ],
)
def test_bad_values_name_the_parameter(name, value, error, match):
    with pytest.raises(error, match=match):
        check_params(namespace(**{name: value}), SPEC)


def test_one_sided_ranges():
    assert Int(min=2).describe() == "an int >= 2"
    assert Float(max=0.5).describe() == "a number <= 0.5"
    assert Int().describe() == "an int" and Float().describe() == "a number"
    with pytest.raises(ValueError, match=r"Parameter `n` must be an int >= 2, but got 1"):
        check_params({"n": 1}, {"n": Int(min=2)})
    with pytest.raises(ValueError, match=r"Parameter `x` must be a number <= 0.5, but got 0.75"):
        check_params({"x": 0.75}, {"x": Float(max=0.5)})
    assert check_params({"n": -(10**9), "x": -1e300}, {"n": Int(), "x": Float()}).n == -(10**9)


def test_nested_list():
    spec = {"grid": List(List(Int(min=0), min_len=2))}
    assert check_params({"grid": [[0, 1], (2, 3)]}, spec).grid == [[0, 1], [2, 3]]
    with pytest.raises(ValueError, match=r"Parameter `grid\[1\]\[0\]` must be an int >= 0, but got -1"):
        check_params({"grid": [[0, 1], [-1, 3]]}, spec)


def test_list_lengths():
    pairs = {"p": List(Int(), min_len=2, max_len=2)}
    assert check_params({"p": (1, 2)}, pairs).p == [1, 2]
    with pytest.raises(
        ValueError, match=r"Parameter `p` must be a list of exactly 2 items, each an int, but got \[1, 2, 3\]"
    ):
        check_params({"p": [1, 2, 3]}, pairs)
    with pytest.raises(ValueError, match=r"must be a list of 1 to 3 items"):
        check_params({"p": []}, {"p": List(Int(), min_len=1, max_len=3)})


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_unavailable(device):
    with pytest.raises(
        ValueError,
        match=rf"Parameter `device` asks for '{device}', but CUDA is not available here; use 'auto' or 'cpu'",
    ):
        check_params(namespace(device=device), SPEC)
    with pytest.raises(ValueError, match=r"Parameter `gpu` asks for"):
        resolve_device(device, name="gpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_index_out_of_range():
    n = torch.cuda.device_count()
    assert check_params(namespace(device="cuda:0"), SPEC).device == "cuda:0"
    with pytest.raises(
        ValueError, match=rf"Parameter `device` asks for 'cuda:{n}', but only {n} CUDA device\(s\) exist"
    ):
        check_params(namespace(device=f"cuda:{n}"), SPEC)


@pytest.mark.skipif(
    hasattr(torch.backends, "mps") and torch.backends.mps.is_available(), reason="MPS is available here"
)
def test_mps_unavailable():
    with pytest.raises(ValueError, match=r"Parameter `device` asks for 'mps', but MPS is not available here"):
        check_params(namespace(device="mps"), SPEC)


def test_params_is_read_only():
    p = check_params(namespace(), SPEC)
    with pytest.raises(TypeError, match=r"'Params' object (does not|doesn't) support item assignment"):
        p["top_k"] = 7
    with pytest.raises(TypeError, match=r"'Params' object (does not|doesn't) support item deletion"):
        del p["top_k"]
    with pytest.raises(TypeError, match=r"'mappingproxy' object (does not|doesn't) support item assignment"):
        p.given["top_k"] = 7
    assert p.top_k == 5 and p.given["top_k"] == 5


def test_params_attribute_assignment_is_refused():
    # Setting an attribute would otherwise shadow the parameter: p.top_k == 7 but p["top_k"] == 5.
    p = check_params(namespace(), SPEC)
    with pytest.raises(AttributeError, match=r"Params are read-only; cannot set 'top_k'"):
        p.top_k = 7
    with pytest.raises(AttributeError, match=r"Params are read-only; cannot set 'started'"):
        p.started = 0.0
    assert p.top_k == 5 and p["top_k"] == 5 and p.started > 0


def test_params_given_and_started():
    before = time.time()
    p = check_params(namespace(device="cpu", threshold=1), SPEC)
    after = time.time()
    assert dict(p.given) == dict(GOOD, threshold=1)
    assert before <= p.started <= after


def test_params_unknown_attribute():
    p = check_params({"top_k": 5}, {"top_k": Int()})
    with pytest.raises(AttributeError, match=r"There is no parameter 'top_kk'; the parameters are: top_k"):
        p.top_kk
    assert repr(p) == "Params(top_k=5)"
    assert not hasattr(p, "other")


def test_check_params_does_not_modify_namespace():
    ns = namespace(device="auto", threshold=1)
    kept = dict(ns)
    check_params(ns, SPEC)
    assert ns == kept


def test_parallel_lists_must_have_the_same_length():
    spec = {"a": List(Int()), "b": List(List(Float(), min_len=2))}
    ok = check_params({"a": [1, 2], "b": [[0.1, 0.2], [0.3, 0.4]]}, spec, same_length=[("a", "b")])
    assert ok.a == [1, 2]
    with pytest.raises(
        ValueError,
        match=r"Parameters `a` and `b` must have one entry each per item \(the same "
        r"length\), but got 1 and 2 entries",
    ):
        check_params({"a": [1], "b": [[0.1, 0.2], [0.3, 0.4]]}, spec, same_length=[("a", "b")])


def test_data_path_relative_is_left_to_the_reader_absolute_must_exist(tmp_path):
    spec = {"image_dir": DataPath("folder of photos"), "weights": DataPath("state_dict file", folder=False)}
    (tmp_path / "w.pth").write_bytes(b"")
    # a name under the data root is looked up when the data are read (absent data: the chapter says so)
    assert dict(check_params({"image_dir": "no-such-samples", "weights": "IMAGENET1K_V1"}, spec)) == {
        "image_dir": "no-such-samples",
        "weights": "IMAGENET1K_V1",
    }
    ok = check_params({"image_dir": str(tmp_path), "weights": str(tmp_path / "w.pth")}, spec)
    assert ok.image_dir == str(tmp_path) and ok.weights == str(tmp_path / "w.pth")  # as given


@pytest.mark.parametrize(
    "name, value, error, match",
    [
        (
            "image_dir",
            "/does/not/exist",
            ValueError,
            r"Parameter `image_dir` must be a path under the data root or an existing folder of photos, "
            r"but /does/not/exist does not exist\.",
        ),
        (
            "image_dir",
            "{tmp}/w.pth",
            ValueError,
            r"Parameter `image_dir` must be .*, but {tmp}/w.pth is not a folder\.",
        ),
        (
            "image_dir",
            3,
            TypeError,
            r"Parameter `image_dir` must be a path under the data root or an existing "
            r"folder of photos, but got 3\.",
        ),
        (
            "weights",
            "/does/not/exist.pth",
            ValueError,
            r"Parameter `weights` must be a path under the data root or an existing state_dict file, "
            r"but /does/not/exist.pth does not exist\.",
        ),
        ("weights", "{tmp}", ValueError, r"Parameter `weights` must be .*, but {tmp} is a folder, not a file\."),
        (
            "data_root",
            "/does/not/exist",
            ValueError,
            r"Parameter `data_root` must be empty \(data/ in the repository, or \$CAMLIB_DATA\) or an existing folder, "
            r"but /does/not/exist does not exist\.",
        ),
        (
            "data_root",
            "{tmp}/w.pth",
            ValueError,
            r"Parameter `data_root` must be .*, but {tmp}/w.pth is not a folder\.",
        ),
        ("data_root", None, TypeError, r"Parameter `data_root` must be empty .*, but got None\."),
    ],
)
def test_explicit_paths_that_do_not_exist_name_the_parameter(tmp_path, name, value, error, match):
    spec = {
        "image_dir": DataPath("folder of photos"),
        "weights": DataPath("state_dict file", folder=False),
        "data_root": DataRoot(),
    }
    (tmp_path / "w.pth").write_bytes(b"")
    values = {"image_dir": "cam-samples", "weights": "w.pth", "data_root": ""}
    values[name] = value.format(tmp=tmp_path) if isinstance(value, str) else value
    with pytest.raises(error, match=match.replace("{tmp}", re.escape(str(tmp_path)))):
        check_params(values, spec)


def test_data_path_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "photos").mkdir()
    assert check_params({"d": "~/photos"}, {"d": DataPath()}).d == "~/photos"
    with pytest.raises(
        ValueError,
        match=r"Parameter `d` must be a path under the data root or an existing folder, "
        r"but ~/gone does not exist\.",
    ):
        check_params({"d": "~/gone"}, {"d": DataPath()})


def test_data_root_empty_means_the_defaults_and_a_folder_is_kept(tmp_path):
    assert check_params({"data_root": ""}, {"data_root": DataRoot()}).data_root == ""
    assert check_params({"data_root": str(tmp_path)}, {"data_root": DataRoot()}).data_root == str(tmp_path)


def test_data_root_empty_checks_the_environment_variable(tmp_path, monkeypatch):
    """`data_root=""` reads $CAMLIB_DATA: a mistyped one fails at the parameter check, before any work."""
    monkeypatch.setenv("CAMLIB_DATA", str(tmp_path / "typo"))
    with pytest.raises(
        ValueError, match=r"\$CAMLIB_DATA must name the data folder \(or be unset\), but .*typo' does not exist"
    ):
        check_params({"data_root": ""}, {"data_root": DataRoot()})
    monkeypatch.setenv("CAMLIB_DATA", str(tmp_path))
    assert check_params({"data_root": ""}, {"data_root": DataRoot()}).data_root == ""
