"""Tests of camlib.provenance: what produced a chapter."""

from __future__ import annotations

import json
import platform
import re
import time
from datetime import datetime, timezone

import pytest
import torch

import camlib
from camlib.params import Device, Float, Str
from camlib.provenance import Provenance, git_commit, provenance

SPEC = {"profile": Str(choices=["smoke", "full"]), "device": Device(), "threshold": Float()}


@pytest.fixture
def params():
    return camlib.check_params({"profile": "smoke", "device": "cpu", "threshold": 1}, SPEC)


def test_git_commit_of_this_checkout():
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", git_commit())


def test_git_commit_outside_a_checkout(tmp_path):
    assert git_commit(tmp_path) == "unknown (not a git checkout)"
    assert git_commit(tmp_path / "no-such-folder") == "unknown (not a git checkout)"


def test_rows(params):
    rows = provenance(params).as_dict()
    assert list(rows)[:5] == ["git commit", "profile", "parameters", "device", "python"]
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", rows["git commit"])
    assert rows["profile"] == "smoke"
    # The parameters as given, as JSON (threshold 1 was given as an int).
    assert json.loads(rows["parameters"]) == {"profile": "smoke", "device": "cpu", "threshold": 1}
    assert rows["device"].startswith("cpu (")
    assert rows["python"] == platform.python_version()
    assert rows["torch"] == torch.__version__.split("+")[0]
    assert rows["camlib"] == camlib.__version__
    for name in ("torchvision", "numpy", "scipy", "matplotlib", "papermill", "jupyter-book", "myst-nb"):
        assert rows[name]  # a version or "not installed"
    finished = datetime.strptime(rows["finished (UTC)"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - finished).total_seconds()) < 60


def test_parameters_as_given_not_resolved():
    p = camlib.check_params({"profile": "full", "device": "auto", "threshold": 0.5}, SPEC)
    rows = provenance(p).as_dict()
    assert json.loads(rows["parameters"])["device"] == "auto"  # as the notebook was asked
    assert rows["device"].startswith(p.device + " (")  # what it ran on


def test_wall_time_from_params_started(params):
    # params.started was set by check_params a moment ago.
    wall = provenance(params).as_dict()["wall time"]
    assert re.fullmatch(r"\d+\.\d s", wall) and 0.0 <= float(wall[:-2]) < 30.0


def test_wall_time_from_explicit_started(params):
    # 12.34 s ago shows as "12.3 s" (or a tenth more on a slow machine).
    wall = provenance(params, started=time.time() - 12.34).as_dict()["wall time"]
    assert re.fullmatch(r"\d+\.\d s", wall) and 12.3 <= float(wall[:-2]) < 13.5


def test_plain_mapping():
    rows = provenance({"top_k": 3, "path": camlib}).as_dict()
    assert rows["profile"] == "(none)"
    assert rows["device"].startswith("cpu (")
    assert "wall time" not in rows  # no started time known
    assert json.loads(rows["parameters"])["top_k"] == 3  # non-JSON values shown with str()
    assert "module 'camlib'" in json.loads(rows["parameters"])["path"]


def test_markdown_table():
    p = provenance({"profile": "smoke", "note": "a|b"}, started=time.time())
    lines = p._repr_markdown_().splitlines()
    assert lines[0] == "| what | value |" and lines[1] == "|---|---|"
    assert len(lines) == 2 + len(p.rows)
    for line, (what, _) in zip(lines[2:], p.rows):
        assert line.startswith(f"| {what} | ") and line.endswith(" |")
        assert line.count("|") == 3  # a pipe inside a value is escaped
    assert '"note": "a&#124;b"' in lines[2 + [k for k, _ in p.rows].index("parameters")]


def test_repr_and_dict():
    p = Provenance([("a", "1"), ("longer", "2")])
    assert repr(p) == "a       1\nlonger  2"
    assert p.as_dict() == {"a": "1", "longer": "2"}
    assert p._repr_markdown_() == "| what | value |\n|---|---|\n| a | 1 |\n| longer | 2 |"
